/*
 * test_task.c - tasks: spawn/join, FIFO order, yield, sleep, cancellation,
 * detach, shield, handles, stacks and the documented errors.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <simul.h>

static char order[256];
static int olen;
static void mark(char c) { order[olen++] = c; order[olen] = 0; }

static int ret_arg(void *a) { return (int)(intptr_t)a; }

static int main_spawn_join(void *a)
{
    (void)a;
    simul_task *t = simul_spawn(ret_arg, (void *)(intptr_t)42);
    CHECK(t != NULL);
    CHECK_EQ(simul_task_state_of(t), SIMUL_TASK_NEW);
    CHECK_EQ(simul_join(t), 42);
    return 7;
}
TEST(run_returns_main_result_and_join_returns_task_result)
{
    CHECK_EQ(simul_run(main_spawn_join, NULL), 7);
}

static int yielder(void *a)
{
    for (int i = 0; i < 3; i++) {
        mark(*(char *)a);
        CHECK_EQ(simul_yield(), 0);
    }
    return 0;
}
static int main_fifo(void *a)
{
    (void)a;
    static char x = 'a', y = 'b', z = 'c';
    simul_task *t[3] = { simul_spawn(yielder, &x), simul_spawn(yielder, &y),
                         simul_spawn(yielder, &z) };
    for (int i = 0; i < 3; i++)
        CHECK_EQ(simul_join(t[i]), 0);
    return 0;
}
TEST(yield_round_robins_in_fifo_order)
{
    CHECK_EQ(simul_run(main_fifo, NULL), 0);
    CHECK(strcmp(order, "abcabcabc") == 0);
}

static int sleeper(void *a)
{
    double s = *(double *)a;
    CHECK_EQ(simul_sleep(s), 0);
    mark((char)('0' + (int)(s * 100)));
    return 0;
}
static int main_sleep(void *a)
{
    (void)a;
    static double d[3] = { 0.03, 0.01, 0.02 };
    double t0 = simul_now();
    simul_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = simul_spawn(sleeper, &d[i]);
    CHECK_EQ(simul_gather(t, 3, NULL, SIMUL_GATHER_FAIL_FAST), 0);
    double el = simul_now() - t0;
    CHECK(el >= 0.03 && el < 0.5);
    return 0;
}
TEST(sleeps_run_concurrently_and_wake_in_deadline_order)
{
    CHECK_EQ(simul_run(main_sleep, NULL), 0);
    CHECK(strcmp(order, "123") == 0);
}

static int forever(void *a)
{
    int *cleanup = a;
    int r = simul_sleep(INFINITY);
    CHECK_EQ(r, -ECANCELED);
    /* level-triggered: still cancelled at the next suspension point */
    CHECK_EQ(simul_yield(), -ECANCELED);
    CHECK_EQ(simul_cancelled(), 1);
    (*cleanup)++;
    return r;
}
static int main_cancel(void *a)
{
    (void)a;
    int cleanup = 0;
    simul_task *t = simul_spawn(forever, &cleanup);
    CHECK_EQ(simul_sleep(0.01), 0);
    CHECK_EQ(simul_task_state_of(t), SIMUL_TASK_WAITING);
    CHECK_EQ(simul_cancel(t), 0);
    CHECK_EQ(simul_join(t), -ECANCELED);
    CHECK_EQ(cleanup, 1);
    return 0;
}
TEST(cancel_wakes_a_sleeping_task_with_ECANCELED_and_cleanup_runs)
{
    CHECK_EQ(simul_run(main_cancel, NULL), 0);
}

static int never_runs(void *a) { *(int *)a = 1; return 0; }
static int main_cancel_new(void *a)
{
    (void)a;
    int ran = 0;
    simul_task *t = simul_spawn(never_runs, &ran);
    CHECK_EQ(simul_cancel(t), 0);
    CHECK_EQ(simul_join(t), -ECANCELED);
    CHECK_EQ(ran, 0);
    return 0;
}
TEST(a_task_cancelled_before_it_starts_never_runs)
{
    CHECK_EQ(simul_run(main_cancel_new, NULL), 0);
}

static int main_errors(void *a)
{
    (void)a;
    simul_task *t = simul_spawn(ret_arg, (void *)3);
    CHECK_EQ(simul_join(t), 3);
    CHECK_EQ(simul_join(t), -ESRCH);            /* joined twice */
    CHECK_EQ(simul_cancel(t), -ESRCH);
    CHECK_EQ(simul_detach(t), -ESRCH);
    CHECK(strcmp(simul_task_name(t), "?") == 0);
    simul_task *u = simul_spawn(ret_arg, (void *)4);
    CHECK_EQ(simul_yield(), 0);                 /* u runs and finishes */
    CHECK_EQ(simul_task_done(u), 1);
    CHECK_EQ(simul_cancel(u), -EALREADY);       /* cancelling a finished task */
    CHECK_EQ(simul_join(u), 4);
    CHECK_EQ(simul_join(simul_current()), -EDEADLK);
    CHECK_EQ(simul_sleep(-1), -EINVAL);
    CHECK_EQ(simul_sleep(NAN), -EINVAL);
    CHECK_EQ(simul_join(NULL), -ESRCH);
    CHECK(simul_spawn(NULL, NULL) == NULL && errno == EINVAL);
    simul_task_opts o = { .stack_size = (size_t)1 << 40 };
    CHECK(simul_spawn_opts(ret_arg, NULL, &o) == NULL && errno == EINVAL);
    CHECK_EQ(simul_run(main_errors, NULL), -EBUSY); /* nested run */
    return 0;
}
TEST(documented_errors_for_misuse)
{
    CHECK_EQ(simul_run(main_errors, NULL), 0);
}

TEST(suspending_outside_a_task_is_EPERM)
{
    CHECK_EQ(simul_yield(), -EPERM);
    CHECK_EQ(simul_sleep(1), -EPERM);
    CHECK_EQ(simul_join(NULL), -EPERM);
    CHECK(simul_spawn(ret_arg, NULL) == NULL && errno == EPERM);
    CHECK(simul_current() == NULL);
    CHECK_EQ(simul_run(NULL, NULL), -EINVAL);
}

static int self_cancel(void *a)
{
    (void)a;
    CHECK_EQ(simul_cancel(simul_current()), 0);
    return simul_yield();
}
static int main_self_cancel(void *a)
{
    (void)a;
    CHECK_EQ(simul_join(simul_spawn(self_cancel, NULL)), -ECANCELED);
    return 0;
}
TEST(a_task_can_cancel_itself)
{
    CHECK_EQ(simul_run(main_self_cancel, NULL), 0);
}

static int waiter_of(void *a)
{
    return simul_join((simul_task *)a);
}
static int main_join_chain(void *a)
{
    (void)a;
    int cleanup = 0;
    simul_task *inner = simul_spawn(forever, &cleanup);
    simul_task *outer = simul_spawn(waiter_of, inner);
    CHECK_EQ(simul_sleep(0.005), 0);
    /* await propagates: cancelling the joiner cancels the joined task */
    CHECK_EQ(simul_cancel(outer), 0);
    CHECK_EQ(simul_join(outer), -ECANCELED);
    CHECK_EQ(cleanup, 1);
    return 0;
}
TEST(cancelling_a_joiner_cancels_the_task_it_awaits)
{
    CHECK_EQ(simul_run(main_join_chain, NULL), 0);
}

/* The shielded task finishes only when main lets it (an event, not a
 * sleep: under load a 5 ms sleep can outlast a 20 ms one started earlier). */
static simul_event *shield_go;
static int gated_ok(void *a)
{
    if (simul_event_wait(shield_go) != 0)
        return -1;
    *(int *)a = 1;
    return 5;
}
static int slow_ok(void *a)
{
    simul_sleep(0.02);
    *(int *)a = 1;
    return 5;
}
static int shielder(void *a)
{
    return simul_shield(simul_spawn(gated_ok, a));
}
static int main_shield(void *a)
{
    (void)a;
    int done = 0;
    shield_go = simul_event_new();
    simul_task *s = simul_spawn(shielder, &done);
    CHECK_EQ(simul_sleep(0.005), 0);
    CHECK_EQ(simul_cancel(s), 0);
    CHECK_EQ(simul_join(s), -ECANCELED);
    CHECK_EQ(done, 0);
    simul_event_set(shield_go);
    for (int i = 0; i < 2000 && !done; i++)
        CHECK_EQ(simul_sleep(0.001), 0);
    CHECK_EQ(done, 1); /* the shielded task went on and finished on its own */
    simul_event_free(shield_go);
    return 0;
}
TEST(shield_keeps_the_inner_task_running)
{
    CHECK_EQ(simul_run(main_shield, NULL), 0);
}

static int main_detach(void *a)
{
    (void)a;
    int done = 0;
    simul_task *t = simul_spawn(slow_ok, &done);
    CHECK_EQ(simul_detach(t), 0);
    CHECK_EQ(simul_join(t), -EINVAL);
    for (int i = 0; i < 2000 && !done; i++)   /* no fixed sleep: load-proof */
        CHECK_EQ(simul_sleep(0.001), 0);
    CHECK_EQ(done, 1);
    CHECK_EQ(simul_join(t), -ESRCH); /* freed itself */
    return 0;
}
TEST(detached_tasks_free_themselves)
{
    CHECK_EQ(simul_run(main_detach, NULL), 0);
}

static int orphan(void *a)
{
    int r = simul_sleep(100);
    *(int *)a = r;
    return r;
}
static int main_orphan(void *a)
{
    simul_spawn(orphan, a); /* never joined */
    simul_yield();
    return 1;
}
TEST(run_cancels_tasks_left_when_main_returns)
{
    int got = 0;
    CHECK_EQ(simul_run(main_orphan, &got), 1);
    CHECK_EQ(got, -ECANCELED);
}

static int nop(void *a) { (void)a; return 0; }
static int main_many(void *a)
{
    int n = *(int *)a;
    simul_task **t = malloc(sizeof *t * (size_t)n);
    for (int i = 0; i < n; i++) {
        t[i] = simul_spawn(nop, NULL);
        CHECK(t[i] != NULL);
    }
    for (int i = 0; i < n; i++)
        CHECK_EQ(simul_join(t[i]), 0);
    free(t);
    return 0;
}
TEST(hundred_thousand_tasks)
{
    int n = 100000;
    CHECK_EQ(simul_run(main_many, &n), 0);
}

static int parked(void *a) { (void)a; return simul_sleep(INFINITY) == -ECANCELED ? 0 : 1; }
static int main_parked(void *a)
{
    int n = *(int *)a;
    simul_task **t = malloc(sizeof *t * (size_t)n);
    for (int i = 0; i < n; i++)
        t[i] = simul_spawn(parked, NULL);
    CHECK_EQ(simul_yield(), 0);
    for (int i = 0; i < n; i++)
        CHECK_EQ(simul_cancel(t[i]), 0);
    for (int i = 0; i < n; i++)
        CHECK_EQ(simul_join(t[i]), 0);
    free(t);
    return 0;
}
TEST_T(hundred_thousand_parked_tasks_with_guarded_stacks, 60)
{
    int n = 100000; /* more than vm.max_map_count / 2 */
    CHECK_EQ(simul_run(main_parked, &n), 0);
}

static int recurse(int n)
{
    volatile char buf[1024];
    buf[0] = (char)n;
    return n == 0 ? buf[0] : recurse(n - 1) + buf[0];
}
static int overflower(void *a) { (void)a; return recurse(1000000); }
static int main_overflow(void *a)
{
    (void)a;
    simul_task_opts o = { .name = "deep-diver", .stack_size = 32 * 1024 };
    return simul_join(simul_spawn_opts(overflower, NULL, &o));
}
static int run_overflow(void *a)
{
    (void)a;
    simul_run(main_overflow, NULL);
    return 0;
}
TEST(stack_overflow_names_the_task)
{
    char buf[1024];
    int st = harness_child_stderr(run_overflow, NULL, buf, sizeof buf);
    CHECK(WIFSIGNALED(st));
    CHECK(strstr(buf, "stack overflow in task 'deep-diver'") != NULL);
    CHECK(strstr(buf, "stack size 32768") != NULL);
}

static int big_stack_user(void *a)
{
    (void)a;
    volatile char buf[512 * 1024];
    memset((char *)buf, 1, sizeof buf);
    return buf[100];
}
static int main_big(void *a)
{
    (void)a;
    simul_task_opts o = { .stack_size = 1024 * 1024, .name = "big" };
    simul_task *t = simul_spawn_opts(big_stack_user, NULL, &o);
    CHECK(strcmp(simul_task_name(t), "big") == 0);
    CHECK_EQ(simul_task_set_name(t, "bigger"), 0);
    CHECK(strcmp(simul_task_name(t), "bigger") == 0);
    return simul_join(t);
}
TEST(per_task_stack_size_and_names)
{
    CHECK_EQ(simul_run(main_big, NULL), 1);
    CHECK(simul_default_stack_size() >= 16384);
    CHECK_EQ(simul_set_default_stack_size(0), -EINVAL);
}

static int main_deadlock(void *a)
{
    (void)a;
    return simul_sleep(INFINITY);
}
static void *run_off_main_thread(void *a)
{
    return (void *)(intptr_t)simul_run(main_deadlock, a);
}
TEST(a_deadlocked_loop_cancels_instead_of_hanging)
{
    /* Off the main thread simul_run installs no SIGINT handler, so nothing
     * can ever wake this: the loop notices instead of hanging. */
    pthread_t th;
    void *r;
    CHECK_EQ(pthread_create(&th, NULL, run_off_main_thread, NULL), 0);
    CHECK_EQ(pthread_join(th, &r), 0);
    CHECK_EQ((intptr_t)r, -ECANCELED);
}

/* On the main thread Ctrl-C cancels main: sleeping until then is waiting
 * for a signal (asyncio.run(asyncio.sleep(inf))), not a deadlock. */
static pthread_t main_thread;
static void *send_sigint(void *a)
{
    (void)a;
    usleep(100 * 1000);
    pthread_kill(main_thread, SIGINT);
    return NULL;
}
TEST(sleeping_until_ctrl_c_is_not_a_deadlock)
{
    pthread_t th;
    main_thread = pthread_self();
    CHECK_EQ(pthread_create(&th, NULL, send_sigint, NULL), 0);
    CHECK_EQ(simul_run(main_deadlock, NULL), -EINTR);
    pthread_join(th, NULL);
}

static int name_check(void *a)
{
    (void)a;
    const char *n = simul_task_name(simul_current());
    return strncmp(n, "task-", 5) == 0 ? 0 : 1;
}
static int main_names(void *a)
{
    (void)a;
    CHECK(strcmp(simul_task_name(simul_current()), "main") == 0);
    return simul_join(simul_spawn(name_check, NULL));
}
TEST(default_names)
{
    CHECK_EQ(simul_run(main_names, NULL), 0);
}

static int main_dump(void *a)
{
    (void)a;
    int cleanup = 0;
    simul_task *t = simul_spawn(forever, &cleanup);
    simul_task_set_name(t, "sleepy");
    simul_yield();
    int p[2];
    CHECK(pipe(p) == 0);
    int n = simul_dump_tasks(p[1]);
    close(p[1]);
    char buf[2048] = { 0 };
    ssize_t got = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    CHECK(got > 0);
    CHECK_EQ(n, 2);
    CHECK(strstr(buf, "sleepy") && strstr(buf, "waiting") && strstr(buf, "in sleep"));
    CHECK(strstr(buf, "main") && strstr(buf, "running"));
    simul_cancel(t);
    return simul_join(t) == -ECANCELED ? 0 : 1;
}
TEST(task_dump_lists_tasks_and_where_they_wait)
{
    CHECK_EQ(simul_run(main_dump, NULL), 0);
}

/* The dump names the user's function that waits - a static one, found
 * through the program's symbol table - not a frame inside libsimul. */
static __attribute__((noinline)) int wait_for_an_item(simul_queue *q)
{
    void *item;
    int r = simul_queue_get(q, &item);   /* several library frames deep */
    __asm__ volatile("" ::: "memory");   /* not a tail call */
    return r;
}
static int consumer_fn(void *q)
{
    return wait_for_an_item(q);
}
static int main_dump_names(void *a)
{
    (void)a;
    simul_queue *q = simul_queue_new(0);
    simul_task *t = simul_spawn(consumer_fn, q);
    simul_yield();
    int p[2];
    CHECK(pipe(p) == 0);
    simul_dump_tasks(p[1]);
    close(p[1]);
    char buf[2048] = { 0 };
    CHECK(read(p[0], buf, sizeof buf - 1) > 0);
    close(p[0]);
    CHECK(strstr(buf, "called from wait_for_an_item+0x") != NULL);
    CHECK(strstr(buf, "test_task") != NULL);          /* the object */
    CHECK(strstr(buf, "called from simul_") == NULL);
    if (!strstr(buf, "called from wait_for_an_item+0x"))
        fputs(buf, stderr);
    simul_cancel(t);
    simul_join(t);
    simul_queue_free(q);
    return 0;
}
TEST(task_dump_names_the_users_function)
{
    CHECK_EQ(simul_run(main_dump_names, NULL), 0);
}

static int napper(void *a) { (void)a; return simul_sleep(INFINITY); }
static int main_exhaust(void *a)
{
    (void)a;
    enum { N = 200000 };
    static simul_task *t[N];
    int spawned = 0, nomem_spawn = 0;
    for (int i = 0; i < N; i++) {
        t[i] = simul_spawn(napper, NULL);
        if (!t[i]) {
            CHECK_EQ(errno, ENOMEM);
            nomem_spawn++;
            continue;
        }
        spawned++;
    }
    CHECK_EQ(simul_yield(), 0);  /* they start; stacks run out on the way */
    int nomem_stack = 0, cancelled = 0;
    for (int i = 0; i < N; i++) {
        if (!t[i])
            continue;
        simul_cancel(t[i]);
        int r = simul_join(t[i]);
        if (r == -ENOMEM)
            nomem_stack++;
        else if (r == -ECANCELED)
            cancelled++;
    }
    CHECK_EQ(nomem_stack + cancelled, spawned);
    CHECK(nomem_stack > 0 || nomem_spawn > 0);   /* the limit was reached */
    CHECK(cancelled > 0);                        /* and some ran */
    return 0;
}
TEST_T(running_out_of_memory_is_an_error_not_a_crash, 60)
{
#if defined(__SANITIZE_ADDRESS__)
    /* ASan reserves terabytes of shadow address space: an RLIMIT_AS test
     * cannot run under it. The normal build runs it. */
    return;
#endif
    /* 2 GiB of address space: room for the program, not for 200k stacks */
    struct rlimit rl = { 2ull << 30, 2ull << 30 };
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    CHECK_EQ(simul_run(main_exhaust, NULL), 0);
}
