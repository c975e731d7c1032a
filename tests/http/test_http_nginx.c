/*
 * test_http_nginx.c - simul/http.h against a real server: the private nginx
 * of tests/http/nginx.sh (servers.c starts it on free loopback ports with a
 * CA made at start): TLS verification with a custom CA file and without
 * (refused; insecure), HTTP/2 by ALPN with many streams multiplexed,
 * HTTP/1.1 forced, gzip decoded, streaming a large body with a slow reader
 * over HTTP/2 (the stream pauses), cancelling streams in flight, nginx's
 * redirects and redirect loops, a 404. Skipped (each case passes with a
 * note) where /usr/sbin/nginx is missing.
 */
#include "harness.h"
#include "http/http_case.h"
#include "http/servers.h"

#include <simul.h>
#include <simul/http.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* A case's session and responses free all they hold, libcurl's buffers
 * for cancelled transfers included: LeakSanitizer checks after each. */
__attribute__((constructor)) static void leaks_checked(void)
{
    harness_check_leaks();
}

static servers_nginx NG;
static char root[256];
static char page[20000];     /* page.html: text, so nginx gzips it */
static size_t page_len;
#define BIG_LEN ((size_t)16 << 20)

static int big_byte(size_t i) { return (int)((i * 7 + i / 4096) & 0xff); }

static int write_file(const char *name, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static void remove_root(void)
{
    static const char *files[] = {"page.html", "index.html", "big.bin"};
    char path[512];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", root, files[i]);
        unlink(path);
    }
    rmdir(root);
}

/* The served files, made once by the parent process (each case runs in a
 * child of its own, which _exits) and removed when it exits. */
__attribute__((constructor)) static void make_root(void)
{
    snprintf(root, sizeof root, "/tmp/simul-http-nginx-XXXXXX");
    if (!mkdtemp(root)) {
        root[0] = 0;
        return;
    }
    atexit(remove_root);
    for (size_t i = 0; i + 64 < sizeof page; i += 64)
        page_len += (size_t)snprintf(page + i, 65, "<p>line %6zu of a page that compresses well</p>\n", i);
    unsigned char *big = malloc(BIG_LEN);
    for (size_t i = 0; big && i < BIG_LEN; i++)
        big[i] = (unsigned char)big_byte(i);
    if (!big || (write_file("page.html", page, page_len) | write_file("index.html", "<p>index</p>", 12) |
                 write_file("big.bin", big, BIG_LEN)) < 0)
        root[0] = 0;
    free(big);
}

static simul_http_session *H;
static simul_http_session_opts HO;
static void (*body_fn)(void);

static int main_task(void *arg)
{
    (void)arg;
    int rc = simul_http_session_new(&HO, &H);
    if (rc == 0) {
        body_fn();
        rc = simul_http_session_free(H);
    }
    return rc;
}

/* Runs fn in a loop with a session, against an nginx of this case's own
 * (servers.c: started here, stopped at the end, or by its watchdog if the
 * case dies). No nginx on the machine: the case passes with a note. */
static void run(void (*fn)(void))
{
    CHECK(root[0] != 0);
    if (servers_nginx_start(root, &NG) < 0) {
        CHECK(access("/usr/sbin/nginx", X_OK) != 0);
        fprintf(stderr, "  (no nginx: skipped)\n");
        return;
    }
    setenv("no_proxy", "*", 1);
    body_fn = fn;
    CHECK_EQ(simul_run(main_task, NULL), 0);
    servers_stop_all();
}

#define CASE_CA(name) CASE_O(name, 30, HO.ca_file = NG.ca)

static const char *tls(const char *path)
{
    static char u[4][512];
    static int k;
    char *p = u[k++ % 4];
    snprintf(p, 512, "https://localhost:%d%s", NG.tls_port, path);
    return p;
}

static const char *plain(const char *path)
{
    static char u[4][512];
    static int k;
    char *p = u[k++ % 4];
    snprintf(p, 512, "http://127.0.0.1:%d%s", NG.port, path);
    return p;
}

/* GET, read the body; the status, or the error. *version if not NULL. */
static int fetch(const char *url, int *version, const void **body, size_t *len,
                 simul_http_response **keep)
{
    simul_http_response *r;
    int rc = simul_http_get(H, url, NULL, &r);
    if (rc < 0)
        return rc;
    rc = simul_http_response_read(r, body, len);
    if (rc == 0)
        rc = simul_http_response_status(r);
    if (version)
        *version = simul_http_response_version(r);
    *keep = r;
    return rc;
}

CASE_CA(tls_h2_gzip)
{
    simul_http_response *r;
    const void *b;
    size_t n;
    int v;
    CHECK_EQ(fetch(tls("/page.html"), &v, &b, &n, &r), 200);
    CHECK_EQ(v, 20);
    CHECK(n == page_len && !memcmp(b, page, n));
    CHECK(!strcmp(simul_http_response_header(r, "content-encoding", 0), "gzip"));
    CHECK(!strcmp(simul_http_response_reason(r), "OK"));   /* h2 has no phrase */
    simul_http_timings t;
    simul_http_response_timings(r, &t);
    CHECK(t.tls > 0);
    simul_http_response_free(r);
}

CASE_O(tls_refused_without_ca, 30, (void)0)
{
    simul_http_response *r;
    char err[256];
    simul_http_request_opts o = {.error = err, .error_cap = sizeof err};
    CHECK_EQ(simul_http_get(H, tls("/page.html"), &o, &r), SIMUL_HTTP_ECERT);
    CHECK(err[0] != 0);
}

CASE_O(tls_insecure, 30, HO.insecure = 1)
{
    simul_http_response *r;
    const void *b;
    size_t n;
    CHECK_EQ(fetch(tls("/index.html"), NULL, &b, &n, &r), 200);
    simul_http_response_free(r);
}

CASE_O(tls_http11_forced, 30, do {
    HO.ca_file = NG.ca;
    HO.http_version = SIMUL_HTTP_VERSION_1_1;
} while (0))
{
    simul_http_response *r;
    const void *b;
    size_t n;
    int v;
    CHECK_EQ(fetch(tls("/page.html"), &v, &b, &n, &r), 200);
    CHECK_EQ(v, 11);
    CHECK(n == page_len);
    simul_http_response_free(r);
}

CASE_O(plain_gzip, 30, (void)0)
{
    simul_http_response *r;
    const void *b;
    size_t n;
    int v;
    CHECK_EQ(fetch(plain("/page.html"), &v, &b, &n, &r), 200);
    CHECK_EQ(v, 11);
    CHECK(n == page_len && !memcmp(b, page, n));
    CHECK(!strcmp(simul_http_response_header(r, "content-encoding", 0), "gzip"));
    simul_http_response_free(r);
}

/* ---- HTTP/2: many streams, streaming, cancel -------------------------------- */

typedef struct {
    const char *url;
    int         rc, version;
} job;

static int job_fn(void *arg)
{
    job *j = arg;
    simul_http_response *r = NULL;
    const void *b;
    size_t n;
    j->rc = fetch(j->url, &j->version, &b, &n, &r);
    simul_http_response_free(r);
    return 0;
}

CASE_O(h2_many_streams, 60, do {
    HO.ca_file = NG.ca;
    HO.limit = 100;
} while (0))
{
    static job jobs[500];
    simul_task *t[500];
    for (int i = 0; i < 500; i++) {
        jobs[i].url = tls("/page.html");
        jobs[i].url = strdup(jobs[i].url);
        t[i] = simul_spawn(job_fn, &jobs[i]);
    }
    int ok = 0, h2 = 0;
    for (int i = 0; i < 500; i++) {
        simul_join(t[i]);
        ok += jobs[i].rc == 200;
        h2 += jobs[i].version == 20;
        free((void *)jobs[i].url);
    }
    CHECK_EQ(ok, 500);
    CHECK_EQ(h2, 500);
}

CASE_CA(h2_streaming_slow_reader)
{
    simul_http_response *r;
    simul_http_request_opts o = {.max_body = SIZE_MAX};
    CHECK_EQ(simul_http_get(H, tls("/big.bin"), &o, &r), 0);
    CHECK_EQ(simul_http_response_version(r), 20);
    static unsigned char buf[8192];
    size_t got = 0;
    int k, bad = 0;
    while ((k = simul_http_response_read_chunk(r, buf, sizeof buf)) > 0) {
        for (int i = 0; i < k; i++)
            bad += buf[i] != (unsigned char)big_byte(got + (size_t)i);
        got += (size_t)k;
        if (got % (1 << 20) < sizeof buf)
            simul_sleep(0.02);   /* slow: the stream pauses meanwhile */
    }
    CHECK_EQ(k, 0);
    CHECK_EQ(got, BIG_LEN);
    CHECK_EQ(bad, 0);
    simul_http_response_free(r);
}

static int stream_then_block(void *arg)
{
    job *j = arg;
    simul_http_response *r;
    j->rc = simul_http_get(H, j->url, NULL, &r);
    if (j->rc < 0)
        return 0;
    char buf[1024];
    j->rc = simul_http_response_read_chunk(r, buf, sizeof buf);
    j->rc = simul_sleep(INFINITY);   /* holds the paused stream until cancelled */
    simul_http_response_free(r);
    return 0;
}

CASE_CA(h2_cancel_streams)
{
    static job jobs[100];
    simul_task *t[100];
    for (int i = 0; i < 100; i++) {
        jobs[i].url = tls("/big.bin");
        jobs[i].url = strdup(jobs[i].url);
        t[i] = simul_spawn(stream_then_block, &jobs[i]);
    }
    simul_sleep(0.5);
    for (int i = 0; i < 100; i++)
        simul_cancel(t[i]);
    int c = 0;
    for (int i = 0; i < 100; i++) {
        simul_join(t[i]);
        c += jobs[i].rc == -ECANCELED;
        free((void *)jobs[i].url);
    }
    CHECK_EQ(c, 100);
    /* the connection (streams reset) still serves */
    simul_http_response *r;
    const void *b;
    size_t n;
    CHECK_EQ(fetch(tls("/index.html"), NULL, &b, &n, &r), 200);
    simul_http_response_free(r);
}

/* ---- nginx's redirects and errors -------------------------------------------- */

CASE_O(redirects_and_404, 30, (void)0)
{
    simul_http_response *r;
    const void *b;
    size_t n;
    CHECK_EQ(fetch(plain("/redir"), NULL, &b, &n, &r), 200);
    CHECK_EQ(simul_http_response_history_count(r), 1);
    int st;
    const char *u;
    simul_http_response_history_at(r, 0, &st, &u);
    CHECK(st == 301 && !strcmp(u, plain("/redir")));
    CHECK(!strcmp(simul_http_response_url(r), plain("/index.html")));
    simul_http_response_free(r);
    CHECK_EQ(simul_http_get(H, plain("/redir-loop"), NULL, &r), SIMUL_HTTP_EREDIRECTS);
    CHECK_EQ(simul_http_get(H, plain("/redir-a"), NULL, &r), SIMUL_HTTP_EREDIRECTS);
    CHECK_EQ(fetch(plain("/404"), NULL, &b, &n, &r), 404);
    CHECK_EQ(simul_http_raise_for_status(r), SIMUL_HTTP_ESTATUS);
    simul_http_response_free(r);
}
