/*
 * asyncq.c - the C twin of the walkthrough's asyncq.py ("Using a Queue").
 *
 * nprod producers and ncon consumers share one unbounded simul_queue
 * (asyncio.Queue). Each producer draws how many items it makes,
 * random.randint(0, 10), and for each sleeps randint(0, 10) seconds, makes
 * a random hex item (os.urandom(5).hex()) and puts it in the queue with
 * the time it was put (time.perf_counter()). Each consumer forever sleeps
 * randint(0, 10) seconds, gets an item, prints how long it sat in the
 * queue, and marks it done. main gathers the producers, joins the queue
 * (every item consumed and marked done), then cancels the consumers - the
 * signal that production is over, as in the walkthrough.
 *
 * The sleeps come from pyrandom.c after random.seed(444), so with the same
 * scheduling as asyncio the "sleeping for" lines and who gets which item
 * are what asyncq.py prints; the items are truly random, and the waiting
 * times measured, as in Python.
 *
 * Each item (the Python tuple (i, t)) is malloc'd by its producer and freed
 * by the consumer that gets it; whatever is still queued when something
 * fails is freed through the queue's drop function.
 *
 * Usage: asyncq [-p NPROD] [-c NCON] [--scale S]
 *   -p, --nprod  producers (default 5)     -c, --ncon  consumers (default 10)
 *   --scale S    multiply every sleep by S (default 1: real seconds); the
 *                "sleeping for N seconds" lines still print the drawn N.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "pyrandom.h"
#include "simul.h"

#define MAX_TASKS 100000     /* a hard cap on -p and -c */

static py_random rng;
static double    scale = 1.0;

struct item {                /* the tuple (i, t) */
    char   hex[11];          /* os.urandom(5).hex() */
    double t;                /* time.perf_counter() when put */
};

struct worker {
    int          name;
    simul_queue *q;
};

static double perf_counter(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* async def makeitem(size=5) -> str: os.urandom(size).hex() */
static int makeitem(char hex[11])
{
    unsigned char b[5];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)n;
    }
    for (int k = 0; k < 5; k++)
        snprintf(hex + 2 * k, 3, "%02x", b[k]);
    return 0;
}

/* async def randsleep(caller) */
static int randsleep(const char *who, int name)
{
    int i = (int)py_random_randint(&rng, 0, 10);
    printf("%s %d sleeping for %d seconds.\n", who, name, i);
    return simul_sleep(i * scale);
}

/* async def produce(name, q) */
static int produce(void *arg)
{
    struct worker *w = arg;
    int n = (int)py_random_randint(&rng, 0, 10);
    for (int k = 0; k < n; k++) {
        int rc = randsleep("Producer", w->name);
        if (rc < 0)
            return rc;
        struct item *it = malloc(sizeof *it);
        if (!it)
            return -ENOMEM;
        if ((rc = makeitem(it->hex)) < 0) {
            free(it);
            return rc;
        }
        it->t = perf_counter();
        if ((rc = simul_queue_put(w->q, it)) < 0) {
            free(it);            /* not queued: still ours */
            return rc;
        }
        printf("Producer %d added <%s> to queue.\n", w->name, it->hex);
    }
    return 0;
}

/* async def consume(name, q): runs until cancelled */
static int consume(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        int rc = randsleep("Consumer", w->name);
        if (rc < 0)
            return rc;
        void *v;
        if ((rc = simul_queue_get(w->q, &v)) < 0)
            return rc;
        struct item *it = v;
        double now = perf_counter();
        printf("Consumer %d got element <%s> in %0.5f seconds.\n", w->name, it->hex,
               now - it->t);
        free(it);
        simul_queue_task_done(w->q);
    }
}

struct main_args {
    int nprod, ncon;
};

static void drop_item(void *item, void *ctx)
{
    (void)ctx;
    free(item);
}

/* Cancels and reaps tasks[0..n). */
static void cancel_all(simul_task **tasks, int n)
{
    for (int i = 0; i < n; i++)
        simul_cancel(tasks[i]);
    for (int i = 0; i < n; i++)
        simul_join(tasks[i]);
}

/* async def main(nprod, ncon) */
static int amain(void *arg)
{
    struct main_args *m = arg;
    int rc = -ENOMEM;
    int np = 0, nc = 0;
    simul_queue *q = simul_queue_new(0);
    struct worker *ws = calloc((size_t)(m->nprod + m->ncon) + 1, sizeof *ws);
    simul_task **prods = calloc((size_t)m->nprod + 1, sizeof *prods);
    simul_task **cons = calloc((size_t)m->ncon + 1, sizeof *cons);
    if (!q || !ws || !prods || !cons)
        goto out;
    simul_queue_set_drop(q, drop_item, NULL);

    for (np = 0; np < m->nprod; np++) {
        ws[np] = (struct worker){ np, q };
        if (!(prods[np] = simul_spawn(produce, &ws[np]))) {
            rc = -errno;
            goto out;
        }
    }
    for (nc = 0; nc < m->ncon; nc++) {
        ws[m->nprod + nc] = (struct worker){ nc, q };
        if (!(cons[nc] = simul_spawn(consume, &ws[m->nprod + nc]))) {
            rc = -errno;
            goto out;
        }
    }
    /* await asyncio.gather(*producers): joins (frees) every producer */
    rc = simul_gather(prods, (size_t)np, NULL, SIMUL_GATHER_FAIL_FAST);
    np = 0;
    if (rc < 0)
        goto out;
    rc = simul_queue_join(q);         /* implicitly awaits consumers, too */

out:
    cancel_all(prods, np);
    cancel_all(cons, nc);             /* for c in consumers: c.cancel() */
    simul_queue_free(q);              /* frees what is left, if it failed */
    free(cons);
    free(prods);
    free(ws);
    return rc;
}

static int parse_int(const char *s, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < 0 || v > MAX_TASKS)
        return -1;
    *out = (int)v;
    return 0;
}

int main(int argc, char **argv)
{
    struct main_args m = { 5, 10 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "-p") || !strcmp(a, "--nprod")) {
            bad = !v || parse_int(v, &m.nprod) < 0;
            i++;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ncon")) {
            bad = !v || parse_int(v, &m.ncon) < 0;
            i++;
        } else if (!strcmp(a, "--scale")) {
            char *end = NULL;
            scale = v ? strtod(v, &end) : -1;
            bad = !v || *end || !isfinite(scale) || scale < 0;
            i++;
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "usage: %s [-p NPROD] [-c NCON] [--scale S]   "
                    "(0 <= N <= %d, S >= 0)\n", argv[0], MAX_TASKS);
            return 2;
        }
    }
    py_random_seed(&rng, 444);       /* random.seed(444) */
    double start = perf_counter();
    int rc = simul_run(amain, &m);
    double elapsed = perf_counter() - start;
    if (rc < 0) {
        fprintf(stderr, "asyncq: %s\n", simul_strerror(rc));
        return 1;
    }
    printf("Program completed in %0.5f seconds.\n", elapsed);
    return 0;
}
