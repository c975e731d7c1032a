/*
 * future.c - futures (asyncio.Future): a one-shot outcome - a pointer
 * result, an error or a cancellation - that tasks await and that loop
 * callbacks, other tasks or other threads set. This is how a library with
 * callbacks (an HTTP client, a Redis or PostgreSQL driver) wakes the task
 * that waits for its answer.
 *
 * Waiting. Each waiting task links a node on its own stack into the
 * future's wait list. Completion copies the outcome into every node and
 * wakes the tasks, so a waiter never reads the future after it was woken:
 * the owner may free it as soon as it is done. A waiter that leaves early
 * (cancelled, timed out) unlinks its own node. A waiter that is cancelled
 * cancels the future, as `await fut` in a cancelled asyncio task does; the
 * wait's own deadline does not (like every *_until wait in simul).
 *
 * Done callbacks run on the loop, after completion, from one call_soon
 * (asyncio schedules them with call_soon too), so setting a future never
 * runs user code under the setter's feet.
 *
 * Lifetime. `refs` counts what still holds the future after its owner may
 * have freed it: the scheduled run of its callbacks and thread-safe sets on
 * their way to the loop. simul_future_free with refs held only marks it; the
 * last of them frees it. A future holds its loop's memory (simul__loop_keep)
 * until it is freed, so a thread's set after the loop closed is refused with
 * -ESHUTDOWN instead of touching a freed loop; sets still queued when the
 * loop closes are posted nodes, answered (dropped) by the close.
 *
 * Waits park through the core's one wait primitive (simul__park_until).
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

#define CALLER() __builtin_return_address(0)

enum { PENDING = 0, DONE = 1 };
enum { SET_RESULT, SET_ERROR, SET_CANCEL };

struct fcb {
    struct fcb     *next;
    simul_future_cb cb;
    void           *arg;
};

struct simul_future {
    simul_loop  *loop;
    int          state;
    int          result;      /* 0, or a negative errno (-ECANCELED) */
    int          cancelled;   /* done by simul_future_cancel */
    void        *value;
    simul__list  waiters;     /* struct fwaiter */
    struct fcb  *cbs, **cbs_tail;
    size_t       ncbs;
    int          cbs_scheduled;
    atomic_int   freed;       /* simul_future_free came while refs > 0 */
    atomic_int   dead;        /* destroy() claimed (once, by whoever is last) */
    atomic_int   refs;
};

struct fwaiter {
    simul__list  link;
    simul__task *task;
    int          fired;       /* completion or free reached this node */
    int          result;
    void        *value;
};

/* ---- lifetime ---------------------------------------------------------------- */

simul_future *simul_future_new(void)
{
    simul_loop *l = simul__loop();
    if (!l) {
        errno = EPERM;
        return NULL;
    }
    simul_future *f = calloc(1, sizeof *f);
    if (!f) {
        errno = ENOMEM;
        return NULL;
    }
    f->loop = l;
    simul__loop_keep(l);   /* a thread's late set gets -ESHUTDOWN, not freed memory */
    simul__list_init(&f->waiters);
    f->cbs_tail = &f->cbs;
    atomic_init(&f->refs, 0);
    return f;
}

static void destroy(simul_future *f)
{
    struct fcb *c = f->cbs;
    while (c) {
        struct fcb *next = c->next;
        free(c);
        c = next;
    }
    simul_loop *l = f->loop;
    free(f);
    simul__loop_release(l);
}

/* Drops one ref; frees a future already let go of. On the loop's thread,
 * or on any thread once the loop has closed (simul__future_drop): then
 * the owner's free and the last ref may race, so whichever of them sees
 * the other's mark claims the destroy (`dead`: exactly once). */
static void unref(simul_future *f)
{
    if (atomic_fetch_sub(&f->refs, 1) == 1 && atomic_load(&f->freed) &&
        !atomic_exchange(&f->dead, 1))
        destroy(f);
}

/* Wakes every waiter with `result` (their nodes get the outcome). */
static void wake_waiters(simul_future *f, int result, void *value)
{
    simul__list *n;
    while ((n = simul__list_pop(&f->waiters)) != NULL) {
        struct fwaiter *w = simul__container_of(n, struct fwaiter, link);
        w->fired = 1;
        w->result = result;
        w->value = value;
        simul__wake(w->task, 0);
    }
}

void simul_future_free(simul_future *f)
{
    if (!f)
        return;
    /* Tasks still waiting hear that it is gone (as a freed queue's do). */
    wake_waiters(f, -EIDRM, NULL);
    atomic_store(&f->freed, 1);  /* the last ref frees it, if one is held */
    if (atomic_load(&f->refs) == 0 && !atomic_exchange(&f->dead, 1))
        destroy(f);
}

/* ---- completion ----------------------------------------------------------------- */

static void run_callbacks(void *arg)
{
    simul_future *f = arg;
    f->cbs_scheduled = 0;
    /* Callbacks added while these run are scheduled again (cbs_scheduled). */
    struct fcb *c = f->cbs;
    f->cbs = NULL;
    f->cbs_tail = &f->cbs;
    f->ncbs = 0;
    while (c) {
        struct fcb *next = c->next;
        c->cb(f, c->arg);
        free(c);
        c = next;
    }
    unref(f);
}

static void schedule_callbacks(simul_future *f)
{
    if (!f->cbs || f->cbs_scheduled)
        return;
    f->cbs_scheduled = 1;
    atomic_fetch_add(&f->refs, 1);
    if (simul_call_soon(run_callbacks, f) < 0)
        run_callbacks(f);        /* no memory for a callback node: run now */
}

static int complete(simul_future *f, int kind, void *value, int err)
{
    if (f->state == DONE)
        return -EALREADY;
    f->state = DONE;
    f->value = kind == SET_RESULT ? value : NULL;
    f->result = kind == SET_RESULT ? 0 : kind == SET_ERROR ? err : -ECANCELED;
    f->cancelled = kind == SET_CANCEL;
    wake_waiters(f, f->result, f->value);
    schedule_callbacks(f);
    return 0;
}

/* Setters run on the future's loop (a task or a callback of it). */
static int check_loop(const simul_future *f)
{
    if (!f)
        return -EINVAL;
    simul_loop *l = simul__loop();
    return l == f->loop ? 0 : l ? -EXDEV : -EPERM;
}

int simul_future_set_result(simul_future *f, void *value)
{
    int r = check_loop(f);
    return r ? r : complete(f, SET_RESULT, value, 0);
}

int simul_future_set_error(simul_future *f, int err)
{
    int r = check_loop(f);
    if (r)
        return r;
    if (err >= 0)
        return -EINVAL;
    return complete(f, SET_ERROR, NULL, err);
}

int simul_future_cancel(simul_future *f)
{
    int r = check_loop(f);
    return r ? r : complete(f, SET_CANCEL, NULL, 0);
}

/* ---- from other threads --------------------------------------------------------- */

struct fmsg {
    simul__callback node;    /* posted: always runs, even as the loop closes */
    simul_future *f;
    int           kind;
    int           err;
    void         *value;
};

static void apply_msg(void *arg)
{
    struct fmsg *m = arg;
    simul_future *f = m->f;
    /* A closing loop answers its posted nodes: nothing to complete there. */
    if (!atomic_load(&f->freed) && !atomic_load_explicit(&f->loop->closed, memory_order_relaxed))
        complete(f, m->kind, m->value, m->err);   /* -EALREADY: first set won */
    free(m);
    unref(f);
}

/* ---- for the core's cross-loop calls (loops.c) -------------------------------- */

void simul__future_hold(simul_future *f)
{
    atomic_fetch_add(&f->refs, 1);
}

void simul__future_settle(simul_future *f, int result, void *value)
{
    if (!atomic_load(&f->freed) && !atomic_load_explicit(&f->loop->closed, memory_order_relaxed))
        complete(f, result >= 0 ? SET_RESULT : result == -ECANCELED ? SET_CANCEL : SET_ERROR,
                 value, result);
    unref(f);
}

void simul__future_drop(simul_future *f)
{
    unref(f);
}

static int post(simul_future *f, int kind, void *value, int err)
{
    if (!f || (kind == SET_ERROR && err >= 0))
        return -EINVAL;
    struct fmsg *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    *m = (struct fmsg){ .f = f, .kind = kind, .err = err, .value = value };
    m->node.run.kind = SIMUL__RUN_POSTED;
    m->node.cb = apply_msg;
    m->node.arg = m;
    atomic_fetch_add(&f->refs, 1);
    int r = simul__post(f->loop, &m->node);
    if (r < 0) {
        /* Never reached the loop: the ref is ours to drop, but freeing is
         * the loop thread's business - only count down. */
        atomic_fetch_sub(&f->refs, 1);
        free(m);
    }
    return r;
}

int simul_future_set_result_threadsafe(simul_future *f, void *value)
{
    return post(f, SET_RESULT, value, 0);
}

int simul_future_set_error_threadsafe(simul_future *f, int err)
{
    return post(f, SET_ERROR, NULL, err);
}

int simul_future_cancel_threadsafe(simul_future *f)
{
    return post(f, SET_CANCEL, NULL, 0);
}

/* ---- done callbacks --------------------------------------------------------------- */

int simul_future_add_done_callback(simul_future *f, simul_future_cb cb, void *arg)
{
    int r = check_loop(f);
    if (r)
        return r;
    if (!cb)
        return -EINVAL;
    if (f->ncbs >= SIMUL_FUTURE_CALLBACKS_MAX)
        return -ENOSPC;
    struct fcb *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    *c = (struct fcb){ .next = NULL, .cb = cb, .arg = arg };
    *f->cbs_tail = c;
    f->cbs_tail = &c->next;
    f->ncbs++;
    if (f->state == DONE)
        schedule_callbacks(f);
    return 0;
}

int simul_future_remove_done_callback(simul_future *f, simul_future_cb cb, void *arg)
{
    int r = check_loop(f);
    if (r)
        return r;
    int removed = 0;
    struct fcb **pp = &f->cbs;
    while (*pp) {
        struct fcb *c = *pp;
        if (c->cb == cb && c->arg == arg) {
            *pp = c->next;
            free(c);
            f->ncbs--;
            removed++;
        } else {
            pp = &c->next;
        }
    }
    f->cbs_tail = pp;
    return removed;
}

/* ---- state -------------------------------------------------------------------------- */

int simul_future_done(const simul_future *f)
{
    return f ? f->state == DONE : -EINVAL;
}

int simul_future_cancelled(const simul_future *f)
{
    return f ? f->cancelled : -EINVAL;
}

int simul_future_result(const simul_future *f, void **value)
{
    if (!f)
        return -EINVAL;
    if (f->state != DONE)
        return -EAGAIN;
    if (value && f->result == 0)
        *value = f->value;
    return f->result;
}

/* ---- waiting ---------------------------------------------------------------------------- */

int simul_future_wait_until(simul_future *f, void **value, double deadline)
{
    simul_loop *l = simul__loop();
    simul__task *self = l ? l->current : NULL;
    if (!self)
        return -EPERM;
    if (!f || isnan(deadline))
        return -EINVAL;
    if (f->loop != l)
        return -EXDEV;
    if (simul__cancel_pending(self))
        return -ECANCELED;      /* as every wait: even if it is done */
    if (f->state == DONE)
        return simul_future_result(f, value);

    struct fwaiter w = { .task = self, .fired = 0, .result = 0, .value = NULL };
    int64_t when = simul__deadline_ns(deadline);
    simul__list_push(&f->waiters, &w.link);
    int r = simul__park_until(when, 0, "future", CALLER());
    if (r < 0) {
        /* Woken by cancellation or the deadline. If completion (or a free)
         * reached the node meanwhile, f may be gone: do not touch it. Else
         * unlink, and pass cancellation on to the future, as awaiting an
         * asyncio future does. */
        if (!w.fired) {
            simul__list_remove(&w.link);
            if (r == -ECANCELED)
                complete(f, SET_CANCEL, NULL, 0);
        }
        return r;
    }
    if (w.result == 0 && value)
        *value = w.value;
    return w.result;
}

int simul_future_wait(simul_future *f, void **value)
{
    return simul_future_wait_until(f, value, INFINITY);
}
