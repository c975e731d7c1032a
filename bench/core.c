/*
 * core.c - simul's core benchmarks (the simul side of bench/run-core.sh).
 *
 *     build/bench/core BENCH N K
 *
 * prints one JSON line of results on stdout (and exits 0), or one JSON line
 * with an "error" key (and exits 1). The peers in bench/peers/ take the same
 * arguments and print the same keys, so bench/core_driver.py can put them
 * side by side. Every benchmark runs inside simul_run() with the default
 * stack size (SIMUL_STACK_SIZE is honoured, and the size used is reported).
 *
 *   switch N K  N tasks each call simul_yield() K times, round-robin. The
 *               clock starts when the last task first runs (the other N-1
 *               have each yielded once by then) and stops when the last task
 *               finishes, so spawning and first-run stack set-up are not
 *               counted: ops = N*K - (N-1) yields, each counted as one switch.
 *               -> ns_per_switch
 *   spawn  N K  K rounds of: simul_spawn() N tasks that return 0 at once,
 *               then simul_join() each handle in spawn order (the first join
 *               suspends the caller and lets all N run).
 *               -> ns_per_task (spawn + run + join), spawn_/join_ns_per_task
 *   parked N    N tasks each simul_sleep(INFINITY). VmRSS (/proc/self/status)
 *               before spawning, after spawning, and after every task has run
 *               up to its sleep (the caller yields until all N have parked);
 *               then simul_cancel() every task and simul_join() every task
 *               (each must return -ECANCELED).
 *               -> kib_per_task = (rss_parked - rss_before) / N,
 *                  cancel_join_s and cancel_join_ns_per_task
 *   timers N K  N tasks each simul_sleep(uniform random 0..1 ms) K times
 *               (xorshift64* seeded by task index). Process CPU time
 *               (getrusage user+sys) from before the first spawn to after the
 *               last join, divided by N*K sleeps.
 *               -> cpu_ns_per_sleep (also wall_s)
 *
 * Build:  cc -O2 -Iinclude bench/core.c build/libsimul.a -lm -o build/bench/core
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "simul.h"

static const char *bench;
static long N, K;
static char out[2048];   /* the result fields, filled inside the loop */
static size_t outlen;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

static long status_kib(const char *key)
{
    char line[256];
    size_t kl = strlen(key);
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0) {
            v = strtol(line + kl, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static void add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(out + outlen, sizeof out - outlen, fmt, ap);
    va_end(ap);
    if (w > 0 && (size_t)w < sizeof out - outlen)
        outlen += (size_t)w;
}

static void json_head(FILE *f)
{
    fprintf(f, "{\"impl\": \"simul\", \"bench\": \"%s\", \"n\": %ld, \"k\": %ld",
            bench, N, K);
}

/* Reports a failure of the library as a JSON line and ends the process at
 * once (without closing the loop, which may be what is broken). */
static void fail(const char *what, long i, int err)
{
    json_head(stdout);
    printf(", \"error\": \"%s failed at task %ld: %s (%d)\"}\n", what, i,
           simul_strerror(err), err);
    fflush(stdout);
    _exit(1);
}

static simul_task **alloc_handles(void)
{
    simul_task **t = malloc((size_t)N * sizeof *t);
    if (!t) {
        perror("malloc");
        _exit(1);
    }
    return t;
}

/* ---------------------------------------------------------------- switch */

static long started, finished, bad;
static double t_first, t_last;

static int switch_task(void *arg)
{
    (void)arg;
    if (++started == N)
        t_first = mono();
    for (long k = 0; k < K; k++)
        if (simul_yield() != 0)
            bad++;
    if (++finished == N)
        t_last = mono();
    return 0;
}

static int b_switch(void)
{
    simul_task **t = alloc_handles();
    double t0 = mono();
    for (long i = 0; i < N; i++)
        if (!(t[i] = simul_spawn(switch_task, NULL)))
            fail("simul_spawn", i, -errno);
    for (long i = 0; i < N; i++) {
        int r = simul_join(t[i]);
        if (r != 0)
            fail("simul_join", i, r);
    }
    double t3 = mono();
    free(t);
    if (bad)
        fail("simul_yield", bad, -EIO);
    if (started != N || finished != N)
        fail("switch bookkeeping", finished, -EIO);
    long ops = N * K - (N - 1);
    double wall = t_last - t_first;
    /* setup: spawning and every task's first run; teardown: from the last
     * yield to the last join (tasks finishing, stacks given back) */
    add(", \"ops\": %ld, \"wall_s\": %.9f, \"ns_per_switch\": %.3f, "
        "\"setup_s\": %.6f, \"teardown_s\": %.6f", ops, wall,
        wall * 1e9 / (double)ops, t_first - t0, t3 - t_last);
    return 0;
}

/* ----------------------------------------------------------------- spawn */

static int trivial(void *arg)
{
    (void)arg;
    return 0;
}

static int b_spawn(void)
{
    simul_task **t = alloc_handles();
    double tspawn = 0, tjoin = 0, t0 = mono();
    for (long r = 0; r < K; r++) {
        double a = mono();
        for (long i = 0; i < N; i++)
            if (!(t[i] = simul_spawn(trivial, NULL)))
                fail("simul_spawn", i, -errno);
        double b = mono();
        for (long i = 0; i < N; i++) {
            int rc = simul_join(t[i]);
            if (rc != 0)
                fail("simul_join", i, rc);
        }
        double c = mono();
        tspawn += b - a;
        tjoin += c - b;
    }
    double wall = mono() - t0;
    free(t);
    double ops = (double)N * (double)K;
    add(", \"ops\": %ld, \"wall_s\": %.9f, \"ns_per_task\": %.3f, "
        "\"spawn_ns_per_task\": %.3f, \"join_ns_per_task\": %.3f",
        N * K, wall, wall * 1e9 / ops, tspawn * 1e9 / ops, tjoin * 1e9 / ops);
    return 0;
}

/* ---------------------------------------------------------------- parked */

static long parked;

static int parker(void *arg)
{
    (void)arg;
    parked++;
    return simul_sleep(INFINITY);   /* -ECANCELED when cancelled */
}

static int b_parked(void)
{
    simul_task **t = alloc_handles();
    long rss0 = status_kib("VmRSS:");
    double t0 = mono();
    for (long i = 0; i < N; i++)
        if (!(t[i] = simul_spawn(parker, NULL)))
            fail("simul_spawn", i, -errno);
    double t1 = mono();
    long rss1 = status_kib("VmRSS:");
    long yields = 0;
    while (parked < N && yields < 1000) {
        int r = simul_yield();
        if (r != 0)
            fail("simul_yield", parked, r);
        yields++;
    }
    double t2 = mono();
    long rss2 = status_kib("VmRSS:");
    if (parked != N)
        fail("parking (tasks still not started after 1000 yields)", parked, -EIO);
    for (long i = 0; i < N; i++) {
        int r = simul_cancel(t[i]);
        if (r != 0)
            fail("simul_cancel", i, r);
    }
    for (long i = 0; i < N; i++) {
        int r = simul_join(t[i]);
        if (r != -ECANCELED)
            fail("simul_join (expected -ECANCELED)", i, r);
    }
    double t3 = mono();
    long rss3 = status_kib("VmRSS:");
    free(t);
    double n = (double)N;
    add(", \"ops\": %ld, \"rss_before_kib\": %ld, \"rss_spawned_kib\": %ld, "
        "\"rss_parked_kib\": %ld, \"rss_after_kib\": %ld, \"hwm_kib\": %ld, "
        "\"kib_per_task\": %.4f, \"spawn_ns_per_task\": %.3f, "
        "\"park_ns_per_task\": %.3f, \"yields_to_park\": %ld, "
        "\"cancel_join_s\": %.9f, \"cancel_join_ns_per_task\": %.3f",
        N, rss0, rss1, rss2, rss3, status_kib("VmHWM:"),
        (double)(rss2 - rss0) / n, (t1 - t0) * 1e9 / n, (t2 - t1) * 1e9 / n,
        yields, t3 - t2, (t3 - t2) * 1e9 / n);
    return 0;
}

/* ---------------------------------------------------------------- timers */

static long timer_bad;

static int sleeper(void *arg)
{
    uint64_t x = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
    for (long k = 0; k < K; k++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        double u = (double)((x * 0x2545F4914F6CDD1Dull) >> 11) * 0x1p-53;
        if (simul_sleep(u * 1e-3) != 0)
            timer_bad++;
    }
    return 0;
}

static int b_timers(void)
{
    simul_task **t = alloc_handles();
    double c0 = cpu_s(), t0 = mono();
    for (long i = 0; i < N; i++)
        if (!(t[i] = simul_spawn(sleeper, (void *)(uintptr_t)i)))
            fail("simul_spawn", i, -errno);
    for (long i = 0; i < N; i++) {
        int r = simul_join(t[i]);
        if (r != 0)
            fail("simul_join", i, r);
    }
    double wall = mono() - t0, cpu = cpu_s() - c0;
    free(t);
    if (timer_bad)
        fail("simul_sleep", timer_bad, -EIO);
    add(", \"ops\": %ld, \"wall_s\": %.9f, \"cpu_s\": %.6f, "
        "\"cpu_ns_per_sleep\": %.3f",
        N * K, wall, cpu, cpu * 1e9 / ((double)N * (double)K));
    return 0;
}

/* ------------------------------------------------------------------ main */

static int (*bench_fn)(void);

static int main_task(void *arg)
{
    (void)arg;
    const char *be = simul_backend_name();
    int r = bench_fn();
    add(", \"backend\": \"%s\"", be ? be : "?");
    return r;
}

int main(int argc, char **argv)
{
    static const struct { const char *name; int (*fn)(void); } benches[] = {
        {"switch", b_switch}, {"spawn", b_spawn},
        {"parked", b_parked}, {"timers", b_timers},
    };
    int (*fn)(void) = NULL;
    if (argc == 4)
        for (size_t i = 0; i < sizeof benches / sizeof *benches; i++)
            if (strcmp(argv[1], benches[i].name) == 0)
                fn = benches[i].fn;
    if (!fn) {
        fprintf(stderr, "usage: %s switch|spawn|parked|timers N K\n", argv[0]);
        return 2;
    }
    bench = argv[1];
    N = atol(argv[2]);
    K = atol(argv[3]);
    if (N < 1 || K < 0 || (K < 1 && strcmp(bench, "parked") != 0)) {
        fprintf(stderr, "N must be >= 1 and K >= 1\n");
        return 2;
    }
    bench_fn = fn;
    double t0 = mono();
    int r = simul_run(main_task, NULL);
    double run_s = mono() - t0;
    if (r != 0) {
        json_head(stdout);
        printf(", \"error\": \"simul_run returned %d: %s\"}\n", r, simul_strerror(r));
        return 1;
    }
    json_head(stdout);
    printf("%s, \"stack_size\": %zu, \"run_s\": %.6f}\n", out,
           simul_default_stack_size(), run_s);
    return 0;
}
