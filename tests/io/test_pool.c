/*
 * test_pool.c - the thread pool: to_thread results, jobs really running in
 * other threads and in parallel up to the pool size, the loop staying
 * responsive while a job blocks, a cancelled caller returning at once
 * (queued jobs never run, running ones are discarded safely), and pool
 * size settings.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <simul.h>

static void *twice(void *a) { return (void *)((intptr_t)a * 2); }

static int main_basic(void *a)
{
    (void)a;
    void *res = NULL;
    CHECK_EQ(simul_to_thread(twice, (void *)21, &res), 0);
    CHECK_EQ((intptr_t)res, 42);
    CHECK_EQ(simul_to_thread(twice, (void *)1, NULL), 0);
    CHECK_EQ(simul_to_thread(NULL, NULL, &res), -EINVAL);
    for (intptr_t i = 0; i < 1000; i++) {
        CHECK_EQ(simul_to_thread(twice, (void *)i, &res), 0);
        CHECK_EQ((intptr_t)res, 2 * i);
    }
    return 0;
}
TEST(to_thread_returns_result)
{
    CHECK_EQ(simul_to_thread(twice, NULL, NULL), -EPERM);
    CHECK_EQ(simul_run(main_basic, NULL), 0);
}

static pthread_t loop_thread;
static void *whoami(void *a) { (void)a; return (void *)(uintptr_t)pthread_equal(pthread_self(), loop_thread); }
static int main_other_thread(void *a)
{
    (void)a;
    loop_thread = pthread_self();
    void *same = (void *)1;
    CHECK_EQ(simul_to_thread(whoami, NULL, &same), 0);
    CHECK(same == NULL);
    return 0;
}
TEST(job_runs_in_another_thread)
{
    CHECK_EQ(simul_run(main_other_thread, NULL), 0);
}

/* Blocking jobs: the loop keeps running tasks meanwhile. */
static void *block_100ms(void *a)
{
    (void)a;
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    return (void *)7;
}
static int ticks;
static int ticker(void *a)
{
    (void)a;
    for (;;) {
        if (simul_sleep(0.005) < 0)
            return 0;
        ticks++;
    }
}
static int main_responsive(void *a)
{
    (void)a;
    simul_task *t = simul_spawn(ticker, NULL);
    void *r;
    CHECK_EQ(simul_to_thread(block_100ms, NULL, &r), 0);
    CHECK_EQ((intptr_t)r, 7);
    CHECK(ticks >= 5);       /* ~20 when idle; slack for a loaded machine */
    simul_cancel(t);
    simul_join(t);
    return 0;
}
TEST(loop_runs_while_job_blocks)
{
    CHECK_EQ(simul_run(main_responsive, NULL), 0);
}

/* 4 jobs of 100 ms on a 4-thread pool finish together; 8 take two rounds. */
static int call_block(void *a) { (void)a; void *r; return simul_to_thread(block_100ms, NULL, &r); }
static double run_n(int n)
{
    simul_task *ts[16];
    int res[16];
    double t0 = simul_now();
    for (int i = 0; i < n; i++)
        ts[i] = simul_spawn(call_block, NULL);
    CHECK_EQ(simul_gather(ts, (size_t)n, res, SIMUL_GATHER_FAIL_FAST), 0);
    return simul_now() - t0;
}
static int main_parallel(void *a)
{
    (void)a;
    CHECK_EQ(simul_threadpool_set_size(4), 0);
    CHECK_EQ(simul_threadpool_size(), 4);
    double d4 = run_n(4);
    CHECK(d4 >= 0.099 && d4 < 0.3);     /* serial would be 0.4 */
    double d8 = run_n(8);
    CHECK(d8 >= 0.199 && d8 < 0.39);    /* two rounds; serial 0.8 */
    /* Growing the running pool: 8 jobs now run at once. */
    CHECK_EQ(simul_threadpool_set_size(8), 0);
    double d8b = run_n(8);
    CHECK(d8b >= 0.099 && d8b < 0.2);
    return 0;
}
TEST(bounded_parallelism)
{
    CHECK_EQ(simul_run(main_parallel, NULL), 0);
}

TEST(size_settings)
{
    CHECK_EQ(simul_threadpool_set_size(0), -EINVAL);
    CHECK_EQ(simul_threadpool_set_size(257), -EINVAL);
    CHECK_EQ(simul_threadpool_set_size(3), 0);
    CHECK_EQ(simul_threadpool_size(), 3);
}

/* SIMUL_THREADPOOL_SIZE=1 serialises jobs (read once per process). */
static int main_env1(void *a)
{
    (void)a;
    CHECK_EQ(simul_threadpool_size(), 1);
    double d = run_n(2);
    CHECK(d >= 0.199);
    return 0;
}
TEST(env_size)
{
    setenv("SIMUL_THREADPOOL_SIZE", "1", 1);
    CHECK_EQ(simul_run(main_env1, NULL), 0);
}

/* A cancelled caller returns at once; the running job's result is handed
 * to discard exactly once, after the job finished. */
static atomic_int started, finished, discarded;
static void *slow_job(void *a)
{
    atomic_fetch_add(&started, 1);
    struct timespec ts = { 0, 200 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    atomic_fetch_add(&finished, 1);
    int *p = malloc(sizeof *p);
    *p = *(int *)a;
    return p;
}
static void discard_job(void *arg, void *result)
{
    CHECK(atomic_load(&finished) >= 1 || result == NULL);
    if (result)
        CHECK_EQ(*(int *)result, *(int *)arg);
    free(result);
    free(arg);
    atomic_fetch_add(&discarded, 1);
}
static int caller(void *a)
{
    (void)a;
    int *arg = malloc(sizeof *arg);
    *arg = 99;
    void *res = NULL;
    int r = simul_to_thread_ex(slow_job, arg, &res, discard_job);
    CHECK_EQ(r, -ECANCELED);
    CHECK(res == NULL);
    return r;
}
/* Until a pool thread has started slow_job (thread start-up takes tens of
 * ms on a loaded machine or under ASan: a fixed sleep races it). */
static void wait_started(void)
{
    for (int i = 0; i < 5000 && atomic_load(&started) == 0; i++)
        simul_sleep(0.001);
}
static int main_cancel(void *a)
{
    (void)a;
    simul_task *t = simul_spawn(caller, NULL);
    wait_started();
    CHECK_EQ(atomic_load(&started), 1);
    double t0 = simul_now();
    simul_cancel(t);
    CHECK_EQ(simul_join(t), -ECANCELED);
    CHECK(simul_now() - t0 < 0.1);           /* did not wait for the thread (0.2 s) */
    CHECK_EQ(atomic_load(&finished), 0);
    CHECK_EQ(atomic_load(&discarded), 0);
    for (int i = 0; i < 3000 && atomic_load(&discarded) == 0; i++)
        simul_sleep(0.001);                  /* the job ends meanwhile (0.2 s) */
    CHECK_EQ(atomic_load(&finished), 1);
    CHECK_EQ(atomic_load(&discarded), 1);
    return 0;
}
TEST(cancelled_caller_does_not_wait)
{
    CHECK_EQ(simul_run(main_cancel, NULL), 0);
}

/* Abandoned when the loop closes: the close waits for the job and then
 * discards its result (no leak under ASan). */
static int main_cancel_then_exit(void *a)
{
    (void)a;
    simul_task *t = simul_spawn(caller, NULL);
    wait_started();
    simul_cancel(t);
    CHECK_EQ(simul_join(t), -ECANCELED);
    return 5;
}
TEST(abandoned_job_at_loop_close)
{
    CHECK_EQ(simul_run(main_cancel_then_exit, NULL), 5);
    CHECK_EQ(atomic_load(&finished), 1);
    CHECK_EQ(atomic_load(&discarded), 1);
}

/* A queued job whose caller is cancelled never runs. */
static atomic_int ran_queued;
static void *mark_run(void *a) { (void)a; atomic_fetch_add(&ran_queued, 1); return NULL; }
static void discard_count(void *arg, void *result) { (void)arg; CHECK(result == NULL); atomic_fetch_add(&discarded, 1); }
static int caller_queued(void *a)
{
    (void)a;
    return simul_to_thread_ex(mark_run, NULL, NULL, discard_count);
}
static int main_cancel_queued(void *a)
{
    (void)a;
    CHECK_EQ(simul_threadpool_set_size(1), 0);
    simul_task *blocker = simul_spawn(call_block, NULL);
    CHECK_EQ(simul_yield(), 0);                /* blocker's job occupies the thread */
    simul_task *t = simul_spawn(caller_queued, NULL);
    CHECK_EQ(simul_yield(), 0);                /* t's job is queued */
    simul_cancel(t);
    CHECK_EQ(simul_join(t), -ECANCELED);
    CHECK_EQ(atomic_load(&discarded), 1);
    CHECK_EQ(simul_join(blocker), 0);
    CHECK_EQ(simul_sleep(0.02), 0);
    CHECK_EQ(atomic_load(&ran_queued), 0);
    return 0;
}
TEST(cancelled_queued_job_never_runs)
{
    CHECK_EQ(simul_run(main_cancel_queued, NULL), 0);
}

/* A task already cancelled does not submit anything. */
static int main_precancelled(void *a)
{
    (void)a;
    simul_scope sc;
    simul_scope_enter(&sc, INFINITY);
    simul_scope_cancel(&sc);
    CHECK_EQ(simul_to_thread(mark_run, NULL, NULL), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ECANCELED);
    CHECK_EQ(simul_sleep(0.01), 0);
    CHECK_EQ(atomic_load(&ran_queued), 0);
    return 0;
}
TEST(cancelled_before_submit)
{
    CHECK_EQ(simul_run(main_precancelled, NULL), 0);
}

/* Only a job in flight: the deadlock detector must not fire (the ref). */
static int main_only_job(void *a)
{
    (void)a;
    void *r;
    CHECK_EQ(simul_to_thread(block_100ms, NULL, &r), 0);
    CHECK_EQ((intptr_t)r, 7);
    return 0;
}
TEST(in_flight_job_is_not_a_deadlock)
{
    CHECK_EQ(simul_run(main_only_job, NULL), 0);
}

/* Many tasks hammering the pool at once. */
static int hammer(void *a)
{
    for (intptr_t i = 0; i < 200; i++) {
        void *r;
        int e = simul_to_thread(twice, (void *)(i + (intptr_t)a), &r);
        if (e < 0)
            return e;
        if ((intptr_t)r != 2 * (i + (intptr_t)a))
            return -EIO;
    }
    return 0;
}
static int main_hammer(void *a)
{
    (void)a;
    simul_task *ts[50];
    int res[50];
    for (intptr_t i = 0; i < 50; i++)
        ts[i] = simul_spawn(hammer, (void *)(i * 1000));
    CHECK_EQ(simul_gather(ts, 50, res, SIMUL_GATHER_COLLECT), 0);
    for (int i = 0; i < 50; i++)
        CHECK_EQ(res[i], 0);
    return 0;
}
TEST(many_tasks_many_jobs)
{
    CHECK_EQ(simul_run(main_hammer, NULL), 0);
}

/* Two loops in two threads each have their own pool. */
static void *loop_thread_fn(void *a)
{
    (void)a;
    return (void *)(intptr_t)simul_run(main_hammer, NULL);
}
TEST(pools_are_per_loop)
{
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, loop_thread_fn, NULL);
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(th[i], &r);
        CHECK_EQ((intptr_t)r, 0);
    }
}
