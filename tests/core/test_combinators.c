/*
 * test_combinators.c - gather (fail fast and collect), as_completed,
 * wait_for (including the race where the task finishes as the timeout
 * fires) and task groups (nested, failing, cancelled from outside).
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <simul.h>

struct job { double delay; int result; int cancelled; };

static int job_fn(void *a)
{
    struct job *j = a;
    int r = simul_sleep(j->delay);
    if (r == -ECANCELED) {
        j->cancelled = 1;
        return r;
    }
    return j->result;
}

static int main_gather_ok(void *a)
{
    (void)a;
    struct job j[3] = { { 0.02, 1, 0 }, { 0.01, 2, 0 }, { 0.0, 3, 0 } };
    simul_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = simul_spawn(job_fn, &j[i]);
    int res[3] = { 0 };
    CHECK_EQ(simul_gather(t, 3, res, SIMUL_GATHER_FAIL_FAST), 0);
    CHECK(res[0] == 1 && res[1] == 2 && res[2] == 3);  /* in argument order */
    CHECK_EQ(simul_join(t[0]), -ESRCH);                 /* gather joined them */
    return 0;
}
TEST(gather_returns_results_in_argument_order)
{
    CHECK_EQ(simul_run(main_gather_ok, NULL), 0);
}

static int main_gather_fail_fast(void *a)
{
    (void)a;
    struct job j[3] = { { 5, 1, 0 }, { 0.01, -EIO, 0 }, { 5, 3, 0 } };
    simul_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = simul_spawn(job_fn, &j[i]);
    int res[3];
    double t0 = simul_now();
    CHECK_EQ(simul_gather(t, 3, res, SIMUL_GATHER_FAIL_FAST), -EIO);
    CHECK(simul_now() - t0 < 1);
    CHECK(j[0].cancelled && j[2].cancelled);
    CHECK_EQ(res[1], -EIO);
    CHECK_EQ(res[0], -ECANCELED);
    return 0;
}
TEST(gather_fail_fast_cancels_the_rest)
{
    CHECK_EQ(simul_run(main_gather_fail_fast, NULL), 0);
}

static int main_gather_collect(void *a)
{
    (void)a;
    struct job j[3] = { { 0.02, 1, 0 }, { 0.01, -EIO, 0 }, { 0.015, 3, 0 } };
    simul_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = simul_spawn(job_fn, &j[i]);
    int res[3];
    CHECK_EQ(simul_gather(t, 3, res, SIMUL_GATHER_COLLECT), 0);
    CHECK(res[0] == 1 && res[1] == -EIO && res[2] == 3);
    CHECK(!j[0].cancelled && !j[2].cancelled);
    return 0;
}
TEST(gather_collect_waits_for_every_outcome)
{
    CHECK_EQ(simul_run(main_gather_collect, NULL), 0);
}

static int gatherer(void *a)
{
    struct job *j = a;
    simul_task *t[2] = { simul_spawn(job_fn, &j[0]), simul_spawn(job_fn, &j[1]) };
    return simul_gather(t, 2, NULL, SIMUL_GATHER_COLLECT);
}
static int main_gather_cancelled(void *a)
{
    (void)a;
    struct job j[2] = { { 5, 1, 0 }, { 5, 2, 0 } };
    simul_task *g = simul_spawn(gatherer, j);
    simul_sleep(0.01);
    simul_cancel(g);
    CHECK_EQ(simul_join(g), -ECANCELED);
    CHECK(j[0].cancelled && j[1].cancelled);
    return 0;
}
TEST(cancelling_a_gather_cancels_its_tasks)
{
    CHECK_EQ(simul_run(main_gather_cancelled, NULL), 0);
}

static int main_as_completed(void *a)
{
    (void)a;
    struct job j[3] = { { 0.03, 30, 0 }, { 0.01, 10, 0 }, { 0.02, 20, 0 } };
    simul_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = simul_spawn(job_fn, &j[i]);
    simul_as_completed *ac = simul_as_completed_new(t, 3);
    CHECK(ac != NULL);
    int order[3], k = 0, res;
    simul_task *which;
    while (simul_as_completed_next(ac, &which, &res) == 1) {
        order[k++] = res;
        CHECK(which == t[res == 30 ? 0 : res == 10 ? 1 : 2]);
    }
    CHECK_EQ(k, 3);
    CHECK(order[0] == 10 && order[1] == 20 && order[2] == 30);
    CHECK_EQ(simul_as_completed_next(ac, &which, &res), 0);      /* the end */
    CHECK_EQ(simul_as_completed_next(ac, &which, &res), 0);      /* and stays */
    simul_as_completed_free(ac);
    return 0;
}
TEST(as_completed_yields_in_completion_order)
{
    CHECK_EQ(simul_run(main_as_completed, NULL), 0);
}

static int main_as_completed_early_free(void *a)
{
    (void)a;
    struct job j[2] = { { 0.001, 1, 0 }, { 5, 2, 0 } };
    simul_task *t[2] = { simul_spawn(job_fn, &j[0]), simul_spawn(job_fn, &j[1]) };
    simul_as_completed *ac = simul_as_completed_new(t, 2);
    int res;
    CHECK_EQ(simul_as_completed_next(ac, NULL, &res), 1);
    CHECK_EQ(res, 1);
    simul_as_completed_free(ac);   /* the slow one is cancelled and reaped */
    CHECK_EQ(j[1].cancelled, 1);
    return 0;
}
TEST(as_completed_free_cancels_what_is_left)
{
    CHECK_EQ(simul_run(main_as_completed_early_free, NULL), 0);
}

static int main_wait_for(void *a)
{
    (void)a;
    struct job fast = { 0.005, 9, 0 }, slow = { 5, 9, 0 };
    CHECK_EQ(simul_wait_for(simul_spawn(job_fn, &fast), 1), 9);
    double t0 = simul_now();
    CHECK_EQ(simul_wait_for(simul_spawn(job_fn, &slow), 0.02), -ETIMEDOUT);
    CHECK(simul_now() - t0 < 1);
    CHECK_EQ(slow.cancelled, 1);
    return 0;
}
TEST(wait_for_returns_the_result_or_times_out_and_cancels)
{
    CHECK_EQ(simul_run(main_wait_for, NULL), 0);
}

/* A task that ignores the first cancel and finishes with a result: like an
 * inner task completing in the same instant the timeout fires. */
static int stubborn(void *a)
{
    (void)a;
    int r = simul_sleep(5);
    simul_scope sh;
    simul_scope_enter_shielded(&sh, INFINITY);
    simul_sleep(0.005);
    simul_scope_exit(&sh);
    return r == -ECANCELED ? 77 : 0;
}
static int main_wait_for_race(void *a)
{
    (void)a;
    /* the result wins over the timeout: nothing is lost */
    CHECK_EQ(simul_wait_for(simul_spawn(stubborn, NULL), 0.01), 77);
    return 0;
}
TEST(wait_for_keeps_a_result_that_arrives_with_the_timeout)
{
    CHECK_EQ(simul_run(main_wait_for_race, NULL), 0);
}

static int waits_for_slow(void *a)
{
    struct job *j = a;
    return simul_wait_for(simul_spawn(job_fn, j), 10);
}
static int main_wait_for_outer_cancel(void *a)
{
    (void)a;
    struct job j = { 5, 1, 0 };
    simul_task *w = simul_spawn(waits_for_slow, &j);
    simul_sleep(0.01);
    simul_cancel(w);
    /* cancellation of the caller is not turned into a timeout or lost */
    CHECK_EQ(simul_join(w), -ECANCELED);
    CHECK_EQ(j.cancelled, 1);
    return 0;
}
TEST(wait_for_propagates_the_callers_cancellation)
{
    CHECK_EQ(simul_run(main_wait_for_outer_cancel, NULL), 0);
}

static int main_group_ok(void *a)
{
    (void)a;
    struct job j[3] = { { 0.01, 1, 0 }, { 0.02, 2, 0 }, { 0, 3, 0 } };
    simul_group g;
    CHECK_EQ(simul_group_enter(&g), 0);
    for (int i = 0; i < 3; i++)
        CHECK(simul_group_spawn(&g, job_fn, &j[i]) != NULL);
    double t0 = simul_now();
    CHECK_EQ(simul_group_exit(&g), 0);
    CHECK(simul_now() - t0 >= 0.019);
    return 0;
}
TEST(a_group_waits_for_all_children)
{
    CHECK_EQ(simul_run(main_group_ok, NULL), 0);
}

static int main_group_fail(void *a)
{
    (void)a;
    struct job j[3] = { { 5, 1, 0 }, { 0.01, -EPIPE, 0 }, { 5, 3, 0 } };
    simul_group g;
    simul_group_enter(&g);
    for (int i = 0; i < 3; i++)
        simul_group_spawn(&g, job_fn, &j[i]);
    /* the owner's own waits are cancelled when a child fails */
    CHECK_EQ(simul_sleep(5), -ECANCELED);
    CHECK_EQ(simul_group_exit(&g), -EPIPE);
    CHECK(j[0].cancelled && j[2].cancelled);
    CHECK_EQ(simul_sleep(0.001), 0);     /* and the owner is fine afterwards */
    return 0;
}
TEST(a_failing_child_cancels_siblings_and_owner_and_exit_reports_it)
{
    CHECK_EQ(simul_run(main_group_fail, NULL), 0);
}

static int group_owner(void *a)
{
    struct job *j = a;
    simul_group g;
    simul_group_enter(&g);
    simul_group_spawn(&g, job_fn, &j[0]);
    simul_group_spawn(&g, job_fn, &j[1]);
    return simul_group_exit(&g);
}
static int main_group_outer_cancel(void *a)
{
    (void)a;
    struct job j[2] = { { 5, 1, 0 }, { 5, 2, 0 } };
    simul_task *o = simul_spawn(group_owner, j);
    simul_sleep(0.01);
    simul_cancel(o);
    CHECK_EQ(simul_join(o), -ECANCELED);
    CHECK(j[0].cancelled && j[1].cancelled);
    return 0;
}
TEST(cancelling_the_owner_cancels_the_children)
{
    CHECK_EQ(simul_run(main_group_outer_cancel, NULL), 0);
}

static int main_nested_groups(void *a)
{
    (void)a;
    struct job inner_jobs[2] = { { 5, 1, 0 }, { 0.01, -EBADMSG, 0 } };
    struct job sibling = { 5, 1, 0 };
    simul_group g;
    simul_group_enter(&g);
    simul_group_spawn(&g, group_owner, inner_jobs);
    simul_group_spawn(&g, job_fn, &sibling);
    CHECK_EQ(simul_group_exit(&g), -EBADMSG);   /* the error climbs out */
    CHECK(inner_jobs[0].cancelled && sibling.cancelled);
    return 0;
}
TEST(nested_groups_propagate_the_first_error)
{
    CHECK_EQ(simul_run(main_nested_groups, NULL), 0);
}

static int main_group_cancelled_child_is_not_error(void *a)
{
    (void)a;
    struct job j[2] = { { 5, 1, 0 }, { 0.01, 2, 0 } };
    simul_group g;
    simul_group_enter(&g);
    simul_task *t0 = simul_group_spawn(&g, job_fn, &j[0]);
    simul_group_spawn(&g, job_fn, &j[1]);
    simul_sleep(0.001);
    CHECK_EQ(simul_cancel(t0), 0);
    CHECK_EQ(simul_join(t0), -EINVAL);   /* the group owns its children */
    CHECK_EQ(simul_group_exit(&g), 0);
    return 0;
}
TEST(a_child_cancelled_from_outside_is_not_a_group_error)
{
    CHECK_EQ(simul_run(main_group_cancelled_child_is_not_error, NULL), 0);
}

/* The same handle twice would be joined (freed) twice: every combinator
 * refuses it, and the caller still owns the task afterwards. */
static int main_duplicate_handles(void *a)
{
    (void)a;
    struct job j = { 0.01, 7, 0 };
    simul_task *t = simul_spawn(job_fn, &j);
    simul_task *twice[2] = { t, t };
    errno = 0;
    CHECK(simul_as_completed_new(twice, 2) == NULL);
    CHECK_EQ(errno, EINVAL);
    CHECK_EQ(simul_gather(twice, 2, NULL, SIMUL_GATHER_COLLECT), -EINVAL);
    CHECK_EQ(simul_join(t), 7);                 /* still ours, joined once */
    /* spawning twice more hands out two different tasks */
    simul_task *x = simul_spawn(job_fn, &j), *y = simul_spawn(job_fn, &j);
    CHECK(x != y);
    CHECK_EQ(simul_join(x), 7);
    CHECK_EQ(simul_join(y), 7);
    return 0;
}
TEST(combinators_refuse_the_same_handle_twice)
{
    CHECK_EQ(simul_run(main_duplicate_handles, NULL), 0);
}

/*
 * A child of an inner group and a child of the outer group fail in the same
 * loop iteration. The outer group cancels the inner group's owner; its exit
 * must still report its child's error (not -ECANCELED), and the outer owner
 * can read both errors.
 */
struct on_event { simul_event *ev; int result; };
static int fail_on_event(void *a)
{
    struct on_event *o = a;
    int r = simul_event_wait(o->ev);
    return r < 0 ? r : o->result;
}
struct inner { struct on_event child; int exit_result; };
static int inner_owner(void *a)
{
    struct inner *in = a;
    simul_group g;
    simul_group_enter(&g);
    simul_group_spawn(&g, fail_on_event, &in->child);
    in->exit_result = simul_group_exit(&g);
    return in->exit_result;
}
static int main_nested_errors_kept(void *a)
{
    (void)a;
    simul_event *ev = simul_event_new();
    struct inner in = { { ev, -EBADMSG }, 1 };
    struct on_event outer_child = { ev, -EPIPE };
    simul_group g;
    simul_group_enter(&g);
    simul_group_spawn(&g, inner_owner, &in);
    simul_group_spawn(&g, fail_on_event, &outer_child);
    CHECK_EQ(simul_sleep(0.01), 0);
    simul_event_set(ev);                      /* both children fail now */
    simul_group_error errs[4];
    size_t n = 99;
    int r = simul_group_exit_errors(&g, errs, 4, &n);
    CHECK(r == -EPIPE || r == -EBADMSG);
    CHECK_EQ(in.exit_result, -EBADMSG);       /* not hidden by its cancellation */
    CHECK_EQ(n, 2);
    CHECK(n == 2 && ((errs[0].error == -EPIPE && errs[1].error == -EBADMSG) ||
                     (errs[0].error == -EBADMSG && errs[1].error == -EPIPE)));
    CHECK_EQ(r, errs[0].error);               /* exit reports the first one */
    simul_event_free(ev);
    return 0;
}
TEST(nested_group_errors_never_vanish)
{
    CHECK_EQ(simul_run(main_nested_errors_kept, NULL), 0);
}

/* Every failure is kept, in order, named after its child; a short array
 * gets the first ones and n still counts them all. */
static int main_group_all_errors(void *a)
{
    (void)a;
    simul_event *ev = simul_event_new();
    struct on_event o[3] = { { ev, -EIO }, { ev, 5 }, { ev, -ENOSPC } };
    simul_group g;
    simul_group_enter(&g);
    simul_task_opts opts = { .name = "writer" };
    simul_group_spawn(&g, fail_on_event, &o[0]);
    simul_group_spawn(&g, fail_on_event, &o[1]);
    simul_group_spawn_opts(&g, fail_on_event, &o[2], &opts);
    CHECK_EQ(simul_sleep(0.01), 0);         /* every child is waiting */
    simul_event_set(ev);
    simul_group_error e[1];
    size_t n = 0;
    CHECK_EQ(simul_group_exit_errors(&g, e, 1, &n), -EIO);
    CHECK_EQ(n, 2);
    CHECK_EQ(e[0].error, -EIO);
    CHECK(strncmp(e[0].name, "task-", 5) == 0);
    /* a group without failures: n is 0 */
    simul_group_enter(&g);
    simul_group_spawn(&g, fail_on_event, &o[1]);
    CHECK_EQ(simul_group_exit_errors(&g, e, 1, &n), 0);
    CHECK_EQ(n, 0);
    /* the name is the child's */
    simul_event_clear(ev);
    simul_group_enter(&g);
    simul_group_spawn_opts(&g, fail_on_event, &o[2], &opts);
    CHECK_EQ(simul_sleep(0.01), 0);         /* every child is waiting */
    simul_event_set(ev);
    CHECK_EQ(simul_group_exit_errors(&g, e, 1, &n), -ENOSPC);
    CHECK_EQ(n, 1);
    CHECK(strcmp(e[0].name, "writer") == 0);
    simul_event_free(ev);
    return 0;
}
TEST(group_exit_errors_lists_every_child_failure)
{
    CHECK_EQ(simul_run(main_group_all_errors, NULL), 0);
}

/* asyncio: create_task on a finished TaskGroup raises; here EBUSY, as the
 * header says (EINVAL is for a group that was never entered). */
static int main_spawn_after_exit(void *a)
{
    (void)a;
    struct job j = { 0, 1, 0 };
    simul_group g;
    simul_group_enter(&g);
    simul_group_spawn(&g, job_fn, &j);
    CHECK_EQ(simul_group_exit(&g), 0);
    errno = 0;
    CHECK(simul_group_spawn(&g, job_fn, &j) == NULL);
    CHECK_EQ(errno, EBUSY);
    simul_group never = { 0 };
    errno = 0;
    CHECK(simul_group_spawn(&never, job_fn, &j) == NULL);
    CHECK_EQ(errno, EINVAL);
    return 0;
}
TEST(spawning_into_an_exited_group_is_EBUSY)
{
    CHECK_EQ(simul_run(main_spawn_after_exit, NULL), 0);
}

/* asyncio.wait: done set first, pending after; nothing joined. The
 * delays are far apart (10 ms, 150 ms, 600 ms): each step's set must not
 * change while an ASan build on a loaded machine gets to the next step. */
static int main_wait_modes(void *a)
{
    (void)a;
    struct job j[3] = { { 0.6, 1, 0 }, { 0.01, 2, 0 }, { 0.15, -EIO, 0 } };
    simul_task *t[3], *orig[3];
    for (int i = 0; i < 3; i++)
        orig[i] = t[i] = simul_spawn(job_fn, &j[i]);
    CHECK_EQ(simul_wait(t, 3, SIMUL_WAIT_FIRST_COMPLETED, INFINITY), 1);
    CHECK(t[0] == orig[1] && t[1] == orig[0] && t[2] == orig[2]);
    CHECK_EQ(simul_wait(t, 3, SIMUL_WAIT_FIRST_EXCEPTION, INFINITY), 2);
    CHECK(t[0] == orig[1] && t[1] == orig[2] && t[2] == orig[0]);
    /* a timeout is not an error: the pending set is what is left */
    double t0 = simul_now();
    CHECK_EQ(simul_wait(t, 3, SIMUL_WAIT_ALL_COMPLETED, 0.001), 2);
    CHECK(simul_now() - t0 < 0.3);   /* the timeout, not the last task */
    CHECK_EQ(simul_task_done(t[2]), 0);
    CHECK_EQ(simul_wait(t, 3, SIMUL_WAIT_ALL_COMPLETED, INFINITY), 3);
    CHECK_EQ(simul_wait(t, 3, SIMUL_WAIT_FIRST_COMPLETED, 0), 3);   /* at once */
    CHECK_EQ(simul_join(orig[0]), 1);       /* still the caller's */
    CHECK_EQ(simul_join(orig[1]), 2);
    CHECK_EQ(simul_join(orig[2]), -EIO);
    /* misuse */
    simul_task *u = simul_spawn(job_fn, &j[1]);
    simul_task *twice[2] = { u, u };
    CHECK_EQ(simul_wait(twice, 2, SIMUL_WAIT_ALL_COMPLETED, INFINITY), -EINVAL);
    CHECK_EQ(simul_wait(&u, 1, 7, INFINITY), -EINVAL);
    CHECK_EQ(simul_wait(&u, 1, SIMUL_WAIT_ALL_COMPLETED, -1), -EINVAL);
    CHECK_EQ(simul_wait(&u, 1, SIMUL_WAIT_ALL_COMPLETED, INFINITY), 1);
    CHECK_EQ(simul_join(u), 2);
    CHECK_EQ(simul_wait(NULL, 0, SIMUL_WAIT_ALL_COMPLETED, INFINITY), 0);
    return 0;
}
TEST(wait_returns_done_and_pending_sets)
{
    CHECK_EQ(simul_run(main_wait_modes, NULL), 0);
}

/* FIRST_EXCEPTION does not count a task's own cancellation as a failure;
 * simul_task_cancelled tells it apart from returning -ECANCELED. */
static int returns_ecanceled(void *a)
{
    (void)a;
    return -ECANCELED;                 /* e.g. passed up from a scope */
}
static int main_cancelled_vs_returned(void *a)
{
    (void)a;
    struct job slow = { 5, 1, 0 }, slower = { 0.05, 3, 0 };
    simul_task *t[2] = { simul_spawn(job_fn, &slow), simul_spawn(job_fn, &slower) };
    simul_task *c = t[0], *s = t[1];
    CHECK_EQ(simul_yield(), 0);
    CHECK_EQ(simul_task_cancelled(c), 0);      /* not finished */
    simul_cancel(c);
    CHECK_EQ(simul_wait(t, 2, SIMUL_WAIT_FIRST_EXCEPTION, INFINITY), 2);
    CHECK_EQ(simul_task_cancelled(c), 1);
    CHECK_EQ(simul_task_cancelled(s), 0);
    CHECK_EQ(simul_join(c), -ECANCELED);
    CHECK_EQ(simul_join(s), 3);
    simul_task *r = simul_spawn(returns_ecanceled, NULL);
    simul_task *x = simul_spawn(job_fn, &slow);
    simul_task *both[2] = { x, r };
    CHECK_EQ(simul_wait(both, 2, SIMUL_WAIT_FIRST_EXCEPTION, INFINITY), 1);
    CHECK(both[0] == r);                         /* a failure like any other */
    CHECK_EQ(simul_task_cancelled(r), 0);
    CHECK_EQ(simul_join(r), -ECANCELED);
    CHECK_EQ(simul_task_cancelled(r), -ESRCH);  /* joined: ask before */
    simul_cancel(x);
    CHECK_EQ(simul_join(x), -ECANCELED);
    return 0;
}
TEST(task_cancelled_tells_cancelled_from_returned_ECANCELED)
{
    CHECK_EQ(simul_run(main_cancelled_vs_returned, NULL), 0);
}

static int main_wait_cancelled(void *a)
{
    (void)a;
    struct job j = { 5, 1, 0 };
    simul_task *t = simul_spawn(job_fn, &j);
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + 0.01);
    CHECK_EQ(simul_wait(&t, 1, SIMUL_WAIT_ALL_COMPLETED, INFINITY), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    CHECK_EQ(simul_task_done(t), 0);             /* wait cancels nothing */
    simul_cancel(t);
    CHECK_EQ(simul_join(t), -ECANCELED);
    return 0;
}
TEST(a_cancelled_wait_leaves_the_tasks_running)
{
    CHECK_EQ(simul_run(main_wait_cancelled, NULL), 0);
}

/* asyncio.all_tasks(): every unfinished task, the caller included. */
static int main_all_tasks(void *a)
{
    (void)a;
    struct job j[2] = { { 0.05, 1, 0 }, { 0, 2, 0 } };
    simul_task *t0 = simul_spawn(job_fn, &j[0]);
    simul_task *t1 = simul_spawn(job_fn, &j[1]);
    simul_task *all[8];
    CHECK_EQ(simul_all_tasks(all, 8), 3);
    int seen = 0;
    for (int i = 0; i < 3; i++)
        seen |= (all[i] == simul_current()) | (all[i] == t0) << 1 | (all[i] == t1) << 2;
    CHECK_EQ(seen, 7);
    CHECK_EQ(simul_sleep(0.01), 0);              /* t1 finishes */
    CHECK_EQ(simul_all_tasks(NULL, 0), 2);
    CHECK_EQ(simul_all_tasks(all, 1), 2);        /* counts past cap */
    CHECK_EQ(simul_all_tasks(NULL, 1), -EINVAL);
    simul_join(t0);
    simul_join(t1);
    return 0;
}
TEST(all_tasks_lists_unfinished_tasks)
{
    CHECK_EQ(simul_run(main_all_tasks, NULL), 0);
    CHECK_EQ(simul_all_tasks(NULL, 0), -EPERM);
}

/* Another task may join a task simul_wait watches (asyncio allows awaiting
 * it meanwhile): the join frees it, and wait counts it as done. */
static simul_task *watched;
static int joiner_fn(void *a)
{
    (void)a;
    return simul_join(watched);
}
static int main_wait_and_join(void *a)
{
    (void)a;
    struct job j = { 0.01, 4, 0 }, slow = { 5, 1, 0 };
    watched = simul_spawn(job_fn, &j);
    simul_task *s = simul_spawn(job_fn, &slow);
    simul_task *jn = simul_spawn(joiner_fn, NULL);
    CHECK_EQ(simul_yield(), 0);          /* the joiner waits first: it runs first */
    simul_task *set[2] = { s, watched };
    CHECK_EQ(simul_wait(set, 2, SIMUL_WAIT_FIRST_COMPLETED, 2), 1);
    CHECK(set[0] == watched && set[1] == s);
    CHECK_EQ(simul_join(jn), 4);
    simul_cancel(s);
    CHECK_EQ(simul_join(s), -ECANCELED);
    return 0;
}
TEST(wait_counts_a_task_joined_meanwhile_as_done)
{
    CHECK_EQ(simul_run(main_wait_and_join, NULL), 0);
}
