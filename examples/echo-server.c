/*
 * echo-server.c - asyncio's streams echo server in C:
 *
 *     async def handle(reader, writer):
 *         while data := await reader.read(65536):
 *             writer.write(data)
 *             await writer.drain()
 *
 *     server = await asyncio.start_server(handle, "127.0.0.1", port)
 *
 * Usage: echo-server PORT   (0 picks a free port). Listens on 127.0.0.1,
 * prints "listening on 127.0.0.1:PORT (backend NAME)", and runs one task
 * per connection until interrupted (SIGINT/SIGTERM), then closes the server gracefully:
 * handlers get one second to finish before they are cancelled.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <simul.h>

static int handle(simul_stream *s, void *arg)
{
    (void)arg;
    char buf[16384];
    for (;;) {
        int n = simul_stream_read(s, buf, sizeof buf);
        int r = n;
        if (n > 0) {
            r = simul_stream_write(s, buf, (size_t)n);
            if (r == 0)
                r = simul_stream_drain(s);   /* backpressure */
        }
        /* A client that resets or vanishes is not the server's failure;
         * anything else is returned, and the server logs it. */
        if (r == 0 && n == 0)
            return 0;   /* the client closed */
        if (r == -ECONNRESET || r == -EPIPE)
            return 0;
        if (r < 0)
            return r;
    }
}

/* SIGINT/SIGTERM end the wait below through a pipe the main task watches. */
static int stop_pipe[2];
static void on_signal(int sig)
{
    (void)sig;
    ssize_t r = write(stop_pipe[1], "x", 1);
    (void)r;
}

static int main_task(void *arg)
{
    int port = *(int *)arg;
    simul_server *srv;
    int r = simul_start_server("127.0.0.1", port, handle, NULL, NULL, &srv);
    if (r < 0) {
        fprintf(stderr, "echo-server: cannot listen on 127.0.0.1:%d: %s\n", port,
                simul_strerror(r));
        return r;
    }
    printf("listening on 127.0.0.1:%d (backend %s)\n", simul_server_port(srv),
           simul_backend_name());
    fflush(stdout);
    r = simul_wait_fd(stop_pipe[0], SIMUL_READABLE, INFINITY);
    int cancelled = simul_server_close(srv, 1.0);
    fprintf(stderr, "echo-server: stopped (%d handler(s) cancelled)\n",
            cancelled < 0 ? 0 : cancelled);
    return r < 0 && r != -ECANCELED ? r : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: echo-server PORT\n");
        return 2;
    }
    char *end;
    long port = strtol(argv[1], &end, 10);
    if (*end || port < 0 || port > 65535) {
        fprintf(stderr, "echo-server: bad port '%s'\n", argv[1]);
        return 2;
    }
    if (pipe(stop_pipe) < 0)
        return 1;
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int p = (int)port;
    int r = simul_run(main_task, &p);
    return r < 0 ? 1 : 0;
}
