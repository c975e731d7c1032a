/*
 * io_sys.c - simul's side of the system I/O benchmarks (bench/run-io-sys.sh):
 *
 *   io_sys pool N            N sequential simul_to_thread(noop) round trips
 *   io_sys append N PATH B   N short lines ("line %d\n") appended to PATH
 *                            with simul_file_write, one call per line;
 *                            B=1 buffered (the default 64 KiB), B=0
 *                            unbuffered (every line is one write op through
 *                            the ring or the pool); open and close included
 *   io_sys lines N           N short lines ("line %d\n") written to a stream
 *                            over a Unix socket, one simul_stream_write per
 *                            line, then simul_stream_close (flush); a plain
 *                            thread reads the other end
 *
 * Prints one JSON object: n, wall seconds, CPU seconds (user+sys, all
 * threads) and ns per operation, plus the backend. The append run checks
 * the file's size afterwards and fails if a byte is missing.
 */
#include <simul.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

static double cpu_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void *noop(void *a) { return a; }

static long n_ops;
static const char *path;
static int buffered;
static double wall, cpu;

static int bench_pool(void *a)
{
    (void)a;
    for (int i = 0; i < 1000; i++)   /* warm-up: threads started */
        if (simul_to_thread(noop, NULL, NULL) < 0)
            return -1;
    double c0 = cpu_now(), t0 = simul_now();
    for (long i = 0; i < n_ops; i++)
        if (simul_to_thread(noop, NULL, NULL) < 0)
            return -1;
    wall = simul_now() - t0;
    cpu = cpu_now() - c0;
    return 0;
}

static int bench_append(void *a)
{
    (void)a;
    double c0 = cpu_now(), t0 = simul_now();
    simul_file *f;
    int r = simul_file_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644, &f);
    if (r < 0)
        return r;
    if (!buffered)
        simul_file_set_buffer(f, 0);
    char line[32];
    for (long i = 0; i < n_ops; i++) {
        int len = snprintf(line, sizeof line, "line %ld\n", i);
        r = simul_file_write(f, line, (size_t)len);
        if (r != len) {
            simul_file_close(f);
            return r < 0 ? r : -1;
        }
    }
    r = simul_file_close(f);
    wall = simul_now() - t0;
    cpu = cpu_now() - c0;
    return r;
}

static int line_fd;
static long line_bytes;
static void *line_reader(void *a)
{
    (void)a;
    static char buf[1 << 16];
    ssize_t r;
    while ((r = read(line_fd, buf, sizeof buf)) > 0)
        line_bytes += r;
    return NULL;
}

static int bench_lines(void *a)
{
    (void)a;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    line_fd = sv[1];
    pthread_t th;
    if (pthread_create(&th, NULL, line_reader, NULL) != 0)
        return -EAGAIN;
    simul_stream *s;
    int r = simul_stream_from_fd(sv[0], NULL, &s);
    if (r < 0)
        return r;
    double c0 = cpu_now(), t0 = simul_now();
    char line[32];
    for (long i = 0; i < n_ops && r >= 0; i++) {
        int len = snprintf(line, sizeof line, "line %ld\n", i);
        r = simul_stream_write(s, line, (size_t)len);
        if (r == -ENOBUFS && (r = simul_stream_drain(s)) == 0)
            r = simul_stream_write(s, line, (size_t)len);
    }
    int c = simul_stream_close(s);
    pthread_join(th, NULL);
    close(sv[1]);
    wall = simul_now() - t0;
    cpu = cpu_now() - c0;
    return r < 0 ? r : c;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: io_sys pool N | io_sys append N PATH BUFFERED | io_sys lines N\n");
        return 2;
    }
    n_ops = atol(argv[2]);
    int r;
    const char *be = getenv("SIMUL_BACKEND");
    if (strcmp(argv[1], "pool") == 0) {
        r = simul_run(bench_pool, NULL);
    } else if (strcmp(argv[1], "append") == 0 && argc == 5) {
        path = argv[3];
        buffered = atoi(argv[4]);
        r = simul_run(bench_append, NULL);
        if (r == 0) {
            long want = 0;
            for (long i = 0; i < n_ops; i++)
                want += snprintf(NULL, 0, "line %ld\n", i);
            struct stat st;
            if (stat(path, &st) != 0 || st.st_size != want) {
                fprintf(stderr, "io_sys: %s has %ld bytes, want %ld\n", path,
                        (long)st.st_size, want);
                return 1;
            }
        }
    } else if (strcmp(argv[1], "lines") == 0) {
        r = simul_run(bench_lines, NULL);
        long want = 0;
        for (long i = 0; i < n_ops; i++)
            want += snprintf(NULL, 0, "line %ld\n", i);
        if (r == 0 && line_bytes != want) {
            fprintf(stderr, "io_sys: reader got %ld bytes, want %ld\n", line_bytes, want);
            return 1;
        }
    } else {
        fprintf(stderr, "io_sys: unknown mode %s\n", argv[1]);
        return 2;
    }
    if (r < 0) {
        fprintf(stderr, "io_sys: %s\n", simul_strerror(r));
        return 1;
    }
    printf("{\"n\": %ld, \"wall_s\": %.6f, \"cpu_s\": %.6f, \"ns_per_op\": %.1f, "
           "\"backend\": \"%s\"}\n", n_ops, wall, cpu, wall * 1e9 / (double)n_ops,
           be ? be : "auto");
    return 0;
}
