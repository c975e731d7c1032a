/*
 * test_future.c - futures: set from a loop callback, another task and
 * another thread; errors and cancellation; deadlines; several waiters;
 * done callbacks (order, after-done, removal, freeing inside); a cancelled
 * waiter cancels the future; freeing wakes waiters.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
#include <simul.h>

static int x = 42;

static void set_from_callback(void *f)
{
    CHECK_EQ(simul_future_set_result(f, &x), 0);
    CHECK_EQ(simul_future_set_result(f, NULL), -EALREADY);   /* one-shot */
    CHECK_EQ(simul_future_set_error(f, -EIO), -EALREADY);
}
static int main_callback_sets(void *a)
{
    (void)a;
    simul_future *f = simul_future_new();
    CHECK(f != NULL);
    CHECK_EQ(simul_future_done(f), 0);
    void *v = NULL;
    CHECK_EQ(simul_future_result(f, &v), -EAGAIN);
    CHECK_EQ(simul_call_later(0.01, set_from_callback, f), 0);
    CHECK_EQ(simul_future_wait(f, &v), 0);
    CHECK(v == &x);
    CHECK_EQ(simul_future_done(f), 1);
    CHECK_EQ(simul_future_cancelled(f), 0);
    v = NULL;
    CHECK_EQ(simul_future_wait(f, &v), 0);     /* done: at once */
    CHECK(v == &x);
    CHECK_EQ(simul_future_result(f, &v), 0);
    simul_future_free(f);
    return 0;
}
TEST(a_loop_callback_sets_the_result_a_task_awaits)
{
    CHECK_EQ(simul_run(main_callback_sets, NULL), 0);
    errno = 0;
    CHECK(simul_future_new() == NULL);
    CHECK_EQ(errno, EPERM);
}

static int waiter(void *f)
{
    void *v;
    int r = simul_future_wait(f, &v);
    return r < 0 ? r : (int)(intptr_t)v;
}
static int main_many_waiters_and_errors(void *a)
{
    (void)a;
    simul_future *f = simul_future_new();
    simul_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = simul_spawn(waiter, f);
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK_EQ(simul_future_set_result(f, (void *)(intptr_t)7), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(simul_join(t[i]), 7);          /* every waiter gets it */
    simul_future_free(f);

    f = simul_future_new();
    CHECK_EQ(simul_future_set_error(f, 5), -EINVAL);
    simul_task *w = simul_spawn(waiter, f);
    CHECK_EQ(simul_yield(), 0);
    CHECK_EQ(simul_future_set_error(f, -ECONNRESET), 0);
    simul_future_free(f);                        /* free right away: fine */
    CHECK_EQ(simul_join(w), -ECONNRESET);
    return 0;
}
TEST(several_tasks_await_one_future_and_errors_arrive)
{
    CHECK_EQ(simul_run(main_many_waiters_and_errors, NULL), 0);
}

static int main_deadline_and_cancel(void *a)
{
    (void)a;
    simul_future *f = simul_future_new();
    double t0 = simul_now();
    CHECK_EQ(simul_future_wait_until(f, NULL, t0 + 0.02), -ETIMEDOUT);
    CHECK(simul_now() - t0 >= 0.019);
    CHECK_EQ(simul_future_done(f), 0);            /* a timeout leaves it pending */
    CHECK_EQ(simul_future_wait_until(f, NULL, t0 - 1), -ETIMEDOUT);
    CHECK_EQ(simul_future_wait_until(f, NULL, NAN), -EINVAL);
    /* a cancelled waiter cancels the future (as awaiting one in asyncio) */
    simul_task *w = simul_spawn(waiter, f);
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK_EQ(simul_cancel(w), 0);
    CHECK_EQ(simul_join(w), -ECANCELED);
    CHECK_EQ(simul_future_cancelled(f), 1);
    CHECK_EQ(simul_future_wait(f, NULL), -ECANCELED);
    CHECK_EQ(simul_future_result(f, NULL), -ECANCELED);
    simul_future_free(f);
    /* cancelling the future wakes its waiters with -ECANCELED */
    f = simul_future_new();
    w = simul_spawn(waiter, f);
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK_EQ(simul_future_cancel(f), 0);
    CHECK_EQ(simul_future_cancel(f), -EALREADY);
    CHECK_EQ(simul_join(w), -ECANCELED);
    simul_future_free(f);
    /* freeing wakes waiters with -EIDRM */
    f = simul_future_new();
    w = simul_spawn(waiter, f);
    CHECK_EQ(simul_sleep(0.005), 0);
    simul_future_free(f);
    CHECK_EQ(simul_join(w), -EIDRM);
    return 0;
}
TEST(deadlines_cancellation_and_free)
{
    CHECK_EQ(simul_run(main_deadline_and_cancel, NULL), 0);
}

static char order[16];
static size_t norder;
static void note(simul_future *f, void *arg)
{
    (void)f;
    order[norder++] = *(const char *)arg;
}
static void note_and_free(simul_future *f, void *arg)
{
    note(f, arg);
    simul_future_free(f);
}
static int main_done_callbacks(void *a)
{
    (void)a;
    simul_future *f = simul_future_new();
    CHECK_EQ(simul_future_add_done_callback(f, note, "a"), 0);
    CHECK_EQ(simul_future_add_done_callback(f, note, "x"), 0);
    CHECK_EQ(simul_future_add_done_callback(f, note, "b"), 0);
    CHECK_EQ(simul_future_remove_done_callback(f, note, "x"), 1);
    CHECK_EQ(simul_future_set_result(f, NULL), 0);
    CHECK_EQ(norder, 0);                  /* never inside the setter */
    CHECK_EQ(simul_yield(), 0);
    CHECK_EQ(norder, 2);
    CHECK(order[0] == 'a' && order[1] == 'b');
    CHECK_EQ(simul_future_add_done_callback(f, note_and_free, "c"), 0);  /* already done */
    CHECK_EQ(norder, 2);
    CHECK_EQ(simul_yield(), 0);
    CHECK_EQ(norder, 3);
    CHECK_EQ(order[2], 'c');
    /* the cap on pending callbacks */
    f = simul_future_new();
    int r = 0;
    for (int i = 0; i <= SIMUL_FUTURE_CALLBACKS_MAX && r == 0; i++)
        r = simul_future_add_done_callback(f, note, "z");
    CHECK_EQ(r, -ENOSPC);
    CHECK_EQ(simul_future_remove_done_callback(f, note, "z"), SIMUL_FUTURE_CALLBACKS_MAX);
    simul_future_free(f);
    return 0;
}
TEST(done_callbacks_run_on_the_loop_in_order_and_may_free)
{
    CHECK_EQ(simul_run(main_done_callbacks, NULL), 0);
}

static void *thread_sets(void *f)
{
    usleep(20 * 1000);
    simul_future_set_result_threadsafe(f, (void *)(intptr_t)99);
    simul_future_set_error_threadsafe(f, -EIO);      /* loses: first wins */
    return NULL;
}
static int main_threadsafe(void *a)
{
    (void)a;
    simul_future *f = simul_future_new();
    simul_loop_ref(simul_loop_current());   /* the thread will wake us */
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, thread_sets, f), 0);
    void *v = NULL;
    CHECK_EQ(simul_future_wait(f, &v), 0);
    CHECK_EQ((intptr_t)v, 99);
    pthread_join(th, NULL);
    simul_loop_unref(simul_loop_current());
    simul_future_free(f);                    /* the losing set may still be queued */
    CHECK_EQ(simul_future_set_error_threadsafe(NULL, -EIO), -EINVAL);
    return 0;
}
TEST(another_thread_sets_the_result)
{
    CHECK_EQ(simul_run(main_threadsafe, NULL), 0);
}

static void *set_from_wrong_thread(void *f)
{
    return (void *)(intptr_t)simul_future_set_result(f, NULL);
}
static int main_wrong_thread(void *a)
{
    (void)a;
    simul_future *f = simul_future_new();
    pthread_t th;
    void *r;
    pthread_create(&th, NULL, set_from_wrong_thread, f);
    pthread_join(th, &r);
    CHECK_EQ((intptr_t)r, -EPERM);
    simul_future_free(f);
    return 0;
}
TEST(the_plain_setters_refuse_other_threads)
{
    CHECK_EQ(simul_run(main_wrong_thread, NULL), 0);
}

/* The main task returns right after setting a future whose done callback
 * is queued: the callback still runs before the loop closes, and the
 * future (held by that queued run) is freed - ASan and valgrind see it. */
static int self_requeues;
static void requeue(void *arg)
{
    (void)arg;
    self_requeues++;
    simul_call_soon(requeue, NULL);   /* forever: the close stops it */
}
static int main_returns_with_callbacks_queued(void *a)
{
    (void)a;
    norder = 0;
    simul_future *f = simul_future_new();
    CHECK_EQ(simul_future_add_done_callback(f, note, "q"), 0);
    CHECK_EQ(simul_future_set_result(f, NULL), 0);
    simul_future_free(f);                 /* the queued run holds it */
    CHECK_EQ(simul_call_soon(requeue, NULL), 0);
    return 0;
}
TEST(callbacks_queued_when_main_returns_run_before_the_close)
{
    self_requeues = 0;
    CHECK_EQ(simul_run(main_returns_with_callbacks_queued, NULL), 0);
    CHECK_EQ(norder, 1);
    CHECK_EQ(order[0], 'q');
    CHECK(self_requeues >= 1 && self_requeues <= 200);   /* bounded, not forever */
}
