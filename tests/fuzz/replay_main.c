/*  Corpus replay for fuzz targets in normal builds.
    Runs LLVMFuzzerTestOneInput on every file in the folders and files named
    on the command line, so that each corpus is an ordinary regression test.
    Exits non-zero if a path cannot be read; a crash fails the test as usual. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

//  Feeds one file to the target. Returns 0, or -1 if it cannot be read.
static int
s_replay_file (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        fprintf (stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    fseek (f, 0, SEEK_END);
    long size = ftell (f);
    fseek (f, 0, SEEK_SET);
    uint8_t *buf = malloc (size > 0 ? (size_t) size : 1);
    size_t got = buf ? fread (buf, 1, (size_t) (size > 0 ? size : 0), f) : 0;
    fclose (f);
    if (!buf)
        return -1;
    LLVMFuzzerTestOneInput (buf, got);
    free (buf);
    return 0;
}

int
main (int argc, char **argv)
{
    int files = 0, rc = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat (argv [i], &st) != 0) {
            fprintf (stderr, "replay: no corpus at %s\n", argv [i]);
            return 1;
        }
        if (!S_ISDIR (st.st_mode)) {
            rc |= s_replay_file (argv [i]);
            files++;
            continue;
        }
        DIR *d = opendir (argv [i]);
        struct dirent *e;
        while (d && (e = readdir (d))) {
            if (e->d_name [0] == '.')
                continue;
            char path [4096];
            snprintf (path, sizeof path, "%s/%s", argv [i], e->d_name);
            rc |= s_replay_file (path);
            files++;
        }
        if (d)
            closedir (d);
    }
    printf ("replayed %d inputs\n", files);
    return rc ? 1 : (files > 0 ? 0 : 1);
}
