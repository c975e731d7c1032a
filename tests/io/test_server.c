/*
 * test_server.c - stream servers: port 0, one task per connection, many
 * concurrent clients, a handler that fails (the server keeps going), EMFILE
 * on accept (the server keeps serving once fds free up), a client that
 * floods without reading (bounded memory, deadline), a client that stops
 * reading a big reply (the implicit close gives up and aborts), a handler
 * that aborts its connection, graceful close
 * (handlers finish, or are cancelled after the grace period), and the echo
 * examples run together.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <simul.h>

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

/* One request/response over a fresh connection. */
static int roundtrip(int port, const char *msg)
{
    simul_stream *c;
    int r = simul_open_connection("127.0.0.1", port, 5, NULL, &c);
    if (r < 0)
        return r;
    size_t n = strlen(msg);
    char buf[256];
    r = simul_stream_write(c, msg, n);
    if (r == 0)
        r = simul_stream_readexactly(c, buf, n);
    if (r == (int)n)
        r = memcmp(buf, msg, n) == 0 ? 0 : -EPROTO;
    simul_stream_close(c);
    return r;
}

static int client_task(void *a)
{
    int port = (int)(intptr_t)a;
    simul_stream *c;
    int r = simul_open_connection("127.0.0.1", port, 5, NULL, &c);
    if (r < 0)
        return r;
    char msg[64], buf[64];
    for (int i = 0; i < 20 && r >= 0; i++) {
        int n = snprintf(msg, sizeof msg, "message %d\n", i);
        r = simul_stream_write(c, msg, (size_t)n);
        if (r == 0)
            r = simul_stream_readline(c, buf, sizeof buf);
        if (r >= 0 && (r != n || memcmp(buf, msg, (size_t)n) != 0))
            r = -EPROTO;
    }
    int cr = simul_stream_close(c);
    return r < 0 ? r : cr;
}

static int main_many(void *a)
{
    (void)a;
    simul_server *srv;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, echo_handler, NULL, NULL, &srv), 0);
    int port = simul_server_port(srv);
    CHECK(port > 0 && port < 65536);
    enum { N = 200 };
    simul_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = simul_spawn(client_task, (void *)(intptr_t)port);
    int res[N];
    CHECK_EQ(simul_gather(t, N, res, SIMUL_GATHER_COLLECT), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(res[i], 0);
    simul_server_stats st;
    simul_server_stats_get(srv, &st);
    CHECK_EQ(st.accepted, N);
    CHECK_EQ(st.failed, 0);
    CHECK_EQ(simul_server_close(srv, 5), 0);
    return 0;
}
TEST(two_hundred_concurrent_clients_one_task_each)
{
    CHECK_EQ(simul_run(main_many, NULL), 0);
}

static int flaky_handler(simul_stream *s, void *arg)
{
    int *calls = arg;
    if ((*calls)++ == 0)
        return -EIO;   /* the first connection's handler fails */
    return echo_handler(s, NULL);
}
static int main_flaky(void *a)
{
    (void)a;
    static int calls;
    simul_server *srv;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, flaky_handler, &calls, NULL, &srv), 0);
    int port = simul_server_port(srv);
    /* The failed handler's connection is closed: the client sees EOF, or
     * a reset (the kernel resets a connection closed with unread data). */
    int r = roundtrip(port, "first");
    CHECK(r == -ENODATA || r == -ECONNRESET);
    CHECK_EQ(roundtrip(port, "second"), 0);
    CHECK_EQ(roundtrip(port, "third"), 0);
    simul_server_stats st;
    simul_server_stats_get(srv, &st);
    CHECK_EQ(st.failed, 1);
    CHECK_EQ(st.accepted, 3);
    CHECK_EQ(simul_server_close(srv, 1), 0);
    return 0;
}
TEST(a_failing_handler_does_not_stop_the_server)
{
    CHECK_EQ(simul_run(main_flaky, NULL), 0);
}

/*
 * EMFILE: the process runs out of descriptors, so accept fails while a
 * client waits in the backlog. The server logs, backs off, and serves that
 * client once descriptors are released.
 */
static int main_emfile(void *a)
{
    (void)a;
    simul_server *srv;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, echo_handler, NULL, NULL, &srv), 0);
    int port = simul_server_port(srv);
    struct rlimit rl = { 64, 64 };
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    static int burn[64];
    int nb = 0;
    for (;;) {
        int fd = dup(0);
        if (fd < 0) {
            CHECK_EQ(errno, EMFILE);
            break;
        }
        burn[nb++] = fd;
    }
    CHECK(nb > 2);
    close(burn[--nb]);   /* exactly one fd free: for the client socket */
    simul_stream *c;
    CHECK_EQ(simul_open_connection("127.0.0.1", port, 5, NULL, &c), 0);
    CHECK_EQ(simul_stream_write(c, "ping", 4), 0);
    CHECK_EQ(simul_sleep(0.2), 0);
    simul_server_stats st;
    simul_server_stats_get(srv, &st);
    CHECK(st.accept_errors >= 1);
    CHECK_EQ(st.accepted, 0);
    /* Release some descriptors: the server catches up by itself. */
    for (int i = 0; i < 8; i++)
        close(burn[--nb]);
    char buf[4];
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + 5);
    CHECK_EQ(simul_stream_readexactly(c, buf, 4), 4);
    CHECK_EQ(simul_scope_exit(&sc), 0);
    CHECK(memcmp(buf, "ping", 4) == 0);
    simul_server_stats_get(srv, &st);
    CHECK_EQ(st.accepted, 1);
    CHECK_EQ(simul_stream_close(c), 0);
    CHECK_EQ(simul_server_close(srv, 1), 0);
    while (nb)
        close(burn[--nb]);
    return 0;
}
TEST(emfile_on_accept_server_recovers_when_fds_free_up)
{
    /* The log line goes to stderr; keep it out of the test output. */
    int devnull = open("/dev/null", O_WRONLY);
    int saved = dup(2);
    dup2(devnull, 2);
    close(devnull);
    int r = simul_run(main_emfile, NULL);
    dup2(saved, 2);
    CHECK_EQ(r, 0);
}

static int slow_handler(simul_stream *s, void *arg)
{
    double secs = *(double *)arg;
    char b[8];
    CHECK_EQ(simul_stream_readexactly(s, b, 2), 2);
    int r = simul_sleep(secs);
    if (r < 0)
        return r;
    CHECK_EQ(simul_stream_write(s, "done", 4), 0);
    return 0;
}
static int main_graceful(void *a)
{
    double grace = *(double *)a;
    /* Handlers that are cancelled sleep long, so that no scheduling delay
     * under load lets them finish before the grace period ends. */
    static double secs;
    secs = grace >= 1 ? 0.1 : 10;
    simul_server *srv;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, slow_handler, &secs, NULL, &srv), 0);
    int port = simul_server_port(srv);
    simul_stream *c[3];
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(simul_open_connection("127.0.0.1", port, 5, NULL, &c[i]), 0);
        CHECK_EQ(simul_stream_write(c[i], "go", 2), 0);
    }
    CHECK_EQ(simul_sleep(0.03), 0);   /* every handler is sleeping now */
    double t0 = simul_now();
    int r = simul_server_close(srv, grace);
    double el = simul_now() - t0;
    /* No new connections once closed. */
    simul_stream *x;
    CHECK_EQ(simul_open_connection("127.0.0.1", port, 1, NULL, &x), -ECONNREFUSED);
    char buf[8];
    if (grace >= 1) {
        /* Everyone finished within the grace period. */
        CHECK_EQ(r, 0);
        CHECK(el >= 0.05 && el < 0.9);
        for (int i = 0; i < 3; i++)
            CHECK_EQ(simul_stream_readexactly(c[i], buf, 4), 4);
    } else {
        /* Cancelled after the grace period: the clients see EOF. */
        CHECK_EQ(r, 3);
        CHECK(el >= grace * 0.9 && el < 1.0);
        for (int i = 0; i < 3; i++)
            CHECK_EQ(simul_stream_read(c[i], buf, sizeof buf), 0);
    }
    for (int i = 0; i < 3; i++)
        CHECK_EQ(simul_stream_close(c[i]), 0);
    return 0;
}
TEST(graceful_close_lets_handlers_finish)
{
    double grace = 2;
    CHECK_EQ(simul_run(main_graceful, &grace), 0);
}
TEST(graceful_close_cancels_handlers_after_the_grace_period)
{
    double grace = 0.02;
    CHECK_EQ(simul_run(main_graceful, &grace), 0);
}

static int closer_task(void *a)
{
    return simul_server_close(a, INFINITY);
}
static int stubborn_handler(simul_stream *s, void *arg)
{
    (void)arg;
    char b[1];
    return simul_stream_read(s, b, 1);   /* waits until cancelled */
}
static int main_close_cancelled(void *a)
{
    (void)a;
    simul_server *srv;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, stubborn_handler, NULL, NULL, &srv), 0);
    simul_stream *c;
    CHECK_EQ(simul_open_connection("127.0.0.1", simul_server_port(srv), 5, NULL, &c), 0);
    CHECK_EQ(simul_sleep(0.02), 0);
    simul_task *t = simul_spawn(closer_task, srv);
    CHECK_EQ(simul_sleep(0.05), 0);
    CHECK_EQ(simul_task_done(t), 0);   /* INFINITY: still waiting */
    CHECK_EQ(simul_cancel(t), 0);
    CHECK_EQ(simul_join(t), -ECANCELED);   /* handlers cancelled and awaited */
    char b[1];
    CHECK_EQ(simul_stream_read(c, b, 1), 0);
    CHECK_EQ(simul_stream_close(c), 0);
    return 0;
}
TEST(cancelling_server_close_still_cleans_up)
{
    CHECK_EQ(simul_run(main_close_cancelled, NULL), 0);
}

/*
 * A client that sends forever and never reads: the echo handler's writes
 * back up, drain blocks (the handler stops reading, so TCP pushes back on
 * the client too), the server's queue stays bounded, and a deadline (the
 * graceful close's grace period) ends the stuck handler.
 */
static size_t max_queued;
static int tracking_echo(simul_stream *s, void *arg)
{
    (void)arg;
    char buf[4096];
    for (;;) {
        int n = simul_stream_read(s, buf, sizeof buf);
        if (n <= 0)
            return n;
        int r = simul_stream_write(s, buf, (size_t)n);
        if (simul_stream_buffered(s) > max_queued)
            max_queued = simul_stream_buffered(s);
        if (r == 0)
            r = simul_stream_drain(s);
        if (r < 0)
            return r;
    }
}
static int main_flood(void *a)
{
    (void)a;
    simul_server *srv;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, tracking_echo, NULL, NULL, &srv), 0);
    int port = simul_server_port(srv);
    simul_stream *c;
    CHECK_EQ(simul_open_connection("127.0.0.1", port, 5, NULL, &c), 0);
    int fd = simul_stream_fd(c);
    static char chunk[65536];
    size_t sent = 0;
    double until = simul_now() + 0.5;
    /* Send until the kernel refuses for 100 ms in a row: everyone is full. */
    while (simul_now() < until) {
        ssize_t n = send(fd, chunk, sizeof chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            until = simul_now() + 0.1;
            continue;
        }
        CHECK(n < 0 && errno == EAGAIN);
        int w = simul_wait_fd(fd, SIMUL_WRITABLE, simul_now() + 0.02);
        CHECK(w > 0 || w == -ETIMEDOUT);
    }
    printf("# client got %zu bytes out before being blocked; server queue peaked "
           "at %zu\n", sent, max_queued);
    CHECK(max_queued > 0 && max_queued <= 64 * 1024 + 4096);
    simul_server_stats st;
    simul_server_stats_get(srv, &st);
    CHECK_EQ(st.live, 1);
    double t0 = simul_now();
    CHECK_EQ(simul_server_close(srv, 0.1), 1);   /* the stuck handler */
    CHECK(simul_now() - t0 < 1.0);
    CHECK_EQ(simul_stream_close(c), 0);   /* nothing of ours was queued */
    return 0;
}
TEST(client_sends_forever_without_reading_memory_stays_bounded)
{
    CHECK_EQ(simul_run(main_flood, NULL), 0);
}

/*
 * A client that stops reading: the handler writes 8 MiB and returns. The
 * implicit close may not wait for ever (the task, the fd and the buffer
 * would stay until simul_server_close): after close_timeout the connection
 * is aborted and everything is released.
 */
static int big_reply_handler(simul_stream *s, void *arg)
{
    (void)arg;
    static char big[8 << 20];
    return simul_stream_write(s, big, sizeof big);
}

static int main_unread(void *a)
{
    (void)a;
    simul_stream_opts o = { .max_buffered = 16 << 20, .close_timeout = 0.3 };
    simul_server *srv;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, big_reply_handler, NULL, &o, &srv), 0);
    simul_stream *c;
    CHECK_EQ(simul_open_connection("127.0.0.1", simul_server_port(srv), 5, NULL, &c), 0);
    simul_server_stats st = { 0 };
    double t0 = simul_now();
    do {
        simul_sleep(0.02);
        simul_server_stats_get(srv, &st);
    } while (st.accepted == 0 || (st.live > 0 && simul_now() - t0 < 5));
    double took = simul_now() - t0;
    printf("# handler released after %.2f s\n", took);
    CHECK_EQ(st.live, 0);
    CHECK_EQ(st.aborted, 1);
    CHECK_EQ(st.failed, 0);
    CHECK(took >= 0.25 && took < 1.5);
    /* The client sees the reset once it reads (the rest was discarded). */
    static char buf[1 << 16];
    int r;
    while ((r = simul_stream_read(c, buf, sizeof buf)) > 0)
        ;
    CHECK_EQ(r, -ECONNRESET);
    simul_stream_close(c);
    CHECK_EQ(simul_server_close(srv, 0), 0);   /* nothing left to cancel */
    return 0;
}
TEST(implicit_close_aborts_a_peer_that_stops_reading)
{
    CHECK_EQ(simul_run(main_unread, NULL), 0);
}

/* A handler may abort its connection as its last act; the server frees it. */
static int aborting_handler(simul_stream *s, void *arg)
{
    (void)arg;
    simul_stream_write(s, "never sent", 10);
    return simul_stream_abort(s);
}

static int main_handler_abort(void *a)
{
    (void)a;
    simul_server *srv;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, aborting_handler, NULL, NULL, &srv), 0);
    simul_stream *c;
    CHECK_EQ(simul_open_connection("127.0.0.1", simul_server_port(srv), 5, NULL, &c), 0);
    char buf[16];
    CHECK_EQ(simul_stream_read(c, buf, sizeof buf), -ECONNRESET);
    simul_stream_close(c);
    simul_server_stats st;
    simul_server_stats_get(srv, &st);
    CHECK_EQ(st.aborted, 0);
    CHECK_EQ(st.failed, 0);
    CHECK_EQ(simul_server_close(srv, 1), 0);
    simul_stream_opts bad = { .close_timeout = -1 };
    CHECK_EQ(simul_start_server("127.0.0.1", 0, aborting_handler, NULL, &bad, &srv), -EINVAL);
    return 0;
}
TEST(a_handler_may_abort_its_connection)
{
    CHECK_EQ(simul_run(main_handler_abort, NULL), 0);
}

static int main_errors(void *a)
{
    (void)a;
    simul_server *srv, *srv2;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, NULL, NULL, NULL, &srv), -EINVAL);
    CHECK_EQ(simul_start_server("127.0.0.1", 70000, echo_handler, NULL, NULL, &srv), -EINVAL);
    CHECK_EQ(simul_start_server("127.0.0.1", 0, echo_handler, NULL, NULL, &srv), 0);
    CHECK_EQ(simul_start_server("127.0.0.1", simul_server_port(srv), echo_handler, NULL,
                                NULL, &srv2), -EADDRINUSE);
    CHECK_EQ(simul_server_close(srv, 0), 0);
    CHECK_EQ(simul_server_close(NULL, 0), -EINVAL);
    return 0;
}
TEST(server_errors)
{
    CHECK_EQ(simul_run(main_errors, NULL), 0);
    simul_server *srv;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, echo_handler, NULL, NULL, &srv), -EPERM);
}

/* ---- the examples, together ------------------------------------------- */

static void example_path(char *out, size_t cap, const char *name)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    exe[n > 0 ? n : 0] = 0;
    /* <build>/tests/test_server -> <build>/examples/NAME */
    snprintf(out, cap, "%s/../examples/%s", dirname(exe), name);
}

TEST(echo_examples_work_together)
{
    char srvpath[PATH_MAX + 32], clipath[PATH_MAX + 32];
    example_path(srvpath, sizeof srvpath, "echo-server");
    example_path(clipath, sizeof clipath, "echo-client");
    CHECK(access(srvpath, X_OK) == 0);
    CHECK(access(clipath, X_OK) == 0);
    int out[2];
    CHECK_EQ(pipe(out), 0);
    pid_t spid = fork();
    if (spid == 0) {
        dup2(out[1], 1);
        execl(srvpath, "echo-server", "0", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[128] = { 0 };
    size_t len = 0;
    while (len < sizeof line - 1) {
        ssize_t n = read(out[0], line + len, 1);
        if (n <= 0 || line[len] == '\n')
            break;
        len++;
    }
    int port = 0;
    CHECK_EQ(sscanf(line, "listening on 127.0.0.1:%d", &port), 1);
    CHECK(port > 0);
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int cout[2];
    CHECK_EQ(pipe(cout), 0);
    pid_t cpid = fork();
    if (cpid == 0) {
        dup2(cout[1], 1);
        execl(clipath, "echo-client", portstr, "hello", "asyncio in C", (char *)NULL);
        _exit(127);
    }
    close(cout[1]);
    char got[256] = { 0 };
    size_t glen = 0;
    ssize_t n;
    while (glen < sizeof got - 1 && (n = read(cout[0], got + glen, sizeof got - 1 - glen)) > 0)
        glen += (size_t)n;
    int st;
    CHECK_EQ(waitpid(cpid, &st, 0), cpid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strcmp(got, "hello\nasyncio in C\n") == 0);
    /* SIGTERM: the server closes gracefully and exits 0. */
    kill(spid, SIGTERM);
    CHECK_EQ(waitpid(spid, &st, 0), spid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The client against a port nobody serves: a clear error, exit 1. */
    cpid = fork();
    if (cpid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 2);
        execl(clipath, "echo-client", portstr, (char *)NULL);
        _exit(127);
    }
    CHECK_EQ(waitpid(cpid, &st, 0), cpid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
}

/* The contract: a cancelled caller gets -ECANCELED, even when no handler
 * was running (nothing to wait for) and the server closed at once. */
static int main_close_in_cancelled_task(void *a)
{
    (void)a;
    simul_server *srv;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, stubborn_handler, NULL, NULL, &srv), 0);
    CHECK_EQ(simul_cancel(simul_current()), 0);
    CHECK_EQ(simul_server_close(srv, INFINITY), -ECANCELED);
    return 0;
}
TEST(server_close_in_a_cancelled_task_says_ECANCELED)
{
    CHECK_EQ(simul_run(main_close_in_cancelled_task, NULL), 0);
}
