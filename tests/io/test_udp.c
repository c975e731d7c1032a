/*
 * test_udp.c - UDP endpoints: datagrams both ways with the sender's
 * address, deadlines, truncation, close waking a waiter, bad arguments.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <string.h>
#include <simul.h>

static int main_pingpong(void *a)
{
    (void)a;
    simul_udp *s, *c;
    CHECK_EQ(simul_udp_open("127.0.0.1", 0, &s), 0);
    CHECK_EQ(simul_udp_open("localhost", 0, &c), 0);
    CHECK(simul_udp_port(s) > 0);
    struct sockaddr_storage to;
    socklen_t tolen;
    CHECK_EQ(simul_sockaddr("127.0.0.1", simul_udp_port(s), &to, &tolen), 0);
    CHECK_EQ(simul_udp_sendto(c, "ping", 4, (struct sockaddr *)&to, tolen, INFINITY), 4);
    char buf[64];
    struct sockaddr_storage from;
    socklen_t flen = sizeof from;
    CHECK_EQ(simul_udp_recvfrom(s, buf, sizeof buf, (struct sockaddr *)&from, &flen,
                                simul_now() + 2), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK_EQ(from.ss_family, AF_INET);
    CHECK_EQ(ntohs(((struct sockaddr_in *)&from)->sin_port), simul_udp_port(c));
    /* Reply to the address the datagram came from. */
    CHECK_EQ(simul_udp_sendto(s, "pong!", 5, (struct sockaddr *)&from, flen, INFINITY), 5);
    CHECK_EQ(simul_udp_recvfrom(c, buf, sizeof buf, NULL, NULL, simul_now() + 2), 5);
    CHECK(memcmp(buf, "pong!", 5) == 0);
    /* Empty datagrams exist. */
    CHECK_EQ(simul_udp_sendto(c, "", 0, (struct sockaddr *)&to, tolen, INFINITY), 0);
    CHECK_EQ(simul_udp_recvfrom(s, buf, sizeof buf, NULL, NULL, simul_now() + 2), 0);
    /* Truncation is reported, the datagram is consumed. */
    CHECK_EQ(simul_udp_sendto(c, "0123456789", 10, (struct sockaddr *)&to, tolen, INFINITY), 10);
    CHECK_EQ(simul_udp_recvfrom(s, buf, 4, NULL, NULL, simul_now() + 2), -EMSGSIZE);
    CHECK(memcmp(buf, "0123", 4) == 0);
    CHECK_EQ(simul_udp_close(s), 0);
    CHECK_EQ(simul_udp_close(c), 0);
    return 0;
}
TEST(datagrams_both_ways_with_addresses)
{
    CHECK_EQ(simul_run(main_pingpong, NULL), 0);
}

static int main_v6(void *a)
{
    (void)a;
    simul_udp *s;
    int r = simul_udp_open("::1", 0, &s);
    if (r == -EADDRNOTAVAIL || r == -EAFNOSUPPORT) {
        printf("# no IPv6 loopback here: skipped\n");
        return 0;
    }
    CHECK_EQ(r, 0);
    struct sockaddr_storage to;
    socklen_t tolen;
    CHECK_EQ(simul_sockaddr("::1", simul_udp_port(s), &to, &tolen), 0);
    CHECK_EQ(simul_udp_sendto(s, "self", 4, (struct sockaddr *)&to, tolen, INFINITY), 4);
    char buf[8];
    CHECK_EQ(simul_udp_recvfrom(s, buf, sizeof buf, NULL, NULL, simul_now() + 2), 4);
    CHECK_EQ(simul_udp_close(s), 0);
    return 0;
}
TEST(ipv6_datagrams)
{
    CHECK_EQ(simul_run(main_v6, NULL), 0);
}

static simul_udp *shared;
static int recv_forever(void *a)
{
    (void)a;
    char b[8];
    return simul_udp_recvfrom(shared, b, sizeof b, NULL, NULL, INFINITY);
}
static int main_deadline(void *a)
{
    (void)a;
    CHECK_EQ(simul_udp_open(NULL, 0, &shared), 0);
    char b[8];
    double t0 = simul_now();
    CHECK_EQ(simul_udp_recvfrom(shared, b, sizeof b, NULL, NULL, t0 + 0.05), -ETIMEDOUT);
    CHECK(simul_now() - t0 >= 0.045);
    /* Cancellation. */
    simul_task *t = simul_spawn(recv_forever, NULL);
    CHECK_EQ(simul_sleep(0.01), 0);
    simul_cancel(t);
    CHECK_EQ(simul_join(t), -ECANCELED);
    /* Closing the endpoint's fd under a waiter wakes it with -EBADF. */
    t = simul_spawn(recv_forever, NULL);
    CHECK_EQ(simul_sleep(0.01), 0);
    CHECK_EQ(simul_close(simul_udp_fd(shared)), 0);
    CHECK_EQ(simul_join(t), -EBADF);
    /* The struct is still freed; its fd was closed already. */
    CHECK_EQ(simul_udp_close(shared), -EBADF);
    simul_udp *u;
    CHECK_EQ(simul_udp_open("127.0.0.1", 70000, &u), -EINVAL);
    CHECK_EQ(simul_udp_open("192.0.2.1", 0, &u), -EADDRNOTAVAIL);
    CHECK_EQ(simul_sockaddr("example.com", 1, NULL, NULL), -EINVAL);
    CHECK_EQ(simul_udp_recvfrom(NULL, b, 1, NULL, NULL, INFINITY), -EINVAL);
    return 0;
}
TEST(recv_deadline_cancel_and_close)
{
    CHECK_EQ(simul_run(main_deadline, NULL), 0);
}
