/*
 * test_signal.c - signals: waiting for signals in a task (sent while it
 * waits, while nobody waits, while other tasks sleep), cancellation and
 * misuse, the mask restored at close; SIGINT during simul_run cancelling the
 * main task (asyncio.run's KeyboardInterrupt), a second SIGINT killing the
 * process, SIGPIPE never killing it.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <simul.h>

static void send_self(void *a) { kill(getpid(), (int)(intptr_t)a); }

static int sleeper_ok;
static int sleeper(void *a)
{
    (void)a;
    double t0 = simul_now();
    int r = simul_sleep(0.1);
    if (r == 0 && simul_now() - t0 >= 0.099)
        sleeper_ok++;
    return r;
}

static int main_wait(void *a)
{
    (void)a;
    int sigs[] = { SIGUSR1, SIGUSR2 };
    simul_signal *s;
    CHECK_EQ(simul_signal_open(sigs, 2, &s), 0);
    /* delivered while this task waits and two others sleep */
    simul_task *sl[2] = { simul_spawn(sleeper, NULL), simul_spawn(sleeper, NULL) };
    CHECK_EQ(simul_call_later(0.03, send_self, (void *)SIGUSR2), 0);
    double t0 = simul_now();
    CHECK_EQ(simul_signal_wait(s), SIGUSR2);
    CHECK(simul_now() - t0 >= 0.02);
    CHECK_EQ(simul_gather(sl, 2, NULL, SIMUL_GATHER_FAIL_FAST), 0);
    CHECK_EQ(sleeper_ok, 2);            /* the signal did not disturb them */
    /* sent while nobody waits: stays pending, returned at once */
    kill(getpid(), SIGUSR1);
    CHECK_EQ(simul_signal_wait(s), SIGUSR1);
    /* several of one kind coalesce (standard signals), none is lost */
    kill(getpid(), SIGUSR1);
    kill(getpid(), SIGUSR2);
    int a1 = simul_signal_wait(s), a2 = simul_signal_wait(s);
    CHECK((a1 == SIGUSR1 && a2 == SIGUSR2) || (a1 == SIGUSR2 && a2 == SIGUSR1));
    CHECK_EQ(simul_signal_close(s), 0);
    return 0;
}
TEST(wait_for_signals)
{
    sigset_t m;
    CHECK_EQ(simul_run(main_wait, NULL), 0);
    pthread_sigmask(SIG_BLOCK, NULL, &m);
    CHECK(!sigismember(&m, SIGUSR1));   /* unblocked again at close */
    CHECK(!sigismember(&m, SIGUSR2));
}

static int waiter(void *a) { return simul_signal_wait(a); }
static int main_misuse(void *a)
{
    (void)a;
    simul_signal *s;
    int bad[] = { SIGKILL };
    CHECK_EQ(simul_signal_open(bad, 1, &s), -EINVAL);
    int segv[] = { SIGSEGV };
    CHECK_EQ(simul_signal_open(segv, 1, &s), -EINVAL);
    int zero[] = { 0 };
    CHECK_EQ(simul_signal_open(zero, 1, &s), -EINVAL);
    int ok[] = { SIGUSR1 };
    CHECK_EQ(simul_signal_open(ok, 0, &s), -EINVAL);
    CHECK_EQ(simul_signal_open(ok, 1, &s), 0);
    simul_task *t = simul_spawn(waiter, s);
    CHECK_EQ(simul_yield(), 0);
    CHECK_EQ(simul_signal_wait(s), -EBUSY);
    CHECK_EQ(simul_signal_close(s), -EBUSY);
    simul_cancel(t);
    CHECK_EQ(simul_join(t), -ECANCELED);
    /* a scope deadline */
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + 0.02);
    CHECK_EQ(simul_signal_wait(s), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    /* the signal that comes after a cancelled wait is not lost */
    kill(getpid(), SIGUSR1);
    CHECK_EQ(simul_signal_wait(s), SIGUSR1);
    CHECK_EQ(simul_signal_close(s), 0);
    return 0;
}
TEST(cancel_and_misuse)
{
    int ok[] = { SIGUSR1 };
    simul_signal *s;
    CHECK_EQ(simul_signal_open(ok, 1, &s), -EPERM);
    CHECK_EQ(simul_run(main_misuse, NULL), 0);
}

/* A signal blocked before open stays blocked after close. */
static int main_keep(void *a)
{
    (void)a;
    int sigs[] = { SIGUSR1 };
    simul_signal *s1, *s2;
    CHECK_EQ(simul_signal_open(sigs, 1, &s1), 0);
    CHECK_EQ(simul_signal_open(sigs, 1, &s2), 0);
    CHECK_EQ(simul_signal_close(s1), 0);
    sigset_t m;
    pthread_sigmask(SIG_BLOCK, NULL, &m);
    CHECK(sigismember(&m, SIGUSR1));    /* s2 still needs it blocked */
    kill(getpid(), SIGUSR1);
    CHECK_EQ(simul_signal_wait(s2), SIGUSR1);
    CHECK_EQ(simul_signal_close(s2), 0);
    return 0;
}
TEST(mask_bookkeeping)
{
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &m, NULL);
    CHECK_EQ(simul_run(main_keep, NULL), 0);
    pthread_sigmask(SIG_BLOCK, NULL, &m);
    CHECK(!sigismember(&m, SIGUSR1));
    CHECK(sigismember(&m, SIGUSR2));
}

/* SIGINT during simul_run: main is cancelled, the others too, -EINTR. */
static int others_cancelled;
static int forever(void *a)
{
    (void)a;
    int r = simul_sleep(INFINITY);
    if (r == -ECANCELED)
        others_cancelled++;
    return r;
}
static int main_sigint(void *a)
{
    (void)a;
    simul_task *t = simul_spawn(forever, NULL);
    simul_detach(t);
    simul_task *t2 = simul_spawn(forever, NULL);
    simul_detach(t2);
    CHECK_EQ(simul_call_later(0.03, send_self, (void *)SIGINT), 0);
    int r = simul_sleep(10);
    CHECK_EQ(r, -ECANCELED);
    return r;
}
TEST(sigint_cancels_main)
{
    double t0 = simul_now();
    CHECK_EQ(simul_run(main_sigint, NULL), -EINTR);
    CHECK(simul_now() - t0 < 1.0);
    CHECK_EQ(others_cancelled, 2);
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    CHECK(sa.sa_handler == SIG_DFL);    /* restored */
}

/* Main catches the cancellation and returns its own result. */
static int main_sigint_handled(void *a)
{
    (void)a;
    CHECK_EQ(simul_call_later(0.02, send_self, (void *)SIGINT), 0);
    if (simul_sleep(10) == -ECANCELED) {
        simul_scope sc;
        simul_scope_enter_shielded(&sc, INFINITY);
        CHECK_EQ(simul_sleep(0.01), 0);     /* cleanup that waits */
        simul_scope_exit(&sc);
        return 3;
    }
    return 0;
}
TEST(sigint_main_cleans_up)
{
    CHECK_EQ(simul_run(main_sigint_handled, NULL), 3);
}

/* A main task busy with simul_yield (the loop has no reason to poll) still
 * sees the SIGINT. */
static int main_busy(void *a)
{
    (void)a;
    CHECK_EQ(simul_call_later(0.02, send_self, (void *)SIGINT), 0);
    double t0 = simul_now();
    while (simul_now() - t0 < 5)
        if (simul_yield() == -ECANCELED)
            return -ECANCELED;
    return 0;
}
TEST(sigint_while_busy)
{
    CHECK_EQ(simul_run(main_busy, NULL), -EINTR);
}

/* A second SIGINT while shutdown hangs kills the process. */
static int main_stubborn(void *a)
{
    (void)a;
    CHECK_EQ(simul_call_later(0.02, send_self, (void *)SIGINT), 0);
    simul_sleep(10);
    simul_scope sc;
    simul_scope_enter_shielded(&sc, INFINITY);
    kill(getpid(), SIGINT);
    simul_sleep(10);                        /* never returns */
    simul_scope_exit(&sc);
    return 0;
}
TEST(second_sigint_kills)
{
    pid_t pid = fork();
    if (pid == 0) {
        simul_run(main_stubborn, NULL);
        _exit(0);
    }
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGINT);
}

/* An installed SIGINT handler is left alone. */
static volatile sig_atomic_t own_hits;
static void own(int s) { (void)s; own_hits++; }
static int main_own(void *a)
{
    (void)a;
    kill(getpid(), SIGINT);
    CHECK_EQ(simul_sleep(0.02), 0);
    return 0;
}
TEST(sigint_own_handler_kept)
{
    signal(SIGINT, own);
    CHECK_EQ(simul_run(main_own, NULL), 0);
    CHECK_EQ(own_hits, 1);
}

/* SIGPIPE: writing to a pipe nobody reads is -EPIPE, not death. */
static int main_pipe(void *a)
{
    (void)a;
    int p[2];
    CHECK_EQ(pipe(p), 0);
    close(p[0]);
    CHECK_EQ(write(p[1], "x", 1), -1);
    CHECK_EQ(errno, EPIPE);
    close(p[1]);
    return 0;
}
TEST(sigpipe_ignored)
{
    CHECK_EQ(simul_run(main_pipe, NULL), 0);
}

/* Signals sent from another thread reach the task (pool threads block them). */
static void *sender(void *a)
{
    (void)a;
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    kill(getpid(), SIGUSR1);
    return NULL;
}
static void *pool_sleep(void *a) { (void)a; struct timespec ts = { 0, 50000000 }; nanosleep(&ts, NULL); return NULL; }
static int pooled(void *a) { (void)a; return simul_to_thread(pool_sleep, NULL, NULL); }
static int main_thread_sig(void *a)
{
    (void)a;
    int sigs[] = { SIGUSR1 };
    simul_signal *s;
    CHECK_EQ(simul_signal_open(sigs, 1, &s), 0);
    simul_task *t = simul_spawn(pooled, NULL);   /* a pool worker exists */
    CHECK_EQ(simul_yield(), 0);
    pthread_t th;
    pthread_sigmask(SIG_BLOCK, NULL, NULL);
    CHECK_EQ(pthread_create(&th, NULL, sender, NULL), 0);
    CHECK_EQ(simul_signal_wait(s), SIGUSR1);
    pthread_join(th, NULL);
    CHECK_EQ(simul_join(t), 0);
    CHECK_EQ(simul_signal_close(s), 0);
    return 0;
}
TEST(signal_from_another_thread)
{
    CHECK_EQ(simul_run(main_thread_sig, NULL), 0);
}

/* A signal as a select case: the second Ctrl-C during a graceful shutdown
 * is seen while the shutdown runs, not swallowed. */
static int slow_shutdown(void *a)
{
    (void)a;
    return simul_sleep(5);
}
static int main_select_signal(void *a)
{
    (void)a;
    int sigs[] = { SIGUSR1 };
    simul_signal *s;
    CHECK_EQ(simul_signal_open(sigs, 1, &s), 0);
    simul_task *closer = simul_spawn(slow_shutdown, NULL);
    CHECK_EQ(simul_call_later(0.02, send_self, (void *)SIGUSR1), 0);
    simul_select_case c[2] = {
        { .kind = SIMUL_SELECT_TASK, .task = closer },
        { .kind = SIMUL_SELECT_SIGNAL, .signal = s },
    };
    double t0 = simul_now();
    CHECK_EQ(simul_select(c, 2, simul_now() + 2), 1);
    CHECK_EQ(c[1].result, SIGUSR1);
    CHECK(simul_now() - t0 < 1);
    /* pending already: the probe takes it at once */
    kill(getpid(), SIGUSR1);
    CHECK_EQ(simul_select(c, 2, INFINITY), 1);
    CHECK_EQ(c[1].result, SIGUSR1);
    /* a select that times out takes nothing */
    CHECK_EQ(simul_select(c, 2, simul_now() + 0.01), -ETIMEDOUT);
    simul_cancel(closer);
    CHECK_EQ(simul_select(c, 2, INFINITY), 0);      /* the task finished */
    kill(getpid(), SIGUSR1);
    CHECK_EQ(simul_signal_wait(s), SIGUSR1);
    CHECK_EQ(simul_join(closer), -ECANCELED);
    CHECK_EQ(simul_signal_close(s), 0);
    simul_select_case bad = { .kind = SIMUL_SELECT_SIGNAL };
    CHECK_EQ(simul_select(&bad, 1, INFINITY), -EINVAL);
    return 0;
}
TEST(a_signal_is_a_select_case)
{
    CHECK_EQ(simul_run(main_select_signal, NULL), 0);
}
