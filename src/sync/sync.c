/*
 * sync.c - asyncio's synchronisation primitives: Semaphore and
 * BoundedSemaphore, Lock, Event, Condition and Barrier. Every wait parks
 * through the core's one wait primitive (simul__park_until).
 *
 * Fairness. A released permit or lock never goes back into the pool while
 * a task waits for it: it is handed to the first live waiter (the node on
 * its stack is unlinked and the task woken), so a task that arrives later
 * cannot barge in, and waiters are served strictly FIFO. A waiter that was
 * cancelled or timed out but has not run yet is stale and is skipped
 * (sync_internal.h), so the permit passes to the next one.
 */
#include "sync_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>

#define CALLER() __builtin_return_address(0)

int simul__sync_bind(simul_loop **owner)
{
    simul_loop *l = simul__loop();
    if (*owner || !l)
        return 1;
    *owner = l;
    simul__loop_keep(l);
    return 0;
}

/* Parks on list `l` with a fresh waiter until fired. */
static int wait_on(simul__list *l, simul__task *self, double deadline, const char *what,
                   void *pc)
{
    simul__waiter w;
    simul__waiter_init(&w, self);
    return simul__wait_on(l, &w, deadline, 0, what, pc);
}

/* ---- semaphores ------------------------------------------------------------- */

struct simul_sem {
    simul_loop *loop;        /* owner (sync_internal.h) */
    unsigned    value;
    unsigned    bound;       /* bounded: the most value may reach */
    int         bounded;
    simul__list waiters;
};

static simul_sem *sem_new(unsigned value, int bounded)
{
    simul_sem *s = malloc(sizeof *s);
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    simul__owner_init(&s->loop);
    s->value = value;
    s->bound = value;
    s->bounded = bounded;
    simul__list_init(&s->waiters);
    return s;
}

simul_sem *simul_sem_new(unsigned value) { return sem_new(value, 0); }
simul_sem *simul_sem_new_bounded(unsigned value) { return sem_new(value, 1); }

void simul_sem_free(simul_sem *s)
{
    if (!s)
        return;
    simul__waiters_fire_all(&s->waiters, -EIDRM);
    simul__owner_release(s->loop);
    free(s);
}

int simul_sem_try_acquire(simul_sem *s)
{
    if (!s)
        return -EINVAL;
    if (simul__foreign(&s->loop))
        return -EXDEV;
    /* value > 0 implies nobody live waits (release hands permits over) */
    if (s->value == 0)
        return -EAGAIN;
    s->value--;
    return 0;
}

int simul_sem_acquire_until(simul_sem *s, double deadline)
{
    simul__task *self = simul__sync_self();
    if (SIMUL__UNLIKELY(!self))
        return -EPERM;
    if (SIMUL__UNLIKELY(!s || isnan(deadline)))
        return -EINVAL;
    if (simul__foreign(&s->loop))
        return -EXDEV;
    if (SIMUL__LIKELY(s->value > 0)) {
        s->value--;
        return 0;
    }
    /* a 0 wake means the releaser handed us its permit */
    return wait_on(&s->waiters, self, deadline, "semaphore", CALLER());
}

int simul_sem_acquire(simul_sem *s)
{
    return simul_sem_acquire_until(s, INFINITY);
}

int simul_sem_release(simul_sem *s)
{
    if (SIMUL__UNLIKELY(!s))
        return -EINVAL;
    if (simul__foreign(&s->loop))
        return -EXDEV;
    if (!simul__list_empty(&s->waiters)) {
        simul__waiter *w = simul__waiters_pop_live(&s->waiters);
        if (w) {
            simul__waiter_fire(w, 0);
            return 0;
        }
    }
    if (s->bounded ? s->value >= s->bound : s->value == UINT_MAX)
        return -EOVERFLOW;
    s->value++;
    return 0;
}

unsigned simul_sem_value(const simul_sem *s) { return s ? s->value : 0; }
int simul_sem_locked(const simul_sem *s) { return s && s->value == 0; }

/* ---- locks ------------------------------------------------------------------- */

struct simul_lock {
    simul_loop  *loop;       /* (sync_internal.h) */
    simul__task *owner;
    simul__list  waiters;
};

simul_lock *simul_lock_new(void)
{
    simul_lock *l = malloc(sizeof *l);
    if (!l) {
        errno = ENOMEM;
        return NULL;
    }
    simul__owner_init(&l->loop);
    l->owner = NULL;
    simul__list_init(&l->waiters);
    return l;
}

void simul_lock_free(simul_lock *l)
{
    if (!l)
        return;
    simul__waiters_fire_all(&l->waiters, -EIDRM);
    simul__owner_release(l->loop);
    free(l);
}

/* Acquire with a deadline; nocancel for Condition's re-acquire. */
static int lock_acquire(simul_lock *l, simul__task *self, double deadline, int nocancel,
                        void *pc)
{
    if (SIMUL__LIKELY(l->owner == NULL)) {
        l->owner = self;
        return 0;
    }
    if (l->owner == self)
        return -EDEADLK;
    simul__waiter w;
    simul__waiter_init(&w, self);
    /* 0: the releaser made us the owner */
    return simul__wait_on(&l->waiters, &w, deadline, nocancel, "lock", pc);
}

int simul_lock_acquire_until(simul_lock *l, double deadline)
{
    simul__task *self = simul__sync_self();
    if (!self)
        return -EPERM;
    if (!l || isnan(deadline))
        return -EINVAL;
    if (simul__foreign(&l->loop))
        return -EXDEV;
    return lock_acquire(l, self, deadline, 0, CALLER());
}

int simul_lock_acquire(simul_lock *l)
{
    return simul_lock_acquire_until(l, INFINITY);
}

int simul_lock_try_acquire(simul_lock *l)
{
    simul__task *self = simul__sync_self();
    if (!self)
        return -EPERM;
    if (!l)
        return -EINVAL;
    if (simul__foreign(&l->loop))
        return -EXDEV;
    if (l->owner)
        return -EAGAIN;
    l->owner = self;
    return 0;
}

static void lock_pass(simul_lock *l)
{
    simul__waiter *w = simul__waiters_pop_live(&l->waiters);
    if (w) {
        l->owner = w->task;
        simul__waiter_fire(w, 0);
    } else {
        l->owner = NULL;
    }
}

int simul_lock_release(simul_lock *l)
{
    if (!l)
        return -EINVAL;
    if (simul__foreign(&l->loop))
        return -EXDEV;
    simul__task *self = simul__sync_self();
    if (!self || l->owner != self)
        return -EPERM;
    lock_pass(l);
    return 0;
}

int simul_lock_locked(const simul_lock *l) { return l && l->owner != NULL; }

/* ---- events -------------------------------------------------------------------- */

struct simul_event {
    simul_loop *loop;        /* (sync_internal.h) */
    int         set;
    simul__list waiters;
};

simul_event *simul_event_new(void)
{
    simul_event *e = malloc(sizeof *e);
    if (!e) {
        errno = ENOMEM;
        return NULL;
    }
    simul__owner_init(&e->loop);
    e->set = 0;
    simul__list_init(&e->waiters);
    return e;
}

void simul_event_free(simul_event *e)
{
    if (!e)
        return;
    simul__waiters_fire_all(&e->waiters, -EIDRM);
    simul__owner_release(e->loop);
    free(e);
}

struct event_call {
    simul_event *e;
    double       deadline;
};
static int event_set_there(void *p) { return simul_event_set(((struct event_call *)p)->e); }
static int event_wait_there(void *p)
{
    struct event_call *c = p;
    return simul_event_wait_until(c->e, c->deadline);
}

int simul_event_set(simul_event *e)
{
    if (!e)
        return -EINVAL;
    if (simul__foreign(&e->loop)) {
        /* a task of another loop: the owner loop sets it */
        struct event_call c = { .e = e };
        return simul__sync_self() ? simul__xcall(e->loop, event_set_there, &c, "event set",
                                                 CALLER())
                                  : -EXDEV;
    }
    e->set = 1;
    simul__waiters_fire_all(&e->waiters, 0);
    return 0;
}

int simul_event_clear(simul_event *e)
{
    if (!e)
        return -EINVAL;
    if (simul__foreign(&e->loop))
        return -EXDEV;
    e->set = 0;
    return 0;
}

int simul_event_is_set(const simul_event *e) { return e && e->set; }

int simul_event_wait_until(simul_event *e, double deadline)
{
    simul__task *self = simul__sync_self();
    if (!self)
        return -EPERM;
    if (!e || isnan(deadline))
        return -EINVAL;
    if (simul__foreign(&e->loop)) {
        struct event_call c = { .e = e, .deadline = deadline };
        return simul__xcall(e->loop, event_wait_there, &c, "event", CALLER());
    }
    if (e->set)
        return 0;
    return wait_on(&e->waiters, self, deadline, "event", CALLER());
}

int simul_event_wait(simul_event *e)
{
    return simul_event_wait_until(e, INFINITY);
}

int simul__event_ready(const simul_event *e) { return e->set; }
simul__list *simul__event_waiters(simul_event *e) { return &e->waiters; }
simul_loop **simul__event_owner(simul_event *e) { return &e->loop; }

/* ---- conditions ----------------------------------------------------------------- */

struct simul_cond {
    simul_lock *lock;
    int         own_lock;
    simul__list waiters;
};

simul_cond *simul_cond_new(simul_lock *lock)
{
    simul_cond *c = malloc(sizeof *c);
    if (!c)
        goto fail;
    c->own_lock = lock == NULL;
    c->lock = lock ? lock : simul_lock_new();
    if (!c->lock)
        goto fail_c;
    simul__list_init(&c->waiters);
    return c;

fail_c:
    free(c);
fail:
    errno = ENOMEM;
    return NULL;
}

void simul_cond_free(simul_cond *c)
{
    if (!c)
        return;
    simul__waiters_fire_all(&c->waiters, -EIDRM);
    if (c->own_lock)
        simul_lock_free(c->lock);
    free(c);
}

simul_lock *simul_cond_lock(simul_cond *c) { return c ? c->lock : NULL; }

int simul_cond_wait_until(simul_cond *c, double deadline)
{
    simul__task *self = simul__sync_self();
    if (!self)
        return -EPERM;
    if (!c || isnan(deadline))
        return -EINVAL;
    if (simul__foreign(&c->lock->loop))
        return -EXDEV;
    if (c->lock->owner != self)
        return -EPERM;
    simul__waiter w;
    simul__waiter_init(&w, self);
    simul__list_push(&c->waiters, &w.link);
    simul_lock *lock = c->lock;
    lock_pass(lock);
    int r = simul__park_until(simul__deadline_ns(deadline), 0, "condition", CALLER());
    if (r < 0)
        simul__list_remove(&w.link);
    if (r == -EIDRM)
        return r;               /* the condition is gone; its lock may be too */
    /* Re-acquire whatever happened, deaf to cancellation (asyncio does the
     * same): the caller's `finally: lock.release()` expects to hold it. */
    int a = lock_acquire(lock, self, INFINITY, 1, CALLER());
    if (a < 0)
        return a;
    return r;
}

int simul_cond_wait(simul_cond *c)
{
    return simul_cond_wait_until(c, INFINITY);
}

int simul_cond_wait_for(simul_cond *c, int (*pred)(void *arg), void *arg, double deadline)
{
    if (!c || !pred)
        return -EINVAL;
    while (!pred(arg)) {
        int r = simul_cond_wait_until(c, deadline);
        if (r < 0)
            return r;
    }
    return 0;
}

int simul_cond_notify(simul_cond *c, size_t n)
{
    if (!c)
        return -EINVAL;
    if (simul__foreign(&c->lock->loop))
        return -EXDEV;
    simul__task *self = simul__sync_self();
    if (!self || c->lock->owner != self)
        return -EPERM;
    for (size_t i = 0; i < n; i++) {
        simul__waiter *w = simul__waiters_pop_live(&c->waiters);
        if (!w)
            break;
        simul__waiter_fire(w, 0);
    }
    return 0;
}

int simul_cond_notify_all(simul_cond *c)
{
    return simul_cond_notify(c, SIZE_MAX);
}

/* ---- barriers ------------------------------------------------------------------- */

struct simul_barrier {
    simul_loop *loop;        /* (sync_internal.h) */
    unsigned    parties;
    unsigned    count;       /* tasks waiting, counting the ones linked */
    int         broken;
    simul__list waiters;
};

simul_barrier *simul_barrier_new(unsigned parties)
{
    if (parties == 0) {
        errno = EINVAL;
        return NULL;
    }
    simul_barrier *b = malloc(sizeof *b);
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    simul__owner_init(&b->loop);
    b->parties = parties;
    b->count = 0;
    b->broken = 0;
    simul__list_init(&b->waiters);
    return b;
}

/* Wakes every waiter with err; they are unlinked and no longer counted. */
static void barrier_break_all(simul_barrier *b, int err)
{
    simul__waiters_fire_all(&b->waiters, err);
    b->count = 0;
}

void simul_barrier_free(simul_barrier *b)
{
    if (!b)
        return;
    barrier_break_all(b, -EIDRM);
    simul__owner_release(b->loop);
    free(b);
}

int simul_barrier_wait_until(simul_barrier *b, double deadline)
{
    simul__task *self = simul__sync_self();
    if (!self)
        return -EPERM;
    if (!b || isnan(deadline))
        return -EINVAL;
    if (simul__foreign(&b->loop))
        return -EXDEV;
    if (b->broken)
        return -EPIPE;
    if (b->count + 1 >= b->parties) {
        /* Might be the last one: first drop waiters that withdrew (cancelled
         * or timed out) but have not run yet to uncount themselves. */
        simul__list *head = &b->waiters;
        for (simul__list *n = head->next, *next; n != head; n = next) {
            next = n->next;
            if (!simul__waiter_live(simul__container_of(n, simul__waiter, link))) {
                simul__list_remove(n);
                b->count--;
            }
        }
        if (b->count + 1 == b->parties) {
            int index = 0;
            simul__list *n;
            while ((n = simul__list_pop(head)) != NULL)
                simul__waiter_fire(simul__container_of(n, simul__waiter, link), index++);
            b->count = 0;
            return index;        /* parties - 1 */
        }
    }
    simul__waiter w;
    simul__waiter_init(&w, self);
    simul__list_push(&b->waiters, &w.link);
    b->count++;
    int r = simul__park_until(simul__deadline_ns(deadline), 0, "barrier", CALLER());
    if (r < 0 && simul__list_linked(&w.link)) {
        /* withdrew while still counted (a waker would have unlinked us) */
        simul__list_remove(&w.link);
        b->count--;
    }
    return r;
}

int simul_barrier_wait(simul_barrier *b)
{
    return simul_barrier_wait_until(b, INFINITY);
}

int simul_barrier_abort(simul_barrier *b)
{
    if (!b)
        return -EINVAL;
    b->broken = 1;
    barrier_break_all(b, -EPIPE);
    return 0;
}

int simul_barrier_reset(simul_barrier *b)
{
    if (!b)
        return -EINVAL;
    barrier_break_all(b, -EPIPE);
    b->broken = 0;
    return 0;
}

unsigned simul_barrier_parties(const simul_barrier *b) { return b ? b->parties : 0; }
unsigned simul_barrier_n_waiting(const simul_barrier *b) { return b ? b->count : 0; }
int simul_barrier_broken(const simul_barrier *b) { return b && b->broken; }
