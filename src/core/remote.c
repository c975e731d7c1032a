/*
 * remote.c - the one thread-safe way into a loop. Everything another
 * thread, or a task of another loop, does to a loop goes through here:
 * call_soon_threadsafe, wake handles (simul_async, libuv's uv_async_t),
 * waking a task of another loop, and calls forwarded to the loop that owns
 * an object (simul__xcall).
 *
 * The path. Each loop has a mutex-protected list of callback nodes and an
 * eventfd; simul__post() appends a node and, if the loop was not signalled
 * yet, writes the eventfd - both under the mutex, and only while the loop
 * is open, so a post racing the loop's close either lands before the close
 * drains the list or is refused with -ESHUTDOWN; it never touches a closed
 * eventfd or freed memory. The loop drains the list from a watcher: plain
 * callbacks and posted nodes join the ready queue (FIFO with tasks); wake
 * handles run at once.
 *
 * Lifetime. A loop's memory outlives its close while anyone holds a keep
 * reference (simul_loop_ref, a wake handle, a sync object bound to the
 * loop): such holders may still call in and get -ESHUTDOWN. The memory goes
 * with the last reference.
 *
 * Node kinds (run.kind): SIMUL__RUN_CALLBACK nodes are malloc'd and freed
 * after running (simul_loop_free runs those queued for a bounded number of
 * ticks; any still queued at the close are dropped unrun); SIMUL__RUN_POSTED
 * nodes belong to the poster and always run, even when the loop closes with
 * them queued (a forwarded call must always be answered); SIMUL__RUN_ASYNC
 * nodes are wake handles.
 */
#include "internal.h"

#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* ---- the loop's lifetime -------------------------------------------------- */

void simul__loop_keep(simul_loop *l)
{
    atomic_fetch_add_explicit(&l->keep, 1, memory_order_relaxed);
}

void simul__loop_release(simul_loop *l)
{
    if (atomic_fetch_sub_explicit(&l->keep, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_destroy(&l->ts_lock);
        free(l);
    }
}

void simul_loop_ref(simul_loop *l)
{
    if (l) {
        simul__loop_keep(l);
        atomic_fetch_add(&l->external, 1);
    }
}

void simul_loop_unref(simul_loop *l)
{
    if (l) {
        atomic_fetch_sub(&l->external, 1);
        simul__loop_release(l);
    }
}

/* ---- posting -------------------------------------------------------------- */

/* Appends c and wakes the loop; with l->ts_lock held. */
static void post_locked(simul_loop *l, simul__callback *c)
{
    c->run.next = NULL;
    *l->ts_tail = c;
    l->ts_tail = (simul__callback **)&c->run.next;
    if (!atomic_exchange_explicit(&l->ts_signalled, 1, memory_order_relaxed)) {
        uint64_t one = 1;
        ssize_t n = write(l->wake_fd, &one, sizeof one);
        (void)n; /* EAGAIN: the counter is already non-zero, which is enough */
    }
}

int simul__post(simul_loop *l, simul__callback *c)
{
    c->run.next = NULL;
    return simul__post_chain(l, c);
}

int simul__post_chain(simul_loop *l, simul__callback *first)
{
    pthread_mutex_lock(&l->ts_lock);
    int closed = atomic_load_explicit(&l->closed, memory_order_relaxed);
    while (!closed && first) {
        simul__callback *next = (simul__callback *)first->run.next;
        post_locked(l, first);   /* the eventfd only on the first: ts_signalled */
        first = next;
    }
    pthread_mutex_unlock(&l->ts_lock);
    return closed ? -ESHUTDOWN : 0;
}

int simul_call_soon_threadsafe(simul_loop *l, void (*cb)(void *), void *arg)
{
    if (!l || !cb)
        return -EINVAL;
    simul__callback *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    c->run.kind = SIMUL__RUN_CALLBACK;
    c->cb = cb;
    c->arg = arg;
    int r = simul__post(l, c);
    if (r)
        free(c);
    return r;
}

/* ---- wake handles ----------------------------------------------------------- */

struct simul_async {
    simul__callback node;     /* kind SIMUL__RUN_ASYNC; on the list while queued */
    simul_loop     *loop;
    void          (*cb)(void *);
    void           *arg;
    int             queued;   /* on the loop's list (under ts_lock) */
    int             closed;   /* freed by the owner (under ts_lock) */
};

simul_async *simul_async_new(void (*cb)(void *), void *arg)
{
    simul_loop *l;
    simul_async *a = simul__loop_handle_new(sizeof *a, (const void *)cb, &l);
    if (!a)
        return NULL;
    a->node.run.kind = SIMUL__RUN_ASYNC;
    a->loop = l;
    a->cb = cb;
    a->arg = arg;
    simul_loop_ref(l);          /* a live handle can wake the loop: no deadlock */
    return a;
}

static void async_release(simul_async *a)
{
    simul_loop *l = a->loop;
    free(a);
    simul_loop_unref(l);
}

int simul_async_send(simul_async *a)
{
    if (!a)
        return -EINVAL;
    simul_loop *l = a->loop;
    int r = 0;
    pthread_mutex_lock(&l->ts_lock);
    if (a->closed || atomic_load_explicit(&l->closed, memory_order_relaxed))
        r = -ESHUTDOWN;
    else if (!a->queued) {       /* sends before the callback runs coalesce */
        a->queued = 1;
        post_locked(l, &a->node);
    }
    pthread_mutex_unlock(&l->ts_lock);
    return r;
}

void simul_async_free(simul_async *a)
{
    if (!a)
        return;
    simul_loop *l = a->loop;
    pthread_mutex_lock(&l->ts_lock);
    a->closed = 1;
    int queued = a->queued;     /* then the drain frees it */
    pthread_mutex_unlock(&l->ts_lock);
    if (!queued)
        async_release(a);
}

/* A queued handle taken off the list: run it, or free it if it was freed
 * while queued. `run` is 0 when the loop is closing. */
static void async_fire(simul_loop *l, simul_async *a, int run)
{
    pthread_mutex_lock(&l->ts_lock);
    a->queued = 0;              /* a send from now on queues it again */
    int closed = a->closed;
    pthread_mutex_unlock(&l->ts_lock);
    if (closed)
        async_release(a);
    else if (run)
        a->cb(a->arg);
}

/* ---- the loop's side ---------------------------------------------------------- */

/* The wake eventfd fired: take what other threads queued, in order. */
static void ts_drain(simul_watch *w, int revents, void *arg)
{
    (void)w;
    (void)revents;
    simul_loop *l = arg;
    uint64_t v;
    ssize_t n = read(l->wake_fd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&l->ts_lock);
    simul__callback *c = l->ts_head;
    l->ts_head = NULL;
    l->ts_tail = &l->ts_head;
    atomic_store_explicit(&l->ts_signalled, 0, memory_order_relaxed);
    pthread_mutex_unlock(&l->ts_lock);
    while (c) {
        simul__callback *next = (simul__callback *)c->run.next;
        if (c->run.kind == SIMUL__RUN_ASYNC)
            async_fire(l, (simul_async *)c, 1);
        else
            simul__ready_push(l, &c->run);
        c = next;
    }
}

int simul__remote_open(simul_loop *l)
{
    atomic_init(&l->keep, 1);
    l->ts_tail = &l->ts_head;
    pthread_mutex_init(&l->ts_lock, NULL);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l->wake_fd < 0)
        return -errno;
    l->wake_watch = simul_watch_new(l->wake_fd, ts_drain, l);
    int r = l->wake_watch ? simul_watch_set(l->wake_watch, SIMUL_READABLE) : -errno;
    if (r == 0)   /* its readiness comes with ts_signalled; it wakes nobody by itself */
        simul__watch_flags(l->wake_watch, SIMUL__FDW_UNREF | SIMUL__FDW_QUIET);
    if (r) {
        simul_watch_free(l->wake_watch);
        l->wake_watch = NULL;
        close(l->wake_fd);
        l->wake_fd = -1;
    }
    return r;
}

/* Runs or drops a node the loop will never run normally (it is closing). */
static void close_node(simul_loop *l, simul__callback *c)
{
    if (c->run.kind == SIMUL__RUN_ASYNC)
        async_fire(l, (simul_async *)c, 0);
    else if (c->run.kind == SIMUL__RUN_POSTED)
        c->cb(c->arg);           /* answers with -ESHUTDOWN (it sees closed) */
    else
        free(c);
}

void simul__remote_close(simul_loop *l)
{
    pthread_mutex_lock(&l->ts_lock);
    atomic_store(&l->closed, 1);
    simul__callback *c = l->ts_head;
    l->ts_head = NULL;
    l->ts_tail = &l->ts_head;
    pthread_mutex_unlock(&l->ts_lock);
    /* Posted nodes may post answers to other loops; never to this one. */
    while (c) {
        simul__callback *next = (simul__callback *)c->run.next;
        close_node(l, c);
        c = next;
    }
    simul__runnable *r;
    while ((r = simul__ready_pop(l)) != NULL)
        if (r->kind != SIMUL__RUN_TASK)
            close_node(l, (simul__callback *)r);
    simul_watch_free(l->wake_watch);
    l->wake_watch = NULL;
    close(l->wake_fd);
    l->wake_fd = -1;
}

/* ---- waking a task of another loop -------------------------------------------- */

struct remote_wake {
    simul__callback c;          /* malloc'd with the record: a plain callback */
    simul_task     *task;       /* handle: a stale one is ignored */
    int             value;
};

static void remote_wake_run(void *p)
{
    struct remote_wake *rw = p;
    /* The loop released the node before calling: read it first. */
    simul__task *t = simul__task_get(rw->task);
    int value = rw->value;
    if (t)
        simul__wake(t, value);
}

void simul__wake_remote(simul__task *t, int value)
{
    struct remote_wake *rw = malloc(sizeof *rw);
    if (!rw)
        return;      /* the task is not woken; never run on the wrong thread */
    rw->c.run.kind = SIMUL__RUN_CALLBACK;
    rw->c.cb = remote_wake_run;
    rw->c.arg = rw;
    rw->task = simul__task_handle(t);
    rw->value = value;
    if (simul__post(t->loop, &rw->c) != 0)
        free(rw);
}

/* ---- calls forwarded to an object's owner loop -------------------------------- */

struct xcall {
    simul_fn        fn;
    void           *arg;
    simul_loop     *owner, *home;
    simul__task    *caller;      /* on home */
    simul__task    *proxy;       /* on owner; NULL once done */
    simul__donecb   done;        /* on the proxy */
    simul__callback start, cancel, complete, ack;
    int             result;
    int             finished;    /* owner side: the answer was posted */
    int             completed;   /* home side: the answer arrived */
    int             acked;       /* home side: the cancel was seen */
};

/* Home side: the answer or the cancel acknowledgement arrived. */
static void xc_complete(void *p)
{
    struct xcall *x = p;
    x->completed = 1;
    simul__wake(x->caller, 0);
}

static void xc_ack(void *p)
{
    struct xcall *x = p;
    x->acked = 1;
    simul__wake(x->caller, 0);
}

/* Owner side: answer home; x must not be touched after this. */
static void xc_finish(struct xcall *x, int result)
{
    x->result = result;
    x->finished = 1;
    x->proxy = NULL;
    /* home cannot have closed: its task is parked waiting for this */
    simul__post(x->home, &x->complete);
}

static void xc_proxy_done(simul__donecb *cb, simul__task *t)
{
    xc_finish(simul__container_of(cb, struct xcall, done), t->result);
}

static void xc_start(void *p)
{
    struct xcall *x = p;
    simul_loop *l = x->owner;
    if (atomic_load(&l->closed)) {
        xc_finish(x, -ESHUTDOWN);
        return;
    }
    simul__task *t = simul__spawn(l, x->fn, x->arg, NULL);
    if (!t) {
        xc_finish(x, -ENOMEM);
        return;
    }
    t->flags |= SIMUL__TF_DETACHED;
    x->proxy = t;
    x->done.fn = xc_proxy_done;
    simul__list_push(&t->donecbs, &x->done.link);
}

static void xc_cancel(void *p)
{
    struct xcall *x = p;
    if (!x->finished && x->proxy)
        simul__task_cancel(x->proxy);
    simul__post(x->home, &x->ack);
}

static void node_init(simul__callback *c, void (*cb)(void *), void *arg)
{
    c->run.kind = SIMUL__RUN_POSTED;
    c->cb = cb;
    c->arg = arg;
}

int simul__xcall(simul_loop *owner, simul_fn fn, void *arg, const char *what, void *pc)
{
    simul_loop *l = simul__loop();
    simul__task *self = l ? l->current : NULL;
    if (!self)
        return -EPERM;
    if (simul__cancel_pending(self))
        return -ECANCELED;
    struct xcall x = { .fn = fn, .arg = arg, .owner = owner, .home = l, .caller = self };
    node_init(&x.start, xc_start, &x);
    node_init(&x.cancel, xc_cancel, &x);
    node_init(&x.complete, xc_complete, &x);
    node_init(&x.ack, xc_ack, &x);
    /* The answer comes from another thread: not a deadlock meanwhile. */
    atomic_fetch_add(&l->external, 1);
    int r = simul__post(owner, &x.start);
    if (r == 0) {
        simul__park(what, pc);
        int cancelling = 0;
        if (!x.completed)       /* cancelled: cancel the proxy too */
            cancelling = simul__post(owner, &x.cancel) == 0;
        while (!x.completed || (cancelling && !x.acked))
            simul__park_nocancel(what, pc);
        r = x.result;
    }
    atomic_fetch_sub(&l->external, 1);
    return r;
}
