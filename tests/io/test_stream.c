/*
 * test_stream.c - TCP and Unix streams: connecting (IPv4, IPv6,
 * "localhost" with happy eyeballs, timeouts, refused, unresolvable), the
 * reader (read, readexactly, readline, readuntil and its limit) and the
 * writer (write, drain and backpressure, half-close, close), and the faults:
 * a peer that resets mid-read, half-closes, never reads, never answers.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <net/if.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <simul.h>

/* ---- a tiny echo server (streams API) ---------------------------------- */

static int echo_handler(simul_stream *s, void *arg)
{
    (void)arg;
    char buf[4096];
    for (;;) {
        int n = simul_stream_read(s, buf, sizeof buf);
        if (n <= 0)
            return n;
        int r = simul_stream_write(s, buf, (size_t)n);
        if (r == 0)
            r = simul_stream_drain(s);
        if (r < 0)
            return r;
    }
}

static int main_echo(void *a)
{
    const char *host = a;
    simul_server *srv;
    CHECK_EQ(simul_start_server(host, 0, echo_handler, NULL, NULL, &srv), 0);
    int port = simul_server_port(srv);
    CHECK(port > 0);
    simul_stream *c;
    CHECK_EQ(simul_open_connection(host, port, 5, NULL, &c), 0);
    CHECK_EQ(simul_stream_write(c, "hello\nworld\n", 12), 0);
    char line[64];
    CHECK_EQ(simul_stream_readline(c, line, sizeof line), 6);
    CHECK(memcmp(line, "hello\n", 6) == 0);
    CHECK_EQ(simul_stream_readexactly(c, line, 3), 3);
    CHECK(memcmp(line, "wor", 3) == 0);
    CHECK_EQ(simul_stream_readuntil(c, "d\n", 2, line, sizeof line), 3);
    CHECK(memcmp(line, "ld\n", 3) == 0);
    CHECK_EQ(simul_stream_write(c, "abc", 3), 0);
    CHECK_EQ(simul_stream_read(c, line, sizeof line), 3);
    CHECK_EQ(simul_stream_close(c), 0);
    CHECK_EQ(simul_server_close(srv, 1), 0);
    return 0;
}
TEST(echo_over_ipv4)
{
    CHECK_EQ(simul_run(main_echo, "127.0.0.1"), 0);
}
TEST(echo_over_ipv6)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok) {
        printf("# no IPv6 loopback here: skipped\n");
        return;
    }
    CHECK_EQ(simul_run(main_echo, "::1"), 0);
}
TEST(echo_over_localhost_both_families)
{
    CHECK_EQ(simul_run(main_echo, "localhost"), 0);
}

static const char *upath = "/tmp/simul-test-stream.sock";
static int main_unix(void *a)
{
    (void)a;
    simul_server *srv;
    CHECK_EQ(simul_start_unix_server(upath, echo_handler, NULL, NULL, &srv), 0);
    CHECK_EQ(simul_server_port(srv), -EINVAL);
    simul_stream *c;
    CHECK_EQ(simul_open_unix_connection(upath, 5, NULL, &c), 0);
    CHECK_EQ(simul_stream_write(c, "unix!", 5), 0);
    char buf[8];
    CHECK_EQ(simul_stream_readexactly(c, buf, 5), 5);
    CHECK(memcmp(buf, "unix!", 5) == 0);
    CHECK_EQ(simul_stream_close(c), 0);
    CHECK_EQ(simul_server_close(srv, 1), 0);
    CHECK(access(upath, F_OK) != 0);   /* socket file removed */
    CHECK_EQ(simul_open_unix_connection(upath, 1, NULL, &c), -ENOENT);
    return 0;
}
TEST(echo_over_unix_socket)
{
    CHECK_EQ(simul_run(main_unix, NULL), 0);
}

/* A port nothing listens on: bind, read the port, close. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static int main_refused(void *a)
{
    (void)a;
    simul_stream *c = (simul_stream *)1;
    CHECK_EQ(simul_open_connection("127.0.0.1", free_port(), 5, NULL, &c), -ECONNREFUSED);
    CHECK(c == NULL);
    /* Both localhost addresses refuse: the error of the last attempt. */
    CHECK_EQ(simul_open_connection("localhost", free_port(), 5, NULL, &c), -ECONNREFUSED);
    CHECK_EQ(simul_open_connection("127.0.0.1", 0, 5, NULL, &c), -EINVAL);
    CHECK_EQ(simul_open_connection(NULL, 80, 5, NULL, &c), -EINVAL);
    CHECK_EQ(simul_open_connection("127.0.0.1", 80, NAN, NULL, &c), -EINVAL);
    return 0;
}
TEST(connection_refused)
{
    CHECK_EQ(simul_run(main_refused, NULL), 0);
}

static int main_unresolvable(void *a)
{
    (void)a;
    simul_stream *c;
    int r = simul_open_connection("no-such-host.invalid", 80, 5, NULL, &c);
    CHECK(r < 0);
    CHECK(r == SIMUL_EAI_NONAME || r == SIMUL_EAI_AGAIN || r == SIMUL_EAI_NODATA ||
          r == SIMUL_EAI_FAIL);
    printf("# unresolvable name: %s\n", simul_strerror(r));
    return 0;
}
TEST(unresolvable_name)
{
    /* In a network namespace of our own, so no query leaves the machine. */
    if (unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0) {
        printf("# cannot unshare a network namespace: skipped\n");
        return;
    }
    CHECK_EQ(simul_run(main_unresolvable, NULL), 0);
}

/*
 * A real name through the asynchronous resolver without any traffic: in
 * private user, mount and network namespaces, /etc/hosts is replaced with
 * one naming "simul-test-host" and the namespace's loopback is brought up.
 */
static int main_named(void *a)
{
    (void)a;
    simul_server *srv;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, echo_handler, NULL, NULL, &srv), 0);
    simul_stream *c;
    CHECK_EQ(simul_open_connection("simul-test-host", simul_server_port(srv), 5, NULL, &c), 0);
    CHECK_EQ(simul_stream_write(c, "named", 5), 0);
    char buf[5];
    CHECK_EQ(simul_stream_readexactly(c, buf, 5), 5);
    CHECK_EQ(simul_stream_close(c), 0);
    CHECK_EQ(simul_server_close(srv, 1), 0);
    return 0;
}
TEST(a_host_name_resolves_through_the_async_resolver)
{
    char hosts[] = "/tmp/simul-test-hosts-XXXXXX";
    int fd = mkstemp(hosts);
    CHECK(fd >= 0);
    const char *text = "127.0.0.1 simul-test-host\n";
    CHECK_EQ(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    int ok = unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET) == 0 &&
             mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
             mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) == 0;
    unlink(hosts);
    if (!ok) {
        printf("# cannot set up private namespaces (%s): skipped\n", strerror(errno));
        return;
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq ifr = { 0 };
    strcpy(ifr.ifr_name, "lo");
    CHECK_EQ(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
    ifr.ifr_flags |= IFF_UP;
    CHECK_EQ(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
    close(s);
    CHECK_EQ(simul_run(main_named, NULL), 0);
}

/*
 * A listening socket whose accept queue is full drops SYNs: a connect to it
 * never answers. Used for the connect timeout and for happy eyeballs.
 */
static int blackhole(int family, int port, int *clients, int nclients)
{
    int fd = socket(family, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_storage ss = { 0 };
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        in->sin_port = htons((uint16_t)port);
        len = sizeof *in;
    } else {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        in6->sin6_port = htons((uint16_t)port);
        len = sizeof *in6;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 0) < 0) {
        close(fd);
        return -1;
    }
    getsockname(fd, (struct sockaddr *)&ss, &len);
    for (int i = 0; i < nclients; i++) {
        clients[i] = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(clients[i], (struct sockaddr *)&ss, len);
    }
    usleep(50000);   /* let the handshakes that can complete complete */
    return fd;
}
static int bh_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int main_connect_timeout(void *a)
{
    (void)a;
    int cl[4];
    int bh = blackhole(AF_INET, 0, cl, 4);
    CHECK(bh >= 0);
    simul_stream *c;
    double t0 = simul_now();
    CHECK_EQ(simul_open_connection("127.0.0.1", bh_port(bh), 0.3, NULL, &c), -ETIMEDOUT);
    double el = simul_now() - t0;
    CHECK(el >= 0.28 && el < 2.0);
    /* Cancelled while connecting: -ECANCELED, nothing leaks (ASan). */
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + 0.1);
    CHECK_EQ(simul_open_connection("127.0.0.1", bh_port(bh), 10, NULL, &c), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    for (int i = 0; i < 4; i++)
        close(cl[i]);
    close(bh);
    return 0;
}
TEST(connect_timeout_against_a_peer_that_never_answers)
{
    CHECK_EQ(simul_run(main_connect_timeout, NULL), 0);
}

static int main_happy(void *a)
{
    (void)a;
    /* ::1:P never answers; 127.0.0.1:P serves. "localhost" tries ::1 first
     * and must fall back to IPv4 after ~250 ms, not after a timeout. */
    int cl[4];
    simul_server *srv;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, echo_handler, NULL, NULL, &srv), 0);
    int port = simul_server_port(srv);
    int bh = blackhole(AF_INET6, port, cl, 4);
    if (bh < 0) {
        printf("# no IPv6 loopback here: skipped\n");
        simul_server_close(srv, 0);
        return 0;
    }
    simul_stream *c;
    double t0 = simul_now();
    CHECK_EQ(simul_open_connection("localhost", port, 10, NULL, &c), 0);
    double el = simul_now() - t0;
    CHECK(el >= 0.2 && el < 1.5);
    printf("# happy eyeballs fell back to IPv4 after %.3f s\n", el);
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    CHECK_EQ(getpeername(simul_stream_fd(c), (struct sockaddr *)&peer, &len), 0);
    CHECK_EQ(peer.ss_family, AF_INET);
    CHECK_EQ(simul_stream_write(c, "he", 2), 0);
    char buf[2];
    CHECK_EQ(simul_stream_readexactly(c, buf, 2), 2);
    CHECK_EQ(simul_stream_close(c), 0);
    CHECK_EQ(simul_server_close(srv, 1), 0);
    for (int i = 0; i < 4; i++)
        close(cl[i]);
    close(bh);
    return 0;
}
TEST(happy_eyeballs_starts_the_next_address_after_250ms)
{
    CHECK_EQ(simul_run(main_happy, NULL), 0);
}

/* ---- faults with a raw peer --------------------------------------------- */

/* A connected pair: a stream on one end, a raw blocking-free socket on the
 * other (the "peer" the test controls). */
static int peer_fd;
static simul_stream *pair_stream(const simul_stream_opts *o)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    simul_stream *s;
    CHECK_EQ(simul_stream_from_fd(sv[0], o, &s), 0);
    peer_fd = sv[1];
    return s;
}

/* A TCP pair: simul stream client, raw accepted socket as the peer. */
static simul_stream *tcp_pair(const simul_stream_opts *o)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    CHECK_EQ(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(listen(l, 1), 0);
    getsockname(l, (struct sockaddr *)&a, &len);
    simul_stream *s;
    CHECK_EQ(simul_open_connection("127.0.0.1", ntohs(a.sin_port), 5, o, &s), 0);
    peer_fd = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    CHECK(peer_fd >= 0);
    close(l);
    return s;
}

static int main_reset(void *a)
{
    (void)a;
    signal(SIGPIPE, SIG_DFL);   /* simul_run ignores it; we must not need that */
    /* coalesce 1: every write goes out at once, so its error is its own. */
    simul_stream_opts o = { .coalesce = 1 };
    simul_stream *s = tcp_pair(&o);
    CHECK_EQ(send(peer_fd, "partial", 7, 0), 7);
    char buf[16];
    CHECK_EQ(simul_stream_readexactly(s, buf, 4), 4);
    /* The peer resets (SO_LINGER 0) while we wait for more. */
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    setsockopt(peer_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(peer_fd);
    int r = simul_stream_readexactly(s, buf, 10);
    /* The 3 bytes that arrived may be read first or lost with the RST, as
     * the kernel decides; then the reset is reported. */
    if (r == -ECONNRESET) {
        int n = simul_stream_read(s, buf, sizeof buf);
        CHECK(n == 3 || n == -ECONNRESET);
        if (n == 3)
            CHECK(memcmp(buf, "ial", 3) == 0);
    } else {
        CHECK_EQ(r, -ENODATA);
    }
    CHECK_EQ(simul_stream_read(s, buf, sizeof buf), -ECONNRESET);
    /* Writes fail too, without SIGPIPE. */
    int w = simul_stream_write(s, "x", 1);
    CHECK(w == -EPIPE || w == -ECONNRESET);
    CHECK_EQ(simul_stream_close(s), 0);
    return 0;
}
TEST(peer_resets_mid_read)
{
    CHECK_EQ(simul_run(main_reset, NULL), 0);
}

static int main_halfclose(void *a)
{
    (void)a;
    simul_stream *s = tcp_pair(NULL);
    CHECK_EQ(send(peer_fd, "req", 3, 0), 3);
    CHECK_EQ(shutdown(peer_fd, SHUT_WR), 0);
    char buf[16];
    CHECK_EQ(simul_stream_readexactly(s, buf, 3), 3);
    CHECK_EQ(simul_stream_read(s, buf, sizeof buf), 0);   /* EOF */
    CHECK(simul_stream_at_eof(s));
    CHECK_EQ(simul_stream_read(s, buf, sizeof buf), 0);   /* stays EOF */
    /* Still able to write after the peer's half-close. */
    CHECK_EQ(simul_stream_write(s, "reply", 5), 0);
    CHECK_EQ(simul_stream_drain(s), 0);
    /* Our own half-close: the peer sees EOF after the data. */
    CHECK_EQ(simul_stream_write_eof(s), 0);
    CHECK_EQ(simul_stream_write(s, "more", 4), -ESHUTDOWN);
    CHECK(simul_wait_fd(peer_fd, SIMUL_READABLE, simul_now() + 2) > 0);
    CHECK_EQ(recv(peer_fd, buf, sizeof buf, 0), 5);
    CHECK_EQ(recv(peer_fd, buf, sizeof buf, 0), 0);
    CHECK_EQ(simul_stream_close(s), 0);
    close(peer_fd);
    return 0;
}
TEST(peer_half_closes_then_we_still_write)
{
    CHECK_EQ(simul_run(main_halfclose, NULL), 0);
}

static int main_backpressure(void *a)
{
    (void)a;
    simul_stream_opts o = { .high_water = 64 * 1024, .max_buffered = 256 * 1024 };
    simul_stream *s = tcp_pair(&o);
    /* The peer never reads: writes queue up, drain blocks, a deadline
     * ends it. */
    static char chunk[16384];
    memset(chunk, 'x', sizeof chunk);
    size_t written = 0;
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + 0.3);
    int r;
    for (;;) {
        r = simul_stream_write(s, chunk, sizeof chunk);
        if (r < 0)
            break;
        written += sizeof chunk;
        r = simul_stream_drain(s);
        if (r < 0)
            break;
        CHECK(simul_stream_buffered(s) <= o.high_water);
    }
    CHECK_EQ(r, -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    size_t q = simul_stream_buffered(s);
    CHECK(q > o.high_water && q <= o.max_buffered);
    printf("# %zu bytes accepted by the kernel, %zu queued when drain blocked\n",
           written - q, q);
    /* The hard cap: a write beyond it is refused whole. */
    size_t room = o.max_buffered - q;
    static char big[256 * 1024 + 1];
    CHECK_EQ(simul_stream_write(s, big, room + 1), -ENOBUFS);
    CHECK_EQ(simul_stream_buffered(s), q);
    /* Once the peer reads, drain completes and every byte arrives. */
    static char sink[65536];
    size_t got = 0;
    size_t total = written;
    while (got < total) {
        CHECK(simul_wait_fd(peer_fd, SIMUL_READABLE, simul_now() + 5) > 0);
        ssize_t n = recv(peer_fd, sink, sizeof sink, MSG_DONTWAIT);
        if (n > 0)
            got += (size_t)n;
        else
            CHECK(n < 0 && errno == EAGAIN);
    }
    CHECK_EQ(got, total);
    CHECK_EQ(simul_stream_drain(s), 0);
    CHECK_EQ(simul_stream_buffered(s), 0);
    CHECK_EQ(simul_stream_close(s), 0);
    close(peer_fd);
    return 0;
}
TEST(peer_never_reads_backpressure_and_deadline)
{
    CHECK_EQ(simul_run(main_backpressure, NULL), 0);
}

static int main_never_answers(void *a)
{
    (void)a;
    simul_stream *s = tcp_pair(NULL);
    char buf[8];
    simul_scope sc;
    double t0 = simul_now();
    simul_scope_enter(&sc, t0 + 0.1);
    CHECK_EQ(simul_stream_read(s, buf, sizeof buf), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    CHECK(simul_now() - t0 >= 0.09);
    /* A partial readexactly cancelled by a deadline keeps its bytes. */
    CHECK_EQ(send(peer_fd, "ab", 2, 0), 2);
    simul_scope_enter(&sc, simul_now() + 0.1);
    CHECK_EQ(simul_stream_readexactly(s, buf, 4), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    CHECK_EQ(send(peer_fd, "cd", 2, 0), 2);
    CHECK_EQ(simul_stream_readexactly(s, buf, 4), 4);
    CHECK(memcmp(buf, "abcd", 4) == 0);
    CHECK_EQ(simul_stream_close(s), 0);
    close(peer_fd);
    return 0;
}
TEST(peer_never_answers_deadline)
{
    CHECK_EQ(simul_run(main_never_answers, NULL), 0);
}

static int main_limits(void *a)
{
    (void)a;
    simul_stream_opts o = { .limit = 16 };
    simul_stream *s = pair_stream(&o);
    CHECK_EQ(send(peer_fd, "0123456789abcdefXYZ\nrest", 24, 0), 24);
    char buf[64];
    /* No separator within the limit: -ENOBUFS, and nothing is consumed. */
    CHECK_EQ(simul_stream_readline(s, buf, sizeof buf), -ENOBUFS);
    CHECK_EQ(simul_stream_readuntil(s, "Z", 1, buf, sizeof buf), -ENOBUFS);
    /* A smaller caller buffer lowers the bound. */
    CHECK_EQ(simul_stream_readuntil(s, "5", 1, buf, 4), -ENOBUFS);
    CHECK_EQ(simul_stream_readuntil(s, "5", 1, buf, 6), 6);
    CHECK(memcmp(buf, "012345", 6) == 0);
    CHECK_EQ(simul_stream_readline(s, buf, sizeof buf), 14);
    CHECK(memcmp(buf, "6789abcdefXYZ\n", 14) == 0);
    /* Multi-byte separator split across reads. */
    CHECK_EQ(send(peer_fd, "--\r", 3, 0), 3);
    CHECK_EQ(simul_sleep(0.01), 0);
    CHECK_EQ(send(peer_fd, "\nX", 2, 0), 2);
    CHECK_EQ(simul_stream_readuntil(s, "\r\n", 2, buf, sizeof buf), 8);
    CHECK(memcmp(buf, "rest--\r\n", 8) == 0);
    /* EOF in the middle: readuntil says -ENODATA and keeps the bytes;
     * readline returns the partial line, then 0. */
    CHECK_EQ(shutdown(peer_fd, SHUT_WR), 0);
    CHECK_EQ(simul_stream_readuntil(s, "\n", 1, buf, sizeof buf), -ENODATA);
    CHECK_EQ(simul_stream_readexactly(s, buf, 5), -ENODATA);
    CHECK_EQ(simul_stream_readline(s, buf, sizeof buf), 1);
    CHECK_EQ(buf[0], 'X');
    CHECK_EQ(simul_stream_readline(s, buf, sizeof buf), 0);
    CHECK(simul_stream_at_eof(s));
    CHECK_EQ(simul_stream_readuntil(s, "", 0, buf, sizeof buf), -EINVAL);
    CHECK_EQ(simul_stream_close(s), 0);
    close(peer_fd);
    return 0;
}
TEST(readuntil_limit_keeps_bytes_readable_and_eof_partials)
{
    CHECK_EQ(simul_run(main_limits, NULL), 0);
}

static int main_big_readexactly(void *a)
{
    (void)a;
    simul_stream *s = pair_stream(NULL);
    /* Bigger than the limit: straight into the caller's buffer. */
    enum { N = 300000 };
    static char out[N], in[N];
    for (int i = 0; i < N; i++)
        out[i] = (char)(i * 7);
    simul_stream *w;
    CHECK_EQ(simul_stream_from_fd(peer_fd, NULL, &w), 0);
    CHECK_EQ(simul_stream_write(w, out, N), 0);
    CHECK_EQ(simul_stream_readexactly(s, in, N), N);
    CHECK(memcmp(in, out, N) == 0);
    CHECK_EQ(simul_stream_close(w), 0);
    CHECK_EQ(simul_stream_read(s, in, 1), 0);
    CHECK_EQ(simul_stream_close(s), 0);
    return 0;
}
TEST(large_write_is_flushed_in_the_background)
{
    CHECK_EQ(simul_run(main_big_readexactly, NULL), 0);
}

static int main_sigpipe(void *a)
{
    (void)a;
    signal(SIGPIPE, SIG_DFL);   /* simul_run ignores it; we must not need that */
    simul_stream_opts o = { .coalesce = 1 };   /* write-through */
    simul_stream *s = pair_stream(&o);
    close(peer_fd);
    CHECK_EQ(simul_stream_write(s, "x", 1), -EPIPE);
    CHECK_EQ(simul_stream_write(s, "x", 1), -EPIPE);   /* sticky */
    CHECK_EQ(simul_stream_drain(s), -EPIPE);
    CHECK_EQ(simul_stream_close(s), 0);
    /* Coalescing (the default): the small write is held; its error shows
     * when it is flushed - by drain here - and sticks. The held byte was
     * lost, and close says so. */
    s = pair_stream(NULL);
    close(peer_fd);
    CHECK_EQ(simul_stream_write(s, "x", 1), 0);
    CHECK_EQ(simul_stream_drain(s), -EPIPE);
    CHECK_EQ(simul_stream_write(s, "x", 1), -EPIPE);
    CHECK_EQ(simul_stream_close(s), -EPIPE);
    /* ... or at the end of the loop iteration, seen by the next write. */
    s = pair_stream(NULL);
    close(peer_fd);
    CHECK_EQ(simul_stream_write(s, "x", 1), 0);
    CHECK_EQ(simul_yield(), 0);
    CHECK_EQ(simul_stream_write(s, "x", 1), -EPIPE);
    CHECK_EQ(simul_stream_close(s), -EPIPE);
    return 0;
}
TEST(writing_to_a_closed_peer_is_epipe_not_sigpipe)
{
    CHECK_EQ(simul_run(main_sigpipe, NULL), 0);
}

static int main_close_loses_nothing(void *a)
{
    (void)a;
    /* Queued output is flushed by close; if the peer vanishes first,
     * close says the bytes were lost. */
    simul_stream_opts o = { .max_buffered = 1 << 20 };
    simul_stream *s = pair_stream(&o);
    static char chunk[512 * 1024];
    CHECK_EQ(simul_stream_write(s, chunk, sizeof chunk), 0);
    CHECK(simul_stream_buffered(s) > 0);
    close(peer_fd);
    int r = simul_stream_close(s);
    CHECK(r == -EPIPE || r == -ECONNRESET);
    return 0;
}
TEST(close_reports_unsent_bytes)
{
    CHECK_EQ(simul_run(main_close_loses_nothing, NULL), 0);
}

static int main_opts(void *a)
{
    (void)a;
    simul_stream_opts o = { .keepalive = 1 };
    simul_stream *s = tcp_pair(&o);
    int v = 0;
    socklen_t len = sizeof v;
    getsockopt(simul_stream_fd(s), IPPROTO_TCP, 1 /* TCP_NODELAY */, &v, &len);
    CHECK(v != 0);
    getsockopt(simul_stream_fd(s), SOL_SOCKET, SO_KEEPALIVE, &v, &len);
    CHECK(v != 0);
    CHECK_EQ(simul_stream_set_nodelay(s, 0), 0);
    getsockopt(simul_stream_fd(s), IPPROTO_TCP, 1, &v, &len);
    CHECK_EQ(v, 0);
    CHECK_EQ(simul_stream_set_keepalive(s, 0), 0);
    getsockopt(simul_stream_fd(s), SOL_SOCKET, SO_KEEPALIVE, &v, &len);
    CHECK_EQ(v, 0);
    CHECK_EQ(simul_stream_close(s), 0);
    close(peer_fd);
    return 0;
}
TEST(nodelay_and_keepalive_options)
{
    CHECK_EQ(simul_run(main_opts, NULL), 0);
}

/* ---- coalescing writes, NUL-terminated lines, reader + writer, abort ---- */

/* A SOCK_SEQPACKET pair keeps each send(2) a separate message, so the peer
 * counts the stream's system calls exactly. */
static simul_stream *seqpacket_stream(const simul_stream_opts *o)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    simul_stream *s;
    CHECK_EQ(simul_stream_from_fd(sv[0], o, &s), 0);
    peer_fd = sv[1];
    return s;
}

/* Receives every message waiting on the peer; returns how many, bytes in *n. */
static int peer_messages(size_t *n)
{
    static char big[1 << 17];
    int msgs = 0;
    *n = 0;
    for (;;) {
        ssize_t r = recv(peer_fd, big, sizeof big, MSG_DONTWAIT);
        if (r <= 0)
            return msgs;
        msgs++;
        *n += (size_t)r;
    }
}

static int main_coalesce(void *a)
{
    (void)a;
    size_t n;
    /* 1000 short lines in one iteration: held, then one system call. */
    simul_stream *s = seqpacket_stream(NULL);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(simul_stream_write(s, "line\n", 5), 0);
    CHECK_EQ(simul_stream_buffered(s), 5000);
    CHECK_EQ(peer_messages(&n), 0);            /* nothing sent yet */
    CHECK_EQ(simul_yield(), 0);                /* the iteration ends */
    CHECK_EQ(peer_messages(&n), 1);
    CHECK_EQ(n, 5000);
    CHECK_EQ(simul_stream_buffered(s), 0);
    /* The threshold: held bytes go out with the write that reaches it. */
    simul_stream_close(s);
    close(peer_fd);
    simul_stream_opts o = { .coalesce = 64 };
    s = seqpacket_stream(&o);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(simul_stream_write(s, "0123456789", 10), 0);
    CHECK_EQ(peer_messages(&n), 0);
    CHECK_EQ(simul_stream_write(s, "0123456789", 10), 0);   /* 70 >= 64 */
    CHECK_EQ(peer_messages(&n), 1);
    CHECK_EQ(n, 70);
    /* drain sends held bytes at once. */
    CHECK_EQ(simul_stream_write(s, "abc", 3), 0);
    CHECK_EQ(simul_stream_drain(s), 0);
    CHECK_EQ(peer_messages(&n), 1);
    CHECK_EQ(n, 3);
    /* coalesce 1: every write is its own system call. */
    simul_stream_close(s);
    close(peer_fd);
    o.coalesce = 1;
    s = seqpacket_stream(&o);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(simul_stream_write(s, "x", 1), 0);
    CHECK_EQ(peer_messages(&n), 3);
    /* close sends held bytes. */
    simul_stream_close(s);
    close(peer_fd);
    s = seqpacket_stream(NULL);
    CHECK_EQ(simul_stream_write(s, "bye", 3), 0);
    CHECK_EQ(simul_stream_close(s), 0);
    CHECK_EQ(peer_messages(&n), 1);
    CHECK_EQ(n, 3);
    close(peer_fd);
    return 0;
}
TEST(small_writes_are_coalesced_until_the_iteration_ends)
{
    CHECK_EQ(simul_run(main_coalesce, NULL), 0);
}

/* A task that keeps yielding still lets the held bytes go out. */
static int spinner(void *a)
{
    volatile int *stop = a;
    while (!*stop)
        simul_yield();
    return 0;
}

static int main_coalesce_spin(void *a)
{
    (void)a;
    volatile int stop = 0;
    simul_task *t = simul_spawn(spinner, (void *)&stop);
    simul_stream *s = seqpacket_stream(NULL);
    CHECK_EQ(simul_stream_write(s, "hi", 2), 0);
    size_t n = 0;
    for (int i = 0; i < 10 && n == 0; i++) {
        simul_yield();
        peer_messages(&n);
    }
    CHECK_EQ(n, 2);
    stop = 1;
    simul_join(t);
    simul_stream_close(s);
    close(peer_fd);
    return 0;
}
TEST(held_writes_go_out_while_other_tasks_keep_yielding)
{
    CHECK_EQ(simul_run(main_coalesce_spin, NULL), 0);
}

static int main_nul(void *a)
{
    (void)a;
    simul_stream *s = pair_stream(NULL);
    CHECK_EQ(send(peer_fd, "ab\nfour\ncd", 10, 0), 10);
    shutdown(peer_fd, SHUT_WR);
    char buf[16];
    memset(buf, 'X', sizeof buf);
    CHECK_EQ(simul_stream_readline(s, buf, sizeof buf), 3);
    CHECK(strcmp(buf, "ab\n") == 0);
    /* Exactly cap bytes: no room, nothing written past them. */
    memset(buf, 'X', sizeof buf);
    CHECK_EQ(simul_stream_readuntil(s, "\n", 1, buf, 5), 5);
    CHECK(memcmp(buf, "four\nX", 6) == 0);
    memset(buf, 'X', sizeof buf);
    CHECK_EQ(simul_stream_readline(s, buf, sizeof buf), 2);   /* partial at EOF */
    CHECK(strcmp(buf, "cd") == 0);
    CHECK_EQ(simul_stream_readline(s, buf, sizeof buf), 0);
    simul_stream_close(s);
    close(peer_fd);
    return 0;
}
TEST(readline_and_readuntil_nul_terminate_when_there_is_room)
{
    CHECK_EQ(simul_run(main_nul, NULL), 0);
}

/* One reader task and one writer task on one stream at once, through an
 * echo server, with enough data for the writer to wait in drain while the
 * reader waits for input. */
#define RW_LINES 20000
static int rw_reader(void *a)
{
    simul_stream *s = a;
    char buf[128], want[128];
    for (int i = 0; i < RW_LINES; i++) {
        int n = snprintf(want, sizeof want, "line %06d ................................................\n", i);
        int r = simul_stream_readline(s, buf, sizeof buf);
        if (r != n || memcmp(buf, want, (size_t)n) != 0)
            return r < 0 ? r : -EPROTO;
    }
    return 0;
}

static int rw_writer(void *a)
{
    simul_stream *s = a;
    char line[128];
    for (int i = 0; i < RW_LINES; i++) {
        int n = snprintf(line, sizeof line, "line %06d ................................................\n", i);
        int r = simul_stream_write(s, line, (size_t)n);
        if (r == 0)
            r = simul_stream_drain(s);
        if (r < 0)
            return r;
    }
    return 0;
}

static int main_reader_writer(void *a)
{
    (void)a;
    simul_server *srv;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, echo_handler, NULL, NULL, &srv), 0);
    simul_stream_opts o = { .high_water = 4096 };   /* backpressure early */
    simul_stream *c;
    CHECK_EQ(simul_open_connection("127.0.0.1", simul_server_port(srv), 5, &o, &c), 0);
    simul_task *rd = simul_spawn(rw_reader, c);
    simul_task *wr = simul_spawn(rw_writer, c);
    CHECK_EQ(simul_join(wr), 0);
    CHECK_EQ(simul_join(rd), 0);
    CHECK_EQ(simul_stream_close(c), 0);
    CHECK(simul_server_close(srv, 1) >= 0);
    return 0;
}
TEST(one_reader_and_one_writer_task_at_once)
{
    CHECK_EQ(simul_run(main_reader_writer, NULL), 0);
}

static int main_abort(void *a)
{
    (void)a;
    /* A peer that never reads: close would wait for ever; abort does not. */
    simul_stream_opts o = { .max_buffered = 16 << 20 };
    simul_stream *s = tcp_pair(&o);
    int fd = simul_stream_fd(s);
    static char big[8 << 20];
    CHECK_EQ(simul_stream_write(s, big, sizeof big), 0);
    CHECK(simul_stream_buffered(s) > 0);
    double t0 = simul_now();
    CHECK_EQ(simul_stream_abort(s), 0);
    CHECK(simul_now() - t0 < 0.1);
    CHECK(fcntl(fd, F_GETFD) == -1 && errno == EBADF);   /* fd closed */
    /* The peer sees a reset, not a clean end (SO_LINGER 0). */
    int e = 0;
    for (int i = 0; i < 1000 && !e; i++) {
        ssize_t r = recv(peer_fd, big, sizeof big, 0);
        if (r < 0 && errno != EAGAIN)
            e = errno;
        else if (r == 0)
            e = -1;
        else if (r < 0)
            poll(&(struct pollfd){ .fd = peer_fd, .events = POLLIN }, 1, 10);
    }
    CHECK_EQ(e, ECONNRESET);
    close(peer_fd);
    CHECK_EQ(simul_stream_abort(NULL), 0);
    return 0;
}
TEST(abort_discards_unsent_bytes_and_resets)
{
    CHECK_EQ(simul_run(main_abort, NULL), 0);
}
