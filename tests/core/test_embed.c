/*
 * test_embed.c - the loop API for embedding (simul_loop_new/_run/_run_once/
 * _free, options, backend fd, user data), the per-loop module registry
 * (hook order, the shutdown hook in a task, per-loop slots), watcher and
 * timer ref/unref against the deadlock breaker, and the log handler.
 */
#include "harness.h"
#include "../../src/core/internal.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <simul.h>

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- module hooks ---------------------------------------------------------- */

static char hooks[256];
static void note(const char *what)
{
    strncat(hooks, what, sizeof hooks - strlen(hooks) - 1);
}

static simul__module mod_a, mod_b, mod_c;
static int shutdown_in_task_after_main;
static int sleeper_cancelled;

static int a_init(simul_loop *l, void *d) { (void)l; (void)d; note("iA "); return 0; }
static int c_init(simul_loop *l, void *d) { (void)l; (void)d; note("iC "); return 0; }
static int b_init(simul_loop *l, void *d)
{
    (void)d;
    /* B depends on C: C attaches first, so it closes after B. */
    CHECK(simul__module_data(l, &mod_c) != NULL);
    note("iB ");
    return 0;
}
static void a_begin(simul_loop *l, void *d) { (void)l; (void)d; note("rA "); }
static void b_begin(simul_loop *l, void *d) { (void)l; (void)d; note("rB "); }
static void c_begin(simul_loop *l, void *d) { (void)l; (void)d; note("rC "); }
static void a_shutdown(simul_loop *l, void *d)
{
    (void)d;
    /* In a task, main finished, the other tasks already cancelled; it may
     * still sleep. */
    shutdown_in_task_after_main = simul__current() != NULL && l->main == NULL &&
                                  sleeper_cancelled && simul_sleep(0.01) == 0;
    note("sA ");
}
static void c_shutdown(simul_loop *l, void *d) { (void)l; (void)d; note("sC "); }
static void a_close(simul_loop *l, void *d) { (void)l; (void)d; note("cA "); }
static void b_close(simul_loop *l, void *d) { (void)l; (void)d; note("cB "); }
static void c_close(simul_loop *l, void *d) { (void)l; (void)d; note("cC "); }

static simul__module mod_a = { .name = "a", .size = sizeof(int), .init = a_init,
                               .run_begin = a_begin, .shutdown = a_shutdown, .close = a_close };
static simul__module mod_b = { .name = "b", .init = b_init, .run_begin = b_begin,
                               .close = b_close };
static simul__module mod_c = { .name = "c", .size = 64, .init = c_init,
                               .run_begin = c_begin, .shutdown = c_shutdown, .close = c_close };

static int sleeper(void *a)
{
    (void)a;
    int r = simul_sleep(INFINITY);
    sleeper_cancelled = r == -ECANCELED;
    return r;
}

static int main_attach_b(void *a)
{
    simul_loop *l = a;
    note("main ");
    CHECK(simul__module_data(l, &mod_b) != NULL);
    CHECK(simul__module_data(l, &mod_b) == simul__module_peek(l, &mod_b));
    simul_detach(simul_spawn(sleeper, NULL));
    simul_yield();
    return 7;
}

TEST(module_hooks_run_in_attach_order_and_close_in_reverse)
{
    simul_loop *l;
    CHECK_EQ(simul_loop_new(NULL, &l), 0);
    int *a = simul__module_data(l, &mod_a);   /* before the run */
    CHECK(a != NULL);
    CHECK_EQ(*a, 0);                           /* zeroed */
    CHECK(simul__module_peek(l, &mod_b) == NULL);
    CHECK_EQ(simul_loop_run(l, main_attach_b, l), 7);
    CHECK_EQ(simul_loop_free(l), 0);
    CHECK_EQ(strcmp(hooks, "iA rA main iC rC iB rB sA sC cB cC cA "), 0);
    if (strcmp(hooks, "iA rA main iC rC iB rB sA sC cB cC cA ") != 0)
        printf("# hooks: %s\n", hooks);
    CHECK(shutdown_in_task_after_main);
}

/* ---- the slot is per loop ------------------------------------------------- */

static simul__module mod_slot = { .name = "slot", .size = sizeof(long) };

static int main_slot(void *a)
{
    long want = (long)(intptr_t)a;
    long *p = simul__module_data(simul_loop_current(), &mod_slot);
    CHECK(p != NULL);
    CHECK_EQ(*p, 0);
    *p = want;
    for (int i = 0; i < 50; i++) {
        simul_sleep(0.001);
        CHECK_EQ(*(long *)simul__module_peek(simul_loop_current(), &mod_slot), want);
    }
    return 0;
}
static void *slot_thread(void *a)
{
    CHECK_EQ(simul_run(main_slot, a), 0);
    return NULL;
}

TEST(module_slots_are_per_loop)
{
    pthread_t t[3];
    for (long i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, slot_thread, (void *)(intptr_t)(i + 1));
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    /* A later loop starts with a fresh, zeroed slot. */
    CHECK_EQ(simul_run(main_slot, (void *)(intptr_t)9), 0);
}

/* ---- options ------------------------------------------------------------- */

static int deep(void *a)
{
    (void)a;
    volatile char buf[150 * 1024];   /* more than the 64 KiB default */
    memset((char *)buf, 1, sizeof buf);
    return buf[100];
}
static char be_seen[16];
static int main_opts(void *a)
{
    (void)a;
    snprintf(be_seen, sizeof be_seen, "%s", simul_backend_name());
    CHECK_EQ(simul_default_stack_size(), 256 * 1024);
    CHECK_EQ(simul_threadpool_size(), 3);
    CHECK_EQ(simul_join(simul_spawn(deep, NULL)), 1);
    return 0;
}

TEST(loop_options_are_honoured)
{
    const char *names[] = { "epoll", "io_uring" };
    for (int i = 0; i < 2; i++) {
        simul_loop_opts o = { .backend = names[i], .stack_size = 256 * 1024,
                              .threadpool_size = 3 };
        simul_loop *l;
        int r = simul_loop_new(&o, &l);
        if (r != 0 && i == 1) {
            printf("# io_uring unavailable: %s\n", simul_strerror(r));
            continue;
        }
        CHECK_EQ(r, 0);
        be_seen[0] = 0;
        CHECK_EQ(simul_loop_run(l, main_opts, NULL), 0);
        CHECK_EQ(strcmp(be_seen, names[i]), 0);
        CHECK_EQ(simul_loop_free(l), 0);
    }
    /* Out of range: refused. */
    simul_loop *l = NULL;
    simul_loop_opts bad = { .threadpool_size = 257 };
    CHECK_EQ(simul_loop_new(&bad, &l), -EINVAL);
    CHECK(l == NULL);
    simul_loop_opts bad2 = { .stack_size = (size_t)1 << 40 };
    CHECK_EQ(simul_loop_new(&bad2, &l), -EINVAL);
    simul_loop_opts bad3 = { .backend = "kqueue" };
    CHECK_EQ(simul_loop_new(&bad3, &l), -EINVAL);
    CHECK(simul_loop_current() == NULL);
}

static void host_handler(int sig) { (void)sig; }
static struct sigaction segv_before;   /* ASan has its own SIGSEGV handler */
static int main_sig_check(void *a)
{
    (void)a;
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    CHECK(sa.sa_handler == host_handler);
    sigaction(SIGPIPE, NULL, &sa);
    CHECK(sa.sa_handler == SIG_DFL);
    sigaction(SIGSEGV, NULL, &sa);
    CHECK(sa.sa_sigaction == segv_before.sa_sigaction);
    return 0;
}

static int main_sig_taken(void *a)
{
    (void)a;
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    CHECK(sa.sa_handler != SIG_DFL);
    sigaction(SIGPIPE, NULL, &sa);
    CHECK(sa.sa_handler == SIG_IGN);
    sigaction(SIGSEGV, NULL, &sa);
    CHECK(sa.sa_sigaction != segv_before.sa_sigaction);   /* the overflow report */
    return 0;
}

TEST(without_signals_no_disposition_is_touched)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = host_handler;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGSEGV, NULL, &segv_before);
    simul_loop *l;
    CHECK_EQ(simul_loop_new(NULL, &l), 0);
    CHECK_EQ(simul_loop_run(l, main_sig_check, NULL), 0);
    CHECK_EQ(simul_loop_free(l), 0);
    /* simul_run does take them. */
    signal(SIGINT, SIG_DFL);
    CHECK_EQ(simul_run(main_sig_taken, NULL), 0);
    sigaction(SIGPIPE, NULL, &sa);
    CHECK(sa.sa_handler == SIG_IGN);   /* not restored, as documented */
    sigaction(SIGINT, NULL, &sa);
    CHECK(sa.sa_handler == SIG_DFL);   /* restored */
}

static int main_raise(void *a)
{
    (void)a;
    raise(SIGINT);
    return simul_sleep(10);
}

TEST(with_signals_sigint_cancels_main)
{
    simul_loop_opts o = { .signals = 1 };
    simul_loop *l;
    CHECK_EQ(simul_loop_new(&o, &l), 0);
    CHECK_EQ(simul_loop_run(l, main_raise, NULL), -EINTR);
    CHECK_EQ(simul_loop_free(l), 0);
}

/* ---- driving the loop from a host's poll(2) loop --------------------------- */

static int wfd = -1;
static void *late_writer(void *a)
{
    (void)a;
    struct timespec ts = { 0, 60 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    ssize_t n = write(wfd, "x", 1);
    (void)n;
    return NULL;
}
static int main_embedded(void *a)
{
    int rfd = *(int *)a;
    CHECK_EQ(simul_sleep(0.03), 0);            /* a timer */
    CHECK(simul_wait_fd(rfd, SIMUL_READABLE, simul_now() + 5) > 0);   /* an fd */
    char c;
    CHECK_EQ(read(rfd, &c, 1), 1);
    void *res = NULL;
    CHECK_EQ(simul_to_thread(late_writer, NULL, &res), 0);   /* a thread */
    return 42;
}

TEST(run_once_driven_by_polling_the_backend_fd)
{
    int p[2];
    CHECK_EQ(pipe(p), 0);
    wfd = p[1];
    simul_loop *l;
    CHECK_EQ(simul_loop_new(NULL, &l), 0);     /* SIMUL_BACKEND: both run */
    int fd = simul_loop_backend_fd(l);
    CHECK(fd >= 0);
    CHECK_EQ(simul_loop_set_data(l, &wfd), 0);
    CHECK(simul_loop_data(l) == &wfd);
    CHECK_EQ(simul_loop_start(l, main_embedded, &p[0]), 0);
    CHECK_EQ(simul_loop_start(l, main_embedded, &p[0]), -EBUSY);
    pthread_t th;
    pthread_create(&th, NULL, late_writer, NULL);
    double t0 = mono();
    int result = -1, iters = 0, r;
    while ((r = simul_loop_run_once(l, &result)) == 1) {
        double timeout;
        CHECK_EQ(simul_loop_timeout(l, &timeout), 0);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int ms = isinf(timeout) ? 2000 : (int)ceil(timeout * 1000);
        CHECK(poll(&pfd, 1, ms) >= 0);
        iters++;
        CHECK(iters < 500);    /* the host sleeps in poll, it does not spin */
        if (iters >= 500)
            break;
    }
    CHECK_EQ(r, 0);
    CHECK_EQ(result, 42);
    double took = mono() - t0;
    if (!(took >= 0.1 && took < 3))
        printf("# took %.3f s, %d iterations\n", took, iters);
    CHECK(took >= 0.1 && took < 3);
    pthread_join(th, NULL);
    CHECK_EQ(simul_loop_run_once(l, &result), 0);   /* no main: nothing to do */
    CHECK_EQ(simul_loop_free(l), 0);
    close(p[0]);
    close(p[1]);
}

static int main_inner(void *a)
{
    simul_loop *l = a;
    simul_loop *other;
    CHECK_EQ(simul_loop_new(NULL, &other), -EBUSY);
    CHECK_EQ(simul_loop_run(l, main_inner, l), -EBUSY);
    CHECK_EQ(simul_loop_run_once(l, NULL), -EBUSY);
    CHECK_EQ(simul_loop_free(l), -EBUSY);
    return 0;
}
static void *other_thread(void *a)
{
    CHECK_EQ(simul_loop_run(a, main_inner, a), -EPERM);
    CHECK_EQ(simul_loop_free(a), -EPERM);
    return NULL;
}

TEST(loop_api_refuses_misuse)
{
    simul_loop *l;
    CHECK_EQ(simul_loop_new(NULL, NULL), -EINVAL);
    CHECK_EQ(simul_loop_new(NULL, &l), 0);
    CHECK_EQ(simul_run(main_inner, l), -EBUSY);     /* the thread has a loop */
    pthread_t th;
    pthread_create(&th, NULL, other_thread, l);
    pthread_join(th, NULL);
    CHECK_EQ(simul_loop_run(l, main_inner, l), 0);
    CHECK_EQ(simul_loop_free(l), 0);
    CHECK_EQ(simul_loop_free(NULL), -EINVAL);
    CHECK_EQ(simul_loop_backend_fd(NULL), -EINVAL);
}

/* A run on a loop without .signals: simul_run's SIGINT handler would keep
 * main waiting (Ctrl-C can cancel it), so main could not deadlock. */
static int run_plain(simul_fn fn, void *arg)
{
    simul_loop *l;
    int r = simul_loop_new(NULL, &l);
    if (r)
        return r;
    r = simul_loop_run(l, fn, arg);
    simul_loop_free(l);
    return r;
}

/* ---- log handler ----------------------------------------------------------- */

static char logged[1024];
static int logged_level = -1;
static void on_log(int level, const char *msg, void *arg)
{
    CHECK(arg == logged);
    logged_level = level;
    strncat(logged, msg, sizeof logged - strlen(logged) - 2);
    strcat(logged, "\n");
}

static int main_stuck(void *a)
{
    (void)a;
    simul_event *e = simul_event_new();
    int r = simul_event_wait(e);    /* nobody will ever set it */
    simul_event_free(e);
    return r;
}
static int child_log(void *a)
{
    (void)a;
    if (simul_log_set_handler(on_log, logged, SIMUL_LOG_WARN) != 0)
        return 1;
    if (run_plain(main_stuck, NULL) != -ECANCELED)
        return 2;
    if (!strstr(logged, "deadlock") || logged_level != SIMUL_LOG_WARN)
        return 3;
    /* Back to the default: stderr. */
    simul_log_set_handler(NULL, NULL, SIMUL_LOG_INFO);
    return run_plain(main_stuck, NULL) == -ECANCELED ? 0 : 4;
}

TEST(the_log_handler_gets_the_deadlock_warning_instead_of_stderr)
{
    char buf[2048];
    int st = harness_child_stderr(child_log, NULL, buf, sizeof buf);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    /* Only the second run (default handler) wrote to stderr, once. */
    char *first = strstr(buf, "simul: deadlock");
    CHECK(first != NULL);
    CHECK(first && strstr(first + 1, "simul: deadlock") == NULL);
    CHECK_EQ(simul_log_set_handler(on_log, NULL, 4), -EINVAL);
    CHECK_EQ(simul_log_set_handler(on_log, NULL, -1), -EINVAL);
}

static int child_quiet(void *a)
{
    (void)a;
    simul_log_set_handler(on_log, logged, SIMUL_LOG_ERROR);   /* WARN dropped */
    if (run_plain(main_stuck, NULL) != -ECANCELED)
        return 1;
    return logged[0] == 0 ? 0 : 2;
}

TEST(log_messages_above_the_level_are_dropped)
{
    char buf[1024];
    int st = harness_child_stderr(child_quiet, NULL, buf, sizeof buf);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    CHECK_EQ(buf[0], 0);
}

/* ---- ref / unref and the deadlock breaker ---------------------------------- */

static simul_event *ev;
static void set_ev(void *a) { (void)a; simul_event_set(ev); }

/* Waits on ev with a timer (unref'd or not) that would set it in `delay`
 * seconds; returns the wait's result. */
static int wait_with_timer(int unref, double delay)
{
    ev = simul_event_new();
    simul_timer *t = simul_timer_new(set_ev, NULL);
    if (unref)
        CHECK_EQ(simul_timer_unref(t), 0);
    CHECK_EQ(simul_timer_start(t, delay), 0);
    int r = simul_event_wait(ev);
    simul_timer_free(t);
    simul_event_free(ev);
    return r;
}
static int main_timer_ref(void *a)
{
    (void)a;
    return wait_with_timer(0, 0.1);
}
static int main_timer_unref(void *a)
{
    (void)a;
    return wait_with_timer(1, 5);
}
static int main_timer_reref(void *a)
{
    (void)a;
    ev = simul_event_new();
    simul_timer *t = simul_timer_new(set_ev, NULL);
    simul_timer_unref(t);
    simul_timer_start(t, 0.1);
    simul_timer_ref(t);              /* counts again */
    int r = simul_event_wait(ev);
    simul_timer_free(t);
    simul_event_free(ev);
    return r;
}

TEST(an_unrefd_timer_does_not_hide_a_deadlock)
{
    CHECK_EQ(run_plain(main_timer_ref, NULL), 0);
    double t0 = mono();
    CHECK_EQ(run_plain(main_timer_unref, NULL), -ECANCELED);
    CHECK(mono() - t0 < 2);          /* broken at once, not after 5 s */
    CHECK_EQ(run_plain(main_timer_reref, NULL), 0);
    CHECK_EQ(simul_timer_unref(NULL), -EINVAL);
    CHECK_EQ(simul_timer_ref(NULL), -EINVAL);
}

static int pp[2];
static void on_readable(simul_watch *w, int revents, void *a)
{
    (void)revents;
    (void)a;
    simul_watch_set(w, 0);
    simul_event_set(ev);
}
static void *write_soon(void *a)
{
    (void)a;
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    ssize_t n = write(pp[1], "x", 1);
    (void)n;
    return NULL;
}
/* How main_watch sets its watcher up. */
enum { W_REF, W_UNREF, W_UNREF_THEN_REF, W_UNREF_WHILE_PAUSED, W_UNREF_BESIDE_A_WAIT };
static int main_watch(void *a)
{
    int mode = *(int *)a;
    CHECK_EQ(pipe(pp), 0);
    ev = simul_event_new();
    simul_watch *w = simul_watch_new(pp[0], on_readable, NULL);
    if (mode == W_UNREF_WHILE_PAUSED)   /* the flag is kept for the next arm */
        CHECK_EQ(simul_watch_unref(w), 0);
    CHECK_EQ(simul_watch_set(w, SIMUL_READABLE), 0);
    if (mode == W_UNREF || mode == W_UNREF_THEN_REF || mode == W_UNREF_BESIDE_A_WAIT)
        CHECK_EQ(simul_watch_unref(w), 0);
    if (mode == W_UNREF_THEN_REF)       /* changed while registered */
        CHECK_EQ(simul_watch_ref(w), 0);
    pthread_t th;
    pthread_create(&th, NULL, write_soon, NULL);   /* no loop ref held */
    int r;
    if (mode == W_UNREF_BESIDE_A_WAIT) {
        /* The task's wait on the same fd is its own handle, and ref'd. */
        r = simul_wait_fd(pp[0], SIMUL_READABLE, INFINITY);
        r = r > 0 ? 0 : r;
    } else {
        r = simul_event_wait(ev);
    }
    simul_watch_free(w);
    pthread_join(th, NULL);
    simul_event_free(ev);
    close(pp[0]);
    close(pp[1]);
    return r;
}

TEST(an_unrefd_watcher_does_not_hide_a_deadlock)
{
    int ref = W_REF, unref = W_UNREF, reref = W_UNREF_THEN_REF;
    int paused = W_UNREF_WHILE_PAUSED, beside = W_UNREF_BESIDE_A_WAIT;
    CHECK_EQ(run_plain(main_watch, &ref), 0);           /* the watcher wakes it */
    CHECK_EQ(run_plain(main_watch, &unref), -ECANCELED);
    CHECK_EQ(run_plain(main_watch, &reref), 0);
    CHECK_EQ(run_plain(main_watch, &paused), -ECANCELED);
    CHECK_EQ(run_plain(main_watch, &beside), 0);
    CHECK_EQ(simul_watch_unref(NULL), -EINVAL);
    CHECK_EQ(simul_watch_ref(NULL), -EINVAL);
}
