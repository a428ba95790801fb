/*  Growing arrays: the one doubling realloc that the modules' lists and
    buffers share (task lists, error lists, text being built, bytes read
    from a pipe).  */
#ifndef MF_ARRAY_H
#define MF_ARRAY_H

#include <stddef.h>

//  Makes room for at least need items of size bytes in the array whose
//  address is items_p (a pointer to the array pointer, of any item type;
//  the array may be NULL) and whose room is *cap items: the room doubles,
//  from first_cap when there is none, until it holds need. Returns 0, or
//  MF_ERR_NOMEM with the array and *cap unchanged.
int array_reserve (void *items_p, size_t *cap, size_t need, size_t size, size_t first_cap);

#endif
