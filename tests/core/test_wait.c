/*
 * test_wait.c - the one wait primitive and the one deadline helper: every
 * waiting call (sleep, queue put/get/join, semaphore, lock, event,
 * condition, barrier, select, fd) obeys the same deadline contract - a
 * future deadline ends the wait with -ETIMEDOUT no earlier than it, a past
 * one fails at once without suspending, INFINITY waits until a cancel, NaN
 * is -EINVAL - and a wait ended early leaves no timer behind.
 */
#include "harness.h"

/* Both halves of the library's deadline code in one unit: they used to
 * define simul__deadline_ns twice, incompatibly. */
#include "../../src/io/net_internal.h"
#include "../../src/sync/sync_internal.h"

#include <math.h>
#include <unistd.h>
#include <simul.h>
#include <simul/net.h>
#include <simul/sync.h>

enum { P_QPUT, P_QGET, P_QJOIN, P_SEM, P_LOCK, P_EVENT, P_COND, P_BARRIER, P_SELECT,
       P_FD, P_COUNT };
static const char *const pname[P_COUNT] = { "queue put", "queue get", "queue join",
    "semaphore", "lock", "event", "condition", "barrier", "select", "fd" };

/* Objects each primitive blocks on (set up by setup(), freed by teardown()). */
static simul_queue *full, *empty, *unfinished;
static simul_sem *zero;
static simul_lock *held, *condlock;
static simul_event *unset;
static simul_cond *cond;
static simul_barrier *bar;
static int pipefd[2];

static int hold_lock(void *a)
{
    (void)a;
    return simul_lock_acquire(held) == 0 ? simul_sleep(INFINITY) : -1;
}

static simul_task *holder;
static void setup(void)
{
    full = simul_queue_new(1);
    simul_queue_put_nowait(full, (void *)1);
    empty = simul_queue_new(0);
    unfinished = simul_queue_new(0);
    simul_queue_put_nowait(unfinished, (void *)1);
    zero = simul_sem_new(0);
    held = simul_lock_new();
    holder = simul_spawn(hold_lock, NULL);
    simul_yield();
    condlock = simul_lock_new();
    cond = simul_cond_new(condlock);
    unset = simul_event_new();
    bar = simul_barrier_new(2);
    CHECK_EQ(pipe(pipefd), 0);
}
static void teardown(void)
{
    simul_cancel(holder);
    simul_join(holder);
    simul_queue_free(full);
    simul_queue_free(empty);
    simul_queue_free(unfinished);
    simul_sem_free(zero);
    simul_cond_free(cond);
    simul_lock_free(condlock);
    simul_lock_free(held);
    simul_event_free(unset);
    simul_barrier_free(bar);
    close(pipefd[0]);
    close(pipefd[1]);
}

static int wait_on(int p, double deadline)
{
    void *item;
    int r;
    switch (p) {
    case P_QPUT:  return simul_queue_put_until(full, (void *)2, deadline);
    case P_QGET:  return simul_queue_get_until(empty, &item, deadline);
    case P_QJOIN: return simul_queue_join_until(unfinished, deadline);
    case P_SEM:   return simul_sem_acquire_until(zero, deadline);
    case P_LOCK:  return simul_lock_acquire_until(held, deadline);
    case P_EVENT: return simul_event_wait_until(unset, deadline);
    case P_COND:
        if (simul_lock_acquire(condlock))
            return -999;
        r = simul_cond_wait_until(cond, deadline);
        simul_lock_release(condlock);
        return r;
    case P_BARRIER: return simul_barrier_wait_until(bar, deadline);
    case P_SELECT: {
        simul_select_case c = { .kind = SIMUL_SELECT_GET, .queue = empty };
        return simul_select(&c, 1, deadline);
    }
    default:
        r = simul_wait_fd(pipefd[0], SIMUL_READABLE, deadline);
        return r;
    }
}

static int ran;
static int mark_ran(void *a)
{
    (void)a;
    ran = 1;
    return 0;
}

static int m_deadlines(void *a)
{
    (void)a;
    setup();
    for (int p = 0; p < P_COUNT; p++) {
        /* A deadline in the future: -ETIMEDOUT, not before it. */
        double t0 = simul_now();
        int r = wait_on(p, t0 + 0.02);
        double took = simul_now() - t0;
        if (r != -ETIMEDOUT || took < 0.0195 || took > 2.0)
            fprintf(stderr, "  %s: future deadline gave %d after %.4f s\n", pname[p], r, took);
        CHECK_EQ(r, -ETIMEDOUT);
        CHECK(took >= 0.0195 && took < 2.0);

        /* A deadline already past: -ETIMEDOUT at once, without suspending
         * (a task made ready before the call has not run after it). */
        ran = 0;
        simul_task *t = simul_spawn(mark_ran, NULL);
        r = wait_on(p, simul_now() - 1);
        if (r != -ETIMEDOUT || ran)
            fprintf(stderr, "  %s: past deadline gave %d, suspended %d\n", pname[p], r, ran);
        CHECK_EQ(r, -ETIMEDOUT);
        CHECK_EQ(ran, 0);
        CHECK_EQ(simul_join(t), 0);
        r = wait_on(p, -INFINITY);
        CHECK_EQ(r, -ETIMEDOUT);

        /* INFINITY: only the cancel (here an expiring scope) ends it. */
        simul_scope sc;
        t0 = simul_now();
        CHECK_EQ(simul_scope_enter(&sc, t0 + 0.02), 0);
        r = wait_on(p, INFINITY);
        CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
        if (r != -ECANCELED)
            fprintf(stderr, "  %s: INFINITY + expired scope gave %d\n", pname[p], r);
        CHECK_EQ(r, -ECANCELED);
        CHECK(simul_now() - t0 >= 0.0195);

        /* NaN is refused before anything else. */
        r = wait_on(p, NAN);
        if (r != -EINVAL)
            fprintf(stderr, "  %s: NaN gave %d\n", pname[p], r);
        CHECK_EQ(r, -EINVAL);
    }
    teardown();
    return 0;
}
TEST(every_wait_obeys_the_same_deadline_contract) { CHECK_EQ(simul_run(m_deadlines, NULL), 0); }

/* A wait woken before its deadline disarms the deadline: the same task's
 * next (deadline-less) wait is not ended by the old timer. */
static simul_event *ev;
static int set_later(void *a)
{
    simul_sleep(*(double *)a);
    simul_event_set(ev);
    return 0;
}
static simul_queue *gq;
static int put_later(void *a)
{
    (void)a;
    simul_sleep(0.005);
    return simul_queue_put_nowait(gq, (void *)1);
}
static int m_no_stale_timer(void *a)
{
    (void)a;
    ev = simul_event_new();
    gq = simul_queue_new(0);
    for (int p = 0; p < 2; p++) {
        double t0 = simul_now();
        void *item;
        if (p == 0) {
            simul_task *pt = simul_spawn(put_later, NULL);
            CHECK_EQ(simul_queue_get_until(gq, &item, t0 + 0.03), 0);
            CHECK_EQ(simul_join(pt), 0);
        } else {
            /* woken by a sleep's own timer path: simul_sleep then a wait */
            CHECK_EQ(simul_sleep(0.005), 0);
        }
        double later = 0.06;
        simul_event_clear(ev);
        simul_task *t = simul_spawn(set_later, &later);
        CHECK_EQ(simul_event_wait(ev), 0);
        CHECK(simul_now() - t0 >= 0.055);
        CHECK_EQ(simul_join(t), 0);
    }
    simul_queue_free(gq);
    simul_event_free(ev);
    return 0;
}
TEST(a_wait_woken_early_leaves_no_timer_behind) { CHECK_EQ(simul_run(m_no_stale_timer, NULL), 0); }

/* Sleep: a past time still yields once (asyncio.sleep); a relative
 * timeout and an absolute deadline meet the same clock. */
static int m_sleep(void *a)
{
    (void)a;
    ran = 0;
    simul_task *t = simul_spawn(mark_ran, NULL);
    CHECK_EQ(simul_sleep(1e-12), 0);
    CHECK_EQ(ran, 1);
    CHECK_EQ(simul_join(t), 0);
    double t0 = simul_now();
    CHECK_EQ(simul_sleep(0.01), 0);
    CHECK(simul_now() - t0 >= 0.0095);
    CHECK_EQ(simul_sleep(-1), -EINVAL);
    CHECK_EQ(simul_sleep(NAN), -EINVAL);
    return 0;
}
TEST(sleep_suspends_even_for_a_time_already_past) { CHECK_EQ(simul_run(m_sleep, NULL), 0); }

TEST(one_deadline_helper_for_absolute_times)
{
    CHECK_EQ(simul__deadline_ns(INFINITY), SIMUL__NO_DEADLINE);
    CHECK_EQ(simul__deadline_ns(1e10), SIMUL__NO_DEADLINE);
    CHECK_EQ(simul__deadline_ns(-INFINITY), 0);
    CHECK_EQ(simul__deadline_ns(-5), 0);
    CHECK_EQ(simul__deadline_ns(0), 0);
    CHECK_EQ(simul__deadline_ns(1.5), 1500000000LL);
}
