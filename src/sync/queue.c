/*
 * queue.c - asyncio.Queue, LifoQueue and PriorityQueue: put/get that wait,
 * the _nowait forms, task_done/join and the Python 3.13 shutdown.
 *
 * Storage. FIFO and LIFO queues keep their items in a power-of-two ring
 * (indexed with a mask). It starts with room for maxsize items (at most
 * 1024) and doubles when full, up to maxsize or, for an unbounded queue,
 * SIMUL_QUEUE_CAP: a bounded queue of 128 never allocates after _new.
 * A LIFO queue is the same ring popped from the tail. A priority queue is
 * a binary min-heap of (item, sequence) pairs; the sequence keeps equal
 * items in FIFO order.
 *
 * Hand-off. Apart from a ring growing, no operation allocates. A getter
 * that has to wait puts a waiter node (on its own stack) on q->getters; a
 * put that finds a live getter there gives the item straight to it, so
 * getters only ever wait on an empty queue. Symmetrically a putter that
 * finds the queue full waits with its item in its node, and the get that
 * makes room moves that item into the ring and wakes the putter: FIFO
 * among putters, and the item is either queued or still the putter's -
 * never lost. Stale nodes (cancelled or timed-out waiters that have not
 * run yet) are skipped, see
 * sync_internal.h.
 */
#include "sync_internal.h"

#include <math.h>
#include <stdlib.h>

#define CALLER() __builtin_return_address(0)

enum { KIND_FIFO, KIND_LIFO, KIND_PRIO };

#define INITIAL_CAP 1024     /* items allocated at _new, at most */

struct pent {
    void    *item;
    uint64_t seq;
};

struct simul_queue {
    /* hot */
    simul_loop  *loop;       /* owner (sync_internal.h) */
    void       **ring;       /* FIFO/LIFO */
    size_t       mask;       /* ring capacity - 1 */
    size_t       head;       /* FIFO: index of the oldest item */
    size_t       count;
    size_t       maxsize;    /* 0 = unbounded */
    simul__list  getters;
    simul__list  putters;
    size_t       unfinished; /* put and not yet task_done */
    int          kind;
    int          shutdown;
    /* cold */
    simul__list  joiners;
    struct pent *heap;       /* PRIO */
    size_t       heap_cap;
    uint64_t     seq;
    simul_queue_cmp cmp;
    void        *cmp_ctx;
    void       (*drop)(void *item, void *ctx);
    void        *drop_ctx;
};

/* ---- storage -------------------------------------------------------------- */

static size_t pow2_at_least(size_t n)
{
    size_t c = 16;
    while (c < n)
        c <<= 1;
    return c;
}

static int prio_before(const simul_queue *q, const struct pent *a, const struct pent *b)
{
    int c;
    if (q->cmp) {
        c = q->cmp(a->item, b->item, q->cmp_ctx);
    } else {
        intptr_t x = (intptr_t)a->item, y = (intptr_t)b->item;
        c = (x > y) - (x < y);
    }
    return c < 0 || (c == 0 && a->seq < b->seq);
}

/* Makes room for one more item (the caller checked maxsize). */
static int grow(simul_queue *q)
{
    if (q->count >= SIMUL_QUEUE_CAP)
        return -ENOBUFS;
    if (q->kind == KIND_PRIO) {
        if (q->count < q->heap_cap)
            return 0;
        size_t cap = q->heap_cap * 2;
        struct pent *h = realloc(q->heap, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        q->heap = h;
        q->heap_cap = cap;
        return 0;
    }
    if (q->count <= q->mask)
        return 0;
    size_t cap = (q->mask + 1) * 2;
    void **r = malloc(cap * sizeof *r);
    if (!r)
        return -ENOMEM;
    /* unroll the ring so the oldest item is at 0 */
    for (size_t i = 0; i < q->count; i++)
        r[i] = q->ring[(q->head + i) & q->mask];
    free(q->ring);
    q->ring = r;
    q->head = 0;
    q->mask = cap - 1;
    return 0;
}

/* Appends item; the caller checked there is room. */
static inline void store(simul_queue *q, void *item)
{
    if (SIMUL__LIKELY(q->kind != KIND_PRIO)) {
        q->ring[(q->head + q->count) & q->mask] = item;
        q->count++;
        return;
    }
    struct pent e = { item, q->seq++ };
    size_t i = q->count++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!prio_before(q, &e, &q->heap[p]))
            break;
        q->heap[i] = q->heap[p];
        i = p;
    }
    q->heap[i] = e;
}

/* Removes the next item; the caller checked there is one. */
static inline void *take(simul_queue *q)
{
    if (SIMUL__LIKELY(q->kind == KIND_FIFO)) {
        void *item = q->ring[q->head];
        q->head = (q->head + 1) & q->mask;
        q->count--;
        return item;
    }
    if (q->kind == KIND_LIFO) {
        q->count--;
        return q->ring[(q->head + q->count) & q->mask];
    }
    void *item = q->heap[0].item;
    struct pent last = q->heap[--q->count];
    size_t i = 0, n = q->count;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && prio_before(q, &q->heap[c + 1], &q->heap[c]))
            c++;
        if (!prio_before(q, &q->heap[c], &last))
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (n)
        q->heap[i] = last;
    return item;
}

static inline int is_full(const simul_queue *q)
{
    return q->maxsize && q->count >= q->maxsize;
}

/* ---- life cycle ------------------------------------------------------------ */

static simul_queue *queue_new(size_t maxsize, int kind, simul_queue_cmp cmp, void *ctx)
{
    if (maxsize > SIMUL_QUEUE_CAP) {
        errno = EINVAL;
        return NULL;
    }
    simul_queue *q = calloc(1, sizeof *q);
    if (!q)
        goto fail;
    simul__owner_init(&q->loop);
    q->kind = kind;
    q->maxsize = maxsize;
    q->cmp = cmp;
    q->cmp_ctx = ctx;
    simul__list_init(&q->getters);
    simul__list_init(&q->putters);
    simul__list_init(&q->joiners);
    /* Storage starts at most INITIAL_CAP items and doubles as needed, so a
     * huge maxsize costs nothing until it is used. */
    size_t want = maxsize && maxsize < INITIAL_CAP ? maxsize : INITIAL_CAP;
    size_t cap = pow2_at_least(want);
    if (kind == KIND_PRIO) {
        q->heap_cap = want;
        q->heap = malloc(q->heap_cap * sizeof *q->heap);
        if (!q->heap)
            goto fail_q;
    } else {
        q->ring = malloc(cap * sizeof *q->ring);
        if (!q->ring)
            goto fail_q;
        q->mask = cap - 1;
    }
    return q;

fail_q:
    simul__owner_release(q->loop);
    free(q);
fail:
    errno = ENOMEM;
    return NULL;
}

simul_queue *simul_queue_new(size_t maxsize)
{
    return queue_new(maxsize, KIND_FIFO, NULL, NULL);
}

simul_queue *simul_queue_new_lifo(size_t maxsize)
{
    return queue_new(maxsize, KIND_LIFO, NULL, NULL);
}

simul_queue *simul_queue_new_priority(size_t maxsize, simul_queue_cmp cmp, void *ctx)
{
    return queue_new(maxsize, KIND_PRIO, cmp, ctx);
}

void simul_queue_set_drop(simul_queue *q, void (*drop)(void *item, void *ctx), void *ctx)
{
    if (!q)
        return;
    q->drop = drop;
    q->drop_ctx = ctx;
}

/* Empties q, passing each item to the drop function; returns how many. */
static size_t drop_all(simul_queue *q)
{
    size_t n = 0;
    while (q->count) {
        void *item = take(q);
        if (q->drop)
            q->drop(item, q->drop_ctx);
        n++;
    }
    return n;
}

void simul_queue_free(simul_queue *q)
{
    if (!q)
        return;
    simul__waiters_fire_all(&q->getters, -EIDRM);
    simul__waiters_fire_all(&q->putters, -EIDRM);
    simul__waiters_fire_all(&q->joiners, -EIDRM);
    drop_all(q);
    free(q->heap);
    free(q->ring);
    simul__owner_release(q->loop);
    free(q);
}

/* ---- put ------------------------------------------------------------------- */

/* Wakes a waiting getter or joiner-related state after a put: 0/-EAGAIN/...
 * This is put_nowait's body; it is also select's PUT probe. */
static inline __attribute__((always_inline)) int put_now(simul_queue *q, void *item)
{
    if (SIMUL__UNLIKELY(q->shutdown))
        return -ESHUTDOWN;
    if (!simul__list_empty(&q->getters)) {
        /* getters wait only on an empty queue: hand the item over */
        simul__waiter *w = simul__waiters_pop_live(&q->getters);
        if (w) {
            w->item = item;
            w->result = 0;
            q->unfinished++;
            simul__waiter_fire(w, 0);
            return 0;
        }
    }
    if (is_full(q))
        return -EAGAIN;
    if (SIMUL__UNLIKELY(q->kind == KIND_PRIO ? q->count >= q->heap_cap : q->count > q->mask)) {
        int r = grow(q);
        if (r)
            return r;
    }
    store(q, item);
    q->unfinished++;
    return 0;
}

int simul_queue_put_nowait(simul_queue *q, void *item)
{
    if (!q)
        return -EINVAL;
    if (simul__foreign(&q->loop))
        return -EXDEV;
    return put_now(q, item);
}

/* A task of another loop waits: the owner loop runs the call (sync_internal.h). */
struct queue_call {
    simul_queue *q;
    void        *item;
    void       **out;
    double       deadline;
};
static int put_there(void *p)
{
    struct queue_call *c = p;
    return simul_queue_put_until(c->q, c->item, c->deadline);
}
static int get_there(void *p)
{
    struct queue_call *c = p;
    return simul_queue_get_until(c->q, c->out, c->deadline);
}
static int join_there(void *p)
{
    struct queue_call *c = p;
    return simul_queue_join_until(c->q, c->deadline);
}
static __attribute__((noinline)) int queue_call(simul_queue *q, simul_fn fn, void *item,
                                                void **out, double deadline, const char *what,
                                                void *pc)
{
    struct queue_call c = { .q = q, .item = item, .out = out, .deadline = deadline };
    return simul__xcall(q->loop, fn, &c, what, pc);
}

/* put and put_until share this body; inlined into both so that put's
 * INFINITY folds away and the fast path is a handful of instructions. */
static inline __attribute__((always_inline)) int queue_put(simul_queue *q, void *item,
                                                          double deadline, void *pc)
{
    simul__task *self = simul__sync_self();
    if (SIMUL__UNLIKELY(!self))
        return -EPERM;
    if (SIMUL__UNLIKELY(!q || isnan(deadline)))
        return -EINVAL;
    if (simul__foreign(&q->loop))
        return queue_call(q, put_there, item, NULL, deadline, "queue put", pc);
    int r = put_now(q, item);
    if (SIMUL__LIKELY(r != -EAGAIN))
        return r;
    simul__waiter w;
    simul__waiter_init(&w, self);
    w.item = item;
    return simul__wait_on(&q->putters, &w, deadline, 0, "queue put", pc);
}

int simul_queue_put_until(simul_queue *q, void *item, double deadline)
{
    return queue_put(q, item, deadline, CALLER());
}

int simul_queue_put(simul_queue *q, void *item)
{
    return queue_put(q, item, INFINITY, CALLER());
}

/* ---- get ------------------------------------------------------------------- */

static inline __attribute__((always_inline)) int get_now(simul_queue *q, void **item)
{
    if (SIMUL__UNLIKELY(q->count == 0))
        return q->shutdown ? -ESHUTDOWN : -EAGAIN;
    *item = take(q);
    if (!simul__list_empty(&q->putters)) {
        /* the queue was full: the longest-waiting putter's item moves in */
        simul__waiter *w = simul__waiters_pop_live(&q->putters);
        if (w) {
            store(q, w->item);
            q->unfinished++;
            w->result = 0;
            simul__waiter_fire(w, 0);
        }
    }
    return 0;
}

int simul_queue_get_nowait(simul_queue *q, void **item)
{
    if (!q || !item)
        return -EINVAL;
    if (simul__foreign(&q->loop))
        return -EXDEV;
    return get_now(q, item);
}

static inline __attribute__((always_inline)) int queue_get(simul_queue *q, void **item,
                                                          double deadline, void *pc)
{
    simul__task *self = simul__sync_self();
    if (SIMUL__UNLIKELY(!self))
        return -EPERM;
    if (SIMUL__UNLIKELY(!q || !item || isnan(deadline)))
        return -EINVAL;
    if (simul__foreign(&q->loop))
        return queue_call(q, get_there, NULL, item, deadline, "queue get", pc);
    int r = get_now(q, item);
    if (SIMUL__LIKELY(r != -EAGAIN))
        return r;
    simul__waiter w;
    simul__waiter_init(&w, self);
    r = simul__wait_on(&q->getters, &w, deadline, 0, "queue get", pc);
    if (r < 0)
        return r;
    *item = w.item;     /* handed over by a put: ours even if cancelled now */
    return 0;
}

int simul_queue_get_until(simul_queue *q, void **item, double deadline)
{
    return queue_get(q, item, deadline, CALLER());
}

int simul_queue_get(simul_queue *q, void **item)
{
    return queue_get(q, item, INFINITY, CALLER());
}

int simul_queue_next(simul_queue *q, void **item)
{
    int r = queue_get(q, item, INFINITY, CALLER());
    return r == 0 ? 1 : r == -ESHUTDOWN ? 0 : r;
}

/* ---- task_done / join ---------------------------------------------------------- */

int simul_queue_task_done(simul_queue *q)
{
    if (!q)
        return -EINVAL;
    if (simul__foreign(&q->loop))
        return -EXDEV;
    if (q->unfinished == 0)
        return -EINVAL;
    if (--q->unfinished == 0)
        simul__waiters_fire_all(&q->joiners, 0);
    return 0;
}

int simul_queue_join_until(simul_queue *q, double deadline)
{
    simul__task *self = simul__sync_self();
    if (!self)
        return -EPERM;
    if (!q || isnan(deadline))
        return -EINVAL;
    if (simul__foreign(&q->loop))
        return queue_call(q, join_there, NULL, NULL, deadline, "queue join", CALLER());
    if (q->unfinished == 0)
        return 0;
    simul__waiter w;
    simul__waiter_init(&w, self);
    return simul__wait_on(&q->joiners, &w, deadline, 0, "queue join", CALLER());
}

int simul_queue_join(simul_queue *q)
{
    return simul_queue_join_until(q, INFINITY);
}

/* ---- sizes and shutdown ------------------------------------------------------ */

size_t simul_queue_qsize(const simul_queue *q) { return q ? q->count : 0; }
int simul_queue_empty(const simul_queue *q) { return !q || q->count == 0; }
int simul_queue_full(const simul_queue *q) { return q && is_full(q); }
size_t simul_queue_maxsize(const simul_queue *q) { return q ? q->maxsize : 0; }
int simul_queue_is_shutdown(const simul_queue *q) { return q && q->shutdown; }

int simul_queue_shutdown(simul_queue *q, int immediate)
{
    if (!q)
        return -EINVAL;
    if (simul__foreign(&q->loop))
        return -EXDEV;
    q->shutdown = 1;
    if (immediate) {
        size_t n = drop_all(q);
        /* dropped items count as done, as Python's unfinished_tasks -= n */
        q->unfinished = n >= q->unfinished ? 0 : q->unfinished - n;
        if (q->unfinished == 0)
            simul__waiters_fire_all(&q->joiners, 0);
    }
    simul__waiter *w;
    while ((w = simul__waiters_pop_live(&q->getters)) != NULL) {
        w->result = -ESHUTDOWN;
        simul__waiter_fire(w, -ESHUTDOWN);
    }
    while ((w = simul__waiters_pop_live(&q->putters)) != NULL) {
        w->result = -ESHUTDOWN;
        simul__waiter_fire(w, -ESHUTDOWN);
    }
    return 0;
}

/* ---- select hooks -------------------------------------------------------------- */

simul_loop **simul__queue_owner(simul_queue *q) { return &q->loop; }

int simul__queue_try_get(simul_queue *q, void **item, int *res)
{
    int r = get_now(q, item);
    if (r == -EAGAIN)
        return 0;
    *res = r;
    return 1;
}

int simul__queue_try_put(simul_queue *q, void *item, int *res)
{
    int r = put_now(q, item);
    if (r == -EAGAIN)
        return 0;
    *res = r;
    return 1;
}

simul__list *simul__queue_getters(simul_queue *q) { return &q->getters; }
simul__list *simul__queue_putters(simul_queue *q) { return &q->putters; }
