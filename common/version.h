/*  The version of masterfarm's programs, one string for all of them: the
    project version of CMakeLists.txt when built by it (MF_VERSION is then
    defined on the command line), else the fallback below.  */
#ifndef MF_COMMON_VERSION_H
#define MF_COMMON_VERSION_H

#ifndef MF_VERSION
#define MF_VERSION "0.1.0"
#endif

#endif
