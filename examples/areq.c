/*
 * areq.c - the walkthrough's last program, areq.py, as a C twin: read a
 * list of URLs, GET every page concurrently through one HTTP session
 * (aiohttp's ClientSession), find every href="..." in the decoded text,
 * resolve each against the page's URL with Python's urljoin semantics and
 * append "source<TAB>link" lines to the output file through the async file
 * API (aiofiles). It logs what areq.py logs, in its format, on stderr:
 *
 *     HH:MM:SS INFO:areq: Got response [200] for URL: http://...
 *     HH:MM:SS INFO:areq: Found 12 links for http://...
 *     HH:MM:SS INFO:areq: Wrote results for source URL: http://...
 *     HH:MM:SS ERROR:areq: aiohttp exception for http://... [404]: Not Found
 *
 *     areq [-c N] [URLS [OUT]]     (defaults urls.txt, foundurls.txt; -c 100)
 *
 * What areq.py does, kept here on purpose: the URL list is a set (lines
 * stripped, duplicates once, an empty line is a URL that fails); links are
 * the regex href="(.*?)" over the text (shortest match, never across a
 * newline), a set per page, resolved against the URL that was asked for
 * (not the one a redirect ended at); a page without links writes nothing;
 * every failure is one ERROR line and the other pages go on; transport
 * errors print "[None]: None" as aiohttp's do (they have no status).
 * Unlike aiohttp's strict text(), a page in the wrong charset never fails:
 * bytes that do not decode become U+FFFD (simul_http_response_text).
 *
 * One task per URL, as areq.py's gather; at most 2*N of them are alive at
 * once (a semaphore gates spawning), so 10,000 URLs do not hold 10,000
 * stacks while they queue for the session's N connections.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* memmem */
#endif
#include <simul.h>
#include <simul/http.h>
#include <simul/url.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define URLS_MAX   10000000   /* URLs read from the list */
#define LINKS_MAX  1000000    /* distinct links kept per page */
#define OUT_MAX    (256u << 20) /* bytes written for one page */

static const char *prog = "areq";

/* ---- logging: areq.py's logging.basicConfig format ------------------------ */

static void logline(const char *level, const char *fmt, ...)
{
    char buf[16384];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    int n = snprintf(buf, sizeof buf, "%02d:%02d:%02d %s:areq: ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, level);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
    va_end(ap);
    n += m < 0 ? 0 : (m >= (int)(sizeof buf - n - 1) ? (int)(sizeof buf - n - 2) : m);
    buf[n++] = '\n';
    /* one write per line: lines of concurrent tasks never interleave */
    fwrite(buf, 1, (size_t)n, stderr);
}

/* ---- a set of strings (areq.py's set()) ----------------------------------- */

typedef struct strset {
    char  **slot;     /* open addressing, NULL = empty */
    char  **order;    /* insertion order, for output */
    size_t  n, cap;   /* cap: a power of two */
    size_t  max;
} strset;

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;    /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

static void set_free(strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->order[i]);
    free(s->slot);
    free(s->order);
    memset(s, 0, sizeof *s);
}

/* Adds s[0..n) unless present: 1 added, 0 present, -ENOMEM, -E2BIG (max). */
static int set_add(strset *s, const char *str, size_t n)
{
    if (s->n * 2 >= s->cap) {
        if (s->n >= s->max)
            return -E2BIG;
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **slot = calloc(cap, sizeof *slot);
        char **order = realloc(s->order, cap / 2 * sizeof *order);
        if (!slot || !order) {
            free(slot);
            if (order)
                s->order = order;
            return -ENOMEM;
        }
        s->order = order;
        for (size_t i = 0; i < s->n; i++) {
            size_t j = hash(order[i], strlen(order[i])) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = order[i];
        }
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
    }
    size_t j = hash(str, n) & (s->cap - 1);
    for (; s->slot[j]; j = (j + 1) & (s->cap - 1))
        if (!strncmp(s->slot[j], str, n) && s->slot[j][n] == '\0')
            return 0;
    char *copy = strndup(str, n);
    if (!copy)
        return -ENOMEM;
    s->slot[j] = copy;
    s->order[s->n++] = copy;
    return 1;
}

/* ---- one page -------------------------------------------------------------- */

static simul_http_session *session;
static simul_sem *alive;         /* gates how many page tasks exist at once */
static const char *out_path;

/* The regex href="(.*?)" over text[0..n): calls add for each capture. A
 * match needs its closing quote before the next newline; a failed start
 * is skipped as the regex engine's next attempt would. */
static int find_links(const char *url, const char *text, size_t n, strset *found)
{
    char abs[SIMUL_URL_MAX + 1];
    const char *p = text, *end = text + n;
    while ((size_t)(end - p) >= 6) {
        const char *h = memmem(p, (size_t)(end - p), "href=\"", 6);
        if (!h)
            break;
        const char *v = h + 6, *q = v;
        while (q < end && *q != '"' && *q != '\n')
            q++;
        if (q == end || *q == '\n') {
            p = h + 1;
            continue;
        }
        int len = simul_url_join_py(abs, sizeof abs, url, strlen(url), v, (size_t)(q - v));
        if (len < 0)
            logline("ERROR", "Error parsing URL: %.*s", (int)(q - v), v);
        else {
            int r = set_add(found, abs, (size_t)len);
            if (r < 0)
                return r;
        }
        p = q + 1;
    }
    return 0;
}

/* areq.py's fetch_html + parse: the page's links into found, or nothing
 * (and an ERROR line) if it failed. */
static void parse(const char *url, strset *found)
{
    simul_http_response *r = NULL;
    int rc = simul_http_get(session, url, NULL, &r);
    if (rc == -ECANCELED)
        return;
    if (rc < 0) {
        logline("ERROR", "aiohttp exception for %s [None]: None", url);
        return;
    }
    if (simul_http_raise_for_status(r) != 0) {
        logline("ERROR", "aiohttp exception for %s [%d]: %s", url,
                simul_http_response_status(r), simul_http_response_reason(r));
        simul_http_response_free(r);
        return;
    }
    logline("INFO", "Got response [%d] for URL: %s", simul_http_response_status(r), url);
    /* await resp.text(): a browser's charset choice, U+FFFD for bad bytes */
    const char *text;
    size_t tlen;
    rc = simul_http_response_text(r, NULL, &text, &tlen, NULL);
    if (rc == 0)
        rc = find_links(url, text, tlen, found);
    simul_http_response_free(r);
    if (rc == -ECANCELED)
        return;
    if (rc == -ENOMEM || rc == -E2BIG) {
        logline("ERROR", "Non-aiohttp exception occured:  %s", simul_strerror(rc));
        set_free(found);
        return;
    }
    if (rc < 0) {   /* the body failed: reset, cap, timeout (aiohttp's ClientPayloadError) */
        logline("ERROR", "aiohttp exception for %s [None]: None", url);
        set_free(found);
        return;
    }
    logline("INFO", "Found %zu links for %s", found->n, url);
}

/* Writes n bytes to f and closes it (the close flushes and reports a full
 * disk): 0 or the first error. */
static int write_all(simul_file *f, const char *buf, size_t n)
{
    int rc = 0;
    while (n > 0) {
        int w = simul_file_write(f, buf, n > INT32_MAX ? INT32_MAX : n);
        if (w < 0) {
            rc = w;
            break;
        }
        buf += w;
        n -= (size_t)w;
    }
    int rc2 = simul_file_close(f);
    return rc ? rc : rc2;
}

/* areq.py's write_one: one append of every "url\tlink" line. */
static int write_one(void *arg)
{
    const char *url = arg;
    strset found = { .max = LINKS_MAX };
    parse(url, &found);
    if (found.n > 0) {
        size_t ulen = strlen(url), total = 0;
        for (size_t i = 0; i < found.n; i++)
            total += ulen + strlen(found.order[i]) + 2;
        char *buf = total <= OUT_MAX ? malloc(total) : NULL;
        int rc = buf ? 0 : (total > OUT_MAX ? -EFBIG : -ENOMEM);
        if (buf) {
            char *w = buf;
            for (size_t i = 0; i < found.n; i++) {
                size_t l = strlen(found.order[i]);
                memcpy(w, url, ulen);
                w += ulen;
                *w++ = '\t';
                memcpy(w, found.order[i], l);
                w += l;
                *w++ = '\n';
            }
            simul_file *f;
            rc = simul_file_open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0644, &f);
            if (rc == 0) {
                /* one write: a page's lines stay together in the file */
                rc = write_all(f, buf, total);
            }
            free(buf);
        }
        if (rc == 0)
            logline("INFO", "Wrote results for source URL: %s", url);
        else if (rc != -ECANCELED)
            logline("ERROR", "Could not write results for %s: %s", url, simul_strerror(rc));
    }
    set_free(&found);
    simul_sem_release(alive);
    return 0;   /* a failed page never stops its siblings */
}

/* ---- main ------------------------------------------------------------------ */

typedef struct args {
    unsigned    limit;
    const char *urls, *out;
} args;

/* The URL list as areq.py reads it: set(map(str.strip, infile)). */
static int read_urls(const char *path, strset *urls)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (rc >= 0 && (n = getline(&line, &cap, f)) >= 0) {
        const char *s = line, *e = line + n;
        while (s < e && strchr(" \t\r\n\v\f", *s))
            s++;
        while (e > s && strchr(" \t\r\n\v\f", e[-1]))
            e--;
        rc = set_add(urls, s, (size_t)(e - s));
    }
    free(line);
    if (ferror(f) && rc >= 0)
        rc = -EIO;
    fclose(f);
    return rc < 0 ? rc : 0;
}

static int amain(void *arg)
{
    args *a = arg;
    strset urls = { .max = URLS_MAX };
    int rc = read_urls(a->urls, &urls);
    if (rc < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, a->urls, simul_strerror(rc));
        return rc;
    }
    /* areq.py truncates the output and writes the header first */
    simul_file *f;
    rc = simul_file_open(a->out, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f);
    if (rc == 0) {
        static const char header[] = "source_url\tparsed_url\n";
        rc = write_all(f, header, sizeof header - 1);
    }
    if (rc < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, a->out, simul_strerror(rc));
        set_free(&urls);
        return rc;
    }
    out_path = a->out;

    simul_http_session_opts so = { .limit = a->limit };
    rc = simul_http_session_new(&so, &session);
    if (rc < 0) {
        fprintf(stderr, "%s: HTTP session: %s\n", prog, simul_strerror(rc));
        set_free(&urls);
        return rc;
    }
    alive = simul_sem_new(a->limit * 2);
    simul_group g;
    rc = alive ? simul_group_enter(&g) : -ENOMEM;
    if (rc == 0) {
        for (size_t i = 0; i < urls.n && rc == 0; i++) {
            rc = simul_sem_acquire(alive);
            if (rc == 0 && !simul_group_spawn(&g, write_one, urls.order[i])) {
                rc = -errno;
                simul_sem_release(alive);
            }
        }
        if (rc < 0)
            simul_group_cancel(&g);
        int rc2 = simul_group_exit(&g);
        if (rc == 0)
            rc = rc2;
    }
    simul_sem_free(alive);
    simul_http_session_free(session);
    set_free(&urls);
    if (rc < 0 && rc != -ECANCELED)
        fprintf(stderr, "%s: %s\n", prog, simul_strerror(rc));
    return rc;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: %s [-c N] [URLS [OUT]]\n"
                "  GET every URL listed in URLS (default urls.txt) at once through one\n"
                "  HTTP session of at most N connections (default 100), and write each\n"
                "  page's href links, resolved, to OUT (default foundurls.txt).\n", prog);
}

int main(int argc, char **argv)
{
    args a = { .limit = 100, .urls = "urls.txt", .out = "foundurls.txt" };
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "-c") && i + 1 < argc) {
            char *e;
            unsigned long v = strtoul(argv[++i], &e, 10);
            if (*e || v == 0 || v > 100000) {
                fprintf(stderr, "%s: -c wants a number from 1 to 100000\n", prog);
                return 2;
            }
            a.limit = (unsigned)v;
            continue;
        }
        usage(stderr);
        return 2;
    }
    if (argc - i > 2) {
        usage(stderr);
        return 2;
    }
    if (i < argc)
        a.urls = argv[i++];
    if (i < argc)
        a.out = argv[i++];
    int rc = simul_run(amain, &a);
    return rc == 0 ? 0 : 1;
}
