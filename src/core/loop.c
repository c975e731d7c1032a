/*
 * loop.c - the event loop: creation and teardown, the scheduler that runs
 * ready tasks and callbacks, polls the backend and fires timers, simul_run,
 * call_soon (also from other threads) and fd watchers.
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
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
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

static int open_backend(simul_loop *l)
{
    /* epoll is the default; "auto" prefers io_uring and falls back silently
     * where it is missing or forbidden. */
    const char *want = getenv("SIMUL_BACKEND");
    if (!want || !*want)
        want = "epoll";
    if (strcmp(want, "auto") != 0) {
        const simul__backend *be = pick_backend(want);
        if (!be) {
            fprintf(stderr, "simul: SIMUL_BACKEND=%s is not a backend of this build\n", want);
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

int simul_call_soon_threadsafe(simul_loop *l, void (*cb)(void *), void *arg)
{
    if (!l || !cb)
        return -EINVAL;
    if (atomic_load(&l->closed))
        return -ESHUTDOWN;
    simul__callback *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->run.kind = SIMUL__RUN_CALLBACK;
    c->run.next = NULL;
    c->cb = cb;
    c->arg = arg;
    pthread_mutex_lock(&l->ts_lock);
    *l->ts_tail = c;
    l->ts_tail = (simul__callback **)&c->run.next;
    pthread_mutex_unlock(&l->ts_lock);
    if (atomic_exchange(&l->ts_signalled, 1) == 0) {
        uint64_t one = 1;
        ssize_t n = write(l->wake_fd, &one, sizeof one);
        (void)n; /* EAGAIN means the counter is already non-zero: fine */
    }
    return 0;
}

/* The wake eventfd fired: run what other threads queued, in order. */
static void ts_drain(simul_watch *w, int revents, void *arg)
{
    (void)w;
    (void)revents;
    simul_loop *l = arg;
    uint64_t v;
    ssize_t n = read(l->wake_fd, &v, sizeof v);
    (void)n;
    atomic_store(&l->ts_signalled, 0);
    pthread_mutex_lock(&l->ts_lock);
    simul__callback *c = l->ts_head;
    l->ts_head = NULL;
    l->ts_tail = &l->ts_head;
    pthread_mutex_unlock(&l->ts_lock);
    while (c) {
        simul__callback *next = (simul__callback *)c->run.next;
        c->run.next = NULL;
        c->run.kind = SIMUL__RUN_CALLBACK;
        simul__ready_push(l, &c->run);
        c = next;
    }
}

/* ---- watchers ---------------------------------------------------------- */

simul_watch *simul_watch_new(int fd, simul_watch_cb cb, void *arg)
{
    simul_loop *l = simul__loop();
    if (!l) {
        errno = EPERM;
        return NULL;
    }
    if (fd < 0 || !cb) {
        errno = fd < 0 ? EBADF : EINVAL;
        return NULL;
    }
    simul_watch *w = calloc(1, sizeof *w);
    if (!w) {
        errno = ENOMEM;
        return NULL;
    }
    w->loop = l;
    w->fd = fd;
    w->cb = cb;
    w->arg = arg;
    return w;
}

int simul_watch_set(simul_watch *w, int events)
{
    if (!w)
        return -EINVAL;
    events &= SIMUL_READABLE | SIMUL_WRITABLE;
    w->events = events;
    if (events == w->armed)
        return 0;
    simul_loop *l = w->loop;
    int r = l->be->arm(l, w, events);
    if (r)
        return r;
    if (!w->armed && events)
        l->nwatch++;
    else if (w->armed && !events)
        l->nwatch--;
    w->armed = events;
    return 0;
}

int simul_watch_fd(const simul_watch *w)
{
    return w ? w->fd : -EINVAL;
}

void simul_watch_free(simul_watch *w)
{
    if (!w)
        return;
    simul_loop *l = w->loop;
    if (w->armed) {
        l->be->arm(l, w, 0);
        l->nwatch--;
    }
    l->be->forget(l, w);
    free(w);
}

void simul__watch_ready(simul_watch *w, int revents)
{
    w->cb(w, revents, w->arg);
}

/* ---- loop lifetime ----------------------------------------------------- */

static void stack_size_from_env(void)
{
    const char *s = getenv("SIMUL_STACK_SIZE");
    if (!s || !*s)
        return;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end == 'k' || *end == 'K')
        v *= 1024;
    else if (*end == 'm' || *end == 'M')
        v *= 1024 * 1024;
    if (simul_set_default_stack_size((size_t)v) != 0)
        fprintf(stderr, "simul: ignoring SIMUL_STACK_SIZE=%s (16K..256M)\n", s);
}

static simul_loop *loop_new(int *err)
{
    simul_loop *l = calloc(1, sizeof *l);
    if (!l) {
        *err = -ENOMEM;
        return NULL;
    }
    l->rq_tail = &l->rq_head;
    simul__list_init(&l->prepoll);
    l->ts_tail = &l->ts_head;
    l->wake_fd = -1;
    pthread_mutex_init(&l->ts_lock, NULL);
    l->now = simul__clock_ns();
    simul__loop_tls = l;
    stack_size_from_env();
    *err = open_backend(l);
    if (*err)
        goto fail_backend;
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0) {
        *err = -errno;
        goto fail_eventfd;
    }
    l->wake_watch = simul_watch_new(l->wake_fd, ts_drain, l);
    if (!l->wake_watch) {
        *err = -errno;
        goto fail_watch;
    }
    *err = simul_watch_set(l->wake_watch, SIMUL_READABLE);
    if (*err)
        goto fail_arm;
    simul__stack_overflow_install();
    simul__debug_init(l);
    return l;

fail_arm:
    simul_watch_free(l->wake_watch);
fail_watch:
    close(l->wake_fd);
fail_eventfd:
    l->be->close(l);
fail_backend:
    pthread_mutex_destroy(&l->ts_lock);
    simul__loop_tls = NULL;
    free(l);
    return NULL;
}

static void loop_free(simul_loop *l)
{
    /* Before `closed`: pool workers may still queue completions. */
    simul__sys_close(l);
    atomic_store(&l->closed, 1);
    simul__debug_close(l);
    /* Every task is DONE by now; report the ones nobody joined. */
    SIMUL__FOREACH_TASK(l, t) {
        if (!(t->flags & (SIMUL__TF_MAIN | SIMUL__TF_DETACHED | SIMUL__TF_GROUP)))
            simul__debug_unjoined(l, t);
        free(t->name);
        t->name = NULL;
    }
    /* Callbacks queued but never run (by a loop that stopped) are dropped. */
    simul__runnable *r;
    while ((r = simul__ready_pop(l)) != NULL)
        if (r->kind == SIMUL__RUN_CALLBACK)
            free(r);
    pthread_mutex_lock(&l->ts_lock);
    simul__callback *c = l->ts_head;
    l->ts_head = NULL;
    pthread_mutex_unlock(&l->ts_lock);
    while (c) {
        simul__callback *next = (simul__callback *)c->run.next;
        free(c);
        c = next;
    }
    simul__callback *f = l->cb_free;
    while (f) {
        simul__callback *next = (simul__callback *)f->run.next;
        free(f);
        f = next;
    }
    simul__net_close(l);   /* fd table: its watchers, before the backend */
    simul_watch_free(l->wake_watch);
    close(l->wake_fd);
    l->be->close(l);
    simul__timers_close(l);
    simul__stacks_close(l);
    simul__tasks_close(l);
    pthread_mutex_destroy(&l->ts_lock);
    simul__stack_overflow_uninstall();
    simul__loop_tls = NULL;
    free(l);
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
        fprintf(stderr, "simul: deadlock: every task is waiting and nothing (timer, fd, "
                        "thread) can wake one; cancelling them all\n");
    if (l->debug)
        simul_dump_tasks(2);
    SIMUL__FOREACH_TASK(l, t) {
        if (t->state != SIMUL_TASK_DONE) {
            t->flags &= ~SIMUL__TF_NOCANCEL;
            simul__task_cancel(t);
        }
    }
}

void simul__loop_run_until(simul_loop *l, int (*stop)(simul_loop *, void *), void *arg)
{
    while (!stop(l, arg)) {
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
                cb_release(l, c);
                cb(cbarg);
            }
        }
        if (!simul__list_empty(&l->prepoll))
            run_prepoll(l);
        if (l->dump_requested) {
            l->dump_requested = 0;
            simul_dump_tasks(2);
        }
        if (stop(l, arg))
            break;
        /* 3. I/O */
        int64_t timeout = 0;
        if (!l->rq_head) {
            int64_t next = simul__timer_next(l);
            if (next == SIMUL__NO_DEADLINE) {
                if (l->nwatch <= 1 && l->external == 0 && l->wakers == 0 &&
                    !atomic_load(&l->ts_signalled)) {
                    deadlock(l);
                    continue;
                }
                timeout = -1;
            } else {
                l->now = simul__clock_ns();
                timeout = next > l->now ? next - l->now : 0;
            }
        }
        /* Poll unless it is pointless: nothing blocks, no fd is watched (the
         * wakeup eventfd aside), no cross-thread call is pending, and no
         * backend operation (an io_uring file op) is in flight. */
        if (timeout != 0 || l->nwatch > 1 ||
            atomic_load_explicit(&l->ts_signalled, memory_order_relaxed) ||
            atomic_load_explicit(&l->external, memory_order_relaxed) > 0) {
            int r = l->be->poll(l, timeout);
            if (r < 0 && r != -EINTR)
                fprintf(stderr, "simul: %s poll failed: %s\n", l->be->name, simul_strerror(r));
        }
        /* 4. timers */
        l->now = simul__clock_ns();
        simul__timers_run(l);
    }
}

static int main_done(simul_loop *l, void *arg)
{
    (void)l;
    return ((simul__task *)arg)->state == SIMUL_TASK_DONE;
}

/* Shutdown: cancel whatever is alive (again, for tasks spawned late). */
static int all_done(simul_loop *l, void *arg)
{
    (void)arg;
    if (l->ntasks_live == 0)
        return 1;
    SIMUL__FOREACH_TASK(l, t) {
        if (t->state != SIMUL_TASK_DONE && !(t->flags & SIMUL__TF_CANCEL))
            simul__task_cancel(t);
    }
    return 0;
}

int simul_run(simul_fn main_fn, void *arg)
{
    if (!main_fn)
        return -EINVAL;
    if (simul__loop())
        return -EBUSY;
    int err;
    simul_loop *l = loop_new(&err);
    if (!l)
        return err;
    simul_task_opts opts = { .name = "main" };
    simul__task *m = simul__spawn(l, main_fn, arg, &opts);
    if (!m) {
        err = -errno;
        loop_free(l);
        return err;
    }
    m->flags |= SIMUL__TF_MAIN;
    simul__sys_run_begin(l, m);   /* SIGINT cancels main; SIGPIPE ignored */
    simul__loop_run_until(l, main_done, m);
    int result = simul__sys_run_result(l, m->result);
    simul__loop_run_until(l, all_done, NULL);
    loop_free(l);
    return result;
}

void simul_loop_ref(simul_loop *l)
{
    if (l)
        atomic_fetch_add(&l->external, 1);
}

void simul_loop_unref(simul_loop *l)
{
    if (l)
        atomic_fetch_sub(&l->external, 1);
}
