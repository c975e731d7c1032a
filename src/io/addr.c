/*
 * addr.c - turning host names and ports into socket addresses for the
 * networking calls. Numeric addresses and "localhost" are handled inline
 * (no thread, no I/O); other names go through the asynchronous resolver
 * (simul_getaddrinfo), so the loop never blocks on DNS.
 */
#include "net_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static void add_addr(simul__addrs *out, const struct sockaddr *sa, socklen_t len)
{
    if (out->n >= SIMUL__MAX_ADDRS || len > sizeof out->a[0])
        return;
    memcpy(&out->a[out->n], sa, len);
    out->len[out->n++] = len;
}

static void add_v4(simul__addrs *out, uint32_t addr_be, int port)
{
    struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    in.sin_addr.s_addr = addr_be;
    add_addr(out, (struct sockaddr *)&in, sizeof in);
}

static void add_v6(simul__addrs *out, const struct in6_addr *a, int port)
{
    struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
    in6.sin6_addr = *a;
    add_addr(out, (struct sockaddr *)&in6, sizeof in6);
}

static void add_list(simul__addrs *out, const struct addrinfo *ai, int port)
{
    for (; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET)
            add_v4(out, ((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr, port);
        else if (ai->ai_family == AF_INET6) {
            struct sockaddr_in6 in6;
            memcpy(&in6, ai->ai_addr, sizeof in6);
            in6.sin6_port = htons((uint16_t)port);
            add_addr(out, (struct sockaddr *)&in6, sizeof in6);
        }
    }
}

/* Numeric or localhost: 1 if handled (out filled), 0 if it is a name. */
static int resolve_inline(const char *host, int port, int passive, simul__addrs *out)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!host) {
        if (!passive)
            return 0;
        /* Every local address: both wildcards (servers bind each one;
         * a host without IPv6 skips it). */
        add_v4(out, htonl(INADDR_ANY), port);
        add_v6(out, &in6addr_any, port);
        return 1;
    }
    if (inet_pton(AF_INET, host, &a4) == 1) {
        add_v4(out, a4.s_addr, port);
        return 1;
    }
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        add_v6(out, &a6, port);
        return 1;
    }
    if (strcasecmp(host, "localhost") == 0) {
        /* As glibc orders it: ::1 first, then 127.0.0.1. */
        add_v6(out, &in6addr_loopback, port);
        add_v4(out, htonl(INADDR_LOOPBACK), port);
        return 1;
    }
    return 0;
}

int simul__net_resolve(const char *host, int port, int socktype, int passive,
                       simul__addrs *out)
{
    out->n = 0;
    if (port < 0 || port > 65535)
        return -EINVAL;
    if (resolve_inline(host, port, passive, out))
        return 0;
    if (!host || !*host)
        return -EINVAL;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = socktype,
                              .ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0) };
    struct addrinfo *res = NULL;
    int r = simul_getaddrinfo(host, NULL, &hints, &res);
    if (r < 0)
        return r;
    add_list(out, res, port);
    simul_freeaddrinfo(res);
    return out->n ? 0 : SIMUL_EAI_NONAME;
}

int simul_sockaddr(const char *host, int port, struct sockaddr_storage *ss,
                   socklen_t *len)
{
    if (!host || !ss || !len || port < 0 || port > 65535)
        return -EINVAL;
    simul__addrs ad = { .n = 0 };
    if (!resolve_inline(host, port, 0, &ad) || ad.n == 0)
        return -EINVAL;
    /* localhost: IPv4, the address every stack has. */
    int i = ad.n > 1 ? 1 : 0;
    memcpy(ss, &ad.a[i], ad.len[i]);
    *len = ad.len[i];
    return 0;
}
