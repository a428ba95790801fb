/*  Growing arrays (see array.h).  */
#include "common/array.h"
#include "common/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
array_reserve (void *items_p, size_t *cap, size_t need, size_t size, size_t first_cap)
{
    if (need <= *cap)
        return 0;
    size_t room = *cap ? *cap : (first_cap ? first_cap : 1);
    while (room < need) {
        if (room > SIZE_MAX / 2)
            return MF_ERR_NOMEM;
        room *= 2;
    }
    if (size && room > SIZE_MAX / size)
        return MF_ERR_NOMEM;
    void *items;
    memcpy (&items, items_p, sizeof items);
    items = realloc (items, room * size);
    if (!items)
        return MF_ERR_NOMEM;
    memcpy (items_p, &items, sizeof items);
    *cap = room;
    return 0;
}
