/*
 * chained.c - the C twin of the walkthrough's chained.py ("Chaining
 * Coroutines").
 *
 * One chain(n) task per argument runs part1(n) and then part2(n, p1): each
 * part draws random.randint(0, 10), sleeps that many seconds (simul_sleep,
 * i.e. asyncio.sleep) and returns a string; part2 derives its result from
 * part1's. The chains are gathered (asyncio.gather -> simul_gather), so the
 * program takes as long as the slowest chain, not the sum of all of them.
 *
 * In Python, part1 and part2 are coroutines the chain awaits. simul tasks
 * are stackful, so here they are plain C functions that chain() calls: a
 * sleep deep inside them suspends the whole task, exactly as `await` would.
 * The strings travel through caller-provided buffers (task results are ints).
 *
 * The numbers come from pyrandom.c (CPython's random module algorithm) after
 * random.seed(444), so the lines are the ones chained.py prints; only the
 * measured times ("took 4.00 seconds", "finished in 11.01 seconds") vary a
 * little from run to run, as in Python. part2's "(3, 'result3-1')" is
 * Python's tuple repr, written out here with single quotes.
 *
 * Usage: chained [--scale S] [N ...]
 *   N ...      the chain numbers (default 1 2 3, as chained.py with no
 *              arguments; the walkthrough runs `chained.py 9 6 3`)
 *   --scale S  multiply every sleep by S (default 1: the walkthrough's real
 *              seconds). The "sleeping for N seconds" lines still print the
 *              drawn N; the "took"/"finished in" times print what was really
 *              measured (so about S times the walkthrough's).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pyrandom.h"
#include "simul.h"

#define P1_MAX 32    /* "result<int>-1" */
#define P2_MAX 128   /* "result<int>-2 derived from " + p1 */

static py_random rng;         /* the module-level generator of `random` */
static double    scale = 1.0; /* sleep multiplier (--scale) */

static double perf_counter(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* async def part1(n) -> str */
static int part1(int n, char *result, size_t size)
{
    int i = (int)py_random_randint(&rng, 0, 10);
    printf("part1(%d) sleeping for %d seconds.\n", n, i);
    int rc = simul_sleep(i * scale);
    if (rc < 0)
        return rc;
    snprintf(result, size, "result%d-1", n);
    printf("Returning part1(%d) == %s.\n", n, result);
    return 0;
}

/* async def part2(n, arg) -> str */
static int part2(int n, const char *arg, char *result, size_t size)
{
    int i = (int)py_random_randint(&rng, 0, 10);
    printf("part2(%d, '%s') sleeping for %d seconds.\n", n, arg, i);
    int rc = simul_sleep(i * scale);
    if (rc < 0)
        return rc;
    snprintf(result, size, "result%d-2 derived from %s", n, arg);
    printf("Returning part2(%d, '%s') == %s.\n", n, arg, result);
    return 0;
}

/* async def chain(n) -> None; the task's argument points at n */
static int chain(void *arg)
{
    int n = *(const int *)arg;
    char p1[P1_MAX], p2[P2_MAX];

    double start = perf_counter();
    int rc = part1(n, p1, sizeof p1);              /* p1 = await part1(n) */
    if (rc < 0)
        return rc;
    rc = part2(n, p1, p2, sizeof p2);              /* p2 = await part2(n, p1) */
    if (rc < 0)
        return rc;
    double end = perf_counter() - start;
    printf("-->Chained result%d => %s (took %0.2f seconds).\n", n, p2, end);
    return 0;
}

struct main_args {
    int   *ns;
    size_t count;
};

/* async def main(*args): await asyncio.gather(*(chain(n) for n in args)) */
static int amain(void *arg)
{
    struct main_args *m = arg;
    simul_task **tasks = calloc(m->count ? m->count : 1, sizeof *tasks);
    if (!tasks)
        return -ENOMEM;
    for (size_t i = 0; i < m->count; i++) {
        tasks[i] = simul_spawn(chain, &m->ns[i]);
        if (!tasks[i]) {
            int err = -errno;
            while (i-- > 0) {           /* give back the ones already spawned */
                simul_cancel(tasks[i]);
                simul_join(tasks[i]);
            }
            free(tasks);
            return err;
        }
    }
    int rc = simul_gather(tasks, m->count, NULL, SIMUL_GATHER_FAIL_FAST);
    free(tasks);
    return rc;
}

static void usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--scale S] [N ...]   (S >= 0 multiplies every sleep)\n", prog);
}

/* Collects --scale and the integer arguments (int() of each, as chained.py). */
static int parse_args(int argc, char **argv, struct main_args *m)
{
    m->ns = calloc((size_t)argc, sizeof *m->ns);
    m->count = 0;
    if (!m->ns)
        return -1;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--scale") == 0 || strncmp(argv[i], "--scale=", 8) == 0) {
            const char *v = argv[i][7] == '=' ? argv[i] + 8 : (i + 1 < argc ? argv[++i] : "");
            scale = strtod(v, &end);
            if (end == v || *end != '\0' || !isfinite(scale) || scale < 0) {
                usage(argv[0]);
                return -1;
            }
            continue;
        }
        errno = 0;
        long n = strtol(argv[i], &end, 10);
        if (end == argv[i] || *end != '\0' || errno || n < INT_MIN || n > INT_MAX) {
            fprintf(stderr, "%s: invalid literal for int() with base 10: '%s'\n", argv[0], argv[i]);
            usage(argv[0]);
            return -1;
        }
        m->ns[m->count++] = (int)n;
    }
    if (m->count == 0) {                 /* [1, 2, 3] if len(sys.argv) == 1 */
        static const int dflt[] = { 1, 2, 3 };
        free(m->ns);
        m->ns = malloc(sizeof dflt);
        if (!m->ns)
            return -1;
        memcpy(m->ns, dflt, sizeof dflt);
        m->count = 3;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct main_args m;
    if (parse_args(argc, argv, &m) < 0)
        return 2;

    py_random_seed(&rng, 444);       /* random.seed(444) */
    double start = perf_counter();
    int rc = simul_run(amain, &m);
    double end = perf_counter() - start;
    free(m.ns);
    if (rc < 0) {
        fprintf(stderr, "chained: %s\n", simul_strerror(rc));
        return 1;
    }
    printf("Program finished in %0.2f seconds.\n", end);
    return 0;
}
