/*
 * dist.c - the shared crawl: `simul-crawl --redis URL --job NAME` on any
 * number of processes and machines, one frontier, one dedup set, one
 * politeness state and one set of records, all in Redis.
 *
 * A worker is one loop: a dispatcher task leases URLs (the lease script
 * of dist_lua.h) while it has one of -c slots free, a task per lease
 * fetches and parses the page, and one ack script per page stores its
 * record and admits its links. A renewal task pushes the deadlines of
 * this worker's leases forward every lease/3 seconds, so a lease expires
 * only when its worker stopped renewing it (kill -9, a hang, a network
 * split): any worker's next lease call then puts the URL back. A page
 * fetched twice (its first worker's lease expired but it finished later)
 * is stored once: the record is HSETNX by URL and only the first ack
 * admits its links. Depth is the shortest distance, as in crawl.c: a link
 * to a URL seen farther lowers it in Redis (dist_lua.h's ack), and a done
 * page so lowered comes back as a reoffer lease, whose worker offers the
 * page's links again (reoffer_task). The local SQLite store and output
 * files are not used: `--export DIR` writes foundurls.tsv, pages.jsonl,
 * graph.tsv and summary.json from Redis, in the single-process crawl's
 * formats.
 *
 * Redis errors: every script call is retried with backoff (transport
 * errors, -LOADING after a restart) for up to --redis-wait seconds; each
 * script is idempotent for a retry (a lost ack reply: the second finds
 * the lease gone and the record there; a lost lease reply: that lease
 * expires and is put back).
 *
 * With --loops N, main.c runs dist_run on N loops (simul_run_loops): N
 * workers in one process, each with its own D (thread-local).
 *
 * Not here (the single-process crawl has them): sitemaps, the progress
 * line.
 */
#include "crawl.h"
#include "dist_lua.h"

#include <simul.h>
#include <simul/html.h>
#include <simul/http.h>
#include <simul/redis.h>
#include <simul/robots.h>
#include <simul/sync.h>
#include <simul/sys.h>
#include <simul/url.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ROBOTS_CACHE   4096      /* parsed robots.txt kept per worker */
#define LEASE_FIELDS   5         /* item: url, parent, depth, tries, hops */
#define SENT_MAX       ((size_t)1 << 24)  /* link hashes remembered (128 MiB at most) */

/* Per thread: with --loops N each loop is a worker of its own (its own
 * connection, HTTP session and state); a script's SHA is filled in by
 * its first use, on that loop. */
static __thread simul_redis_script lease_script = SIMUL_REDIS_SCRIPT(DIST_LUA_LEASE);
static __thread simul_redis_script ack_script = SIMUL_REDIS_SCRIPT(DIST_LUA_ACK);
static __thread simul_redis_script retry_script = SIMUL_REDIS_SCRIPT(DIST_LUA_RETRY);
static __thread simul_redis_script robots_script = SIMUL_REDIS_SCRIPT(DIST_LUA_ROBOTS);
static __thread simul_redis_script renew_script = SIMUL_REDIS_SCRIPT(DIST_LUA_RENEW);
static __thread simul_redis_script release_script = SIMUL_REDIS_SCRIPT(DIST_LUA_RELEASE);

typedef struct dslot {
    struct dslot *next_free;
    simul_links  *lx;
    char         *buf;
    page_links    links;          /* the page's distinct links (fetch.c) */
    simul_url     loc;
    char          lease[24];      /* lease id; "" when free */
    char         *host;           /* the lease's host (malloc'd) */
    char         *item;           /* the lease's item (malloc'd) */
    int           robots;         /* a robots.txt lease */
    int           reoffer;        /* a reoffer lease: a done page's links again */
    obuf          rec, found;     /* the page's record and foundurls.tsv lines */
    obuf          lflags, pj;     /* its links' PAGE_LFLAG_*; its URL as a JSON string */
} dslot;

typedef struct robots_ent {
    char         *host;
    simul_robots *rb;             /* NULL: unreachable for good */
} robots_ent;

typedef struct dist {
    const crawl_opts   *o;
    simul_redis        *r;
    simul_http_session *http;
    char               *prefix;    /* "simul-crawl:{JOB}:" */
    char                per_host[16], delay_ms[24], lease_ms[24];
    char                max_pages[24], max_host[24], max_query[24];
    dslot              *slots, *free_slots;
    unsigned            inflight;
    simul_event        *kick;
    robots_ent         *robots;
    size_t              nrobots;
    crawl_scopes        scopes;
    uint64_t            pages, dups;
    int                 fatal;
    volatile int        stopping;  /* SIGINT/SIGTERM: leases given back, exit 130 */
    /* Hashes of links this worker sent in an ack that stored its record,
     * with the rank sent: Redis's verdict on each is final (admitted at
     * that rank or a shorter one, or refused by a limit that only
     * tightens), so they are not sent again at that rank or a longer one
     * - unless Redis restarted since (it may have lost those acks):
     * emptied when the connection's reconnect count changes. */
    seen_set            sent;
    long                sent_epoch;
} dist;

static __thread dist D;

/* ---- Redis calls with retries -------------------------------------------- */

static int transient(int rc)
{
    return rc == SIMUL_REDIS_ELOST || rc == SIMUL_REDIS_ETIMEOUT || rc == SIMUL_REDIS_EDOWN ||
           rc == SIMUL_REDIS_ELOADING || rc == SIMUL_REDIS_ECONNECT ||
           rc == SIMUL_REDIS_ETRYAGAIN || rc == SIMUL_REDIS_EBUSY;
}

/* EVALSHA s with argv (s NULL: the command argv), lens: binary-safe;
 * retried while Redis is away
 * (up to --redis-wait seconds of trying, with backoff 50 ms .. 2 s).
 * 0 and *out, or the last error (then D.fatal is set). */
static int call(simul_redis_script *s, int argc, const char *const *argv, const size_t *lens,
                simul_redis_reply **out)
{
    double start = simul_now(), wait = 0.05;
    for (;;) {
        simul_redis_reply *rep = NULL;
        int rc = s ? simul_redis_evalsha(D.r, s, 0, argc, argv, lens, &rep)
                   : simul_redis_command_argv(D.r, argc, argv, lens, &rep);
        if (rc == 0) {
            *out = rep;
            return 0;
        }
        char msg[200] = "";
        if (rep && rep->str)
            snprintf(msg, sizeof msg, "%s", rep->str);
        simul_redis_reply_free(rep);
        if (rc == -ECANCELED)
            return rc;
        if (!transient(rc) || simul_now() - start > D.o->redis_wait) {
            logmsg(LOG_ERROR, "redis: %s %s", simul_strerror(rc), msg);
            D.fatal = 1;
            return rc;
        }
        logmsg(LOG_WARN, "redis: %s: retrying in %.2f s", simul_strerror(rc), wait);
        if (simul_sleep(wait) == -ECANCELED)
            return -ECANCELED;
        wait = fmin(wait * 2, 2.0);
    }
}

/* ---- scope (rules.c) ---------------------------------------------------------- */

static int in_scope(const char *url, size_t host_start, size_t host_end)
{
    return scopes_match(&D.scopes, D.o->scope, url, host_start, host_end);
}

/* ---- the ack -------------------------------------------------------------- */

/* The local checks of a link to be admitted at depth (crawl.c's consider
 * without the dedup set and the counters, which live in Redis). */
static int local_pass(const page_link *l, int depth)
{
    return l->follow && l->http && !(D.o->depth >= 0 && depth > D.o->depth) &&
           l->len <= D.o->max_url_len && in_scope(l->url, l->host_start, l->host_end) &&
           filters_pass(D.o, l->url);
}

/* Builds an item "url\tparent\tdepth\ttries\thops" into b. */
static int put_item(obuf *b, const char *url, size_t len, const char *parent, int depth,
                    int tries, int hops)
{
    int rc = obuf_put(b, url, len);
    rc = rc ? rc : obuf_put(b, "\t", 1);
    rc = rc ? rc : obuf_puts(b, parent ? parent : "");
    return rc ? rc : obuf_printf(b, "\t%d\t%d\t%d", depth, tries, hops);
}

/* Runs the ack script: lease id (or "" for seeds), the page's url, its
 * record and found lines (rec NULL with s: a reoffer), and the links of s
 * that pass the local checks, to be admitted at depth and hops (s NULL:
 * the nseeds seeds of the page_link records in seeds, whose query
 * variants are not counted, as crawl.c's seeds). Items are built in one
 * buffer, pointed at afterwards. */
static int ack(const char *lease, const char *url, const obuf *rec, const obuf *found,
               dslot *s, int depth, int hops, const obuf *seeds, size_t nseeds)
{
    unsigned rank = CRAWL_RANK(depth, hops);
    long epoch = simul_redis_reconnects(D.r);
    if (epoch != D.sent_epoch) {
        seen_clear(&D.sent);
        D.sent_epoch = epoch;
    }
    size_t n = s ? s->links.n : nseeds;
    const char **argv = malloc((13 + 5 * n) * sizeof *argv);
    size_t *lens = malloc((13 + 5 * n) * sizeof *lens);
    uint64_t *hashes = malloc((2 * n + 1) * sizeof *hashes);
    obuf items = { .max = (size_t)1 << 30 };
    size_t *ioff = malloc((n + 1) * sizeof *ioff);
    int rc = argv && lens && hashes && ioff ? 0 : -ENOMEM, argc = 13;
    char rk[16];
    snprintf(rk, sizeof rk, "%u", s ? rank : 0);
    if (s) {
        s->pj.n = 0;
        rc = rc ? rc : obuf_json_str(&s->pj, url, strlen(url));
    }
    if (rc == 0) {
        const char *a[13] = { D.prefix, D.per_host, D.delay_ms, lease, url,
                              rec ? rec->p : "", found ? found->p : "", D.max_pages,
                              D.max_host, D.max_query, s ? s->pj.p : "null",
                              s && rec ? s->lflags.p : "", s && !rec ? "r" : "" };
        size_t al[13] = { 0, 0, 0, 0, 0, rec ? rec->n : 0, found ? found->n : 0, 0, 0, 0,
                          s ? s->pj.n : 4, s && rec ? s->lflags.n : 0, 0 };
        for (int i = 0; i < 13; i++) {
            argv[i] = a[i] ? a[i] : "";
            lens[i] = al[i] || i == 5 || i == 6 || i == 11 ? al[i] : strlen(argv[i]);
        }
    }
    /* the links' items first (the buffer moves while it grows) */
    const page_link *first = (const page_link *)(s ? s->links.arena.p : seeds->p), *l = first;
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < n; i++, l = page_link_next(l)) {
        if (s && (!local_pass(l, depth) || seen_rank(&D.sent, l->hash) <= rank))
            continue;
        ioff[k] = items.n;
        hashes[2 * k] = l->hash;
        hashes[2 * k + 1] = l->qhash;
        rc = put_item(&items, l->url, l->len, s ? url : NULL, s ? depth : 0, 0, s ? hops : 0);
        rc = rc ? rc : obuf_put(&items, "", 1);
        k++;
    }
    l = first;
    for (size_t kk = 0; rc == 0 && kk < k; l = page_link_next(l)) {
        if (s && (!local_pass(l, depth) || seen_rank(&D.sent, l->hash) <= rank))
            continue;
        const char *it = items.p + ioff[kk];
        argv[argc] = (const char *)&hashes[2 * kk];
        lens[argc++] = 8;
        argv[argc] = (const char *)&hashes[2 * kk + 1];
        lens[argc++] = s && l->qhash ? 8 : 0;
        argv[argc] = l->url;
        lens[argc++] = l->auth_end;
        argv[argc] = it;
        lens[argc++] = strlen(it);
        argv[argc] = rk;
        lens[argc++] = strlen(rk);
        kk++;
    }
    simul_redis_reply *rep = NULL;
    if (rc == 0)
        rc = call(&ack_script, argc, argv, lens, &rep);
    if (rc == 0 && rep->type == SIMUL_REDIS_INTEGER && rep->integer == 0)
        D.dups++;
    else if (rc == 0 && s && simul_redis_reconnects(D.r) == D.sent_epoch)
        for (size_t i = 0; i < k; i++)
            if (seen_offer(&D.sent, hashes[2 * i], rank) < 0) {   /* full: start again */
                seen_clear(&D.sent);
                break;
            }
    simul_redis_reply_free(rep);
    free(argv);
    free(lens);
    free(hashes);
    free(ioff);
    obuf_free(&items);
    return rc;
}

/* ---- links of a page -------------------------------------------------------- */

static int on_link(void *arg, const simul_link *l)
{
    if (l->url)
        page_links_add(&((dslot *)arg)->links, l->url,
                       l->kind != SIMUL_LINK_BASE && l->kind != SIMUL_LINK_ATTR, URL_PAGE);
    return 0;
}

/* ---- robots.txt ------------------------------------------------------------- */

/* The host's parsed robots.txt from this worker's cache, else from Redis
 * (fetched once per job by the worker that got its robots lease). 1 and
 * *rb (NULL: the host is unreachable for good), 0 if Redis has none yet,
 * <0 on an error. */
static int robots_for(const char *host, simul_robots **rb)
{
    for (size_t i = 0; i < D.nrobots; i++)
        if (!strcmp(D.robots[i].host, host)) {
            *rb = D.robots[i].rb;
            return 1;
        }
    simul_redis_reply *rep = NULL;
    const char *argv[] = { "HGET", NULL, host };
    char key[512];
    snprintf(key, sizeof key, "%srobots", D.prefix);
    argv[1] = key;
    int rc = call(NULL, 3, argv, NULL, &rep);
    if (rc < 0 || !rep || rep->type != SIMUL_REDIS_STRING) {
        simul_redis_reply_free(rep);
        return rc < 0 ? rc : 0;
    }
    int status = atoi(rep->str);
    const char *body = strchr(rep->str, '\n');
    body = body ? body + 1 : rep->str + rep->len;
    size_t blen = (size_t)(rep->str + rep->len - body);
    simul_robots *p = NULL;
    if (simul_robots_for_status(status) != SIMUL_ROBOTS_DISALLOW_ALL)
        rc = simul_robots_parse_response(status, body, blen, D.o->user_agent, &p);
    simul_redis_reply_free(rep);
    if (rc < 0)
        return rc;
    if (D.nrobots == ROBOTS_CACHE) {   /* full: forget the oldest */
        simul_robots_free(D.robots[0].rb);
        free(D.robots[0].host);
        memmove(D.robots, D.robots + 1, --D.nrobots * sizeof *D.robots);
    }
    if (!D.robots && !(D.robots = calloc(ROBOTS_CACHE, sizeof *D.robots))) {
        simul_robots_free(p);
        return -ENOMEM;
    }
    D.robots[D.nrobots].host = strdup(host);
    D.robots[D.nrobots++].rb = p;
    *rb = p;
    return 1;
}

/* The robots lease: GET origin/robots.txt (RFC 9309: 5 redirects, 500 KiB,
 * unreachable retried --retries times here), then stored for the job. */
static int robots_task(dslot *s)
{
    char url[SIMUL_URL_MAX + 32];
    snprintf(url, sizeof url, "%s/robots.txt", s->host);
    obuf body = { .max = SIMUL_ROBOTS_MAX_BYTES + 32 };
    int status = 0;
    for (unsigned tries = 0;; tries++) {
        body.n = 0;
        obuf_puts(&body, "0\n");   /* 2 bytes reserved in front of the body */
        if (robots_get(D.http, url, s->buf, &body, &status) < 0) {
            obuf_free(&body);
            return -ECANCELED;
        }
        if (simul_robots_for_status(status) != SIMUL_ROBOTS_DISALLOW_ALL ||
            tries >= D.o->retries)
            break;
        if (simul_sleep(D.o->retry_wait * ldexp(1.0, (int)tries + 1)) < 0) {
            obuf_free(&body);
            return -ECANCELED;
        }
    }
    char head[16];
    int hl = snprintf(head, sizeof head, "%d\n", status);
    /* "0\n" reserved 2 bytes in front: the status goes there */
    obuf out = { .max = body.max + 16 };
    obuf_put(&out, head, (size_t)hl);
    obuf_put(&out, body.p + 2, body.n - 2);
    long cd = 0;
    simul_robots *rb = NULL;
    if (simul_robots_parse_response(status, out.p + hl, out.n - (size_t)hl, D.o->user_agent,
                                    &rb) == 0) {
        double d = simul_robots_crawl_delay(rb);
        if (d > 0)
            cd = lround(fmin(d, D.o->max_crawl_delay) * 1000);
        simul_robots_free(rb);
    }
    char cds[24];
    snprintf(cds, sizeof cds, "%ld", cd);
    const char *argv[] = { D.prefix, D.per_host, D.delay_ms, s->lease, s->host, out.p, cds };
    size_t lens[] = { strlen(D.prefix), strlen(D.per_host), strlen(D.delay_ms),
                      strlen(s->lease), strlen(s->host), out.n, strlen(cds) };
    simul_redis_reply *rep = NULL;
    int rc = call(&robots_script, 7, argv, lens, &rep);
    simul_redis_reply_free(rep);
    obuf_free(&body);
    obuf_free(&out);
    return rc;
}

/* ---- a page ----------------------------------------------------------------- */

typedef struct item {
    char *url, *parent;
    int   depth, tries, hops;
} item;

static int parse_item(char *it, item *out)
{
    char *f[LEASE_FIELDS] = { 0 };
    for (int i = 0; i < LEASE_FIELDS && it; i++) {
        f[i] = it;
        it = strchr(it, '\t');
        if (!it && i < LEASE_FIELDS - 2)   /* hops may be missing: 0 */
            return -EINVAL;
        if (it)
            *it++ = '\0';
    }
    out->url = f[0];
    out->parent = *f[1] ? f[1] : NULL;
    out->depth = atoi(f[2]);
    out->tries = atoi(f[3]);
    out->hops = f[4] ? atoi(f[4]) : 0;
    return 0;
}

/* Gives the lease back with the item's tries counted up (count 0: as
 * it was), to be fetched again after wait seconds. */
static int retry_count(dslot *s, const item *it, double wait, int count)
{
    obuf b = { .max = 1 << 20 };
    char nb[24];
    snprintf(nb, sizeof nb, "%ld", lround(wait * 1000));
    int rc = put_item(&b, it->url, strlen(it->url), it->parent, it->depth, it->tries + count,
                      it->hops);
    const char *argv[] = { D.prefix, D.per_host, D.delay_ms, s->lease, b.p, nb };
    simul_redis_reply *rep = NULL;
    if (rc == 0)
        rc = call(&retry_script, 6, argv, NULL, &rep);
    simul_redis_reply_free(rep);
    obuf_free(&b);
    return rc;
}

static int retry(dslot *s, const item *it, double wait)
{
    return retry_count(s, it, wait, 1);
}

static double backoff(int tries)
{
    return D.o->retry_wait * ldexp(1.0, tries) * (0.5 + (double)random() / RAND_MAX);
}

/* The record and found lines of a finished page, then its ack (redirect:
 * its one link is its Location, admitted at its depth - a redirect is not
 * a click - one hop further along the chain). */
static int page_finish(dslot *s, const item *it, int status, const char *final_url,
                       const char *ct, const char *error, uint64_t bytes, double t0,
                       int redirect)
{
    obuf *rb = &s->rec, *fb = &s->found;
    rb->n = fb->n = s->lflags.n = 0;
    int rc = 0, plain = 1;
    size_t ulen = strlen(it->url);
    const page_link *l = page_links_first(&s->links);
    for (size_t i = 0; i < s->links.n && rc == 0; i++, l = page_link_next(l)) {
        rc = obuf_put(fb, it->url, ulen);
        rc = rc ? rc : obuf_put(fb, "\t", 1);
        rc = rc ? rc : obuf_put(fb, l->url, l->len);
        rc = rc ? rc : obuf_put(fb, "\n", 1);
        unsigned char fl = page_link_flags(l);
        plain &= fl == PAGE_LFLAG_FOLLOW;
        rc = rc ? rc : obuf_put(&s->lflags, &fl, 1);
    }
    if (plain)
        s->lflags.n = 0;   /* the store keeps none */
    page_rec r = {
        .url = it->url, .final_url = final_url, .content_type = ct, .parent = it->parent,
        .error = error, .status = status, .depth = it->depth, .tries = t0 > 0 ? it->tries + 1 : 0,
        .bytes = bytes, .links = s->links.n, .fetch_ms = t0 > 0 ? (simul_now() - t0) * 1e3 : 0,
    };
    rc = rc ? rc : out_page_json(rb, &r);
    rc = rc ? rc : ack(s->lease, it->url, rb, fb, s, redirect ? it->depth : it->depth + 1,
                       redirect ? it->hops + 1 : 0, NULL, 0);
    D.pages++;
    return rc;
}

static int page_task_fetch(dslot *s, item *it)
{
    simul_robots *rb = NULL;
    page_links_clear(&s->links);
    if (D.o->robots) {
        int rc = robots_for(s->host, &rb);
        if (rc < 0)
            return rc;
        /* none: a Redis restart lost it (the lease was given after it was
         * stored): the URL goes back, and the host's robots lease comes first */
        if (rc == 0)
            return retry_count(s, it, 0, 0);
        if (!rb)
            return page_finish(s, it, 0, NULL, NULL, "robots_unreachable", 0, 0, 0);
        simul_url u;
        simul_url_init(&u);
        int ok = simul_url_parse(&u, it->url, strlen(it->url), NULL, 0) != 0 ||
                 robots_allows(rb, &u);
        simul_url_fini(&u);
        if (!ok)
            return page_finish(s, it, 0, NULL, NULL, "robots", 0, 0, 0);
    }
    double t0 = simul_now();
    char errbuf[256];
    simul_http_request_opts ro = { .error = errbuf, .error_cap = sizeof errbuf,
                                   .max_redirects = SIMUL_HTTP_NO_REDIRECTS };
    simul_http_response *r = NULL;
    int rc = simul_http_get(D.http, it->url, &ro, &r);
    if (rc == -ECANCELED)
        return rc;
    if (rc < 0) {
        if (retryable_error(rc) && it->tries < (int)D.o->retries)
            return retry(s, it, backoff(it->tries));
        return page_finish(s, it, 0, NULL, NULL, crawl_error_kind(rc), 0, t0, 0);
    }
    int status = simul_http_response_status(r);
    const char *final_url = simul_http_response_url(r);   /* no redirect followed */
    const char *ct = simul_http_response_header(r, "Content-Type", 0);
    const char *error = status >= 400 ? "http" : NULL;
    if (page_redirect(r, it->url, strlen(it->url), it->hops, URL_PAGE, &D.scopes, D.o, &s->loc,
                      &s->links, &error)) {
        uint64_t bytes = 0;
        int n = drain(r, s->buf, &bytes, NOPARSE_READ_MAX);   /* keeps the connection */
        if (n != -ECANCELED)
            n = page_finish(s, it, status, s->links.n ? s->loc.href : NULL, ct, error, bytes,
                            t0, 1);
        simul_http_response_free(r);
        return n;
    }
    if (retryable_status(status) && it->tries < (int)D.o->retries) {
        double wait = backoff(it->tries), ra = retry_after(r);
        if (ra >= 0)
            wait = fmax(wait, fmin(ra, D.o->max_retry_after));
        simul_http_response_free(r);
        return retry(s, it, wait);
    }
    int parse = status < 400 && is_html(ct);
    uint64_t bytes = 0;
    int n = 0;
    if (parse) {
        n = read_links(r, s->lx, final_url ? final_url : it->url, s->buf, &bytes, NULL, NULL);
    } else {
        n = drain(r, s->buf, &bytes, NOPARSE_READ_MAX);
    }
    if (n == -ECANCELED) {
        simul_http_response_free(r);
        return n;
    }
    if (n < 0) {
        if (retryable_error(n) && it->tries < (int)D.o->retries) {
            simul_http_response_free(r);
            return retry(s, it, backoff(it->tries));
        }
        error = crawl_error_kind(n);
        s->links.n = 0;   /* a cut page's links are not its links */
    }
    /* the strings final_url and ct point into r: finish before freeing it */
    rc = page_finish(s, it, status, final_url, ct, error, bytes, t0, 0);
    simul_http_response_free(r);
    return rc;
}

static long long json_int(const char *rec, const char *key);

/* HGET P..name field into b (emptied first; nothing if none). */
static int hget(const char *name, const char *field, obuf *b)
{
    char key[512];
    snprintf(key, sizeof key, "%s%s", D.prefix, name);
    const char *argv[] = { "HGET", key, field };
    simul_redis_reply *rep = NULL;
    b->n = 0;
    int rc = call(NULL, 3, argv, NULL, &rep);
    if (rc == 0 && rep->type == SIMUL_REDIS_STRING)
        rc = obuf_put(b, rep->str, rep->len);
    simul_redis_reply_free(rep);
    return rc;
}

/* A reoffer lease: a done page whose depth a shorter path lowered (the
 * item has the new depth): its links (its found lines, with its flags)
 * offered again at the new distance, as crawl.c's drain_reoffers. */
static int reoffer_task(dslot *s, const item *it)
{
    page_links_clear(&s->links);
    int rc = hget("rec", it->url, &s->rec);
    rc = rc ? rc : hget("found", it->url, &s->found);
    rc = rc ? rc : hget("lflags", it->url, &s->lflags);
    if (rc < 0)
        return rc;
    long st = 0;
    if (s->rec.n && obuf_put(&s->rec, "", 1) == 0)
        st = (long)json_int(s->rec.p, ",\"status\":");
    int redirect = st >= 300 && st <= 399 && st != 304;
    page_links_from_found(&s->links, s->found.p, s->found.n, s->lflags.p, s->lflags.n, &s->loc);
    return ack(s->lease, it->url, NULL, NULL, s, redirect ? it->depth : it->depth + 1,
               redirect ? it->hops + 1 : 0, NULL, 0);
}

static int slot_task(void *arg)
{
    dslot *s = arg;
    int rc;
    if (s->robots) {
        rc = robots_task(s);
    } else if (s->reoffer) {
        item it;
        rc = parse_item(s->item, &it);
        if (rc == 0)
            rc = reoffer_task(s, &it);
    } else {
        item it;
        rc = parse_item(s->item, &it);
        if (rc == 0)
            rc = page_task_fetch(s, &it);
    }
    if (rc < 0 && rc != -ECANCELED)
        D.fatal = 1;
    page_links_trim(&s->links);
    free(s->host);
    free(s->item);
    s->host = s->item = NULL;
    s->lease[0] = '\0';
    s->next_free = D.free_slots;
    D.free_slots = s;
    D.inflight--;
    simul_event_set(D.kick);
    return 0;
}

/* Every lease/3 s: this worker's leases pushed to now + lease. */
static int renew_task(void *arg)
{
    (void)arg;
    double every = D.o->lease / 3;
    const char **argv = malloc((4 + D.o->concurrency) * sizeof *argv);
    if (!argv)
        return -ENOMEM;
    while (simul_sleep(every) == 0) {
        int argc = 0;
        argv[argc++] = D.prefix;
        argv[argc++] = D.per_host;
        argv[argc++] = D.delay_ms;
        argv[argc++] = D.lease_ms;
        for (unsigned i = 0; i < D.o->concurrency; i++)
            if (D.slots[i].lease[0])
                argv[argc++] = D.slots[i].lease;
        if (argc == 4)
            continue;
        simul_redis_reply *rep = NULL;
        /* one try: the next round comes soon, and a dead Redis fails the
         * dispatcher's calls anyway */
        simul_redis_evalsha(D.r, &renew_script, 0, argc, argv, NULL, &rep);
        simul_redis_reply_free(rep);
    }
    free(argv);
    return 0;
}

/* Leases while a slot is free; waits when nothing is ready; ends when
 * the job is done (no queued URL, no lease out anywhere). */
static int dispatch(void)
{
    simul_group g;
    int rc = simul_group_enter(&g);
    if (rc < 0)
        return rc;
    const char *argv[] = { D.prefix, D.per_host, D.delay_ms, D.lease_ms,
                           D.o->robots ? "1" : "0" };
    while (!D.fatal && !D.stopping) {
        if (!D.free_slots) {
            simul_event_clear(D.kick);
            if (simul_event_wait(D.kick) == -ECANCELED)
                break;
            continue;
        }
        simul_redis_reply *rep = NULL;
        rc = call(&lease_script, 5, argv, NULL, &rep);
        if (rc < 0)
            break;
        long long kind = rep->type == SIMUL_REDIS_ARRAY && rep->len ?
                         rep->element[0]->integer : -1;
        if (kind == 1 || kind == 3 || kind == 4) {
            dslot *s = D.free_slots;
            D.free_slots = s->next_free;
            snprintf(s->lease, sizeof s->lease, "%lld", rep->element[1]->integer);
            s->host = strdup(rep->element[2]->str);
            s->item = kind != 3 ? strdup(rep->element[3]->str) : NULL;
            s->robots = kind == 3;
            s->reoffer = kind == 4;
            simul_redis_reply_free(rep);
            if (!s->host || (kind != 3 && !s->item)) {
                D.fatal = 1;
                break;
            }
            D.inflight++;
            simul_task_opts to = { .stack_size = 128 * 1024 };
            if (!simul_group_spawn_opts(&g, slot_task, s, &to)) {
                D.fatal = 1;
                break;
            }
            continue;
        }
        double wait = kind == 0 ? (double)rep->element[1]->integer / 1e3 : 0.05;
        simul_redis_reply_free(rep);
        if (kind == 2 && D.inflight == 0)
            break;
        if (kind != 0 && kind != 2) {
            logmsg(LOG_ERROR, "redis: the lease script answered something else");
            D.fatal = 1;
            break;
        }
        /* wake on a finished page (a slot, maybe new URLs) or the time */
        simul_event_clear(D.kick);
        if (simul_event_wait_until(D.kick, simul_now() + fmin(wait, 0.05)) == -ECANCELED)
            break;
    }
    /* stopping: the pages in flight are abandoned and their leases given
     * back at once (the ids taken before the slots clear them) */
    const char **ids = NULL;
    int nids = 0;
    if (D.stopping && !D.fatal && (ids = malloc((3 + D.o->concurrency) * sizeof *ids))) {
        ids[nids++] = D.prefix;
        ids[nids++] = D.per_host;
        ids[nids++] = D.delay_ms;
        for (unsigned i = 0; i < D.o->concurrency; i++)
            if (D.slots[i].lease[0] && (ids[nids] = strdup(D.slots[i].lease)))
                nids++;
    }
    if (D.fatal || D.stopping)
        simul_group_cancel(&g);
    rc = simul_group_exit(&g);
    if (ids && nids > 3) {
        simul_redis_reply *rep = NULL;
        simul_redis_evalsha(D.r, &release_script, 0, nids, ids, NULL, &rep);
        simul_redis_reply_free(rep);
    }
    for (int i = 3; ids && i < nids; i++)
        free((char *)ids[i]);
    free(ids);
    return rc == -ECANCELED ? 0 : rc;
}

/* SIGINT or SIGTERM: stop leasing, give the leases back, exit 130; a
 * second signal exits at once (the leases then expire). */
static int signal_task(void *arg)
{
    simul_signal *sg = arg;
    int n = 0;
    while (simul_signal_wait(sg) > 0) {
        if (n++)
            _exit(130);
        D.stopping = 1;
        logmsg(LOG_WARN, "interrupted: giving the leases back");
        simul_event_set(D.kick);
    }
    return 0;
}

/* ---- seeds ------------------------------------------------------------------- */

static int seeds(void)
{
    simul_url u;
    simul_url_init(&u);
    obuf arena = { .max = PAGE_ARENA_MAX };
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < D.o->nseeds && rc == 0; i++) {
        rc = seed_add(&D.scopes, D.o, D.o->seeds[i], &u);
        if (rc == -EINVAL) {   /* skipped */
            rc = 0;
            continue;
        }
        if (rc == 0 && (rc = page_link_put(&arena, &u, crawl_hash(u.href, u.len), 1,
                                           URL_PAGE)) == 0)
            n++;
    }
    simul_url_fini(&u);
    if (rc == 0 && n == 0)
        rc = -EINVAL;
    if (rc == 0)
        rc = ack("", "", NULL, NULL, NULL, 0, 0, &arena, n);
    obuf_free(&arena);
    return rc;
}

/* ---- export -------------------------------------------------------------------- */

static long long json_int(const char *rec, const char *key)
{
    const char *p = strstr(rec, key);
    return p ? strtoll(p + strlen(key), NULL, 10) : 0;
}

/* HSCAN of P..name: fn(arg, field, value) for every entry. */
static int scan_hash(const char *name, int (*fn)(void *, const simul_redis_reply *,
                                                 const simul_redis_reply *), void *arg)
{
    char key[512], cursor[32] = "0";
    snprintf(key, sizeof key, "%s%s", D.prefix, name);
    do {
        const char *argv[] = { "HSCAN", key, cursor, "COUNT", "1000" };
        simul_redis_reply *rep = NULL;
        int rc = simul_redis_command_argv(D.r, 5, argv, NULL, &rep);
        if (rc < 0 || rep->type != SIMUL_REDIS_ARRAY || rep->len != 2) {
            simul_redis_reply_free(rep);
            return rc < 0 ? rc : -EPROTO;
        }
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
        const simul_redis_reply *kv = rep->element[1];
        for (size_t i = 0; rc == 0 && i + 1 < kv->len; i += 2)
            rc = fn(arg, kv->element[i], kv->element[i + 1]);
        simul_redis_reply_free(rep);
        if (rc < 0)
            return rc;
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

typedef struct exp_state {
    FILE     *f;
    seen_set *fetched;
    uint64_t  pages, fetched_n, errors, robots, bytes;
} exp_state;

static int exp_rec(void *arg, const simul_redis_reply *k, const simul_redis_reply *v)
{
    exp_state *e = arg;
    if (fwrite(v->str, 1, v->len, e->f) != v->len)
        return -errno;
    e->pages++;
    e->bytes += (uint64_t)json_int(v->str, ",\"bytes\":");
    if (json_int(v->str, ",\"status\":") > 0) {
        e->fetched_n++;
        if (seen_add(e->fetched, crawl_hash(k->str, k->len)) < 0)
            return -ENOMEM;
    }
    if (strstr(v->str, ",\"error\":\"robots\"") || strstr(v->str, ",\"error\":\"robots_unr"))
        e->robots++;
    else if (!strstr(v->str, ",\"error\":null"))
        e->errors++;
    return 0;
}

static int exp_found(void *arg, const simul_redis_reply *k, const simul_redis_reply *v)
{
    (void)k;
    exp_state *e = arg;
    return fwrite(v->str, 1, v->len, e->f) == v->len ? 0 : -errno;
}

/* Refuses an unfinished job (URLs queued or leased: run a worker). */
static int export(const char *dir)
{
    char k1[512], k2[512];
    snprintf(k1, sizeof k1, "%shosts", D.prefix);
    snprintf(k2, sizeof k2, "%sleases", D.prefix);
    simul_redis_reply *a = NULL, *b = NULL, *c = NULL;
    int rc = simul_redis_command(D.r, &a, "ZCARD %s", k1);
    rc = rc ? rc : simul_redis_command(D.r, &b, "ZCARD %s", k2);
    snprintf(k1, sizeof k1, "%sadm", D.prefix);
    rc = rc ? rc : simul_redis_command(D.r, &c, "GET %s", k1);
    long long queued = rc ? 0 : a->integer, leased = rc ? 0 : b->integer;
    long long admitted = rc == 0 && c->type == SIMUL_REDIS_STRING ? atoll(c->str) : 0;
    simul_redis_reply_free(a);
    simul_redis_reply_free(b);
    simul_redis_reply_free(c);
    if (rc < 0) {
        logmsg(LOG_ERROR, "redis: %s", simul_strerror(rc));
        return 3;
    }
    if (admitted == 0) {
        logmsg(LOG_ERROR, "job %s: no such job in Redis", D.o->job);
        return 3;
    }
    if (queued || leased) {
        logmsg(LOG_ERROR, "job %s has not finished (%lld hosts with queued URLs, %lld leases"
               " out): run a worker to finish it", D.o->job, queued, leased);
        return 3;
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        logmsg(LOG_ERROR, "%s: %s", dir, strerror(errno));
        return 3;
    }
    char *pages = path_in(dir, "pages.jsonl"), *found = path_in(dir, "foundurls.tsv");
    char *graph = path_in(dir, "graph.tsv"), *sum = path_in(dir, "summary.json");
    seen_set fetched;
    seen_init(&fetched, 0);
    exp_state e = { .fetched = &fetched };
    rc = pages && found && graph && sum ? 0 : -ENOMEM;
    if (rc == 0 && !(e.f = fopen(pages, "w")))
        rc = -errno;
    if (rc == 0) {
        out_buffer(e.f);
        rc = scan_hash("rec", exp_rec, &e);
        int cr = out_close(e.f);
        rc = rc ? rc : cr;
    }
    if (rc == 0 && !(e.f = fopen(found, "w")))
        rc = -errno;
    if (rc == 0) {
        out_buffer(e.f);
        fputs("source_url\tparsed_url\n", e.f);
        rc = scan_hash("found", exp_found, &e);
        int cr = out_close(e.f);
        rc = rc ? rc : cr;
    }
    if (rc == 0)
        rc = out_graph(found, graph, &fetched);
    if (rc == 0) {
        obuf js = { 0 };
        obuf_printf(&js, "{\"urls\":%lld,\"pages\":%llu,\"fetched\":%llu,\"errors\":%llu,"
                    "\"robots_blocked\":%llu,\"bytes\":%llu,\"job\":", admitted,
                    (unsigned long long)e.pages, (unsigned long long)e.fetched_n,
                    (unsigned long long)e.errors, (unsigned long long)e.robots,
                    (unsigned long long)e.bytes);
        obuf_json_str(&js, D.o->job, strlen(D.o->job));
        obuf_puts(&js, "}\n");
        rc = out_file_replace(sum, js.p, js.n);
        obuf_free(&js);
    }
    if (rc < 0)
        logmsg(LOG_ERROR, "export: %s", simul_strerror(rc));
    else if (!D.o->quiet)
        fprintf(stderr, "simul-crawl: job %s: %llu pages (%llu fetched, %llu errors) written"
                " to %s\n", D.o->job, (unsigned long long)e.pages,
                (unsigned long long)e.fetched_n, (unsigned long long)e.errors, dir);
    seen_fini(&fetched);
    free(pages);
    free(found);
    free(graph);
    free(sum);
    return rc < 0 ? 3 : e.errors ? 1 : 0;
}

/* ---- the worker ------------------------------------------------------------------ */

static int setup(void)
{
    D.slots = calloc(D.o->concurrency, sizeof *D.slots);
    if (!D.slots || !(D.kick = simul_event_new()))
        return -ENOMEM;
    for (unsigned i = 0; i < D.o->concurrency; i++) {
        dslot *s = &D.slots[i];
        page_links_init(&s->links);
        s->rec.max = 1 << 20;
        s->found.max = (size_t)PAGE_ARENA_MAX * 2;
        s->lflags.max = PAGE_LINKS_MAX;
        s->pj.max = SIMUL_URL_MAX * 6 + 2;
        simul_url_init(&s->loc);
        if (!(s->buf = malloc(CRAWL_CHUNK)))
            return -ENOMEM;
        int rc = simul_links_new(&s->lx, "http://x/", 9, SIMUL_URL_NORMALIZE, on_link, s);
        if (rc < 0)
            return rc;
        s->next_free = D.free_slots;
        D.free_slots = s;
    }
    /* Connection: close. --per-host is kept in Redis as requests in flight
     * per host; a keep-alive connection a worker left idle would still be
     * open at the server while another worker opens its own, and the
     * server would see more than --per-host (measured: 5 with --per-host 4
     * over 3 workers). Closed after each answer, a connection is open only
     * while its request is. */
    return crawl_http_session(D.o, 1, &D.http);
}

static void teardown(void)
{
    for (unsigned i = 0; D.slots && i < D.o->concurrency; i++) {
        simul_links_free(D.slots[i].lx);
        free(D.slots[i].buf);
        page_links_fini(&D.slots[i].links);
        obuf_free(&D.slots[i].rec);
        obuf_free(&D.slots[i].found);
        obuf_free(&D.slots[i].lflags);
        obuf_free(&D.slots[i].pj);
        simul_url_fini(&D.slots[i].loc);
        /* a slot whose task was cancelled before it ran */
        free(D.slots[i].host);
        free(D.slots[i].item);
    }
    free(D.slots);
    for (size_t i = 0; i < D.nrobots; i++) {
        simul_robots_free(D.robots[i].rb);
        free(D.robots[i].host);
    }
    free(D.robots);
    scopes_free(&D.scopes);
    if (D.http)
        simul_http_session_free(D.http);
    if (D.kick)
        simul_event_free(D.kick);
    simul_redis_close(D.r);
    free(D.prefix);
    seen_fini(&D.sent);
}

int dist_run(const crawl_opts *o)
{
    memset(&D, 0, sizeof D);
    D.o = o;
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    seen_init_ranked(&D.sent, SENT_MAX);
    size_t pl = strlen(o->job) + 32;
    D.prefix = malloc(pl);
    if (!D.prefix)
        return 3;
    snprintf(D.prefix, pl, "simul-crawl:{%s}:", o->job);
    snprintf(D.per_host, sizeof D.per_host, "%u", o->per_host);
    snprintf(D.delay_ms, sizeof D.delay_ms, "%ld", lround(o->delay * 1000));
    snprintf(D.lease_ms, sizeof D.lease_ms, "%ld", lround(o->lease * 1000));
    snprintf(D.max_pages, sizeof D.max_pages, "%llu", (unsigned long long)o->max_pages);
    snprintf(D.max_host, sizeof D.max_host, "%llu", (unsigned long long)o->max_host_pages);
    snprintf(D.max_query, sizeof D.max_query, "%u", o->max_query);
    simul_redis_opts ro = { .command_timeout = 10, .client_name = "simul-crawl" };
    int rc, status = 3;
    double start = simul_now();
    /* the first connect is retried too: a worker may start before Redis */
    while ((rc = simul_redis_connect(o->redis, &ro, &D.r)) < 0) {
        if (rc == SIMUL_REDIS_EURL || simul_now() - start > o->redis_wait) {
            logmsg(LOG_ERROR, "%s: %s", o->redis, simul_strerror(rc));
            free(D.prefix);
            return rc == SIMUL_REDIS_EURL ? 2 : 3;
        }
        if (simul_sleep(0.2) < 0) {
            free(D.prefix);
            return 130;
        }
    }
    if (o->export_dir) {
        status = export(o->export_dir);
        teardown();
        return status;
    }
    rc = setup();
    if (rc == 0) {
        rc = seeds();
        if (rc == -EINVAL) {
            logmsg(LOG_ERROR, "seeds: no valid seed URL");
            teardown();
            return 2;
        }
    }
    simul_task *rt = rc == 0 ? simul_spawn(renew_task, NULL) : NULL;
    /* one loop: SIGINT/SIGTERM handled here (with --loops N,
     * simul_run_loops cancels the workers on SIGINT instead) */
    simul_signal *sg = NULL;
    simul_task *st = NULL;
    static const int sigs[] = { SIGINT, SIGTERM };
    if (rc == 0 && o->loops <= 1 && simul_signal_open(sigs, 2, &sg) == 0)
        st = simul_spawn(signal_task, sg);
    if (rc == 0)
        rc = dispatch();
    if (st) {
        simul_cancel(st);
        simul_join(st);
    }
    if (sg)
        simul_signal_close(sg);
    if (rt) {
        simul_cancel(rt);
        simul_join(rt);
    }
    if (rc < 0 || D.fatal) {
        if (rc < 0)
            logmsg(LOG_ERROR, "shared crawl: %s", simul_strerror(rc));
        status = 3;
    } else if (D.stopping) {
        status = 130;
    } else {
        status = 0;
        if (!o->quiet)
            fprintf(stderr, "simul-crawl: job %s done here: %llu pages by this worker"
                    " (%llu already done by another)\n", o->job,
                    (unsigned long long)D.pages, (unsigned long long)D.dups);
    }
    teardown();
    return status;
}
