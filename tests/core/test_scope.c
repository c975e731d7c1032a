/*
 * test_scope.c - cancel scopes (asyncio.timeout / trio move_on_at):
 * deadlines, nesting, shields, rescheduling, and the rule that an inner
 * scope never swallows an outer cancellation.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <simul.h>

static int main_expire(void *a)
{
    (void)a;
    simul_scope sc;
    double t0 = simul_now();
    CHECK_EQ(simul_scope_enter(&sc, t0 + 0.02), 0);
    CHECK_EQ(simul_sleep(10), -ECANCELED);
    CHECK_EQ(simul_yield(), -ECANCELED);    /* still inside an expired scope */
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    double el = simul_now() - t0;
    CHECK(el >= 0.019 && el < 0.5);
    CHECK_EQ(simul_sleep(0.001), 0);        /* outside: fine again */
    return 0;
}
TEST(a_scope_deadline_cancels_waits_and_exit_says_ETIMEDOUT)
{
    CHECK_EQ(simul_run(main_expire, NULL), 0);
}

static int main_no_expire(void *a)
{
    (void)a;
    simul_scope sc;
    CHECK_EQ(simul_scope_enter(&sc, simul_now() + 5), 0);
    CHECK_EQ(simul_sleep(0.001), 0);
    CHECK_EQ(simul_scope_cancelled(&sc), 0);
    CHECK_EQ(simul_scope_exit(&sc), 0);
    return 0;
}
TEST(a_scope_that_does_not_expire_exits_with_0)
{
    CHECK_EQ(simul_run(main_no_expire, NULL), 0);
}

static int main_past(void *a)
{
    (void)a;
    simul_scope sc;
    CHECK_EQ(simul_scope_enter(&sc, simul_now() - 1), 0);
    CHECK_EQ(simul_yield(), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    return 0;
}
TEST(a_deadline_in_the_past_cancels_the_first_suspension)
{
    CHECK_EQ(simul_run(main_past, NULL), 0);
}

static int main_nested(void *a)
{
    (void)a;
    simul_scope outer, inner;
    double now = simul_now();
    CHECK_EQ(simul_scope_enter(&outer, now + 0.01), 0);
    CHECK_EQ(simul_scope_enter(&inner, now + 10), 0);
    CHECK_EQ(simul_sleep(1), -ECANCELED);
    /* the inner scope did not expire; the outer did: not swallowed */
    CHECK_EQ(simul_scope_exit(&inner), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&outer), -ETIMEDOUT);
    return 0;
}
TEST(an_inner_scope_does_not_swallow_an_outer_deadline)
{
    CHECK_EQ(simul_run(main_nested, NULL), 0);
}

static int main_both(void *a)
{
    (void)a;
    simul_scope outer, inner;
    double now = simul_now();
    CHECK_EQ(simul_scope_enter(&outer, now + 0.01), 0);
    CHECK_EQ(simul_scope_enter(&inner, now + 0.01), 0);
    CHECK_EQ(simul_sleep(1), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&inner), -ECANCELED); /* outer still cancelling */
    CHECK_EQ(simul_scope_exit(&outer), -ETIMEDOUT);
    return 0;
}
TEST(both_expired_the_outer_still_reports_its_timeout)
{
    CHECK_EQ(simul_run(main_both, NULL), 0);
}

static int main_shield(void *a)
{
    (void)a;
    simul_scope outer, sh;
    CHECK_EQ(simul_scope_enter(&outer, simul_now() + 0.01), 0);
    CHECK_EQ(simul_sleep(1), -ECANCELED);
    /* cleanup that must wait: a shielded scope hides the outer cancel */
    CHECK_EQ(simul_scope_enter_shielded(&sh, INFINITY), 0);
    CHECK_EQ(simul_sleep(0.01), 0);
    CHECK_EQ(simul_scope_exit(&sh), -ECANCELED);  /* outer still pending */
    CHECK_EQ(simul_yield(), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&outer), -ETIMEDOUT);
    return 0;
}
TEST(a_shielded_scope_lets_cleanup_wait)
{
    CHECK_EQ(simul_run(main_shield, NULL), 0);
}

static int shielded_sleeper(void *a)
{
    int *out = a;
    simul_scope sh;
    simul_scope_enter_shielded(&sh, INFINITY);
    out[0] = simul_sleep(0.02);       /* task cancel arrives meanwhile */
    simul_scope_exit(&sh);
    out[1] = simul_yield();           /* now it is seen */
    return 0;
}
static int main_task_cancel_shield(void *a)
{
    (void)a;
    int out[2] = { 1, 1 };
    simul_task *t = simul_spawn(shielded_sleeper, out);
    simul_sleep(0.005);
    simul_cancel(t);
    CHECK_EQ(simul_join(t), 0);
    CHECK_EQ(out[0], 0);
    CHECK_EQ(out[1], -ECANCELED);
    return 0;
}
TEST(task_cancellation_waits_behind_a_shield_and_is_delivered_after)
{
    CHECK_EQ(simul_run(main_task_cancel_shield, NULL), 0);
}

static int main_resched(void *a)
{
    (void)a;
    simul_scope sc;
    double t0 = simul_now();
    CHECK_EQ(simul_scope_enter(&sc, t0 + 0.01), 0);
    CHECK_EQ(simul_scope_reschedule(&sc, t0 + 0.05), 0);
    CHECK_EQ(simul_sleep(0.03), 0);           /* would have expired at 0.01 */
    CHECK_EQ(simul_sleep(1), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    double el = simul_now() - t0;
    CHECK(el >= 0.049 && el < 0.5);
    return 0;
}
TEST(reschedule_moves_the_deadline)
{
    CHECK_EQ(simul_run(main_resched, NULL), 0);
}

static simul_scope *shared_scope;
static int canceller(void *a)
{
    (void)a;
    simul_sleep(0.005);
    simul_scope_cancel(shared_scope);
    return 0;
}
static int main_manual(void *a)
{
    (void)a;
    simul_scope sc;
    shared_scope = &sc;
    CHECK_EQ(simul_scope_enter(&sc, INFINITY), 0);
    simul_task *c = simul_spawn(canceller, NULL);
    CHECK_EQ(simul_sleep(5), -ECANCELED);
    CHECK_EQ(simul_scope_cancelled(&sc), 1);
    CHECK_EQ(simul_scope_exit(&sc), -ECANCELED);
    CHECK_EQ(simul_join(c), 0);
    return 0;
}
TEST(another_task_can_cancel_a_scope)
{
    CHECK_EQ(simul_run(main_manual, NULL), 0);
}

static int main_misuse(void *a)
{
    (void)a;
    simul_scope s1, s2;
    CHECK_EQ(simul_scope_enter(&s1, NAN), -EINVAL);
    CHECK_EQ(simul_scope_enter(&s1, INFINITY), 0);
    CHECK_EQ(simul_scope_enter(&s2, INFINITY), 0);
    CHECK_EQ(simul_scope_exit(&s1), -EINVAL);     /* not innermost */
    CHECK_EQ(simul_scope_exit(&s2), 0);
    CHECK_EQ(simul_scope_exit(&s1), 0);
    CHECK_EQ(simul_scope_exit(&s1), -EINVAL);     /* twice */
    return 0;
}
TEST(scope_misuse_is_reported)
{
    simul_scope s;
    CHECK_EQ(simul_scope_enter(&s, 1), -EPERM);
    CHECK_EQ(simul_run(main_misuse, NULL), 0);
}

/*
 * The item arrives in the same loop iteration as the deadline, just before
 * it: the get succeeds, so the scope must not report a timeout (trio's
 * cancelled_caught: only a deadline that cancelled a wait is a timeout).
 */
static void put_item(void *q)
{
    simul_queue_put_nowait(q, (void *)(intptr_t)42);
}
static int main_result_at_deadline(void *a)
{
    (void)a;
    simul_queue *q = simul_queue_new(0);
    double d = simul_now() + 0.02;
    simul_timer *tm = simul_timer_new(put_item, q);
    CHECK_EQ(simul_timer_start_at(tm, d), 0);  /* armed first: fires first */
    simul_scope sc;
    CHECK_EQ(simul_scope_enter(&sc, d), 0);
    void *item = NULL;
    CHECK_EQ(simul_queue_get(q, &item), 0);
    CHECK(item == (void *)(intptr_t)42);
    CHECK_EQ(simul_scope_cancelled(&sc), 1);    /* the deadline did pass */
    CHECK_EQ(simul_scope_exit(&sc), 0);         /* but cancelled nothing */
    /* a scope cancelled by hand that cancelled nothing: 0 as well */
    CHECK_EQ(simul_scope_enter(&sc, INFINITY), 0);
    simul_scope_cancel(&sc);
    CHECK_EQ(simul_scope_exit(&sc), 0);
    simul_timer_free(tm);
    simul_queue_free(q);
    return 0;
}
TEST(a_scope_reports_a_timeout_only_if_it_cancelled_a_wait)
{
    CHECK_EQ(simul_run(main_result_at_deadline, NULL), 0);
}
