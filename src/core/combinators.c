/*
 * combinators.c - gather, as_completed, wait_for and task groups, built on
 * done-callbacks (a task runs them when it finishes) and cancel scopes.
 *
 * The rule that keeps cancellation from being swallowed: when the caller's
 * own cancellation is pending, these functions return -ECANCELED, even if
 * the awaited work happened to finish in the same instant.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define CALLER() __builtin_return_address(0)

/* ---- taking tasks over ------------------------------------------------------ */

/* Tasks someone already owns or is joining: an owning combinator refuses them. */
#define OWNED (SIMUL__TF_DETACHED | SIMUL__TF_GROUP | SIMUL__TF_OWNED_AC | SIMUL__TF_JOINING)

/*
 * Resolves n handles into ts[] and marks each task with `flag`, checking
 * as it goes so that a handle given twice finds its own mark: -EINVAL, as
 * for a task with one of the `refuse` flags (OWNED, for combinators that
 * join); -ESRCH for a stale handle, -EDEADLK for the caller. On error
 * nothing stays marked. The one place that decides whether a combinator
 * may take a set of tasks.
 */
static int claim_tasks(simul_task **handles, size_t n, simul__task *self,
                       simul__task **ts, uint32_t flag, uint32_t refuse)
{
    for (size_t i = 0; i < n; i++) {
        simul__task *t = simul__task_get(handles[i]);
        int err = !t ? -ESRCH : t == self ? -EDEADLK
                : (t->flags & (refuse | flag)) ? -EINVAL : 0;
        if (err) {
            for (size_t k = 0; k < i; k++)
                ts[k]->flags &= ~flag;
            return err;
        }
        t->flags |= flag;
        ts[i] = t;
    }
    return 0;
}

/* ---- gather -------------------------------------------------------------- */

struct gather_cb {
    simul__donecb cb;
    struct gather *g;
};

struct gather {
    simul__task *waiter;
    size_t       left;
    int          failed;   /* a task failed: fail-fast wants the waiter up */
    int          mode;
};

static void gather_fire(simul__donecb *cb, simul__task *t)
{
    struct gather *g = ((struct gather_cb *)cb)->g;
    g->left--;
    if (t->result < 0 && g->mode == SIMUL_GATHER_FAIL_FAST)
        g->failed = 1;
    if (g->left == 0 || g->failed)
        simul__wake(g->waiter, 0);
}

int simul_gather(simul_task **handles, size_t n, int *results, int mode)
{
    simul_loop *l = simul__loop();
    simul__task *self = l ? l->current : NULL;
    if (!self)
        return -EPERM;
    if ((n && !handles) || (mode != SIMUL_GATHER_FAIL_FAST && mode != SIMUL_GATHER_COLLECT))
        return -EINVAL;
    simul__task **ts = malloc((n ? n : 1) * (sizeof *ts + sizeof(struct gather_cb)));
    if (!ts)
        return -ENOMEM;
    struct gather_cb *cbs = (struct gather_cb *)(void *)(ts + n);
    int err = claim_tasks(handles, n, self, ts, SIMUL__TF_OWNED_AC, OWNED);
    if (err) {
        free(ts);
        return err;
    }
    struct gather g = { .waiter = self, .left = 0, .mode = mode };
    for (size_t i = 0; i < n; i++) {
        cbs[i].g = &g;
        cbs[i].cb.fn = gather_fire;
        if (ts[i]->state == SIMUL_TASK_DONE) {
            if (ts[i]->result < 0 && mode == SIMUL_GATHER_FAIL_FAST)
                g.failed = 1;
            simul__list_init(&cbs[i].cb.link);
        } else {
            g.left++;
            simul__list_push(&ts[i]->donecbs, &cbs[i].cb.link);
        }
    }
    int cancelled = 0;
    while (g.left && !g.failed) {
        if (simul__park("gather", CALLER()) == -ECANCELED) {
            cancelled = 1;
            break;
        }
    }
    /* Fail fast or cancelled: cancel the rest and wait for them. */
    if (g.left) {
        for (size_t i = 0; i < n; i++)
            if (ts[i]->state != SIMUL_TASK_DONE)
                simul__task_cancel(ts[i]);
        while (g.left)
            simul__park_nocancel("gather (cancelling)", CALLER());
    }
    for (size_t i = 0; i < n; i++) {
        int r = ts[i]->result;
        if (results)
            results[i] = r;
        if (r < 0 && !err && mode == SIMUL_GATHER_FAIL_FAST && r != -ECANCELED)
            err = r;
        simul__task_free(l, ts[i]);
    }
    /* A task cancelled from outside (not by us) also fails a fail-fast gather. */
    if (!err && mode == SIMUL_GATHER_FAIL_FAST && g.failed && !cancelled)
        err = -ECANCELED;
    free(ts);
    if (cancelled || simul__cancel_pending(self))
        return -ECANCELED;
    return err;
}

/* ---- as_completed --------------------------------------------------------- */

struct ac_entry {
    simul__donecb cb;
    simul__task  *t;
    simul_task   *handle;
    struct simul_as_completed *ac;
    struct ac_entry *next_done;
};

struct simul_as_completed {
    size_t           n, returned;
    simul__task     *waiter;
    struct ac_entry *done_head, **done_tail;
    struct ac_entry  e[];
};

static void ac_fire(simul__donecb *cb, simul__task *t)
{
    (void)t;
    struct ac_entry *e = (struct ac_entry *)cb;
    struct simul_as_completed *ac = e->ac;
    e->next_done = NULL;
    *ac->done_tail = e;
    ac->done_tail = &e->next_done;
    if (ac->waiter)
        simul__wake(ac->waiter, 0);
}

simul_as_completed *simul_as_completed_new(simul_task **handles, size_t n)
{
    simul_loop *l = simul__loop();
    if (!l) {
        errno = EPERM;
        return NULL;
    }
    if (n && !handles) {
        errno = EINVAL;
        return NULL;
    }
    struct simul_as_completed *ac = calloc(1, sizeof *ac + n * sizeof(struct ac_entry));
    simul__task **ts = malloc((n ? n : 1) * sizeof *ts);
    if (!ac || !ts) {
        free(ac);
        free(ts);
        errno = ENOMEM;
        return NULL;
    }
    int err = claim_tasks(handles, n, l->current, ts, SIMUL__TF_OWNED_AC, OWNED);
    if (err) {
        free(ac);
        free(ts);
        errno = -err;
        return NULL;
    }
    ac->n = n;
    ac->done_tail = &ac->done_head;
    for (size_t i = 0; i < n; i++) {
        struct ac_entry *e = &ac->e[i];
        e->t = ts[i];
        e->handle = handles[i];
        e->ac = ac;
        e->cb.fn = ac_fire;
        if (e->t->state == SIMUL_TASK_DONE) {
            simul__list_init(&e->cb.link);
            ac_fire(&e->cb, e->t);
        } else {
            simul__list_push(&e->t->donecbs, &e->cb.link);
        }
    }
    free(ts);
    return ac;
}

int simul_as_completed_next(simul_as_completed *ac, simul_task **t, int *result)
{
    simul_loop *l = simul__loop();
    simul__task *self = l ? l->current : NULL;
    if (!self)
        return -EPERM;
    if (!ac)
        return -EINVAL;
    if (ac->returned == ac->n)
        return 0;                   /* the end: the "next item" convention */
    while (!ac->done_head) {
        ac->waiter = self;
        int r = simul__park("as_completed", CALLER());
        ac->waiter = NULL;
        if (r == -ECANCELED)
            return r;
    }
    struct ac_entry *e = ac->done_head;
    ac->done_head = e->next_done;
    if (!ac->done_head)
        ac->done_tail = &ac->done_head;
    ac->returned++;
    if (t)
        *t = e->handle;
    if (result)
        *result = e->t->result;
    simul__task_free(l, e->t);
    e->t = NULL;
    return 1;
}

void simul_as_completed_free(simul_as_completed *ac)
{
    if (!ac)
        return;
    simul_loop *l = simul__loop();
    /* Cancel and reap what was not returned. Waiting needs a task; from a
     * callback the tasks are detached instead and reap themselves. */
    for (size_t i = 0; i < ac->n; i++) {
        struct ac_entry *e = &ac->e[i];
        if (!e->t)
            continue;
        if (e->t->state != SIMUL_TASK_DONE) {
            simul__task_cancel(e->t);
            if (l->current) {
                ac->waiter = l->current;   /* ac_fire wakes us */
                while (e->t->state != SIMUL_TASK_DONE)
                    simul__park_nocancel("as_completed_free", CALLER());
                ac->waiter = NULL;
            } else {
                simul__list_remove(&e->cb.link);
                e->t->flags = (e->t->flags & ~SIMUL__TF_OWNED_AC) | SIMUL__TF_DETACHED;
                continue;
            }
        }
        simul__task_free(l, e->t);
    }
    free(ac);
}

/* ---- wait_for -------------------------------------------------------------- */

int simul_wait_for(simul_task *h, double seconds)
{
    simul_loop *l = simul__loop();
    simul__task *self = l ? l->current : NULL;
    if (!self)
        return -EPERM;
    simul__task *t = simul__task_get(h);
    if (!t)
        return -ESRCH;
    if (t == self)
        return -EDEADLK;
    if (t->flags & (SIMUL__TF_DETACHED | SIMUL__TF_GROUP | SIMUL__TF_OWNED_AC | SIMUL__TF_JOINING))
        return -EINVAL;
    if (isnan(seconds) || seconds < 0)
        return -EINVAL;

    struct {
        simul__donecb cb;
        simul__task *waiter;
    } j = { .cb.fn = NULL, .waiter = self };
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + seconds);
    int timed_out = 0;
    if (t->state != SIMUL_TASK_DONE) {
        extern void simul__joiner_fire(simul__donecb *, simul__task *);
        j.cb.fn = simul__joiner_fire;
        simul__list_push(&t->donecbs, &j.cb.link);
        t->flags |= SIMUL__TF_JOINING;
        int r = simul__park("wait_for", CALLER());
        if (r == -ECANCELED && t->state != SIMUL_TASK_DONE) {
            timed_out = simul_scope_cancelled(&sc);
            simul__task_cancel(t);
            while (t->state != SIMUL_TASK_DONE)
                simul__park_nocancel("wait_for (cancelling)", CALLER());
        }
    }
    int scope = simul_scope_exit(&sc);
    int res = t->result;
    simul__task_free(l, t);
    if (scope == -ECANCELED || simul__cancel_pending(self))
        return -ECANCELED;          /* the caller itself was cancelled */
    if (timed_out && res == -ECANCELED)
        return -ETIMEDOUT;
    return res;                     /* finished, even if at the deadline */
}

/* ---- wait (asyncio.wait) ----------------------------------------------------- */

/* Hard cap on the number of tasks (the result is an int count). */
#define WAIT_MAX_TASKS (1u << 24)

struct wait_cb {
    simul__donecb cb;
    simul__task  *waiter;
};

static void wait_fire(simul__donecb *cb, simul__task *t)
{
    (void)t;
    simul__wake(((struct wait_cb *)cb)->waiter, 0);
}

/* The task behind handle h has finished - or is gone: another task may
 * join a task while simul_wait watches it (asyncio allows that too), and
 * the join frees it, which counts as done. */
static int finished(simul_task *h)
{
    simul__task *t = simul__task_get(h);
    return !t || t->state == SIMUL_TASK_DONE;
}

/* Finished by a failure (FIRST_EXCEPTION): a negative result other than
 * its own cancellation, as asyncio counts exceptions but not cancellation. */
static int failed(simul_task *h)
{
    simul__task *t = simul__task_get(h);
    return t && t->state == SIMUL_TASK_DONE && t->result < 0 &&
           !(t->result == -ECANCELED && (t->flags & SIMUL__TF_CANCEL));
}

static int wait_satisfied(simul_task **hs, size_t n, int how)
{
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        if (!finished(hs[i]))
            continue;
        done++;
        if (how == SIMUL_WAIT_FIRST_COMPLETED ||
            (how == SIMUL_WAIT_FIRST_EXCEPTION && failed(hs[i])))
            return 1;
    }
    return done == n;
}

int simul_wait_until(simul_task **handles, size_t n, int return_when, double deadline)
{
    simul_loop *l = simul__loop();
    simul__task *self = l ? l->current : NULL;
    if (!self)
        return -EPERM;
    if ((n && !handles) || n > WAIT_MAX_TASKS || isnan(deadline) ||
        (return_when != SIMUL_WAIT_ALL_COMPLETED && return_when != SIMUL_WAIT_FIRST_COMPLETED &&
         return_when != SIMUL_WAIT_FIRST_EXCEPTION))
        return -EINVAL;
    simul__task **ts = malloc((n ? n : 1) * (sizeof *ts + sizeof(struct wait_cb)));
    if (!ts)
        return -ENOMEM;
    struct wait_cb *cbs = (struct wait_cb *)(void *)(ts + n);
    /* Any live task may be watched (asyncio.wait takes any task): wait
     * owns nothing, handles carry generations, and a task freed meanwhile
     * (joined elsewhere, detached, a group's) counts as done. Marked only
     * for the call, to catch a handle given twice. */
    int r = claim_tasks(handles, n, self, ts, SIMUL__TF_WAITED, 0);
    if (r) {
        free(ts);
        return r;
    }
    int64_t when = simul__deadline_ns(deadline);
    r = 0;
    if (n && !wait_satisfied(handles, n, return_when)) {
        for (size_t i = 0; i < n; i++) {
            cbs[i].cb.fn = wait_fire;
            cbs[i].waiter = self;
            simul__list_init(&cbs[i].cb.link);
            if (ts[i]->state != SIMUL_TASK_DONE)
                simul__list_push(&ts[i]->donecbs, &cbs[i].cb.link);
        }
        do
            r = simul__park_until(when, 0, "wait", CALLER());
        while (r >= 0 && !wait_satisfied(handles, n, return_when));
        /* A finished task ran (and unlinked) our callback; only the nodes
         * of tasks still alive and unfinished are linked. */
        for (size_t i = 0; i < n; i++)
            if (!finished(handles[i]))
                simul__list_remove(&cbs[i].cb.link);
    }
    /* done first, pending after, each in the caller's order (ts[] keeps
     * the original order while handles[] is rewritten) */
    simul_task **order = (simul_task **)(void *)cbs;   /* cbs are done with */
    for (size_t i = 0; i < n; i++)
        order[i] = handles[i];
    size_t ndone = 0;
    for (size_t i = 0; i < n; i++)
        if (finished(order[i]))
            handles[ndone++] = order[i];
    for (size_t i = 0, k = ndone; i < n; i++) {
        if (simul__task_get(order[i]))
            ts[i]->flags &= ~SIMUL__TF_WAITED;
        if (!finished(order[i]))
            handles[k++] = order[i];
    }
    free(ts);
    if (r == -ECANCELED || r == -ENOMEM || r == -EPERM)
        return r;
    return (int)ndone;            /* a timeout is not an error: see pending */
}

int simul_wait(simul_task **handles, size_t n, int return_when, double timeout)
{
    if (isnan(timeout) || timeout < 0)
        return -EINVAL;
    return simul_wait_until(handles, n, return_when,
                            isinf(timeout) ? INFINITY : simul_now() + timeout);
}

/* ---- task groups ------------------------------------------------------------ */

int simul_group_enter(simul_group *g)
{
    simul_loop *l = simul__loop();
    if (!l || !l->current)
        return -EPERM;
    if (!g)
        return -EINVAL;
    g->live = 0;
    g->error = 0;
    g->closing = 0;
    g->owner = l->current;
    g->errs = NULL;
    g->nerrs = g->caperrs = 0;
    g->failures = 0;
    return simul_scope_enter(&g->scope, INFINITY);
}

simul_task *simul_group_spawn_opts(simul_group *g, simul_fn fn, void *arg,
                                   const simul_task_opts *opts)
{
    simul_loop *l = simul__loop();
    if (!l) {
        errno = EPERM;
        return NULL;
    }
    if (!g || !fn) {
        errno = EINVAL;
        return NULL;
    }
    /* asyncio: "TaskGroup is finished" - after exit, or in exit with no
     * child left; a zeroed group that was never entered is a usage error. */
    if (g->closing == 2 || (g->closing == 1 && g->live == 0)) {
        errno = EBUSY;
        return NULL;
    }
    if (!g->owner) {
        errno = EINVAL;
        return NULL;
    }
    simul__task *t = simul__spawn(l, fn, arg, opts);
    if (!t)
        return NULL;
    t->flags |= SIMUL__TF_GROUP;
    t->group = g;
    g->live++;
    /* Joining a group that already failed: the newcomer starts cancelled. */
    if (g->error || simul_scope_cancelled(&g->scope))
        simul__task_cancel(t);
    return simul__task_handle(t);
}

simul_task *simul_group_spawn(simul_group *g, simul_fn fn, void *arg)
{
    return simul_group_spawn_opts(g, fn, arg, NULL);
}

/* Children are found by scanning the loop's tasks: groups keep no list, so
 * tasks stay small; this runs only when a group fails or is cancelled. */
static void cancel_children(simul_group *g)
{
    simul_loop *l = simul__loop();
    if (!g->live)
        return;
    SIMUL__FOREACH_TASK(l, t) {
        if (t->group == g && t->state != SIMUL_TASK_DONE)
            simul__task_cancel(t);
    }
}

/* Keeps a child's failure (growing the record up to its hard cap; past it,
 * or without memory, the failure is only counted). */
static void record_failure(simul_group *g, simul__task *t)
{
    g->failures++;
    if (g->nerrs == g->caperrs) {
        uint32_t cap = g->caperrs ? g->caperrs * 2 : 4;
        if (cap > SIMUL_GROUP_ERRORS_MAX)
            cap = SIMUL_GROUP_ERRORS_MAX;
        simul_group_error *e = cap > g->caperrs ? realloc(g->errs, cap * sizeof *e) : NULL;
        if (!e)
            return;
        g->errs = e;
        g->caperrs = cap;
    }
    simul_group_error *e = &g->errs[g->nerrs++];
    e->error = t->result;
    snprintf(e->name, sizeof e->name, "%s", simul__task_name(t));
}

void simul__group_child_done(simul_group *g, simul__task *t)
{
    t->group = NULL;
    g->live--;
    if (t->result < 0 && t->result != -ECANCELED) {
        record_failure(g, t);
        if (g->error == 0) {
            g->error = t->result;
            cancel_children(g);
            simul_scope_cancel(&g->scope);
        }
    }
    if (g->live == 0 && g->closing)
        simul__wake(g->owner, 0);
}

void simul_group_cancel(simul_group *g)
{
    if (!g || !g->owner)
        return;
    cancel_children(g);
    simul_scope_cancel(&g->scope);
}

int simul_group_exit_errors(simul_group *g, simul_group_error *errs, size_t cap, size_t *n)
{
    simul_loop *l = simul__loop();
    simul__task *self = l ? l->current : NULL;
    if (!self)
        return -EPERM;
    if (!g || g->owner != self || (cap && !errs))
        return -EINVAL;
    g->closing = 1;
    while (g->live) {
        if (simul__park("group_exit", CALLER()) == -ECANCELED) {
            cancel_children(g);
            while (g->live)
                simul__park_nocancel("group_exit (cancelling)", CALLER());
        }
    }
    int r = simul__scope_pop(&g->scope);
    g->owner = NULL;
    g->closing = 2;
    if (n)
        *n = g->failures;
    for (size_t i = 0; i < cap && i < g->nerrs; i++)
        errs[i] = g->errs[i];
    free(g->errs);
    g->errs = NULL;
    g->nerrs = g->caperrs = 0;
    if (r)
        return r;
    /* A child's failure first: the owner's own cancellation must not hide
     * it (it stays pending, so the owner sees it at its next wait). */
    if (g->error)
        return g->error;
    if (simul__cancel_pending(self))
        return -ECANCELED;
    /* The group was cancelled with simul_group_cancel: that is not an error
     * of the owner's, but it must see it. */
    if (g->scope.flags & SIMUL__SCOPE_CANCELLED)
        return -ECANCELED;
    return 0;
}

int simul_group_exit(simul_group *g)
{
    return simul_group_exit_errors(g, NULL, 0, NULL);
}
