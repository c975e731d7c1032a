/*
 * test_process.c - subprocesses: output through a pipe stream, a stdin ->
 * stdout round trip, exit codes, children dying by a signal (their own or
 * one we send), exec failure, a cancelled wait leaving the child running
 * and waitable, close killing and reaping, cwd/env, stderr merged, writing
 * to a dead child (-EPIPE, no SIGPIPE), many children at once - each on
 * pidfds and, with SIMUL_NO_PIDFD=1, on the SIGCHLD fallback.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <simul.h>

static int main_echo(void *a)
{
    (void)a;
    char *argv[] = { "echo", "hello", "world", NULL };
    simul_process_opts o = { .stdout_mode = SIMUL_STDIO_PIPE };
    simul_process *p;
    CHECK_EQ(simul_process_open("echo", argv, &o, &p), 0);
    CHECK(simul_process_pid(p) > 0);
    CHECK(simul_process_stdin(p) == NULL);
    char buf[64];
    int n = simul_stream_readline(simul_process_stdout(p), buf, sizeof buf);
    CHECK_EQ(n, 12);
    CHECK(memcmp(buf, "hello world\n", 12) == 0);
    CHECK_EQ(simul_stream_readline(simul_process_stdout(p), buf, sizeof buf), 0);
    int rc = -1;
    CHECK_EQ(simul_process_returncode(p, &rc), -EBUSY);
    CHECK_EQ(simul_process_wait(p, &rc), 0);
    CHECK_EQ(rc, 0);
    CHECK_EQ(simul_process_wait(p, &rc), 0);     /* again: at once */
    CHECK_EQ(simul_process_returncode(p, &rc), 0);
    CHECK_EQ(simul_process_kill(p, SIGTERM), -ESRCH);
    CHECK_EQ(simul_process_close(p), 0);
    return 0;
}

/* cat: 10,000 lines in, the same out, concurrently (pipes are 64 KiB). */
static int feed(void *a)
{
    simul_process *p = a;
    simul_stream *in = simul_process_stdin(p);
    for (int i = 0; i < 10000; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "line %d\n", i);
        int r = simul_stream_write(in, line, (size_t)n);
        if (r < 0)
            return r;
        if ((r = simul_stream_drain(in)) < 0)
            return r;
    }
    return simul_process_close_stdin(p);
}
static int main_cat(void *a)
{
    (void)a;
    char *argv[] = { "cat", NULL };
    simul_process_opts o = { .stdin_mode = SIMUL_STDIO_PIPE, .stdout_mode = SIMUL_STDIO_PIPE };
    simul_process *p;
    CHECK_EQ(simul_process_open("cat", argv, &o, &p), 0);
    simul_task *t = simul_spawn(feed, p);
    char buf[64], want[32];
    for (int i = 0; i < 10000; i++) {
        int n = snprintf(want, sizeof want, "line %d\n", i);
        int r = simul_stream_readline(simul_process_stdout(p), buf, sizeof buf);
        CHECK_EQ(r, n);
        if (r != n || memcmp(buf, want, (size_t)n) != 0) {
            CHECK(!"wrong line");
            break;
        }
    }
    CHECK_EQ(simul_stream_readline(simul_process_stdout(p), buf, sizeof buf), 0);
    CHECK_EQ(simul_join(t), 0);
    int rc;
    CHECK_EQ(simul_process_wait(p, &rc), 0);
    CHECK_EQ(rc, 0);
    CHECK_EQ(simul_process_close(p), 0);
    return 0;
}

static int run_sh(const char *script, int *rc)
{
    char *argv[] = { "sh", "-c", (char *)script, NULL };
    simul_process *p;
    int r = simul_process_open("/bin/sh", argv, NULL, &p);
    if (r < 0)
        return r;
    r = simul_process_wait(p, rc);
    simul_process_close(p);
    return r;
}

static int main_codes(void *a)
{
    (void)a;
    int rc;
    CHECK_EQ(run_sh("exit 3", &rc), 0);
    CHECK_EQ(rc, 3);
    /* dies by its own signal */
    CHECK_EQ(run_sh("kill -TERM $$", &rc), 0);
    CHECK_EQ(rc, -SIGTERM);
    /* SIGPIPE is at its default in the child, even though we ignore it */
    CHECK_EQ(run_sh("kill -PIPE $$", &rc), 0);
    CHECK_EQ(rc, -SIGPIPE);
    /* killed by us */
    char *argv[] = { "sleep", "10", NULL };
    simul_process *p;
    CHECK_EQ(simul_process_open("sleep", argv, NULL, &p), 0);
    CHECK_EQ(simul_sleep(0.02), 0);
    CHECK_EQ(simul_process_kill(p, SIGKILL), 0);
    CHECK_EQ(simul_process_wait(p, &rc), 0);
    CHECK_EQ(rc, -SIGKILL);
    CHECK_EQ(simul_process_close(p), 0);
    /* exec failures */
    char *nx[] = { "no-such-program-xyz", NULL };
    p = (simul_process *)1;
    CHECK_EQ(simul_process_open("no-such-program-xyz", nx, NULL, &p), -ENOENT);
    CHECK(p == NULL);
    CHECK_EQ(simul_process_open("/dev/null", nx, NULL, &p), -EACCES);
    CHECK_EQ(simul_process_open(NULL, nx, NULL, &p), -EINVAL);
    simul_process_opts bad = { .stdout_mode = SIMUL_STDIO_STDOUT };
    CHECK_EQ(simul_process_open("true", nx, &bad, &p), -EINVAL);
    return 0;
}

/* A cancelled wait leaves the child running and waitable. */
static int waiter(void *a)
{
    int rc;
    return simul_process_wait(a, &rc);
}
static int main_cancel(void *a)
{
    (void)a;
    char *argv[] = { "sleep", "0.3", NULL };
    simul_process *p;
    CHECK_EQ(simul_process_open("sleep", argv, NULL, &p), 0);
    simul_task *t = simul_spawn(waiter, p);
    CHECK_EQ(simul_sleep(0.02), 0);
    int rc;
    CHECK_EQ(simul_process_wait(p, &rc), -EBUSY);
    CHECK_EQ(simul_process_close(p), -EBUSY);
    simul_cancel(t);
    CHECK_EQ(simul_join(t), -ECANCELED);
    CHECK_EQ(kill(simul_process_pid(p), 0), 0);     /* still running */
    CHECK_EQ(simul_process_returncode(p, &rc), -EBUSY);
    double t0 = simul_now();
    CHECK_EQ(simul_process_wait(p, &rc), 0);
    CHECK_EQ(rc, 0);
    CHECK(simul_now() - t0 > 0.2);
    CHECK_EQ(simul_process_close(p), 0);
    /* close of a running child kills and reaps it: no zombie left */
    char *long_argv[] = { "sleep", "10", NULL };
    CHECK_EQ(simul_process_open("sleep", long_argv, NULL, &p), 0);
    pid_t pid = simul_process_pid(p);
    CHECK_EQ(simul_process_close(p), 0);
    CHECK_EQ(waitpid(pid, NULL, WNOHANG), -1);
    CHECK_EQ(errno, ECHILD);
    return 0;
}

static int main_env(void *a)
{
    (void)a;
    char *argv[] = { "sh", "-c", "pwd; echo $FOO; echo oops >&2", NULL };
    char *envp[] = { "FOO=bar", "PATH=/usr/bin:/bin", NULL };
    simul_process_opts o = { .stdout_mode = SIMUL_STDIO_PIPE, .stderr_mode = SIMUL_STDIO_STDOUT,
                             .cwd = "/tmp", .envp = envp, .stdin_mode = SIMUL_STDIO_DEVNULL };
    simul_process *p;
    CHECK_EQ(simul_process_open("sh", argv, &o, &p), 0);
    char buf[64];
    CHECK_EQ(simul_stream_readline(simul_process_stdout(p), buf, sizeof buf), 5);
    CHECK(memcmp(buf, "/tmp\n", 5) == 0);
    CHECK_EQ(simul_stream_readline(simul_process_stdout(p), buf, sizeof buf), 4);
    CHECK(memcmp(buf, "bar\n", 4) == 0);
    CHECK_EQ(simul_stream_readline(simul_process_stdout(p), buf, sizeof buf), 5);
    CHECK(memcmp(buf, "oops\n", 5) == 0);
    int rc;
    CHECK_EQ(simul_process_wait(p, &rc), 0);
    CHECK_EQ(rc, 0);
    CHECK_EQ(simul_process_close(p), 0);
    return 0;
}

/* Writing to a child that is gone: -EPIPE, and we are still alive. */
static int main_epipe(void *a)
{
    (void)a;
    char *argv[] = { "true", NULL };
    simul_process_opts o = { .stdin_mode = SIMUL_STDIO_PIPE };
    simul_process *p;
    CHECK_EQ(simul_process_open("true", argv, &o, &p), 0);
    int rc;
    CHECK_EQ(simul_process_wait(p, &rc), 0);
    int r = simul_stream_write(simul_process_stdin(p), "data", 4);
    if (r == 0)
        r = simul_stream_drain(simul_process_stdin(p));
    CHECK_EQ(r, -EPIPE);
    CHECK_EQ(simul_process_close(p), 0);
    return 0;
}

static int one_child(void *a)
{
    char script[32];
    snprintf(script, sizeof script, "exit %d", (int)(intptr_t)a);
    int rc = -1;
    int r = run_sh(script, &rc);
    return r < 0 ? r : rc;
}
static int main_many(void *a)
{
    (void)a;
    simul_task *ts[20];
    int res[20];
    for (intptr_t i = 0; i < 20; i++)
        ts[i] = simul_spawn(one_child, (void *)i);
    CHECK_EQ(simul_gather(ts, 20, res, SIMUL_GATHER_COLLECT), 0);
    for (int i = 0; i < 20; i++)
        CHECK_EQ(res[i], i);
    return 0;
}

#define BOTH(name, fn)                                                  \
    TEST(name) { CHECK_EQ(simul_run(fn, NULL), 0); }                   \
    TEST(name##_sigchld)                                                \
    {                                                                   \
        setenv("SIMUL_NO_PIDFD", "1", 1);                               \
        CHECK_EQ(simul_run(fn, NULL), 0);                               \
    }

BOTH(echo_through_pipe, main_echo)
BOTH(cat_round_trip, main_cat)
BOTH(exit_codes_and_signals, main_codes)
BOTH(cancelled_wait_keeps_child, main_cancel)
BOTH(cwd_env_stderr, main_env)
BOTH(write_to_dead_child, main_epipe)
BOTH(many_children, main_many)
