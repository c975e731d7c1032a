/*
 * timer.c - the loop's timers: a 4-ary min-heap of timer nodes embedded in
 * their owners (a sleeping task, a cancel scope, a simul_timer).
 *
 * Insert and remove are O(log4 n); the earliest deadline is at the root.
 * Each node remembers its heap slot, so disarming any node (a cancelled
 * sleep, a scope left early) is O(log n), not a search. Equal deadlines
 * fire in arming order (a sequence number breaks ties), which keeps
 * call_later(0) callbacks FIFO.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

int64_t simul__clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SIMUL__NS_PER_S + ts.tv_nsec;
}

static inline int before(const simul__tnode *a, const simul__tnode *b)
{
    /* seq wraps; ties compare by distance, fine for timers armed less than
     * 2^31 arms apart */
    return a->when < b->when || (a->when == b->when && (int32_t)(a->seq - b->seq) < 0);
}

static inline void place(simul__tnode **h, size_t i, simul__tnode *n)
{
    h[i] = n;
    n->idx = (uint32_t)(i + 1);
}

static void sift_up(simul__tnode **h, size_t i, simul__tnode *n)
{
    while (i > 0) {
        size_t p = (i - 1) / 4;
        if (!before(n, h[p]))
            break;
        place(h, i, h[p]);
        i = p;
    }
    place(h, i, n);
}

static void sift_down(simul__tnode **h, size_t len, size_t i, simul__tnode *n)
{
    for (;;) {
        size_t c = 4 * i + 1;
        if (c >= len)
            break;
        size_t best = c, end = c + 4 < len ? c + 4 : len;
        for (size_t k = c + 1; k < end; k++)
            if (before(h[k], h[best]))
                best = k;
        if (!before(h[best], n))
            break;
        place(h, i, h[best]);
        i = best;
    }
    place(h, i, n);
}

int simul__timer_arm(simul_loop *l, simul__tnode *n, int64_t when, void (*cb)(simul__tnode *))
{
    if (n->idx)
        simul__timer_disarm(l, n);
    if (l->heap_len == l->heap_cap) {
        size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
        simul__tnode **h = realloc(l->heap, cap * sizeof *h);
        if (!h)
            return -ENOMEM;
        l->heap = h;
        l->heap_cap = cap;
    }
    n->when = when;
    n->seq = l->timer_seq++;
    n->cb = cb;
    sift_up(l->heap, l->heap_len++, n);
    SIMUL__ASSERT(n->idx >= 1 && n->idx <= l->heap_len && l->heap[n->idx - 1] == n);
    return 0;
}

void simul__timer_disarm(simul_loop *l, simul__tnode *n)
{
    if (!n->idx)
        return;
    size_t i = n->idx - 1;
    SIMUL__ASSERT(i < l->heap_len && l->heap[i] == n);   /* a node of this heap */
    n->idx = 0;
    simul__tnode *last = l->heap[--l->heap_len];
    if (last == n)
        return;
    if (i > 0 && before(last, l->heap[(i - 1) / 4]))
        sift_up(l->heap, i, last);
    else
        sift_down(l->heap, l->heap_len, i, last);
}

void simul__timers_run(simul_loop *l)
{
    while (l->heap_len && l->heap[0]->when <= l->now) {
        simul__tnode *n = l->heap[0];
        simul__timer_disarm(l, n);
        n->cb(n);
    }
}

void simul__timers_close(simul_loop *l)
{
    for (size_t i = 0; i < l->heap_len; i++) {
        /* The whole heap, once: every slot knows its index, no child is
         * before its parent. */
        SIMUL__ASSERT(l->heap[i]->idx == i + 1);
        SIMUL__ASSERT(i == 0 || !before(l->heap[i], l->heap[(i - 1) / 4]));
        l->heap[i]->idx = 0;
    }
    free(l->heap);
    l->heap = NULL;
    l->heap_len = l->heap_cap = 0;
    l->ntimer_unref = 0;
}

/* ---- public one-shot timers ------------------------------------------- */

static void timer_fire(simul__tnode *n)
{
    simul_timer *t = simul__container_of(n, simul_timer, node);
    if (t->unref)
        t->loop->ntimer_unref--;   /* timers_run disarmed it */
    void (*cb)(void *) = t->cb;
    void *arg = t->arg;
    if (t->oneshot_free)
        free(t);
    cb(arg);
}

void *simul__loop_handle_new(size_t size, const void *cb, simul_loop **lp)
{
    *lp = simul__loop();
    if (!*lp || !cb) {
        errno = *lp ? EINVAL : EPERM;
        return NULL;
    }
    void *h = calloc(1, size);
    if (!h)
        errno = ENOMEM;
    return h;
}

simul_timer *simul_timer_new(void (*cb)(void *), void *arg)
{
    simul_loop *l;
    simul_timer *t = simul__loop_handle_new(sizeof *t, (const void *)cb, &l);
    if (!t)
        return NULL;
    t->loop = l;
    t->cb = cb;
    t->arg = arg;
    return t;
}

/* Arms t, keeping the count of armed unref'd timers right. */
static int timer_arm(simul_timer *t, int64_t when)
{
    int was = simul__timer_armed(&t->node);
    int r = simul__timer_arm(t->loop, &t->node, when, timer_fire);
    /* A failed re-arm leaves it disarmed. */
    int now = simul__timer_armed(&t->node);
    if (t->unref)
        t->loop->ntimer_unref += (size_t)(now - was);
    return r;
}

static void timer_disarm(simul_timer *t)
{
    if (t->unref && simul__timer_armed(&t->node))
        t->loop->ntimer_unref--;
    simul__timer_disarm(t->loop, &t->node);
}

int simul_timer_start_at(simul_timer *t, double deadline)
{
    if (!t || isnan(deadline))
        return -EINVAL;
    return timer_arm(t, simul__deadline_ns(deadline));
}

int simul_timer_start(simul_timer *t, double seconds)
{
    if (!t || isnan(seconds) || seconds < 0)
        return -EINVAL;
    return timer_arm(t, simul__timeout_ns(t->loop, seconds));
}

int simul_timer_stop(simul_timer *t)
{
    if (!t)
        return -EINVAL;
    timer_disarm(t);
    return 0;
}

int simul_timer_unref(simul_timer *t)
{
    if (!t)
        return -EINVAL;
    if (!t->unref && simul__timer_armed(&t->node))
        t->loop->ntimer_unref++;
    t->unref = 1;
    return 0;
}

int simul_timer_ref(simul_timer *t)
{
    if (!t)
        return -EINVAL;
    if (t->unref && simul__timer_armed(&t->node))
        t->loop->ntimer_unref--;
    t->unref = 0;
    return 0;
}

int simul_timer_active(const simul_timer *t)
{
    return t && t->node.idx != 0;
}

void simul_timer_free(simul_timer *t)
{
    if (!t)
        return;
    timer_disarm(t);
    free(t);
}

int simul_call_later(double seconds, void (*cb)(void *), void *arg)
{
    if (isnan(seconds) || seconds < 0)
        return -EINVAL;
    simul_timer *t = simul_timer_new(cb, arg);
    if (!t)
        return -errno;
    t->oneshot_free = 1;
    int r = simul_timer_start(t, seconds);
    if (r)
        free(t);
    return r;
}

double simul_now(void)
{
    int64_t now = simul__clock_ns();
    simul_loop *l = simul__loop();
    if (l)
        l->now = now;
    return (double)now / 1e9;
}
