/*
 * test_threads.c - loops on several threads. A queue or event owned by
 * loop A and used from loop B's tasks wakes A's tasks on A's thread and B's
 * on B's; what cannot be forwarded fails with -EXDEV; wake handles
 * (simul_async) coalesce sends from many threads and stay safe while the
 * loop closes; call_soon_threadsafe racing the loop's close never touches
 * freed memory; process-wide settings change safely while loops run. The
 * TSan build runs this program too (make test). A future of one loop refuses
 * another loop's plain calls (-EXDEV) and keeps its loop's memory, so a
 * thread's late set gets -ESHUTDOWN.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <simul.h>
#include <simul/sync.h>

#define I(x) ((void *)(intptr_t)(x))
#define V(p) ((int)(intptr_t)(p))

/* Runs fn on a new thread inside its own loop (simul_run). */
struct loop_thread {
    pthread_t th;
    simul_fn  fn;
    void     *arg;
    int       result;
};
static void *loop_thread_main(void *p)
{
    struct loop_thread *lt = p;
    lt->result = simul_run(lt->fn, lt->arg);
    return NULL;
}
static void loop_thread_start(struct loop_thread *lt, simul_fn fn, void *arg)
{
    lt->fn = fn;
    lt->arg = arg;
    CHECK_EQ(pthread_create(&lt->th, NULL, loop_thread_main, lt), 0);
}
static int loop_thread_join(struct loop_thread *lt)
{
    pthread_join(lt->th, NULL);
    return lt->result;
}

/* Runs a and b as two loops on two threads; both must return 0. */
static void run_pair(simul_fn a_fn, simul_fn b_fn)
{
    struct loop_thread a, b;
    loop_thread_start(&a, a_fn, NULL);
    loop_thread_start(&b, b_fn, NULL);
    CHECK_EQ(loop_thread_join(&b), 0);
    CHECK_EQ(loop_thread_join(&a), 0);
}

/* Waits (in a task) until *flag is set by another thread. */
static void await_flag(atomic_int *flag)
{
    while (!atomic_load(flag))
        simul_sleep(0.0005);
}

/* ---- a queue shared by two loops ---------------------------------------------- */

#define ROUNDS 200

static struct {
    simul_queue *req, *rep;       /* both owned by loop A */
    simul_event *ev;              /* owned by A */
    simul_lock  *lock;            /* owned by A */
    simul_task  *a_task;          /* a task of A */
    pthread_t    a_thread, b_thread;
    atomic_int   ready, b_done;
    atomic_int   wrong_thread;
} sh;

static int a_main(void *arg)
{
    (void)arg;
    sh.a_thread = pthread_self();
    sh.req = simul_queue_new(0);
    sh.rep = simul_queue_new(1);
    sh.ev = simul_event_new();
    sh.lock = simul_lock_new();
    sh.a_task = simul_current();
    /* Loop B's tasks can wake ours: not a deadlock while B runs. */
    simul_loop_ref(simul_loop_current());
    atomic_store(&sh.ready, 1);
    for (int i = 0; i < ROUNDS; i++) {
        void *item;
        CHECK_EQ(simul_queue_get(sh.req, &item), 0);
        if (!pthread_equal(pthread_self(), sh.a_thread))
            atomic_store(&sh.wrong_thread, 1);
        CHECK_EQ(V(item), i);
        CHECK_EQ(simul_queue_put(sh.rep, I(i * 2)), 0);
    }
    /* B sets our event from its loop. */
    CHECK_EQ(simul_event_wait(sh.ev), 0);
    if (!pthread_equal(pthread_self(), sh.a_thread))
        atomic_store(&sh.wrong_thread, 1);
    await_flag(&sh.b_done);
    simul_loop_unref(simul_loop_current());
    simul_queue_free(sh.req);
    simul_queue_free(sh.rep);
    simul_event_free(sh.ev);
    simul_lock_free(sh.lock);
    return 0;
}

static int b_main(void *arg)
{
    (void)arg;
    sh.b_thread = pthread_self();
    await_flag(&sh.ready);
    for (int i = 0; i < ROUNDS; i++) {
        CHECK_EQ(simul_queue_put(sh.req, I(i)), 0);
        void *item;
        CHECK_EQ(simul_queue_get(sh.rep, &item), 0);
        if (!pthread_equal(pthread_self(), sh.b_thread))
            atomic_store(&sh.wrong_thread, 1);
        CHECK_EQ(V(item), i * 2);
    }
    /* What cannot be forwarded fails clearly instead of running a task on
     * the wrong thread. */
    CHECK_EQ(simul_lock_acquire(sh.lock), -EXDEV);
    CHECK_EQ(simul_queue_put_nowait(sh.req, I(1)), -EXDEV);
    CHECK_EQ(simul_cancel(sh.a_task), -EXDEV);
    CHECK_EQ(simul_join(sh.a_task), -EXDEV);
    CHECK(strstr(simul_strerror(-EXDEV), "another loop") != NULL);
    CHECK_EQ(simul_event_set(sh.ev), 0);
    atomic_store(&sh.b_done, 1);
    return 0;
}

TEST(a_queue_shared_by_two_loops_wakes_each_task_on_its_own_thread)
{
    memset(&sh, 0, sizeof sh);
    run_pair(a_main, b_main);
    CHECK_EQ(atomic_load(&sh.wrong_thread), 0);
}

/* ---- a forwarded wait cancelled in the caller's loop ----------------------- */

static int a_keeper(void *arg)
{
    (void)arg;
    sh.req = simul_queue_new(0);
    simul_loop_ref(simul_loop_current());
    atomic_store(&sh.ready, 1);
    await_flag(&sh.b_done);
    /* B's cancelled get must not have taken this item. */
    CHECK_EQ(simul_queue_put_nowait(sh.req, I(7)), 0);
    simul_sleep(0.01);
    CHECK_EQ(simul_queue_qsize(sh.req), 1);
    simul_loop_unref(simul_loop_current());
    simul_queue_free(sh.req);
    return 0;
}

static int b_cancelled(void *arg)
{
    (void)arg;
    await_flag(&sh.ready);
    void *item = NULL;
    double t0 = simul_now();
    /* a deadline carried to the owner loop */
    CHECK_EQ(simul_queue_get_until(sh.req, &item, t0 + 0.02), -ETIMEDOUT);
    CHECK(simul_now() - t0 >= 0.0195);
    /* a cancel in the caller's loop reaches the owner's side */
    simul_scope sc;
    CHECK_EQ(simul_scope_enter(&sc, simul_now() + 0.02), 0);
    CHECK_EQ(simul_queue_get(sh.req, &item), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    atomic_store(&sh.b_done, 1);
    return 0;
}

TEST(a_forwarded_wait_keeps_its_deadline_and_its_cancellation)
{
    memset(&sh, 0, sizeof sh);
    run_pair(a_keeper, b_cancelled);
}

/* ---- wake handles ---------------------------------------------------------------- */

#define SENDERS 4
#define SENDS   20000

static struct {
    simul_async *a;
    pthread_t    owner;
    atomic_int   calls, wrong_thread, senders_done, refused;
    atomic_int   stop;
    simul_task  *waiter;
} as;

static void async_cb(void *arg)
{
    (void)arg;
    if (!pthread_equal(pthread_self(), as.owner))
        atomic_store(&as.wrong_thread, 1);
    atomic_fetch_add(&as.calls, 1);
}

static void *sender(void *p)
{
    (void)p;
    for (int i = 0; i < SENDS; i++)
        if (simul_async_send(as.a) != 0)
            atomic_fetch_add(&as.refused, 1);
    atomic_fetch_add(&as.senders_done, 1);
    return NULL;
}

static int async_main(void *arg)
{
    (void)arg;
    as.owner = pthread_self();
    as.a = simul_async_new(async_cb, NULL);
    CHECK(as.a != NULL);
    pthread_t th[SENDERS];
    for (int i = 0; i < SENDERS; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, sender, NULL), 0);
    while (atomic_load(&as.senders_done) < SENDERS)
        simul_sleep(0.001);
    /* Every send before this point is seen by a later callback. */
    int before = atomic_load(&as.calls);
    CHECK_EQ(simul_async_send(as.a), 0);
    while (atomic_load(&as.calls) == before)
        simul_sleep(0.001);
    for (int i = 0; i < SENDERS; i++)
        pthread_join(th[i], NULL);
    simul_async_free(as.a);
    return 0;
}

TEST(async_sends_from_many_threads_coalesce_on_the_owner_thread)
{
    memset(&as, 0, sizeof as);
    CHECK_EQ(simul_run(async_main, NULL), 0);
    int calls = atomic_load(&as.calls);
    CHECK(calls >= 1);      /* the senders' run and the last one may be one */
    CHECK(calls < SENDERS * SENDS);     /* sends before a run coalesce */
    CHECK_EQ(atomic_load(&as.refused), 0);
    CHECK_EQ(atomic_load(&as.wrong_thread), 0);
    CHECK_EQ(simul_async_send(NULL), -EINVAL);
}

static void *close_sender(void *p)
{
    (void)p;
    /* Sends until the loop has closed under us. */
    while (simul_async_send(as.a) == 0)
        sched_yield();
    atomic_fetch_add(&as.refused, 1);
    return NULL;
}

static int async_close_main(void *arg)
{
    pthread_t *th = arg;
    as.owner = pthread_self();
    as.a = simul_async_new(async_cb, NULL);
    for (int i = 0; i < SENDERS; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, close_sender, NULL), 0);
    simul_sleep(0.01);
    return 0;      /* the loop closes while they send */
}

TEST(async_send_racing_the_loops_close_is_refused_not_a_crash)
{
    memset(&as, 0, sizeof as);
    pthread_t th[SENDERS];
    CHECK_EQ(simul_run(async_close_main, th), 0);
    for (int i = 0; i < SENDERS; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&as.refused), SENDERS);
    CHECK_EQ(simul_async_send(as.a), -ESHUTDOWN);
    simul_async_free(as.a);           /* after the loop ended: just freed */
    CHECK(atomic_load(&as.calls) >= 1);
}

static int async_free_queued(void *arg)
{
    (void)arg;
    as.owner = pthread_self();
    simul_async *a = simul_async_new(async_cb, NULL);
    CHECK_EQ(simul_async_send(a), 0);
    CHECK_EQ(simul_async_send(a), 0);
    simul_async_free(a);          /* queued: the loop frees it, never calls it */
    simul_sleep(0.005);
    CHECK_EQ(atomic_load(&as.calls), 0);
    as.a = simul_async_new(async_cb, NULL);
    CHECK_EQ(simul_async_send(as.a), 0);
    return 0;                     /* freed after the loop ended, below */
}

TEST(async_freed_with_a_send_queued_is_never_called)
{
    memset(&as, 0, sizeof as);
    CHECK_EQ(simul_run(async_free_queued, NULL), 0);
    CHECK_EQ(atomic_load(&as.calls), 0);   /* a send pending at close is dropped */
    CHECK_EQ(simul_async_send(as.a), -ESHUTDOWN);
    simul_async_free(as.a);
    errno = 0;
    CHECK(simul_async_new(async_cb, NULL) == NULL && errno == EPERM);
}

/* ---- call_soon_threadsafe racing the loop's close ---------------------------------- */

static struct {
    simul_loop *loop;
    atomic_int  calls, shut, go;
} ts;

static void ts_cb(void *arg)
{
    (void)arg;
    atomic_fetch_add(&ts.calls, 1);
}

static void *ts_thread(void *p)
{
    (void)p;
    while (!atomic_load(&ts.go))
        sched_yield();
    /* The ref taken by the loop for us keeps its memory until unref. */
    int r;
    while ((r = simul_call_soon_threadsafe(ts.loop, ts_cb, NULL)) == 0)
        ;
    if (r == -ESHUTDOWN)
        atomic_fetch_add(&ts.shut, 1);
    simul_loop_unref(ts.loop);
    return NULL;
}

static int ts_main(void *arg)
{
    pthread_t *th = arg;
    ts.loop = simul_loop_current();
    for (int i = 0; i < SENDERS; i++) {
        simul_loop_ref(ts.loop);
        CHECK_EQ(pthread_create(&th[i], NULL, ts_thread, NULL), 0);
    }
    atomic_store(&ts.go, 1);
    while (atomic_load(&ts.calls) < 100)
        simul_sleep(0.0005);
    return 0;      /* close while the threads still call in */
}

TEST(call_soon_threadsafe_racing_the_loops_close)
{
    for (int round = 0; round < 20; round++) {
        memset(&ts, 0, sizeof ts);
        pthread_t th[SENDERS];
        CHECK_EQ(simul_run(ts_main, th), 0);
        for (int i = 0; i < SENDERS; i++)
            pthread_join(th[i], NULL);
        CHECK_EQ(atomic_load(&ts.shut), SENDERS);
    }
}

/* ---- process-wide state while loops run ------------------------------------------- */

static atomic_int settings_stop;
static void *settings_thread(void *p)
{
    (void)p;
    while (!atomic_load(&settings_stop)) {
        simul_set_default_stack_size(64 * 1024);
        simul_set_default_stack_size(128 * 1024);
    }
    return NULL;
}

static int leaf(void *arg)
{
    (void)arg;
    return simul_yield();
}

static int spawner(void *arg)
{
    (void)arg;
    /* small: under TSan every task is a fiber, and fibers are costly */
    for (int round = 0; round < 8; round++) {
        simul_task *t[16];
        for (int i = 0; i < 16; i++)
            t[i] = simul_spawn(leaf, NULL);
        for (int i = 0; i < 16; i++)
            CHECK_EQ(simul_join(t[i]), 0);
        simul_sleep(0.0001);
    }
    return 0;
}

TEST(loops_on_four_threads_with_settings_changing_underneath)
{
    pthread_t st;
    atomic_store(&settings_stop, 0);
    CHECK_EQ(pthread_create(&st, NULL, settings_thread, NULL), 0);
    struct loop_thread lt[4];
    for (int i = 0; i < 4; i++)
        loop_thread_start(&lt[i], spawner, NULL);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(loop_thread_join(&lt[i]), 0);
    atomic_store(&settings_stop, 1);
    pthread_join(st, NULL);
    simul_set_default_stack_size(64 * 1024);
}

/* ---- a future of another loop ------------------------------------------------------- */

static struct {
    simul_future *f;             /* owned by loop A, never freed by it */
    atomic_int    ready, b_done;
    int           set_there, wait_there;
} fu;

static int fu_a(void *arg)
{
    (void)arg;
    fu.f = simul_future_new();
    CHECK(fu.f != NULL);
    atomic_store(&fu.ready, 1);
    await_flag(&fu.b_done);
    return 0;                    /* A closes with f alive */
}

static int fu_b(void *arg)
{
    (void)arg;
    await_flag(&fu.ready);
    fu.set_there = simul_future_set_result(fu.f, I(1));
    fu.wait_there = simul_future_wait(fu.f, NULL);
    atomic_store(&fu.b_done, 1);
    return 0;
}

TEST(a_future_refuses_another_loops_plain_calls_and_keeps_its_closed_loop)
{
    memset(&fu, 0, sizeof fu);
    run_pair(fu_a, fu_b);
    CHECK_EQ(fu.set_there, -EXDEV);
    CHECK_EQ(fu.wait_there, -EXDEV);
    /* A has closed; f still holds its memory: refused, not a use after free
     * (ASan build). Freeing f lets the loop's memory go. */
    CHECK_EQ(simul_future_set_result_threadsafe(fu.f, I(2)), -ESHUTDOWN);
    CHECK_EQ(simul_future_done(fu.f), 0);
    simul_future_free(fu.f);
}
