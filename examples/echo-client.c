/*
 * echo-client.c - the client side of echo-server.c:
 *
 *     reader, writer = await asyncio.open_connection("127.0.0.1", port)
 *     for msg in messages:
 *         writer.write(msg.encode() + b"\n")
 *         print((await reader.readline()).decode(), end="")
 *     writer.close(); await writer.wait_closed()
 *
 * Usage: echo-client PORT [MESSAGE...]   (default message: "hello").
 * Prints each echoed line; exits 1 on any error or after 5 s without an
 * answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <simul.h>

struct job {
    int    port;
    int    nmsg;
    char **msg;
};

static int main_task(void *arg)
{
    struct job *j = arg;
    simul_stream *s;
    int r = simul_open_connection("127.0.0.1", j->port, 5.0, NULL, &s);
    if (r < 0) {
        fprintf(stderr, "echo-client: connect to 127.0.0.1:%d: %s\n", j->port,
                simul_strerror(r));
        return r;
    }
    simul_scope deadline;
    simul_scope_enter(&deadline, simul_now() + 5.0);
    char line[4096];
    for (int i = 0; i < j->nmsg && r >= 0; i++) {
        size_t n = strlen(j->msg[i]);
        if (n + 1 > sizeof line) {
            r = -EMSGSIZE;
            break;
        }
        memcpy(line, j->msg[i], n);
        line[n] = '\n';
        r = simul_stream_write(s, line, n + 1);
        if (r == 0)
            r = simul_stream_drain(s);
        if (r == 0)
            r = simul_stream_readline(s, line, sizeof line);
        if (r > 0)
            fwrite(line, 1, (size_t)r, stdout);
        else if (r == 0)
            r = -ECONNRESET;   /* closed before answering */
    }
    int e = simul_scope_exit(&deadline);
    if (e == -ETIMEDOUT)
        r = e;
    int c = simul_stream_close(s);
    if (r >= 0 && c < 0)
        r = c;
    if (r < 0)
        fprintf(stderr, "echo-client: %s\n", simul_strerror(r));
    return r < 0 ? r : 0;
}

int main(int argc, char **argv)
{
    static char *dflt[] = { "hello" };
    if (argc < 2) {
        fprintf(stderr, "usage: echo-client PORT [MESSAGE...]\n");
        return 2;
    }
    struct job j = { .port = atoi(argv[1]), .nmsg = argc - 2, .msg = argv + 2 };
    if (j.nmsg == 0) {
        j.nmsg = 1;
        j.msg = dflt;
    }
    return simul_run(main_task, &j) < 0 ? 1 : 0;
}
