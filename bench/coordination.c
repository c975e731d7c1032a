/*
 * coordination.c - the coordination layer's benchmarks (the simul side of
 * bench/run-coordination.sh).
 *
 *     build/bench/coordination BENCH N
 *
 * prints one JSON line {"bench":..., "n":..., "seconds":..., "ns_per_op":...}
 * and exits 0 (or a line with "error" and exits 1). The peers in
 * bench/peers/coord_go and bench/peers/coord_asyncio.py take the same
 * arguments and print the same keys.
 *
 *   queue N     one producer puts N items into a queue of maxsize 128, one
 *               consumer gets them.                       -> ns per item
 *   pingpong N  two tasks and two unbounded queues: A puts into q1 and gets
 *               from q2, B gets from q1 and puts into q2; N round trips.
 *                                                         -> ns per round trip
 *   sem N       10,000 tasks contend for a semaphore of 100; each acquires,
 *               yields once while holding it (so holders really overlap),
 *               releases, until N acquisitions were made in all.
 *                                                         -> ns per acquire/release
 *
 * The clock runs inside the loop from just before the tasks are spawned to
 * after they were joined.
 *
 * Build: cc -O2 -Iinclude bench/coordination.c build/libsimul.a -lm -lpthread
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simul.h"

#define SEM_TASKS 10000
#define SEM_VALUE 100

static long N;
static double elapsed;
static const char *err;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- queue ---------------------------------------------------------------- */

static simul_queue *q1, *q2;

static int producer(void *a)
{
    (void)a;
    for (long i = 0; i < N; i++)
        if (simul_queue_put(q1, (void *)(intptr_t)i) != 0)
            return -EIO;
    return 0;
}

static int consumer(void *a)
{
    (void)a;
    for (long i = 0; i < N; i++) {
        void *v;
        if (simul_queue_get(q1, &v) != 0 || (intptr_t)v != i)
            return -EIO;      /* also checks FIFO order */
    }
    return 0;
}

static int run_queue(void *a)
{
    (void)a;
    q1 = simul_queue_new(128);
    if (!q1)
        return -ENOMEM;
    double t0 = mono();
    simul_task *p = simul_spawn(producer, NULL), *c = simul_spawn(consumer, NULL);
    int r1 = simul_join(p), r2 = simul_join(c);
    elapsed = mono() - t0;
    simul_queue_free(q1);
    return r1 ? r1 : r2;
}

/* ---- ping-pong -------------------------------------------------------------- */

static int ping(void *a)
{
    (void)a;
    for (long i = 0; i < N; i++) {
        void *v;
        if (simul_queue_put(q1, (void *)(intptr_t)i) || simul_queue_get(q2, &v) ||
            (intptr_t)v != i)
            return -EIO;
    }
    return 0;
}

static int pong(void *a)
{
    (void)a;
    for (long i = 0; i < N; i++) {
        void *v;
        if (simul_queue_get(q1, &v) || simul_queue_put(q2, v))
            return -EIO;
    }
    return 0;
}

static int run_pingpong(void *a)
{
    (void)a;
    q1 = simul_queue_new(0);
    q2 = simul_queue_new(0);
    if (!q1 || !q2)
        return -ENOMEM;
    double t0 = mono();
    simul_task *p = simul_spawn(ping, NULL), *o = simul_spawn(pong, NULL);
    int r1 = simul_join(p), r2 = simul_join(o);
    elapsed = mono() - t0;
    simul_queue_free(q1);
    simul_queue_free(q2);
    return r1 ? r1 : r2;
}

/* ---- semaphore ------------------------------------------------------------------ */

static simul_sem *sem;
static long per_task;

static int contender(void *a)
{
    (void)a;
    for (long i = 0; i < per_task; i++) {
        if (simul_sem_acquire(sem))
            return -EIO;
        simul_yield();
        if (simul_sem_release(sem))
            return -EIO;
    }
    return 0;
}

static int run_sem(void *a)
{
    (void)a;
    sem = simul_sem_new(SEM_VALUE);
    simul_task **t = malloc(SEM_TASKS * sizeof *t);
    if (!sem || !t)
        return -ENOMEM;
    per_task = N / SEM_TASKS;
    N = per_task * SEM_TASKS;
    double t0 = mono();
    for (int i = 0; i < SEM_TASKS; i++)
        if (!(t[i] = simul_spawn(contender, NULL)))
            return -errno;
    int r = simul_gather(t, SEM_TASKS, NULL, SIMUL_GATHER_FAIL_FAST);
    elapsed = mono() - t0;
    free(t);
    simul_sem_free(sem);
    return r;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (N = strtol(argv[2], NULL, 10)) <= 0) {
        fprintf(stderr, "usage: %s queue|pingpong|sem N\n", argv[0]);
        return 2;
    }
    const char *b = argv[1];
    int (*fn)(void *) = !strcmp(b, "queue") ? run_queue : !strcmp(b, "pingpong") ? run_pingpong
                      : !strcmp(b, "sem")   ? run_sem   : NULL;
    if (!fn) {
        fprintf(stderr, "unknown benchmark %s\n", b);
        return 2;
    }
    int r = simul_run(fn, NULL);
    if (r < 0)
        err = simul_strerror(r);
    if (err) {
        printf("{\"bench\": \"%s\", \"n\": %ld, \"error\": \"%s\"}\n", b, N, err);
        return 1;
    }
    printf("{\"bench\": \"%s\", \"n\": %ld, \"seconds\": %.6f, \"ns_per_op\": %.2f}\n", b, N,
           elapsed, elapsed * 1e9 / (double)N);
    return 0;
}
