/*
 * buf.h - the library's one growable byte buffer (curl's dynbuf): a FIFO of
 * bytes with a hard cap fixed when it is initialised. Streams, files and
 * the protocol layers above them keep their read-ahead and pending output
 * in one of these instead of hand-rolled realloc code.
 *
 * Bytes live in mem[pos, len). Taking bytes from the front (consume) only
 * moves pos; the data is moved to the front by reserve, only when the tail
 * lacks room, so a reader consuming small pieces never pays a memmove per
 * call. Memory grows by doubling (at least 256 bytes) and never beyond
 * `max`: asking for more gives -EMSGSIZE when the request could never fit
 * (n > max) and -ENOBUFS when it could once buffered bytes are consumed.
 * A zeroed simul__buf is not usable: call simul__buf_init.
 */
#ifndef SIMUL_CORE_BUF_H
#define SIMUL_CORE_BUF_H

#include <stddef.h>

typedef struct simul__buf {
    char  *mem;
    size_t pos;     /* first unconsumed byte */
    size_t len;     /* end of the data */
    size_t cap;     /* bytes allocated */
    size_t max;     /* hard cap on cap */
} simul__buf;

/* An empty buffer that never holds more than max bytes; allocates nothing. */
void simul__buf_init(simul__buf *b, size_t max);
/* Frees the memory; b is empty (and reusable) afterwards. */
void simul__buf_free(simul__buf *b);

/* Makes room for n more bytes at the tail (simul__buf_tail), moving the
 * data to the front or growing as needed. 0, -EMSGSIZE (n > max),
 * -ENOBUFS (buffered + n > max), -ENOMEM. */
int  simul__buf_reserve(simul__buf *b, size_t n);
/* Copies n bytes to the tail. 0 or reserve's errors (nothing appended). */
int  simul__buf_append(simul__buf *b, const void *p, size_t n);

static inline size_t simul__buf_len(const simul__buf *b) { return b->len - b->pos; }
static inline char  *simul__buf_data(const simul__buf *b) { return b->mem + b->pos; }
/* Where the next bytes go and how many fit there without a reserve. */
static inline char  *simul__buf_tail(const simul__buf *b) { return b->mem + b->len; }
static inline size_t simul__buf_room(const simul__buf *b) { return b->cap - b->len; }
/* Counts n bytes written at the tail (n <= room) as buffered. */
static inline void   simul__buf_commit(simul__buf *b, size_t n) { b->len += n; }

/* Drops n (<= len) bytes from the front; O(1). */
static inline void simul__buf_consume(simul__buf *b, size_t n)
{
    b->pos += n;
    if (b->pos == b->len)
        b->pos = b->len = 0;
}

/* Takes up to n bytes from the front into dst; returns how many. */
size_t simul__buf_take(simul__buf *b, void *dst, size_t n);

#endif
