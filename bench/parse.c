/*
 * parse.c - the HTTP parsing benchmarks (bench/run-parse.sh): URL resolve +
 * normalise per link (simul_url_parse with a base and SIMUL_URL_NORMALIZE,
 * on links typical of documentation pages), Python-urljoin per link, and
 * link extraction over the Python documentation's pages held in memory
 * (bytes of HTML per second, with and without resolving each link).
 * Prints "name value unit" lines; times are the thread's CPU time, so a
 * loaded machine skews them less than wall time would.
 *
 *     build/bench/parse [seconds-per-case [html-dir]]
 */
#include <simul/html.h>
#include <simul/url.h>

#include <dirent.h>
#include <sys/mman.h>

#include <stdbool.h>
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

static char  *corpus;
static size_t corpus_len, corpus_cap;
static size_t *page_end;
static int     npages;

static void load_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || e->d_name[0] == '_')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        size_t l = strlen(p);
        if (l > 5 && !strcmp(p + l - 5, ".html")) {
            FILE *f = fopen(p, "rb");
            if (!f)
                continue;
            fseek(f, 0, SEEK_END);
            size_t n = (size_t)ftell(f);
            fseek(f, 0, SEEK_SET);
            if (corpus_len + n > corpus_cap) {
                corpus_cap = (corpus_len + n) * 2;
                corpus = realloc(corpus, corpus_cap);
            }
            corpus_len += fread(corpus + corpus_len, 1, n, f);
            fclose(f);
            page_end = realloc(page_end, (size_t)(npages + 1) * sizeof *page_end);
            page_end[npages++] = corpus_len;
        } else if (e->d_type == DT_DIR || e->d_type == DT_LNK) {
            load_dir(p);
        }
    }
    closedir(d);
}

static size_t nlinks;
static int count_link(void *arg, const simul_link *l)
{
    (void)arg;
    nlinks += l->len;
    return 0;
}

/* Extracts links from every page; resolve: against the page's URL. */
static double extract_all(double secs, bool resolve, double *links_per_page)
{
    simul_links *lx;
    const char *doc = "https://docs.python.org/3/library/asyncio-task.html";
    if (simul_links_new(&lx, resolve ? doc : NULL, strlen(doc), SIMUL_URL_NORMALIZE,
                        count_link, NULL) != 0)
        exit(1);
    size_t bytes = 0, calls = 0;
    double t0 = now(), t;
    do {
        size_t a = 0;
        for (int i = 0; i < npages; i++) {
            simul_links_reset(lx, resolve ? doc : NULL, strlen(doc));
            simul_links_feed(lx, corpus + a, page_end[i] - a);
            simul_links_end(lx);
            a = page_end[i];
        }
        bytes += corpus_len;
        calls++;
    } while ((t = now()) - t0 < secs);
    (void)links_per_page;
    simul_links_free(lx);
    return bytes / (t - t0);
}

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
    /* Link extraction. */
    load_dir(argc > 2 ? argv[2] : "/usr/share/doc/python3.11/html");
    /* A crawler parses each page from a buffer of about its size that
     * stays in the TLB; streaming a 50 MB corpus through 4 KiB pages would
     * time page-table walks instead (costly under virtualisation: 0.55
     * against 0.95 GB/s measured here). Huge pages keep the corpus to a
     * few TLB entries, so the figure is the tokenizer's. */
    size_t huge = (size_t)2 << 20, hcap = (corpus_len + huge) & ~(huge - 1);
    char *h = aligned_alloc(huge, hcap);
    if (h) {
        madvise(h, hcap, MADV_HUGEPAGE);
        memcpy(h, corpus, corpus_len);
        free(corpus);
        corpus = h;
    }
    if (npages) {
        printf("links_corpus %d pages %.1f MB\n", npages, corpus_len / 1e6);
        printf("links_extract %.2f GB/s\n", extract_all(secs, false, NULL) / 1e9);
        printf("links_extract_resolve %.2f GB/s\n", extract_all(secs, true, NULL) / 1e9);
    }
    simul_url_fini(&u);
    simul_url_fini(&base);
    return sink == 42;
}
