/*
 * udp.c - UDP datagram endpoints: a non-blocking socket bound to a local
 * address, sendto/recvfrom that wait on the loop when the socket has no
 * room or no datagram, with deadlines.
 */
#include "net_internal.h"

#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct simul_udp {
    int fd;
    int port;
};

int simul_udp_open(const char *host, int port, simul_udp **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!simul__loop())
        return -EPERM;
    if (port < 0 || port > 65535)
        return -EINVAL;
    simul__addrs ad;
    int r = simul__net_resolve(host, port, SOCK_DGRAM, 1, &ad);
    if (r < 0)
        return r;
    if (ad.n == 0)
        return -ENOENT;
    /* "localhost" gives ::1 then 127.0.0.1: bind the IPv4 one, which
     * simul_sockaddr("localhost") also picks. */
    int i = ad.n > 1 && ad.a[0].ss_family == AF_INET6 && ad.a[1].ss_family == AF_INET ? 1 : 0;
    const struct sockaddr *sa = (const struct sockaddr *)&ad.a[i];
    simul_udp *u = calloc(1, sizeof *u);
    if (!u)
        return -ENOMEM;
    u->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (u->fd < 0) {
        r = -errno;
        goto fail;
    }
    simul__fd_forget(simul__loop(), u->fd);
    if (bind(u->fd, sa, ad.len[i]) < 0) {
        r = -errno;
        goto fail_fd;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(u->fd, (struct sockaddr *)&ss, &len) < 0) {
        r = -errno;
        goto fail_fd;
    }
    u->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    *out = u;
    return 0;
fail_fd:
    close(u->fd);
fail:
    free(u);
    return r;
}

int simul_udp_fd(const simul_udp *u) { return u ? u->fd : -EINVAL; }
int simul_udp_port(const simul_udp *u) { return u ? u->port : -EINVAL; }

int simul_udp_sendto(simul_udp *u, const void *buf, size_t n,
                     const struct sockaddr *to, socklen_t tolen, double deadline)
{
    if (!u || (!buf && n) || isnan(deadline) || n > INT32_MAX)
        return -EINVAL;
    if (!simul__current())
        return -EPERM;
    for (;;) {
        ssize_t r = sendto(u->fd, buf, n, MSG_NOSIGNAL, to, tolen);
        if (r >= 0)
            return (int)r;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int w = simul__fd_wait(u->fd, SIMUL_WRITABLE, simul__deadline_ns(deadline), 0);
        if (w < 0)
            return w;
    }
}

int simul_udp_recvfrom(simul_udp *u, void *buf, size_t cap,
                       struct sockaddr *from, socklen_t *fromlen, double deadline)
{
    if (!u || (!buf && cap) || isnan(deadline) || (from && !fromlen))
        return -EINVAL;
    if (!simul__current())
        return -EPERM;
    for (;;) {
        ssize_t r = recvfrom(u->fd, buf, cap, MSG_TRUNC, from, from ? fromlen : NULL);
        if (r >= 0)
            return (size_t)r > cap ? -EMSGSIZE : (int)r;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return -errno;
        int w = simul__fd_wait(u->fd, SIMUL_READABLE, simul__deadline_ns(deadline), 0);
        if (w < 0)
            return w;
    }
}

int simul_udp_close(simul_udp *u)
{
    if (!u)
        return 0;
    int r = simul_close(u->fd);
    free(u);
    return r;
}
