/*
 * redis.c - the Redis benchmarks, simul's side and plain synchronous
 * hiredis's (the C floor for one connection), in one program so both send
 * the same commands:
 *
 *     build/bench/redis simul|hiredis BENCH N PORT
 *
 * BENCH: seq (N round trips on one connection, one at a time: SET k v and
 * GET k alternately), tasks (N SETs from 100 tasks sharing one connection,
 * each task awaiting each of its commands: simul's implicit pipelining;
 * hiredis: one connection, batches of 100 appended then 100 replies read,
 * the same depth), pipe (one explicit pipeline of N SETs: simul_redis_
 * pipe_exec; hiredis: N redisAppendCommand then N redisGetReply). Values
 * are 16 bytes, keys "k:<i mod 10000>". Prints one JSON line: {"impl",
 * "bench", "n", "wall_s", "cpu_s"} (CPU: this process's user + system).
 */
#include <simul.h>
#include <simul/redis.h>

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define TASKS 100

static const char *bench;
static int n, port;
static const char val[] = "0123456789abcdef";

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what, int r)
{
    fprintf(stderr, "redis bench: %s: %s\n", what, r < 0 ? simul_strerror(r) : "hiredis");
    exit(1);
}

static void report(const char *impl, double w0, double c0)
{
    printf("{\"impl\": \"%s\", \"bench\": \"%s\", \"n\": %d, \"wall_s\": %.6f, \"cpu_s\": %.6f}\n",
           impl, bench, n, now() - w0, cpu() - c0);
}

/* ---- simul ----------------------------------------------------------------- */

typedef struct tctx {
    simul_redis *c;
    int          from, count;
} tctx;

static int set_task(void *arg)
{
    tctx *t = arg;
    for (int i = t->from; i < t->from + t->count; i++) {
        char k[24];
        int kl = snprintf(k, sizeof k, "k:%d", i % 10000);
        const char *av[3] = { "SET", k, val };
        size_t lens[3] = { 3, (size_t)kl, sizeof val - 1 };
        int r = simul_redis_command_argv(t->c, 3, av, lens, NULL);
        if (r < 0)
            die("SET", r);
    }
    return 0;
}

static int simul_main(void *arg)
{
    (void)arg;
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    simul_redis *c = NULL;
    int r = simul_redis_connect(url, NULL, &c);
    if (r < 0)
        die("connect", r);
    double w0 = now(), c0 = cpu();
    if (strcmp(bench, "seq") == 0) {
        for (int i = 0; i < n; i++) {
            char k[24];
            int kl = snprintf(k, sizeof k, "k:%d", i % 10000);
            simul_redis_reply *rep = NULL;
            if (i % 2 == 0) {
                const char *av[3] = { "SET", k, val };
                size_t lens[3] = { 3, (size_t)kl, sizeof val - 1 };
                r = simul_redis_command_argv(c, 3, av, lens, NULL);
            } else {
                const char *av[2] = { "GET", k };
                size_t lens[2] = { 3, (size_t)kl };
                r = simul_redis_command_argv(c, 2, av, lens, &rep);
                simul_redis_reply_free(rep);
            }
            if (r < 0)
                die("seq", r);
        }
    } else if (strcmp(bench, "tasks") == 0) {
        tctx t[TASKS];
        simul_task *h[TASKS];
        for (int i = 0; i < TASKS; i++) {
            t[i] = (tctx){ c, i * (n / TASKS), n / TASKS };
            h[i] = simul_spawn(set_task, &t[i]);
        }
        if (simul_gather(h, TASKS, NULL, SIMUL_GATHER_FAIL_FAST) < 0)
            die("gather", -1);
    } else if (strcmp(bench, "pipe") == 0) {
        simul_redis_pipe *p = simul_redis_pipe_new();
        for (int i = 0; i < n; i++) {
            char k[24];
            int kl = snprintf(k, sizeof k, "k:%d", i % 10000);
            const char *av[3] = { "SET", k, val };
            size_t lens[3] = { 3, (size_t)kl, sizeof val - 1 };
            if (simul_redis_pipe_add_argv(p, 3, av, lens) < 0)
                die("pipe add", -1);
        }
        simul_redis_reply *rep = NULL;
        r = simul_redis_pipe_exec(c, p, &rep);
        if (r < 0)
            die("pipe", r);
        simul_redis_reply_free(rep);
        simul_redis_pipe_free(p);
    } else {
        die("unknown bench", -22);
    }
    report("simul", w0, c0);
    simul_redis_close(c);
    return 0;
}

/* ---- hiredis, synchronous --------------------------------------------------- */

static void hiredis_set(redisContext *c, int i, int append)
{
    char k[24];
    int kl = snprintf(k, sizeof k, "k:%d", i % 10000);
    const char *av[3] = { "SET", k, val };
    size_t lens[3] = { 3, (size_t)kl, sizeof val - 1 };
    if (append) {
        if (redisAppendCommandArgv(c, 3, av, lens) != REDIS_OK)
            die("append", 0);
        return;
    }
    redisReply *rep = redisCommandArgv(c, 3, av, lens);
    if (!rep)
        die("SET", 0);
    freeReplyObject(rep);
}

static void get_replies(redisContext *c, int k)
{
    for (int j = 0; j < k; j++) {
        void *rep = NULL;
        if (redisGetReply(c, &rep) != REDIS_OK)
            die("reply", 0);
        freeReplyObject(rep);
    }
}

static int hiredis_main(void)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    if (!c || c->err)
        die("connect", 0);
    double w0 = now(), c0 = cpu();
    if (strcmp(bench, "seq") == 0) {
        for (int i = 0; i < n; i++) {
            if (i % 2 == 0) {
                hiredis_set(c, i, 0);
            } else {
                char k[24];
                int kl = snprintf(k, sizeof k, "k:%d", i % 10000);
                const char *av[2] = { "GET", k };
                size_t lens[2] = { 3, (size_t)kl };
                redisReply *rep = redisCommandArgv(c, 2, av, lens);
                if (!rep)
                    die("GET", 0);
                freeReplyObject(rep);
            }
        }
    } else if (strcmp(bench, "tasks") == 0) {
        for (int i = 0; i < n; i += TASKS) {
            for (int j = 0; j < TASKS; j++)
                hiredis_set(c, i + j, 1);
            get_replies(c, TASKS);
        }
    } else if (strcmp(bench, "pipe") == 0) {
        for (int i = 0; i < n; i++)
            hiredis_set(c, i, 1);
        get_replies(c, n);
    } else {
        die("unknown bench", 0);
    }
    report("hiredis", w0, c0);
    redisFree(c);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s simul|hiredis seq|tasks|pipe N PORT\n", argv[0]);
        return 2;
    }
    bench = argv[2];
    n = atoi(argv[3]);
    port = atoi(argv[4]);
    if (strcmp(argv[1], "hiredis") == 0)
        return hiredis_main();
    return simul_run(simul_main, NULL) < 0;
}
