/*
 * redis.c - the Redis benchmarks, simul's side and plain synchronous
 * hiredis's (the C floor for one connection), in one program so both send
 * the same commands:
 *
 *     build/bench/redis simul|simul-held|hiredis|hiredis-async BENCH N PORT
 *
 * hiredis-async is the design not chosen (docs/design.md, "Redis"):
 * hiredis's own async context on simul's loop through its adapter hooks
 * (addRead/delRead/addWrite/delWrite/cleanup as one simul_watch), each
 * command awaited by its task through a future - the pattern
 * docs/guide.md shows under "Plugging C libraries in".
 *
 * BENCH: seq (N round trips on one connection, one at a time: SET k v and
 * GET k alternately), tasks (N SETs from 100 tasks sharing one connection,
 * each task awaiting each of its commands: simul's implicit pipelining;
 * hiredis: one connection, batches of 100 appended then 100 replies read,
 * the same depth), pipe (one explicit pipeline of N SETs: simul_redis_
 * pipe_exec of a pipe bound to the connection, sent in batches while it
 * fills; simul-held: the same pipe unbound, built whole then sent; hiredis:
 * N redisAppendCommand then N redisGetReply). Values
 * are 16 bytes, keys "key:<i mod 10000, 12 digits>" (what redis-benchmark
 * -r 10000 -d 16 sends). Prints one JSON line: {"impl",
 * "bench", "n", "wall_s", "cpu_s"} (CPU: this process's user + system).
 */
#include <simul.h>
#include <simul/redis.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define TASKS 100

static const char *bench;
static int n, port, held;
static const char val[] = "0123456789abcdef";

/* The key of operation i: redis-benchmark's "key:__rand_int__" with -r
 * 10000 (12 digits, 10,000 keys), so the server does the same work for
 * every client */
static int key(char k[24], int i)
{
    return snprintf(k, 24, "key:%012d", i % 10000);
}

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
        int kl = key(k, i);
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
            int kl = key(k, i);
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
        /* bound: sent in 64 KiB batches while it fills (simul-held: all
         * built first, then sent at exec, as before pipe_bind existed) */
        if (!held && simul_redis_pipe_bind(p, c) < 0)
            die("pipe bind", -1);
        for (int i = 0; i < n; i++) {
            char k[24];
            int kl = key(k, i);
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
    report(held ? "simul-held" : "simul", w0, c0);
    simul_redis_close(c);
    return 0;
}

/* ---- hiredis, synchronous --------------------------------------------------- */

static void hiredis_set(redisContext *c, int i, int append)
{
    char k[24];
    int kl = key(k, i);
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
                int kl = key(k, i);
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

/* ---- hiredis's async context on the loop ------------------------------------ */

typedef struct adapter {
    redisAsyncContext *ac;
    simul_watch       *w;
    int                events;
} adapter;

static void on_io(simul_watch *w, int rev, void *arg)
{
    (void)w;
    adapter *a = arg;
    if (rev & SIMUL_WRITABLE)
        redisAsyncHandleWrite(a->ac);
    if (rev & (SIMUL_READABLE | SIMUL_ERROR | SIMUL_HANGUP))
        redisAsyncHandleRead(a->ac);
}

static void set_ev(adapter *a, int on, int ev)
{
    a->events = on ? a->events | ev : a->events & ~ev;
    simul_watch_set(a->w, a->events);
}
static void add_read(void *p) { set_ev(p, 1, SIMUL_READABLE); }
static void del_read(void *p) { set_ev(p, 0, SIMUL_READABLE); }
static void add_write(void *p) { set_ev(p, 1, SIMUL_WRITABLE); }
static void del_write(void *p) { set_ev(p, 0, SIMUL_WRITABLE); }
static void cleanup(void *p)
{
    adapter *a = p;
    simul_fd_forget(simul_watch_fd(a->w));
    simul_watch_free(a->w);
    free(a);
}

static int attach(redisAsyncContext *ac)
{
    adapter *a = calloc(1, sizeof *a);
    a->ac = ac;
    a->w = simul_watch_new(ac->c.fd, on_io, a);
    if (!a->w)
        return -1;
    ac->ev.data = a;
    ac->ev.addRead = add_read;
    ac->ev.delRead = del_read;
    ac->ev.addWrite = add_write;
    ac->ev.delWrite = del_write;
    ac->ev.cleanup = cleanup;
    return 0;
}

/* hiredis frees the reply when the callback returns: a caller that wants
 * it must copy it here; the benchmark only needs the wake-up */
static void on_reply(redisAsyncContext *ac, void *reply, void *f)
{
    (void)ac;
    if (reply)
        simul_future_set_result(f, NULL);
    else
        simul_future_set_error(f, -ECONNRESET);
}

static int async_command(redisAsyncContext *ac, int argc, const char **av, const size_t *lens)
{
    simul_future *f = simul_future_new();
    if (redisAsyncCommandArgv(ac, on_reply, f, argc, av, lens) != REDIS_OK)
        return -1;
    void *v;
    int r = simul_future_wait(f, &v);
    simul_future_free(f);
    return r;
}

static int async_set(redisAsyncContext *ac, int i)
{
    char k[24];
    int kl = key(k, i);
    const char *av[3] = { "SET", k, val };
    size_t lens[3] = { 3, (size_t)kl, sizeof val - 1 };
    return async_command(ac, 3, av, lens);
}

typedef struct actx {
    redisAsyncContext *ac;
    int                from, count;
} actx;

static int async_set_task(void *arg)
{
    actx *t = arg;
    for (int i = t->from; i < t->from + t->count; i++)
        if (async_set(t->ac, i) < 0)
            return -1;
    return 0;
}

static int left;
static simul_future *all_done;
static void on_pipe_reply(redisAsyncContext *ac, void *reply, void *p)
{
    (void)ac;
    (void)reply;
    (void)p;
    if (--left == 0)
        simul_future_set_result(all_done, NULL);
}

static int async_main(void *arg)
{
    (void)arg;
    redisAsyncContext *ac = redisAsyncConnect("127.0.0.1", port);
    if (!ac || ac->err || attach(ac) < 0)
        return 1;
    /* connected once a first command came back */
    const char *ping[1] = { "PING" };
    if (async_command(ac, 1, ping, NULL) < 0)
        return 1;
    double w0 = now(), c0 = cpu();
    if (strcmp(bench, "seq") == 0) {
        for (int i = 0; i < n; i++) {
            if (i % 2 == 0) {
                if (async_set(ac, i) < 0)
                    return 1;
            } else {
                char k[24];
                int kl = key(k, i);
                const char *av[2] = { "GET", k };
                size_t lens[2] = { 3, (size_t)kl };
                if (async_command(ac, 2, av, lens) < 0)
                    return 1;
            }
        }
    } else if (strcmp(bench, "tasks") == 0) {
        actx t[TASKS];
        simul_task *h[TASKS];
        for (int i = 0; i < TASKS; i++) {
            t[i] = (actx){ ac, i * (n / TASKS), n / TASKS };
            h[i] = simul_spawn(async_set_task, &t[i]);
        }
        if (simul_gather(h, TASKS, NULL, SIMUL_GATHER_FAIL_FAST) < 0)
            return 1;
    } else {
        all_done = simul_future_new();
        left = n;
        for (int i = 0; i < n; i++) {
            char k[24];
            int kl = key(k, i);
            const char *av[3] = { "SET", k, val };
            size_t lens[3] = { 3, (size_t)kl, sizeof val - 1 };
            redisAsyncCommandArgv(ac, on_pipe_reply, NULL, 3, av, lens);
        }
        void *v;
        simul_future_wait(all_done, &v);
        simul_future_free(all_done);
    }
    report("hiredis-async", w0, c0);
    redisAsyncFree(ac);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s simul|simul-held|hiredis|hiredis-async seq|tasks|pipe N PORT\n",
                argv[0]);
        return 2;
    }
    bench = argv[2];
    n = atoi(argv[3]);
    port = atoi(argv[4]);
    if (strcmp(argv[1], "hiredis") == 0)
        return hiredis_main();
    if (strcmp(argv[1], "hiredis-async") == 0)
        return simul_run(async_main, NULL) != 0;
    held = strcmp(argv[1], "simul-held") == 0;
    return simul_run(simul_main, NULL) < 0;
}
