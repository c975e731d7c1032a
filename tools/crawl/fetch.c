/*
 * fetch.c - the parts of a page's fetch that the single-process crawl
 * (crawl.c) and the shared one (dist.c) have in common, so both crawl
 * the same way: the page's set of distinct links (what foundurls.tsv
 * lists and what the frontier is offered), what a redirect answer
 * becomes (none is followed inside a page's fetch: its target is the
 * page's one link, fetched as a URL of its own), robots.txt's fetch and
 * a URL's robots check, and the small rules on what is
 * retried, what is parsed and how a body is drained. What a crawl does
 * with a page (store, frontier, Redis) stays in its own file.
 */
#include "crawl.h"

#include <simul/html.h>
#include <simul/http.h>
#include <simul/robots.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- the page's links ------------------------------------------------------ */

void page_links_init(page_links *pl)
{
    memset(pl, 0, sizeof *pl);
    pl->arena.max = PAGE_ARENA_MAX;
    seen_init(&pl->seen, PAGE_LINKS_MAX);
}

void page_links_fini(page_links *pl)
{
    obuf_free(&pl->arena);
    seen_fini(&pl->seen);
    pl->n = 0;
}

void page_links_clear(page_links *pl)
{
    pl->n = 0;
    pl->arena.n = 0;
    seen_clear(&pl->seen);
}

void page_links_trim(page_links *pl)
{
    /* a page with a huge number of links does not leave its slot holding
     * the memory: -c slots x the caps would be a lot */
    if (pl->arena.cap > PAGE_LINKS_KEEP)
        obuf_free(&pl->arena);
    if ((pl->seen.mask + 1) * sizeof(uint64_t) > PAGE_LINKS_KEEP)
        seen_fini(&pl->seen), seen_init(&pl->seen, PAGE_LINKS_MAX);
}

int page_link_put(obuf *arena, const simul_url *u, uint64_t hash, int follow, int kind)
{
    size_t need = PAGE_LINK_SIZE(u->len);
    int rc = obuf_reserve(arena, need);
    if (rc < 0)
        return rc;
    page_link *r = (page_link *)(arena->p + arena->n);
    memset(r, 0, sizeof *r);
    r->hash = hash;
    r->len = u->len;
    r->host_start = (uint16_t)u->host_start;
    r->host_end = (uint16_t)u->host_end;
    r->auth_end = (uint16_t)u->auth_end;
    r->http = (uint8_t)url_is_http(u);
    r->follow = (uint8_t)follow;
    r->kind = (uint8_t)kind;
    if (u->query_start)
        r->qhash = crawl_hash(u->href, u->query_start);
    memcpy(r->url, u->href, u->len + 1);
    arena->n += need;
    return 0;
}

int url_is_http(const simul_url *u)
{
    /* exactly http or https ("httpz:" is neither); the parser lowercases */
    return (u->scheme_end == 4 && !memcmp(u->href, "http", 4)) ||
           (u->scheme_end == 5 && !memcmp(u->href, "https", 5));
}

void page_links_add(page_links *pl, const simul_url *u, int follow, int kind)
{
    if (pl->n >= PAGE_LINKS_MAX)
        return;
    uint64_t h = crawl_hash(u->href, u->len);
    if (seen_add(&pl->seen, h) != 1)
        return;
    if (page_link_put(&pl->arena, u, h, follow, kind) == 0)
        pl->n++;
}

void page_links_from_found(page_links *pl, const char *lines, size_t n, const void *flags,
                           size_t nflags, simul_url *tmp)
{
    const char *p = lines, *end = lines + n, *nl;
    for (size_t i = 0; p && p < end && (nl = memchr(p, '\n', (size_t)(end - p)));
         i++, p = nl + 1) {
        unsigned fl = !nflags ? PAGE_LFLAG_FOLLOW :
                      i < nflags ? ((const unsigned char *)flags)[i] : 0;
        const char *t = memchr(p, '\t', (size_t)(nl - p));
        if (t && simul_url_parse(tmp, t + 1, (size_t)(nl - t - 1), NULL,
                                 SIMUL_URL_NORMALIZE) == 0)
            page_links_add(pl, tmp, fl & PAGE_LFLAG_FOLLOW,
                           fl & PAGE_LFLAG_SITEMAP ? URL_SITEMAP : URL_PAGE);
    }
}

/* ---- what is retried, parsed, drained --------------------------------------- */

int retryable_error(int err)
{
    switch (err) {
    case SIMUL_HTTP_EDNS: case SIMUL_HTTP_EREFUSED: case SIMUL_HTTP_ECONNECT:
    case SIMUL_HTTP_ERESET: case SIMUL_HTTP_EINCOMPLETE: case SIMUL_HTTP_ETLS:
    case SIMUL_HTTP_ETIMEOUT_CONNECT: case SIMUL_HTTP_ETIMEOUT_READ:
    case SIMUL_HTTP_ETIMEOUT_TOTAL: case SIMUL_HTTP_ETIMEOUT_POOL: case SIMUL_HTTP_EPROTO:
    case SIMUL_HTTP_EFAIL:
        return 1;
    default:
        return 0;
    }
}

int retryable_status(int status)
{
    return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

double retry_after(simul_http_response *r)
{
    const char *v = simul_http_response_header(r, "Retry-After", 0);
    if (!v)
        return -1;
    char *e;
    double s = strtod(v, &e);
    if (e != v && *e == '\0' && s >= 0)
        return s;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
        double d = difftime(timegm(&tm), time(NULL));
        return d > 0 ? d : 0;
    }
    return -1;
}

int is_html(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    size_t n = strcspn(ct, "; \t");
    return (n == 9 && !strncasecmp(ct, "text/html", 9)) ||
           (n == 21 && !strncasecmp(ct, "application/xhtml+xml", 21));
}

/* A body read to its end lets the connection be reused; one given up on
 * at the limit is not downloaded for nothing (freeing the response closes
 * the connection). */
int drain(simul_http_response *r, char *buf, uint64_t *bytes, uint64_t limit)
{
    int n;
    uint64_t start = *bytes;
    while ((n = simul_http_response_read_chunk(r, buf, CRAWL_CHUNK)) > 0) {
        *bytes += (uint64_t)n;
        if (limit && *bytes - start >= limit)
            return 0;
    }
    return n;
}

int crawl_http_session(const crawl_opts *o, int close_each, simul_http_session **out)
{
    static const char *const close_hdr[] = { "Connection: close", NULL };
    simul_http_session_opts so = {
        .headers = close_each ? close_hdr : NULL,
        .limit = o->concurrency, .limit_per_host = o->per_host, .user_agent = o->user_agent,
        .ca_file = o->ca_file, .insecure = o->insecure, .max_body = o->max_size,
        .timeouts = { .total = o->timeout, .connect = o->connect_timeout,
                      .read = o->read_timeout },
    };
    if (so.limit_per_host > so.limit)
        so.limit_per_host = so.limit;
    return simul_http_session_new(&so, out);
}

int read_links(simul_http_response *r, simul_links *lx, const char *base, char *buf,
               uint64_t *bytes, int (*gate)(void *arg), void *arg)
{
    int n;
    if (simul_links_reset(lx, base, strlen(base)) != 0)
        return drain(r, buf, bytes, 0);
    /* streamed: no copy of the page is kept */
    while ((n = simul_http_response_read_chunk(r, buf, CRAWL_CHUNK)) > 0) {
        *bytes += (uint64_t)n;
        simul_links_feed(lx, buf, (size_t)n);
        if (gate && (n = gate(arg)) < 0)
            break;
    }
    if (n == 0)
        simul_links_end(lx);
    return n;
}

/* ---- robots.txt ---------------------------------------------------------------- */

int robots_allows(const simul_robots *rb, const simul_url *u)
{
    size_t pl, ql = 0;
    const char *p = simul_url_part(u, SIMUL_URL_PATH, &pl);
    if (u->query_start)
        ql = (u->fragment_start ? u->fragment_start : u->len) - u->query_start;
    return simul_robots_allowed(rb, p, pl + ql) != 0;
}

int robots_get(simul_http_session *http, const char *url, char *buf, obuf *body, int *status)
{
    simul_http_request_opts ro = { .max_redirects = ROBOTS_REDIRECTS };
    simul_http_response *r = NULL;
    int rc = simul_http_get(http, url, &ro, &r);
    if (rc == -ECANCELED)
        return rc;
    *status = rc == SIMUL_HTTP_EREDIRECTS ? 310 : 0;   /* redirects exhausted: 3xx */
    if (rc != 0)
        return 0;
    *status = simul_http_response_status(r);
    int n = 0;
    if (*status >= 200 && *status < 300) {
        /* the RFC's 500 KiB: read that much, ignore the rest */
        size_t end = body->n + SIMUL_ROBOTS_MAX_BYTES;
        while (body->n < end && (n = simul_http_response_read_chunk(r, buf, CRAWL_CHUNK)) > 0) {
            size_t take = (size_t)n;
            if (take > end - body->n)
                take = end - body->n;
            obuf_put(body, buf, take);
        }
        n = n > 0 ? 0 : n;
    }
    simul_http_response_free(r);
    if (n == -ECANCELED)
        return n;
    if (n < 0)
        *status = 0;   /* the body failed: unreachable, try again later */
    return 0;
}

/* ---- a redirect answer --------------------------------------------------- */

int page_redirect(simul_http_response *r, const char *url, size_t len, int hops, int kind,
                  const crawl_scopes *sc, const crawl_opts *o, simul_url *loc,
                  page_links *pl, const char **error)
{
    int st = simul_http_response_status(r);
    const char *where = simul_http_response_header(r, "Location", 0);
    if (st < 300 || st > 399 || st == 304 || !where)
        return 0;
    simul_url base;
    simul_url_init(&base);
    int rc = simul_url_parse(&base, url, len, NULL, 0);
    if (rc == 0)
        rc = simul_url_parse(loc, where, strlen(where), &base, SIMUL_URL_NORMALIZE);
    simul_url_fini(&base);
    *error = NULL;
    if (rc < 0) {
        *error = crawl_error_kind(SIMUL_HTTP_EPROTO);   /* a Location that is no URL */
        return 1;
    }
    /* the target is the page's one link (foundurls.tsv, graph.tsv), offered
     * to the frontier as a link is, unless the chain is too long */
    int more = hops + 1 <= MAX_REDIRECTS;
    page_links_add(pl, loc, more, kind);
    if (!url_is_http(loc))
        *error = crawl_error_kind(SIMUL_HTTP_EREDIRECT);   /* file:, ftp:, ... */
    else if (!scopes_match(sc, o->scope, loc->href, loc->host_start, loc->host_end))
        *error = "scope";
    else if (!more)
        *error = crawl_error_kind(SIMUL_HTTP_EREDIRECTS);
    return 1;
}
