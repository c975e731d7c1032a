/*
 * crawl.h - simul-crawl's pieces and how they fit (internal to the tool).
 *
 * main.c parses the command line into a crawl_opts and runs crawl_run on
 * a simul loop (loop 0 of --loops N; the others fetch for it). crawl.c is the frontier and the scheduler: hosts with
 * their queues (a bounded window in RAM, the rest in the store), robots.txt,
 * politeness, one task per fetch. seen.c is the dedup set (64-bit hashes of
 * normalised URLs). store.c is the resume state (SQLite, WAL, batched
 * transactions). out.c writes foundurls.tsv, pages.jsonl, graph.tsv and
 * the summary. rules.c is the scope and the filters, fetch.c the page's
 * fetch (its link set, a redirect answer, robots.txt), both shared with
 * the shared crawl, dist.c. progress.c is what a person watching sees: log lines, the
 * progress line, the final summary. sitemap.c reads sitemap XML. pgsink.c
 * (--pg) copies pages and links into PostgreSQL tables at each commit.
 */
#ifndef CRAWL_H
#define CRAWL_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <simul/url.h>

#define CRAWL_VERSION "0.1.0"

/* ---- options (main.c) ------------------------------------------------------ */

enum { SCOPE_HOST, SCOPE_DOMAIN, SCOPE_PREFIX };

typedef struct crawl_opts {
    const char  *dir;             /* -o: the job directory */
    char       **seeds;           /* SEED_URL... and -i FILE lines (owned by main) */
    size_t       nseeds;
    unsigned     concurrency;     /* -c */
    unsigned     per_host;        /* --per-host */
    double       delay;           /* --delay (seconds, per host) */
    long         depth;           /* --depth; -1 unlimited */
    uint64_t     max_pages;       /* --max-pages; 0 unlimited */
    uint64_t     max_host_pages;  /* --max-host-pages; 0 unlimited */
    unsigned     max_query;       /* --max-query-variants per host+path */
    size_t       max_url_len;     /* --max-url-length */
    size_t       max_size;        /* --max-size: page body cap (bytes) */
    unsigned     retries;         /* --retries */
    double       retry_wait;      /* --retry-wait: first backoff (seconds) */
    double       max_retry_after; /* --max-retry-after: Retry-After cap */
    double       max_crawl_delay; /* --max-crawl-delay: robots Crawl-delay cap */
    double       timeout;         /* --timeout: total per request */
    double       connect_timeout; /* --connect-timeout */
    double       read_timeout;    /* --read-timeout */
    int          scope;           /* --scope */
    regex_t     *include, *exclude;  /* --include / --exclude (ERE) */
    size_t       ninclude, nexclude;
    int          robots;          /* 0 with --no-robots */
    int          sitemaps;        /* 0 with --no-sitemaps */
    const char  *user_agent;      /* --user-agent */
    const char  *ca_file;         /* --ca-file */
    int          insecure;        /* --insecure */
    int          quiet;           /* -q */
    int          verbose;         /* -v (count) */
    int          fsync;           /* 0 with --no-fsync */
    double       commit_interval; /* seconds between commits */
    /* the shared crawl (dist.c) */
    const char  *redis;           /* --redis URL: NULL for a single-process crawl */
    const char  *job;             /* --job NAME */
    const char  *export_dir;      /* --export DIR: write the job's outputs there */
    double       lease;           /* --lease S: a lease not renewed for S expires */
    double       redis_wait;      /* --redis-wait S: how long Redis may be away */
    unsigned     loops;           /* --loops N: workers (loops on threads) in this process */
    const char  *pg;              /* --pg CONNINFO, or NULL */
    const char  *pg_schema;       /* --pg-schema (an identifier) */
    double       pg_timeout;      /* --pg-timeout: retrying a lost server (seconds) */
} crawl_opts;

/* Runs the whole job (called inside simul_run). Returns the exit status:
 * 0, 1 (page errors), 130 (interrupted), or 3 on a fatal error. */
int crawl_run(const crawl_opts *o);

/* The shared crawl (o->redis and o->job set): one worker of job o->job,
 * until no URL is queued or leased anywhere; with o->export_dir, writes
 * the job's outputs there instead. Called inside simul_run. Returns 0, 1
 * (an export with page errors), 2 (bad seeds or URL), 3 (Redis away
 * longer than o->redis_wait, a fatal error, an unfinished job to export).
 * May run on several loops at once (its state is per thread). */
int dist_run(const crawl_opts *o);

/* ---- scope and filters (rules.c) ------------------------------------------ */

/* The scopes the seeds give: hosts, domains (without "www.") or URL
 * prefixes, as --scope says. */
typedef struct crawl_scopes {
    char  **s;
    size_t  n;
} crawl_scopes;

/* Adds the scope of seed u (once): 0 or -ENOMEM. */
int  scopes_add(crawl_scopes *sc, int scope, const simul_url *u);
/* Parses seed into u (normalised) and adds its scope: 0, -ENOMEM, or
 * -EINVAL (logged) when it is no http(s) URL - the seed is skipped. */
int  seed_add(crawl_scopes *sc, const crawl_opts *o, const char *seed, simul_url *u);
void scopes_free(crawl_scopes *sc);
/* 1 if url (host at [host_start, host_end)) is inside one of the scopes. */
int  scopes_match(const crawl_scopes *sc, int scope, const char *url, size_t host_start,
                  size_t host_end);
/* 1 if url passes --exclude (none matches) and --include (one matches, if any). */
int  filters_pass(const crawl_opts *o, const char *url);

/* ---- hashing and the dedup set (seen.c) ----------------------------------- */

/* A 64-bit hash of p[0, n): 8 bytes a step, 128-bit multiply folding. */
uint64_t crawl_hash(const void *p, size_t n);

/* A set of 64-bit hashes (open addressing, linear probing): 8 bytes per
 * slot, at most 3/4 full, grows by doubling up to max entries. A ranked
 * set keeps a 16-bit rank beside each hash (2 bytes more per slot): the
 * crawl's shortest distance to the URL, CRAWL_RANK(depth, hops). */
typedef struct seen_set {
    uint64_t *slot;
    uint16_t *rank;           /* a ranked set's ranks, slot by slot; else NULL */
    size_t    n, mask;        /* entries; slots - 1 (0 when unallocated) */
    size_t    max;            /* cap on entries */
    int       ranked;
} seen_set;

/* The order of (depth, hops) labels as one number: depth first (a click),
 * then the redirects of the chain that led to the URL (hops <= 15); a
 * depth past 4094 saturates (such labels compare equal). */
#define CRAWL_RANK(depth, hops) \
    ((depth) >= 4095 ? 0xffffu : (unsigned)(depth) * 16u + (unsigned)(hops))
#define SEEN_NONE 0x10000u     /* seen_rank of a hash not in the set */

void seen_init(seen_set *s, size_t max);
void seen_init_ranked(seen_set *s, size_t max);
/* A ranked set: adds h with rank (1), lowers the rank of h to rank (2),
 * or leaves h at a rank <= rank (0); -ENOMEM / -E2BIG (at max). */
int  seen_offer(seen_set *s, uint64_t h, unsigned rank);
/* A ranked set: h's rank, or SEEN_NONE. */
unsigned seen_rank(const seen_set *s, uint64_t h);
void seen_fini(seen_set *s);
/* 1 if h was added, 0 if it was there, -ENOMEM / -E2BIG (at max). */
int  seen_add(seen_set *s, uint64_t h);
int  seen_has(const seen_set *s, uint64_t h);
/* Empties the set keeping its memory (the per-page sets). */
void seen_clear(seen_set *s);

/* ---- the store (store.c) --------------------------------------------------- */

typedef struct store store;

/* A row of the url table as the frontier and the summary need it. */
typedef struct store_url {
    int64_t     id, host, parent;
    const char *url, *parent_url;   /* valid until the next store call */
    int         depth, state, status, tries;
    int         kind;               /* URL_PAGE or URL_SITEMAP */
    int         hops;               /* redirects that led to it */
    /* store_url_find only: a done page's lines in foundurls.tsv, and the
     * flags of its links (PAGE_LFLAG_*, one byte each) or NULL if each is
     * followed and no sitemap */
    int64_t     foff, flen;
    const void *lflags;
    size_t      nflags;
} store_url;

enum { URL_PAGE = 0, URL_SITEMAP = 1 };

/* Totals over the url table (the summary and the progress line's start). */
typedef struct store_totals {
    uint64_t urls, done, queued, fetched, errors, robots, bytes;
} store_totals;

int  store_open(const char *path, store **out);   /* creates the schema */
void store_close(store *st);                      /* rolls back what is not committed */
const char *store_errmsg(store *st);
int  store_begin(store *st);
int  store_commit(store *st);
int  store_meta_get(store *st, const char *key, char *val, size_t cap); /* 1 found, 0 not */
int  store_meta_get_int(store *st, const char *key, int64_t *v);        /* 1 found, 0 not */
int  store_meta_set(store *st, const char *key, const char *val);
int  store_meta_set_int(store *st, const char *key, int64_t v);
/* Host rows: id for origin (created if new); robots cache. */
int  store_host(store *st, const char *origin, int64_t *id);
/* robots_get: 1 and a malloc'd copy of the body (caller frees), 0 if not fetched yet. */
int  store_robots_get(store *st, int64_t host, int *status, void **body, size_t *len);
int  store_robots_set(store *st, int64_t host, int status, const void *body, size_t len);
/* URL rows. insert: a new queued URL; done: the outcome of one. */
int  store_url_add(store *st, int64_t host, const char *url, size_t len, int depth,
                   int hops, int64_t parent, int kind, uint64_t hash, int64_t *id);
/* foff, flen: the page's lines in foundurls.tsv; lflags[0, nflags): its
 * links' PAGE_LFLAG_* (nflags 0: each followed, none a sitemap). */
int  store_url_done(store *st, int64_t id, int status, const char *err, uint64_t bytes,
                    int tries, int64_t foff, int64_t flen, const void *lflags, size_t nflags);
/* The row(s) of the URL whose crawl_hash is hash: fn(arg, row). */
int  store_url_find(store *st, uint64_t hash, int (*fn)(void *arg, const store_url *u),
                    void *arg);
/* A shorter path to row id: its depth, hops and parent; a done row is
 * marked relabel (its record says the old depth: store_relabeled). */
int  store_url_lower(store *st, int64_t id, int depth, int hops, int64_t parent);
/* Row id's depth, hops and parent URL (copied to parent, cap bytes; ""
 * for none): 1, 0 if no such row, or <0. */
int  store_url_label(store *st, int64_t id, int *depth, int *hops, char *parent, size_t cap);
/* The done rows lowered after their record was written: fn(arg, url,
 * depth, parent URL or NULL). */
int  store_relabeled(store *st, int (*fn)(void *arg, const char *url, int depth,
                                          const char *parent), void *arg);
/* Every row, in id order: fn(arg, row) (the resume's scan). */
int  store_scan(store *st, int (*fn)(void *arg, const store_url *u), void *arg);
/* Queued rows of host with id > after, in id order, at most limit. */
int  store_queued(store *st, int64_t host, int64_t after, int limit,
                  int (*fn)(void *arg, const store_url *u), void *arg);
/* Every host row's id and origin. */
int  store_hosts(store *st, int (*fn)(void *arg, int64_t id, const char *origin), void *arg);
int  store_totals_get(store *st, store_totals *t);
/* Histograms for the summary: fn(arg, key, count) per status / error kind. */
int  store_status_hist(store *st, void (*fn)(void *arg, const char *key, uint64_t n), void *arg);
int  store_error_hist(store *st, void (*fn)(void *arg, const char *key, uint64_t n), void *arg);
/* Done rows that got an HTTP answer (status > 0): fn(arg, url). */
int  store_fetched(store *st, int (*fn)(void *arg, const char *url, size_t len), void *arg);

/* ---- outputs (out.c) ------------------------------------------------------- */

/* A growable byte buffer with a hard cap. */
typedef struct obuf {
    char  *p;
    size_t n, cap, max;
} obuf;

int  obuf_reserve(obuf *b, size_t more);     /* 0, -ENOMEM, -E2BIG */
int  obuf_put(obuf *b, const void *s, size_t n);
int  obuf_puts(obuf *b, const char *s);
int  obuf_printf(obuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s[0, n) as a JSON string (quotes included); invalid UTF-8 becomes U+FFFD. */
int  obuf_json_str(obuf *b, const char *s, size_t n);
/* Copies the UTF-8 sequence at s[*i] (of s[0, n)) to w, or U+FFFD if the
 * byte there does not start a valid one (overlong forms, surrogates and
 * values past U+10FFFF are invalid); advances *i past what it read and
 * returns w past what it wrote (at most 4 bytes; 3 per byte read). */
char *crawl_utf8_put(char *w, const unsigned char *s, size_t n, size_t *i);
void obuf_free(obuf *b);

/* What pages.jsonl says of one URL. */
typedef struct page_rec {
    const char *url, *final_url, *content_type, *parent, *error;
    int         status, depth, tries;
    uint64_t    bytes, links;
    double      fetch_ms;
} page_rec;

int out_page_json(obuf *b, const page_rec *r);      /* one line, '\n' included */
/* pages.jsonl with some records' depth and parent replaced, written to
 * new_path (fdatasync'ed if sync): fix(arg, url, n, repl) gets each
 * record's url as it is in the line (its JSON string, quotes included)
 * and appends to repl the fields that replace ,"depth":..,"parent":..
 * (out_page_label's) and returns 1, or returns 0 to keep the line.
 * *len: new_path's length. 0, or <0 (new_path removed). */
int out_pages_patch(const char *path, const char *new_path,
                    int (*fix)(void *arg, const char *url, size_t n, obuf *repl), void *arg,
                    int sync, int64_t *len);
/* The depth and parent fields of a record: ,"depth":D,"parent":P. */
int out_page_label(obuf *b, int depth, const char *parent);
/* graph.tsv from foundurls.tsv: the lines whose link is in fetched. The
 * file is written beside (path.tmp) and renamed over graph_path. */
int out_graph(const char *found_path, const char *graph_path, const seen_set *fetched);
/* Gives f a 1 MiB buffer (glibc ignores setvbuf's size without a buffer:
 * 4 KiB means a write(2) per 4 KiB); out_close closes f and frees it. */
void out_buffer(FILE *f);
int  out_close(FILE *f);
/* "dir/name" in a malloc'd string (the caller frees it), or NULL. */
char *path_in(const char *dir, const char *name);
/* Replaces path with buf[0, n) (written to path.tmp, then renamed). */
int out_file_replace(const char *path, const void *buf, size_t n);

/* Error kinds (pages.jsonl "error"): the stable short name of an error
 * of simul_http_get / _read_chunk. */
const char *crawl_error_kind(int err);

/* ---- a page's fetch (fetch.c), shared by crawl.c and dist.c ------------- */

#define CRAWL_CHUNK      65536       /* body bytes per read; the size of a slot's buf */
#define PAGE_LINKS_MAX   100000      /* distinct links kept per page */
#define PAGE_ARENA_MAX   (16u << 20) /* bytes of those links */
#define PAGE_LINKS_KEEP  (1u << 20)  /* a link set's memory above this is freed after the page */
#define NOPARSE_READ_MAX (256u << 10) /* body bytes read of what is not parsed */
#define ROBOTS_REDIRECTS 5           /* RFC 9309 2.3.1.2 */
#define MAX_REDIRECTS    10          /* redirects in a chain (libcurl's default) */

/* One distinct link of a page, in its link set's arena (8-byte aligned
 * records of PAGE_LINK_SIZE(len) bytes each). */
typedef struct page_link {
    uint64_t hash, qhash;        /* qhash: of the URL up to '?', 0 without a query */
    uint32_t len;
    uint16_t host_start, host_end, auth_end;   /* URLs are at most SIMUL_URL_MAX */
    uint8_t  follow, http, kind;  /* kind: URL_SITEMAP for a sitemap index's entries */
    char     url[];
} page_link;

#define PAGE_LINK_SIZE(len) ((sizeof(page_link) + (len) + 1 + 7) & ~(size_t)7)

/* A link's flags as the resume state keeps them (store_url_done's lflags),
 * to offer a done page's links again from foundurls.tsv. */
#define PAGE_LFLAG_FOLLOW  1
#define PAGE_LFLAG_SITEMAP 2

static inline unsigned char page_link_flags(const page_link *l)
{
    return (unsigned char)((l->follow ? PAGE_LFLAG_FOLLOW : 0) |
                           (l->kind == URL_SITEMAP ? PAGE_LFLAG_SITEMAP : 0));
}

/* The records of arena, in order: for (l = first; i < n; l = page_link_next(l)). */
static inline const page_link *page_link_next(const page_link *l)
{
    return (const page_link *)((const char *)l + PAGE_LINK_SIZE(l->len));
}

/* The distinct links of the page being parsed, in the order found; at
 * most PAGE_LINKS_MAX of them and PAGE_ARENA_MAX bytes (the rest dropped). */
typedef struct page_links {
    obuf     arena;              /* page_link records */
    seen_set seen;               /* their hashes */
    size_t   n;
} page_links;

void page_links_init(page_links *pl);
void page_links_fini(page_links *pl);
/* Empties the set for the next page, keeping its memory. */
void page_links_clear(page_links *pl);
/* After a page: frees the memory a page with very many links left (past
 * PAGE_LINKS_KEEP), so -c slots do not each keep the caps' worth. */
void page_links_trim(page_links *pl);
/* Adds u (normalised) if it is not in the set yet and the caps allow;
 * follow: 0 for links not to be followed (<base>, attributes). */
void page_links_add(page_links *pl, const simul_url *u, int follow, int kind);

/* Adds to pl the links of a page's lines of foundurls.tsv ("page\tlink\n"
 * each, lines[0, n)), the i-th with flags[i] (PAGE_LFLAG_*; nflags 0:
 * each followed, none a sitemap); tmp: where each is parsed. A done page's
 * links offered again when a shorter path to it is found. */
void page_links_from_found(page_links *pl, const char *lines, size_t n, const void *flags,
                           size_t nflags, simul_url *tmp);

/* 1 if u's scheme is exactly http or https. */
int url_is_http(const simul_url *u);
static inline const page_link *page_links_first(const page_links *pl)
{
    return (const page_link *)pl->arena.p;
}
/* Appends u's record to arena as it is (no dedup, no count cap): 0, or
 * obuf_reserve's error. */
int  page_link_put(obuf *arena, const simul_url *u, uint64_t hash, int follow, int kind);

struct simul_http_response;
struct simul_http_session;
struct simul_http_request_opts;
struct simul_robots;

/* 1 for the transport errors and the statuses (408, 429, 5xx) retried. */
int retryable_error(int err);
int retryable_status(int status);
/* Retry-After (RFC 9110 10.2.3): delay-seconds or an HTTP-date, in
 * seconds from now; -1 if none. */
double retry_after(struct simul_http_response *r);
/* 1 if the Content-Type is parsed for links (text/html, XHTML). */
int is_html(const char *ct);
/* Reads r's body to its end, or limit bytes (0: no limit) into buf
 * (CRAWL_CHUNK), counting *bytes: 0, or the read's error. */
int drain(struct simul_http_response *r, char *buf, uint64_t *bytes, uint64_t limit);

/* The crawl's HTTP session as the options say (-c, --per-host, the
 * timeouts, --max-size, TLS): simul_http_session_new's result. close_each:
 * every request asks the server to close its connection after the answer
 * (the shared crawl: see dist.c). */
int crawl_http_session(const crawl_opts *o, int close_each, struct simul_http_session **out);
/* Streams r's body through lx (reset to base: a page's links go to
 * lx's callback) to its end, counting *bytes; gate (NULL: none) runs
 * after each chunk and stops the read with its error. A base lx refuses
 * (a URL past SIMUL_URL_MAX): the body is drained unparsed. 0, or the
 * read's or the gate's error. */
struct simul_links;
int read_links(struct simul_http_response *r, struct simul_links *lx, const char *base,
               char *buf, uint64_t *bytes, int (*gate)(void *arg), void *arg);

/* 1 if rb lets u (path and query) be fetched. */
int robots_allows(const struct simul_robots *rb, const simul_url *u);
/* GETs robots.txt at url (RFC 9309: up to ROBOTS_REDIRECTS redirects)
 * and appends at most SIMUL_ROBOTS_MAX_BYTES of a 2xx body to body
 * (buf: CRAWL_CHUNK bytes to read into). *status: the HTTP status, 310
 * when the redirects ran out, 0 when unreachable (or the body failed).
 * 0, or -ECANCELED (then *status and body are undefined). */
int robots_get(struct simul_http_session *http, const char *url, char *buf, obuf *body,
               int *status);

/* A page's answer r to url[0, len) when it is a redirect (3xx but 304,
 * with a Location): no redirect is followed inside a fetch. The Location
 * is resolved against url into loc and added to pl as the page's one link
 * (to be followed only while the chain - hops redirects led to url - is
 * at most MAX_REDIRECTS long; kind: the page's, so a sitemap's target is
 * read as one). Returns 0 (no redirect: nothing touched) or 1, with
 * *error NULL (the target is offered to the frontier like a link, at the
 * page's depth) or the error kind recorded on the page: "redirect_scheme"
 * (not http/https), "scope", "redirects" (the chain is too long),
 * "malformed" (a Location that is no URL: no link). */
int page_redirect(struct simul_http_response *r, const char *url, size_t len, int hops, int kind,
                  const crawl_scopes *sc, const crawl_opts *o, simul_url *loc, page_links *pl,
                  const char **error);

/* ---- PostgreSQL (pgsink.c, --pg) ------------------------------------------ */

/* The sink: a batch of rows (COPY text format) sent at each commit. */
typedef struct pgsink pgsink;

typedef struct pgsink_stats {
    uint64_t pages, links;      /* rows confirmed (committed) */
    uint64_t batches, parts;    /* commits; parts the sender task sent */
    uint64_t lost;              /* flushes that lost the connection */
    double   seconds, paused;   /* sending (sender and flushes); in flushes */
} pgsink_stats;

/* Connects (a libpq conninfo string or URI; libpq's PG* variables apply)
 * and creates the schema (an identifier: [A-Za-z_][A-Za-z0-9_]*) and its
 * tables and view if missing, and starts the sink's sender task (it sends
 * each 64 KiB of new rows into the open transaction while the crawl goes
 * on). Suspends (call it from a task). On success
 * *out is the sink, freed by pgsink_close; on failure the reason is
 * logged, *out is NULL and the error returned: SIMUL_PG_ECONNINFO (the
 * string does not parse), SIMUL_PG_ECONNECT, SIMUL_PG_ESERVER (the schema
 * could not be made), -ETIMEDOUT, -ENOMEM. retry_time: how long (seconds)
 * pgsink_flush keeps trying a lost server. */
int  pgsink_open(const char *conninfo, const char *schema, double retry_time, pgsink **out);
/* Stops the sender (cancelled and joined: call it from a task), closes
 * the connection - what was not committed is rolled back - and frees s
 * and its batch (NULL: no-op). */
void pgsink_close(pgsink *s);
/* Appends a page's row / a link's row to the batch; never suspends. 0, or
 * -E2BIG at the batch's hard cap (512 MiB a table), -ENOMEM; then nothing
 * of the row is in the batch. */
int  pgsink_page(pgsink *s, const page_rec *r);
int  pgsink_link(pgsink *s, const char *src, size_t slen, const char *dst, size_t dlen);
/* Appends a row correcting the depth and parent of a page sent before
 * (its record was patched: a shorter path to it was found); never
 * suspends. 0, -E2BIG, -ENOMEM (nothing of the row in the batch). */
int  pgsink_relabel(pgsink *s, const char *url, int depth, const char *parent);
/* 1 when the batch is past its soft size (8 MiB): commit early. */
int  pgsink_full(const pgsink *s);
/* Sends the rest of the batch (the sender task sent parts of it: COPY
 * into staging tables, then an upsert - a page sent again replaces its row
 * and links - in one open transaction), commits, and empties the batch
 * once PostgreSQL confirmed the COMMIT. Suspends. A lost connection is
 * retried (backoff 0.1 s doubling to 5 s) for up to retry_time, the whole
 * batch re-sent; *stop set meanwhile gives up with -EINTR. Errors (the
 * batch is kept, the cause logged): SIMUL_PG_ESERVER for a permanent
 * server error, the last connect's or transport error past retry_time,
 * -EINTR, -ECANCELED (the task was cancelled). */
int  pgsink_flush(pgsink *s, const volatile int *stop);
const pgsink_stats *pgsink_stats_get(const pgsink *s);

/* ---- progress and logging (progress.c) ------------------------------------ */

enum { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_init(int quiet, int verbose);
void logmsg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct progress_stats {
    uint64_t done, queued, errors, bytes, hosts, inflight;
} progress_stats;

/* Redraws the progress line if on a TTY, not quiet, and 100 ms passed. */
void progress_tick(const progress_stats *s, double now, int force);
void progress_clear(void);

/* ---- sitemaps (sitemap.c) -------------------------------------------------- */

/* Streams a sitemap (urlset or sitemapindex, optionally gzip-compressed):
 * fn(arg, url, len, is_sitemap) for each <loc>; is_sitemap: the <loc> of
 * a <sitemap> (an index's entry), not of a <url>. A non-zero fn result
 * stops the feed, which returns it; -EFBIG past 50 MB of XML, -EILSEQ
 * for a broken gzip stream. */
typedef struct sitemap_parser sitemap_parser;
typedef int (*sitemap_fn)(void *arg, const char *url, size_t len, int is_sitemap);
int  sitemap_new(sitemap_parser **out, sitemap_fn fn, void *arg);
int  sitemap_feed(sitemap_parser *p, const void *buf, size_t n);
void sitemap_free(sitemap_parser *p);

#endif
