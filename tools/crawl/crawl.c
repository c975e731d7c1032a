/*
 * crawl.c - the frontier and the scheduler of simul-crawl.
 *
 * Hosts (one per origin, scheme://host:port) each keep a FIFO of queued URLs
 * in RAM - a bounded window: past HOST_WINDOW entries (or the global
 * RAM_JOBS) new URLs stay only in the store and the host is "spilled",
 * refilled from the store in id order when its window runs dry - and a
 * small list of retries ordered by their not-before time. Hosts with work
 * form a ring the dispatcher walks round-robin, so one big host does not
 * starve the others. A host's first request is its robots.txt; then at
 * most --per-host fetches at once (1 with a delay), spaced by --delay or
 * its Crawl-delay (capped).
 *
 * The dispatcher (the main task) takes the next eligible URL and spawns a
 * task for it on one of -c slots (each slot owns a link extractor and its
 * buffers, reused page after page). A page task GETs the URL through the
 * one HTTP session, streams the body through simul_links_feed (no copy of
 * the page), keeps the page's distinct links, and at the end - in one go,
 * with no suspension point - appends the page's foundurls.tsv lines and
 * pages.jsonl record, admits the new links (dedup set, scope, filters,
 * caps) into the store and the frontier, and marks the URL done in the
 * store's open transaction. A link to a URL seen at a longer distance
 * lowers its depth (lower: its row, and a done page's links offered again
 * from foundurls.tsv), so depths and --depth are a BFS's at any -c; the
 * records written before are patched when the crawl finishes. Every
 * commit interval the output files are flushed (and fdatasync'ed), their
 * lengths recorded and the transaction committed: a crash at any moment leaves a committed state whose outputs
 * are a prefix of the files, and a resume truncates them to it.
 *
 * With --loops N the state above stays on loop 0 (this file's globals are
 * loop 0's) and each fetch's HTTP part - the GET and the body through the
 * slot's link extractor - runs on one of the N loops, on that loop's own
 * session (slot_fetch, remote_fetch); its record is written here.
 *
 * With --pg a commit first sends the pages and links done since the last
 * one to PostgreSQL (pgsink.c) and suspends meanwhile: only the dispatcher
 * commits then, and pages that finish during it wait at the commit gate,
 * so the store's transaction holds exactly the batch PostgreSQL confirmed.
 *
 * Output files are written with stdio from the loop's thread: appends to
 * the page cache take microseconds, far less than a round trip to a
 * thread pool.
 */
#include "crawl.h"

#include <simul.h>
#include <simul/html.h>
#include <simul/http.h>
#include <simul/robots.h>
#include <simul/sync.h>
#include <simul/sys.h>
#include <simul/url.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOST_WINDOW   512        /* queued URLs of one host kept in RAM */
#define RAM_JOBS      50000      /* queued URLs in RAM over all hosts */
#define SEEN_MAX      ((size_t)1 << 30)  /* URLs the dedup set takes (8 GiB of slots) */
#define BIG_PAGES     2          /* pages past PAGE_LINKS_KEEP parsed at once */
#define COMMIT_PAGES  2000       /* commit earlier than the interval past this */

/* ---- types ------------------------------------------------------------------ */

typedef struct host host;

typedef struct job {
    struct job *next;
    host       *h;
    int64_t     id;
    double      not_before;      /* retries: not before this time */
    int         depth, tries, robots;   /* robots: the host's robots.txt fetch */
    int         hops;            /* redirects that led to this URL (0: a link or a seed) */
    int         kind;            /* URL_PAGE, URL_SITEMAP */
    const char *parent;          /* inside this allocation, or NULL */
    size_t      len;
    char        url[];
} job;

enum { R_NONE, R_FETCHING, R_READY, R_WAIT };

struct host {
    int64_t       id;
    char         *origin;
    uint64_t      ohash;
    host         *hnext;          /* hash chain */
    host         *anext, *aprev;  /* the active ring */
    int           active;
    int           robots_state, robots_tries, robots_gone;
    double        robots_retry_at;
    simul_robots *robots;
    double        delay, next_at;
    unsigned      inflight;
    job          *qhead, *qtail;
    size_t        qlen;
    job          *retry;          /* by not_before */
    int           spilled;
    int64_t       loaded_max;     /* every queued row <= this is in RAM or in flight */
    uint64_t      admitted;
    unsigned     *lin;            /* --loops N: its fetches in flight on each loop */
};

/* A loop that fetches (--loops N: one per loop; loop 0's is the crawl's
 * own). Its session and big-page tokens are made, used and freed on its
 * loop's thread only; `inflight` is loop 0's count of the fetches handed
 * to it. */
typedef struct fetcher {
    simul_loop         *loop;
    unsigned            index;        /* in the group: 0 is the crawl's loop */
    const crawl_opts   *o;
    unsigned            per_host;     /* its session's per-host connection limit */
    unsigned            tokens;       /* its share of BIG_PAGES */
    simul_http_session *http;
    simul_sem          *big;          /* pages with more than PAGE_LINKS_KEEP of links */
    unsigned            weight;       /* its part of the fetches (loop 0's is smaller) */
    unsigned            inflight;
    uint64_t            fetches;      /* loop 0's count of the fetches it was handed */
} fetcher;

/* What a fetch's HTTP part found (fetch_http, robots_http: on the
 * fetching loop), for its record (fetch_record, robots_record: loop 0). */
typedef struct fetch_result {
    double      t0;               /* when the request began */
    int         rc;               /* the GET: 0, or an error */
    int         n;                /* the body's read: 0, or an error */
    int         status;
    int         redirect;         /* a 3xx whose Location is the page's one link */
    int         retry;            /* a retryable status to retry: the body was not read */
    double      retry_after;      /* its Retry-After (seconds), or -1 */
    const char *why;              /* a redirect's error kind (a static string), or NULL */
    uint64_t    bytes;
    obuf        strs;             /* final_url and content_type, each '\0'-terminated */
    size_t      ct_off;           /* content_type's offset in strs, 0 for none */
    int         has_final;
    char        err[256];         /* a transport error's detail */
    obuf        robots;           /* robots.txt's body */
} fetch_result;

typedef struct slot {
    struct slot *next_free;
    simul_links *lx;
    char        *buf;
    page_links   links;           /* the page's distinct links (fetch.c) */
    job         *j;               /* handed to the task (NULL once it ran) */
    job         *cur;             /* being fetched (read by the fetching loop) */
    fetcher     *fw;              /* the loop that fetches it */
    simul_url    loc;             /* a sitemap's <loc>, parsed */
    int          big;             /* holds a token of fw->big */
    fetch_result x;
    /* a fetch on another loop (remote_fetch): */
    simul_event *xdone;           /* loop 0's: set once the remote task has ended */
    int          xended;
    simul_task  *wtask;           /* fw's thread only: the task while it runs */
    int          wcancel;         /* fw's thread only: cancelled before it ran */
} slot;

/* A bounded map of 64-bit keys to counts (query variants per path). */
typedef struct count_map {
    uint64_t *key;
    uint32_t *val;
    size_t    n, mask, max;
} count_map;

/* A done page whose depth a shorter path lowered: its links are offered
 * again at the new distance (read back from foundurls.tsv). */
typedef struct reoffer {
    struct reoffer *next;
    int64_t         id, foff, flen;
    int             depth, hops, state, redirect;
    size_t          nflags;
    unsigned char  *flags;        /* in this allocation, or NULL: each followed */
    char            url[];
} reoffer;

typedef struct crawler {
    const crawl_opts    *o;
    store               *st;
    fetcher             *fw;          /* one per loop of the group (fw[0]: this one) */
    unsigned             nfw, wsum;   /* loops; the sum of their weights */
    seen_set             seen;
    count_map            queries;
    host               **hbucket;
    size_t               nhbucket, nhosts;
    host                *ring;        /* the active ring's cursor */
    size_t               nactive;
    size_t               ram_jobs;
    slot                *slots, *free_slots;
    unsigned             inflight;
    simul_event         *kick;
    FILE                *found, *pages;
    char                *found_path, *pages_path;
    obuf                 line;        /* a page's output, built before writing */
    obuf                 lflags;      /* a page's links' PAGE_LFLAG_* */
    int64_t              found_pos;   /* foundurls.tsv's length, buffer included */
    reoffer             *reoffers, **reoffer_tail;   /* FIFO */
    page_links           relinks;     /* the links of a done page, offered again */
    simul_url            ru;          /* one of them, parsed */
    char                 label_parent[SIMUL_URL_MAX + 1];   /* a lowered job's parent */
    uint64_t             lowered, reoffered;   /* shorter paths found; done pages among them */
    uint64_t             admitted;    /* URLs in the store */
    uint64_t             pending;     /* pages done since the last commit */
    double               last_commit, run_start, elapsed_base;
    volatile int         stopping;
    int                  fatal;
    progress_stats       ps;
    pgsink              *pg;          /* --pg, or NULL */
    int                  committing;  /* a commit is waiting for PostgreSQL */
    simul_event         *committed;   /* set when it is over (the gate) */
    /* scope: the seeds' hosts / domains / prefixes */
    crawl_scopes         scopes;
} crawler;

static crawler C;

/* ---- small helpers --------------------------------------------------------- */

static double jitter(void)
{
    return 0.5 + (double)random() / RAND_MAX;   /* 0.5 .. 1.5 */
}

static int count_inc(count_map *m, uint64_t k, uint32_t limit)
{
    /* 1: under the limit (counted), 0: at the limit, <0: error */
    k = k ? k : 1;
    if ((m->n + 1) * 4 > (m->mask + 1) * 3 || !m->key) {
        if (m->max && m->n >= m->max)
            return -E2BIG;
        size_t cap = m->mask ? (m->mask + 1) * 2 : 1024;
        uint64_t *key = calloc(cap, sizeof *key);
        uint32_t *val = calloc(cap, sizeof *val);
        if (!key || !val) {
            free(key);
            free(val);
            return -ENOMEM;
        }
        for (size_t i = 0; m->key && i <= m->mask; i++) {
            if (!m->key[i])
                continue;
            size_t j = m->key[i] & (cap - 1);
            while (key[j])
                j = (j + 1) & (cap - 1);
            key[j] = m->key[i];
            val[j] = m->val[i];
        }
        free(m->key);
        free(m->val);
        m->key = key;
        m->val = val;
        m->mask = cap - 1;
    }
    size_t j = k & m->mask;
    while (m->key[j] && m->key[j] != k)
        j = (j + 1) & m->mask;
    if (!m->key[j]) {
        m->key[j] = k;
        m->n++;
    }
    if (limit && m->val[j] >= limit)
        return 0;
    m->val[j]++;
    return 1;
}

/* ---- hosts and the active ring ---------------------------------------------- */

static void ring_add(host *h)
{
    if (h->active)
        return;
    h->active = 1;
    if (!C.ring) {
        h->anext = h->aprev = h;
        C.ring = h;
    } else {   /* just before the cursor: last in this round */
        h->anext = C.ring;
        h->aprev = C.ring->aprev;
        h->aprev->anext = h;
        C.ring->aprev = h;
    }
    C.nactive++;
}

static void ring_del(host *h)
{
    if (!h->active)
        return;
    h->active = 0;
    if (h->anext == h) {
        C.ring = NULL;
    } else {
        h->aprev->anext = h->anext;
        h->anext->aprev = h->aprev;
        if (C.ring == h)
            C.ring = h->anext;
    }
    C.nactive--;
}

static int has_work(const host *h)
{
    return h->qhead || h->spilled || h->retry || h->robots_state == R_WAIT;
}

/* Loads the robots.txt the store cached for h, if any. */
static void host_robots_load(host *h)
{
    int status;
    void *body;
    size_t len;
    if (store_robots_get(C.st, h->id, &status, &body, &len) != 1)
        return;
    simul_robots *r;
    if (simul_robots_parse_response(status, body, len, C.o->user_agent, &r) == 0) {
        h->robots = r;
        h->robots_state = R_READY;
        double d = simul_robots_crawl_delay(r);
        if (d > 0)
            h->delay = fmax(h->delay, fmin(d, C.o->max_crawl_delay));
    }
    free(body);
}

static host *host_new(int64_t id, const char *origin, size_t len, uint64_t oh)
{
    host *h = calloc(1, sizeof *h);
    if (!h || !(h->origin = strndup(origin, len))) {
        free(h);
        return NULL;
    }
    if (C.nfw > 1 && !(h->lin = calloc(C.nfw, sizeof *h->lin))) {
        free(h->origin);
        free(h);
        return NULL;
    }
    h->id = id;
    h->ohash = oh;
    h->delay = C.o->delay;
    h->robots_state = C.o->robots ? R_NONE : R_READY;
    if (C.nhosts + 1 > C.nhbucket) {   /* keep chains short: rehash at load 1 */
        size_t nb = C.nhbucket ? C.nhbucket * 2 : 256;
        host **b = calloc(nb, sizeof *b);
        if (!b) {
            free(h->lin);
            free(h->origin);
            free(h);
            return NULL;
        }
        for (size_t i = 0; i < C.nhbucket; i++)
            for (host *x = C.hbucket[i], *nx; x; x = nx) {
                nx = x->hnext;
                x->hnext = b[x->ohash & (nb - 1)];
                b[x->ohash & (nb - 1)] = x;
            }
        free(C.hbucket);
        C.hbucket = b;
        C.nhbucket = nb;
    }
    h->hnext = C.hbucket[oh & (C.nhbucket - 1)];
    C.hbucket[oh & (C.nhbucket - 1)] = h;
    C.nhosts++;
    C.ps.hosts = C.nhosts;
    if (C.o->robots)
        host_robots_load(h);
    return h;
}

/* The host of origin[0, len) if known, else NULL. */
static host *host_find(const char *origin, size_t len, uint64_t oh)
{
    if (C.nhbucket)
        for (host *h = C.hbucket[oh & (C.nhbucket - 1)]; h; h = h->hnext)
            if (h->ohash == oh && !strncmp(h->origin, origin, len) && !h->origin[len])
                return h;
    return NULL;
}

/* The host of origin[0, len), created (in the store too) if new. */
static host *host_get(const char *origin, size_t len)
{
    uint64_t oh = crawl_hash(origin, len);
    host *found = host_find(origin, len, oh);
    if (found)
        return found;
    char tmp[SIMUL_URL_MAX + 1];
    memcpy(tmp, origin, len);
    tmp[len] = '\0';
    int64_t id;
    if (store_host(C.st, tmp, &id) < 0)
        return NULL;
    return host_new(id, origin, len, oh);
}

static job *job_new(const char *url, size_t len, const char *parent, int64_t id, int depth)
{
    size_t plen = parent ? strlen(parent) : 0;
    job *j = malloc(sizeof *j + len + 1 + (parent ? plen + 1 : 0));
    if (!j)
        return NULL;
    memset(j, 0, sizeof *j);
    j->id = id;
    j->depth = depth;
    j->len = len;
    memcpy(j->url, url, len);
    j->url[len] = '\0';
    if (parent) {
        char *p = j->url + len + 1;
        memcpy(p, parent, plen + 1);
        j->parent = p;
    }
    return j;
}

static void job_free(job *j)
{
    if (j && !j->robots)
        C.ram_jobs--;
    free(j);
}

/* Appends j to h's window (ids arrive in increasing order). */
static void queue_append(host *h, job *j)
{
    j->h = h;
    C.ram_jobs++;
    if (h->qtail)
        h->qtail->next = j;
    else
        h->qhead = j;
    h->qtail = j;
    h->qlen++;
    if (j->id > h->loaded_max)
        h->loaded_max = j->id;
}

/* A queued URL joins its host's window, or stays in the store only. */
static void frontier_push(host *h, const char *url, size_t len, const char *parent,
                          int64_t id, int depth, int hops, int kind)
{
    ring_add(h);
    if (h->spilled || h->qlen >= HOST_WINDOW || C.ram_jobs >= RAM_JOBS) {
        h->spilled = 1;
        return;
    }
    job *j = job_new(url, len, parent, id, depth);
    if (!j) {
        h->spilled = 1;   /* the store has it */
        return;
    }
    j->kind = kind;
    j->hops = hops;
    queue_append(h, j);
}

static int refill_row(void *arg, const store_url *u)
{
    host *h = arg;
    job *j = job_new(u->url, strlen(u->url), u->parent_url, u->id, u->depth);
    if (!j)
        return -ENOMEM;
    j->kind = u->kind;
    j->hops = u->hops;
    queue_append(h, j);
    return 0;
}

static void refill(host *h)
{
    size_t before = h->qlen;
    int rc = store_queued(C.st, h->id, h->loaded_max, HOST_WINDOW, refill_row, h);
    if (rc < 0) {
        logmsg(LOG_ERROR, "store: %s", store_errmsg(C.st));
        C.fatal = 1;
        return;
    }
    if (h->qlen - before < HOST_WINDOW)
        h->spilled = 0;
}

/* ---- scope and admission ----------------------------------------------------- */

static int in_scope(const char *url, size_t host_start, size_t host_end)
{
    return scopes_match(&C.scopes, C.o->scope, url, host_start, host_end);
}

/* Admits a URL into the store and the frontier (not yet seen, checks
 * passed). 0, or <0 on a store error. */
static int admit(const char *url, size_t len, size_t auth_end, int depth, int hops,
                 int64_t parent, const char *parent_url, uint64_t hash, int kind)
{
    host *h = host_get(url, auth_end);
    if (!h)
        return -ENOMEM;
    if (C.o->max_host_pages && h->admitted >= C.o->max_host_pages)
        return 0;
    int64_t id;
    int rc = store_url_add(C.st, h->id, url, len, depth, hops, parent, kind, hash, &id);
    if (rc < 0)
        return rc;
    rc = seen_offer(&C.seen, hash, CRAWL_RANK(depth, hops));
    if (rc < 0)
        return rc;
    h->admitted++;
    C.admitted++;
    C.ps.queued++;
    frontier_push(h, url, len, parent_url, id, depth, hops, kind);
    return 0;
}

/* Copies the row store_url_find found (arg: a reoffer **). */
static int found_row(void *arg, const store_url *u)
{
    size_t n = strlen(u->url);
    reoffer *w = malloc(sizeof *w + n + 1 + u->nflags);
    if (!w)
        return -ENOMEM;
    memset(w, 0, sizeof *w);
    w->id = u->id;
    w->foff = u->foff;
    w->flen = u->flen;
    w->depth = u->depth;
    w->hops = u->hops;
    w->state = u->state;
    /* a redirect's one line is its Location: offered at its depth */
    w->redirect = u->status >= 300 && u->status <= 399 && u->status != 304;
    memcpy(w->url, u->url, n + 1);
    if (u->nflags) {
        w->flags = (unsigned char *)w->url + n + 1;
        memcpy(w->flags, u->lflags, u->nflags);
        w->nflags = u->nflags;
    }
    *(reoffer **)arg = w;
    return 1;
}

/* The URL of hash, seen at a longer distance, found at depth and hops by
 * a link of page parent: its row and rank lowered (a queued or fetching
 * job takes the new label when it is recorded: label_fresh); a page
 * already done is lowered only for a shorter depth (hops alone bound a
 * chain it already went on), and its links go on the reoffers list. */
__attribute__((noinline))   /* rare: consider stays small */
static int lower(uint64_t hash, int depth, int hops, int64_t parent)
{
    reoffer *w = NULL;
    int rc = store_url_find(C.st, hash, found_row, &w);
    if (rc < 0 || !w)
        return rc;
    unsigned rank = CRAWL_RANK(depth, hops);
    int shorter = w->state ? depth < w->depth : rank < CRAWL_RANK(w->depth, w->hops);
    if (shorter)
        rc = seen_offer(&C.seen, hash, rank);
    if (shorter && rc >= 0)
        rc = store_url_lower(C.st, w->id, depth, hops, parent);
    if (shorter && rc >= 0)
        C.lowered++;
    if (!shorter || rc < 0 || !w->state) {
        free(w);
        return rc < 0 ? rc : 0;
    }
    w->depth = depth;
    w->hops = hops;
    *C.reoffer_tail = w;
    C.reoffer_tail = &w->next;
    return 0;
}

static int consider(const page_link *l, int depth, int hops, int64_t parent,
                    const char *parent_url);

/* Offers the links of the done pages whose depth was lowered again, at
 * their new distance (their lines of foundurls.tsv read back, the flags
 * from the store), until none is left: lowerings that cascade through
 * done pages run in this loop, not in a recursion. */
static int drain_reoffers(void)
{
    int rc = 0;
    while (C.reoffers && rc == 0) {
        reoffer *w = C.reoffers;
        if (!(C.reoffers = w->next))
            C.reoffer_tail = &C.reoffers;
        C.reoffered++;
        char *buf = w->flen > 0 ? malloc((size_t)w->flen) : NULL;
        if (w->flen > 0 && !buf)
            rc = -ENOMEM;
        else if (buf && (fflush(C.found) != 0 ||
                         pread(fileno(C.found), buf, (size_t)w->flen, w->foff) != w->flen))
            rc = errno ? -errno : -EIO;
        int depth = w->redirect ? w->depth : w->depth + 1, hops = w->redirect ? w->hops + 1 : 0;
        page_links_clear(&C.relinks);
        if (rc == 0 && buf)
            page_links_from_found(&C.relinks, buf, (size_t)w->flen, w->flags, w->nflags, &C.ru);
        const page_link *l = page_links_first(&C.relinks);
        for (size_t i = 0; rc == 0 && i < C.relinks.n; i++, l = page_link_next(l))
            rc = consider(l, depth, hops, w->id, w->url);
        page_links_trim(&C.relinks);
        free(buf);
        free(w);
    }
    return rc;
}

/* The checks of one link of page parent (parent_url), to be admitted at
 * depth and hops (a link: the page's depth + 1, hops 0; a redirect's
 * target: the page's depth, its hops + 1); admits it if new, lowers it
 * if it was seen at a longer distance. */
static int consider(const page_link *l, int depth, int hops, int64_t parent,
                    const char *parent_url)
{
    if (!l->follow || !l->http)
        return 0;
    unsigned cur = seen_rank(&C.seen, l->hash);
    if (cur <= CRAWL_RANK(depth, hops))
        return 0;   /* seen at this distance or a shorter one */
    if (C.o->depth >= 0 && depth > C.o->depth)
        return 0;
    if (cur != SEEN_NONE)   /* admitted before (the checks below passed then) */
        return lower(l->hash, depth, hops, parent);
    if (l->len > C.o->max_url_len)
        return 0;
    if (C.o->max_pages && C.admitted >= C.o->max_pages)
        return 0;
    if (!in_scope(l->url, l->host_start, l->host_end) || !filters_pass(C.o, l->url))
        return 0;
    if (l->qhash && C.o->max_query) {
        int rc = count_inc(&C.queries, l->qhash, C.o->max_query);
        if (rc <= 0)
            return rc == -E2BIG ? 0 : rc;
    }
    return admit(l->url, l->len, l->auth_end, depth, hops, parent, parent_url, l->hash, l->kind);
}

/* ---- commits ------------------------------------------------------------------ */

static int commit(int reopen)
{
    int rc = 0;
    if (fflush(C.found) != 0 || fflush(C.pages) != 0)
        rc = -errno;
    if (rc == 0 && C.o->fsync &&
        (fdatasync(fileno(C.found)) != 0 || fdatasync(fileno(C.pages)) != 0))
        rc = -errno;
    int outputs_failed = rc < 0;   /* a full disk, say: SQLite has nothing to add */
    if (outputs_failed)
        logmsg(LOG_ERROR, "commit: writing the outputs in %s: %s", C.o->dir, simul_strerror(rc));
    if (rc == 0 && C.pg) {
        /* PostgreSQL first: a crash leaves it ahead of the store, never behind */
        C.committing = 1;
        simul_event_clear(C.committed);
        rc = pgsink_flush(C.pg, &C.stopping);
        C.committing = 0;
        simul_event_set(C.committed);
        if (rc < 0) {
            logmsg(LOG_ERROR, "PostgreSQL: the batch is not in: stopping; the state is saved "
                   "as of the last commit (run the same command again to resume)");
            C.fatal = 1;
            C.last_commit = simul_now();
            return rc;
        }
    }
    double now = simul_now();
    if (rc == 0)
        rc = store_meta_set_int(C.st, "found_len", (int64_t)ftello(C.found));
    if (rc == 0)
        rc = store_meta_set_int(C.st, "pages_len", (int64_t)ftello(C.pages));
    if (rc == 0)
        rc = store_meta_set_int(C.st, "elapsed_us",
                                (int64_t)((C.elapsed_base + now - C.run_start) * 1e6));
    if (rc == 0)
        rc = store_commit(C.st);
    if (rc == 0 && reopen)
        rc = store_begin(C.st);
    if (rc < 0) {
        if (!outputs_failed)
            logmsg(LOG_ERROR, "commit: %s (%s)", simul_strerror(rc), store_errmsg(C.st));
        C.fatal = 1;
    }
    C.last_commit = now;
    C.pending = 0;
    return rc;
}

static void maybe_commit(void)
{
    if (C.pending && (C.pending >= COMMIT_PAGES || (C.pg && pgsink_full(C.pg)) ||
                      simul_now() - C.last_commit >= C.o->commit_interval))
        commit(1);
}

/* ---- a page's outcome ---------------------------------------------------------- */

typedef struct outcome {
    int         status;
    int         redirect;        /* a 3xx whose Location is the page's one link */
    const char *final_url, *content_type, *error;
    uint64_t    bytes;
    double      t0;
} outcome;

/* j's depth, hops and parent as the store has them now, if a shorter path
 * lowered them while j was queued or fetched (lower). 0 or <0. */
static int label_fresh(job *j)
{
    if (seen_rank(&C.seen, crawl_hash(j->url, j->len)) >= CRAWL_RANK(j->depth, j->hops))
        return 0;
    int rc = store_url_label(C.st, j->id, &j->depth, &j->hops, C.label_parent,
                             sizeof C.label_parent);
    if (rc == 1)
        j->parent = C.label_parent[0] ? C.label_parent : NULL;
    return rc < 0 ? rc : 0;
}

/* Writes the page's lines, admits its links, marks it done. Never
 * suspends: the page's lines and its done mark go into the same commit. */
static void page_done(slot *s, job *j, const outcome *oc)
{
    int rc = label_fresh(j), plain = 1;
    /* foundurls.tsv: one line per distinct link, straight into the stdio
     * buffer (no suspension until the page is done: its lines stay
     * together and go into one commit); where they are, and the links'
     * flags when one is not plain, go into the store (drain_reoffers) */
    int64_t foff = C.found_pos;
    C.lflags.n = 0;
    if (obuf_reserve(&C.lflags, s->links.n) < 0)
        rc = -ENOMEM;
    const page_link *l = page_links_first(&s->links);
    for (size_t i = 0; i < s->links.n; i++, l = page_link_next(l)) {
        fwrite_unlocked(j->url, 1, j->len, C.found);
        putc_unlocked('\t', C.found);
        fwrite_unlocked(l->url, 1, l->len, C.found);
        putc_unlocked('\n', C.found);
        C.found_pos += (int64_t)(j->len + l->len + 2);
        unsigned char fl = page_link_flags(l);
        plain &= fl == PAGE_LFLAG_FOLLOW;
        if (rc == 0)
            C.lflags.p[C.lflags.n++] = (char)fl;   /* reserved above */
        if (C.pg && rc == 0)
            rc = pgsink_link(C.pg, j->url, j->len, l->url, l->len);
    }
    l = page_links_first(&s->links);
    /* a redirect is not a click: its target keeps the page's depth */
    int depth = oc->redirect ? j->depth : j->depth + 1, hops = oc->redirect ? j->hops + 1 : 0;
    for (size_t i = 0; i < s->links.n && rc == 0; i++, l = page_link_next(l))
        rc = consider(l, depth, hops, j->id, j->url);
    if (rc == 0)
        rc = drain_reoffers();
    page_rec r = {
        .url = j->url, .final_url = oc->final_url, .content_type = oc->content_type,
        .parent = j->parent, .error = oc->error, .status = oc->status, .depth = j->depth,
        .tries = oc->t0 > 0 ? j->tries + 1 : 0, .bytes = oc->bytes, .links = s->links.n,
        .fetch_ms = oc->t0 > 0 ? (simul_now() - oc->t0) * 1e3 : 0,
    };
    C.line.n = 0;
    if (rc == 0)
        rc = out_page_json(&C.line, &r);
    if (rc == 0)
        fwrite(C.line.p, 1, C.line.n, C.pages);
    if (rc == 0 && C.pg)
        rc = pgsink_page(C.pg, &r);
    if (rc == 0)
        rc = store_url_done(C.st, j->id, oc->status, oc->error, oc->bytes, r.tries, foff,
                            C.found_pos - foff, C.lflags.p, plain ? 0 : C.lflags.n);
    if (rc < 0) {
        logmsg(LOG_ERROR, "%s: %s", j->url, simul_strerror(rc));
        C.fatal = 1;
    }
    if (oc->error && strcmp(oc->error, "robots") != 0)
        C.ps.errors++;
    C.ps.done++;
    C.ps.queued--;
    C.ps.bytes += oc->bytes;
    C.pending++;
    if (oc->error && C.o->verbose)
        logmsg(LOG_INFO, "%s: %s%s%d", j->url, oc->error, oc->status ? " " : "",
               oc->status);
}

/* A URL robots.txt disallows: recorded, never fetched. */
static void robots_blocked(job *j, const char *why)
{
    outcome oc = { .error = why };
    slot none = { 0 };
    page_done(&none, j, &oc);
}

/* ---- retries ---------------------------------------------------------------------- */

/* Puts j back on its host's retry list for its next try. */
static void retry_later(job *j, double wait)
{
    host *h = j->h;
    j->tries++;
    j->not_before = simul_now() + wait;
    job **p = &h->retry;
    while (*p && (*p)->not_before <= j->not_before)
        p = &(*p)->next;
    j->next = *p;
    *p = j;
    ring_add(h);
}

static double backoff(const job *j)
{
    return C.o->retry_wait * ldexp(1.0, j->tries) * jitter();
}

/* ---- a fetch's HTTP part, on the loop that fetches -------------------------------------
 *
 * What follows up to the records touches only the slot, its job (read
 * only) and the fetcher's session and tokens: it runs on the fetcher's
 * loop - loop 0's, or another loop's (remote_fetch) - and leaves what it
 * found in s->x. Everything that is the crawl's state (hosts, robots
 * rules, the store, the outputs, retries) is loop 0's: the records. */

static void fetched_reset(fetch_result *x)
{
    x->t0 = simul_now();
    x->rc = x->n = x->status = x->redirect = x->retry = x->has_final = 0;
    x->retry_after = -1;
    x->why = NULL;
    x->bytes = 0;
    x->strs.n = 0;
    x->ct_off = 0;
    x->err[0] = '\0';
    x->robots.n = 0;
}

/* Keeps the response's final URL and Content-Type (the response is freed
 * on its own loop, before loop 0 writes the record). */
static void fetched_strs(fetch_result *x, const char *final_url, const char *ct)
{
    x->strs.n = 0;
    x->has_final = final_url && obuf_put(&x->strs, final_url, strlen(final_url) + 1) == 0;
    size_t off = x->strs.n;
    if (ct && obuf_put(&x->strs, ct, strlen(ct) + 1) == 0)
        x->ct_off = off + 1;   /* + 1: 0 means none */
}

static const char *fetched_final(const fetch_result *x)
{
    return x->has_final ? x->strs.p : NULL;
}

static const char *fetched_ct(const fetch_result *x)
{
    return x->ct_off ? x->strs.p + x->ct_off - 1 : NULL;
}

/* A page whose links outgrow PAGE_LINKS_KEEP goes on only with one of its
 * loop's big-page tokens (BIG_PAGES over all loops): memory stays about
 * -c x 1 MiB + BIG_PAGES x the page caps, however many huge pages are in
 * flight (the others wait, their transfers paused). 0, or -ECANCELED. */
static int big_gate(void *arg)
{
    slot *s = arg;
    if (s->big || s->links.arena.n <= PAGE_LINKS_KEEP)
        return 0;
    int rc = simul_sem_acquire(s->fw->big);
    if (rc == 0)
        s->big = 1;
    return rc;
}

static int on_link(void *arg, const simul_link *l)
{
    /* every kind but <base>: <link rel=index|next|search> reach pages too */
    if (l->url)
        page_links_add(&((slot *)arg)->links, l->url,
                       l->kind != SIMUL_LINK_BASE && l->kind != SIMUL_LINK_ATTR, URL_PAGE);
    return 0;
}

/* A sitemap's <loc>: a link of the sitemap (an index's entries are
 * sitemaps themselves). */
static int on_loc(void *arg, const char *url, size_t len, int is_sitemap)
{
    slot *s = arg;
    if (simul_url_parse(&s->loc, url, len, NULL, SIMUL_URL_NORMALIZE) == 0)
        page_links_add(&s->links, &s->loc, 1, is_sitemap ? URL_SITEMAP : URL_PAGE);
    return 0;
}

/* A page's GET (no redirect followed), its body streamed through the
 * link extractor into s->links (or a sitemap's parser), the response
 * freed. 0, or -ECANCELED. */
static int fetch_http(slot *s)
{
    const job *j = s->cur;
    fetcher *fw = s->fw;
    fetch_result *x = &s->x;
    fetched_reset(x);
    simul_http_request_opts ro = { .error = x->err, .error_cap = sizeof x->err,
                                   .max_redirects = SIMUL_HTTP_NO_REDIRECTS };
    simul_http_response *r = NULL;
    page_links_clear(&s->links);
    x->rc = simul_http_get(fw->http, j->url, &ro, &r);
    if (x->rc == -ECANCELED)
        return x->rc;
    if (x->rc < 0)
        return 0;
    x->status = simul_http_response_status(r);
    /* the scopes and options page_redirect reads are set before any fetch */
    if (page_redirect(r, j->url, j->len, j->hops, j->kind, &C.scopes, fw->o, &s->loc,
                      &s->links, &x->why)) {
        /* its record, and its target offered as its one link (page_done) */
        x->redirect = 1;
        fetched_strs(x, s->links.n ? s->loc.href : NULL,
                     simul_http_response_header(r, "Content-Type", 0));
        int n = drain(r, s->buf, &x->bytes, NOPARSE_READ_MAX);   /* keeps the connection */
        simul_http_response_free(r);
        return n == -ECANCELED ? n : 0;
    }
    fetched_strs(x, simul_http_response_url(r),   /* the URL itself: no redirect followed */
                 simul_http_response_header(r, "Content-Type", 0));
    if (retryable_status(x->status) && j->tries < (int)fw->o->retries) {
        x->retry = 1;
        x->retry_after = retry_after(r);
        simul_http_response_free(r);
        return 0;
    }
    const char *ct = fetched_ct(x), *final = fetched_final(x);
    int parse = x->status < 400 && (j->kind == URL_SITEMAP || is_html(ct));
    int n = 0;
    sitemap_parser *sp = NULL;
    if (parse && j->kind == URL_SITEMAP && sitemap_new(&sp, on_loc, s) == 0) {
        while ((n = simul_http_response_read_chunk(r, s->buf, CRAWL_CHUNK)) > 0) {
            x->bytes += (uint64_t)n;
            if (sitemap_feed(sp, s->buf, (size_t)n) != 0) {
                n = drain(r, s->buf, &x->bytes, 0);   /* a broken sitemap: what it gave */
                break;
            }
            if ((n = big_gate(s)) < 0)
                break;
        }
        sitemap_free(sp);
    } else if (parse && j->kind == URL_SITEMAP) {
        n = drain(r, s->buf, &x->bytes, 0);
    } else if (parse) {
        n = read_links(r, s->lx, final ? final : j->url, s->buf, &x->bytes, big_gate, s);
    } else {
        /* not parsed: small bodies are read (the connection stays in the
         * pool), a large one is not downloaded for nothing */
        n = drain(r, s->buf, &x->bytes, NOPARSE_READ_MAX);
    }
    simul_http_response_free(r);
    x->n = n;
    return n == -ECANCELED ? n : 0;
}

/* The host's robots.txt (RFC 9309 2.3.1): its status and body. 0, or
 * -ECANCELED. */
static int robots_http(slot *s)
{
    fetch_result *x = &s->x;
    fetched_reset(x);
    x->robots.max = SIMUL_ROBOTS_MAX_BYTES;
    return robots_get(s->fw->http, s->cur->url, s->buf, &x->robots, &x->status);
}

static int slot_fetch(slot *s)
{
    return s->cur->robots ? robots_http(s) : fetch_http(s);
}

/* ---- a fetch on another loop ----------------------------------------------------------- */

/* On the fetcher's loop (simul_spawn_on from remote_fetch). */
static int remote_task(void *arg)
{
    slot *s = arg;
    if (s->wcancel)   /* remote_cancel came first */
        return -ECANCELED;
    s->wtask = simul_current();
    int rc = slot_fetch(s);
    s->wtask = NULL;
    return rc;
}

/* On the fetcher's loop: cancels remote_task, or stops it before it runs. */
static int remote_cancel(void *arg)
{
    slot *s = arg;
    if (s->wtask)
        simul_cancel(s->wtask);
    else
        s->wcancel = 1;
    return 0;
}

static void remote_done(simul_future *f, void *arg)
{
    (void)f;
    slot *s = arg;
    s->xended = 1;
    simul_event_set(s->xdone);
}

/* Wait (uncancellable) until remote_task has ended. */
static void remote_wait(slot *s)
{
    simul_scope sc;
    simul_scope_enter_shielded(&sc, INFINITY);
    while (!s->xended)
        simul_event_wait(s->xdone);
    simul_scope_exit(&sc);
}

/* slot_fetch on s->fw's loop, awaited here. The spawn_on future is
 * awaited through its done callback, never cancelled: cancelling it would
 * complete it at once, while the task may still be using the slot. A
 * cancel here is passed on with remote_cancel and then the task's end is
 * awaited, so the slot is this loop's again whenever this returns. 0,
 * -ECANCELED, or the hand-off's error (-ENOMEM, -ESHUTDOWN). */
static int remote_fetch(slot *s)
{
    simul_future *f, *k;
    void *v = NULL;
    s->wtask = NULL;
    s->wcancel = 0;
    s->xended = 0;
    simul_event_clear(s->xdone);
    int rc = simul_spawn_on(s->fw->loop, remote_task, s, &f);
    if (rc < 0)
        return rc;
    rc = simul_future_add_done_callback(f, remote_done, s);
    if (rc < 0) {   /* no callback: the future itself, uncancellable */
        simul_scope sc;
        simul_scope_enter_shielded(&sc, INFINITY);
        simul_future_wait(f, NULL);
        simul_scope_exit(&sc);
        simul_future_free(f);
        return rc;
    }
    while (!s->xended && (rc = simul_event_wait(s->xdone)) != -ECANCELED)
        ;
    if (!s->xended) {   /* cancelled here: there too, then its end */
        simul_scope sc;
        simul_scope_enter_shielded(&sc, INFINITY);
        if (simul_spawn_on(s->fw->loop, remote_cancel, s, &k) == 0) {
            simul_future_wait(k, NULL);
            simul_future_free(k);
        }
        simul_scope_exit(&sc);
        remote_wait(s);
        simul_future_free(f);
        return -ECANCELED;
    }
    rc = simul_future_result(f, &v);
    simul_future_free(f);
    return rc < 0 ? rc : (int)(intptr_t)v;
}

/* Gives the slot's big-page token back to its loop. */
static void big_release_cb(void *arg)
{
    simul_sem_release(arg);
}

static void big_release(slot *s)
{
    if (!s->big)
        return;
    s->big = 0;
    if (s->fw->index == 0)
        simul_sem_release(s->fw->big);
    else if (simul_call_soon_threadsafe(s->fw->loop, big_release_cb, s->fw->big) < 0)
        logmsg(LOG_WARN, "a big-page token was lost (%s)", strerror(ENOMEM));
}

/* ---- records (loop 0) -------------------------------------------------------------------- */

/* Sitemap: lines of a robots.txt are seeds: admitted (depth 0) when in
 * scope and new, and read as sitemaps. */
static void robots_sitemaps(const simul_robots *rb)
{
    simul_url u;
    simul_url_init(&u);
    for (size_t i = 0; i < simul_robots_sitemap_count(rb); i++) {
        const char *sm = simul_robots_sitemap_at(rb, i);
        if (simul_url_parse(&u, sm, strlen(sm), NULL, SIMUL_URL_NORMALIZE) != 0 ||
            !in_scope(u.href, u.host_start, u.host_end))
            continue;
        uint64_t hh = crawl_hash(u.href, u.len);
        if (!seen_has(&C.seen, hh) &&
            admit(u.href, u.len, u.auth_end, 0, 0, 0, NULL, hh, URL_SITEMAP) < 0)
            C.fatal = 1;
    }
    simul_url_fini(&u);
}

/* The host's robots.txt rules from what robots_http got. */
static void robots_record(slot *s, job *j)
{
    host *h = j->h;
    obuf *body = &s->x.robots;
    int status = s->x.status;
    simul_robots_verdict v = simul_robots_for_status(status);
    if (v == SIMUL_ROBOTS_DISALLOW_ALL && h->robots_tries < (int)C.o->retries) {
        h->robots_tries++;
        h->robots_state = R_WAIT;
        h->robots_retry_at = simul_now() + C.o->retry_wait * ldexp(1.0, h->robots_tries) *
                             jitter();
        logmsg(LOG_WARN, "%s: unreachable (status %d), retrying later", j->url, status);
        obuf_free(body);
        return;
    }
    simul_robots *rb;
    if (simul_robots_parse_response(status, body->p, body->n, C.o->user_agent, &rb) == 0) {
        h->robots = rb;
        double d = simul_robots_crawl_delay(rb);
        if (d > 0)
            h->delay = fmax(h->delay, fmin(d, C.o->max_crawl_delay));
        if (v == SIMUL_ROBOTS_DISALLOW_ALL) {
            h->robots_gone = 1;   /* unreachable for good: nothing fetched from it */
            logmsg(LOG_WARN, "%s: unreachable (status %d): skipping the host", j->url, status);
        } else {
            store_robots_set(C.st, h->id, status, body->p, body->n);
            if (C.o->sitemaps)
                robots_sitemaps(rb);
        }
    }
    h->robots_state = R_READY;
    obuf_free(body);
}

/* Waits while a commit waits for PostgreSQL (--pg): a page done then would
 * join the store's transaction but not the batch being sent. 0, or
 * -ECANCELED. */
static int commit_gate(void)
{
    while (C.committing) {
        int rc = simul_event_wait(C.committed);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Records the page and frees j; -ECANCELED (j kept: the URL stays queued)
 * if cancelled at the commit gate. */
static int finish_fetch(slot *s, job *j, outcome *oc)
{
    if (commit_gate() < 0)
        return -ECANCELED;
    page_done(s, j, oc);
    job_free(j);
    page_links_trim(&s->links);
    return 0;
}

/* The page's record from what fetch_http found (or a retry later). 0, 1
 * (retried later), or -ECANCELED (at the commit gate). */
static int fetch_record(slot *s, job *j)
{
    const fetch_result *x = &s->x;
    outcome oc = { .t0 = x->t0, .status = x->status, .final_url = fetched_final(x),
                   .content_type = fetched_ct(x), .bytes = x->bytes };
    if (x->redirect) {   /* its record, and its target offered as its one link */
        oc.redirect = 1;
        oc.error = x->why;
        return finish_fetch(s, j, &oc);
    }
    if (x->rc < 0) {
        if (retryable_error(x->rc) && j->tries < (int)C.o->retries) {
            retry_later(j, backoff(j));
            return 1;
        }
        oc.error = crawl_error_kind(x->rc);
        logmsg(LOG_INFO, "%s: %s (%s)", j->url, simul_strerror(x->rc), x->err);
        return finish_fetch(s, j, &oc);
    }
    if (x->retry) {
        double ra = x->retry_after, wait = backoff(j);
        if (ra >= 0) {
            ra = fmin(ra, C.o->max_retry_after);
            wait = fmax(wait, ra);
            /* the server asked the whole host to wait */
            j->h->next_at = fmax(j->h->next_at, simul_now() + ra);
        }
        retry_later(j, wait);
        return 1;
    }
    if (oc.status >= 400)
        oc.error = "http";
    if (x->n < 0) {
        if (retryable_error(x->n) && j->tries < (int)C.o->retries) {
            retry_later(j, backoff(j));
            return 1;
        }
        oc.error = crawl_error_kind(x->n);
        s->links.n = 0;   /* a cut page's links are not its links */
    }
    return finish_fetch(s, j, &oc);
}

/* One fetch: its HTTP part on its loop (here for loop 0: no hand-off),
 * then its record here. */
static int page_task(void *arg)
{
    slot *s = arg;
    job *j = s->j;
    host *h = j->h;
    fetcher *fw = s->fw;
    s->j = NULL;   /* a task cancelled before it ran leaves it to teardown */
    s->cur = j;
    int rc = fw->index ? remote_fetch(s) : slot_fetch(s);
    if (rc < 0 && rc != -ECANCELED) {
        logmsg(LOG_ERROR, "%s: handing the fetch to loop %u: %s", j->url, fw->index,
               simul_strerror(rc));
        C.fatal = 1;
    }
    if (j->robots) {
        if (rc < 0)
            h->robots_state = R_NONE;
        else
            robots_record(s, j);
        obuf_free(&s->x.robots);
        free(j);
    } else if (rc < 0 || fetch_record(s, j) < 0) {
        job_free(j);   /* cancelled: it stays queued in the store */
    }
    s->cur = NULL;
    big_release(s);
    h->inflight--;
    if (h->lin)
        h->lin[fw->index]--;
    fw->inflight--;
    C.inflight--;
    C.ps.inflight = C.inflight;
    s->next_free = C.free_slots;
    C.free_slots = s;
    if (!C.stopping && !C.pg)   /* with --pg only the dispatcher commits */
        maybe_commit();
    simul_event_set(C.kick);
    return 0;
}
/* ---- the dispatcher ------------------------------------------------------------------ */

/* The next fetch to start, or NULL; *wake: when one may become ready. */
static job *take(double now, double *wake)
{
    for (size_t k = 0, n = C.nactive; k < n && C.ring; k++) {
        host *h = C.ring;
        C.ring = h->anext;
        if (h->robots_state == R_WAIT) {
            if (now < h->robots_retry_at) {
                *wake = fmin(*wake, h->robots_retry_at);
                continue;
            }
            h->robots_state = R_NONE;
        }
        if (h->robots_state == R_FETCHING)
            continue;
        if (h->robots_state == R_NONE) {
            if (h->inflight)
                continue;
            char url[SIMUL_URL_MAX + 32];
            int len = snprintf(url, sizeof url, "%s/robots.txt", h->origin);
            job *j = job_new(url, (size_t)len, NULL, 0, 0);
            if (!j)
                return NULL;
            j->robots = 1;
            j->h = h;
            h->robots_state = R_FETCHING;
            h->inflight++;
            h->next_at = now + h->delay;
            return j;
        }
        unsigned cap = h->delay > 0 ? 1 : C.o->per_host;
        if (h->inflight >= cap)
            continue;
        if (now < h->next_at) {
            *wake = fmin(*wake, h->next_at);
            continue;
        }
        for (;;) {
            job *j = NULL;
            if (h->retry && h->retry->not_before <= now) {
                j = h->retry;
                h->retry = j->next;
            } else {
                if (!h->qhead && h->spilled)
                    refill(h);
                if (h->qhead) {
                    j = h->qhead;
                    h->qhead = j->next;
                    if (!h->qhead)
                        h->qtail = NULL;
                    h->qlen--;
                }
            }
            if (!j) {
                if (h->retry)
                    *wake = fmin(*wake, h->retry->not_before);
                else if (!has_work(h))
                    ring_del(h);
                break;
            }
            j->next = NULL;
            if (h->robots_gone) {
                robots_blocked(j, "robots_unreachable");
                job_free(j);
                continue;
            }
            if (h->robots) {
                simul_url u;
                simul_url_init(&u);
                int allowed = simul_url_parse(&u, j->url, j->len, NULL, 0) != 0 ||
                              robots_allows(h->robots, &u);
                simul_url_fini(&u);
                if (!allowed) {
                    robots_blocked(j, "robots");
                    job_free(j);
                    continue;
                }
            }
            h->inflight++;
            h->next_at = now + h->delay;
            return j;
        }
    }
    return NULL;
}

/* Loop i's share of a host limit `cap`: in proportion to the loops'
 * weights, the shares adding up to cap (the remainder one each to loops
 * of some weight, from loop r on: r is chosen by the host). */
static unsigned fw_share(unsigned cap, unsigned i, unsigned r)
{
    unsigned n = C.nfw, given = 0, before = 0;
    if (!C.fw[i].weight)
        return 0;
    for (unsigned k = 0; k < n; k++)
        given += cap * C.fw[k].weight / C.wsum;
    for (unsigned k = r; k != i; k = (k + 1) % n)
        before += C.fw[k].weight > 0;
    return cap * C.fw[i].weight / C.wsum + (before < cap - given);
}

/* The loop that fetches for h next (--loops N). Each loop has a fixed
 * share of the host's limit (--per-host, 1 with a delay), so that the
 * connections the loops' sessions keep open to h together stay within
 * it; among the loops with room, the one that was handed the fewest
 * fetches for its weight. take() keeps h's fetches under its limit, so
 * one has room. */
static fetcher *pick_fetcher(const host *h)
{
    if (C.nfw == 1)
        return &C.fw[0];
    unsigned n = C.nfw, cap = h->delay > 0 ? 1 : C.o->per_host, r = (unsigned)(h->id % n);
    fetcher *best = NULL;
    for (unsigned i = 0; i < n; i++)
        if (h->lin[i] < fw_share(cap, i, r) &&
            (!best || C.fw[i].fetches * best->weight < best->fetches * C.fw[i].weight))
            best = &C.fw[i];
    return best ? best : &C.fw[0];
}

static int signal_task(void *arg)
{
    simul_signal *sg = arg;
    int n = 0;
    while (simul_signal_wait(sg) > 0) {
        if (n++) {   /* a second signal: the state is consistent at any moment */
            progress_clear();
            _exit(130);
        }
        C.stopping = 1;
        logmsg(LOG_WARN, "interrupted: stopping (the state is saved; run again to continue)");
        simul_event_set(C.kick);
    }
    return 0;
}

static int dispatch(void)
{
    simul_group g;
    int rc = simul_group_enter(&g);
    if (rc < 0)
        return rc;
    while (!C.stopping && !C.fatal) {
        double now = simul_now();
        progress_tick(&C.ps, now, 0);
        maybe_commit();
        double wake = INFINITY;
        job *j = C.free_slots ? take(now, &wake) : NULL;
        if (j) {
            slot *s = C.free_slots;
            C.free_slots = s->next_free;
            s->j = j;
            s->fw = pick_fetcher(j->h);
            s->fw->inflight++;
            s->fw->fetches++;
            if (j->h->lin)
                j->h->lin[s->fw->index]++;
            C.inflight++;
            C.ps.inflight = C.inflight;
            simul_task_opts to = { .stack_size = 128 * 1024 };
            if (!simul_group_spawn_opts(&g, page_task, s, &to)) {
                logmsg(LOG_ERROR, "spawn: %s", strerror(errno));
                C.fatal = 1;
                break;
            }
            continue;
        }
        if (C.inflight == 0 && C.nactive == 0)
            break;
        double until = fmin(wake, now + (C.o->commit_interval > 0.1 ? 0.1 : C.o->commit_interval));
        simul_event_clear(C.kick);
        rc = simul_event_wait_until(C.kick, until);
        if (rc == -ECANCELED)
            break;
    }
    if (C.stopping || C.fatal)
        simul_group_cancel(&g);
    rc = simul_group_exit(&g);
    return rc == -ECANCELED ? 0 : rc;
}

/* ---- setup, resume, finish ----------------------------------------------------------- */

static int scan_row(void *arg, const store_url *u)
{
    (void)arg;
    size_t len = strlen(u->url);
    int rc = seen_offer(&C.seen, crawl_hash(u->url, len), CRAWL_RANK(u->depth, u->hops));
    if (rc < 0)
        return rc;
    C.admitted++;
    const char *q = memchr(u->url, '?', len);
    if (q && C.o->max_query)
        count_inc(&C.queries, crawl_hash(u->url, (size_t)(q - u->url)), 0);
    return 0;
}

typedef struct host_scan {
    int64_t id;
} host_scan;

static int host_row(void *arg, int64_t id, const char *origin)
{
    (void)arg;
    size_t len = strlen(origin);
    host *h = host_new(id, origin, len, crawl_hash(origin, len));
    if (!h)
        return -ENOMEM;
    h->spilled = 1;      /* its queued rows (if any) come from the store */
    ring_add(h);
    return 0;
}

static int count_host_row(void *arg, const store_url *u)
{
    (void)arg;
    /* hosts were all loaded first; find by id through the origin map */
    for (size_t i = 0; i < C.nhbucket; i++)
        for (host *h = C.hbucket[i]; h; h = h->hnext)
            if (h->id == u->host) {
                h->admitted++;
                return 0;
            }
    return 0;
}

/* Truncates path to the committed length (the resume) and opens it for
 * appending (and reading: a done page's lines are read back when a
 * shorter path to it is found, drain_reoffers). */
static FILE *open_output(const char *path, int64_t len, int fresh)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | (fresh ? O_TRUNC : 0), 0644);
    if (fd < 0)
        return NULL;
    struct stat sb;
    if (!fresh && (fstat(fd, &sb) != 0 || sb.st_size < len)) {
        /* shorter than committed: the data was lost (a power loss with
         * --no-fsync); resuming would leave a hole */
        logmsg(LOG_ERROR, "%s: shorter than the saved state says (%lld < %lld bytes):"
               " cannot resume this job", path, (long long)sb.st_size, (long long)len);
        close(fd);
        errno = EIO;
        return NULL;
    }
    if (!fresh && ftruncate(fd, len) != 0) {
        close(fd);
        return NULL;
    }
    if (lseek(fd, 0, SEEK_END) < 0) {
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "w");
    if (!f) {
        close(fd);
        return NULL;
    }
    out_buffer(f);
    return f;
}


/* A seed whose path ends in .xml or .xml.gz is a sitemap. */
static int seed_kind(const simul_url *u)
{
    size_t n;
    const char *p = simul_url_part(u, SIMUL_URL_PATH, &n);
    if ((n >= 4 && !memcmp(p + n - 4, ".xml", 4)) || (n >= 7 && !memcmp(p + n - 7, ".xml.gz", 7)))
        return URL_SITEMAP;
    return URL_PAGE;
}

static int seeds(void)
{
    simul_url u;
    simul_url_init(&u);
    int rc = 0, good = 0;
    for (size_t i = 0; i < C.o->nseeds && rc >= 0; i++) {
        rc = seed_add(&C.scopes, C.o, C.o->seeds[i], &u);
        if (rc == -EINVAL) {   /* skipped */
            rc = 0;
            continue;
        }
        good++;
        uint64_t h = crawl_hash(u.href, u.len);
        if (rc == 0 && !seen_has(&C.seen, h))
            rc = admit(u.href, u.len, u.auth_end, 0, 0, 0, NULL, h, seed_kind(&u));
    }
    simul_url_fini(&u);
    if (rc == 0 && !good)
        rc = -EINVAL;
    return rc;
}

static void hist_print(void *arg, const char *key, uint64_t n)
{
    obuf *b = arg;
    obuf_printf(b, "%s%s %llu", b->n ? ", " : "", key, (unsigned long long)n);
}

static void hist_json(void *arg, const char *key, uint64_t n)
{
    obuf *b = arg;
    if (b->p[b->n - 1] != '{')
        obuf_put(b, ",", 1);
    obuf_json_str(b, key, strlen(key));
    obuf_printf(b, ":%llu", (unsigned long long)n);
}

/* The summary from the store: summary.json (if write) and stderr. */
static int summary(int write, int status)
{
    store_totals t;
    int64_t us = 0;
    store_meta_get_int(C.st, "elapsed_us", &us);
    double el = (double)us / 1e6;
    int rc = store_totals_get(C.st, &t);
    if (rc < 0)
        return rc;
    obuf st = { 0 }, er = { 0 }, js = { 0 };
    store_status_hist(C.st, hist_print, &st);
    store_error_hist(C.st, hist_print, &er);
    obuf_printf(&js, "{\"urls\":%llu,\"pages\":%llu,\"fetched\":%llu,\"errors\":%llu,"
                     "\"robots_blocked\":%llu,\"bytes\":%llu,\"elapsed_s\":%.3f,"
                     "\"pages_per_s\":%.1f,\"hosts\":%zu,\"exit\":%d,\"status\":{",
                (unsigned long long)t.urls, (unsigned long long)t.done,
                (unsigned long long)t.fetched, (unsigned long long)t.errors,
                (unsigned long long)t.robots, (unsigned long long)t.bytes, el,
                el > 0 ? (double)t.done / el : 0.0, C.nhosts, status);
    store_status_hist(C.st, hist_json, &js);
    obuf_puts(&js, "},\"error_kinds\":{");
    store_error_hist(C.st, hist_json, &js);
    obuf_puts(&js, "}}\n");
    if (write) {
        char *p = path_in(C.o->dir, "summary.json");
        rc = p ? out_file_replace(p, js.p, js.n) : -ENOMEM;
        free(p);
    }
    if (!C.o->quiet) {
        progress_clear();
        fprintf(stderr,
                "simul-crawl: %llu pages (%llu fetched, %llu errors, %llu blocked by robots.txt),"
                " %.1f MB in %.2f s, %.0f pages/s, %zu hosts\n",
                (unsigned long long)t.done, (unsigned long long)t.fetched,
                (unsigned long long)t.errors, (unsigned long long)t.robots,
                (double)t.bytes / 1e6, el, el > 0 ? (double)t.done / el : 0.0, C.nhosts);
        fprintf(stderr, "simul-crawl: status: %.*s\n", (int)st.n, st.n ? st.p : "none");
        fprintf(stderr, "simul-crawl: errors: %.*s\n", (int)er.n, er.n ? er.p : "none");
    }
    obuf_free(&st);
    obuf_free(&er);
    obuf_free(&js);
    return rc;
}

/* The records finish patches: the JSON form of their URLs (by hash) and
 * their new depth and parent fields. */
typedef struct relabel_ent {
    uint64_t h;
    size_t   off, len;           /* the fields, in relabels.arena */
} relabel_ent;

typedef struct relabels {
    relabel_ent *e;
    size_t       n, cap;
    obuf         arena, key;
} relabels;

static int relabel_row(void *arg, const char *url, int depth, const char *parent)
{
    relabels *m = arg;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        relabel_ent *e = realloc(m->e, cap * sizeof *e);
        if (!e)
            return -ENOMEM;
        m->e = e;
        m->cap = cap;
    }
    m->key.n = 0;
    int rc = C.pg ? pgsink_relabel(C.pg, url, depth, parent) : 0;   /* the next commit's */
    rc = rc ? rc : obuf_json_str(&m->key, url, strlen(url));
    size_t off = m->arena.n;
    rc = rc ? rc : out_page_label(&m->arena, depth, parent);
    if (rc < 0)
        return rc;
    m->e[m->n++] = (relabel_ent){ crawl_hash(m->key.p, m->key.n), off, m->arena.n - off };
    return 0;
}

static int relabel_cmp(const void *a, const void *b)
{
    uint64_t x = ((const relabel_ent *)a)->h, y = ((const relabel_ent *)b)->h;
    return x < y ? -1 : x > y;
}

static int relabel_fix(void *arg, const char *url, size_t n, obuf *repl)
{
    relabels *m = arg;
    relabel_ent k = { .h = crawl_hash(url, n) };
    const relabel_ent *e = bsearch(&k, m->e, m->n, sizeof *e, relabel_cmp);
    return e ? (obuf_put(repl, m->arena.p + e->off, e->len) == 0 ? 1 : 0) : 0;
}

/* The records written before a shorter path lowered their depth get the
 * final depth and parent: pages.jsonl is rewritten (pages.jsonl.new) with
 * them, its length committed as pages_patched, then renamed over; a crash
 * between the commit and the rename is finished by the next run (run_job),
 * one before the commit redone. 0 or <0. */
static int patch_pages(void)
{
    relabels m = { .arena = { .max = (size_t)1 << 30 }, .key = { .max = 1 << 20 } };
    int rc = store_relabeled(C.st, relabel_row, &m);
    char *nw = NULL;
    int64_t len = 0;
    if (rc == 0 && m.n) {
        qsort(m.e, m.n, sizeof *m.e, relabel_cmp);
        nw = path_in(C.o->dir, "pages.jsonl.new");
        rc = !nw ? -ENOMEM : fflush(C.pages) != 0 ? -errno : 0;
        if (rc == 0)
            rc = out_pages_patch(C.pages_path, nw, relabel_fix, &m, C.o->fsync, &len);
        if (rc == 0)
            rc = store_meta_set_int(C.st, "pages_patched", len);
        if (rc == 0)
            rc = commit(1);
        if (rc == 0 && rename(nw, C.pages_path) != 0)
            rc = -errno;
        if (rc == 0) {
            out_close(C.pages);
            if (!(C.pages = open_output(C.pages_path, len, 0)))
                rc = -errno;
        }
        if (rc == 0)
            logmsg(LOG_INFO, "%zu records written before a shorter path was found: depth and"
                   " parent patched", m.n);
    }
    free(nw);
    free(m.e);
    obuf_free(&m.arena);
    obuf_free(&m.key);
    return rc;
}

static int fetched_row(void *arg, const char *url, size_t len)
{
    return seen_add(arg, crawl_hash(url, len)) < 0 ? -ENOMEM : 0;
}

static int finish(void)
{
    int rc = commit(1);
    if (rc == 0)
        rc = patch_pages();
    if (rc < 0) {
        logmsg(LOG_ERROR, "finishing: %s", simul_strerror(rc));
        return 3;
    }
    if (C.lowered)
        logmsg(LOG_INFO, "%llu URLs found again by a shorter path (%llu of them done: their "
               "links offered again)", (unsigned long long)C.lowered,
               (unsigned long long)C.reoffered);
    store_totals t;
    rc = store_totals_get(C.st, &t);
    int status = rc == 0 && t.errors ? 1 : 0;
    seen_set fetched;
    seen_init(&fetched, 0);
    if (rc == 0)
        rc = store_fetched(C.st, fetched_row, &fetched);
    char *graph = path_in(C.o->dir, "graph.tsv");
    if (rc == 0)
        rc = graph ? out_graph(C.found_path, graph, &fetched) : -ENOMEM;
    free(graph);
    seen_fini(&fetched);
    /* the derived files first (each replaced whole, by a rename), then the
     * finished mark: a crash in between only makes the next run redo this */
    if (rc == 0)
        rc = summary(1, status);
    if (rc == 0)
        rc = store_meta_set_int(C.st, "finished", 1);
    if (rc == 0)
        rc = store_meta_set_int(C.st, "exit", status);
    if (rc == 0)
        rc = store_meta_set_int(C.st, "pages_patched", 0);
    if (rc == 0)
        rc = commit(1);
    if (rc < 0) {
        logmsg(LOG_ERROR, "finishing: %s", simul_strerror(rc));
        return 3;
    }
    return status;
}

/* On the fetcher's loop: its session and big-page tokens. */
static int fetcher_open(void *arg)
{
    fetcher *fw = arg;
    crawl_opts o = *fw->o;
    o.per_host = fw->per_host;
    int rc = crawl_http_session(&o, 0, &fw->http);
    if (rc == 0 && !(fw->big = simul_sem_new(fw->tokens)))
        rc = -ENOMEM;
    return rc;
}

static int fetcher_close(void *arg)
{
    fetcher *fw = arg;
    if (fw->http)
        simul_http_session_free(fw->http);
    if (fw->big)
        simul_sem_free(fw->big);
    fw->http = NULL;
    fw->big = NULL;
    return 0;
}

/* fn(fw) on fw's loop, awaited uncancellably (setup and teardown must
 * finish: the fetcher's objects are that loop's). */
static int fetcher_call(fetcher *fw, simul_fn fn)
{
    if (fw->index == 0)
        return fn(fw);
    simul_future *f;
    void *v = NULL;
    int rc = simul_spawn_on(fw->loop, fn, fw, &f);
    if (rc < 0)
        return rc;
    simul_scope sc;
    simul_scope_enter_shielded(&sc, INFINITY);
    rc = simul_future_wait(f, &v);
    simul_scope_exit(&sc);
    simul_future_free(f);
    return rc;
}

/* A fetcher per loop of the group (--loops N): loop 0's fetches need no
 * hand-off; the other loops' sessions are made on their threads. Loop 0
 * also writes every record, admits the links, commits and takes every
 * other loop's answers: on the mirror crawl with loop 0 fetching nothing
 * that was 15% of the CPU, and a fetch of its own finishes sooner than a
 * handed-over one, so its share is smaller: weight 40 against the others'
 * 100 at 2 loops (measured: CPU time split 50/50 to 54/46 between the
 * two; 58/42 at 70), 10 at 3, none from 4 loops on. Each session's
 * per-host limit is the largest share fw_share gives its loop; BIG_PAGES
 * is shared out (at least one each). */
static int fetchers_open(void)
{
    unsigned n = C.nfw, ph = C.o->per_host;
    int w0 = 100 - 30 * (int)n;
    C.wsum = 0;
    for (unsigned i = 0; i < n; i++) {
        C.fw[i].weight = n == 1 ? 1 : i ? 100 : w0 > 0 ? (unsigned)w0 : 0;
        C.wsum += C.fw[i].weight;
    }
    for (unsigned i = 0; i < n; i++) {
        fetcher *fw = &C.fw[i];
        fw->loop = simul_loop_at((int)i);
        fw->index = i;
        fw->o = C.o;
        fw->per_host = ph * fw->weight / C.wsum + (n > 1);
        if (fw->per_host > ph || !fw->per_host)
            fw->per_host = fw->per_host ? ph : 1;
        fw->tokens = BIG_PAGES / n ? BIG_PAGES / n : 1;
        int rc = fw->loop ? fetcher_call(fw, fetcher_open) : -ESHUTDOWN;
        if (rc < 0) {
            logmsg(LOG_ERROR, "HTTP session (loop %u): %s", i, simul_strerror(rc));
            return rc;
        }
    }
    return 0;
}

static void fetchers_close(void)
{
    for (unsigned i = 0; C.fw && i < C.nfw; i++) {
        if (C.nfw > 1)
            logmsg(LOG_INFO, "loop %u: %llu fetches", i, (unsigned long long)C.fw[i].fetches);
        if (C.fw[i].http || C.fw[i].big)
            fetcher_call(&C.fw[i], fetcher_close);
    }
    free(C.fw);
    C.fw = NULL;
}

static int setup_slots(void)
{
    C.slots = calloc(C.o->concurrency, sizeof *C.slots);
    if (!C.slots)
        return -ENOMEM;
    for (unsigned i = 0; i < C.o->concurrency; i++) {
        slot *s = &C.slots[i];
        s->buf = malloc(CRAWL_CHUNK);
        page_links_init(&s->links);
        simul_url_init(&s->loc);
        s->x.strs.max = 2 * SIMUL_URL_MAX + 65536;   /* a URL, a header */
        s->x.robots.max = SIMUL_ROBOTS_MAX_BYTES;
        if (!s->buf || (C.nfw > 1 && !(s->xdone = simul_event_new())))
            return -ENOMEM;
        int rc = simul_links_new(&s->lx, "http://x/", 9, SIMUL_URL_NORMALIZE, on_link, s);
        if (rc < 0)
            return rc;
        s->next_free = C.free_slots;
        C.free_slots = s;
    }
    return 0;
}

static void teardown(void)
{
    for (unsigned i = 0; C.slots && i < C.o->concurrency; i++) {
        job_free(C.slots[i].j);
        simul_links_free(C.slots[i].lx);
        free(C.slots[i].buf);
        page_links_fini(&C.slots[i].links);
        simul_url_fini(&C.slots[i].loc);
        obuf_free(&C.slots[i].x.strs);
        obuf_free(&C.slots[i].x.robots);
        if (C.slots[i].xdone)
            simul_event_free(C.slots[i].xdone);
    }
    free(C.slots);
    fetchers_close();
    for (size_t i = 0; i < C.nhbucket; i++)
        for (host *h = C.hbucket[i], *nx; h; h = nx) {
            nx = h->hnext;
            for (job *j = h->qhead, *jn; j; j = jn) {
                jn = j->next;
                job_free(j);
            }
            for (job *j = h->retry, *jn; j; j = jn) {
                jn = j->next;
                job_free(j);
            }
            simul_robots_free(h->robots);
            free(h->lin);
            free(h->origin);
            free(h);
        }
    free(C.hbucket);
    scopes_free(&C.scopes);
    seen_fini(&C.seen);
    free(C.queries.key);
    free(C.queries.val);
    obuf_free(&C.line);
    obuf_free(&C.lflags);
    page_links_fini(&C.relinks);
    simul_url_fini(&C.ru);
    for (reoffer *w = C.reoffers, *nx; w; w = nx) {
        nx = w->next;
        free(w);
    }
    if (C.found)
        out_close(C.found);
    if (C.pages)
        out_close(C.pages);
    free(C.found_path);
    free(C.pages_path);
    if (C.kick)
        simul_event_free(C.kick);
    if (C.committed)
        simul_event_free(C.committed);
    if (C.pg) {
        const pgsink_stats *ps = pgsink_stats_get(C.pg);
        logmsg(LOG_INFO, "PostgreSQL: %llu pages and %llu links in %llu commits (%llu parts "
               "sent before them), %.2f s sending (%.0f rows/s), the crawl paused %.2f s; "
               "connection lost %llu times", (unsigned long long)ps->pages,
               (unsigned long long)ps->links, (unsigned long long)ps->batches,
               (unsigned long long)ps->parts, ps->seconds,
               ps->seconds > 0 ? (double)(ps->pages + ps->links) / ps->seconds : 0.0,
               ps->paused, (unsigned long long)ps->lost);
        pgsink_close(C.pg);
    }
    store_close(C.st);
}

static int run_job(const crawl_opts *o);

int crawl_run(const crawl_opts *o)
{
    memset(&C, 0, sizeof C);
    C.o = o;
    /* --loops N: main.c runs this on loop 0 of a group; the others fetch */
    C.nfw = (unsigned)simul_loop_count();
    C.run_start = C.last_commit = simul_now();
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    seen_init_ranked(&C.seen, SEEN_MAX);
    C.reoffer_tail = &C.reoffers;
    C.lflags.max = PAGE_LINKS_MAX;
    page_links_init(&C.relinks);
    simul_url_init(&C.ru);
    C.queries.max = 1u << 26;
    C.line.max = 1u << 20;   /* one pages.jsonl record: three URLs, escaped */

    if (mkdir(o->dir, 0755) != 0 && errno != EEXIST) {
        logmsg(LOG_ERROR, "%s: %s", o->dir, strerror(errno));
        return 3;
    }
    /* one crawler per job directory: two would append to the same files */
    char *lock = path_in(o->dir, "lock");
    int lockfd = lock ? open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : -1;
    free(lock);
    if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
        logmsg(LOG_ERROR, "%s: %s", o->dir, errno == EWOULDBLOCK ?
               "another simul-crawl is working on this job" : strerror(errno));
        if (lockfd >= 0)
            close(lockfd);
        return 3;
    }
    int status = run_job(o);
    close(lockfd);
    return status;
}

/* --pg: the sink connected and its tables made; a job begun without --pg
 * cannot continue with it (its pages so far are not in the tables).
 * 0, or the exit status. */
static int pg_setup(const crawl_opts *o, int fresh)
{
    int64_t v = 0;
    if (!fresh && (store_meta_get_int(C.st, "pg", &v) != 1 || !v)) {
        logmsg(LOG_ERROR, "%s: this job was begun without --pg: its pages so far would be "
               "missing from the tables (crawl into a new -o DIR)", o->dir);
        return 2;
    }
    if (fresh && store_meta_set_int(C.st, "pg", 1) < 0)
        return 3;
    if (!(C.committed = simul_event_new()))
        return 3;
    int rc = pgsink_open(o->pg, o->pg_schema, o->pg_timeout, &C.pg);
    return rc == 0 ? 0 : rc == SIMUL_PG_ECONNINFO ? 2 : 3;
}

/* The job, with its directory locked. */
static int run_job(const crawl_opts *o)
{
    int status = 3, rc;
    char *db = path_in(o->dir, "state.db");
    C.found_path = path_in(o->dir, "foundurls.tsv");
    C.pages_path = path_in(o->dir, "pages.jsonl");
    C.fw = calloc(C.nfw, sizeof *C.fw);
    if (!db || !C.found_path || !C.pages_path || !C.fw) {
        free(db);
        teardown();
        return 3;
    }
    rc = store_open(db, &C.st);
    free(db);
    if (rc < 0) {
        logmsg(LOG_ERROR, "%s/state.db: %s", o->dir, store_errmsg(C.st));
        teardown();
        return 3;
    }
    int64_t finished = 0, found_len = -1, pages_len = -1, ex = 0, us = 0;
    store_meta_get_int(C.st, "finished", &finished);
    if (finished) {
        store_meta_get_int(C.st, "exit", &ex);
        logmsg(LOG_WARN, "%s: this crawl already finished (exit status %d); nothing to do",
               o->dir, (int)ex);
        summary(0, (int)ex);
        teardown();
        return (int)ex;
    }
    int fresh = store_meta_get_int(C.st, "found_len", &found_len) != 1 ||
                store_meta_get_int(C.st, "pages_len", &pages_len) != 1;
    store_meta_get_int(C.st, "elapsed_us", &us);
    C.elapsed_base = (double)us / 1e6;
    /* finish's patch of pages.jsonl (patch_pages): committed but not
     * renamed yet - the renamed file is the committed one - or not
     * committed (its file is dropped: the next finish writes it again) */
    int64_t patched = 0;
    char *nw = path_in(o->dir, "pages.jsonl.new");
    if (!fresh && store_meta_get_int(C.st, "pages_patched", &patched) == 1 && patched > 0) {
        if (nw && rename(nw, C.pages_path) != 0 && errno != ENOENT)
            patched = -1;
        pages_len = patched;
    } else if (nw) {
        unlink(nw);
    }
    free(nw);
    if (patched < 0) {
        logmsg(LOG_ERROR, "%s: %s", C.pages_path, strerror(errno));
        teardown();
        return 3;
    }
    C.found = open_output(C.found_path, found_len, fresh);
    C.pages = open_output(C.pages_path, pages_len, fresh);
    if (!C.found || !C.pages) {
        logmsg(LOG_ERROR, "%s: %s", o->dir, strerror(errno));
        teardown();
        return 3;
    }
    if (fresh)
        fputs("source_url\tparsed_url\n", C.found);
    C.found_pos = ftello(C.found);
    if (o->pg && (rc = pg_setup(o, fresh)) != 0) {
        teardown();
        return rc;
    }
    /* the patch's length is pages_len from the first commit on */
    if ((rc = store_begin(C.st)) < 0 ||
        (patched && (rc = store_meta_set_int(C.st, "pages_patched", 0)) < 0) ||
        (rc = setup_slots()) < 0 || !(C.kick = simul_event_new())) {
        logmsg(LOG_ERROR, "setup: %s", simul_strerror(rc ? rc : -ENOMEM));
        teardown();
        return 3;
    }
    if (fetchers_open() < 0) {
        teardown();
        return 3;
    }
    /* resume: the dedup set, the hosts and their counts from the store */
    if (!fresh) {
        rc = store_hosts(C.st, host_row, NULL);
        if (rc == 0)
            rc = store_scan(C.st, scan_row, NULL);
        if (rc == 0 && o->max_host_pages)
            rc = store_scan(C.st, count_host_row, NULL);
        store_totals t;
        if (rc == 0 && (rc = store_totals_get(C.st, &t)) == 0) {
            C.ps.done = t.done;
            C.ps.queued = t.queued;
            C.ps.errors = t.errors;
            C.ps.bytes = t.bytes;
            logmsg(LOG_INFO, "resuming: %llu URLs done, %llu queued",
                   (unsigned long long)t.done, (unsigned long long)t.queued);
        }
        if (rc < 0) {
            logmsg(LOG_ERROR, "resume: %s (%s)", simul_strerror(rc), store_errmsg(C.st));
            teardown();
            return 3;
        }
    }
    rc = seeds();
    if (rc < 0) {
        logmsg(LOG_ERROR, "seeds: %s", rc == -EINVAL ? "no valid seed URL" : simul_strerror(rc));
        teardown();
        return 2;
    }
    commit(1);

    simul_signal *sg = NULL;
    simul_task *sigt = NULL;
    static const int sigs[] = { SIGINT, SIGTERM };
    if (simul_signal_open(sigs, 2, &sg) == 0)
        sigt = simul_spawn(signal_task, sg);

    rc = dispatch();
    if (sigt) {
        simul_cancel(sigt);
        simul_join(sigt);
    }
    if (sg)
        simul_signal_close(sg);
    progress_tick(&C.ps, simul_now(), 1);
    if (rc < 0 && !C.fatal) {
        logmsg(LOG_ERROR, "crawl: %s", simul_strerror(rc));
        C.fatal = 1;
    }
    if (C.fatal) {
        store_close(C.st);   /* what was not committed is rolled back */
        C.st = NULL;
        status = C.stopping ? 130 : 3;
    } else if (C.stopping) {
        commit(0);
        summary(0, 130);
        status = 130;
    } else {
        status = finish();
    }
    teardown();
    return status;
}
