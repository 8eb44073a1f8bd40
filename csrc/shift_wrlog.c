/* shift_wrlog.c -- the only allocating part of the WR log: create and destroy (hot path is in the header). */
#include <stdlib.h>
#include <string.h>

#include "shift_wrlog.h"

struct shift_wrlog *shift_wrlog_create(uint32_t capacity)
{
    uint64_t cap = 1;
    struct shift_wrlog *log;
    if (capacity == 0 || capacity > (1u << 24))
        return NULL;
    while (cap < capacity)
        cap <<= 1;
    log = calloc(1, sizeof(*log));
    if (!log)
        return NULL;
    log->ring = aligned_alloc(64, cap * sizeof(*log->ring));
    log->ext = calloc(cap, sizeof(*log->ext));
    if (!log->ring || !log->ext) {
        free(log->ring);
        free(log->ext);
        free(log);
        return NULL;
    }
    memset(log->ring, 0, cap * sizeof(*log->ring));
    log->mask = cap - 1;
    return log;
}

void shift_wrlog_destroy(struct shift_wrlog *log)
{
    if (!log)
        return;
    free(log->ring);
    free(log->ext);
    free(log);
}
