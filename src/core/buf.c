/*
 * buf.c - the bounded byte buffer (see buf.h).
 */
#include "buf.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define BUF_MIN 256

void simul__buf_init(simul__buf *b, size_t max)
{
    *b = (simul__buf){ .max = max };
}

void simul__buf_free(simul__buf *b)
{
    free(b->mem);
    simul__buf_init(b, b->max);
}

int simul__buf_reserve(simul__buf *b, size_t n)
{
    SIMUL__ASSERT(b->pos <= b->len && b->len <= b->cap && b->cap <= b->max);
    if (b->cap - b->len >= n)
        return 0;
    size_t have = b->len - b->pos;
    if (n > b->max)
        return -EMSGSIZE;
    if (n > b->max - have)
        return -ENOBUFS;
    /* Move the data to the front when that makes the room and the gap is at
     * least as large as the data (or the buffer cannot grow): the memmove
     * is then paid for by the bytes consumed since the last one. */
    if (b->pos && b->cap - have >= n && (b->pos >= have || b->cap == b->max)) {
        memmove(b->mem, b->mem + b->pos, have);
        b->pos = 0;
        b->len = have;
        return 0;
    }
    size_t cap = b->cap ? b->cap : BUF_MIN;
    while (cap < have + n && cap < b->max)
        cap = cap > b->max / 2 ? b->max : cap * 2;
    if (cap > b->max)
        cap = b->max;
    if (b->pos) {           /* compact first so realloc copies live bytes only */
        memmove(b->mem, b->mem + b->pos, have);
        b->pos = 0;
        b->len = have;
    }
    char *m = realloc(b->mem, cap);
    if (!m)
        return -ENOMEM;
    b->mem = m;
    b->cap = cap;
    return 0;
}

int simul__buf_append(simul__buf *b, const void *p, size_t n)
{
    int r = simul__buf_reserve(b, n);
    if (r)
        return r;
    if (n)
        memcpy(b->mem + b->len, p, n);
    b->len += n;
    return 0;
}

size_t simul__buf_take(simul__buf *b, void *dst, size_t n)
{
    size_t k = simul__buf_len(b);
    if (k > n)
        k = n;
    if (k) {
        memcpy(dst, b->mem + b->pos, k);
        simul__buf_consume(b, k);
    }
    return k;
}
