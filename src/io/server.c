/*
 * server.c - stream servers (asyncio.start_server): listening sockets, an
 * acceptor task per socket, one handler task per connection, and graceful
 * close.
 *
 * Handler tasks are detached and tracked in the server's list of
 * connections; each one closes its stream when its handler returns (the
 * flush bounded by close_timeout, then an abort), frees its own record, and
 * the last one out wakes a task waiting in simul_server_close. Accept errors
 * that mean "out of descriptors or memory" (EMFILE, ENFILE, ENOBUFS,
 * ENOMEM) are logged once per burst and retried after a pause, so the
 * server comes back by itself once descriptors free up.
 */
#include "net_internal.h"

#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_LISTEN       SIMUL__MAX_ADDRS
#define ACCEPT_BATCH     64          /* accepts before yielding to others */
#define ACCEPT_BACKOFF_S 0.05        /* pause after EMFILE and kin */
#define BACKLOG          1024
#define CLOSE_TIMEOUT_S  30.0        /* implicit close: flush at most this long */

struct acceptor {
    simul_server *srv;
    int           fd;             /* -1: a channel server's */
    simul_task   *task;
};

struct simul_server {
    simul_conn_handler handler;
    void              *arg;
    simul_stream_opts  opts;
    int                has_opts;
    int64_t            close_ns;      /* implicit close's bound; NO_DEADLINE */
    int                port;          /* -1 for Unix and channel servers */
    simul_chan        *chan;          /* simul_start_chan_server's source */
    char              *unix_path;
    int                nl;
    struct acceptor    acc[MAX_LISTEN];
    simul__list        conns;
    simul__task       *closer;        /* task waiting in simul_server_close */
    int                closing;
    simul_server_stats st;
};

struct conn {
    simul__list   link;
    simul_server *srv;
    simul_task   *task;
    int           fd;
};

static int conn_main(void *arg)
{
    struct conn *c = arg;
    simul_server *srv = c->srv;
    simul_stream *s = NULL;
    int r = simul_stream_from_fd(c->fd, srv->has_opts ? &srv->opts : NULL, &s);
    if (r < 0) {
        simul_close(c->fd);
    } else {
        simul__stream_set_owned(s);
        r = srv->handler(s, srv->arg);
        /* The server closes the stream: buffered output is flushed, but a
         * peer that stops reading must not pin the task, the fd and the
         * buffer: past close_timeout the connection is aborted. */
        int64_t deadline = srv->close_ns == SIMUL__NO_DEADLINE ? SIMUL__NO_DEADLINE
                         : simul__clock_ns() + srv->close_ns;
        if (simul__stream_close_until(s, deadline) == -ETIMEDOUT)
            srv->st.aborted++;
    }
    /* A handler cancelled by simul_server_close is not a failure. */
    if (r < 0 && !(srv->closing && r == -ECANCELED)) {
        srv->st.failed++;
        simul__log(SIMUL_LOG_WARN, "server: connection handler failed: %s",
                   simul_strerror(r));
    }
    simul__list_remove(&c->link);
    srv->st.live--;
    if (srv->closer && simul__list_empty(&srv->conns))
        simul__wake(srv->closer, 0);
    free(c);
    return 0;
}

static void spawn_conn(simul_server *srv, int fd)
{
    struct conn *c = malloc(sizeof *c);
    if (!c)
        goto fail;
    c->srv = srv;
    c->fd = fd;
    c->task = simul_spawn(conn_main, c);
    if (!c->task)
        goto fail_task;
    simul_detach(c->task);
    simul__list_push(&srv->conns, &c->link);
    srv->st.accepted++;
    srv->st.live++;
    return;
fail_task:
    free(c);
fail:
    simul__log(SIMUL_LOG_ERROR, "server: cannot start a connection task: %s",
               simul_strerror(-errno));
    close(fd);
}

/* opts.handoff: the socket goes to whichever loop serves the channel. A
 * full channel makes the acceptor wait (the backlog holds the rest). */
static int hand_off(simul_server *srv, int fd)
{
    int r = simul_chan_send(srv->opts.handoff, (void *)(intptr_t)fd);
    if (r < 0) {
        close(fd);
        return r;
    }
    srv->st.accepted++;
    return 0;
}

static int accept_main(void *arg)
{
    struct acceptor *a = arg;
    simul_server *srv = a->srv;
    int in_burst = 0;   /* logging: once per run of EMFILE-like errors */
    for (;;) {
        int n = 0;
        while (n < ACCEPT_BATCH) {
            int fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd >= 0) {
                if (in_burst) {
                    simul__log(SIMUL_LOG_INFO, "server: accepting again");
                    in_burst = 0;
                }
                if (srv->opts.handoff) {
                    int r = hand_off(srv, fd);
                    if (r == -ECANCELED)
                        return 0;            /* simul_server_close */
                    if (r < 0 && r != -ESHUTDOWN)
                        simul__log(SIMUL_LOG_ERROR, "server: handing a connection over: %s",
                                   simul_strerror(r));
                } else {
                    spawn_conn(srv, fd);
                }
                n++;
                continue;
            }
            int e = errno;
            if (e == EINTR || e == ECONNABORTED || e == EPROTO)
                continue;
            if (e == EAGAIN || e == EWOULDBLOCK)
                break;
            srv->st.accept_errors++;
            if (!in_burst) {
                simul__log(SIMUL_LOG_ERROR, "server: accept: %s; retrying every %g s",
                           strerror(e), ACCEPT_BACKOFF_S);
                in_burst = 1;
            }
            /* Out of fds or memory: the pending connection stays in the
             * backlog; try again once some may have been released. */
            if (simul_sleep(ACCEPT_BACKOFF_S) < 0)
                return 0;
            n = 0;
        }
        int r = n == ACCEPT_BATCH ? simul_yield()
              : simul__fd_wait(a->fd, SIMUL_READABLE, SIMUL__NO_DEADLINE, 0);
        if (r < 0)
            return 0;   /* cancelled by close, or the fd was closed */
    }
}

/* A channel server's acceptor: sockets from the channel until it ends. */
static int chan_accept_main(void *arg)
{
    struct acceptor *a = arg;
    void *item;
    while (simul_chan_next(a->srv->chan, &item) > 0) {
        int fd = (int)(intptr_t)item;
        /* A number this loop saw before belonged to a closed file. */
        simul__fd_forget(simul__loop(), fd);
        spawn_conn(a->srv, fd);
    }
    return 0;
}

/* close_timeout as ns (0: the default; INFINITY: none); -1 if invalid. */
static int64_t close_ns_of(const simul_stream_opts *opts)
{
    double t = opts && opts->close_timeout != 0 ? opts->close_timeout : CLOSE_TIMEOUT_S;
    if (isnan(t) || t < 0)
        return -1;
    return isinf(t) || t >= 9.2e9 ? SIMUL__NO_DEADLINE : simul__seconds_to_ns(t);
}

static simul_server *server_new(simul_conn_handler h, void *arg,
                                const simul_stream_opts *opts)
{
    simul_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->handler = h;
    srv->arg = arg;
    srv->close_ns = close_ns_of(opts);
    if (opts) {
        srv->opts = *opts;
        srv->has_opts = 1;
    }
    srv->port = -1;
    simul__list_init(&srv->conns);
    return srv;
}

/* Closes listening sockets and frees a server that never started. */
static void server_discard(simul_server *srv)
{
    for (int i = 0; i < srv->nl; i++)
        simul_close(srv->acc[i].fd);
    free(srv->unix_path);
    free(srv);
}

static int start_acceptors(simul_server *srv)
{
    for (int i = 0; i < srv->nl; i++) {
        srv->acc[i].srv = srv;
        simul_task_opts to = { .name = "accept" };
        srv->acc[i].task = simul_spawn_opts(srv->chan ? chan_accept_main : accept_main,
                                            &srv->acc[i], &to);
        if (!srv->acc[i].task) {
            int err = -errno;
            for (int j = 0; j < i; j++) {
                simul_cancel(srv->acc[j].task);
                simul_join(srv->acc[j].task);
            }
            return err;
        }
    }
    return 0;
}

static int listen_on(const struct sockaddr *sa, socklen_t len, int reuseport, int *fdp)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    simul__fd_forget(simul__loop(), fd);
    int one = 1;
    if (sa->sa_family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* Several listeners on one port (one per loop): the kernel hashes
     * each new connection to one of them. */
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    /* Keep ::1 / :: from also claiming the IPv4 side of the port. */
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, sa, len) < 0 || listen(fd, BACKLOG) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    *fdp = fd;
    return 0;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

int simul_start_server(const char *host, int port, simul_conn_handler handler,
                       void *arg, const simul_stream_opts *opts, simul_server **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!simul__current())
        return -EPERM;
    if (!handler || port < 0 || port > 65535 || close_ns_of(opts) < 0)
        return -EINVAL;
    simul__addrs ad;
    int r = simul__net_resolve(host, port, SOCK_STREAM, 1, &ad);
    if (r < 0)
        return r;
    simul_server *srv = server_new(handler, arg, opts);
    if (!srv)
        return -ENOMEM;
    for (int i = 0; i < ad.n; i++) {
        struct sockaddr *sa = (struct sockaddr *)&ad.a[i];
        /* Port 0: the first bind picks, the other addresses reuse it. */
        if (srv->port > 0) {
            if (sa->sa_family == AF_INET)
                ((struct sockaddr_in *)sa)->sin_port = htons((uint16_t)srv->port);
            else
                ((struct sockaddr_in6 *)sa)->sin6_port = htons((uint16_t)srv->port);
        }
        int fd;
        r = listen_on(sa, ad.len[i], opts && opts->reuseport, &fd);
        /* A host without IPv6 (or IPv4) still serves the other family. */
        if (r == -EAFNOSUPPORT || r == -EADDRNOTAVAIL) {
            if (i + 1 < ad.n || srv->nl)
                continue;
        }
        if (r < 0)
            goto fail;
        srv->acc[srv->nl++].fd = fd;
        if (srv->port <= 0 && (srv->port = bound_port(fd)) < 0) {
            r = srv->port;
            goto fail;
        }
    }
    r = start_acceptors(srv);
    if (r < 0)
        goto fail;
    *out = srv;
    return 0;
fail:
    server_discard(srv);
    return r;
}

int simul_start_unix_server(const char *path, simul_conn_handler handler,
                            void *arg, const simul_stream_opts *opts,
                            simul_server **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!simul__current())
        return -EPERM;
    if (!handler || !path || close_ns_of(opts) < 0)
        return -EINVAL;
    struct sockaddr_un un = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof un.sun_path)
        return -ENAMETOOLONG;
    strcpy(un.sun_path, path);
    simul_server *srv = server_new(handler, arg, opts);
    if (!srv)
        return -ENOMEM;
    int r = -ENOMEM;
    srv->unix_path = strdup(path);
    if (!srv->unix_path)
        goto fail;
    /* Replace a stale socket file, never any other kind of file. */
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(path);
    int fd;
    r = listen_on((struct sockaddr *)&un, sizeof un, 0, &fd);
    if (r < 0)
        goto fail;
    srv->acc[srv->nl++].fd = fd;
    r = start_acceptors(srv);
    if (r < 0) {
        unlink(path);
        goto fail;
    }
    *out = srv;
    return 0;
fail:
    server_discard(srv);
    return r;
}

int simul_start_chan_server(simul_chan *ch, simul_conn_handler handler, void *arg,
                            const simul_stream_opts *opts, simul_server **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!simul__current())
        return -EPERM;
    if (!ch || !handler || close_ns_of(opts) < 0)
        return -EINVAL;
    simul_server *srv = server_new(handler, arg, opts);
    if (!srv)
        return -ENOMEM;
    srv->opts.handoff = NULL;       /* this one serves what it takes */
    srv->chan = ch;
    srv->acc[srv->nl++].fd = -1;
    int r = start_acceptors(srv);
    if (r < 0) {
        free(srv);
        return r;
    }
    *out = srv;
    return 0;
}

int simul_server_port(const simul_server *srv)
{
    return srv && srv->port > 0 ? srv->port : -EINVAL;
}

void simul_server_stats_get(const simul_server *srv, simul_server_stats *st)
{
    if (srv && st)
        *st = srv->st;
}

static int cancel_conns(simul_server *srv)
{
    int n = 0;
    for (simul__list *p = srv->conns.next; p != &srv->conns; p = p->next) {
        struct conn *c = simul__container_of(p, struct conn, link);
        if (simul_cancel(c->task) == 0)
            n++;
    }
    return n;
}

int simul_server_close(simul_server *srv, double timeout)
{
    if (!srv)
        return -EINVAL;
    simul__task *me = simul__current();
    if (!me)
        return -EPERM;
    srv->closing = 1;
    /* Stop accepting: acceptors first (they wait on the listening fds). */
    for (int i = 0; i < srv->nl; i++) {
        simul_cancel(srv->acc[i].task);
        simul_join(srv->acc[i].task);   /* waits even if we are cancelled */
    }
    for (int i = 0; i < srv->nl; i++)
        if (srv->acc[i].fd >= 0)
            simul_close(srv->acc[i].fd);
    if (srv->unix_path)
        unlink(srv->unix_path);

    int result = 0, cancelled = 0, forced = 0;
    int64_t deadline = isnan(timeout) || timeout <= 0 ? 0
                     : simul__timeout_ns(simul__loop(), timeout);
    srv->closer = me;
    while (!simul__list_empty(&srv->conns)) {
        if (!forced && (deadline == 0 || simul__clock_ns() >= deadline)) {
            cancelled = cancel_conns(srv);
            forced = 1;
        }
        int r = simul__park_until(forced ? SIMUL__NO_DEADLINE : deadline,
                                  forced ? SIMUL__PARK_NOCANCEL : 0, "server close",
                                  __builtin_return_address(0));
        if (r == -ECANCELED) {
            /* Our caller is cancelled: stop waiting politely. */
            result = -ECANCELED;
            if (!forced) {
                cancelled = cancel_conns(srv);
                forced = 1;
            }
        }
    }
    srv->closer = NULL;
    free(srv->unix_path);
    free(srv);
    /* A cancelled caller hears of it even when there was nothing to wait
     * for (the loop above never parked). */
    if (result == 0 && simul__cancel_pending(me))
        result = -ECANCELED;
    return result < 0 ? result : cancelled;
}
