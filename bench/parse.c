/*
 * parse.c - the HTTP parsing benchmarks (bench/run-parse.sh): URL resolve +
 * normalise per link (simul_url_parse with a base and SIMUL_URL_NORMALIZE,
 * on links typical of documentation pages), and Python-urljoin per link.
 * Prints "name value unit" lines; times are the thread's CPU time, so a
 * loaded machine skews them less than wall time would.
 *
 *     build/bench/parse [seconds-per-case]
 */
#include <simul/url.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *links[] = {
    "../reference/datamodel.html#coroutines",
    "asyncio-future.html#asyncio.Future",
    "#asyncio.Task",
    "https://github.com/python/cpython/tree/3.11/Lib/asyncio/tasks.py",
    "/3/glossary.html#term-coroutine",
    "../_static/pygments.css",
    "asyncio-eventloop.html",
    "../howto/index.html",
    "https://www.python.org/",
    "../genindex.html",
    "../bugs.html?lang=en&amp=1",
    "index.html",
};
#define NLINKS (sizeof links / sizeof links[0])

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    const char *b = "https://docs.python.org/3/library/asyncio-task.html";
    size_t lens[NLINKS];
    for (size_t i = 0; i < NLINKS; i++)
        lens[i] = strlen(links[i]);
    simul_url base, u;
    simul_url_init(&base);
    simul_url_init(&u);
    if (simul_url_parse(&base, b, strlen(b), NULL, 0) != 0)
        return 1;
    size_t sink = 0;
    /* URL resolve + normalise. */
    long n = 0;
    double t0 = now(), t;
    do {
        for (int r = 0; r < 1000; r++)
            for (size_t i = 0; i < NLINKS; i++) {
                simul_url_parse(&u, links[i], lens[i], &base, SIMUL_URL_NORMALIZE);
                sink += u.len;
            }
        n += 1000 * NLINKS;
    } while ((t = now()) - t0 < secs);
    printf("url_resolve_normalize %.1f ns/link\n", (t - t0) * 1e9 / n);
    /* Python's urljoin. */
    char out[SIMUL_URL_MAX + 1];
    n = 0;
    t0 = now();
    do {
        for (int r = 0; r < 1000; r++)
            for (size_t i = 0; i < NLINKS; i++)
                sink += (size_t)simul_url_join_py(out, sizeof out, b, strlen(b), links[i], lens[i]);
        n += 1000 * NLINKS;
    } while ((t = now()) - t0 < secs);
    printf("url_join_py %.1f ns/link\n", (t - t0) * 1e9 / n);
    simul_url_fini(&u);
    simul_url_fini(&base);
    return sink == 42;
}
