/*
 * sync_internal.h - what the coordination layer's files (queue.c, sync.c,
 * asyncgen.c, select.c) share: the waiter node and the wait on a list.
 *
 * A waiter is a node on the waiting task's stack, linked into the wait list
 * of the object it waits on; the task parks through the core's one wait
 * primitive (simul__park_until). Whoever satisfies the wait unlinks it, fills
 * it (an item, a case index) and wakes the task; by the core's first-wake-
 * wins rule, a node whose task is no longer parked (it was woken by a
 * cancel, a timeout or, in select, by another source, and has not run yet)
 * is stale: the waker unlinks it and gives what it had to the next waiter.
 * So nothing is ever handed to a task that will not see it.
 */
#ifndef SIMUL_CORE_SYNC_INTERNAL_H
#define SIMUL_CORE_SYNC_INTERNAL_H

#include "../core/internal.h"

#include <math.h>

typedef struct simul__waiter {
    simul__list  link;      /* in the object's wait list */
    simul__task *task;      /* the parked task */
    void        *item;      /* queue: the item handed over / offered */
    int          fired;     /* set by the waker that delivered to this node */
    int          result;    /* select: the outcome for this case */
} simul__waiter;

static inline void simul__waiter_init(simul__waiter *w, simul__task *t)
{
    w->task = t;
    w->item = NULL;
    w->fired = 0;
    w->result = 0;
}

/* Is w's task still parked, so that a wake will reach it? */
static inline int simul__waiter_live(const simul__waiter *w)
{
    return w->task->state == SIMUL_TASK_WAITING;
}

/* Pops the first waiter of l whose task is still parked; stale ones are
 * unlinked on the way. NULL if there is none. */
static inline simul__waiter *simul__waiters_pop_live(simul__list *l)
{
    simul__list *n;
    while ((n = simul__list_pop(l)) != NULL) {
        simul__waiter *w = simul__container_of(n, simul__waiter, link);
        if (simul__waiter_live(w))
            return w;
    }
    return NULL;
}

/* Wakes w (already unlinked and live) with value (its park's return). */
static inline void simul__waiter_fire(simul__waiter *w, int value)
{
    w->fired = 1;
    if (value < 0)
        w->result = value;      /* select reads a case's outcome here */
    simul__wake(w->task, value);
}

/* Wakes every live waiter of l with value, unlinking all of them. */
static inline void simul__waiters_fire_all(simul__list *l, int value)
{
    simul__waiter *w;
    while ((w = simul__waiters_pop_live(l)) != NULL)
        simul__waiter_fire(w, value);
}

/*
 * Loops on several threads. Every object records the loop it belongs to:
 * the one running where it was made, or, for one made outside any loop,
 * the first loop that uses it; it holds a keep reference on that loop, so
 * a call from elsewhere after the loop closed fails with -ESHUTDOWN instead
 * of touching freed memory. Only the owner's thread touches an object's
 * state. A task of another loop that waits on a queue or an event (or sets
 * the event) has the call carried out by the owner loop (simul__xcall):
 * the owner's tasks are woken on the owner's thread, the caller on its
 * own. Every other call from another loop fails with -EXDEV.
 */
static inline void simul__owner_init(simul_loop **owner)
{
    *owner = simul__loop();
    if (*owner)
        simul__loop_keep(*owner);
}
static inline void simul__owner_release(simul_loop *owner)
{
    if (owner)
        simul__loop_release(owner);
}
/* Binds an unbound object to the calling loop (0), or 1: it is another's. */
int simul__sync_bind(simul_loop **owner);
/* 1 if the object with this owner belongs to another loop than the caller's. */
static inline int simul__foreign(simul_loop **owner)
{
    return SIMUL__UNLIKELY(*owner != simul__loop()) && simul__sync_bind(owner);
}

/* The running task, or NULL outside a task. */
static inline simul__task *simul__sync_self(void)
{
    simul_loop *l = simul__loop();
    return l ? l->current : NULL;
}

/*
 * The common wait: puts w (initialised by the caller, which may set
 * w->item) on wait list `list` and parks until a waker fires it, the
 * deadline passes (-ETIMEDOUT) or the task is cancelled (-ECANCELED, unless
 * nocancel); on failure w is unlinked (harmless if a waker already did).
 * deadline: simul_now() seconds, not NaN (the public calls reject it).
 */
static inline int simul__wait_on(simul__list *list, simul__waiter *w, double deadline,
                                 int nocancel, const char *what, void *pc)
{
    simul__list_push(list, &w->link);
    int r = simul__park_until(simul__deadline_ns(deadline),
                              nocancel ? SIMUL__PARK_NOCANCEL : 0, what, pc);
    if (r < 0)
        simul__list_remove(&w->link);
    return r;
}

/*
 * Something of a layer above this one that select can wait on (a signal
 * set of the I/O layer): its struct begins with a pointer to this table,
 * so select needs no knowledge of it.
 */
typedef struct simul__selectable {
    /* Does it at once if it can: 1 with *res set (select's .result), or 0. */
    int  (*probe)(void *obj, int *res);
    /* Links w into its wait list (arming what must be armed); whoever
     * satisfies it later sets w->result and fires w. */
    void (*link)(void *obj, simul__waiter *w);
} simul__selectable;
static inline const simul__selectable *simul__selectable_of(void *obj)
{
    return *(const simul__selectable *const *)obj;
}

/* Queue and event hooks for select.c. */
struct simul_queue;
struct simul_event;
/* If the case can proceed now, does it and returns 1 (result in *res);
 * else 0. */
int  simul__queue_try_get(struct simul_queue *q, void **item, int *res);
int  simul__queue_try_put(struct simul_queue *q, void *item, int *res);
simul__list *simul__queue_getters(struct simul_queue *q);
simul__list *simul__queue_putters(struct simul_queue *q);
int  simul__event_ready(const struct simul_event *e);
simul_loop **simul__queue_owner(struct simul_queue *q);
simul_loop **simul__event_owner(struct simul_event *e);
simul__list *simul__event_waiters(struct simul_event *e);

#endif /* SIMUL_CORE_SYNC_INTERNAL_H */
