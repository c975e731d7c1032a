/*
 * test_http.c - simul/http.h, the libcurl client on the loop, against
 * servers this program starts on 127.0.0.1 / 127.0.0.2 free ports (simul's
 * own server API in tasks of the same loop): basic requests, keep-alive,
 * pool limits measured at the server (total and per host), the admission
 * queue and its timeout, redirects (history, loop, a file: target
 * refused), faults (reset mid-headers and mid-body, never answering,
 * stalling, short body, garbage status line), timeouts per phase, the body
 * cap (a gzip bomb), streaming with a slow reader (the transfer pauses),
 * cancelling 1,000 requests in flight, raise_for_status, repeated headers,
 * text() (header charset, <meta>, an override, invalid UTF-8).
 * Traffic stays on loopback.
 */
#include "harness.h"
#include "http/http_case.h"

#include <simul.h>
#include <simul/http.h>

#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

/* ---- the test server ---------------------------------------------------- */

typedef struct srv {
    simul_server *srv;
    int           port;
    int           open, max_open, accepted, requests;
    size_t        sent;          /* body bytes written by /big */
    unsigned char *bomb;         /* gzip'd zeros for /bomb */
    size_t        bomb_len;
} srv;


/* A case's session and responses free all they hold, libcurl's buffers
 * for cancelled transfers included: LeakSanitizer checks after each. */
__attribute__((constructor)) static void leaks_checked(void)
{
    harness_check_leaks();
}

static int put(simul_stream *st, const char *s)
{
    return simul_stream_write(st, s, strlen(s));
}

static int reply(simul_stream *st, int code, const char *reason, const char *extra,
                 const char *body)
{
    char h[1024];
    snprintf(h, sizeof h, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s\r\n", code, reason,
             strlen(body), extra ? extra : "");
    put(st, h);
    put(st, body);
    return simul_stream_drain(st) < 0 ? 0 : 1;
}

static void header_value(const char *req, const char *name, char *out, size_t cap)
{
    out[0] = 0;
    const char *p = strcasestr(req, name);
    if (!p)
        return;
    p += strlen(name);
    size_t n = strcspn(p, "\r\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

/* Answers nothing more: waits until the client closes (or resets). */
static void wait_close(simul_stream *st)
{
    char c[256];
    while (simul_stream_read(st, c, sizeof c) > 0) {
    }
}

/* 1: keep the connection, 0: close it, -1: abort it. */
static int route(srv *sv, simul_stream *st, const char *path, const char *req)
{
    char buf[1024];
    int n;
    if (!strcmp(path, "/hello"))
        return reply(st, 200, "OK", "Content-Type: text/plain\r\n", "hello world");
    if (sscanf(path, "/delay/%d", &n) == 1) {
        if (simul_sleep(n / 1000.0) < 0)
            return 0;
        return reply(st, 200, "OK", NULL, "ok");
    }
    if (sscanf(path, "/redir/%d", &n) == 1) {
        if (n == 0)
            return reply(st, 200, "OK", NULL, "done");
        snprintf(buf, sizeof buf, "Location: /redir/%d\r\n", n - 1);
        return reply(st, 302, "Found", buf, "");
    }
    if (!strcmp(path, "/loop"))
        return reply(st, 302, "Found", "Location: /loop\r\n", "");
    if (!strcmp(path, "/tofile"))
        return reply(st, 302, "Found", "Location: file:///etc/passwd\r\n", "");
    if (!strcmp(path, "/status/404"))
        return reply(st, 404, "Not Found", NULL, "not found");
    if (!strcmp(path, "/headers"))
        return reply(st, 200, "OK",
                     "X-Multi: a\r\nX-Other: z\r\nx-multi: b\r\nX-MULTI:   c  \r\n", "h");
    if (!strcmp(path, "/ua")) {
        header_value(req, "\r\nUser-Agent: ", buf, sizeof buf);
        return reply(st, 200, "OK", NULL, buf);
    }
    if (!strcmp(path, "/xtest")) {
        header_value(req, "\r\nX-Test: ", buf, sizeof buf);
        return reply(st, 200, "OK", NULL, buf[0] ? buf : "-");
    }
    if (!strcmp(path, "/auth")) {
        header_value(req, "\r\nAuthorization: ", buf, sizeof buf);
        return reply(st, 200, "OK", NULL, buf[0] ? buf : "-");
    }
    if (!strcmp(path, "/cookie/set"))
        return reply(st, 200, "OK", "Set-Cookie: k=v1; Path=/\r\n", "set");
    if (!strcmp(path, "/cookie/get")) {
        header_value(req, "\r\nCookie: ", buf, sizeof buf);
        return reply(st, 200, "OK", NULL, buf[0] ? buf : "-");
    }
    if (!strncmp(path, "/to/", 4)) {   /* /to/URL: a redirect there */
        snprintf(buf, sizeof buf, "Location: %.900s\r\n", path + 4);
        return reply(st, 307, "Temporary Redirect", buf, "");
    }
    if (!strcmp(path, "/echo")) {
        char m[16], cl[32], body[4096];
        sscanf(req, "%15s", m);
        header_value(req, "\r\nContent-Length: ", cl, sizeof cl);
        size_t blen = (size_t)atol(cl);
        if (blen >= sizeof body || (blen && simul_stream_readexactly(st, body, blen) < 0))
            return 0;
        snprintf(buf, sizeof buf, "%s %.*s", m, (int)blen, body);
        return reply(st, 200, "OK", NULL, buf);
    }
    if (!strcmp(path, "/reset-headers")) {
        put(st, "HTTP/1.1 200 OK\r\nContent-Le");
        simul_stream_drain(st);
        simul_sleep(0.05);
        return -1;
    }
    if (!strcmp(path, "/reset-body") || !strcmp(path, "/stall") || !strcmp(path, "/short")) {
        put(st, "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789");
        simul_stream_drain(st);
        if (!strcmp(path, "/stall"))
            wait_close(st);
        else if (!strcmp(path, "/reset-body")) {
            simul_sleep(0.05);
            return -1;
        }
        return 0;
    }
    if (!strcmp(path, "/never")) {
        wait_close(st);
        return 0;
    }
    if (!strcmp(path, "/bigheader") || !strcmp(path, "/manyheaders")) {
        put(st, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n");
        if (!strcmp(path, "/bigheader")) {
            static char big[1 << 20];
            memset(big, 'a', sizeof big);
            put(st, "X-Big: ");
            simul_stream_write(st, big, sizeof big);
            put(st, "\r\n");
        } else {
            for (int i = 0; i < 1500; i++) {
                snprintf(buf, sizeof buf, "X-H%d: %d\r\n", i, i);
                put(st, buf);
            }
        }
        put(st, "\r\nok");
        return simul_stream_drain(st) < 0 ? 0 : 1;
    }
    if (!strcmp(path, "/badchunk")) {
        put(st, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n");
        simul_stream_drain(st);
        return 0;
    }
    if (!strcmp(path, "/chunked")) {
        put(st, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
        return simul_stream_drain(st) < 0 ? 0 : 1;
    }
    if (!strcmp(path, "/slowloris")) {   /* a header byte every 20 ms, forever */
        put(st, "HTTP/1.1 200 OK\r\nX-Slow: ");
        while (simul_stream_write(st, "a", 1) >= 0 && simul_stream_drain(st) >= 0 &&
               simul_sleep(0.02) == 0) {
        }
        return 0;
    }
    if (!strcmp(path, "/latin1"))
        return reply(st, 200, "OK", "Content-Type: text/plain; charset=ISO-8859-1\r\n", "caf\xe9");
    if (!strcmp(path, "/meta"))
        return reply(st, 200, "OK", "Content-Type: text/html\r\n",
                     "<html><head><meta charset=\"windows-1252\"></head>caf\xe9</html>");
    if (!strcmp(path, "/badutf8"))
        return reply(st, 200, "OK", "Content-Type: text/plain; charset=utf-8\r\n", "a\xff" "b");
    if (!strcmp(path, "/429"))
        return reply(st, 429, "Too Many Requests", "Retry-After: 7\r\n", "slow down");
    if (!strcmp(path, "/garbage")) {
        put(st, "garbage here\r\nfoo\r\n\r\n");
        simul_stream_drain(st);
        return 0;
    }
    if (!strcmp(path, "/bomb")) {
        snprintf(buf, sizeof buf,
                 "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n",
                 sv->bomb_len);
        put(st, buf);
        simul_stream_write(st, sv->bomb, sv->bomb_len);
        return simul_stream_drain(st) < 0 ? 0 : 1;
    }
    size_t big;
    if (sscanf(path, "/big/%zu", &big) == 1) {
        static char chunk[16384];
        snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", big);
        put(st, buf);
        for (size_t off = 0; off < big;) {
            size_t k = big - off < sizeof chunk ? big - off : sizeof chunk;
            for (size_t i = 0; i < k; i++)
                chunk[i] = (char)('a' + (off + i) % 26);
            if (simul_stream_write(st, chunk, k) < 0 || simul_stream_drain(st) < 0)
                return 0;
            off += k;
            sv->sent = off;
        }
        return 1;
    }
    return reply(st, 404, "Not Found", NULL, "no route");
}

static int handler(simul_stream *st, void *arg)
{
    srv *sv = arg;
    char req[8192], path[1024];
    sv->accepted++;
    if (++sv->open > sv->max_open)
        sv->max_open = sv->open;
    for (;;) {
        int n = simul_stream_readuntil(st, "\r\n\r\n", 4, req, sizeof req);
        if (n <= 0 || sscanf(req, "%*s %1023s", path) != 1)
            break;
        sv->requests++;
        int keep = route(sv, st, path, req);
        if (keep < 0)
            simul_stream_abort(st);
        if (keep <= 0)
            break;
    }
    sv->open--;
    return 0;
}

static int srv_start(srv *sv, const char *host)
{
    memset(sv, 0, sizeof *sv);
    int rc = simul_start_server(host, 0, handler, sv, NULL, &sv->srv);
    if (rc == 0)
        sv->port = simul_server_port(sv->srv);
    return rc;
}

static void srv_stop(srv *sv)
{
    simul_server_close(sv->srv, 0);
    free(sv->bomb);
}

static char *url_of(const srv *sv, const char *host, const char *path)
{
    static char u[8][512];
    static int k;
    char *p = u[k++ % 8];
    snprintf(p, 512, "http://%.64s:%d%.400s", host, sv->port, path);
    return p;
}
#define URL(path) url_of(&S, "127.0.0.1", path)

/* Each case: a main task with server S and session H (opts from HO). */
static srv S;
static simul_http_session *H;
static simul_http_session_opts HO;
static void (*body_fn)(void);

static int main_task(void *arg)
{
    (void)arg;
    if (srv_start(&S, "127.0.0.1") < 0)
        return -1;
    int rc = simul_http_session_new(&HO, &H);
    if (rc == 0) {
        body_fn();
        rc = simul_http_session_free(H);
    }
    srv_stop(&S);
    return rc;
}

static void run(void (*fn)(void))
{
    /* a proxy from the environment must not take our loopback traffic */
    setenv("no_proxy", "*", 1);
    body_fn = fn;
    CHECK_EQ(simul_run(main_task, NULL), 0);
}
#define CASE(name) CASE_O(name, 20, (void)0)

/* GET url, read the whole body into a static buffer; returns the status or
 * an error (request or read). */
static int fetch(const char *url, const simul_http_request_opts *o, char *out, size_t cap)
{
    simul_http_response *r;
    int rc = simul_http_get(H, url, o, &r);
    if (rc < 0)
        return rc;
    const void *b;
    size_t n;
    rc = simul_http_response_read(r, &b, &n);
    if (rc == 0) {
        if (out) {
            snprintf(out, cap, "%.*s", (int)n, (const char *)b);
        }
        rc = simul_http_response_status(r);
    }
    simul_http_response_free(r);
    return rc;
}

/* ---- basics ----------------------------------------------------------------- */

CASE(get_basic)
{
    simul_http_response *r;
    CHECK_EQ(simul_http_get(H, URL("/hello"), NULL, &r), 0);
    CHECK_EQ(simul_http_response_status(r), 200);
    CHECK(!strcmp(simul_http_response_reason(r), "OK"));
    CHECK_EQ(simul_http_response_version(r), 11);
    CHECK(!strcmp(simul_http_response_url(r), URL("/hello")));
    CHECK(!strcmp(simul_http_response_header(r, "content-type", 0), "text/plain"));
    CHECK_EQ(simul_http_raise_for_status(r), 0);
    const void *b;
    size_t n;
    CHECK_EQ(simul_http_response_read(r, &b, &n), 0);
    CHECK_EQ(n, 11);
    CHECK(!strcmp(b, "hello world"));   /* NUL-terminated */
    /* again: the same body */
    const void *b2;
    size_t n2;
    CHECK_EQ(simul_http_response_read(r, &b2, &n2), 0);
    CHECK(b2 == b && n2 == n);
    simul_http_timings t;
    CHECK_EQ(simul_http_response_timings(r, &t), 0);
    CHECK(t.total >= t.first_byte && t.first_byte > 0);
    CHECK(!strcmp(simul_http_response_error(r), ""));
    CHECK_EQ(simul_http_response_history_count(r), 0);
    simul_http_response_free(r);
}

CASE(user_agent_and_headers)
{
    char body[256];
    char ua[64];
    snprintf(ua, sizeof ua, "simul/%d.%d.%d", SIMUL_VERSION_MAJOR, SIMUL_VERSION_MINOR,
             SIMUL_VERSION_PATCH);
    CHECK_EQ(fetch(URL("/ua"), NULL, body, sizeof body), 200);
    CHECK(!strcmp(body, ua));
    const char *hs[] = {"X-Test: one", NULL};
    simul_http_request_opts o = {.headers = hs};
    CHECK_EQ(fetch(URL("/xtest"), &o, body, sizeof body), 200);
    CHECK(!strcmp(body, "one"));
}

static const char *dflt_hs[] = {"X-Test: dflt", NULL};
CASE_O(session_default_headers, 20, HO.headers = dflt_hs)
{
    char body[64];
    CHECK_EQ(fetch(URL("/xtest"), NULL, body, sizeof body), 200);
    CHECK(!strcmp(body, "dflt"));
    const char *mine[] = {"x-test: mine", NULL};   /* replaces the default */
    simul_http_request_opts o = {.headers = mine};
    CHECK_EQ(fetch(URL("/xtest"), &o, body, sizeof body), 200);
    CHECK(!strcmp(body, "mine"));
}

CASE(repeated_headers)
{
    simul_http_response *r;
    CHECK_EQ(simul_http_get(H, URL("/headers"), NULL, &r), 0);
    CHECK_EQ(simul_http_response_header_count(r, "X-Multi"), 3);
    CHECK(!strcmp(simul_http_response_header(r, "x-multi", 0), "a"));
    CHECK(!strcmp(simul_http_response_header(r, "X-MULTI", 1), "b"));
    CHECK(!strcmp(simul_http_response_header(r, "x-MuLtI", 2), "c"));
    CHECK(simul_http_response_header(r, "x-multi", 3) == NULL);
    CHECK(simul_http_response_header(r, "x-none", 0) == NULL);
    int total = simul_http_response_header_count(r, NULL);
    CHECK_EQ(total, 5);   /* Content-Length + 4 */
    const char *n, *v;
    CHECK_EQ(simul_http_response_header_at(r, 2, &n, &v), 0);
    CHECK(!strcmp(n, "X-Other") && !strcmp(v, "z"));
    CHECK_EQ(simul_http_response_header_at(r, (size_t)total, &n, &v), -ENOENT);
    simul_http_response_free(r);
}

CASE(raise_for_status)
{
    simul_http_response *r;
    CHECK_EQ(simul_http_get(H, URL("/status/404"), NULL, &r), 0);
    CHECK_EQ(simul_http_response_status(r), 404);
    CHECK(!strcmp(simul_http_response_reason(r), "Not Found"));
    CHECK_EQ(simul_http_raise_for_status(r), SIMUL_HTTP_ESTATUS);
    const void *b;
    size_t n;
    CHECK_EQ(simul_http_response_read(r, &b, &n), 0);   /* still readable */
    CHECK(n == 9 && !memcmp(b, "not found", 9));
    simul_http_response_free(r);
    CHECK(strstr(simul_strerror(SIMUL_HTTP_ESTATUS), "HTTP") != NULL);
}

CASE(keepalive_reuse)
{
    for (int i = 0; i < 10; i++)
        CHECK_EQ(fetch(URL("/hello"), NULL, NULL, 0), 200);
    CHECK_EQ(S.accepted, 1);
    CHECK_EQ(S.requests, 10);
}

CASE(session_busy)
{
    simul_http_response *r;
    CHECK_EQ(simul_http_get(H, URL("/hello"), NULL, &r), 0);
    CHECK_EQ(simul_http_session_free(H), -EBUSY);
    simul_http_response_free(r);
}

CASE(bad_urls)
{
    char err[256];
    simul_http_request_opts o = {.error = err, .error_cap = sizeof err};
    simul_http_response *r;
    CHECK_EQ(simul_http_get(H, "ftp://127.0.0.1/x", &o, &r), SIMUL_HTTP_EURL);
    CHECK(err[0] != 0);
    CHECK_EQ(simul_http_get(H, "no url at all", &o, &r), SIMUL_HTTP_EURL);
    CHECK_EQ(simul_http_get(H, NULL, &o, &r), -EINVAL);
}

CASE(resolve_localhost)
{
    /* libcurl's resolver (a thread of its own) on the loop: /etc/hosts */
    char body[64];
    CHECK_EQ(fetch(url_of(&S, "localhost", "/hello"), NULL, body, sizeof body), 200);
    CHECK(!strcmp(body, "hello world"));
}

CASE(refused)
{
    /* a port nobody listens on: bind one, learn it, close it */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t al = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &al);
    close(fd);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    char err[256];
    simul_http_request_opts o = {.error = err, .error_cap = sizeof err};
    simul_http_response *r;
    CHECK_EQ(simul_http_get(H, u, &o, &r), SIMUL_HTTP_EREFUSED);
    CHECK(strlen(err) > 0);
}

/* ---- pool limits, measured at the server -------------------------------------- */

typedef struct {
    const char *url;
    int         rc;
} job;

static int job_fn(void *arg)
{
    job *j = arg;
    j->rc = fetch(j->url, NULL, NULL, 0);
    return 0;
}

static void many(job *jobs, int n)
{
    simul_task **t = malloc(sizeof *t * (size_t)n);
    for (int i = 0; i < n; i++)
        t[i] = simul_spawn(job_fn, &jobs[i]);
    for (int i = 0; i < n; i++)
        simul_join(t[i]);
    free(t);
}

CASE_O(limit_total_1000, 60, HO.limit = 50)
{
    static job jobs[1000];
    for (int i = 0; i < 1000; i++)
        jobs[i].url = URL("/delay/5");
    many(jobs, 1000);
    int ok = 0;
    for (int i = 0; i < 1000; i++)
        ok += jobs[i].rc == 200;
    CHECK_EQ(ok, 1000);
    CHECK(S.max_open <= 50);
    CHECK(S.max_open >= 40);   /* the limit is used, not 1 */
    CHECK(S.accepted <= 100);  /* connections are reused */
}

CASE_O(limit_per_host, 30, HO.limit_per_host = 3)
{
    static srv S2;
    CHECK_EQ(srv_start(&S2, "127.0.0.2"), 0);
    static job jobs[40];
    for (int i = 0; i < 40; i++)
        jobs[i].url = i % 2 ? url_of(&S2, "127.0.0.2", "/delay/20")
                            : url_of(&S, "127.0.0.1", "/delay/20");
    many(jobs, 40);
    for (int i = 0; i < 40; i++)
        CHECK_EQ(jobs[i].rc, 200);
    CHECK(S.max_open <= 3 && S2.max_open <= 3);
    CHECK(S.max_open >= 2 && S2.max_open >= 2);
    srv_stop(&S2);
}

CASE_O(pool_wait_not_total, 30, HO.limit = 1)
{
    /* holds the only slot: its transfer never finishes */
    simul_http_response *held;
    CHECK_EQ(simul_http_get(H, URL("/stall"), NULL, &held), 0);
    simul_http_request_opts o = {.timeouts = {.pool = 0.1}};
    simul_http_response *r;
    char err[128];
    o.error = err;
    o.error_cap = sizeof err;
    double t0 = simul_now();
    CHECK_EQ(simul_http_get(H, URL("/hello"), &o, &r), SIMUL_HTTP_ETIMEOUT_POOL);
    CHECK(simul_now() - t0 >= 0.09);
    CHECK(strstr(err, "slot") != NULL);
    simul_http_response_free(held);

    /* queue time is not total time: the slot is busy for 0.5 s,
     * the second request's total of 0.3 s starts after that */
    static job slow = {.url = NULL};
    slow.url = URL("/delay/500");
    simul_task *t = simul_spawn(job_fn, &slow);
    simul_sleep(0.05);
    simul_http_request_opts o2 = {.timeouts = {.total = 0.3}};
    CHECK_EQ(fetch(URL("/delay/50"), &o2, NULL, 0), 200);
    simul_join(t);
    CHECK_EQ(slow.rc, 200);
}

/* ---- redirects ------------------------------------------------------------------- */

CASE(redirects)
{
    simul_http_response *r;
    CHECK_EQ(simul_http_get(H, URL("/redir/3"), NULL, &r), 0);
    CHECK_EQ(simul_http_response_status(r), 200);
    CHECK(!strcmp(simul_http_response_url(r), URL("/redir/0")));
    CHECK_EQ(simul_http_response_history_count(r), 3);
    int st;
    const char *u;
    CHECK_EQ(simul_http_response_history_at(r, 0, &st, &u), 0);
    CHECK(st == 302 && !strcmp(u, URL("/redir/3")));
    CHECK_EQ(simul_http_response_history_at(r, 2, &st, &u), 0);
    CHECK(st == 302 && !strcmp(u, URL("/redir/1")));
    CHECK_EQ(simul_http_response_history_at(r, 3, &st, &u), -ENOENT);
    const void *b;
    size_t n;
    CHECK_EQ(simul_http_response_read(r, &b, &n), 0);
    CHECK(!strcmp(b, "done"));
    simul_http_response_free(r);

    simul_http_request_opts o = {.max_redirects = 2};
    CHECK_EQ(simul_http_get(H, URL("/redir/3"), &o, &r), SIMUL_HTTP_EREDIRECTS);
    CHECK_EQ(simul_http_get(H, URL("/loop"), NULL, &r), SIMUL_HTTP_EREDIRECTS);
    char err[256];
    simul_http_request_opts of = {.error = err, .error_cap = sizeof err};
    CHECK_EQ(simul_http_get(H, URL("/tofile"), &of, &r), SIMUL_HTTP_EREDIRECT);
    CHECK(err[0] != 0);

    simul_http_request_opts nf = {.max_redirects = SIMUL_HTTP_NO_REDIRECTS};
    CHECK_EQ(simul_http_get(H, URL("/redir/1"), &nf, &r), 0);
    CHECK_EQ(simul_http_response_status(r), 302);
    CHECK(!strcmp(simul_http_response_header(r, "location", 0), "/redir/0"));
    simul_http_response_free(r);
}

static void case_redirect_drops_credentials(void);
TEST_T(redirect_drops_credentials, 20)
{
    memset(&HO, 0, sizeof HO);
    run(case_redirect_drops_credentials);
}
static void case_redirect_drops_credentials(void)
{
    static srv S2;
    CHECK_EQ(srv_start(&S2, "127.0.0.2"), 0);
    const char *hs[] = {"Authorization: Bearer secret", NULL};
    simul_http_request_opts o = {.headers = hs};
    char body[256], path[256];
    /* same host: kept */
    snprintf(path, sizeof path, "/to/%s", URL("/auth"));
    CHECK_EQ(fetch(URL(path), &o, body, sizeof body), 200);
    CHECK(!strcmp(body, "Bearer secret"));
    /* another host: dropped */
    snprintf(path, sizeof path, "/to/%s", url_of(&S2, "127.0.0.2", "/auth"));
    CHECK_EQ(fetch(URL(path), &o, body, sizeof body), 200);
    CHECK(!strcmp(body, "-"));
    srv_stop(&S2);
}

CASE_O(cookie_jar, 20, HO.cookies = 1)
{
    char body[256];
    CHECK_EQ(fetch(URL("/cookie/get"), NULL, body, sizeof body), 200);
    CHECK(!strcmp(body, "-"));
    CHECK_EQ(fetch(URL("/cookie/set"), NULL, body, sizeof body), 200);
    CHECK_EQ(fetch(URL("/cookie/get"), NULL, body, sizeof body), 200);
    CHECK(!strcmp(body, "k=v1"));
}

CASE(no_cookie_jar)
{
    char body[256];
    CHECK_EQ(fetch(URL("/cookie/set"), NULL, body, sizeof body), 200);
    CHECK_EQ(fetch(URL("/cookie/get"), NULL, body, sizeof body), 200);
    CHECK(!strcmp(body, "-"));
}

CASE(methods_and_body)
{
    char body[256];
    simul_http_request_opts o = {.body = "a=1&b=2", .body_len = 7};
    simul_http_response *r;
    CHECK_EQ(simul_http_request(H, "POST", URL("/echo"), &o, &r), 0);
    const void *b;
    size_t n;
    CHECK_EQ(simul_http_response_read(r, &b, &n), 0);
    CHECK(!strcmp(b, "POST a=1&b=2"));
    simul_http_response_free(r);
    CHECK_EQ(simul_http_request(H, "PUT", URL("/echo"), &o, &r), 0);
    CHECK_EQ(simul_http_response_read(r, &b, &n), 0);
    CHECK(!strcmp(b, "PUT a=1&b=2"));
    simul_http_response_free(r);
    CHECK_EQ(simul_http_request(H, "HEAD", URL("/hello"), NULL, &r), 0);
    CHECK_EQ(simul_http_response_status(r), 200);
    CHECK(!strcmp(simul_http_response_header(r, "content-length", 0), "11"));
    CHECK_EQ(simul_http_response_read(r, &b, &n), 0);
    CHECK_EQ(n, 0);
    simul_http_response_free(r);
    CHECK_EQ(fetch(URL("/echo"), NULL, body, sizeof body), 200);
    CHECK(!strcmp(body, "GET "));
}

/* ---- faults and timeouts --------------------------------------------------------- */

CASE(reset_mid_headers)
{
    simul_http_response *r;
    CHECK_EQ(simul_http_get(H, URL("/reset-headers"), NULL, &r), SIMUL_HTTP_ERESET);
}

CASE(reset_mid_body)
{
    simul_http_response *r;
    CHECK_EQ(simul_http_get(H, URL("/reset-body"), NULL, &r), 0);
    const void *b;
    size_t n;
    CHECK_EQ(simul_http_response_read(r, &b, &n), SIMUL_HTTP_ERESET);
    CHECK(strlen(simul_http_response_error(r)) > 0);
    /* sticky */
    char c[16];
    CHECK_EQ(simul_http_response_read_chunk(r, c, sizeof c), 10);
    CHECK_EQ(simul_http_response_read_chunk(r, c, sizeof c), SIMUL_HTTP_ERESET);
    simul_http_response_free(r);
}

/* The headers arrive (the request succeeds); then read()'s result. */
static int body_result(const char *url, const simul_http_request_opts *o)
{
    simul_http_response *r;
    int rc = simul_http_get(H, url, o, &r);
    if (rc < 0)
        return 1;   /* no CHECK_EQ against a body error can pass */
    const void *b;
    size_t n;
    rc = simul_http_response_read(r, &b, &n);
    simul_http_response_free(r);
    return rc;
}

CASE(short_body)
{
    CHECK_EQ(body_result(URL("/short"), NULL), SIMUL_HTTP_EINCOMPLETE);
}

CASE(garbage_status)
{
    simul_http_response *r;
    CHECK_EQ(simul_http_get(H, URL("/garbage"), NULL, &r), SIMUL_HTTP_EPROTO);
}

CASE(malformed_responses)
{
    simul_http_response *r;
    char err[256];
    simul_http_request_opts o = {.error = err, .error_cap = sizeof err};
    int rc = simul_http_get(H, URL("/bigheader"), &o, &r);
    CHECK_EQ(rc, SIMUL_HTTP_EPROTO);
    CHECK(strstr(err, "header") != NULL);
    CHECK_EQ(simul_http_get(H, URL("/manyheaders"), NULL, &r), SIMUL_HTTP_EPROTO);
    CHECK_EQ(body_result(URL("/badchunk"), NULL), SIMUL_HTTP_EPROTO);
    /* a good chunked body, with a trailer that is not a header */
    CHECK_EQ(simul_http_get(H, URL("/chunked"), NULL, &r), 0);
    const void *b;
    size_t n;
    CHECK_EQ(simul_http_response_read(r, &b, &n), 0);
    CHECK(n == 11 && !memcmp(b, "hello world", 11));
    CHECK(simul_http_response_header(r, "x-trailer", 0) == NULL);
    simul_http_response_free(r);
}

CASE(slowloris_headers)
{
    /* bytes keep coming, so no read timeout; the total one ends it */
    simul_http_response *r;
    simul_http_request_opts o = {.timeouts = {.total = 0.3, .read = 0.2}};
    double t0 = simul_now();
    CHECK_EQ(simul_http_get(H, URL("/slowloris"), &o, &r), SIMUL_HTTP_ETIMEOUT_TOTAL);
    CHECK(simul_now() - t0 < 1.5);
}

CASE(too_many_requests)
{
    simul_http_response *r;
    CHECK_EQ(simul_http_get(H, URL("/429"), NULL, &r), 0);
    CHECK_EQ(simul_http_raise_for_status(r), SIMUL_HTTP_ESTATUS);
    CHECK_EQ(simul_http_response_status(r), 429);
    CHECK(!strcmp(simul_http_response_reason(r), "Too Many Requests"));
    CHECK(!strcmp(simul_http_response_header(r, "retry-after", 0), "7"));
    simul_http_response_free(r);
}

CASE(never_answers)
{
    simul_http_response *r;
    simul_http_request_opts o = {.timeouts = {.total = 0.2}};
    double t0 = simul_now();
    CHECK_EQ(simul_http_get(H, URL("/never"), &o, &r), SIMUL_HTTP_ETIMEOUT_TOTAL);
    double dt = simul_now() - t0;
    CHECK(dt >= 0.19 && dt < 1.0);
    simul_http_request_opts o2 = {.timeouts = {.read = 0.2}};
    t0 = simul_now();
    CHECK_EQ(simul_http_get(H, URL("/never"), &o2, &r), SIMUL_HTTP_ETIMEOUT_READ);
    dt = simul_now() - t0;
    CHECK(dt >= 0.19 && dt < 1.0);
}

CASE(stall_mid_body)
{
    simul_http_response *r;
    simul_http_request_opts o = {.timeouts = {.read = 0.2}};
    CHECK_EQ(simul_http_get(H, URL("/stall"), &o, &r), 0);
    const void *b;
    size_t n;
    double t0 = simul_now();
    CHECK_EQ(simul_http_response_read(r, &b, &n), SIMUL_HTTP_ETIMEOUT_READ);
    CHECK(simul_now() - t0 < 1.0);
    simul_http_response_free(r);
}

CASE(connect_timeout)
{
    /* a listener whose accept queue is full: SYNs go unanswered */
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t al = sizeof a;
    bind(lfd, (struct sockaddr *)&a, sizeof a);
    listen(lfd, 0);
    getsockname(lfd, (struct sockaddr *)&a, &al);
    int fill[4];
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(fill[i], (struct sockaddr *)&a, sizeof a);
    }
    simul_sleep(0.05);
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    simul_http_request_opts o = {.timeouts = {.connect = 0.2, .total = 5}};
    simul_http_response *r;
    double t0 = simul_now();
    int rc = simul_http_get(H, u, &o, &r);
    CHECK_EQ(rc, SIMUL_HTTP_ETIMEOUT_CONNECT);
    CHECK(simul_now() - t0 < 2.0);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}

/* ---- body cap and streaming ------------------------------------------------------- */

CASE(body_cap)
{
    simul_http_response *r;
    simul_http_request_opts o = {.max_body = 100000};
    CHECK_EQ(body_result(URL("/big/200000"), &o), SIMUL_HTTP_EBODY);
    const void *b;
    size_t n;
    /* exactly the cap is fine */
    CHECK_EQ(simul_http_get(H, URL("/big/100000"), &o, &r), 0);
    CHECK_EQ(simul_http_response_read(r, &b, &n), 0);
    CHECK_EQ(n, 100000);
    simul_http_response_free(r);
}

CASE(gzip_bomb)
{
    /* 256 MiB of zeros, gzip'd (~250 KiB); the cap is 1 MiB of decoded bytes */
    z_stream z = {0};
    deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
    size_t cap = 1 << 20;
    S.bomb = malloc(cap);
    static unsigned char zeros[1 << 16];
    z.next_out = S.bomb;
    z.avail_out = (uInt)cap;
    for (int i = 0; i < 4096; i++) {
        z.next_in = zeros;
        z.avail_in = sizeof zeros;
        deflate(&z, i == 4095 ? Z_FINISH : Z_NO_FLUSH);
    }
    S.bomb_len = z.total_out;
    deflateEnd(&z);
    CHECK(S.bomb_len < cap);
    simul_http_response *r;
    simul_http_request_opts o = {.max_body = 1 << 20};
    CHECK_EQ(simul_http_get(H, URL("/bomb"), &o, &r), 0);
    CHECK(!strcmp(simul_http_response_header(r, "content-encoding", 0), "gzip"));
    const void *b;
    size_t n;
    CHECK_EQ(simul_http_response_read(r, &b, &n), SIMUL_HTTP_EBODY);
    simul_http_response_free(r);
    /* the body arrives before read(): the transfer pauses at the window,
     * and resuming it meets the cap inside libcurl's held data */
    CHECK_EQ(simul_http_get(H, URL("/bomb"), &o, &r), 0);
    simul_sleep(0.2);
    CHECK_EQ(simul_http_response_read(r, &b, &n), SIMUL_HTTP_EBODY);
    simul_http_response_free(r);
}

CASE(streaming_backpressure)
{
    size_t total = 64u << 20;   /* 64 MiB */
    char path[64];
    snprintf(path, sizeof path, "/big/%zu", total);
    simul_http_response *r;
    simul_http_request_opts o = {.max_body = SIZE_MAX, .timeouts = {.read = 0.3}};
    CHECK_EQ(simul_http_get(H, URL(path), &o, &r), 0);
    static char buf[4096];
    size_t got = 0;
    int k = simul_http_response_read_chunk(r, buf, sizeof buf);
    CHECK(k > 0);
    got += (size_t)k;
    /* a slow reader: the transfer pauses, the server blocks on a full
     * socket, and the read timeout does not fire meanwhile */
    simul_sleep(0.6);
    CHECK(S.sent < 16u << 20);
    int bad = 0;
    while ((k = simul_http_response_read_chunk(r, buf, sizeof buf)) > 0) {
        for (int i = 0; i < k; i++)
            bad += buf[i] != (char)('a' + (got + (size_t)i) % 26);
        got += (size_t)k;
    }
    CHECK_EQ(k, 0);
    CHECK_EQ(bad, 0);
    CHECK_EQ(got, total);
    simul_http_response_free(r);
}

CASE(free_unread_closes)
{
    simul_http_response *r;
    CHECK_EQ(simul_http_get(H, URL("/big/10000000"), NULL, &r), 0);
    simul_http_response_free(r);   /* mid-body: the connection is closed */
    CHECK_EQ(fetch(URL("/hello"), NULL, NULL, 0), 200);
    CHECK_EQ(S.accepted, 2);
}

/* ---- cancellation ----------------------------------------------------------------- */

static int never_fn(void *arg)
{
    job *j = arg;
    simul_http_response *r;
    j->rc = simul_http_get(H, j->url, NULL, &r);
    if (j->rc == 0)
        simul_http_response_free(r);
    return 0;
}

CASE_O(cancel_1000_in_flight, 60, HO.limit = 200)
{
    static job jobs[1000];
    simul_task *t[1000];
    for (int i = 0; i < 1000; i++) {
        jobs[i].url = URL("/never");
        t[i] = simul_spawn(never_fn, &jobs[i]);
    }
    while (S.requests < 200)
        simul_sleep(0.01);
    CHECK_EQ(S.open, 200);
    for (int i = 0; i < 1000; i++)
        simul_cancel(t[i]);
    for (int i = 0; i < 1000; i++)
        simul_join(t[i]);
    int c = 0;
    for (int i = 0; i < 1000; i++)
        c += jobs[i].rc == -ECANCELED;
    CHECK_EQ(c, 1000);
    /* every connection was closed: the server sees them go */
    for (int i = 0; i < 100 && S.open; i++)
        simul_sleep(0.01);
    CHECK_EQ(S.open, 0);
    /* the session still works */
    CHECK_EQ(fetch(URL("/hello"), NULL, NULL, 0), 200);
}

CASE(cancel_by_scope)
{
    simul_scope sc;
    simul_http_response *r;
    simul_scope_enter(&sc, simul_now() + 0.1);
    int rc = simul_http_get(H, URL("/never"), NULL, &r);
    CHECK_EQ(rc, -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    /* a read cancelled mid-body, then the response is freed */
    CHECK_EQ(simul_http_get(H, URL("/stall"), NULL, &r), 0);
    simul_scope_enter(&sc, simul_now() + 0.1);
    const void *b;
    size_t n;
    CHECK_EQ(simul_http_response_read(r, &b, &n), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    simul_http_response_free(r);
}

/* ---- text() ---------------------------------------------------------------- */

CASE(text_decoding)
{
    simul_http_response *r;
    const char *t, *enc;
    size_t n;
    /* the header's charset */
    CHECK_EQ(simul_http_get(H, URL("/latin1"), NULL, &r), 0);
    CHECK_EQ(simul_http_response_text(r, NULL, &t, &n, &enc), 0);
    CHECK(!strcmp(t, "caf\xc3\xa9") && n == 5);
    CHECK(!strcmp(enc, "windows-1252"));
    /* an override, as text(encoding=) */
    CHECK_EQ(simul_http_response_text(r, "utf-8", &t, &n, &enc), 0);
    CHECK(!strcmp(t, "caf\xef\xbf\xbd"));
    CHECK_EQ(simul_http_response_text(r, "no-such-charset", &t, &n, &enc), -EINVAL);
    simul_http_response_free(r);
    /* <meta charset> in the page */
    CHECK_EQ(simul_http_get(H, URL("/meta"), NULL, &r), 0);
    CHECK_EQ(simul_http_response_text(r, NULL, &t, &n, &enc), 0);
    CHECK(strstr(t, "caf\xc3\xa9") != NULL);
    simul_http_response_free(r);
    /* invalid UTF-8: U+FFFD, never an error */
    CHECK_EQ(simul_http_get(H, URL("/badutf8"), NULL, &r), 0);
    CHECK_EQ(simul_http_response_text(r, NULL, &t, &n, NULL), 0);
    CHECK(!strcmp(t, "a\xef\xbf\xbd" "b"));
    simul_http_response_free(r);
}

/* ---- options ------------------------------------------------------------------------ */

TEST(session_outside_loop)
{
    simul_http_session *s;
    CHECK_EQ(simul_http_session_new(NULL, &s), -EPERM);
}

CASE(bad_options)
{
    simul_http_session *s2;
    simul_http_session_opts b = {.timeouts = {.total = NAN}};
    CHECK_EQ(simul_http_session_new(&b, &s2), -EINVAL);
    simul_http_session_opts c = {.limit = 2, .limit_per_host = 3};
    CHECK_EQ(simul_http_session_new(&c, &s2), -EINVAL);
    const char *hs[] = {"no colon", NULL};
    simul_http_session_opts d = {.headers = hs};
    CHECK_EQ(simul_http_session_new(&d, &s2), -EINVAL);
    simul_http_request_opts ro = {.timeouts = {.read = -1}};
    simul_http_response *r;
    CHECK_EQ(simul_http_get(H, URL("/hello"), &ro, &r), -EINVAL);
}
