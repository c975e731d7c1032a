/*
 * echo_uv.c - the libuv peer of the echo benchmark: a plain libuv TCP echo
 * server (Debian's libuv1-dev), written the way libuv's own echo examples
 * are, kept lean: one 64 KiB read buffer per connection (no malloc per
 * message), uv_try_write first and uv_write (with a copy) only for what
 * the socket did not take.
 *
 *     echo_uv PORT [LOOPS]   listens on 127.0.0.1:PORT
 *
 * With LOOPS > 1 (bench/run-cores.sh): that many threads, each with its own
 * uv_loop_t and its own listening socket on the port with SO_REUSEPORT
 * (Debian 12's libuv 1.44 has no UV_TCP_REUSEPORT, so the socket is made
 * here and given to uv_tcp_open); the kernel spreads the connections.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

typedef struct {
    uv_tcp_t tcp;
    char     buf[65536];
} conn_t;

typedef struct {
    uv_write_t req;
    uv_buf_t   buf;
} wreq_t;

static void on_close(uv_handle_t *h) { free(h); }

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    (void)suggested;
    conn_t *c = (conn_t *)h;
    *b = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_write(uv_write_t *req, int status)
{
    wreq_t *w = (wreq_t *)req;
    (void)status;
    free(w->buf.base);
    free(w);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (n == 0)
        return;
    uv_buf_t out = uv_buf_init(b->base, (unsigned)n);
    int w = uv_try_write(s, &out, 1);
    if (w == n)
        return;
    if (w < 0 && w != UV_EAGAIN) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    size_t done = w > 0 ? (size_t)w : 0;
    wreq_t *r = malloc(sizeof *r);
    r->buf = uv_buf_init(malloc((size_t)n - done), (unsigned)((size_t)n - done));
    memcpy(r->buf.base, b->base + done, (size_t)n - done);
    uv_write(&r->req, s, &r->buf, 1, on_write);
}

static void on_conn(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    conn_t *c = malloc(sizeof *c);
    uv_tcp_init(srv->loop, &c->tcp);
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) == 0) {
        uv_tcp_nodelay(&c->tcp, 1);
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    } else {
        uv_close((uv_handle_t *)&c->tcp, on_close);
    }
}

static int port, nloops = 1;

static void *loop_thread(void *arg)
{
    (void)arg;
    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_tcp_t srv;
    uv_tcp_init(&loop, &srv);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    int bad;
    if (nloops == 1) {
        bad = uv_tcp_bind(&srv, (const struct sockaddr *)&addr, 0);
    } else {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        bad = fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
              uv_tcp_open(&srv, fd);
    }
    if (bad || uv_listen((uv_stream_t *)&srv, 1024, on_conn)) {
        fprintf(stderr, "echo_uv: cannot listen\n");
        exit(1);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3)
        return 2;
    port = atoi(argv[1]);
    if (argc == 3)
        nloops = atoi(argv[2]);
    if (nloops < 1 || nloops > 64)
        return 2;
    pthread_t th;
    for (int i = 1; i < nloops; i++)
        pthread_create(&th, NULL, loop_thread, NULL);
    loop_thread(NULL);
    return 0;
}
