/*
 * loop.c - the event loop: creation and teardown, the scheduler that runs
 * ready tasks and callbacks, polls the backend and fires timers, simul_run,
 * and call_soon (other threads come in through remote.c). Watchers are in
 * fd.c.
 *
 * One iteration ("tick"), as in asyncio's _run_once:
 *   1. run every runnable that was ready when the tick began (tasks may
 *      hand the CPU straight to each other within that budget, task.c);
 *   2. run the before-poll hooks (simul__prepoll: batched writes go out);
 *   3. poll the backend: without blocking if something is ready, else until
 *      the earliest timer (or for ever if there is none);
 *   4. update the cached clock and fire due timers.
 * Watcher and timer callbacks run on the loop's own stack (the thread's),
 * never on a task's.
 *
 * Lifecycle (simul_loop_new / _run / _run_once / _free; simul_run is the
 * three in a row): new opens the backend and attaches the signals module
 * if asked; a run spawns the main task, calls every module's run_begin and
 * runs until main is done; free cancels what is left, runs the modules'
 * shutdown hooks in a task, cancels again, closes the modules in reverse
 * order, then the core. The layers above the core take part only through
 * the module registry (module.c): this file names none of them.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Defined in task.c */
void simul__run_task(simul_loop *l, simul__task *t);

/* Backends in order of preference for SIMUL_BACKEND=auto. The I/O layer
 * registers io_uring here; the core knows backends only by this table. */
static const simul__backend *const backends[] = {
#ifdef SIMUL_HAVE_IO_URING
    &simul__backend_io_uring,
#endif
    &simul__backend_epoll,
};

static const simul__backend *pick_backend(const char *want)
{
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (want && strcmp(want, backends[i]->name) == 0)
            return backends[i];
    return NULL;
}

/* ---- defaults from the environment, read once --------------------------- */

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static const char *env_backend;   /* NULL: unset */
static int env_debug;

static void env_read(void)
{
    const char *b = getenv("SIMUL_BACKEND");
    env_backend = b && *b ? b : NULL;
    const char *d = getenv("SIMUL_DEBUG");
    env_debug = d && *d && strcmp(d, "0") != 0;
    const char *s = getenv("SIMUL_STACK_SIZE");
    if (s && *s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end == 'k' || *end == 'K')
            v *= 1024;
        else if (*end == 'm' || *end == 'M')
            v *= 1024 * 1024;
        if (simul_set_default_stack_size((size_t)v) != 0)
            simul__log(SIMUL_LOG_WARN, "ignoring SIMUL_STACK_SIZE=%s (16K..256M)", s);
    }
}

static int open_backend(simul_loop *l, const char *want)
{
    /* epoll is the default; "auto" prefers io_uring and falls back silently
     * where it is missing or forbidden. */
    if (!want)
        want = env_backend ? env_backend : "epoll";
    if (strcmp(want, "auto") != 0) {
        const simul__backend *be = pick_backend(want);
        if (!be) {
            simul__log(SIMUL_LOG_ERROR, "backend \"%s\" is not a backend of this build", want);
            return -EINVAL;
        }
        l->be = be;
        return be->open(l);
    }
    int r = -ENOSYS;
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        l->be = backends[i];
        r = backends[i]->open(l);
        if (r == 0)
            return 0;
    }
    return r;
}

const char *simul_backend_name(void)
{
    simul_loop *l = simul__loop();
    return l && l->be ? l->be->name : NULL;
}

/* ---- callbacks --------------------------------------------------------- */

static simul__callback *cb_alloc(simul_loop *l)
{
    simul__callback *c = l->cb_free;
    if (c) {
        l->cb_free = (simul__callback *)c->run.next;
        return c;
    }
    return malloc(sizeof *c);
}

static void cb_release(simul_loop *l, simul__callback *c)
{
    c->run.next = (simul__runnable *)l->cb_free;
    l->cb_free = c;
}

int simul_call_soon(void (*cb)(void *), void *arg)
{
    simul_loop *l = simul__loop();
    if (!l)
        return -EPERM;
    if (!cb)
        return -EINVAL;
    simul__callback *c = cb_alloc(l);
    if (!c)
        return -ENOMEM;
    c->run.kind = SIMUL__RUN_CALLBACK;
    c->cb = cb;
    c->arg = arg;
    simul__ready_push(l, &c->run);
    return 0;
}

simul_loop *simul_loop_current(void)
{
    return simul__loop();
}

/* call_soon_threadsafe, loop ref/unref and wake handles: remote.c */


/* ---- loop lifetime ----------------------------------------------------- */

/* Checks opts and fills l->opts, zeros resolved to the defaults. */
static int opts_resolve(simul_loop *l, const simul_loop_opts *opts)
{
    static const simul_loop_opts none;
    if (!opts)
        opts = &none;
    pthread_once(&env_once, env_read);
    l->opts = *opts;
    l->opts.backend = NULL;   /* not kept: the caller's string */
    if (opts->stack_size) {
        l->opts.stack_size = simul__stack_round(opts->stack_size);
        if (!l->opts.stack_size)
            return -EINVAL;
    } else {
        l->opts.stack_size = atomic_load_explicit(&simul__default_stack, memory_order_relaxed);
    }
    if (opts->threadpool_size > 256)
        return -EINVAL;
    l->opts.debug = opts->debug > 0 || (opts->debug == 0 && env_debug);
    l->opts.signals = opts->signals != 0;
    return 0;
}

int simul_loop_new(const simul_loop_opts *opts, simul_loop **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (simul__loop())
        return -EBUSY;
    simul_loop *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    l->rq_tail = &l->rq_head;
    simul__list_init(&l->prepoll);
    l->wake_fd = -1;
    l->now = simul__clock_ns();
    int err = opts_resolve(l, opts);
    if (err)
        goto fail_opts;
    simul__loop_tls = l;
    err = open_backend(l, opts ? opts->backend : NULL);
    if (err)
        goto fail_backend;
    err = simul__remote_open(l);
    if (err)
        goto fail_remote;
    if (l->opts.signals && !simul__module_data(l, &simul__signals_module)) {
        err = -errno;
        goto fail_signals;
    }
    simul__debug_init(l);
    *out = l;
    return 0;

fail_signals:
    simul__remote_close(l);
fail_remote:
    simul__fds_close(l);   /* the table the wakeup watcher's entry made */
    l->be->close(l);
    simul__loop_tls = NULL;
    simul__loop_release(l);       /* simul__remote_open set the count up */
    return err;
fail_backend:
    simul__loop_tls = NULL;
fail_opts:
    free(l);
    return err;
}

static void loop_close(simul_loop *l)
{
    /* Before `closed`: the pool's workers may still queue completions. */
    simul__modules_close(l);
    simul__debug_close(l);
    /* Every task is DONE by now; report the ones nobody joined. */
    SIMUL__FOREACH_TASK(l, t) {
        if (!(t->flags & (SIMUL__TF_MAIN | SIMUL__TF_DETACHED | SIMUL__TF_GROUP)))
            simul__debug_unjoined(l, t);
        free(t->name);
        t->name = NULL;
    }
    /* Refuse other threads from now on; callbacks queued but never run
     * (by a loop that stopped) are dropped, posted nodes answered. */
    simul__remote_close(l);
    simul__callback *f = l->cb_free;
    while (f) {
        simul__callback *next = (simul__callback *)f->run.next;
        free(f);
        f = next;
    }
    simul__fds_close(l);   /* the fd table, before the backend */
    l->be->close(l);
    simul__timers_close(l);
    simul__stacks_close(l);
    simul__tasks_close(l);
    simul__loop_tls = NULL;
    simul__loop_release(l);   /* the memory stays while other threads hold it */
}

/* ---- the scheduler ---------------------------------------------------- */

/* Runs this tick's before-poll hooks; one re-added by its cb waits for the
 * next tick (it is moved off the list before it runs). */
static void run_prepoll(simul_loop *l)
{
    simul__list todo = { l->prepoll.next, l->prepoll.prev };
    todo.next->prev = &todo;
    todo.prev->next = &todo;
    simul__list_init(&l->prepoll);
    simul__list *n;
    while ((n = simul__list_pop(&todo)) != NULL) {
        simul__prepoll *p = simul__container_of(n, simul__prepoll, link);
        p->cb(p);
    }
}

static void deadlock(simul_loop *l)
{
    if (l->deadlocks++ == 0)
        simul__log(SIMUL_LOG_WARN, "deadlock: every task is waiting and nothing (timer, fd, "
                                   "thread) can wake one; cancelling them all");
    if (l->debug)
        simul_dump_tasks(2);
    SIMUL__FOREACH_TASK(l, t) {
        if (t->state != SIMUL_TASK_DONE) {
            t->flags &= ~SIMUL__TF_NOCANCEL;
            simul__task_cancel(t);
        }
    }
}

typedef int (*stop_fn)(simul_loop *, void *);

/* One iteration; stops after step 1 if stop() says so. nowait (for
 * simul_loop_run_once) never blocks in the poller and always looks at it.
 * Inlined into both callers with nowait constant. */
static inline __attribute__((always_inline)) void tick(simul_loop *l, int nowait,
                                                      stop_fn stop, void *arg)
{
    /* 1. what was ready when this tick began */
    l->budget = l->rq_len;
    while (l->budget) {
        l->budget--;
        simul__runnable *r = simul__ready_pop(l);
        if (r->kind == SIMUL__RUN_TASK) {
            simul__run_task(l, (simul__task *)r);
        } else {
            simul__callback *c = (simul__callback *)r;
            void (*cb)(void *) = c->cb;
            void *cbarg = c->arg;
            if (r->kind == SIMUL__RUN_CALLBACK)
                cb_release(l, c);   /* posted nodes are their owner's */
            cb(cbarg);
        }
    }
    /* 2. before-poll hooks */
    if (!simul__list_empty(&l->prepoll))
        run_prepoll(l);
    if (l->dump_requested) {
        l->dump_requested = 0;
        simul_dump_tasks(2);
    }
    if (stop(l, arg))
        return;
    /* 3. I/O */
    int64_t timeout = 0;
    if (!l->rq_head) {
        /* Nothing ready, and nothing that keeps tasks waiting (a ref'd
         * timer or watcher, a thread's pending call): the tasks can never
         * be woken, so break the deadlock. */
        if (l->heap_len == l->ntimer_unref && l->nwatch_ref == 0 && l->external == 0 &&
            !atomic_load(&l->ts_signalled) && l->ntasks_live > 0) {
            deadlock(l);
            return;
        }
        int64_t next = simul__timer_next(l);
        if (nowait) {
            timeout = 0;
        } else if (next == SIMUL__NO_DEADLINE) {
            timeout = -1;
        } else {
            l->now = simul__clock_ns();
            timeout = next > l->now ? next - l->now : 0;
        }
    }
    /* Poll unless it is pointless: nothing blocks, no fd is watched (the
     * quiet wakeup eventfd aside), no cross-thread call is pending, and no
     * backend operation (an io_uring file op) is in flight. */
    if (nowait || timeout != 0 || l->nwatch > 0 ||
        atomic_load_explicit(&l->ts_signalled, memory_order_relaxed) ||
        atomic_load_explicit(&l->external, memory_order_relaxed) > 0) {
        int r = l->be->poll(l, timeout);
        if (r < 0 && r != -EINTR)
            simul__log(SIMUL_LOG_ERROR, "%s poll failed: %s", l->be->name, simul_strerror(r));
    }
    /* 4. timers */
    l->now = simul__clock_ns();
    simul__timers_run(l);
}

void simul__loop_run_until(simul_loop *l, stop_fn stop, void *arg)
{
    while (!stop(l, arg))
        tick(l, 0, stop, arg);
}

static int main_done(simul_loop *l, void *arg)
{
    (void)arg;
    return l->main == NULL || l->main->state == SIMUL_TASK_DONE;
}

static int flag_set(simul_loop *l, void *arg)
{
    (void)l;
    return *(int *)arg;
}

/* Ticks a closing loop spends running callbacks already queued once its
 * tasks are done (a callback that queues itself again forever is dropped
 * after these). */
#define CLOSE_DRAIN_TICKS 64

/* Shutdown: cancel whatever is alive (again, for tasks spawned late). The
 * callbacks queued by then (a future's done callbacks, the last of a
 * library's cleanups) still run: their owners count on them to let go of
 * memory, and the loop is still whole. */
static int all_done(simul_loop *l, void *arg)
{
    unsigned *drain = arg;
    if (l->ntasks_live == 0)
        return !l->rq_head || (*drain)++ >= CLOSE_DRAIN_TICKS;
    SIMUL__FOREACH_TASK(l, t) {
        if (t->state != SIMUL_TASK_DONE && !(t->flags & SIMUL__TF_CANCEL))
            simul__task_cancel(t);
    }
    return 0;
}

/* ---- runs ---------------------------------------------------------------- */

/* May the caller drive l now? 0 or -errno. */
static int check_driver(const simul_loop *l)
{
    if (!l)
        return -EINVAL;
    if (simul__loop() != l)
        return -EPERM;
    if (l->running)
        return -EBUSY;
    return 0;
}

int simul_loop_start(simul_loop *l, simul_fn main_fn, void *arg)
{
    int r = check_driver(l);
    if (r)
        return r;
    if (!main_fn)
        return -EINVAL;
    if (l->main)
        return -EBUSY;
    simul_task_opts opts = { .name = "main" };
    simul__task *m = simul__spawn(l, main_fn, arg, &opts);
    if (!m)
        return -errno;
    m->flags |= SIMUL__TF_MAIN;
    l->main = m;
    l->interrupted = 0;
    simul__modules_run_begin(l);   /* e.g. SIGINT now cancels main */
    return 0;
}

/* The finished run's result; the run is over. */
static int run_end(simul_loop *l)
{
    int result = l->main->result;
    if (l->interrupted && result == -ECANCELED)
        result = -EINTR;
    simul__modules_run_end(l);
    l->main = NULL;
    return result;
}

int simul_loop_run(simul_loop *l, simul_fn main_fn, void *arg)
{
    int r = simul_loop_start(l, main_fn, arg);
    if (r)
        return r;
    l->running = 1;
    simul__loop_run_until(l, main_done, NULL);
    l->running = 0;
    return run_end(l);
}

int simul_loop_run_once(simul_loop *l, int *result)
{
    int r = check_driver(l);
    if (r)
        return r;
    l->running = 1;
    tick(l, 1, main_done, NULL);
    l->running = 0;
    if (!l->main)
        return 0;
    if (l->main->state != SIMUL_TASK_DONE)
        return 1;
    r = run_end(l);
    if (result)
        *result = r;
    return 0;
}

int simul_loop_backend_fd(simul_loop *l)
{
    return l ? l->be->fd(l) : -EINVAL;
}

int simul_loop_timeout(simul_loop *l, double *timeout)
{
    if (!l || !timeout)
        return -EINVAL;
    if (l->rq_head || atomic_load(&l->ts_signalled) || l->dump_requested) {
        *timeout = 0;
        return 0;
    }
    int64_t next = simul__timer_next(l);
    if (next == SIMUL__NO_DEADLINE) {
        *timeout = INFINITY;
        return 0;
    }
    l->now = simul__clock_ns();
    *timeout = next > l->now ? (double)(next - l->now) / 1e9 : 0;
    return 0;
}

int simul_loop_set_data(simul_loop *l, void *data)
{
    if (!l)
        return -EINVAL;
    l->data = data;
    return 0;
}

void *simul_loop_data(const simul_loop *l)
{
    return l ? l->data : NULL;
}

static int shutdown_task(void *arg)
{
    simul__modules_shutdown(simul__loop());
    *(int *)arg = 1;
    return 0;
}

int simul_loop_free(simul_loop *l)
{
    int r = check_driver(l);
    if (r)
        return r;
    l->running = 1;
    atomic_store(&l->stopping, 1);   /* simul_spawn_on: -ESHUTDOWN from now on */
    if (l->main) {             /* started, never finished: the run is over */
        simul__modules_run_end(l);
        l->main = NULL;
    }
    /* As asyncio.run's finally: cancel what is left, then the layers'
     * shutdown in a task (which may still spawn, sleep and wait), then
     * cancel whatever that left behind. */
    unsigned drain = 0;
    simul__loop_run_until(l, all_done, &drain);
    int hooks = 0;
    for (unsigned i = 0; i < l->nmods; i++)
        hooks |= l->mod_order[i]->shutdown != NULL;
    if (hooks) {
        simul_task_opts opts = { .name = "shutdown" };
        int done = 0;
        simul__task *t = simul__spawn(l, shutdown_task, &done, &opts);
        if (t) {
            t->flags |= SIMUL__TF_DETACHED;   /* freed when it finishes */
            simul__loop_run_until(l, flag_set, &done);
        }
    }
    drain = 0;
    simul__loop_run_until(l, all_done, &drain);
    loop_close(l);
    return 0;
}

int simul_run(simul_fn main_fn, void *arg)
{
    if (!main_fn)
        return -EINVAL;
    simul_loop_opts opts = { .signals = 1 };
    simul_loop *l;
    int r = simul_loop_new(&opts, &l);
    if (r)
        return r;
    r = simul_loop_run(l, main_fn, arg);
    simul_loop_free(l);
    return r;
}
