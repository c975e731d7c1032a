/*
 * faultd.c - the HTTP tests' fault server: a small HTTP/1.1 server on
 * simul's own streams (one task per connection) whose paths misbehave in
 * the ways a client must survive - resets, silence, stalls, slowloris,
 * garbage, oversized headers, short and broken bodies, a gzip bomb,
 * redirect traps, mislabelled charsets - and that counts connections, so a
 * test can check a client's pool limits where they matter: at the server.
 *
 *   faultd [-2] [-p PORT]
 *
 * Listens on 127.0.0.1 (and with -2 also on 127.0.0.2, the same port) on
 * PORT (default 0: a free one the kernel picks) and prints the port alone
 * on stdout's first line. Runs until SIGTERM or SIGINT, then closes the
 * servers (handlers get 0.2 s, then are cancelled) and exits 0.
 *
 * Paths (GET; any other path is 404; keep-alive on the normal ones, as
 * HTTP/1.1 says: "Connection: close" or HTTP/1.0 close after the answer):
 *   /ok              200, a small HTML page with two links
 *   /reset-headers   part of the header block, then a reset (SO_LINGER 0)
 *   /reset-body      headers (Content-Length 100000), half the body, reset
 *   /never           reads the request, never answers (until the client goes)
 *   /stall           headers (Content-Length 100000), half the body, silence
 *   /slowloris       the header block one byte per second (?ms=N: every N
 *                    ms), an endless X-Slowloris header (about an hour)
 *   /garbage-status  "HTTP/1.1 2x0 Garbage", then close
 *   /big-header      200 with a 1 MiB X-Big header
 *   /short-body      Content-Length 1000, 500 bytes, close
 *   /bad-chunked     Transfer-Encoding: chunked with a chunk size "zz"
 *   /gzip-bomb       Content-Encoding: gzip, 10 GiB of zeros when decoded
 *                    (?mib=N: N MiB) in about 10 MiB, sent as the client
 *                    reads; Content-Length exact
 *   /redirect-loop   302 -> /redirect-loop
 *   /redirect-file   302 -> file:///etc/passwd
 *   /429             429 with Retry-After: 2
 *   /bad-utf8        text/html; charset=utf-8 with invalid UTF-8 bytes
 *   /wrong-charset   declares charset=utf-8, body in Latin-1
 *   /latin1          text/html; charset=iso-8859-1, body in Latin-1
 *   /plain           text/plain (with an href="..." in its text)
 *   /nolinks         an HTML page without links
 *   /slow?ms=N       waits N ms (default 1000), then answers as /ok
 *   /stats           JSON: connections open now and at peak, accepted and
 *                    requests, in all and per listening address
 *                    ({"open":1,"peak":50,"accepted":1000,"requests":1000,
 *                      "hosts":{"127.0.0.1":{...},"127.0.0.2":{...}}});
 *                    the connection asking is counted as open
 *   /stats/reset     accepted and requests to 0, peak to the open count
 *
 * A test helper, not part of the library: it prints what it likes.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <zlib.h>
#include <simul.h>

#define REQ_CAP 16384          /* request line + headers: larger is 431 */
#define BIG_HEADER (1u << 20)  /* /big-header's header value */
#define HALF_BODY 50000        /* /reset-body and /stall: of 100000 */

/* Connection counters: in all ([0]) and per listening address. */
struct counts {
    long open, peak, accepted, requests;
};
enum { ALL, HOST1, HOST2, NCOUNTS };
static struct counts counts[NCOUNTS];
static const char *host_names[NCOUNTS] = { "all", "127.0.0.1", "127.0.0.2" };

/* The gzip bomb, built once: a gzip header, a raw deflate segment that
 * decodes to 1 MiB of zeros and ends on a full flush (so the same bytes can
 * be repeated: nothing refers back across it), the final empty block, and
 * per size the trailer (CRC-32 and length of the zeros). */
static unsigned char *bomb_seg;
static size_t bomb_seg_len;
static unsigned char bomb_end[16];
static size_t bomb_end_len;
static uLong bomb_seg_crc;

static int bomb_init(void)
{
    z_stream z = { 0 };
    if (deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t n = 1u << 20;
    unsigned char *zeros = calloc(1, n);
    size_t cap = deflateBound(&z, n) + 64;
    unsigned char *a = malloc(cap), *b = malloc(cap);
    if (!zeros || !a || !b)
        return -1;
    /* The first segment starts the stream; the second, after a full flush,
     * is the one that repeats (checked: a third would be the same). */
    unsigned char *outs[2] = { a, b };
    size_t lens[2];
    for (int i = 0; i < 2; i++) {
        z.next_in = zeros;
        z.avail_in = (uInt)n;
        z.next_out = outs[i];
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FULL_FLUSH) != Z_OK || z.avail_in)
            return -1;
        lens[i] = cap - z.avail_out;
    }
    if (lens[0] != lens[1] || memcmp(a, b, lens[0]) != 0) {
        fprintf(stderr, "faultd: deflate segments differ; no gzip bomb\n");
        return -1;
    }
    z.next_in = zeros;
    z.avail_in = 0;
    z.next_out = bomb_end;
    z.avail_out = sizeof bomb_end;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        return -1;
    bomb_end_len = sizeof bomb_end - z.avail_out;
    deflateEnd(&z);
    bomb_seg = a;
    bomb_seg_len = lens[0];
    bomb_seg_crc = crc32(0L, zeros, (uInt)n);
    free(b);
    free(zeros);
    return 0;
}

/* ---- writing answers ---------------------------------------------------- */

static int send_all(simul_stream *s, const void *buf, size_t n)
{
    int r = simul_stream_write(s, buf, n);
    return r < 0 ? r : simul_stream_drain(s);
}

/* Status line, the given extra header lines ("Name: value\r\n"...), and a
 * body of len bytes with its Content-Length. */
static int respond(simul_stream *s, int keep, const char *status, const char *ctype,
                   const char *extra, const void *body, size_t len)
{
    char head[1024];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nServer: faultd\r\n%s%s%sContent-Length: %zu\r\n"
                     "Connection: %s\r\n\r\n",
                     status, ctype ? "Content-Type: " : "", ctype ? ctype : "",
                     ctype ? "\r\n" : "", len, keep ? "keep-alive" : "close");
    if (n < 0 || (size_t)n >= sizeof head)
        return -EOVERFLOW;
    if (extra && *extra) {
        /* The extra lines go before Content-Length: after the status line. */
        const char *eol = strstr(head, "\r\n") + 2;
        int r = simul_stream_write(s, head, (size_t)(eol - head));
        if (r == 0)
            r = simul_stream_write(s, extra, strlen(extra));
        if (r == 0)
            r = simul_stream_write(s, eol, strlen(eol));
        if (r < 0)
            return r;
    } else {
        int r = simul_stream_write(s, head, (size_t)n);
        if (r < 0)
            return r;
    }
    if (len) {
        int r = simul_stream_write(s, body, len);
        if (r < 0)
            return r;
    }
    return simul_stream_drain(s);
}

static int respond_html(simul_stream *s, int keep, const char *body)
{
    return respond(s, keep, "200 OK", "text/html; charset=utf-8", NULL, body, strlen(body));
}

/* Waits until the client closes or resets (or the server cancels). */
static void until_client_goes(simul_stream *s)
{
    char buf[4096];
    while (simul_stream_read(s, buf, sizeof buf) > 0)
        ;
}

/* The value of query parameter `name` as a number, or dflt. */
static long query_num(const char *query, const char *name, long dflt)
{
    size_t nl = strlen(name);
    for (const char *p = query; p && *p;) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=')
            return strtol(p + nl + 1, NULL, 10);
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return dflt;
}

static int stats_json(char *out, size_t cap)
{
    const struct counts *c = counts;
    int n = snprintf(out, cap,
                     "{\"open\":%ld,\"peak\":%ld,\"accepted\":%ld,\"requests\":%ld,\"hosts\":{"
                     "\"%s\":{\"open\":%ld,\"peak\":%ld,\"accepted\":%ld,\"requests\":%ld},"
                     "\"%s\":{\"open\":%ld,\"peak\":%ld,\"accepted\":%ld,\"requests\":%ld}}}\n",
                     c[ALL].open, c[ALL].peak, c[ALL].accepted, c[ALL].requests,
                     host_names[HOST1], c[HOST1].open, c[HOST1].peak, c[HOST1].accepted,
                     c[HOST1].requests, host_names[HOST2], c[HOST2].open, c[HOST2].peak,
                     c[HOST2].accepted, c[HOST2].requests);
    return n < 0 || (size_t)n >= cap ? -EOVERFLOW : n;
}

/* ---- the paths ---------------------------------------------------------- */

enum { KEEP = 1, CLOSE = 0, ABORTED = 2 };

static const char ok_page[] =
    "<!doctype html>\n<html><head><title>ok</title></head><body>\n"
    "<p><a href=\"/nolinks\">no links</a> <a href=\"plain\">plain</a></p>\n"
    "</body></html>\n";

/* Serves one request; returns KEEP, CLOSE, ABORTED (the stream is gone)
 * or a negative errno (the connection failed). */
static int route(simul_stream *s, const char *path, const char *query, int keep)
{
    int r;
    if (strcmp(path, "/ok") == 0) {
        r = respond_html(s, keep, ok_page);
    } else if (strcmp(path, "/slow") == 0) {
        long ms = query_num(query, "ms", 1000);
        if (ms > 0 && simul_sleep((double)ms / 1000.0) < 0)
            return -ECANCELED;
        r = respond_html(s, keep, ok_page);
    } else if (strcmp(path, "/reset-headers") == 0) {
        static const char part[] = "HTTP/1.1 200 OK\r\nServer: faultd\r\nContent-Ty";
        send_all(s, part, sizeof part - 1);
        simul_sleep(0.02);   /* let the client read the part first */
        simul_stream_abort(s);
        return ABORTED;
    } else if (strcmp(path, "/reset-body") == 0 || strcmp(path, "/stall") == 0) {
        static char half[HALF_BODY];
        memset(half, 'x', sizeof half);
        static const char head[] = "HTTP/1.1 200 OK\r\nServer: faultd\r\n"
                                   "Content-Type: text/plain\r\nContent-Length: 100000\r\n\r\n";
        r = simul_stream_write(s, head, sizeof head - 1);
        if (r == 0)
            r = send_all(s, half, sizeof half);
        if (r < 0)
            return r;
        if (path[1] == 's') {
            until_client_goes(s);
            return CLOSE;
        }
        simul_sleep(0.02);
        simul_stream_abort(s);
        return ABORTED;
    } else if (strcmp(path, "/never") == 0) {
        until_client_goes(s);
        return CLOSE;
    } else if (strcmp(path, "/slowloris") == 0) {
        double every = (double)query_num(query, "ms", 1000) / 1000.0;
        static const char head[] = "HTTP/1.1 200 OK\r\nServer: faultd\r\nX-Slowloris: ";
        for (size_t i = 0; i < sizeof head - 1 + 3600; i++) {
            char c = i < sizeof head - 1 ? head[i] : 'a';
            if ((r = send_all(s, &c, 1)) < 0)
                return r;
            if (simul_sleep(every > 0 ? every : 0.001) < 0)
                return -ECANCELED;
        }
        r = send_all(s, "\r\nContent-Length: 0\r\n\r\n", 24);
        return r < 0 ? r : CLOSE;
    } else if (strcmp(path, "/garbage-status") == 0) {
        static const char g[] = "HTTP/1.1 2x0 Garbage\r\nContent-Length: 0\r\n\r\n";
        r = send_all(s, g, sizeof g - 1);
        return r < 0 ? r : CLOSE;
    } else if (strcmp(path, "/big-header") == 0) {
        static const char head[] = "HTTP/1.1 200 OK\r\nServer: faultd\r\nX-Big: ";
        char *big = malloc(BIG_HEADER);
        if (!big)
            return -ENOMEM;
        memset(big, 'a', BIG_HEADER);
        r = simul_stream_write(s, head, sizeof head - 1);
        if (r == 0)
            r = simul_stream_write(s, big, BIG_HEADER);
        free(big);
        static const char tail[] = "\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nok";
        if (r == 0)
            r = send_all(s, tail, sizeof tail - 1);
        return r < 0 ? r : CLOSE;
    } else if (strcmp(path, "/short-body") == 0) {
        char body[500];
        memset(body, 'x', sizeof body);
        static const char head[] = "HTTP/1.1 200 OK\r\nServer: faultd\r\nContent-Type: text/plain\r\n"
                                   "Content-Length: 1000\r\nConnection: close\r\n\r\n";
        r = simul_stream_write(s, head, sizeof head - 1);
        if (r == 0)
            r = send_all(s, body, sizeof body);
        return r < 0 ? r : CLOSE;
    } else if (strcmp(path, "/bad-chunked") == 0) {
        static const char b[] = "HTTP/1.1 200 OK\r\nServer: faultd\r\nContent-Type: text/html\r\n"
                                "Transfer-Encoding: chunked\r\n\r\n"
                                "5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n";
        r = send_all(s, b, sizeof b - 1);
        return r < 0 ? r : CLOSE;
    } else if (strcmp(path, "/gzip-bomb") == 0) {
        if (!bomb_seg)
            return respond(s, keep, "500 No Bomb", "text/plain", NULL, "no bomb\n", 8);
        long mib = query_num(query, "mib", 10240);
        if (mib < 1 || mib > 1L << 20)
            mib = 10240;
        static const unsigned char gz_head[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3 };
        uLong crc = 0;
        for (long i = 0; i < mib; i++)
            crc = crc32_combine(crc, bomb_seg_crc, 1L << 20);
        uint64_t total = (uint64_t)mib << 20;
        unsigned char trailer[8];
        for (int i = 0; i < 4; i++) {
            trailer[i] = (unsigned char)(crc >> (8 * i));
            trailer[4 + i] = (unsigned char)(total >> (8 * i));
        }
        uint64_t clen = sizeof gz_head + (uint64_t)mib * bomb_seg_len + bomb_end_len + 8;
        char head[256];
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 200 OK\r\nServer: faultd\r\nContent-Type: text/html\r\n"
                         "Content-Encoding: gzip\r\nContent-Length: %llu\r\n"
                         "Connection: %s\r\n\r\n",
                         (unsigned long long)clen, keep ? "keep-alive" : "close");
        r = simul_stream_write(s, head, (size_t)n);
        if (r == 0)
            r = simul_stream_write(s, gz_head, sizeof gz_head);
        for (long i = 0; r == 0 && i < mib; i++) {
            r = simul_stream_write(s, bomb_seg, bomb_seg_len);
            if (r == 0 && i % 32 == 31)
                r = simul_stream_drain(s);   /* only as fast as the client reads */
        }
        if (r == 0)
            r = simul_stream_write(s, bomb_end, bomb_end_len);
        if (r == 0)
            r = send_all(s, trailer, sizeof trailer);
        return r < 0 ? r : keep;
    } else if (strcmp(path, "/redirect-loop") == 0) {
        r = respond(s, keep, "302 Found", "text/html", "Location: /redirect-loop\r\n", "loop\n", 5);
    } else if (strcmp(path, "/redirect-file") == 0) {
        r = respond(s, keep, "302 Found", "text/html", "Location: file:///etc/passwd\r\n",
                    "file\n", 5);
    } else if (strcmp(path, "/429") == 0) {
        static const char b[] = "<html><body>slow down</body></html>\n";
        r = respond(s, keep, "429 Too Many Requests", "text/html", "Retry-After: 2\r\n", b,
                    sizeof b - 1);
    } else if (strcmp(path, "/bad-utf8") == 0) {
        /* a lone continuation byte, an overlong '/', a truncated sequence,
         * 0xff, a surrogate: each must become U+FFFD, the links survive */
        static const char b[] = "<html><body><p>bad \x80 \xc0\xaf \xe2\x82 \xff \xed\xa0\x80 end</p>"
                                "<a href=\"/ok\">ok</a> <a href=\"caf\xc3\xa9.html\">cafe</a>"
                                "</body></html>\n";
        r = respond_html(s, keep, b);
    } else if (strcmp(path, "/wrong-charset") == 0) {
        static const char b[] = "<html><body><p>caf\xe9 na\xefve</p><a href=\"/ok\">ok</a>"
                                "</body></html>\n";
        r = respond_html(s, keep, b);
    } else if (strcmp(path, "/latin1") == 0) {
        static const char b[] = "<html><body><p>caf\xe9 \xe0 la cr\xe8me</p>"
                                "<a href=\"/ok\">ok</a> <a href=\"caf\xe9.html\">cafe</a>"
                                "</body></html>\n";
        r = respond(s, keep, "200 OK", "text/html; charset=iso-8859-1", NULL, b, sizeof b - 1);
    } else if (strcmp(path, "/plain") == 0) {
        static const char b[] = "plain text, not HTML: href=\"/ok\" is only text here\n";
        r = respond(s, keep, "200 OK", "text/plain; charset=utf-8", NULL, b, sizeof b - 1);
    } else if (strcmp(path, "/nolinks") == 0) {
        r = respond_html(s, keep, "<!doctype html>\n<html><head><title>none</title></head>"
                                  "<body><p>No links here.</p></body></html>\n");
    } else if (strcmp(path, "/stats") == 0) {
        char b[1024];
        int n = stats_json(b, sizeof b);
        if (n < 0)
            return n;
        r = respond(s, keep, "200 OK", "application/json", NULL, b, (size_t)n);
    } else if (strcmp(path, "/stats/reset") == 0) {
        for (int i = 0; i < NCOUNTS; i++) {
            counts[i].accepted = counts[i].requests = 0;
            counts[i].peak = counts[i].open;
        }
        r = respond(s, keep, "200 OK", "text/plain", NULL, "reset\n", 6);
    } else {
        r = respond(s, keep, "404 Not Found", "text/html", NULL, "<html>not found</html>\n", 23);
    }
    return r < 0 ? r : keep;
}

/* ---- one connection ----------------------------------------------------- */

/* Which listening address accepted s. */
static int host_of(simul_stream *s)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    if (getsockname(simul_stream_fd(s), (struct sockaddr *)&a, &len) == 0 &&
        a.sin_family == AF_INET && ntohl(a.sin_addr.s_addr) == 0x7f000002)
        return HOST2;
    return HOST1;
}

static void count_open(int h, int delta)
{
    int idx[2] = { ALL, h };
    for (int i = 0; i < 2; i++) {
        struct counts *c = &counts[idx[i]];
        c->open += delta;
        if (delta > 0) {
            c->accepted++;
            if (c->open > c->peak)
                c->peak = c->open;
        }
    }
}

/* A header's value in the block (case-insensitive name), copied into out. */
static int header(const char *block, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(block, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t n = strcspn(v, "\r\n");
            if (n >= cap)
                n = cap - 1;
            memcpy(out, v, n);
            out[n] = 0;
            return 1;
        }
    }
    return 0;
}

static int handle(simul_stream *s, void *arg)
{
    (void)arg;
    static const char oversized[] = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
                              "Content-Length: 0\r\nConnection: close\r\n\r\n";
    int h = host_of(s);
    count_open(h, +1);
    char *req = malloc(REQ_CAP + 1);
    int r = req ? KEEP : -ENOMEM;
    while (r == KEEP) {
        int n = simul_stream_readuntil(s, "\r\n\r\n", 4, req, REQ_CAP);
        if (n == -ENOBUFS) {
            r = send_all(s, oversized, sizeof oversized - 1);
            break;
        }
        if (n <= 0) {
            /* the client closed or reset between requests: its right */
            r = n == -ENODATA || n == -ECONNRESET || n == 0 ? CLOSE : n;
            break;
        }
        req[n] = 0;
        counts[ALL].requests++;
        counts[h].requests++;
        char method[16], target[2048], version[16];
        if (sscanf(req, "%15s %2047s %15s", method, target, version) != 3) {
            static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                      "Connection: close\r\n\r\n";
            r = send_all(s, bad, sizeof bad - 1);
            break;
        }
        char conn[64] = "", clen[32] = "";
        header(req, "Connection", conn, sizeof conn);
        int keep = strcmp(version, "HTTP/1.1") == 0 ? strcasecmp(conn, "close") != 0
                                                    : strcasecmp(conn, "keep-alive") == 0;
        /* A request body (none expected) is read and dropped. */
        if (header(req, "Content-Length", clen, sizeof clen)) {
            long left = strtol(clen, NULL, 10);
            char sink[4096];
            while (left > 0) {
                int m = simul_stream_read(s, sink, left < (long)sizeof sink ? (size_t)left
                                                                             : sizeof sink);
                if (m <= 0)
                    break;
                left -= m;
            }
        }
        char *q = strchr(target, '?');
        if (q)
            *q++ = 0;
        r = route(s, target, q, keep);
    }
    free(req);
    count_open(h, -1);
    /* Clients that reset or vanish are what this server is for: not errors. */
    if (r == ABORTED || r == -ECONNRESET || r == -EPIPE || r == -ECANCELED)
        return 0;
    return r < 0 ? r : 0;
}

/* ---- main --------------------------------------------------------------- */

struct config {
    int port, two;
};

static int main_task(void *arg)
{
    struct config *cfg = arg;
    simul_stream_opts opts = { .close_timeout = 2.0, .max_buffered = 8u << 20 };
    simul_server *srv[2] = { NULL, NULL };
    int r = 0;
    /* With -2 and port 0 the second address may have the first's port
     * taken by someone else: try other ports. */
    for (int attempt = 0; attempt < 20; attempt++) {
        r = simul_start_server("127.0.0.1", cfg->port, handle, NULL, &opts, &srv[0]);
        if (r < 0)
            break;
        if (!cfg->two)
            break;
        r = simul_start_server("127.0.0.2", simul_server_port(srv[0]), handle, NULL, &opts,
                               &srv[1]);
        if (r == 0 || cfg->port != 0)
            break;
        simul_server_close(srv[0], 0);
        srv[0] = NULL;
    }
    if (r < 0) {
        fprintf(stderr, "faultd: cannot listen: %s\n", simul_strerror(r));
        if (srv[0])
            simul_server_close(srv[0], 0);
        return r;
    }
    printf("%d\n", simul_server_port(srv[0]));
    fflush(stdout);
    int sigs[] = { SIGTERM, SIGHUP };
    simul_signal *sig = NULL;
    r = simul_signal_open(sigs, 2, &sig);
    if (r == 0) {
        r = simul_signal_wait(sig);   /* SIGINT cancels main: -ECANCELED */
        simul_signal_close(sig);
    }
    for (int i = 0; i < 2; i++)
        if (srv[i])
            simul_server_close(srv[i], 0.2);
    return r < 0 && r != -ECANCELED ? r : 0;
}

int main(int argc, char **argv)
{
    struct config cfg = { 0, 0 };
    int c;
    while ((c = getopt(argc, argv, "2p:")) != -1) {
        switch (c) {
        case '2':
            cfg.two = 1;
            break;
        case 'p':
            cfg.port = atoi(optarg);
            break;
        default:
            fprintf(stderr, "usage: faultd [-2] [-p PORT]\n");
            return 2;
        }
    }
    if (bomb_init() < 0)
        fprintf(stderr, "faultd: zlib set-up failed; /gzip-bomb answers 500\n");
    int r = simul_run(main_task, &cfg);
    return r < 0 && r != -EINTR ? 1 : 0;
}
