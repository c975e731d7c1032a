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
 * Usage: echo-server PORT [LOOPS [reuseport|handoff]]   (port 0 picks a
 * free one). Listens on 127.0.0.1, prints "listening on 127.0.0.1:PORT
 * (backend NAME)", and runs one task per connection until interrupted
 * (SIGINT/SIGTERM), then closes the server gracefully: handlers get one
 * second to finish before they are cancelled.
 *
 * With LOOPS > 1 it serves on that many loops, one per thread
 * (simul_run_loops): "reuseport" (the default) gives every loop its own
 * listener on the port (SO_REUSEPORT: the kernel spreads connections);
 * "handoff" has loop 0 accept and pass each socket through a channel to
 * whichever loop takes it first (simul_start_chan_server on every loop).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int nloops = 1, handoff_mode;
static simul_chan *handoff;          /* handoff mode: accepted sockets */
static atomic_int port_chosen;       /* loop 0's port, for the others */
static atomic_int up;                /* loops serving */

static int main_task(void *arg)
{
    int port = *(int *)arg;
    int i = simul_loop_index();
    simul_stream_opts o = { 0 };
    simul_server *srv = NULL, *taker = NULL;
    int r = 0;
    if (handoff_mode)                    /* every loop serves the channel */
        r = simul_start_chan_server(handoff, handle, NULL, NULL, &taker);
    if (r == 0 && (i == 0 || !handoff_mode)) {
        if (i > 0) {                     /* the port loop 0 got */
            while (atomic_load(&port_chosen) == 0)
                simul_sleep(0.001);
            port = atomic_load(&port_chosen);
        }
        o.reuseport = nloops > 1 && !handoff_mode;
        o.handoff = handoff;
        r = simul_start_server("127.0.0.1", port, handle, NULL, &o, &srv);
    }
    if (r < 0) {
        fprintf(stderr, "echo-server: cannot listen on 127.0.0.1:%d: %s\n", port,
                simul_strerror(r));
        atomic_store(&port_chosen, -1);
        return r;
    }
    if (i == 0)
        atomic_store(&port_chosen, simul_server_port(srv));
    if (atomic_fetch_add(&up, 1) + 1 == nloops) {
        if (nloops == 1)
            printf("listening on 127.0.0.1:%d (backend %s)\n", atomic_load(&port_chosen),
                   simul_backend_name());
        else
            printf("listening on 127.0.0.1:%d (backend %s, %d loops, %s)\n",
                   atomic_load(&port_chosen), simul_backend_name(), nloops,
                   handoff_mode ? "handoff" : "reuseport");
        fflush(stdout);
    }
    r = simul_wait_fd(stop_pipe[0], SIMUL_READABLE, INFINITY);
    int cancelled = srv ? simul_server_close(srv, 1.0) : 0;
    if (handoff && i == 0)
        simul_chan_close(handoff);       /* the others stop taking sockets */
    if (taker)
        simul_server_close(taker, 1.0);
    if (i == 0)
        fprintf(stderr, "echo-server: stopped (%d handler(s) cancelled)\n",
                cancelled < 0 ? 0 : cancelled);
    return r < 0 && r != -ECANCELED ? r : 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: echo-server PORT [LOOPS [reuseport|handoff]]\n");
        return 2;
    }
    if (argc > 2)
        nloops = atoi(argv[2]);
    if (argc > 3)
        handoff_mode = strcmp(argv[3], "handoff") == 0;
    if (nloops < 1 || nloops > 256 || (argc > 3 && !handoff_mode && strcmp(argv[3], "reuseport"))) {
        fprintf(stderr, "echo-server: bad LOOPS or mode\n");
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
    if (handoff_mode && !(handoff = simul_chan_new(1024)))
        return 1;
    int r;
    if (nloops == 1 && !handoff_mode) {
        r = simul_run(main_task, &p);
    } else {
        simul_loops_opts lo = { .pin = 0 };   /* no .signals: ours above */
        r = simul_run_loops((unsigned)nloops, main_task, &p, &lo);
    }
    simul_chan_free(handoff);
    return r < 0 ? 1 : 0;
}
