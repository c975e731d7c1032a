/*
 * pool.c - the thread pool (asyncio's default executor, libuv's threadpool)
 * and simul_to_thread.
 *
 * Each loop owns one pool, created by the first job. Worker threads start
 * lazily, one more whenever a job is queued and no idle worker is left to
 * take it, up to the pool's maximum. A worker takes a job off the queue,
 * runs it, puts it on the done list and, if the loop has not been told yet,
 * tells it with simul_call_soon_threadsafe(); the loop then runs every
 * finished job's done() on its own thread, where tasks may be woken. Each
 * queued or running job holds a loop ref, so the loop's deadlock detector
 * knows a wakeup is coming; the ref is dropped on the loop thread, after
 * the job is off the done list, never before the wakeup is queued.
 *
 * The pool is a module of the loop (core/module.c): attached by the first
 * job; its shutdown hook (in a task, after main and the other tasks are
 * done) waits for the jobs still out, so their done() runs on a live loop;
 * its close hook joins the workers.
 *
 * simul_to_thread's job and its caller both live on the loop thread once the
 * worker is done with it, so who frees the job is decided without atomics:
 * a cancelled caller either takes the job back from the queue (it never
 * runs) or marks it abandoned, and done() frees an abandoned job.
 */
#include "sys_internal.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CALLER() __builtin_return_address(0)

#define POOL_DEFAULT 4
#define POOL_MAX     256

typedef struct simul__pool {
    simul_loop     *loop;
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    simul__list     queue;          /* simul__work, QUEUED */
    simul__list     done;           /* simul__work, DONE, not yet seen by the loop */
    size_t          nqueued;
    size_t          nout;           /* submitted, done() not run yet (loop thread) */
    simul__task    *idle_waiter;    /* the shutdown hook, waiting for nout == 0 */
    pthread_t      *threads;        /* [max] */
    size_t          nthreads, idle, max;
    int             stopping;
    int             drain_pending;  /* a drain callback is queued on the loop */
} simul__pool;

static simul__module pool_module;

/* A job's done() is about to run, or it was taken back (loop thread). */
static void job_finished(simul__pool *p)
{
    if (--p->nout == 0 && p->idle_waiter)
        simul__wake(p->idle_waiter, 0);
}

/* 0 until read; then the default size for new pools. */
static atomic_uint default_size;

static unsigned size_from_env(void)
{
    unsigned n = atomic_load(&default_size);
    if (n)
        return n;
    n = POOL_DEFAULT;
    const char *s = getenv("SIMUL_THREADPOOL_SIZE");
    if (s && *s) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (*end == '\0' && v >= 1 && v <= POOL_MAX)
            n = (unsigned)v;
        else
            simul__log(SIMUL_LOG_WARN, "ignoring SIMUL_THREADPOOL_SIZE=%s (1..%d)", s, POOL_MAX);
    }
    unsigned zero = 0;
    atomic_compare_exchange_strong(&default_size, &zero, n);
    return atomic_load(&default_size);
}

int simul_threadpool_set_size(unsigned n)
{
    if (n < 1 || n > POOL_MAX)
        return -EINVAL;
    atomic_store(&default_size, n);
    simul_loop *l = simul__loop();
    if (l)
        l->opts.threadpool_size = n;
    simul__pool *p = l ? simul__module_peek(l, &pool_module) : NULL;
    if (p) {
        pthread_mutex_lock(&p->mu);
        /* The thread array was sized for POOL_MAX, so growing is safe. */
        p->max = n;
        pthread_mutex_unlock(&p->mu);
    }
    return 0;
}

unsigned simul_threadpool_size(void)
{
    simul_loop *l = simul__loop();
    simul__pool *p = l ? simul__module_peek(l, &pool_module) : NULL;
    if (!p)
        return l && l->opts.threadpool_size ? l->opts.threadpool_size : size_from_env();
    pthread_mutex_lock(&p->mu);
    unsigned n = (unsigned)p->max;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* ---- the loop side ----------------------------------------------------- */

/* Runs on the loop: every finished job's done(), in completion order. */
static void pool_drain(void *arg)
{
    simul__pool *p = arg;
    simul__list batch;
    simul__list_init(&batch);
    pthread_mutex_lock(&p->mu);
    p->drain_pending = 0;
    if (!simul__list_empty(&p->done)) {
        /* Move the whole list into batch. */
        batch.next = p->done.next;
        batch.prev = p->done.prev;
        batch.next->prev = &batch;
        batch.prev->next = &batch;
        simul__list_init(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    simul__list *n;
    while ((n = simul__list_pop(&batch)) != NULL) {
        simul__work *w = simul__container_of(n, simul__work, link);
        simul_loop_unref(p->loop);
        job_finished(p);
        w->done(w, 0);
    }
}

/* ---- the worker side --------------------------------------------------- */

/* Tells the loop that jobs finished. Allocation failure in the core's
 * call_soon_threadsafe must not lose a completion (a caller would wait
 * for ever), so it is retried; -ESHUTDOWN means the loop is closing and
 * simul__pool_close will run the done list itself. */
static void notify_loop(simul__pool *p)
{
    for (;;) {
        int r = simul_call_soon_threadsafe(p->loop, pool_drain, p);
        if (r != -ENOMEM)
            return;
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
}

static void *worker(void *arg)
{
    simul__pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (simul__list_empty(&p->queue) && !p->stopping) {
            p->idle++;
            pthread_cond_wait(&p->cv, &p->mu);
            p->idle--;
        }
        if (p->stopping)
            break;
        simul__work *w = simul__container_of(simul__list_pop(&p->queue), simul__work, link);
        p->nqueued--;
        w->state = SIMUL__WORK_RUNNING;
        pthread_mutex_unlock(&p->mu);

        w->work(w);

        pthread_mutex_lock(&p->mu);
        w->state = SIMUL__WORK_DONE;
        simul__list_push(&p->done, &w->link);
        if (!p->drain_pending) {
            p->drain_pending = 1;
            pthread_mutex_unlock(&p->mu);
            notify_loop(p);
            pthread_mutex_lock(&p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Called with p->mu held. Workers block every signal: signals meant for the
 * process must reach the loop thread (signalfd needs them blocked in every
 * thread, and a worker must never run a handler meant for the loop). */
static int start_worker(simul__pool *p)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    /* glibc's default (8 MiB, RLIMIT_STACK) is address space only, but
     * getaddrinfo and user code need more than a small stack: keep 1 MiB. */
    pthread_attr_setstacksize(&attr, 1u << 20);
    int r = pthread_create(&p->threads[p->nthreads], &attr, worker, p);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0)
        return -r;
    p->nthreads++;
    return 0;
}

static int pool_init(simul_loop *l, void *data)
{
    simul__pool *p = data;
    p->threads = calloc(POOL_MAX, sizeof *p->threads);
    if (!p->threads)
        return -ENOMEM;
    p->loop = l;
    p->max = l->opts.threadpool_size ? l->opts.threadpool_size : size_from_env();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    simul__list_init(&p->queue);
    simul__list_init(&p->done);
    return 0;
}

int simul__work_submit(simul_loop *l, simul__work *w)
{
    simul__pool *p = simul__module_data(l, &pool_module);
    if (!p)
        return -errno;
    pthread_mutex_lock(&p->mu);
    if (p->nqueued + 1 > p->idle && p->nthreads < p->max) {
        int r = start_worker(p);
        /* With at least one worker the job still runs, only later. */
        if (r < 0 && p->nthreads == 0) {
            pthread_mutex_unlock(&p->mu);
            return r == -ENOMEM ? -ENOMEM : -EAGAIN;
        }
    }
    w->state = SIMUL__WORK_QUEUED;
    simul__list_push(&p->queue, &w->link);
    p->nqueued++;
    p->nout++;
    simul_loop_ref(l);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int simul__work_cancel(simul_loop *l, simul__work *w)
{
    simul__pool *p = simul__module_peek(l, &pool_module);
    if (!p)
        return -EBUSY;
    int r = -EBUSY;
    pthread_mutex_lock(&p->mu);
    if (w->state == SIMUL__WORK_QUEUED) {
        simul__list_remove(&w->link);
        p->nqueued--;
        w->state = SIMUL__WORK_IDLE;
        r = 0;
    }
    pthread_mutex_unlock(&p->mu);
    if (r == 0) {
        simul_loop_unref(l);
        job_finished(p);
    }
    return r;
}

/* Shutdown hook, in a task: jobs still out (abandoned by cancelled
 * callers) finish and their done() runs on the loop, as asyncio's
 * shutdown_default_executor waits for the executor's jobs. Cancelling the
 * wait leaves the rest to close (which joins the threads). */
static void pool_shutdown(simul_loop *l, void *data)
{
    simul__pool *p = data;
    while (p->nout > 0) {
        p->idle_waiter = l->current;
        int r = simul__park("thread pool shutdown", CALLER());
        p->idle_waiter = NULL;
        if (r == -ECANCELED)
            return;
    }
}

static void pool_close(simul_loop *l, void *data)
{
    simul__pool *p = data;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    /* Waits for jobs still running (abandoned ones: every task is done). */
    for (size_t i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* No thread is left: no lock needed. A drain callback may still sit in
     * the loop's queues; the loop drops those without running them. */
    simul__list *n;
    while ((n = simul__list_pop(&p->done)) != NULL) {
        simul__work *w = simul__container_of(n, simul__work, link);
        simul_loop_unref(l);
        w->done(w, 0);
    }
    while ((n = simul__list_pop(&p->queue)) != NULL) {
        simul__work *w = simul__container_of(n, simul__work, link);
        w->state = SIMUL__WORK_IDLE;
        simul_loop_unref(l);
        w->done(w, -ECANCELED);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
}

static simul__module pool_module = {
    .name = "threadpool",
    .size = sizeof(simul__pool),
    .init = pool_init,
    .shutdown = pool_shutdown,
    .close = pool_close,
};

/* ---- simul_to_thread --------------------------------------------------- */

typedef struct tjob {
    simul__work     w;
    simul_thread_fn fn;
    void           *arg;
    void           *result;
    void          (*discard)(void *arg, void *result);
    simul__task    *waiter;
    int             status;
    int             abandoned;    /* the caller returned -ECANCELED */
} tjob;

static void tjob_work(simul__work *w)
{
    tjob *j = (tjob *)w;
    j->result = j->fn(j->arg);
}

static void tjob_done(simul__work *w, int status)
{
    tjob *j = (tjob *)w;
    if (j->abandoned) {
        if (j->discard)
            j->discard(j->arg, status == 0 ? j->result : NULL);
        free(j);
        return;
    }
    j->status = status;
    simul__wake(j->waiter, 0);
}

int simul_to_thread_ex(simul_thread_fn fn, void *arg, void **result,
                       void (*discard)(void *arg, void *result))
{
    simul_loop *l = simul__loop();
    simul__task *t = l ? l->current : NULL;
    if (!t)
        return -EPERM;
    if (!fn)
        return -EINVAL;
    if (simul__cancel_pending(t))
        return -ECANCELED;
    tjob *j = calloc(1, sizeof *j);
    if (!j)
        return -ENOMEM;
    j->w.work = tjob_work;
    j->w.done = tjob_done;
    j->fn = fn;
    j->arg = arg;
    j->discard = discard;
    j->waiter = t;
    int r = simul__work_submit(l, &j->w);
    if (r < 0) {
        free(j);
        return r;
    }
    r = simul__park("to_thread", CALLER());
    if (r == -ECANCELED) {
        /* First wake wins: done() has not run. Take the job back if no
         * thread started it; else leave it to done() to free. */
        if (simul__work_cancel(l, &j->w) == 0) {
            if (discard)
                discard(arg, NULL);
            free(j);
        } else {
            j->abandoned = 1;
        }
        return -ECANCELED;
    }
    r = j->status;
    if (r == 0 && result)
        *result = j->result;
    free(j);
    return r;
}

int simul_to_thread(simul_thread_fn fn, void *arg, void **result)
{
    return simul_to_thread_ex(fn, arg, result, NULL);
}
