/*
 * test_server_loops.c - servers across loops: two loops each with an
 * SO_REUSEPORT listener on one port serve connections concurrently (both
 * loops accept, every connection is echoed by the loop that took it); one
 * loop accepting and handing sockets over through a channel to servers on
 * two loops (fd handover): every connection served once, by both loops.
 * The clients are plain threads with blocking sockets.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <simul.h>

#define CONNS 64

static struct {
    atomic_int port;
    atomic_int served[2];        /* connections handled, by loop */
    atomic_int started;          /* servers up */
    atomic_int clients_done;
    atomic_int failures;
    simul_chan *handoff;
    simul_server_stats st[2], st_acceptor;
} sv;

/* Echo lines; count the connection for the loop that serves it. */
static int echo(simul_stream *s, void *arg)
{
    (void)arg;
    atomic_fetch_add(&sv.served[simul_loop_index()], 1);
    char buf[256];
    int n;
    while ((n = simul_stream_read(s, buf, sizeof buf)) > 0) {
        int r = simul_stream_write(s, buf, (size_t)n);
        if (r < 0)
            return r;
    }
    return n;
}

/* CONNS connections open at once, each echoing a message, then closed. */
static void *clients(void *p)
{
    (void)p;
    int fds[CONNS];
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atomic_load(&sv.port)) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < CONNS; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&a, sizeof a) < 0)
            atomic_fetch_add(&sv.failures, 1);
    }
    for (int i = 0; i < CONNS; i++) {
        char msg[32], back[32];
        int len = snprintf(msg, sizeof msg, "conn %d\n", i);
        if (write(fds[i], msg, (size_t)len) != len) {
            atomic_fetch_add(&sv.failures, 1);
            continue;
        }
        int got = 0;
        while (got < len) {
            ssize_t r = read(fds[i], back + got, (size_t)(len - got));
            if (r <= 0)
                break;
            got += (int)r;
        }
        if (got != len || memcmp(msg, back, (size_t)len) != 0)
            atomic_fetch_add(&sv.failures, 1);
    }
    for (int i = 0; i < CONNS; i++)
        close(fds[i]);
    atomic_store(&sv.clients_done, 1);
    return NULL;
}

static void wait_flag(atomic_int *f, int v)
{
    while (atomic_load(f) < v)
        simul_sleep(0.001);
}

static int reuseport_main(void *arg)
{
    (void)arg;
    int i = simul_loop_index();
    simul_stream_opts o = { .reuseport = 1 };
    simul_server *srv;
    if (i == 1)
        wait_flag(&sv.started, 1);        /* the port loop 0 got */
    int r = simul_start_server("127.0.0.1", atomic_load(&sv.port), echo, NULL, &o, &srv);
    if (r < 0)
        return r;
    if (i == 0)
        atomic_store(&sv.port, simul_server_port(srv));
    atomic_fetch_add(&sv.started, 1);
    pthread_t th;
    if (i == 0) {
        wait_flag(&sv.started, 2);
        CHECK_EQ(pthread_create(&th, NULL, clients, NULL), 0);
    }
    wait_flag(&sv.clients_done, 1);
    simul_sleep(0.01);
    simul_server_stats_get(srv, &sv.st[i]);
    if (i == 0)
        pthread_join(th, NULL);
    return simul_server_close(srv, 1.0) < 0 ? -EIO : 0;
}

TEST_T(reuseport_servers_on_two_loops_both_accept, 60)
{
    memset(&sv, 0, sizeof sv);
    CHECK_EQ(simul_run_loops(2, reuseport_main, NULL, NULL), 0);
    CHECK_EQ(atomic_load(&sv.failures), 0);
    CHECK_EQ(atomic_load(&sv.served[0]) + atomic_load(&sv.served[1]), CONNS);
    CHECK(atomic_load(&sv.served[0]) > 0);     /* the kernel spread them */
    CHECK(atomic_load(&sv.served[1]) > 0);
    CHECK_EQ(sv.st[0].accepted + sv.st[1].accepted, CONNS);
}

static int handoff_main(void *arg)
{
    (void)arg;
    int i = simul_loop_index();
    simul_server *acceptor = NULL, *srv;
    int r = simul_start_chan_server(sv.handoff, echo, NULL, NULL, &srv);
    if (r < 0)
        return r;
    if (i == 0) {
        simul_stream_opts o = { .handoff = sv.handoff };
        r = simul_start_server("127.0.0.1", 0, echo, NULL, &o, &acceptor);
        if (r < 0)
            return r;
        atomic_store(&sv.port, simul_server_port(acceptor));
    }
    /* Let this loop's server task run once, so it is parked on the
     * channel before any client connects: a parked receiver is handed the
     * next socket in FIFO turn, so both loops serve some. Without it a
     * loop whose thread the scheduler delays can find all 64 served. */
    CHECK_EQ(simul_yield(), 0);
    if (atomic_fetch_add(&sv.started, 1) == 1) {
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, clients, NULL), 0);
        pthread_detach(th);
    }
    wait_flag(&sv.clients_done, 1);
    simul_sleep(0.01);
    simul_server_stats_get(srv, &sv.st[i]);
    if (acceptor) {
        simul_server_stats_get(acceptor, &sv.st_acceptor);
        CHECK_EQ(simul_server_close(acceptor, 1.0), 0);
    }
    return simul_server_close(srv, 1.0) < 0 ? -EIO : 0;
}

TEST_T(one_acceptor_hands_sockets_to_servers_on_two_loops, 60)
{
    memset(&sv, 0, sizeof sv);
    sv.handoff = simul_chan_new(16);
    CHECK_EQ(simul_run_loops(2, handoff_main, NULL, NULL), 0);
    CHECK_EQ(atomic_load(&sv.failures), 0);
    CHECK_EQ(atomic_load(&sv.served[0]) + atomic_load(&sv.served[1]), CONNS);
    CHECK(atomic_load(&sv.served[0]) > 0);
    CHECK(atomic_load(&sv.served[1]) > 0);
    CHECK_EQ(sv.st_acceptor.accepted, CONNS);  /* accepted there, served here */
    CHECK_EQ(sv.st_acceptor.live, 0);
    CHECK_EQ(sv.st[0].accepted + sv.st[1].accepted, CONNS);
    void *left;
    CHECK_EQ(simul_chan_try_recv(sv.handoff, &left), -EAGAIN);
    simul_chan_free(sv.handoff);
}

static int chan_server_args(void *arg)
{
    (void)arg;
    simul_server *srv;
    simul_chan *c = simul_chan_new(1);
    CHECK_EQ(simul_start_chan_server(NULL, echo, NULL, NULL, &srv), -EINVAL);
    CHECK_EQ(simul_start_chan_server(c, NULL, NULL, NULL, &srv), -EINVAL);
    CHECK_EQ(simul_start_chan_server(c, echo, NULL, NULL, NULL), -EINVAL);
    /* a closed channel: the server stops taking, and closes cleanly */
    CHECK_EQ(simul_start_chan_server(c, echo, NULL, NULL, &srv), 0);
    CHECK_EQ(simul_server_port(srv), -EINVAL);
    simul_chan_close(c);
    simul_sleep(0.002);
    CHECK_EQ(simul_server_close(srv, 1.0), 0);
    simul_chan_free(c);
    return 0;
}

TEST(chan_server_arguments_and_a_closed_channel)
{
    CHECK_EQ(simul_run(chan_server_args, NULL), 0);
    simul_server *srv;
    simul_chan *c = simul_chan_new(1);
    CHECK_EQ(simul_start_chan_server(c, echo, NULL, NULL, &srv), -EPERM);
    simul_chan_free(c);
}
