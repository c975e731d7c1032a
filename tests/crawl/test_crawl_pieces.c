/*
 * test_crawl_pieces.c - unit tests of simul-crawl's pieces (tools/crawl/):
 * the hash and the dedup set (seen.c), the resume store (store.c: what a
 * commit keeps and a crash rolls back, the frontier's refill query), and
 * the outputs (out.c: JSON escaping of any bytes, pages.jsonl records,
 * graph.tsv from foundurls.tsv, the error kinds) and the sitemap reader
 * (sitemap.c: any chunking, gzip, index entries, entities, caps).
 */
#include "crawl.h"

#include <simul.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"

/* ---- seen.c ---------------------------------------------------------------- */

TEST(hash_is_stable_and_spreads)
{
    CHECK(crawl_hash("http://a/", 9) == crawl_hash("http://a/", 9));
    CHECK(crawl_hash("http://a/", 9) != crawl_hash("http://b/", 9));
    CHECK(crawl_hash("", 0) != crawl_hash("\0", 1));       /* length counts */
    /* every length 0..40 and one flipped byte anywhere changes the hash */
    char s[41];
    memset(s, 'x', sizeof s);
    for (size_t n = 1; n <= 40; n++)
        for (size_t i = 0; i < n; i++) {
            uint64_t h = crawl_hash(s, n);
            s[i] ^= 1;
            CHECK(crawl_hash(s, n) != h);
            s[i] ^= 1;
        }
}

TEST(seen_million_urls_no_collision)
{
    seen_set s;
    seen_init(&s, 0);
    char url[64];
    for (int i = 0; i < 1000000; i++) {
        int n = snprintf(url, sizeof url, "http://example.com/page/%d.html", i);
        CHECK_EQ(seen_add(&s, crawl_hash(url, (size_t)n)), 1);
    }
    CHECK_EQ(s.n, 1000000);
    /* 8 bytes a slot, at most 3/4 full: at most 2^21 slots for 1e6 */
    CHECK(s.mask + 1 <= (1u << 21));
    for (int i = 0; i < 1000000; i += 997) {
        int n = snprintf(url, sizeof url, "http://example.com/page/%d.html", i);
        CHECK_EQ(seen_add(&s, crawl_hash(url, (size_t)n)), 0);
        CHECK(seen_has(&s, crawl_hash(url, (size_t)n)));
    }
    CHECK(!seen_has(&s, crawl_hash("http://example.com/other", 24)));
    seen_fini(&s);
}

TEST(seen_zero_hash_cap_and_clear)
{
    seen_set s;
    seen_init(&s, 3);
    CHECK_EQ(seen_add(&s, 0), 1);      /* 0 is stored (as 1: the empty mark) */
    CHECK(seen_has(&s, 0));
    CHECK_EQ(seen_add(&s, 0), 0);
    CHECK_EQ(seen_add(&s, 7), 1);
    CHECK_EQ(seen_add(&s, 8), 1);
    CHECK_EQ(seen_add(&s, 9), -E2BIG); /* the cap */
    CHECK_EQ(seen_add(&s, 8), 0);      /* present: still answered */
    seen_clear(&s);
    CHECK_EQ(s.n, 0);
    CHECK(!seen_has(&s, 7));
    CHECK_EQ(seen_add(&s, 9), 1);
    seen_fini(&s);
}

/* A ranked set keeps each hash's shortest rank: a longer one leaves it,
 * a shorter one lowers it, through the table's growth. */
TEST(seen_ranked_offer_lowers_only)
{
    seen_set s;
    seen_init_ranked(&s, 0);
    CHECK_EQ(seen_rank(&s, 5), SEEN_NONE);
    CHECK_EQ(seen_offer(&s, 5, CRAWL_RANK(3, 0)), 1);
    CHECK_EQ(seen_offer(&s, 5, CRAWL_RANK(4, 0)), 0);     /* longer: kept */
    CHECK_EQ(seen_offer(&s, 5, CRAWL_RANK(3, 0)), 0);     /* equal: kept */
    CHECK_EQ(seen_offer(&s, 5, CRAWL_RANK(2, 7)), 2);     /* shorter: lowered */
    CHECK_EQ(seen_rank(&s, 5), CRAWL_RANK(2, 7));
    CHECK_EQ(seen_offer(&s, 5, CRAWL_RANK(2, 1)), 2);     /* fewer redirects, same depth */
    CHECK(CRAWL_RANK(1, 10) < CRAWL_RANK(2, 0));          /* depth first */
    CHECK_EQ(CRAWL_RANK(5000, 3), CRAWL_RANK(4095, 0));   /* saturates */
    for (uint64_t h = 100; h < 5100; h++)                 /* grows several times */
        CHECK_EQ(seen_offer(&s, h, (unsigned)(h % 300)), 1);
    CHECK_EQ(seen_rank(&s, 5), CRAWL_RANK(2, 1));
    for (uint64_t h = 100; h < 5100; h++)
        CHECK_EQ(seen_rank(&s, h), (unsigned)(h % 300));
    CHECK(seen_has(&s, 4000));
    seen_fini(&s);
}

/* ---- store.c ----------------------------------------------------------------- */

static char dbdir[64];

static const char *tmpdb(void)
{
    static char path[96];
    snprintf(dbdir, sizeof dbdir, "/tmp/test_crawl_XXXXXX");
    if (!mkdtemp(dbdir))
        abort();
    snprintf(path, sizeof path, "%s/state.db", dbdir);
    return path;
}

static void rmdb(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dbdir);
    if (system(cmd) != 0)
        abort();
}

typedef struct rows {
    int     n;
    int64_t id[16];
    char    url[16][64];
    char    parent[16][64];
    int     depth[16], state[16], status[16], hops[16];
} rows;

static int collect(void *arg, const store_url *u)
{
    rows *r = arg;
    if (r->n < 16) {
        r->id[r->n] = u->id;
        snprintf(r->url[r->n], 64, "%s", u->url);
        snprintf(r->parent[r->n], 64, "%s", u->parent_url ? u->parent_url : "-");
        r->depth[r->n] = u->depth;
        r->state[r->n] = u->state;
        r->status[r->n] = u->status;
        r->hops[r->n] = u->hops;
    }
    r->n++;
    return 0;
}

TEST(store_commit_keeps_rollback_drops)
{
    const char *path = tmpdb();
    store *st;
    CHECK_EQ(store_open(path, &st), 0);
    CHECK_EQ(store_begin(st), 0);
    int64_t h1, h2, h1b, a, b, c;
    CHECK_EQ(store_host(st, "http://a", &h1), 0);
    CHECK_EQ(store_host(st, "http://b:81", &h2), 0);
    CHECK_EQ(store_host(st, "http://a", &h1b), 0);
    CHECK(h1 == h1b && h1 != h2);
    CHECK_EQ(store_url_add(st, h1, "http://a/", 9, 0, 0, 0, URL_PAGE, 11, &a), 0);
    CHECK_EQ(store_url_add(st, h1, "http://a/x", 10, 1, 3, a, URL_PAGE, 12, &b), 0);
    CHECK_EQ(store_meta_set_int(st, "found_len", 123), 0);
    CHECK_EQ(store_commit(st), 0);
    /* a second transaction never committed: a crash loses it */
    CHECK_EQ(store_begin(st), 0);
    CHECK_EQ(store_url_done(st, a, 200, NULL, 1000, 1, 0, 0, NULL, 0), 0);
    CHECK_EQ(store_url_add(st, h2, "http://b:81/", 12, 1, 0, a, URL_SITEMAP, 13, &c), 0);
    CHECK_EQ(store_meta_set_int(st, "found_len", 456), 0);
    store_close(st);

    CHECK_EQ(store_open(path, &st), 0);
    int64_t v = 0;
    CHECK_EQ(store_meta_get_int(st, "found_len", &v), 1);
    CHECK_EQ(v, 123);
    CHECK_EQ(store_meta_get_int(st, "nothing", &v), 0);
    rows r = { 0 };
    CHECK_EQ(store_scan(st, collect, &r), 0);
    CHECK_EQ(r.n, 2);
    CHECK_EQ(r.state[0], 0);           /* the done mark was rolled back */
    CHECK(!strcmp(r.url[1], "http://a/x"));
    CHECK_EQ(r.depth[1], 1);
    CHECK_EQ(r.hops[1], 3);            /* a redirect target's chain length, kept */
    CHECK_EQ(r.hops[0], 0);
    store_totals t;
    CHECK_EQ(store_totals_get(st, &t), 0);
    CHECK_EQ(t.urls, 2);
    CHECK_EQ(t.queued, 2);
    store_close(st);
    rmdb();
}

static int first_row(void *arg, const store_url *u)
{
    store_url *out = arg;
    *out = *u;
    out->url = NULL;   /* valid only in the callback */
    out->parent_url = NULL;
    out->lflags = u->nflags && ((const unsigned char *)u->lflags)[1] == 0 ? "ok" : NULL;
    return 1;
}

static int relabel_rows(void *arg, const char *url, int depth, const char *parent)
{
    char *out = arg;
    snprintf(out + strlen(out), 256 - strlen(out), "%s %d %s;", url, depth,
             parent ? parent : "-");
    return 0;
}

/* A shorter path: the row found by its URL's hash, its label lowered (a
 * done one marked relabel, a queued one not), read back by id. */
TEST(store_lower_by_hash_and_relabel)
{
    store *st;
    CHECK_EQ(store_open(tmpdb(), &st), 0);
    CHECK_EQ(store_begin(st), 0);
    int64_t h, a, b, c;
    CHECK_EQ(store_host(st, "http://a", &h), 0);
    CHECK_EQ(store_url_add(st, h, "http://a/", 9, 0, 0, 0, URL_PAGE, 0xa1, &a), 0);
    CHECK_EQ(store_url_add(st, h, "http://a/b", 10, 5, 2, a, URL_PAGE, 0xb2, &b), 0);
    CHECK_EQ(store_url_add(st, h, "http://a/c", 10, 6, 0, b, URL_PAGE, 0xc3, &c), 0);
    const unsigned char fl[3] = { PAGE_LFLAG_FOLLOW, 0, PAGE_LFLAG_FOLLOW };
    CHECK_EQ(store_url_done(st, b, 302, NULL, 10, 1, 123, 45, fl, 3), 0);
    store_url r = { 0 };
    CHECK_EQ(store_url_find(st, 0xb2, first_row, &r), 0);
    CHECK(r.id == b && r.state == 1 && r.depth == 5 && r.hops == 2 && r.status == 302);
    CHECK(r.foff == 123 && r.flen == 45 && r.nflags == 3 && r.lflags != NULL);
    memset(&r, 0, sizeof r);
    CHECK_EQ(store_url_find(st, 0xdead, first_row, &r), 0);
    CHECK_EQ(r.id, 0);                                   /* no such hash: no call */
    CHECK_EQ(store_url_lower(st, b, 1, 0, a), 0);
    CHECK_EQ(store_url_lower(st, c, 2, 0, b), 0);
    int d = -1, hp = -1;
    char parent[64];
    CHECK_EQ(store_url_label(st, c, &d, &hp, parent, sizeof parent), 1);
    CHECK(d == 2 && hp == 0 && !strcmp(parent, "http://a/b"));
    CHECK_EQ(store_url_label(st, a, &d, &hp, parent, sizeof parent), 1);
    CHECK(d == 0 && !strcmp(parent, ""));                /* a seed: no parent */
    CHECK_EQ(store_url_label(st, 999, &d, &hp, parent, sizeof parent), 0);
    char got[256] = "";
    CHECK_EQ(store_relabeled(st, relabel_rows, got), 0);
    CHECK(!strcmp(got, "http://a/b 1 http://a/;"));       /* only the done one */
    CHECK_EQ(store_commit(st), 0);
    store_close(st);
    rmdb();
}

TEST(store_queued_refill_in_id_order)
{
    store *st;
    CHECK_EQ(store_open(tmpdb(), &st), 0);
    CHECK_EQ(store_begin(st), 0);
    int64_t h, h2, ids[10], other;
    CHECK_EQ(store_host(st, "http://a", &h), 0);
    CHECK_EQ(store_host(st, "http://z", &h2), 0);
    char u[32];
    for (int i = 0; i < 10; i++) {
        int n = snprintf(u, sizeof u, "http://a/%d", i);
        CHECK_EQ(store_url_add(st, h, u, (size_t)n, i ? 1 : 0, 0, i ? ids[0] : 0, URL_PAGE,
                               crawl_hash(u, (size_t)n), &ids[i]), 0);
        if (i == 4)
            CHECK_EQ(store_url_add(st, h2, "http://z/", 9, 1, 0, ids[0], URL_SITEMAP, 99, &other),
                     0);
    }
    CHECK_EQ(store_url_done(st, ids[2], 404, "http", 10, 1, 0, 0, NULL, 0), 0);
    CHECK_EQ(store_url_done(st, ids[3], 0, "robots", 0, 0, 0, 0, NULL, 0), 0);
    rows r = { 0 };
    /* queued rows of host a after ids[0], 4 at most: 1, 4, 5, 6 */
    CHECK_EQ(store_queued(st, h, ids[0], 4, collect, &r), 0);
    CHECK_EQ(r.n, 4);
    CHECK(r.id[0] == ids[1] && r.id[1] == ids[4] && r.id[2] == ids[5] && r.id[3] == ids[6]);
    CHECK(!strcmp(r.parent[0], "http://a/0"));    /* the parent's URL joined in */
    rows r2 = { 0 };
    CHECK_EQ(store_queued(st, h, ids[6], 100, collect, &r2), 0);
    CHECK_EQ(r2.n, 3);
    store_totals t;
    CHECK_EQ(store_totals_get(st, &t), 0);
    CHECK_EQ(t.urls, 11);
    CHECK_EQ(t.done, 2);
    CHECK_EQ(t.errors, 1);              /* robots is a decision, not an error */
    CHECK_EQ(t.robots, 1);
    CHECK_EQ(t.fetched, 1);
    CHECK_EQ(store_commit(st), 0);
    store_close(st);
    rmdb();
}

TEST(store_robots_cache)
{
    store *st;
    CHECK_EQ(store_open(tmpdb(), &st), 0);
    int64_t h;
    CHECK_EQ(store_host(st, "http://a", &h), 0);
    int status;
    void *body;
    size_t len;
    CHECK_EQ(store_robots_get(st, h, &status, &body, &len), 0);
    CHECK_EQ(store_robots_set(st, h, 200, "User-agent: *\nDisallow: /x\n", 27), 0);
    CHECK_EQ(store_robots_get(st, h, &status, &body, &len), 1);
    CHECK_EQ(status, 200);
    CHECK_EQ(len, 27);
    CHECK(!memcmp(body, "User-agent: *\nDisallow: /x\n", 27));
    free(body);
    CHECK_EQ(store_robots_set(st, h, 404, NULL, 0), 0);
    CHECK_EQ(store_robots_get(st, h, &status, &body, &len), 1);
    CHECK_EQ(status, 404);
    CHECK_EQ(len, 0);
    free(body);
    store_close(st);
    rmdb();
}

/* ---- out.c ------------------------------------------------------------------- */

static char *json(const char *s, size_t n)
{
    static char out[256];
    obuf b = { 0 };
    if (obuf_json_str(&b, s, n) != 0)
        return NULL;
    snprintf(out, sizeof out, "%.*s", (int)b.n, b.p);
    obuf_free(&b);
    return out;
}

TEST(json_strings_escape_everything)
{
    CHECK(!strcmp(json("abc", 3), "\"abc\""));
    CHECK(!strcmp(json("a\"b\\c", 5), "\"a\\\"b\\\\c\""));
    CHECK(!strcmp(json("\n\t\x01\x1f", 4), "\"\\u000a\\u0009\\u0001\\u001f\""));
    CHECK(!strcmp(json("\0x", 2), "\"\\u0000x\""));
    CHECK(!strcmp(json("\xc3\xa9", 2), "\"\xc3\xa9\""));            /* valid UTF-8 kept */
    CHECK(!strcmp(json("\xff", 1), "\"\xef\xbf\xbd\""));            /* invalid: U+FFFD */
    CHECK(!strcmp(json("\xc3", 1), "\"\xef\xbf\xbd\""));            /* cut sequence */
    CHECK(!strcmp(json("\xc0\xaf", 2), "\"\xef\xbf\xbd\xef\xbf\xbd\""));  /* overlong */
    CHECK(!strcmp(json("\xed\xa0\x80", 3), "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""));
    CHECK(!strcmp(json("\xf0\x9f\x98\x80", 4), "\"\xf0\x9f\x98\x80\""));
}

TEST(page_record_line)
{
    obuf b = { 0 };
    page_rec r = { .url = "http://a/", .final_url = "http://a/b", .status = 200,
                   .content_type = "text/html", .bytes = 42, .depth = 1,
                   .parent = "http://a/p", .fetch_ms = 1.5, .links = 3, .tries = 1 };
    CHECK_EQ(out_page_json(&b, &r), 0);
    const char *want = "{\"url\":\"http://a/\",\"final_url\":\"http://a/b\",\"status\":200,"
                       "\"content_type\":\"text/html\",\"bytes\":42,\"depth\":1,"
                       "\"parent\":\"http://a/p\",\"fetch_ms\":1.500,\"error\":null,"
                       "\"links\":3,\"tries\":1}\n";
    CHECK_EQ(b.n, strlen(want));
    CHECK(!memcmp(b.p, want, b.n));
    b.n = 0;
    page_rec e = { .url = "http://a/\xff", .error = "robots" };
    CHECK_EQ(out_page_json(&b, &e), 0);
    CHECK(memmem(b.p, b.n, "\"final_url\":null,\"status\":0,\"content_type\":null", 47));
    CHECK(memmem(b.p, b.n, "\"error\":\"robots\"", 16));
    obuf_free(&b);
}

TEST(obuf_hard_cap)
{
    obuf b = { .max = 100 };
    CHECK_EQ(obuf_put(&b, "0123456789", 10), 0);
    CHECK_EQ(obuf_printf(&b, "%090d", 1), -E2BIG);
    CHECK_EQ(obuf_printf(&b, "%089d", 1), 0);
    CHECK_EQ(b.n, 99);
    CHECK_EQ(obuf_put(&b, "xy", 2), -E2BIG);
    obuf_free(&b);
}

TEST(graph_from_foundurls)
{
    char dir[] = "/tmp/test_crawl_graph_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char found[64], graph[64];
    snprintf(found, sizeof found, "%s/f.tsv", dir);
    snprintf(graph, sizeof graph, "%s/g.tsv", dir);
    FILE *f = fopen(found, "w");
    fputs("source_url\tparsed_url\n"
          "http://a/\thttp://a/x\n"
          "http://a/\tmailto:me@a\n"
          "http://a/\thttp://a/y\n"
          "http://a/x\thttp://a/\n", f);
    fclose(f);
    seen_set fetched;
    seen_init(&fetched, 0);
    seen_add(&fetched, crawl_hash("http://a/", 9));
    seen_add(&fetched, crawl_hash("http://a/x", 10));
    CHECK_EQ(out_graph(found, graph, &fetched), 0);
    char buf[256] = { 0 };
    f = fopen(graph, "r");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    CHECK_EQ(n, strlen("http://a/\thttp://a/x\nhttp://a/x\thttp://a/\n"));
    CHECK(!strcmp(buf, "http://a/\thttp://a/x\nhttp://a/x\thttp://a/\n"));
    seen_fini(&fetched);
    unlink(found);
    unlink(graph);
    rmdir(dir);
}

/* The patch of finish: the records whose url fix() knows get their depth
 * and parent replaced, every other line is copied as it is; the url is
 * read as its JSON string (escapes included). */
static int fix_second(void *arg, const char *url, size_t n, obuf *repl)
{
    (void)arg;
    static const char want[] = "\"http://a/x?\\\\\\\"\"";   /* "http://a/x?\\\"" */
    if (n != sizeof want - 1 || memcmp(url, want, n) != 0)
        return 0;
    return out_page_label(repl, 1, "http://a/") == 0;
}

TEST(pages_patch_depth_and_parent)
{
    char dir[] = "/tmp/test_patch_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64], nw[64];
    snprintf(path, sizeof path, "%s/pages.jsonl", dir);
    snprintf(nw, sizeof nw, "%s/pages.jsonl.new", dir);
    obuf b = { .max = 1 << 20 };
    page_rec r1 = { .url = "http://a/", .final_url = "http://a/", .status = 200 };
    page_rec r2 = { .url = "http://a/x?\\\"", .parent = "http://a/deep/er", .depth = 7,
                    .status = 200, .links = 3, .tries = 1, .fetch_ms = 2 };
    page_rec r3 = { .url = "http://a/x", .parent = "http://a/x?\\\"", .depth = 8 };
    CHECK_EQ(out_page_json(&b, &r1), 0);
    CHECK_EQ(out_page_json(&b, &r2), 0);
    CHECK_EQ(out_page_json(&b, &r3), 0);
    FILE *f = fopen(path, "w");
    fwrite(b.p, 1, b.n, f);
    fclose(f);
    int64_t len = 0;
    CHECK_EQ(out_pages_patch(path, nw, fix_second, NULL, 1, &len), 0);
    r2.depth = 1;
    r2.parent = "http://a/";
    b.n = 0;
    CHECK_EQ(out_page_json(&b, &r1), 0);
    CHECK_EQ(out_page_json(&b, &r2), 0);
    CHECK_EQ(out_page_json(&b, &r3), 0);
    char got[2048] = { 0 };
    f = fopen(nw, "r");
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    CHECK_EQ((int64_t)n, len);
    CHECK(n == b.n && !memcmp(got, b.p, n));
    obuf_free(&b);
    unlink(path);
    unlink(nw);
    rmdir(dir);
}

TEST(error_kinds_distinct)
{
    static const int codes[] = {
        SIMUL_HTTP_EURL, SIMUL_HTTP_EDNS, SIMUL_HTTP_EREFUSED, SIMUL_HTTP_ECONNECT,
        SIMUL_HTTP_ERESET, SIMUL_HTTP_EINCOMPLETE, SIMUL_HTTP_ETLS, SIMUL_HTTP_ECERT,
        SIMUL_HTTP_ETIMEOUT_POOL, SIMUL_HTTP_ETIMEOUT_CONNECT, SIMUL_HTTP_ETIMEOUT_READ,
        SIMUL_HTTP_ETIMEOUT_TOTAL, SIMUL_HTTP_EREDIRECTS, SIMUL_HTTP_EREDIRECT,
        SIMUL_HTTP_EPROTO, SIMUL_HTTP_EBODY, SIMUL_HTTP_EDECODE, SIMUL_HTTP_ESTATUS,
        SIMUL_HTTP_EPROXY,
    };
    size_t n = sizeof codes / sizeof codes[0];
    for (size_t i = 0; i < n; i++) {
        const char *k = crawl_error_kind(codes[i]);
        CHECK(strcmp(k, "other") != 0);
        CHECK(strspn(k, "abcdefghijklmnopqrstuvwxyz_") == strlen(k));
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(k, crawl_error_kind(codes[j])) != 0);
    }
    CHECK(!strcmp(crawl_error_kind(SIMUL_HTTP_EFAIL), "other"));
    CHECK(!strcmp(crawl_error_kind(SIMUL_HTTP_ETIMEOUT_READ), "timeout_read"));
}

/* ---- sitemap.c ------------------------------------------------------------------ */

typedef struct locs {
    int  n, sitemaps;
    char got[8][128];
} locs;

static int on_loc(void *arg, const char *url, size_t len, int is_sitemap)
{
    locs *l = arg;
    if (l->n < 8)
        snprintf(l->got[l->n], sizeof l->got[0], "%.*s", (int)len, url);
    l->n++;
    l->sitemaps += is_sitemap;
    return 0;
}

static const char urlset[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n"
    "  <url><loc>\n   http://a/1?x=1&amp;y=2  \n</loc><lastmod>2024-01-01</lastmod></url>\n"
    "  <url><loc>http://a/&#50;</loc></url>\n"
    "  <url><loc/><loc></loc></url>\n"
    "  <url><sm:loc xmlns:sm=\"x\">http://a/3</sm:loc></url>\n"
    "</urlset>\n";

static void check_urlset(const locs *l)
{
    CHECK_EQ(l->n, 3);
    CHECK(!strcmp(l->got[0], "http://a/1?x=1&y=2"));
    CHECK(!strcmp(l->got[1], "http://a/2"));
    CHECK(!strcmp(l->got[2], "http://a/3"));
    CHECK_EQ(l->sitemaps, 0);
}

TEST(sitemap_urlset_any_chunking)
{
    for (size_t step = 1; step <= sizeof urlset; step += step < 8 ? 1 : 37) {
        locs l = { 0 };
        sitemap_parser *p;
        CHECK_EQ(sitemap_new(&p, on_loc, &l), 0);
        for (size_t i = 0; i < sizeof urlset - 1; i += step) {
            size_t n = sizeof urlset - 1 - i < step ? sizeof urlset - 1 - i : step;
            CHECK_EQ(sitemap_feed(p, urlset + i, n), 0);
        }
        sitemap_free(p);
        check_urlset(&l);
    }
}

TEST(sitemap_gzip_and_index)
{
    /* gzip (as a .xml.gz file arrives), fed in 7-byte pieces */
    unsigned char gz[1024];
    z_stream z;
    memset(&z, 0, sizeof z);
    CHECK_EQ(deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (unsigned char *)urlset;
    z.avail_in = sizeof urlset - 1;
    z.next_out = gz;
    z.avail_out = sizeof gz;
    CHECK_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = sizeof gz - z.avail_out;
    deflateEnd(&z);
    locs l = { 0 };
    sitemap_parser *p;
    CHECK_EQ(sitemap_new(&p, on_loc, &l), 0);
    for (size_t i = 0; i < n; i += 7)
        CHECK_EQ(sitemap_feed(p, gz + i, n - i < 7 ? n - i : 7), 0);
    sitemap_free(p);
    check_urlset(&l);

    static const char index[] =
        "<sitemapindex><sitemap><loc>http://a/s1.xml.gz</loc></sitemap>"
        "<sitemap>\n<loc>http://a/s2.xml</loc></sitemap></sitemapindex>";
    locs k = { 0 };
    CHECK_EQ(sitemap_new(&p, on_loc, &k), 0);
    CHECK_EQ(sitemap_feed(p, index, sizeof index - 1), 0);
    sitemap_free(p);
    CHECK_EQ(k.n, 2);
    CHECK_EQ(k.sitemaps, 2);
    CHECK(!strcmp(k.got[1], "http://a/s2.xml"));
}

TEST(sitemap_caps)
{
    /* a <loc> over SIMUL_URL_MAX is dropped; the next one still read */
    size_t big = SIMUL_URL_MAX + 100;
    char *doc = malloc(big + 100);
    int n = sprintf(doc, "<url><loc>http://a/");
    memset(doc + n, 'x', big);
    n += (int)big;
    n += sprintf(doc + n, "</loc></url><url><loc>http://a/ok</loc></url>");
    locs l = { 0 };
    sitemap_parser *p;
    CHECK_EQ(sitemap_new(&p, on_loc, &l), 0);
    CHECK_EQ(sitemap_feed(p, doc, (size_t)n), 0);
    sitemap_free(p);
    free(doc);
    CHECK_EQ(l.n, 1);
    CHECK(!strcmp(l.got[0], "http://a/ok"));
    /* past 50 MB of XML: -EFBIG (a gzip bomb stops there) */
    char *zeros = calloc(1, 1 << 20);
    CHECK_EQ(sitemap_new(&p, on_loc, &l), 0);
    int rc = 0;
    for (int i = 0; i < 60 && rc == 0; i++)
        rc = sitemap_feed(p, zeros, 1 << 20);
    CHECK_EQ(rc, -EFBIG);
    sitemap_free(p);
    free(zeros);
}

/* Only http and https are fetched: a scheme that merely starts with "http"
 * is neither (seeds, redirect targets and page links all ask this). */
TEST(url_is_http_exactly)
{
    const char *yes[] = { "http://a/", "https://a/", "HTTP://a/", "HtTpS://a/b" };
    const char *no[] = { "httpz://a/", "httpx://a/", "ftp://a/", "file:///etc/passwd",
                         "mailto:a@b", "htt://a/", "http+unix://a/" };
    simul_url u;
    simul_url_init(&u);
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        CHECK_EQ(simul_url_parse(&u, yes[i], strlen(yes[i]), NULL, SIMUL_URL_NORMALIZE), 0);
        CHECK_EQ(url_is_http(&u), 1);
    }
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        if (simul_url_parse(&u, no[i], strlen(no[i]), NULL, SIMUL_URL_NORMALIZE) == 0)
            CHECK_EQ(url_is_http(&u), 0);
    }
    simul_url_fini(&u);
}
