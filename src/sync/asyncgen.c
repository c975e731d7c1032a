/*
 * asyncgen.c - async generators: a producer task yields values to a
 * consumer that iterates (async for), can stop early (aclose), and sees the
 * producer's errors; plus the async comprehension (collect with a filter).
 *
 * The producer is a task of its own, spawned by the first next (as a
 * Python generator's body runs only when first iterated). The two take
 * turns: next wakes the producer and parks; yield hands the value to the
 * parked consumer (wake value 1) and parks; the producer finishing wakes
 * the consumer through a done-callback (wake value 0). So the producer runs
 * only while a consumer waits for it, exactly like a generator frame.
 *
 * Stopping early is cancellation of the producer task: its pending yield
 * (or whatever it is waiting on) returns -ECANCELED, the producer runs its
 * cleanup and returns, and close waits for that without regard to its own
 * cancellation, so the cleanup always completes.
 */
#include "sync_internal.h"

#include <stdio.h>
#include <stdlib.h>

#define CALLER() __builtin_return_address(0)

enum { GEN_NEW, GEN_RUNNING, GEN_SUSPENDED, GEN_FINISHED, GEN_CLOSED };

struct simul_gen {
    simul_gen_fn   fn;
    void          *arg;
    size_t         stack_size;
    char           name[32];
    int            state;
    int            result;     /* the producer's, once joined */
    simul__task   *producer;   /* NULL until started and after joined */
    simul__task   *waiter;     /* the task in next or close, or NULL */
    void          *value;      /* the value being handed over */
    simul__donecb  done;       /* on the producer's donecbs */
    int            orphan;     /* freed by its owner: the producer frees it */
};

static int gen_main(void *arg)
{
    simul_gen *g = arg;
    int r = g->fn(g, g->arg);
    if (g->orphan) {            /* freed while running, see simul_gen_free */
        simul__list_remove(&g->done.link);
        free(g);
    }
    return r;
}

/* The producer finished (returned, failed, or was cancelled unstarted). */
static void gen_done(simul__donecb *cb, simul__task *t)
{
    (void)t;
    simul_gen *g = simul__container_of(cb, simul_gen, done);
    g->state = GEN_FINISHED;
    if (g->waiter)
        simul__wake(g->waiter, 0);
}

simul_gen *simul_gen_new_opts(simul_gen_fn fn, void *arg, const simul_task_opts *opts)
{
    if (!simul__loop()) {
        errno = EPERM;
        return NULL;
    }
    if (!fn) {
        errno = EINVAL;
        return NULL;
    }
    simul_gen *g = calloc(1, sizeof *g);
    if (!g) {
        errno = ENOMEM;
        return NULL;
    }
    g->fn = fn;
    g->arg = arg;
    g->state = GEN_NEW;
    if (opts) {
        g->stack_size = opts->stack_size;
        if (opts->name)
            snprintf(g->name, sizeof g->name, "%s", opts->name);
    }
    simul__list_init(&g->done.link);
    g->done.fn = gen_done;
    return g;
}

simul_gen *simul_gen_new(simul_gen_fn fn, void *arg)
{
    return simul_gen_new_opts(fn, arg, NULL);
}

/* Reaps the finished producer: frees its task, records its result. */
static int gen_reap(simul_gen *g)
{
    simul_loop *l = simul__loop();
    simul__task *t = g->producer;
    if (t) {
        g->result = t->result;
        g->producer = NULL;
        simul__task_free(l, t);
    }
    return g->result;
}

/* Cancels the producer and waits, deaf to our own cancellation, until it
 * has finished. Returns its result. */
static int gen_stop(simul_gen *g, simul__task *self, void *pc)
{
    if (g->state != GEN_FINISHED) {
        simul__task_cancel(g->producer);
        g->waiter = self;
        while (g->state != GEN_FINISHED)
            simul__park_nocancel("gen close", pc);
        g->waiter = NULL;
    }
    return gen_reap(g);
}

int simul_gen_next(simul_gen *g, void **value)
{
    simul__task *self = simul__sync_self();
    if (!self)
        return -EPERM;
    if (!g || !value)
        return -EINVAL;
    if (g->state == GEN_CLOSED)
        return 0;
    if (self == g->producer)
        return -EDEADLK;
    if (g->waiter)
        return -EBUSY;
    if (simul__cancel_pending(self)) {
        /* A cancelled task awaiting a suspended generator cancels it, as
         * asyncio's CancelledError lands in the generator's frame. This
         * also covers a cancel that arrived together with the last value
         * (the handoff wins, so the consumer saw 1 and calls again). A
         * generator never started is left as it is. */
        if (g->state == GEN_SUSPENDED) {
            gen_stop(g, self, CALLER());
            g->state = GEN_CLOSED;
        }
        return -ECANCELED;
    }
    if (g->state == GEN_NEW) {
        simul_task_opts o = { .stack_size = g->stack_size, .name = g->name[0] ? g->name : NULL };
        simul__task *t = simul__spawn(simul__loop(), gen_main, g, &o);
        if (!t)
            return -errno;
        g->producer = t;
        simul__list_push(&t->donecbs, &g->done.link);
        g->state = GEN_RUNNING;
    } else if (g->state == GEN_SUSPENDED) {
        g->state = GEN_RUNNING;
        simul__wake(g->producer, 0);
    }
    int r = 0;
    if (g->state == GEN_RUNNING) {
        g->waiter = self;
        r = simul__park("gen next", CALLER());
        g->waiter = NULL;
    }
    if (r == 1) {
        *value = g->value;      /* handed over: ours even if cancelled now */
        return 1;
    }
    if (r == -ECANCELED) {
        /* as a generator awaited by a cancelled task: it is cancelled too */
        gen_stop(g, self, CALLER());
        g->state = GEN_CLOSED;
        return -ECANCELED;
    }
    /* the producer finished */
    int res = gen_reap(g);
    g->state = GEN_CLOSED;
    return res < 0 ? res : 0;
}

int simul_gen_yield(simul_gen *g, void *value)
{
    simul__task *self = simul__sync_self();
    if (!self)
        return -EPERM;
    if (!g)
        return -EINVAL;
    if (self != g->producer)
        return -EPERM;
    if (simul__cancel_pending(self))
        return -ECANCELED;      /* closed: this value is never delivered */
    /* The consumer is parked in next (it is what let us run), unless it
     * was cancelled in the meantime; then the value is not delivered and
     * it will close us. */
    if (g->waiter && g->waiter->state == SIMUL_TASK_WAITING) {
        g->value = value;
        simul__wake(g->waiter, 1);
    }
    g->state = GEN_SUSPENDED;
    int r = simul__park("gen yield", CALLER());
    if (r < 0 && g->state == GEN_SUSPENDED)
        g->state = GEN_RUNNING;   /* cancelled: running its cleanup */
    return r;
}

int simul_gen_close(simul_gen *g)
{
    simul__task *self = simul__sync_self();
    if (!self)
        return -EPERM;
    if (!g)
        return -EINVAL;
    if (self == g->producer)
        return -EDEADLK;
    if (g->state == GEN_NEW || g->state == GEN_CLOSED) {
        g->state = GEN_CLOSED;
        return 0;
    }
    if (g->waiter)
        return -EBUSY;
    int res = gen_stop(g, self, CALLER());
    g->state = GEN_CLOSED;
    return res < 0 && res != -ECANCELED ? res : 0;
}

void simul_gen_free(simul_gen *g)
{
    if (!g)
        return;
    simul__task *self = simul__sync_self();
    if (g->producer && self && g->waiter == NULL && g->producer != self) {
        simul_gen_close(g);
    } else if (g->producer) {
        /* Misuse (from a callback, from the producer itself, or while a
         * task is in next): there is no task that may wait here. */
        simul__task *t = g->producer;
        if (t->state == SIMUL_TASK_DONE) {
            simul__list_remove(&g->done.link);
            simul__task_free(simul__loop(), t);
        } else if (t->state == SIMUL_TASK_NEW) {
            /* cancelled before it ran, it never touches g: just detach */
            simul__list_remove(&g->done.link);
            t->flags |= SIMUL__TF_DETACHED;
            simul__task_cancel(t);
        } else {
            /* it still runs code that uses g: g is freed when it ends */
            t->flags |= SIMUL__TF_DETACHED;
            g->orphan = 1;
            g->waiter = NULL;
            simul__task_cancel(t);
            return;
        }
    }
    free(g);
}

int simul_gen_collect(simul_gen *g, int (*keep)(void *value, void *ctx), void *ctx,
                      void ***items, size_t *n)
{
    if (!items || !n)
        return -EINVAL;
    *items = NULL;
    *n = 0;
    if (!g)
        return -EINVAL;
    void **a = NULL;
    size_t len = 0, cap = 0;
    int r;
    void *v;
    while ((r = simul_gen_next(g, &v)) == 1) {
        if (keep && !keep(v, ctx))
            continue;
        if (len == cap) {
            if (cap >= SIMUL_GEN_COLLECT_MAX) {
                r = -E2BIG;
                goto fail;
            }
            size_t nc = cap ? cap * 2 : 16;
            void **na = realloc(a, nc * sizeof *na);
            if (!na) {
                r = -ENOMEM;
                goto fail;
            }
            a = na;
            cap = nc;
        }
        a[len++] = v;
    }
    if (r < 0)
        goto fail;
    *items = a;
    *n = len;
    if (len == 0)
        free(a), *items = NULL;
    return 0;

fail:
    free(a);
    simul_gen_close(g);
    return r;
}
