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

#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

/* The strings live back to back in one arena (NUL-terminated), in
 * insertion order; the table holds entry numbers, and each entry keeps its
 * hash, so a probe compares hashes before bytes and growing never hashes
 * again. */
typedef struct strentry {
    uint64_t hash;
    size_t   off, len;   /* in the arena */
} strentry;

typedef struct strset {
    uint32_t *slot;      /* open addressing: entry number + 1, 0 = empty */
    strentry *ent;       /* insertion order */
    char     *arena;
    size_t    n, cap;    /* entries; slots (a power of two) */
    size_t    used, size;/* arena bytes */
    size_t    max;       /* entries allowed */
} strset;

static uint64_t hash(const char *s, size_t n)
{
    /* eight bytes a step, each mixed by a multiply and a shift */
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 29);
}

static const char *set_at(const strset *s, size_t i)
{
    return s->arena + s->ent[i].off;
}

static void set_free(strset *s)
{
    free(s->slot);
    free(s->ent);
    free(s->arena);
    size_t max = s->max;
    memset(s, 0, sizeof *s);
    s->max = max;
}

/* The slot holding str[0..n) (entry number + 1), or of the empty slot
 * where it would go (0 there); the table must have slots. */
static uint32_t *set_find(const strset *s, const char *str, size_t n, uint64_t h)
{
    size_t mask = s->cap - 1, j = h & mask;
    for (; s->slot[j]; j = (j + 1) & mask) {
        const strentry *e = &s->ent[s->slot[j] - 1];
        if (e->hash == h && e->len == n && !memcmp(s->arena + e->off, str, n))
            break;
    }
    return &s->slot[j];
}

static int set_has(const strset *s, const char *str, size_t n)
{
    return s->cap && *set_find(s, str, n, hash(str, n)) != 0;
}

/* Adds s[0..n) unless present: 1 added, 0 present, -ENOMEM, -E2BIG (max). */
static int set_add(strset *s, const char *str, size_t n)
{
    uint64_t h = hash(str, n);
    size_t mask = s->cap - 1;
    if (s->cap && *set_find(s, str, n, h))
        return 0;
    if (s->n >= s->max || s->n >= UINT32_MAX - 1)
        return -E2BIG;
    if (s->n * 2 >= s->cap) {   /* load at most 1/2: grow, re-place by kept hashes */
        size_t cap = s->cap ? s->cap * 2 : 64;
        uint32_t *slot = calloc(cap, sizeof *slot);
        strentry *ent = realloc(s->ent, cap / 2 * sizeof *ent);
        if (ent)
            s->ent = ent;
        if (!slot || !ent) {
            free(slot);
            return -ENOMEM;
        }
        for (size_t i = 0; i < s->n; i++) {
            size_t j = ent[i].hash & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = (uint32_t)i + 1;
        }
        free(s->slot);
        s->slot = slot;
        s->cap = cap;
        mask = cap - 1;
    }
    if (n + 1 > s->size - s->used) {
        size_t size = s->size ? s->size : 4096;
        while (n + 1 > size - s->used)
            size *= 2;
        char *arena = realloc(s->arena, size);
        if (!arena)
            return -ENOMEM;
        s->arena = arena;
        s->size = size;
    }
    memcpy(s->arena + s->used, str, n);
    s->arena[s->used + n] = '\0';
    s->ent[s->n] = (strentry){h, s->used, n};
    s->used += n + 1;
    size_t j = h & mask;
    while (s->slot[j])
        j = (j + 1) & mask;
    s->slot[j] = (uint32_t)++s->n;
    return 1;
}

/* ---- one page -------------------------------------------------------------- */

static simul_http_session *session;
static simul_sem *alive;         /* gates how many page tasks exist at once */
static simul_file *out_file;     /* OUT, open for the whole run, unbuffered */
static simul_lock *out_lock;     /* one page's write at a time */

/* The regex href="(.*?)" over text[0..n): calls add for each capture. A
 * match needs its closing quote before the next newline; a failed start
 * is skipped as the regex engine's next attempt would. */
/* The first `href="` in [p, end), or NULL. Most of a page is other
 * attributes: 16 positions at a time are tested for `f="` (rare outside
 * href), and only those are checked for the "hre" before; memmem does the
 * short tail. */
static const char *find_href(const char *p, const char *end)
{
    const char *start = p;
#ifdef __SSE2__
    const __m128i f = _mm_set1_epi8('f'), eq = _mm_set1_epi8('='), qu = _mm_set1_epi8('"');
    for (; end - p >= 18; p += 16) {
        __m128i a = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)p), f);
        __m128i b = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 1)), eq);
        __m128i c = _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 2)), qu);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(a, _mm_and_si128(b, c)));
        while (m) {
            const char *f_ = p + __builtin_ctz(m);   /* the 'f' of f=" */
            if (f_ - start >= 3 && !memcmp(f_ - 3, "hre", 3))
                return f_ - 3;
            m &= m - 1;
        }
    }
    if (p - start >= 3)
        p -= 3;   /* a match may begin in the last block's final bytes */
#else
    (void)start;
#endif
    return memmem(p, (size_t)(end - p), "href=\"", 6);
}

/* The first '"' or '\n' in [p, end), or end: where the shortest match
 * (.*?)" ends, or where it cannot. */
static const char *find_close(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i qu = _mm_set1_epi8('"'), nl = _mm_set1_epi8('\n');
    for (; end - p >= 16; p += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, qu),
                                                              _mm_cmpeq_epi8(x, nl)));
        if (m)
            return p + __builtin_ctz(m);
    }
#endif
    while (p < end && *p != '"' && *p != '\n')
        p++;
    return p;
}

static int find_links(const char *url, const char *text, size_t n, strset *found)
{
    char abs[SIMUL_URL_MAX + 1];
    const char *p = text, *end = text + n;
    size_t ulen = strlen(url);
    /* urljoin is a pure function of (url, link): a link seen earlier on
     * this page, and joined then, gives the same absolute link again, so
     * it is not joined twice (a page repeats a third of its hrefs). Only
     * links that joined are remembered: one that fails is logged at each
     * occurrence, as areq.py does. */
    strset raw = { .max = LINKS_MAX };
    int rc = 0;
    while ((size_t)(end - p) >= 6) {
        const char *h = find_href(p, end);
        if (!h)
            break;
        const char *v = h + 6, *q = find_close(v, end);
        if (q == end || *q == '\n') {
            p = h + 1;
            continue;
        }
        size_t vlen = (size_t)(q - v);
        p = q + 1;
        if (set_has(&raw, v, vlen))
            continue;
        int len = simul_url_join_py(abs, sizeof abs, url, ulen, v, vlen);
        if (len < 0) {
            logline("ERROR", "Error parsing URL: %.*s", (int)vlen, v);
            continue;
        }
        if ((rc = set_add(found, abs, (size_t)len)) < 0)
            break;
        (void)set_add(&raw, v, vlen);   /* if it cannot be kept, it is joined again */
        rc = 0;
    }
    set_free(&raw);
    return rc;
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

/* Writes n bytes to f: 0 or the first error. */
static int write_all(simul_file *f, const char *buf, size_t n)
{
    while (n > 0) {
        int w = simul_file_write(f, buf, n > INT32_MAX ? INT32_MAX : n);
        if (w < 0)
            return w;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
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
            total += ulen + found.ent[i].len + 2;
        char *buf = total <= OUT_MAX ? malloc(total) : NULL;
        int rc = buf ? 0 : (total > OUT_MAX ? -EFBIG : -ENOMEM);
        if (buf) {
            char *w = buf;
            for (size_t i = 0; i < found.n; i++) {
                size_t l = found.ent[i].len;
                memcpy(w, url, ulen);
                w += ulen;
                *w++ = '\t';
                memcpy(w, set_at(&found, i), l);
                w += l;
                *w++ = '\n';
            }
            /* areq.py opens the file for each page; one open file, written
             * unbuffered, puts the same bytes in the file at the same
             * moment, and the lock keeps a page's lines together */
            rc = simul_lock_acquire(out_lock);
            if (rc == 0) {
                rc = write_all(out_file, buf, total);
                simul_lock_release(out_lock);
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
    rc = simul_file_open(a->out, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644, &out_file);
    if (rc == 0 && (rc = simul_file_set_buffer(out_file, 0)) == 0) {
        static const char header[] = "source_url\tparsed_url\n";
        rc = write_all(out_file, header, sizeof header - 1);
    }
    out_lock = rc == 0 ? simul_lock_new() : NULL;
    if (rc == 0 && !out_lock)
        rc = -ENOMEM;
    if (rc < 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, a->out, simul_strerror(rc));
        if (out_file)
            simul_file_close(out_file);
        set_free(&urls);
        return rc;
    }

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
            if (rc == 0 && !simul_group_spawn(&g, write_one, (void *)set_at(&urls, i))) {
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
    int rc3 = simul_file_close(out_file);
    if (rc3 < 0)
        fprintf(stderr, "%s: %s: %s\n", prog, a->out, simul_strerror(rc3));
    if (rc == 0)
        rc = rc3;
    simul_lock_free(out_lock);
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
