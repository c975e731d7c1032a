/*
 * test_invariants.c - the core's debug-build invariants (SIMUL__ASSERT in
 * src/core/internal.h) catch corruption: a timer node whose heap index
 * lies, a list node whose neighbours do not point back, a runnable queued
 * twice, a running task freed. Each breach runs in a child that must die of
 * SIGABRT with the assertion's text. Builds with NDEBUG (debugoptimized,
 * release) compile the checks out; there the cases say so and pass.
 */
#include "harness.h"
#include "../../src/core/internal.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

/* Runs breach() in a child; it must abort on a failed assertion. */
static void expect_abort(int (*breach)(void *), const char *what)
{
#ifdef NDEBUG
    (void)breach;
    printf("# %s: NDEBUG build, invariants compiled out\n", what);
#else
    char err[4096];
    int st = harness_child_stderr(breach, NULL, err, sizeof err);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK(strstr(err, "Assertion") != NULL);
    if (!(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT))
        fprintf(stderr, "  %s: child status %#x, stderr: %s\n", what, st, err);
#endif
}

static void nop_fire(simul__tnode *n) { (void)n; }

static int m_heap_index(void *a)
{
    (void)a;
    simul_loop *l = simul__loop();
    simul__tnode x = { 0 }, y = { 0 };
    simul__timer_arm(l, &x, INT64_MAX - 1, nop_fire);
    simul__timer_arm(l, &y, INT64_MAX - 1, nop_fire);
    y.idx = 1;                      /* claims x's slot */
    simul__timer_disarm(l, &y);     /* would unlink x */
    return 0;
}
static int breach_heap_index(void *a) { (void)a; return simul_run(m_heap_index, NULL); }
TEST(timer_heap_index_is_checked)
{
    expect_abort(breach_heap_index, "heap index");
}

static int breach_list_links(void *a)
{
    (void)a;
    simul__list head, other, n;
    simul__list_init(&head);
    simul__list_init(&other);
    simul__list_push(&head, &n);
    n.prev = &other;                /* a stale neighbour */
    simul__list_remove(&n);
    return 0;
}
TEST(list_links_are_checked)
{
    expect_abort(breach_list_links, "list links");
}

static void nop(void *a) { (void)a; }
static int m_queued_twice(void *a)
{
    (void)a;
    simul_loop *l = simul__loop();
    while (simul__ready_pop(l))     /* an empty queue: the next push is its head */
        ;
    static simul__callback c = { .run.kind = SIMUL__RUN_CALLBACK, .cb = nop };
    simul__ready_push(l, &c.run);
    simul__ready_push(l, &c.run);   /* would make a cycle */
    return 0;
}
static int breach_queued_twice(void *a) { (void)a; return simul_run(m_queued_twice, NULL); }
TEST(ready_queue_links_are_checked)
{
    expect_abort(breach_queued_twice, "ready queue");
}

static int m_free_running(void *a)
{
    (void)a;
    simul_loop *l = simul__loop();
    simul__task_free(l, l->current);   /* RUNNING is not a state to free in */
    return 0;
}
static int breach_free_running(void *a) { (void)a; return simul_run(m_free_running, NULL); }
TEST(task_state_transitions_are_checked)
{
    expect_abort(breach_free_running, "task state");
}

/* And a correct program trips none of them (every other test program runs
 * with the checks too, in debug builds). */
static int child(void *a) { (void)a; return simul_sleep(0.001); }
static int m_clean(void *a)
{
    (void)a;
    simul_task *t[8];
    for (int i = 0; i < 8; i++)
        t[i] = simul_spawn(child, NULL);
    return simul_gather(t, 8, NULL, SIMUL_GATHER_FAIL_FAST);
}
TEST(a_correct_program_passes_them)
{
    CHECK_EQ(simul_run(m_clean, NULL), 0);
}
