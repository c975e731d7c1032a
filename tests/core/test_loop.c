/*
 * test_loop.c - the callback-level interface: call_soon order, timers and
 * call_later, fd watchers, call_soon_threadsafe from another thread,
 * fairness between tasks and I/O, and debug-mode warnings.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <simul.h>

static char seq[64];
static int n;
static void push(void *a) { seq[n++] = (char)(intptr_t)a; seq[n] = 0; }

static int task_mark(void *a) { push(a); return 0; }

static int main_call_soon(void *a)
{
    (void)a;
    CHECK_EQ(simul_call_soon(push, (void *)'a'), 0);
    simul_task *t = simul_spawn(task_mark, (void *)'b');
    CHECK_EQ(simul_call_soon(push, (void *)'c'), 0);
    CHECK_EQ(simul_call_soon(NULL, NULL), -EINVAL);
    CHECK_EQ(simul_join(t), 0);
    simul_yield();
    return 0;
}
TEST(call_soon_runs_fifo_with_tasks)
{
    CHECK_EQ(simul_call_soon(push, NULL), -EPERM);
    CHECK_EQ(simul_run(main_call_soon, NULL), 0);
    CHECK(strcmp(seq, "abc") == 0);
}

static int main_timers(void *a)
{
    (void)a;
    CHECK_EQ(simul_call_later(0.02, push, (void *)'3'), 0);
    CHECK_EQ(simul_call_later(0.01, push, (void *)'2'), 0);
    CHECK_EQ(simul_call_later(0, push, (void *)'1'), 0);
    CHECK_EQ(simul_call_later(-1, push, NULL), -EINVAL);
    simul_timer *stopped = simul_timer_new(push, (void *)'x');
    CHECK_EQ(simul_timer_start(stopped, 0.005), 0);
    CHECK_EQ(simul_timer_active(stopped), 1);
    CHECK_EQ(simul_timer_stop(stopped), 0);
    CHECK_EQ(simul_timer_active(stopped), 0);
    simul_timer *restarted = simul_timer_new(push, (void *)'4');
    CHECK_EQ(simul_timer_start(restarted, 0.001), 0);
    CHECK_EQ(simul_timer_start(restarted, 0.03), 0);   /* re-arm moves it */
    CHECK_EQ(simul_sleep(0.05), 0);
    simul_timer_free(stopped);
    simul_timer_free(restarted);
    return 0;
}
TEST(timers_fire_in_deadline_order_and_can_be_stopped_or_moved)
{
    CHECK_EQ(simul_run(main_timers, NULL), 0);
    CHECK(strcmp(seq, "1234") == 0);
}

struct pipe_ctx { int fds[2]; int reads; simul_task *waiter; char got[16]; };

static void on_readable(simul_watch *w, int revents, void *arg)
{
    struct pipe_ctx *p = arg;
    CHECK(revents & SIMUL_READABLE);
    ssize_t k = read(p->fds[0], p->got + p->reads, 1);
    if (k == 1)
        p->reads++;
    if (p->reads == 3)
        simul_watch_set(w, 0);
}
static int writer(void *a)
{
    struct pipe_ctx *p = a;
    for (int i = 0; i < 3; i++) {
        simul_sleep(0.002);
        CHECK(write(p->fds[1], &"xyz"[i], 1) == 1);
    }
    return 0;
}
static int main_watch(void *a)
{
    (void)a;
    struct pipe_ctx p = { .reads = 0 };
    CHECK(pipe2(p.fds, O_NONBLOCK) == 0);
    simul_watch *w = simul_watch_new(p.fds[0], on_readable, &p);
    CHECK(w != NULL);
    CHECK_EQ(simul_watch_fd(w), p.fds[0]);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    /* A second watcher on the fd, armed then freed before anything is
     * ready, leaves the first one alone. */
    simul_watch *dup_w = simul_watch_new(p.fds[0], on_readable, &p);
    CHECK_EQ(simul_watch_set(dup_w, SIMUL_READABLE), 0);
    simul_watch_free(dup_w);
    CHECK_EQ(simul_join(simul_spawn(writer, &p)), 0);
    simul_sleep(0.01);
    CHECK_EQ(p.reads, 3);
    CHECK(memcmp(p.got, "xyz", 3) == 0);
    simul_watch_free(w);
    close(p.fds[0]);
    close(p.fds[1]);
    CHECK(simul_watch_new(-1, on_readable, NULL) == NULL && errno == EBADF);
    return 0;
}
TEST(fd_watchers_report_readiness)
{
    CHECK_EQ(simul_run(main_watch, NULL), 0);
}

/* Two watchers ready in the same batch; the first frees the second. */
struct two { int fds[2][2]; simul_watch *w[2]; int calls[2]; };
static void on_two(simul_watch *w, int revents, void *arg)
{
    (void)revents;
    struct two *t = arg;
    int i = w == t->w[0] ? 0 : 1;
    t->calls[i]++;
    char c;
    ssize_t k = read(t->fds[i][0], &c, 1);
    (void)k;
    simul_watch_free(t->w[1 - i]);   /* the other one must not be called now */
    t->w[1 - i] = NULL;
    simul_watch_set(w, 0);
}
static int main_free_in_batch(void *a)
{
    (void)a;
    struct two t = { .calls = { 0, 0 } };
    for (int i = 0; i < 2; i++) {
        CHECK(pipe2(t.fds[i], O_NONBLOCK) == 0);
        CHECK(write(t.fds[i][1], "x", 1) == 1);
    }
    for (int i = 0; i < 2; i++) {
        t.w[i] = simul_watch_new(t.fds[i][0], on_two, &t);
        simul_watch_set(t.w[i], SIMUL_READABLE);
    }
    simul_sleep(0.005);
    CHECK_EQ(t.calls[0] + t.calls[1], 1);
    for (int i = 0; i < 2; i++) {
        simul_watch_free(t.w[i]);
        close(t.fds[i][0]);
        close(t.fds[i][1]);
    }
    return 0;
}
TEST(a_watcher_freed_during_a_batch_is_never_called)
{
    CHECK_EQ(simul_run(main_free_in_batch, NULL), 0);
}

struct ts { simul_loop *loop; int hits; simul_task *waiter; };
static void ts_cb(void *a)
{
    struct ts *s = a;
    if (++s->hits == 1000)
        simul_cancel(s->waiter);  /* runs on the loop: safe */
}
static void *thread_main(void *a)
{
    struct ts *s = a;
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(simul_call_soon_threadsafe(s->loop, ts_cb, s), 0);
    simul_loop_unref(s->loop);
    return NULL;
}
static int main_threadsafe(void *a)
{
    (void)a;
    struct ts s = { .loop = simul_loop_current(), .hits = 0, .waiter = simul_current() };
    CHECK(s.loop != NULL);
    simul_loop_ref(s.loop);
    pthread_t th;
    pthread_create(&th, NULL, thread_main, &s);
    CHECK_EQ(simul_sleep(10), -ECANCELED);     /* woken by the 1000th callback */
    pthread_join(th, NULL);
    CHECK_EQ(s.hits, 1000);
    return 0;
}
TEST(call_soon_threadsafe_wakes_the_loop_from_another_thread)
{
    CHECK_EQ(simul_call_soon_threadsafe(NULL, ts_cb, NULL), -EINVAL);
    CHECK_EQ(simul_run(main_threadsafe, NULL), 0);
}

/* A task that yields in a loop must not starve I/O or timers. */
static int spinner(void *a)
{
    int *stop = a;
    while (!*stop)
        if (simul_yield() < 0)
            break;
    return 0;
}
static void set_flag(void *a) { *(int *)a = 1; }
static int main_fair(void *a)
{
    (void)a;
    int stop = 0;
    simul_task *s = simul_spawn(spinner, &stop);
    simul_call_later(0.01, set_flag, &stop);
    double t0 = simul_now();
    CHECK_EQ(simul_join(s), 0);
    CHECK(simul_now() - t0 < 1);
    return 0;
}
TEST(busy_yielding_tasks_do_not_starve_timers)
{
    CHECK_EQ(simul_run(main_fair, NULL), 0);
}

static int hog(void *a)
{
    (void)a;
    usleep(150 * 1000);   /* blocks the loop */
    return simul_yield();
}
static int main_hog(void *a)
{
    (void)a;
    simul_task_opts o = { .name = "hog" };
    CHECK_EQ(simul_join(simul_spawn_opts(hog, NULL, &o)), 0);
    simul_spawn(hog, NULL); /* never joined: reported at close */
    simul_yield();
    return 0;
}
/* simul_run(fn) in debug mode; exit status 0 if it returned 0. */
static int run_debug(void *fn)
{
    setenv("SIMUL_DEBUG", "1", 1);
    return simul_run((simul_fn)fn, NULL) == 0 ? 0 : 1;
}

TEST(debug_mode_warns_of_slow_and_unjoined_tasks)
{
    char buf[4096];
    int st = harness_child_stderr(run_debug, (void *)main_hog, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(buf, "task 'hog' ran") != NULL);
    CHECK(strstr(buf, "without suspending") != NULL);
    CHECK(strstr(buf, "was never joined") != NULL);
}

static int main_backend(void *a)
{
    (void)a;
    const char *b = simul_backend_name();
    CHECK(b != NULL);
    const char *want = getenv("SIMUL_BACKEND");
    if (want && strcmp(want, "auto") != 0)
        CHECK(strcmp(b, want) == 0);
    return 0;
}
TEST(the_backend_is_the_one_asked_for)
{
    CHECK(simul_backend_name() == NULL);
    CHECK_EQ(simul_run(main_backend, NULL), 0);
}

static int main_nop(void *a) { (void)a; return 0; }
TEST(an_unknown_backend_is_refused)
{
    setenv("SIMUL_BACKEND", "kqueue", 1);
    CHECK_EQ(simul_run(main_nop, NULL), -EINVAL);
}

TEST(loops_can_be_run_again_and_on_several_threads)
{
    for (int i = 0; i < 3; i++)
        CHECK_EQ(simul_run(main_timers, NULL), 0);
}

static int sleepy(void *a) { (void)a; return simul_sleep(INFINITY); }
static int main_sigquit(void *a)
{
    (void)a;
    simul_task_opts o = { .name = "napper" };
    simul_task *t = simul_spawn_opts(sleepy, NULL, &o);
    simul_yield();
    raise(SIGQUIT);           /* debug mode: dump at the next loop iteration */
    simul_sleep(0.02);
    simul_cancel(t);
    return simul_join(t) == -ECANCELED ? 0 : 1;
}
TEST(sigquit_dumps_the_tasks_in_debug_mode)
{
    char buf[4096];
    int st = harness_child_stderr(run_debug, (void *)main_sigquit, buf, sizeof buf);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(buf, "napper") != NULL);
    CHECK(strstr(buf, "in sleep, called from") != NULL);
}
