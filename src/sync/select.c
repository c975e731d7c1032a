/*
 * select.c - wait for the first of several queues (get or put), events,
 * tasks and signal sets (through simul__selectable), or a deadline, and perform only that one (Go's select; asyncio
 * needs asyncio.wait(FIRST_COMPLETED) plus care not to lose items).
 *
 * First every case is probed in order; the first that can proceed is done
 * and returned. Otherwise one waiter node per case is linked into the wait
 * list of its object (a task gets a done-callback) and the task parks once.
 * Whichever source comes first fills its node and wakes the task; by the
 * core's first-wake-wins rule the task is then no longer parked, so every
 * other source sees its node as stale and skips it (sync_internal.h): a
 * queue that did not win never gives an item to this select, so nothing is
 * taken and nothing is lost. Then all nodes are unlinked.
 */
#include "sync_internal.h"

#include <math.h>
#include <stdlib.h>

#define CALLER() __builtin_return_address(0)

/* Above this many cases the nodes come from the heap instead of the stack. */
#define STACK_CASES 8
/* Hard cap on the number of cases. */
#define MAX_CASES 65536

struct node {
    simul__waiter  w;
    simul__donecb  cb;      /* TASK cases */
    simul__task   *t;
};

static void task_fire(simul__donecb *cb, simul__task *t)
{
    struct node *n = simul__container_of(cb, struct node, cb);
    if (simul__waiter_live(&n->w)) {
        n->w.result = t->result;
        simul__waiter_fire(&n->w, 0);
    }
}

/* Checks the cases; resolves task handles into ts (may be NULL if none). */
static int check(simul_select_case *cases, size_t n, simul__task *self)
{
    for (size_t i = 0; i < n; i++) {
        simul_select_case *c = &cases[i];
        switch (c->kind) {
        case SIMUL_SELECT_GET:
        case SIMUL_SELECT_PUT:
            if (!c->queue)
                return -EINVAL;
            if (simul__foreign(simul__queue_owner(c->queue)))
                return -EXDEV;      /* select waits on this loop's objects only */
            break;
        case SIMUL_SELECT_EVENT:
            if (!c->event)
                return -EINVAL;
            if (simul__foreign(simul__event_owner(c->event)))
                return -EXDEV;
            break;
        case SIMUL_SELECT_SIGNAL:
            if (!c->signal)
                return -EINVAL;
            break;
        case SIMUL_SELECT_TASK: {
            simul__task *t = simul__task_get(c->task);
            if (!t)
                return c->task ? -ESRCH : -EINVAL;
            if (t->loop != self->loop)
                return -EXDEV;
            if (t == self)
                return -EDEADLK;
            break;
        }
        default:
            return -EINVAL;
        }
    }
    return 0;
}

/* Does case c at once if it can: 1 (c->result set), else 0. */
static int probe(simul_select_case *c)
{
    switch (c->kind) {
    case SIMUL_SELECT_GET:
        return simul__queue_try_get(c->queue, &c->item, &c->result);
    case SIMUL_SELECT_PUT:
        return simul__queue_try_put(c->queue, c->item, &c->result);
    case SIMUL_SELECT_EVENT:
        if (!simul__event_ready(c->event))
            return 0;
        c->result = 0;
        return 1;
    case SIMUL_SELECT_SIGNAL:
        return simul__selectable_of(c->signal)->probe(c->signal, &c->result);
    default: {
        simul__task *t = simul__task_get(c->task);
        if (t->state != SIMUL_TASK_DONE)
            return 0;
        c->result = t->result;
        return 1;
    }
    }
}

int simul_select(simul_select_case *cases, size_t n, double deadline)
{
    simul__task *self = simul__sync_self();
    if (!self)
        return -EPERM;
    if ((n && !cases) || n > MAX_CASES || isnan(deadline))
        return -EINVAL;
    int r = check(cases, n, self);
    if (r)
        return r;
    for (size_t i = 0; i < n; i++)
        if (probe(&cases[i]))
            return (int)i;

    struct node local[STACK_CASES];
    struct node *nodes = local;
    if (n > STACK_CASES && !(nodes = malloc(n * sizeof *nodes)))
        return -ENOMEM;

    for (size_t i = 0; i < n; i++) {
        simul_select_case *c = &cases[i];
        struct node *nd = &nodes[i];
        simul__waiter_init(&nd->w, self);
        simul__list_init(&nd->w.link);
        simul__list_init(&nd->cb.link);
        switch (c->kind) {
        case SIMUL_SELECT_GET:
            simul__list_push(simul__queue_getters(c->queue), &nd->w.link);
            break;
        case SIMUL_SELECT_PUT:
            nd->w.item = c->item;
            simul__list_push(simul__queue_putters(c->queue), &nd->w.link);
            break;
        case SIMUL_SELECT_EVENT:
            simul__list_push(simul__event_waiters(c->event), &nd->w.link);
            break;
        case SIMUL_SELECT_SIGNAL:
            simul__selectable_of(c->signal)->link(c->signal, &nd->w);
            break;
        default:
            nd->t = simul__task_get(c->task);
            nd->cb.fn = task_fire;
            simul__list_push(&nd->t->donecbs, &nd->cb.link);
            break;
        }
    }

    r = simul__park_until(simul__deadline_ns(deadline), 0, "select", CALLER());

    /* Unlink every node (the winner's and stale ones are already off their
     * lists: removing a lone node is harmless). */
    int won = -1;
    for (size_t i = 0; i < n; i++) {
        struct node *nd = &nodes[i];
        simul__list_remove(&nd->w.link);
        simul__list_remove(&nd->cb.link);
        if (nd->w.fired) {
            won = (int)i;
            cases[i].result = nd->w.result;
            if (cases[i].kind == SIMUL_SELECT_GET && nd->w.result == 0)
                cases[i].item = nd->w.item;
        }
    }
    if (nodes != local)
        free(nodes);
    return won >= 0 ? won : r < 0 ? r : -EINVAL;
}
