/*
 * test_loops.c - loops across cores: simul_run_loops starts N loops on N
 * threads (loop 0 on the caller's), gives each its index, joins them and
 * returns the first failure after cancelling the other mains; a loop whose
 * main returned keeps serving the others until every main is done; SIGINT
 * (loop 0's) makes the group return -EINTR.
 * simul_spawn_on runs a function on another loop and completes a future of
 * the caller's loop with its result or error; cancellation goes both ways;
 * a loop that is closing answers -ESHUTDOWN; simul_run_on does the same for
 * a plain thread. The TSan build runs this program too (tests/run.sh).
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <simul.h>

#define I(x) ((void *)(intptr_t)(x))
#define V(p) ((int)(intptr_t)(p))

/* ---- simul_run_loops ------------------------------------------------------------ */

#define NL 4

static struct {
    pthread_t  thread[NL];
    simul_loop *loop[NL];
    atomic_int seen[NL];
    atomic_int count_ok, cancelled, served;
    atomic_int go;
} g;

static int each_main(void *arg)
{
    (void)arg;
    int i = simul_loop_index();
    if (i < 0 || i >= NL || simul_loop_count() != NL)
        return -EINVAL;
    g.thread[i] = pthread_self();
    g.loop[i] = simul_loop_current();
    if (simul_loop_at(i) != simul_loop_current() || simul_loop_at(NL) != NULL ||
        simul_loop_at(-1) != NULL)
        return -EINVAL;
    for (int j = 0; j < NL; j++)
        if (!simul_loop_at(j))
            return -EINVAL;
    atomic_fetch_add(&g.seen[i], 1);
    return simul_sleep(0.005);
}

TEST(run_loops_starts_n_loops_on_n_threads_and_joins_them)
{
    memset(&g, 0, sizeof g);
    pthread_t me = pthread_self();
    CHECK_EQ(simul_run_loops(NL, each_main, NULL, NULL), 0);
    for (int i = 0; i < NL; i++) {
        CHECK_EQ(atomic_load(&g.seen[i]), 1);
        for (int j = 0; j < i; j++)
            CHECK(!pthread_equal(g.thread[i], g.thread[j]));
    }
    CHECK(pthread_equal(g.thread[0], me));     /* loop 0 is the caller's */
    CHECK(simul_loop_current() == NULL);
    CHECK_EQ(simul_loop_index(), -EPERM);
}

static int fail_one(void *arg)
{
    (void)arg;
    if (simul_loop_index() == 2) {
        simul_sleep(0.01);
        return -EIO;
    }
    /* The others wait for ever: the failure must cancel them. */
    int r = simul_sleep(INFINITY);
    if (r == -ECANCELED)
        atomic_fetch_add(&g.cancelled, 1);
    return r;
}

TEST(the_first_failure_cancels_the_other_mains_and_is_returned)
{
    memset(&g, 0, sizeof g);
    CHECK_EQ(simul_run_loops(NL, fail_one, NULL, NULL), -EIO);
    CHECK_EQ(atomic_load(&g.cancelled), NL - 1);
}

static int fail_two(void *arg)
{
    (void)arg;
    int i = simul_loop_index();
    if (i == 1)
        return -ENOENT;              /* first, at once */
    if (i == 3) {
        /* Cancelled by the first failure, then fails too: not returned. */
        simul_sleep(INFINITY);
        return -EIO;
    }
    return simul_sleep(INFINITY) == -ECANCELED ? 0 : -EINVAL;
}

TEST(only_the_first_failure_is_returned)
{
    CHECK_EQ(simul_run_loops(NL, fail_two, NULL, NULL), -ENOENT);
}

/* A main that was cancelled by the group before it first ran still runs
 * (so its loop takes part in the group's end) and sees the cancel at its
 * first suspension point. */
static int fail_at_once(void *arg)
{
    (void)arg;
    if (simul_loop_index() == 0)
        return -EPIPE;
    return simul_sleep(INFINITY) == -ECANCELED ? 0 : -EINVAL;
}

TEST(a_failure_before_the_others_ran_still_ends_the_group)
{
    for (int round = 0; round < 20; round++)
        CHECK_EQ(simul_run_loops(NL, fail_at_once, NULL, NULL), -EPIPE);
}

static int bump(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
    return 7;
}

/* Loop 1 returns at once; loop 0 calls it 20 ms later: still open. */
static int early_return(void *arg)
{
    (void)arg;
    if (simul_loop_index() == 1)
        return 0;
    simul_sleep(0.02);
    simul_future *f;
    CHECK_EQ(simul_spawn_on(simul_loop_at(1), bump, &g.served, &f), 0);
    void *v = NULL;
    CHECK_EQ(simul_future_wait(f, &v), 0);
    CHECK_EQ(V(v), 7);
    simul_future_free(f);
    return 0;
}

TEST(a_loop_whose_main_returned_serves_the_others_until_all_are_done)
{
    memset(&g, 0, sizeof g);
    CHECK_EQ(simul_run_loops(2, early_return, NULL, NULL), 0);
    CHECK_EQ(atomic_load(&g.served), 1);
}

static int count_cpus_main(void *arg)
{
    (void)arg;
    atomic_fetch_add(&g.count_ok, 1);
    return 0;
}

TEST(zero_loops_means_one_per_cpu_and_pinning_works)
{
    memset(&g, 0, sizeof g);
    cpu_set_t cs;
    CHECK_EQ(sched_getaffinity(0, sizeof cs, &cs), 0);
    simul_loops_opts o = { .pin = 1 };
    CHECK_EQ(simul_run_loops(0, count_cpus_main, NULL, &o), 0);
    CHECK_EQ(atomic_load(&g.count_ok), CPU_COUNT(&cs));
}

static int inner_run(void *arg)
{
    (void)arg;
    return simul_run_loops(2, count_cpus_main, NULL, NULL) == -EBUSY ? 0 : -EINVAL;
}

TEST(run_loops_refuses_bad_arguments_and_a_thread_with_a_loop)
{
    CHECK_EQ(simul_run_loops(2, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(simul_run_loops(SIMUL_LOOPS_MAX + 1, count_cpus_main, NULL, NULL), -EINVAL);
    CHECK_EQ(simul_run(inner_run, NULL), 0);
    /* A lone loop is loop 0 of 1. */
    CHECK_EQ(simul_loop_count(), -EPERM);
    CHECK(simul_loop_at(0) == NULL);
}

static int lone(void *arg)
{
    (void)arg;
    if (simul_loop_index() != 0 || simul_loop_count() != 1 ||
        simul_loop_at(0) != simul_loop_current() || simul_loop_at(1) != NULL)
        return -EINVAL;
    return 0;
}

TEST(a_lone_loop_is_loop_0_of_1)
{
    CHECK_EQ(simul_run(lone, NULL), 0);
}

/* ---- simul_spawn_on --------------------------------------------------------------- */

static struct {
    atomic_int  started, cancelled_there, ran_on_wrong;
    pthread_t   owner;
    simul_loop *closing;
    atomic_int  closing_ready, closing_go;
} so;

static int remote_ok(void *arg)
{
    if (!pthread_equal(pthread_self(), so.owner))
        atomic_store(&so.ran_on_wrong, 1);
    simul_sleep(0.001);
    return V(arg) * 2;
}

static int remote_fail(void *arg)
{
    (void)arg;
    return -ENOEXEC;
}

static int remote_sleeper(void *arg)
{
    (void)arg;
    atomic_fetch_add(&so.started, 1);
    int r = simul_sleep(INFINITY);
    if (r == -ECANCELED)
        atomic_fetch_add(&so.cancelled_there, 1);
    return r;
}

/* Loop 1 waits; loop 0 does the calls. */
static int spawn_on_main(void *arg)
{
    (void)arg;
    if (simul_loop_index() == 1) {
        so.owner = pthread_self();
        return 0;                    /* stays open while loop 0 runs */
    }
    simul_sleep(0.005);
    simul_loop *other = simul_loop_at(1);
    simul_future *f;
    void *v = NULL;

    /* a result */
    CHECK_EQ(simul_spawn_on(other, remote_ok, I(21), &f), 0);
    CHECK_EQ(simul_future_wait(f, &v), 0);
    CHECK_EQ(V(v), 42);
    simul_future_free(f);

    /* an error */
    CHECK_EQ(simul_spawn_on(other, remote_fail, NULL, &f), 0);
    CHECK_EQ(simul_future_wait(f, &v), -ENOEXEC);
    CHECK_EQ(simul_future_cancelled(f), 0);
    simul_future_free(f);

    /* a cancelled waiter cancels the remote task */
    CHECK_EQ(simul_spawn_on(other, remote_sleeper, NULL, &f), 0);
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + 0.02);
    CHECK_EQ(simul_future_wait(f, &v), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    CHECK_EQ(simul_future_cancelled(f), 1);
    simul_future_free(f);
    while (atomic_load(&so.cancelled_there) < 1)
        simul_sleep(0.001);

    /* simul_future_cancel before it even started there */
    CHECK_EQ(simul_spawn_on(other, remote_sleeper, NULL, &f), 0);
    CHECK_EQ(simul_future_cancel(f), 0);
    simul_future_free(f);

    /* a future freed while the remote task runs: it runs on, nothing leaks */
    CHECK_EQ(simul_spawn_on(other, remote_ok, I(1), &f), 0);
    simul_future_free(f);

    /* on its own loop */
    CHECK_EQ(simul_spawn_on(simul_loop_current(), remote_fail, NULL, &f), 0);
    CHECK_EQ(simul_future_wait(f, NULL), -ENOEXEC);
    simul_future_free(f);

    CHECK_EQ(simul_spawn_on(NULL, remote_ok, NULL, &f), -EINVAL);
    CHECK_EQ(simul_spawn_on(other, NULL, NULL, &f), -EINVAL);
    CHECK_EQ(simul_spawn_on(other, remote_ok, NULL, NULL), -EINVAL);
    return 0;
}

TEST(spawn_on_returns_results_errors_and_cancels_the_remote_task)
{
    memset(&so, 0, sizeof so);
    CHECK_EQ(simul_run_loops(2, spawn_on_main, NULL, NULL), 0);
    CHECK_EQ(atomic_load(&so.ran_on_wrong), 0);
    CHECK(atomic_load(&so.cancelled_there) >= 1);
}

/* The remote task cancelled on its own loop: the future is cancelled. */
static struct {
    simul_task *victim;
    atomic_int  ready;
} rc;

static int victim_fn(void *arg)
{
    (void)arg;
    rc.victim = simul_current();
    atomic_store(&rc.ready, 1);
    return simul_sleep(INFINITY);
}

static int canceller(void *arg)
{
    (void)arg;
    while (!atomic_load(&rc.ready))
        simul_sleep(0.001);
    return simul_cancel(rc.victim);
}

static int cancel_there_main(void *arg)
{
    (void)arg;
    if (simul_loop_index() == 1)
        return 0;
    simul_future *f, *g2;
    CHECK_EQ(simul_spawn_on(simul_loop_at(1), victim_fn, NULL, &f), 0);
    CHECK_EQ(simul_spawn_on(simul_loop_at(1), canceller, NULL, &g2), 0);
    CHECK_EQ(simul_future_wait(f, NULL), -ECANCELED);
    CHECK_EQ(simul_future_cancelled(f), 1);
    CHECK_EQ(simul_future_wait(g2, NULL), 0);
    simul_future_free(f);
    simul_future_free(g2);
    return 0;
}

TEST(spawn_on_a_task_cancelled_on_its_loop_cancels_the_future)
{
    memset(&rc, 0, sizeof rc);
    CHECK_EQ(simul_run_loops(2, cancel_there_main, NULL, NULL), 0);
}

/* A loop that closes: before the call (-ESHUTDOWN at once), and while the
 * function runs there (the future completes with -ESHUTDOWN). */
static int closing_main(void *arg)
{
    (void)arg;
    so.closing = simul_loop_current();
    simul_loop_ref(so.closing);      /* its memory, for the other thread */
    atomic_store(&so.closing_ready, 1);
    while (!atomic_load(&so.closing_go))
        simul_sleep(0.001);
    return 0;                        /* closes with remote_sleeper running */
}

static void *closing_thread(void *p)
{
    (void)p;
    CHECK_EQ(simul_run(closing_main, NULL), 0);
    return NULL;
}

static int closing_caller(void *arg)
{
    (void)arg;
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, closing_thread, NULL), 0);
    while (!atomic_load(&so.closing_ready))
        simul_sleep(0.001);
    simul_future *f;
    CHECK_EQ(simul_spawn_on(so.closing, remote_sleeper, NULL, &f), 0);
    while (atomic_load(&so.started) < 1)
        simul_sleep(0.001);
    atomic_store(&so.closing_go, 1);
    CHECK_EQ(simul_future_wait(f, NULL), -ESHUTDOWN);
    simul_future_free(f);
    pthread_join(th, NULL);
    CHECK_EQ(simul_spawn_on(so.closing, remote_ok, NULL, &f), -ESHUTDOWN);
    CHECK(f == NULL);
    simul_loop_unref(so.closing);
    return 0;
}

TEST(spawn_on_a_closing_loop_answers_eshutdown)
{
    memset(&so, 0, sizeof so);
    CHECK_EQ(simul_run(closing_caller, NULL), 0);
}

/* ---- simul_run_on: a plain thread ------------------------------------------------ */

static struct {
    atomic_int  ready, stop;
    simul_loop *loop;
    int         results[3];
} ro;

static void *plain_thread(void *p)
{
    (void)p;
    ro.results[0] = simul_run_on(ro.loop, remote_ok, I(5));
    ro.results[1] = simul_run_on(ro.loop, remote_fail, NULL);
    atomic_store(&ro.stop, 1);
    return NULL;
}

static int run_on_main(void *arg)
{
    (void)arg;
    so.owner = pthread_self();
    ro.loop = simul_loop_current();
    CHECK_EQ(simul_run_on(ro.loop, remote_ok, NULL), -EBUSY);
    simul_loop_ref(ro.loop);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, plain_thread, NULL), 0);
    while (!atomic_load(&ro.stop))
        simul_sleep(0.001);
    pthread_join(th, NULL);
    return 0;
}

TEST(run_on_blocks_a_plain_thread_for_the_result)
{
    memset(&ro, 0, sizeof ro);
    memset(&so, 0, sizeof so);
    CHECK_EQ(simul_run(run_on_main, NULL), 0);
    CHECK_EQ(ro.results[0], 10);
    CHECK_EQ(ro.results[1], -ENOEXEC);
    /* the loop has closed; its memory is held */
    CHECK_EQ(simul_run_on(ro.loop, remote_ok, NULL), -ESHUTDOWN);
    simul_loop_unref(ro.loop);
}

/* SIGINT reaches loop 0 (the only one with .signals): its main is
 * cancelled, the group's result is -EINTR, and the other mains are
 * cancelled - whichever thread the kernel gives the signal to. */
static int sigint_main(void *arg)
{
    (void)arg;
    if (simul_loop_index() == 1) {
        simul_sleep(0.01);
        kill(getpid(), SIGINT);
    }
    int r = simul_sleep(INFINITY);
    if (r == -ECANCELED)
        atomic_fetch_add(&g.cancelled, 1);
    return r;
}

TEST(sigint_cancels_every_main_and_the_group_returns_eintr)
{
    memset(&g, 0, sizeof g);
    CHECK_EQ(simul_run_loops(2, sigint_main, NULL, NULL), -EINTR);
    CHECK_EQ(atomic_load(&g.cancelled), 2);
}
