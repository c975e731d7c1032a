/*
 * loops.c - loops across cores: N loops on N threads started and joined as
 * one (simul_run_loops), and running a function on another loop with its
 * result delivered to a future of the caller's loop (simul_spawn_on,
 * asyncio's run_coroutine_threadsafe) or to a blocked plain thread
 * (simul_run_on).
 *
 * Everything between loops goes through remote.c's posted nodes (one lock
 * and at most one eventfd write per batch); nothing here touches another
 * loop's state from the wrong thread: a node posted to loop B runs on B's
 * thread and only then spawns or cancels B's task.
 *
 * A group of loops. Loop i runs main_fn(arg) in its main task; when a main
 * fails, the group's first failure is recorded and every other main is
 * cancelled (a posted node per loop, at most once). A main that returns
 * does not end its loop: it waits until every main has returned (the last
 * one posts "all done" to each), so loops stay open - serving spawn_on
 * calls and channel wakeups from the others - as long as any main runs.
 * Then each thread frees its loop (cancelling what is left, as simul_run
 * does) and the calling thread joins them. The group keeps every loop's
 * memory (simul__loop_keep) until simul_run_loops returns, so
 * simul_loop_at(i) may be posted to at any time in between: a loop that
 * has closed answers -ESHUTDOWN.
 */
#include "internal.h"

#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#define CALLER() __builtin_return_address(0)

/* ---- a group of loops ------------------------------------------------------ */

struct slot {
    struct group   *g;
    unsigned        index;
    pthread_t       thread;
    simul_loop     *loop;
    simul__task    *main;           /* the loop's main task (its thread only) */
    simul__callback cancel, all_done;
    atomic_int      cancel_posted;
    int             cancel_req;     /* the group's cancel arrived (its thread only) */
    int             fn_returned;    /* its thread only */
    int             done;           /* all_done arrived (its thread only) */
    int             result;         /* main_fn's */
};

struct group {
    unsigned        n;
    simul_fn        fn;
    void           *arg;
    simul_loops_opts opts;
    struct slot    *slots;
    pthread_mutex_t lock;            /* start-up: every loop made, or a failure */
    pthread_cond_t  cond;
    unsigned        made;
    int             make_error;
    atomic_int      live;            /* mains still running */
    atomic_int      failed;          /* a failure was recorded */
    int             error;           /* the first failure (written once) */
};

/* The calling thread's group and index (NULL: a loop of its own). */
static __thread struct group *tl_group;
static __thread unsigned tl_index;

int simul_loop_index(void)
{
    if (!simul__loop())
        return -EPERM;
    return tl_group ? (int)tl_index : 0;
}

int simul_loop_count(void)
{
    if (!simul__loop())
        return -EPERM;
    return tl_group ? (int)tl_group->n : 1;
}

simul_loop *simul_loop_at(int i)
{
    simul_loop *l = simul__loop();
    if (!l || i < 0)
        return NULL;
    if (!tl_group)
        return i == 0 ? l : NULL;
    return (unsigned)i < tl_group->n ? tl_group->slots[i].loop : NULL;
}

/* Runs on loop j: the group failed elsewhere; cancel j's main function
 * (at its start, if it has not run yet: a main task cancelled before it
 * runs would never reach the group's bookkeeping). */
static void slot_cancel(void *p)
{
    struct slot *s = p;
    s->cancel_req = 1;
    if (s->main && !s->fn_returned)
        simul__task_cancel(s->main);
}

/* Runs on loop j: every main has returned; j's main may end. */
static void slot_all_done(void *p)
{
    struct slot *s = p;
    s->done = 1;
    if (s->main)
        simul__wake(s->main, 0);
}

static void post_node(simul_loop *l, simul__callback *c, void (*cb)(void *), void *arg)
{
    c->run.kind = SIMUL__RUN_POSTED;
    c->cb = cb;
    c->arg = arg;
    /* Only a loop whose main never started can have closed: nothing to do
     * there, so -ESHUTDOWN is ignored. */
    int r = simul__post(l, c);
    (void)r;
}

/* Records err as the group's failure if it is the first, and cancels every
 * other loop's main function. */
static void group_fail(struct group *g, unsigned self, int err)
{
    if (atomic_exchange(&g->failed, 1))
        return;
    g->error = err;
    for (unsigned j = 0; j < g->n; j++) {
        struct slot *s = &g->slots[j];
        if (j != self && !atomic_exchange(&s->cancel_posted, 1))
            post_node(s->loop, &s->cancel, slot_cancel, s);
    }
}

/* Loop s's main function is over (or never ran); the last one tells all. */
static void slot_finished(struct slot *s)
{
    struct group *g = s->g;
    if (atomic_fetch_sub(&g->live, 1) == 1) {
        for (unsigned j = 0; j < g->n; j++)
            if (j != s->index && g->slots[j].loop)
                post_node(g->slots[j].loop, &g->slots[j].all_done, slot_all_done,
                          &g->slots[j]);
        s->done = 1;
    }
}

static int slot_main(void *p)
{
    struct slot *s = p;
    struct group *g = s->g;
    simul_loop *l = simul__loop();
    s->main = l->current;
    if (s->cancel_req)
        simul__task_cancel(s->main);
    /* While the group runs, another loop may wake this one (a cancel, a
     * channel, spawn_on): a loop whose tasks all wait is not deadlocked. */
    atomic_fetch_add(&l->external, 1);
    int r = g->fn(g->arg);
    s->fn_returned = 1;
    s->result = r;
    if (l->interrupted && r == -ECANCELED)
        r = -EINTR;                  /* SIGINT (loop 0 with .signals) */
    /* As a task group: -ECANCELED (the group's cancel, or its own) is not
     * a failure. */
    if (r < 0 && r != -ECANCELED)
        group_fail(g, s->index, r);
    slot_finished(s);
    /* Wait for the other mains; the loop keeps running their calls. */
    unsigned flags = 0;
    while (!s->done) {
        if (simul__park_until(SIMUL__NO_DEADLINE, flags, "loops: others", CALLER()) ==
            -ECANCELED) {
            flags = SIMUL__PARK_NOCANCEL;   /* level-triggered: do not spin */
            if (l->interrupted)
                group_fail(g, s->index, -EINTR);
        }
    }
    atomic_fetch_sub(&l->external, 1);
    return 0;
}

static void pin_thread(unsigned index)
{
    cpu_set_t have, want;
    if (sched_getaffinity(0, sizeof have, &have) != 0)
        return;
    int ncpu = CPU_COUNT(&have);
    if (ncpu <= 0)
        return;
    int k = (int)(index % (unsigned)ncpu);
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &have))
            continue;
        if (k-- == 0) {
            CPU_ZERO(&want);
            CPU_SET(c, &want);
            pthread_setaffinity_np(pthread_self(), sizeof want, &want);
            return;
        }
    }
}

static void *slot_thread(void *p)
{
    struct slot *s = p;
    struct group *g = s->g;
    if (g->opts.pin)
        pin_thread(s->index);
    simul_loop_opts lo = g->opts.loop;
    if (s->index != 0)
        lo.signals = 0;              /* process-wide handlers: loop 0 only */
    simul_loop *l = NULL;
    int err = simul_loop_new(&lo, &l);
    if (err == 0) {
        simul__loop_keep(l);         /* for simul_loop_at until the group ends */
        tl_group = g;
        tl_index = s->index;
    }
    /* Start-up barrier: no main runs before every loop exists, so
     * simul_loop_at(i) is never NULL inside a main. */
    pthread_mutex_lock(&g->lock);
    s->loop = l;
    g->made++;
    if (err && !g->make_error)
        g->make_error = err;
    pthread_cond_broadcast(&g->cond);
    while (g->made < g->n)
        pthread_cond_wait(&g->cond, &g->lock);
    int go = g->make_error == 0;
    pthread_mutex_unlock(&g->lock);
    if (l) {
        if (go) {
            int r = simul_loop_run(l, slot_main, s);
            if (r < 0) {             /* main could not start (ENOMEM) */
                group_fail(g, s->index, r);
                slot_finished(s);
            }
        }
        simul_loop_free(l);
        tl_group = NULL;
    }
    return NULL;
}

static unsigned cpus(void)
{
    cpu_set_t have;
    if (sched_getaffinity(0, sizeof have, &have) == 0 && CPU_COUNT(&have) > 0)
        return (unsigned)CPU_COUNT(&have);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

int simul_run_loops(unsigned n, simul_fn main_fn, void *arg, const simul_loops_opts *opts)
{
    if (!main_fn || n > SIMUL_LOOPS_MAX)
        return -EINVAL;
    if (simul__loop())
        return -EBUSY;
    if (n == 0)
        n = cpus() < SIMUL_LOOPS_MAX ? cpus() : SIMUL_LOOPS_MAX;
    struct group g = { .n = n, .fn = main_fn, .arg = arg };
    if (opts)
        g.opts = *opts;
    else
        g.opts.loop.signals = 1;     /* as simul_run */
    g.slots = calloc(n, sizeof *g.slots);
    if (!g.slots)
        return -ENOMEM;
    pthread_mutex_init(&g.lock, NULL);
    pthread_cond_init(&g.cond, NULL);
    atomic_init(&g.live, (int)n);
    for (unsigned i = 0; i < n; i++) {
        g.slots[i].g = &g;
        g.slots[i].index = i;
    }
    /* Loop 0 runs on the calling thread, the others on new ones. */
    unsigned started = 1;
    int err = 0;
    for (unsigned i = 1; i < n; i++, started++) {
        int e = pthread_create(&g.slots[i].thread, NULL, slot_thread, &g.slots[i]);
        if (e) {
            err = -e;
            break;
        }
    }
    if (err) {
        /* The threads started wait in the barrier: count the missing ones
         * as failed loops, so everyone gives up. */
        pthread_mutex_lock(&g.lock);
        g.made += n - started;
        g.make_error = err;
        pthread_cond_broadcast(&g.cond);
        pthread_mutex_unlock(&g.lock);
    }
    slot_thread(&g.slots[0]);
    for (unsigned i = 1; i < started; i++)
        pthread_join(g.slots[i].thread, NULL);
    int r = g.make_error ? g.make_error : atomic_load(&g.failed) ? g.error : 0;
    for (unsigned i = 0; i < n; i++)
        if (g.slots[i].loop)
            simul__loop_release(g.slots[i].loop);
    pthread_cond_destroy(&g.cond);
    pthread_mutex_destroy(&g.lock);
    free(g.slots);
    return r;
}

/* ---- a function run on another loop ------------------------------------------- */

/*
 * One call. Nodes: `start` (home -> target: spawn the task), `done`
 * (target -> home, or a signal to a blocked thread), `cancel` (home ->
 * target: the future was cancelled). refs: the done path holds one, a
 * posted cancel one more; the last releaser frees the record.
 */
struct remote_call {
    simul_fn        fn;
    void           *arg;
    simul_loop     *home;         /* the future's loop; NULL: a blocked thread */
    simul_loop     *target;
    simul_future   *f;            /* held (simul__future_hold) */
    simul_task     *task;         /* on target, while it runs (target's thread) */
    simul__donecb   donecb;
    simul__callback start, done, cancel;
    atomic_int      refs;
    atomic_int      cancel_posted;
    int             finished;     /* target side: the task has ended */
    int             result;
    /* simul_run_on's blocked thread */
    pthread_mutex_t *lock;
    pthread_cond_t  *cond;
    int             *answered;
};

static void rc_release(struct remote_call *rc)
{
    if (atomic_fetch_sub(&rc->refs, 1) == 1) {
        simul__loop_release(rc->target);
        free(rc);
    }
}

static void rc_future_cb(simul_future *f, void *arg);

/* Home side: the answer (runs on home, also while home closes). */
static void rc_done_home(void *p)
{
    struct remote_call *rc = p;
    simul_future *f = rc->f;
    simul_loop *home = rc->home;
    if (!atomic_load(&home->closed))
        simul_future_remove_done_callback(f, rc_future_cb, rc);
    simul__future_settle(f, rc->result, (void *)(intptr_t)rc->result);
    simul_loop_unref(home);
    rc_release(rc);
}

/* Target side: hand the result home; rc must not be touched after. */
static void rc_answer(struct remote_call *rc, int result)
{
    rc->result = result;
    rc->finished = 1;
    rc->task = NULL;
    if (!rc->home) {                 /* simul_run_on: wake the thread */
        pthread_mutex_lock(rc->lock);
        *rc->answered = 1;
        pthread_cond_signal(rc->cond);
        pthread_mutex_unlock(rc->lock);
        return;
    }
    simul_loop *home = rc->home;
    simul_future *f = rc->f;
    rc->done.run.kind = SIMUL__RUN_POSTED;
    rc->done.cb = rc_done_home;
    rc->done.arg = rc;
    if (simul__post(home, &rc->done) < 0) {
        /* Home has closed: nobody awaits; let go of what we hold. */
        simul__future_drop(f);
        simul_loop_unref(home);
        rc_release(rc);
    }
}

static void rc_task_done(simul__donecb *cb, simul__task *t)
{
    struct remote_call *rc = simul__container_of(cb, struct remote_call, donecb);
    int r = t->result;
    /* Cancelled by its loop's shutdown, not by the caller: the loop went. */
    if (r == -ECANCELED && atomic_load(&t->loop->stopping) &&
        !atomic_load(&rc->cancel_posted))
        r = -ESHUTDOWN;
    rc_answer(rc, r);
}

static void rc_start(void *p)
{
    struct remote_call *rc = p;
    simul_loop *l = rc->target;
    if (atomic_load(&l->closed) || atomic_load(&l->stopping)) {
        rc_answer(rc, -ESHUTDOWN);
        return;
    }
    simul_task_opts to = { .name = "spawn_on" };
    simul__task *t = simul__spawn(l, rc->fn, rc->arg, &to);
    if (!t) {
        rc_answer(rc, -ENOMEM);
        return;
    }
    t->flags |= SIMUL__TF_DETACHED;
    rc->task = simul__task_handle(t);
    rc->donecb.fn = rc_task_done;
    simul__list_push(&t->donecbs, &rc->donecb.link);
    if (atomic_load(&rc->cancel_posted))
        simul__task_cancel(t);      /* the cancel overtook nothing: it is queued after */
}

/* Target side: the caller's future was cancelled. */
static void rc_cancel(void *p)
{
    struct remote_call *rc = p;
    simul__task *t = rc->finished ? NULL : simul__task_get(rc->task);
    if (t)
        simul__task_cancel(t);
    rc_release(rc);
}

/* Home side: f is done; if by a cancel, pass it on to the task. */
static void rc_future_cb(simul_future *f, void *arg)
{
    struct remote_call *rc = arg;
    if (!simul_future_cancelled(f) || atomic_exchange(&rc->cancel_posted, 1))
        return;
    atomic_fetch_add(&rc->refs, 1);
    rc->cancel.run.kind = SIMUL__RUN_POSTED;
    rc->cancel.cb = rc_cancel;
    rc->cancel.arg = rc;
    if (simul__post(rc->target, &rc->cancel) < 0)
        rc_release(rc);              /* the target closed: its task is gone */
}

int simul_spawn_on(simul_loop *loop, simul_fn fn, void *arg, simul_future **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!loop || !fn)
        return -EINVAL;
    simul_loop *home = simul__loop();
    if (!home)
        return -EPERM;
    if (atomic_load(&loop->closed) || atomic_load(&loop->stopping))
        return -ESHUTDOWN;
    struct remote_call *rc = calloc(1, sizeof *rc);
    if (!rc)
        return -ENOMEM;
    simul_future *f = simul_future_new();
    if (!f) {
        free(rc);
        return -ENOMEM;
    }
    int r = simul_future_add_done_callback(f, rc_future_cb, rc);
    if (r < 0) {
        simul_future_free(f);
        free(rc);
        return r;
    }
    rc->fn = fn;
    rc->arg = arg;
    rc->home = home;
    rc->target = loop;
    rc->f = f;
    atomic_init(&rc->refs, 1);
    simul__future_hold(f);
    simul_loop_ref(home);            /* a task awaiting f is not deadlocked */
    simul__loop_keep(loop);
    rc->start.run.kind = SIMUL__RUN_POSTED;
    rc->start.cb = rc_start;
    rc->start.arg = rc;
    r = simul__post(loop, &rc->start);
    if (r < 0) {
        simul_future_remove_done_callback(f, rc_future_cb, rc);
        simul__future_drop(f);
        simul_future_free(f);
        simul_loop_unref(home);
        rc_release(rc);
        return r;
    }
    *out = f;
    return 0;
}

int simul_run_on(simul_loop *loop, simul_fn fn, void *arg)
{
    if (!loop || !fn)
        return -EINVAL;
    if (simul__loop())
        return -EBUSY;               /* blocking a loop's thread would stall it */
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
    int answered = 0;
    struct remote_call *rc = calloc(1, sizeof *rc);
    if (!rc)
        return -ENOMEM;
    rc->fn = fn;
    rc->arg = arg;
    rc->target = loop;
    rc->lock = &lock;
    rc->cond = &cond;
    rc->answered = &answered;
    atomic_init(&rc->refs, 1);
    simul__loop_keep(loop);
    rc->start.run.kind = SIMUL__RUN_POSTED;
    rc->start.cb = rc_start;
    rc->start.arg = rc;
    int r = simul__post(loop, &rc->start);
    if (r == 0) {
        pthread_mutex_lock(&lock);
        while (!answered)
            pthread_cond_wait(&cond, &lock);
        pthread_mutex_unlock(&lock);
        r = rc->result;
    }
    rc_release(rc);
    pthread_cond_destroy(&cond);
    pthread_mutex_destroy(&lock);
    return r;
}
