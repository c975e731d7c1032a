/*
 * harness.c - runs the registered test cases, each in a forked child with
 * an alarm, and prints one line per case plus the "N passed, M failed"
 * summary that tests/run.sh adds up.
 */
#include "harness.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_TESTS 512

static struct { const char *name; harness_fn fn; int timeout; } tests[MAX_TESTS];
static int ntests;
static int check_leaks;

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HARNESS_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(HARNESS_ASAN)
#define HARNESS_ASAN 1
#endif
#ifdef HARNESS_ASAN
int __lsan_do_recoverable_leak_check(void);
#endif

void harness_check_leaks(void)
{
    check_leaks = 1;
}

/* A case's child ends with _exit, which skips LeakSanitizer's check at
 * exit: run it here (ASan builds, programs that asked). 1 if it leaked. */
static int leaked(void)
{
#ifdef HARNESS_ASAN
    return check_leaks && __lsan_do_recoverable_leak_check() != 0;
#else
    return 0;
#endif
}

void harness_register(const char *name, harness_fn fn, int timeout_s)
{
    if (ntests < MAX_TESTS)
        tests[ntests++] = (typeof(tests[0])){ name, fn, timeout_s };
}

void harness_fail(const char *file, int line, const char *msg)
{
    fprintf(stderr, "  %s:%d: %s\n", file, line, msg);
    fflush(stderr);
    _exit(1);
}

int harness_child_stderr(int (*fn)(void *), void *arg, char *buf, size_t cap)
{
    int p[2];
    if (pipe(p) != 0)
        harness_fail(__FILE__, __LINE__, "pipe");
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        _exit(fn(arg));
    }
    close(p[1]);
    size_t tot = 0;
    ssize_t n;
    while (tot + 1 < cap && (n = read(p[0], buf + tot, cap - 1 - tot)) > 0)
        tot += (size_t)n;
    buf[tot] = '\0';
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static int selected(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strstr(name, argv[i]))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A suite started in the background by a shell without job control
     * inherits SIGINT ignored, and simul (as Python) then leaves SIGINT
     * alone: give the tests the default disposition they assume. */
    signal(SIGINT, SIG_DFL);
    for (int i = 0; i < ntests; i++) {
        if (!selected(tests[i].name, argc, argv))
            continue;
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            alarm((unsigned)tests[i].timeout);
            tests[i].fn();
            fflush(stdout);
            if (leaked()) {
                fprintf(stderr, "  memory leaked (LeakSanitizer's report above)\n");
                _exit(1);
            }
            _exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("ok - %s\n", tests[i].name);
            passed++;
        } else if (WIFSIGNALED(status)) {
            printf("FAIL - %s: killed by signal %d%s\n", tests[i].name, WTERMSIG(status),
                   WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
            failed++;
        } else {
            printf("FAIL - %s: exit %d\n", tests[i].name, WEXITSTATUS(status));
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
