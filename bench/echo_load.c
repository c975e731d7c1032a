/*
 * echo_load.c - the one load client of the echo benchmark (bench/run-io.sh),
 * the same binary against every server.
 *
 *     echo_load PORT CONNS SECONDS MSGSIZE WARMUP SERVER_PID
 *
 * Opens CONNS TCP connections to 127.0.0.1:PORT and runs ping-pong on each:
 * send MSGSIZE bytes, wait until all MSGSIZE come back, send again. One
 * thread, plain epoll (level-triggered). After WARMUP seconds it samples the
 * server's CPU time (utime+stime of /proc/SERVER_PID/stat, every thread of
 * the process), counts round trips for SECONDS, samples again, and prints
 * one JSON line: round trips, elapsed seconds, round trips per second,
 * server CPU seconds and server CPU microseconds per round trip.
 * Exits 1 if a connection fails or an echo comes back wrong.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int    fd;
    size_t got;      /* bytes of the current echo received */
    size_t sent;     /* bytes of the current message sent */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* utime + stime of a process, in seconds; -1 if unreadable. */
static double proc_cpu(int pid)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');   /* the command name may contain spaces */
    if (!p)
        return -1;
    unsigned long ut = 0, st = 0;
    /* after ')': state(3) ... utime is field 14, stime 15 */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static char msg[65536];

static int send_msg(struct conn *c, size_t size)
{
    while (c->sent < size) {
        ssize_t w = send(c->fd, msg + c->sent, size - c->sent, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return 1;   /* finish on EPOLLOUT */
            return -1;
        }
        c->sent += (size_t)w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: echo_load PORT CONNS SECONDS MSGSIZE WARMUP SERVER_PID\n");
        return 2;
    }
    int port = atoi(argv[1]), nconn = atoi(argv[2]);
    double secs = atof(argv[3]), warm = atof(argv[5]);
    size_t size = (size_t)atoi(argv[4]);
    int spid = atoi(argv[6]);
    if (nconn <= 0 || size == 0 || size > sizeof msg)
        return 2;
    for (size_t i = 0; i < size; i++)
        msg[i] = (char)('a' + i % 26);

    struct conn *cs = calloc((size_t)nconn, sizeof *cs);
    int ep = epoll_create1(0);
    if (!cs || ep < 0)
        return 1;
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < nconn; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
            perror("echo_load: connect");
            return 1;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        cs[i].fd = fd;
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &cs[i] };
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    /* Every connection starts with one message in flight. */
    for (int i = 0; i < nconn; i++)
        if (send_msg(&cs[i], size) != 0) {
            fprintf(stderr, "echo_load: first send failed\n");
            return 1;
        }

    static char buf[65536];
    struct epoll_event evs[1024];
    double t0 = now(), start = t0 + warm, stop = start + secs;
    double cpu0 = -1, cpu1 = -1, tstart = 0, tstop = 0;
    unsigned long long count = 0, counted = 0;
    int measuring = 0;
    for (;;) {
        double t = now();
        if (!measuring && t >= start) {
            cpu0 = proc_cpu(spid);
            tstart = now();
            counted = count;
            measuring = 1;
        }
        if (measuring && t >= stop) {
            tstop = now();
            cpu1 = proc_cpu(spid);
            counted = count - counted;
            break;
        }
        int n = epoll_wait(ep, evs, 1024, 100);
        if (n < 0 && errno != EINTR) {
            perror("echo_load: epoll_wait");
            return 1;
        }
        for (int k = 0; k < n; k++) {
            struct conn *c = evs[k].data.ptr;
            if (evs[k].events & EPOLLOUT) {
                if (send_msg(c, size) < 0)
                    goto broken;
                if (c->sent == size) {
                    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                }
            }
            if (!(evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
                continue;
            ssize_t r = recv(c->fd, buf, size - c->got, 0);
            if (r <= 0) {
                if (r < 0 && (errno == EAGAIN || errno == EINTR))
                    continue;
                goto broken;
            }
            if (memcmp(buf, msg + c->got, (size_t)r) != 0) {
                fprintf(stderr, "echo_load: wrong bytes echoed\n");
                return 1;
            }
            c->got += (size_t)r;
            if (c->got < size)
                continue;
            count++;
            c->got = 0;
            c->sent = 0;
            int s = send_msg(c, size);
            if (s < 0)
                goto broken;
            if (s == 1) {
                struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
        }
    }
    double el = tstop - tstart, cpu = cpu1 - cpu0;
    printf("{\"conns\": %d, \"msg\": %zu, \"round_trips\": %llu, \"seconds\": %.3f, "
           "\"rt_per_s\": %.0f, \"server_cpu_s\": %.3f, \"cpu_us_per_rt\": %.4f}\n",
           nconn, size, counted, el, counted / el, cpu,
           cpu0 < 0 || cpu1 < 0 || counted == 0 ? -1.0 : cpu / counted * 1e6);
    return 0;
broken:
    fprintf(stderr, "echo_load: a connection failed: %s\n", strerror(errno));
    return 1;
}
