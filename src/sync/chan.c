/*
 * chan.c - channels: bounded multi-producer multi-consumer queues of
 * pointers between loops (Go's buffered channels, across threads). Any
 * task of any loop sends and receives; a sender waits while the channel is
 * full, a receiver while it is empty.
 *
 * State. One mutex guards a ring of `cap` items, the wait lists of senders
 * and receivers, and `closed`. Invariants (under the lock): senders wait
 * only when the ring is full, receivers only when it is empty and no
 * sender waits, so FIFO order per sender holds: whoever frees room moves
 * the first waiting sender's items into the ring at once.
 *
 * Waiters. A waiter is a node on its task's stack (struct cwaiter) with
 * the span it sends from or receives into. Whoever satisfies it - under
 * the lock - copies the items, unlinks it and marks it FIRED; after
 * unlocking it wakes the task: directly on its own loop, or through the
 * task's loop's posted-node path (remote.c), all the fired waiters of one
 * loop in one post, so a batch costs one lock and at most one eventfd
 * write on the far side. The node carries the posted node itself, so no
 * allocation. A waiter woken by cancellation or its deadline relocks: if it
 * is still linked it unlinks itself (nothing was transferred, or for a
 * many-item send, exactly `done` items were); if it was FIRED the transfer
 * stands (the call succeeds; the cancel is seen at the next suspension
 * point) and it waits, uncancellably, until the wake addressed to it has
 * been delivered, so no wake is left in flight towards a reused stack.
 *
 * Spinning. Waking a task of another loop costs that loop's thread a trip
 * through the scheduler (eventfd, epoll_wait returning): microseconds, an
 * order of magnitude above moving an item. So a waiter whose peers are on
 * other loops (the last operation on the other side came from another
 * thread) and whose loop has nothing else ready spins briefly before it
 * parks, flagged `spinning`: a waker that fires a spinning waiter hands it
 * over under the lock and posts nothing - the spinner sees FIRED and goes
 * on. The spin is bounded in time (a per-channel budget, 2-50 us, that
 * doubles when a spin ends in a hand-over and halves when it runs out),
 * so an idle channel costs a few microseconds per park; after a few
 * dozen pauses the spinner yields the CPU at each turn (sched_yield), so
 * on a busy machine the peer it waits for can run; and a waiter whose
 * peers share its loop never spins (they cannot run while it does).
 *
 * Deadlock breaker. A task waiting on a channel can be woken by another
 * thread: its loop counts it as `external` meanwhile.
 */
#include "sync_internal.h"

#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#define CALLER() __builtin_return_address(0)

enum { CW_WAITING = 0, CW_FIRED = 1 };

/* Spin budget per channel, in ns: about a thread's wake-up latency at
 * most, and never below a couple of cache-line round trips. */
#define SPIN_MIN_NS 2000
#define SPIN_MAX_NS 50000

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

struct cwaiter {
    simul__list     link;       /* in senders / receivers while WAITING */
    simul__task    *task;
    simul_loop     *loop;
    void          **items;      /* send: read from; receive: written to */
    size_t          n;          /* items wanted (receive: at most) */
    size_t          done;       /* items transferred */
    atomic_int      state;      /* CW_*; set under the lock, read by a spinner */
    int             spinning;   /* under the lock: fire without posting */
    int             result;     /* 0, or -ESHUTDOWN when the close fired it */
    simul__callback post;       /* the wake when the task's loop is another */
    int             delivered;  /* the wake reached the task (its thread only) */
    struct cwaiter *next_fired; /* the waker's list of waiters to wake */
};

struct simul_chan {
    pthread_mutex_t lock;
    size_t          cap, head, len;
    int             closed;
    simul__list     senders, receivers;
    void          **ring;
    simul_loop     *last_sender, *last_receiver;  /* loops of the last calls */
    atomic_int      spin;                         /* ns budget, see Spinning */
};

simul_chan *simul_chan_new(size_t capacity)
{
    if (capacity > SIMUL_CHAN_CAP) {
        errno = EINVAL;
        return NULL;
    }
    simul_chan *ch = calloc(1, sizeof *ch);
    void **ring = capacity ? malloc(capacity * sizeof *ring) : NULL;
    if (!ch || (capacity && !ring)) {
        free(ch);
        free(ring);
        errno = ENOMEM;
        return NULL;
    }
    /* Adaptive: the critical sections are a few dozen instructions, so a
     * contended lock is better spun for briefly than slept on (futex). */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&ch->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    ch->cap = capacity;
    ch->ring = ring;
    atomic_init(&ch->spin, SPIN_MAX_NS / 2);
    simul__list_init(&ch->senders);
    simul__list_init(&ch->receivers);
    return ch;
}

void simul_chan_free(simul_chan *ch)
{
    if (!ch)
        return;
    SIMUL__ASSERT(simul__list_empty(&ch->senders) && simul__list_empty(&ch->receivers));
    pthread_mutex_destroy(&ch->lock);
    free(ch->ring);
    free(ch);
}

/* ---- waking ----------------------------------------------------------------------- */

/* Under the lock: w is satisfied (or closed out with result). */
static void fire(struct cwaiter *w, int result, struct cwaiter **fired)
{
    simul__list_remove(&w->link);
    w->result = result;
    if (w->spinning) {
        /* It watches `state`: nothing to post, and w must not be touched
         * once the release below is seen. */
        w->delivered = 1;
        atomic_store_explicit(&w->state, CW_FIRED, memory_order_release);
        return;
    }
    atomic_store_explicit(&w->state, CW_FIRED, memory_order_relaxed);
    w->next_fired = *fired;
    *fired = w;
}

/* Runs on the waiter's loop: the posted wake. */
static void deliver(void *p)
{
    struct cwaiter *w = p;
    w->delivered = 1;
    simul__wake(w->task, 0);
}

/* After unlocking: wakes every fired waiter; those of one other loop go in
 * one post. Nothing here touches a node after it was handed over. */
static void wake_fired(struct cwaiter *fired)
{
    simul_loop *self = simul__loop();
    while (fired) {
        simul_loop *l = fired->loop;
        simul__callback *chain = NULL, **tail = &chain;
        struct cwaiter **pp = &fired;
        while (*pp) {
            struct cwaiter *w = *pp;
            if (w->loop != l) {
                pp = &w->next_fired;
                continue;
            }
            *pp = w->next_fired;
            if (l == self) {
                w->delivered = 1;
                simul__wake(w->task, 0);
            } else {
                w->post.run.kind = SIMUL__RUN_POSTED;
                w->post.cb = deliver;
                w->post.arg = w;
                w->post.run.next = NULL;
                *tail = &w->post;
                tail = (simul__callback **)&w->post.run.next;
            }
        }
        if (chain) {
            /* A loop with a task parked here has not closed. */
            int r = simul__post_chain(l, chain);
            (void)r;
            SIMUL__ASSERT(r == 0);
        }
    }
}

/* ---- moving items (under the lock) -------------------------------------------------- */

static void ring_push(simul_chan *ch, void *item)
{
    size_t i = ch->head + ch->len;
    if (i >= ch->cap)
        i -= ch->cap;
    ch->ring[i] = item;
    ch->len++;
}

static void *ring_pop(simul_chan *ch)
{
    void *item = ch->ring[ch->head];
    if (++ch->head == ch->cap)
        ch->head = 0;
    ch->len--;
    return item;
}

static struct cwaiter *first(simul__list *l)
{
    return simul__list_empty(l) ? NULL : simul__container_of(l->next, struct cwaiter, link);
}

/* Refills the ring from waiting senders, oldest first. */
static void refill(simul_chan *ch, struct cwaiter **fired)
{
    struct cwaiter *s;
    while (ch->len < ch->cap && (s = first(&ch->senders)) != NULL) {
        ring_push(ch, s->items[s->done++]);
        if (s->done == s->n)
            fire(s, 0, fired);
    }
}

/* Takes up to n items into out: the ring first (oldest), then straight
 * from waiting senders (an unbuffered channel, or a full ring just
 * drained); then refills. Returns how many. */
static size_t take(simul_chan *ch, void **out, size_t n, struct cwaiter **fired)
{
    size_t k = 0;
    while (k < n && ch->len > 0)
        out[k++] = ring_pop(ch);
    struct cwaiter *s;
    while (k < n && (s = first(&ch->senders)) != NULL) {
        /* Only when the ring is empty here: waiting senders are newer
         * than anything in it. */
        size_t m = s->n - s->done < n - k ? s->n - s->done : n - k;
        memcpy(out + k, s->items + s->done, m * sizeof *out);
        k += m;
        s->done += m;
        if (s->done == s->n)
            fire(s, 0, fired);
    }
    refill(ch, fired);
    return k;
}

/* Puts up to n items: first to waiting receivers (the ring is empty
 * then), then into the ring. Returns how many. */
static size_t put(simul_chan *ch, void *const *items, size_t n, struct cwaiter **fired)
{
    size_t k = 0;
    struct cwaiter *r;
    while (k < n && (r = first(&ch->receivers)) != NULL) {
        size_t m = r->n < n - k ? r->n : n - k;
        memcpy(r->items, items + k, m * sizeof *items);
        r->done = m;
        k += m;
        fire(r, 0, fired);
    }
    while (k < n && ch->len < ch->cap)
        ring_push(ch, items[k++]);
    return k;
}

/* ---- waiting ------------------------------------------------------------------------ */

/*
 * Called with the lock held and w linked; returns with it released, after
 * waking the waiters this call fired. Parks until w is fired, the deadline
 * or cancellation; returns 0 when fired (w->done and w->result tell the
 * rest), else the park's error with w unlinked (w->done then says how much
 * of a many-item send went before).
 */
static int wait_fired(simul_chan *ch, struct cwaiter *w, struct cwaiter *fired,
                      simul_loop *peer, int64_t deadline, const char *what, void *pc)
{
    simul_loop *l = w->loop;
    /* Spin first when the other side runs on another thread and this loop
     * has nothing else to do (see Spinning). */
    int budget = peer != l && !l->rq_head ? atomic_load_explicit(&ch->spin, memory_order_relaxed)
                                          : 0;
    if (budget > 0) {
        w->spinning = 1;
        pthread_mutex_unlock(&ch->lock);
        wake_fired(fired);
        fired = NULL;
        /* Pause-spin first; past that, yield the CPU at each turn, so a
         * peer thread waiting for this core (a busy machine) gets it. */
        int64_t t0 = simul__clock_ns(), now = t0;
        for (unsigned i = 1; now - t0 < budget; i++) {
            if (atomic_load_explicit(&w->state, memory_order_acquire) == CW_FIRED ||
                atomic_load_explicit(&l->ts_signalled, memory_order_relaxed))
                break;
            if (i < 64) {
                cpu_relax();
                continue;
            }
            sched_yield();
            now = simul__clock_ns();
        }
        pthread_mutex_lock(&ch->lock);
        w->spinning = 0;
        int got = atomic_load_explicit(&w->state, memory_order_relaxed) == CW_FIRED;
        int b = got ? budget * 2 : budget / 2;
        atomic_store_explicit(&ch->spin,
                              b < SPIN_MIN_NS ? SPIN_MIN_NS : b > SPIN_MAX_NS ? SPIN_MAX_NS : b,
                              memory_order_relaxed);
        if (got) {
            pthread_mutex_unlock(&ch->lock);   /* fired while spinning: delivered */
            return 0;
        }
    }
    pthread_mutex_unlock(&ch->lock);
    wake_fired(fired);
    atomic_fetch_add_explicit(&l->external, 1, memory_order_relaxed);
    int r = simul__park_until(deadline, 0, what, pc);
    pthread_mutex_lock(&ch->lock);
    int was_fired = atomic_load_explicit(&w->state, memory_order_relaxed) == CW_FIRED;
    if (!was_fired)
        simul__list_remove(&w->link);
    pthread_mutex_unlock(&ch->lock);
    if (was_fired) {
        /* The wake may still be on its way (posted): wait for it, so none
         * is left in flight towards this stack frame. */
        while (!w->delivered)
            simul__park_nocancel(what, pc);
        r = 0;
    }
    atomic_fetch_sub_explicit(&l->external, 1, memory_order_relaxed);
    return r;
}

static int check_wait(simul_chan *ch, double deadline, simul__task **self)
{
    if (!ch || isnan(deadline))
        return -EINVAL;
    *self = simul__sync_self();
    if (!*self)
        return -EPERM;
    return 0;
}

int simul_chan_send_many_until(simul_chan *ch, void *const *items, size_t n, double deadline)
{
    simul__task *self;
    int err = check_wait(ch, deadline, &self);
    if (err)
        return err;
    if (!items && n)
        return -EINVAL;
    if (n > INT_MAX)
        n = INT_MAX;
    if (simul__cancel_pending(self))
        return -ECANCELED;
    struct cwaiter *fired = NULL;
    pthread_mutex_lock(&ch->lock);
    if (ch->closed) {
        pthread_mutex_unlock(&ch->lock);
        return -ESHUTDOWN;
    }
    ch->last_sender = self->loop;
    simul_loop *peer = ch->last_receiver;
    size_t k = put(ch, items, n, &fired);
    if (k == n) {
        pthread_mutex_unlock(&ch->lock);
        wake_fired(fired);
        return (int)k;
    }
    struct cwaiter w = { .task = self, .loop = self->loop, .items = (void **)(items + k),
                         .n = n - k };
    simul__list_push(&ch->senders, &w.link);
    int r = wait_fired(ch, &w, fired, peer, simul__deadline_ns(deadline), "chan send",
                       CALLER());
    size_t sent = k + w.done;
    if (r == 0 && w.result < 0)
        r = w.result;                /* closed while waiting */
    return sent > 0 ? (int)sent : r;
}

int simul_chan_send_until(simul_chan *ch, void *item, double deadline)
{
    int r = simul_chan_send_many_until(ch, &item, 1, deadline);
    return r == 1 ? 0 : r;
}

int simul_chan_send(simul_chan *ch, void *item)
{
    return simul_chan_send_until(ch, item, INFINITY);
}

int simul_chan_send_many(simul_chan *ch, void *const *items, size_t n)
{
    return simul_chan_send_many_until(ch, items, n, INFINITY);
}

int simul_chan_recv_many_until(simul_chan *ch, void **items, size_t cap, double deadline)
{
    simul__task *self;
    int err = check_wait(ch, deadline, &self);
    if (err)
        return err;
    if (!items || cap == 0)
        return -EINVAL;
    if (cap > INT_MAX)
        cap = INT_MAX;
    if (simul__cancel_pending(self))
        return -ECANCELED;
    struct cwaiter *fired = NULL;
    pthread_mutex_lock(&ch->lock);
    ch->last_receiver = self->loop;
    simul_loop *peer = ch->last_sender;
    size_t k = take(ch, items, cap, &fired);
    if (k > 0 || ch->closed) {
        pthread_mutex_unlock(&ch->lock);
        wake_fired(fired);
        return (int)k;               /* 0: closed and drained, the end */
    }
    SIMUL__ASSERT(fired == NULL);
    struct cwaiter w = { .task = self, .loop = self->loop, .items = items, .n = cap };
    simul__list_push(&ch->receivers, &w.link);
    int r = wait_fired(ch, &w, NULL, peer, simul__deadline_ns(deadline), "chan recv",
                       CALLER());
    if (r < 0)
        return r;
    return w.done > 0 ? (int)w.done : 0;   /* 0: closed, the end */
}

int simul_chan_recv_many(simul_chan *ch, void **items, size_t cap)
{
    return simul_chan_recv_many_until(ch, items, cap, INFINITY);
}

int simul_chan_next(simul_chan *ch, void **item)
{
    int r = simul_chan_recv_many_until(ch, item, 1, INFINITY);
    return r;
}

int simul_chan_recv_until(simul_chan *ch, void **item, double deadline)
{
    void *it;
    int r = simul_chan_recv_many_until(ch, &it, 1, deadline);
    if (r == 1 && item)
        *item = it;
    return r == 1 ? 0 : r == 0 ? -ESHUTDOWN : r;
}

int simul_chan_recv(simul_chan *ch, void **item)
{
    return simul_chan_recv_until(ch, item, INFINITY);
}

/* ---- without waiting, from anywhere ----------------------------------------------------- */

int simul_chan_try_send(simul_chan *ch, void *item)
{
    if (!ch)
        return -EINVAL;
    struct cwaiter *fired = NULL;
    pthread_mutex_lock(&ch->lock);
    ch->last_sender = simul__loop();
    int r = ch->closed ? -ESHUTDOWN : put(ch, &item, 1, &fired) == 1 ? 0 : -EAGAIN;
    pthread_mutex_unlock(&ch->lock);
    wake_fired(fired);
    return r;
}

int simul_chan_try_recv(simul_chan *ch, void **item)
{
    if (!ch)
        return -EINVAL;
    struct cwaiter *fired = NULL;
    void *it;
    pthread_mutex_lock(&ch->lock);
    ch->last_receiver = simul__loop();
    int r = take(ch, &it, 1, &fired) == 1 ? 0 : ch->closed ? -ESHUTDOWN : -EAGAIN;
    pthread_mutex_unlock(&ch->lock);
    wake_fired(fired);
    if (r == 0 && item)
        *item = it;
    return r;
}

int simul_chan_close(simul_chan *ch)
{
    if (!ch)
        return -EINVAL;
    struct cwaiter *fired = NULL, *w;
    pthread_mutex_lock(&ch->lock);
    ch->closed = 1;
    while ((w = first(&ch->senders)) != NULL)
        fire(w, -ESHUTDOWN, &fired);
    while ((w = first(&ch->receivers)) != NULL)
        fire(w, -ESHUTDOWN, &fired);
    pthread_mutex_unlock(&ch->lock);
    wake_fired(fired);
    return 0;
}

/* ---- state ----------------------------------------------------------------------------- */

size_t simul_chan_len(simul_chan *ch)
{
    if (!ch)
        return 0;
    pthread_mutex_lock(&ch->lock);
    size_t n = ch->len;
    pthread_mutex_unlock(&ch->lock);
    return n;
}

size_t simul_chan_cap(const simul_chan *ch)
{
    return ch ? ch->cap : 0;
}

int simul_chan_closed(simul_chan *ch)
{
    if (!ch)
        return -EINVAL;
    pthread_mutex_lock(&ch->lock);
    int c = ch->closed;
    pthread_mutex_unlock(&ch->lock);
    return c;
}
