/*
 * coro.c - the C twin of the walkthrough's interactive coro([3, 2, 1])
 * examples ("Other Top-Level asyncio Functions"):
 *
 *     async def coro(seq) -> list:
 *         await asyncio.sleep(max(seq))     # 'IO' time ~ the max element
 *         return list(reversed(seq))
 *
 * and three main()s run one after the other with asyncio.run():
 *   create_task   t = create_task(coro([3, 2, 1])); await t; print t's type
 *                 and t.done()          -> simul_spawn + simul_join
 *   gather        coro([3, 2, 1]) and coro([10, 5, 0]) as tasks, gathered;
 *                 prints Start/End (strftime %X), "Both tasks done: True" and
 *                 the REPL's echo of the result, [[1, 2, 3], [0, 5, 10]]
 *                                       -> simul_gather
 *   as_completed  the same two tasks, printing each result as it completes
 *                 (the 3-second one first) -> simul_as_completed_*
 *
 * Honest C equivalents of the Python-only lines:
 *   "t: type <class '_asyncio.Task'>"  prints "t: type simul_task".
 *   t.done() after `await t`: simul_join() (and gather, and as_completed)
 *   frees the task handle once it has its result, so the handle cannot be
 *   asked afterwards. "done" is therefore what the awaiting call reported:
 *   the task's result was delivered (>= 0) and coro() ran to its end.
 * The lists are results richer than an int, so they travel through the
 * task's argument (struct job); the int result is 0 on success.
 *
 * Usage: coro [--scale S] [create_task|gather|as_completed ...]
 *   With no part named, runs all three in the walkthrough's order.
 *   --scale S  multiply every sleep by S (default 1: the walkthrough's real
 *              seconds, so gather takes 10 s). Tests use e.g. --scale 0.01.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "simul.h"

#define SEQ_MAX 8

static double scale = 1.0;   /* sleep multiplier (--scale) */

/* One coro(seq) call: its input list and, once done, its result list. */
struct job {
    int    seq[SEQ_MAX];
    size_t n;
    int    result[SEQ_MAX];
    int    finished;          /* set as coro() returns its list */
};

static struct job job_of(const int *seq, size_t n)
{
    struct job j = { .n = n };
    memcpy(j.seq, seq, n * sizeof *seq);
    return j;
}

/* async def coro(seq) -> list */
static int coro(void *arg)
{
    struct job *j = arg;
    int max = j->seq[0];
    for (size_t i = 1; i < j->n; i++)
        if (j->seq[i] > max)
            max = j->seq[i];
    int rc = simul_sleep(max * scale);            /* await asyncio.sleep(max(seq)) */
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < j->n; i++)             /* return list(reversed(seq)) */
        j->result[i] = j->seq[j->n - 1 - i];
    j->finished = 1;
    return 0;
}

/* Python's str() of a list of ints: "[1, 2, 3]". */
static void print_list(const int *v, size_t n)
{
    putchar('[');
    for (size_t i = 0; i < n; i++)
        printf(i ? ", %d" : "%d", v[i]);
    putchar(']');
}

/* time.strftime('%X') */
static const char *now_x(char buf[static 64])
{
    time_t t = time(NULL);
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(buf, 64, "%X", &tm) == 0)
        strcpy(buf, "??:??:??");
    return buf;
}

static const char *py_bool(int b)
{
    return b ? "True" : "False";
}

static const int seq_a[] = { 3, 2, 1 }, seq_b[] = { 10, 5, 0 };

/* Spawns coro(jobs[0]) and coro(jobs[1]) as t and t2. */
static int spawn_two(struct job jobs[2], simul_task *t[2])
{
    jobs[0] = job_of(seq_a, 3);
    jobs[1] = job_of(seq_b, 3);
    t[0] = simul_spawn(coro, &jobs[0]);
    if (!t[0])
        return -errno;
    t[1] = simul_spawn(coro, &jobs[1]);
    if (!t[1]) {
        int err = -errno;
        simul_cancel(t[0]);
        simul_join(t[0]);
        return err;
    }
    return 0;
}

/*
 * async def main():
 *     t = asyncio.create_task(coro([3, 2, 1]))
 *     await t
 *     print(f't: type {type(t)}')
 *     print(f't done: {t.done()}')
 */
static int main_create_task(void *arg)
{
    (void)arg;
    struct job job = job_of(seq_a, 3);
    simul_task *t = simul_spawn(coro, &job);
    if (!t)
        return -errno;
    int rc = simul_join(t);                      /* await t (frees t) */
    if (rc < 0)
        return rc;
    printf("t: type simul_task\n");
    printf("t done: %s\n", py_bool(rc >= 0 && job.finished));
    return 0;
}

/*
 * async def main():
 *     t = asyncio.create_task(coro([3, 2, 1]))
 *     t2 = asyncio.create_task(coro([10, 5, 0]))
 *     print('Start:', time.strftime('%X'))
 *     a = await asyncio.gather(t, t2)
 *     print('End:', time.strftime('%X'))  # Should be 10 seconds
 *     print(f'Both tasks done: {all((t.done(), t2.done()))}')
 *     return a
 * >>> a
 * [[1, 2, 3], [0, 5, 10]]
 */
static int main_gather(void *arg)
{
    (void)arg;
    struct job jobs[2];
    simul_task *t[2];
    char buf[64];
    int results[2];

    int rc = spawn_two(jobs, t);
    if (rc < 0)
        return rc;
    printf("Start: %s\n", now_x(buf));
    rc = simul_gather(t, 2, results, SIMUL_GATHER_FAIL_FAST);   /* joins both */
    if (rc < 0)
        return rc;
    printf("End: %s\n", now_x(buf));
    printf("Both tasks done: %s\n",
           py_bool(results[0] >= 0 && jobs[0].finished && results[1] >= 0 && jobs[1].finished));
    /* the REPL echoing `a` */
    putchar('[');
    print_list(jobs[0].result, jobs[0].n);
    printf(", ");
    print_list(jobs[1].result, jobs[1].n);
    printf("]\n");
    return 0;
}

/*
 * async def main():
 *     t = asyncio.create_task(coro([3, 2, 1]))
 *     t2 = asyncio.create_task(coro([10, 5, 0]))
 *     print('Start:', time.strftime('%X'))
 *     for res in asyncio.as_completed((t, t2)):
 *         compl = await res
 *         print(f'res: {compl} completed at {time.strftime("%X")}')
 *     print('End:', time.strftime('%X'))
 *     print(f'Both tasks done: {all((t.done(), t2.done()))}')
 */
static int main_as_completed(void *arg)
{
    (void)arg;
    struct job jobs[2];
    simul_task *t[2];
    char buf[64];
    int done[2] = { 0, 0 };

    int rc = spawn_two(jobs, t);
    if (rc < 0)
        return rc;
    printf("Start: %s\n", now_x(buf));
    simul_as_completed *ac = simul_as_completed_new(t, 2);   /* owns t and t2 now */
    if (!ac) {
        rc = -errno;
        for (int i = 0; i < 2; i++) {
            simul_cancel(t[i]);
            simul_join(t[i]);
        }
        return rc;
    }
    simul_task *which;
    int res;
    while ((rc = simul_as_completed_next(ac, &which, &res)) == 1) {
        int k = which == t[0] ? 0 : which == t[1] ? 1 : -1;   /* identity only */
        if (k < 0 || res < 0) {
            rc = k < 0 ? -ESRCH : res;
            break;
        }
        done[k] = jobs[k].finished;
        printf("res: ");
        print_list(jobs[k].result, jobs[k].n);
        printf(" completed at %s\n", now_x(buf));
    }
    simul_as_completed_free(ac);
    if (rc != 0)                                 /* 0: all were returned */
        return rc < 0 ? rc : -EIO;
    printf("End: %s\n", now_x(buf));
    printf("Both tasks done: %s\n", py_bool(done[0] && done[1]));
    return 0;
}

static const struct part {
    const char *name;
    simul_fn    fn;
} parts[] = {
    { "create_task",  main_create_task },
    { "gather",       main_gather },
    { "as_completed", main_as_completed },
};
#define NPARTS (sizeof parts / sizeof parts[0])

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--scale S] [create_task|gather|as_completed ...]\n", prog);
}

int main(int argc, char **argv)
{
    const struct part *run[16];
    size_t nrun = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--scale") == 0 || strncmp(argv[i], "--scale=", 8) == 0) {
            const char *v = argv[i][7] == '=' ? argv[i] + 8 : (i + 1 < argc ? argv[++i] : "");
            char *end;
            scale = strtod(v, &end);
            if (end == v || *end != '\0' || !isfinite(scale) || scale < 0) {
                usage(argv[0]);
                return 2;
            }
            continue;
        }
        size_t p = 0;
        while (p < NPARTS && strcmp(argv[i], parts[p].name) != 0)
            p++;
        if (p == NPARTS || nrun == sizeof run / sizeof run[0]) {
            usage(argv[0]);
            return 2;
        }
        run[nrun++] = &parts[p];
    }
    if (nrun == 0)
        for (size_t p = 0; p < NPARTS; p++)
            run[nrun++] = &parts[p];

    for (size_t i = 0; i < nrun; i++) {
        int rc = simul_run(run[i]->fn, NULL);    /* asyncio.run(main()) */
        if (rc < 0) {
            fprintf(stderr, "coro: %s: %s\n", run[i]->name, simul_strerror(rc));
            return 1;
        }
    }
    return 0;
}
