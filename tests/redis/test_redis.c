/*
 * test_redis.c - the Redis client against a real redis-server that this
 * program starts itself (tests/redis/redisserver.sh: a free loopback port,
 * a Unix socket and its files in a temporary directory; stopped at exit):
 * every reply type, binary-safe keys and values, 10,000 commands from 100
 * tasks on one connection, cancelled waiters mid-pipeline, explicit
 * pipelines, MULTI/EXEC (and WATCH), EVALSHA after SCRIPT FLUSH, pub/sub
 * with many messages, AUTH (wrong password, ACL user), SELECT, URLs and
 * the Unix socket, the pool, a fake server that sends garbage or never
 * answers, a server that stops answering (SIGSTOP), and one killed and
 * restarted mid-pipeline.
 */
#include "harness.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <simul.h>
#include <simul/redis.h>

static char dir[256];
static int port;
static char url[300];        /* redis://127.0.0.1:PORT */
static char url_unix[400];   /* unix://DIR/redis.sock */

static void stop_server(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s/tests/redis/redisserver.sh stop %s", SIMUL_SRCDIR, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "redisserver stop failed\n");
}

__attribute__((constructor(200))) static void start_server(void)
{
    snprintf(dir, sizeof dir, "/tmp/simul-redistest-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s/tests/redis/redisserver.sh start %s", SIMUL_SRCDIR, dir);
    FILE *f = popen(cmd, "r");
    if (!f || fscanf(f, "%d", &port) != 1) {
        fprintf(stderr, "cannot start redis-server (tests/redis/redisserver.sh)\n");
        exit(1);
    }
    pclose(f);
    atexit(stop_server);
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
    snprintf(url_unix, sizeof url_unix, "unix://%s/redis.sock", dir);
}

static int server_pid(void)
{
    char p[600];
    snprintf(p, sizeof p, "%s/redis.pid", dir);
    FILE *f = fopen(p, "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return pid;
}

static simul_redis *connect_ok(const char *u, const simul_redis_opts *o)
{
    simul_redis *c = NULL;
    int r = simul_redis_connect(u, o, &c);
    if (r < 0) {
        char e[200] = "";
        simul_redis_last_error(NULL, e, sizeof e);
        fprintf(stderr, "connect %s: %s: %s\n", u, simul_strerror(r), e);
    }
    CHECK_EQ(r, 0);
    return c;
}

/* A command that must succeed; returns its reply (caller frees). */
static simul_redis_reply *cmd_ok(simul_redis *c, const char *fmt, const char *a)
{
    simul_redis_reply *r = NULL;
    int rc = simul_redis_command(c, &r, fmt, a);
    if (rc != 0)
        fprintf(stderr, "%s: %s (%s)\n", fmt, simul_strerror(rc), r && r->str ? r->str : "");
    CHECK_EQ(rc, 0);
    CHECK(r != NULL);
    return r;
}

static long long cmd_int(simul_redis *c, const char *fmt, const char *a)
{
    simul_redis_reply *r = cmd_ok(c, fmt, a);
    CHECK_EQ(r->type, SIMUL_REDIS_INTEGER);
    long long v = r->integer;
    simul_redis_reply_free(r);
    return v;
}

/* ---- reply types ------------------------------------------------------------ */

static int main_types(void *a)
{
    (void)a;
    simul_redis *c = connect_ok(url, NULL);
    simul_redis_reply *r = NULL;
    /* status */
    r = cmd_ok(c, "SET t:str %s", "hello");
    CHECK_EQ(r->type, SIMUL_REDIS_STATUS);
    CHECK(strcmp(r->str, "OK") == 0 && r->len == 2);
    simul_redis_reply_free(r);
    /* bulk string */
    r = cmd_ok(c, "GET %s", "t:str");
    CHECK_EQ(r->type, SIMUL_REDIS_STRING);
    CHECK(r->len == 5 && memcmp(r->str, "hello", 6) == 0);
    simul_redis_reply_free(r);
    /* nil */
    r = cmd_ok(c, "GET %s", "t:missing");
    CHECK_EQ(r->type, SIMUL_REDIS_NIL);
    simul_redis_reply_free(r);
    /* integer, negative too */
    CHECK_EQ(cmd_int(c, "INCRBY t:n %s", "-42"), -42);
    /* a nested array with an integer, a string, a nil and an empty array */
    r = cmd_ok(c, "EVAL %s 0", "return {1, 'a', {2, 'b'}, false, {}}");
    CHECK_EQ(r->type, SIMUL_REDIS_ARRAY);
    CHECK_EQ(r->len, 5);   /* false is a nil reply */
    CHECK(r->element[0]->type == SIMUL_REDIS_INTEGER && r->element[0]->integer == 1);
    CHECK(r->element[1]->type == SIMUL_REDIS_STRING && strcmp(r->element[1]->str, "a") == 0);
    CHECK(r->element[2]->type == SIMUL_REDIS_ARRAY && r->element[2]->len == 2);
    CHECK(r->element[2]->element[1]->type == SIMUL_REDIS_STRING);
    CHECK_EQ(r->element[3]->type, SIMUL_REDIS_NIL);
    CHECK(r->element[4]->type == SIMUL_REDIS_ARRAY && r->element[4]->len == 0);
    simul_redis_reply_free(r);
    r = cmd_ok(c, "LRANGE %s 0 -1", "t:nolist");
    CHECK(r->type == SIMUL_REDIS_ARRAY && r->len == 0);
    simul_redis_reply_free(r);
    /* a nil array: BLPOP timing out */
    r = cmd_ok(c, "BLPOP %s 0.01", "t:nolist");
    CHECK_EQ(r->type, SIMUL_REDIS_NIL);
    simul_redis_reply_free(r);
    /* errors: the code by prefix, the message in the reply */
    CHECK_EQ(simul_redis_command(c, &r, "INCR %s", "t:str"), SIMUL_REDIS_EERR);
    CHECK(r && r->type == SIMUL_REDIS_ERROR && strncmp(r->str, "ERR ", 4) == 0);
    CHECK_EQ(simul_redis_reply_error(r), SIMUL_REDIS_EERR);
    simul_redis_reply_free(r);
    CHECK_EQ(simul_redis_command(c, &r, "LPUSH %s x", "t:str"), SIMUL_REDIS_EWRONGTYPE);
    CHECK(r && strncmp(r->str, "WRONGTYPE", 9) == 0);
    simul_redis_reply_free(r);
    CHECK_EQ(simul_redis_command(c, &r, "NOSUCHCOMMAND"), SIMUL_REDIS_EERR);
    simul_redis_reply_free(r);
    CHECK_EQ(simul_redis_command(c, NULL, "EVALSHA %s 0", "0123456789012345678901234567890123456789"),
             SIMUL_REDIS_ENOSCRIPT);
    /* the connection is still in step after all of these */
    r = cmd_ok(c, "PING", NULL);
    CHECK(r->type == SIMUL_REDIS_STATUS && strcmp(r->str, "PONG") == 0);
    simul_redis_reply_free(r);
    CHECK_EQ(simul_redis_close(c), 0);
    return 0;
}
TEST(every_reply_type_and_server_errors)
{
    CHECK_EQ(simul_run(main_types, NULL), 0);
}

/* +OK, +QUEUED, :0 and :1 are one shared read-only instance each (a
 * pipeline of writes mallocs no reply per command); they are linked into
 * arrays like any reply, and freeing any tree that holds them is safe. */
static int main_shared(void *a)
{
    (void)a;
    simul_redis *c = connect_ok(url, NULL);
    simul_redis_reply *r1 = cmd_ok(c, "SET sh:a %s", "1");
    simul_redis_reply *r2 = cmd_ok(c, "SET sh:b %s", "2");
    CHECK(r1 == r2);
    CHECK(r1->type == SIMUL_REDIS_STATUS && r1->len == 2 && strcmp(r1->str, "OK") == 0);
    simul_redis_reply_free(r1);
    simul_redis_reply_free(r2);
    CHECK_EQ(cmd_int(c, "DEL %s", "sh:set"), 0);
    r1 = cmd_ok(c, "SADD sh:set %s", "x");
    r2 = cmd_ok(c, "SADD sh:set %s", "x");
    CHECK(r1->type == SIMUL_REDIS_INTEGER && r1->integer == 1);
    CHECK(r2->type == SIMUL_REDIS_INTEGER && r2->integer == 0);
    simul_redis_reply *r3 = cmd_ok(c, "SADD sh:set %s", "y");
    CHECK(r3 == r1);
    simul_redis_reply_free(r1);
    simul_redis_reply_free(r2);
    simul_redis_reply_free(r3);
    CHECK_EQ(cmd_int(c, "INCRBY sh:n %s", "2"), 2);   /* other integers: their own */
    /* inside arrays: a bulk "OK" is a STRING of its own, a status OK shared */
    simul_redis_reply *r = cmd_ok(c, "EVAL %s 0",
                                  "return {0, 1, 1, 'OK', redis.status_reply('OK'), 7}");
    CHECK(r->type == SIMUL_REDIS_ARRAY && r->len == 6);
    CHECK(r->element[1] == r->element[2] && r->element[1]->integer == 1);
    CHECK(r->element[0]->type == SIMUL_REDIS_INTEGER && r->element[0]->integer == 0);
    CHECK(r->element[3]->type == SIMUL_REDIS_STRING && strcmp(r->element[3]->str, "OK") == 0);
    CHECK(r->element[4]->type == SIMUL_REDIS_STATUS && strcmp(r->element[4]->str, "OK") == 0);
    CHECK(r->element[5]->integer == 7);
    simul_redis_reply_free(r);
    /* a pipeline of 1,000 SETs: one instance, and its transaction too */
    simul_redis_pipe *p = simul_redis_pipe_new();
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(simul_redis_pipe_add(p, "SET sh:%d x", i), 0);
    CHECK_EQ(simul_redis_pipe_exec(c, p, &r), 0);
    CHECK(r->len == 1000 && r->element[0] == r->element[999] &&
          r->element[0]->type == SIMUL_REDIS_STATUS);
    simul_redis_reply_free(r);
    CHECK_EQ(simul_redis_multi_exec(c, p, &r), 0);   /* 1,000 +QUEUED dropped */
    CHECK(r->len == 1000 && r->element[500]->type == SIMUL_REDIS_STATUS);
    simul_redis_reply_free(r);
    simul_redis_pipe_free(p);
    CHECK_EQ(simul_redis_close(c), 0);
    return 0;
}
TEST(ok_queued_zero_and_one_replies_are_shared)
{
    CHECK_EQ(simul_run(main_shared, NULL), 0);
}

/* ---- bound pipes --------------------------------------------------------------- */

typedef struct incr_ctx {
    simul_redis *c;
    int          n, done;
} incr_ctx;

static int other_incrs(void *arg)
{
    incr_ctx *x = arg;
    for (int i = 1; i <= x->n; i++) {
        simul_redis_reply *r = NULL;
        CHECK_EQ(simul_redis_command(x->c, &r, "INCR %s", "bp:other"), 0);
        CHECK_EQ(r->integer, i);
        simul_redis_reply_free(r);
    }
    x->done = 1;
    return 0;
}

/* Adds INCR bp:n n times to p, yielding every 500 so other tasks run. */
static void add_incrs(simul_redis_pipe *p, int n)
{
    for (int i = 0; i < n; i++) {
        const char *av[2] = { "INCR", "bp:n" };
        CHECK_EQ(simul_redis_pipe_add_argv(p, 2, av, NULL), 0);
        if (i % 500 == 499)
            simul_yield();
    }
}

static int main_bound(void *a)
{
    (void)a;
    simul_redis *c = connect_ok(url, NULL);
    simul_redis *c2 = connect_ok(url, NULL);
    CHECK_EQ(simul_redis_command(c, NULL, "DEL bp:n bp:other"), 0);
    simul_redis_pipe *p = simul_redis_pipe_new();
    CHECK_EQ(simul_redis_pipe_bind(NULL, c), -EINVAL);
    simul_redis_pipe_add(p, "PING");
    CHECK_EQ(simul_redis_pipe_bind(p, c), -EINVAL);   /* not empty */
    simul_redis_pipe_reset(p);
    CHECK_EQ(simul_redis_pipe_bind(p, c), 0);

    /* 30,000 commands (about 14 batches of 64 KiB) while another task's
     * 2,000 commands on the same connection land between the batches */
    incr_ctx x = { c, 2000, 0 };
    simul_task *t = simul_spawn(other_incrs, &x);
    add_incrs(p, 30000);
    CHECK_EQ(simul_redis_pipe_add(p, "LPUSH %s y", "bp:n"), 0);   /* an error inside */
    CHECK_EQ(simul_redis_pipe_add(p, "GET %s", "bp:n"), 0);
    CHECK_EQ(simul_redis_pipe_count(p), 30002);
    /* batches went out as the pipe was filled: the server runs them
     * before exec (all but the last 64 KiB: about 2,700 commands) */
    long long ran = 0;
    for (double t0 = simul_now(); ran < 25000 && simul_now() - t0 < 10; simul_sleep(0.02))
        ran = cmd_int(c2, "INCRBY %s 0", "bp:n");
    CHECK(ran >= 25000 && ran < 30000);
    simul_redis_reply *r = NULL;
    CHECK_EQ(simul_redis_multi_exec(c, p, &r), -EINVAL);
    CHECK_EQ(simul_redis_pipe_exec(c2, p, &r), -EINVAL);   /* another connection */
    CHECK_EQ(simul_redis_pipe_exec(c, p, &r), 0);
    CHECK(r->type == SIMUL_REDIS_ARRAY && r->len == 30002);
    int inorder = 1;
    for (int i = 0; i < 30000; i++)
        inorder &= r->element[i]->type == SIMUL_REDIS_INTEGER && r->element[i]->integer == i + 1;
    CHECK(inorder);
    CHECK_EQ(simul_redis_reply_error(r->element[30000]), SIMUL_REDIS_EWRONGTYPE);
    CHECK(strcmp(r->element[30001]->str, "30000") == 0);
    simul_redis_reply_free(r);
    CHECK_EQ(simul_join(t), 0);
    CHECK(x.done);
    /* emptied, still bound: a second round, and a pipe of one command */
    CHECK_EQ(simul_redis_pipe_count(p), 0);
    CHECK_EQ(simul_redis_pipe_exec(c, p, &r), -EINVAL);
    simul_redis_pipe_add(p, "INCR %s", "bp:n");
    CHECK_EQ(simul_redis_pipe_exec(c, p, &r), 0);
    CHECK(r->type == SIMUL_REDIS_ARRAY && r->len == 1 && r->element[0]->integer == 30001);
    simul_redis_reply_free(r);

    /* reset and free with batches in flight: their replies are dropped and
     * the connection stays in step */
    add_incrs(p, 10000);
    simul_redis_pipe_reset(p);
    CHECK_EQ(simul_redis_pipe_count(p), 0);
    long long v = cmd_int(c, "INCR %s", "bp:n");   /* its own reply, not a dropped one */
    CHECK_EQ(cmd_int(c2, "INCRBY %s 0", "bp:n"), v);
    add_incrs(p, 10000);
    simul_redis_pipe_free(p);
    v = cmd_int(c, "INCR %s", "bp:n");
    CHECK_EQ(cmd_int(c2, "INCRBY %s 0", "bp:n"), v);

    p = simul_redis_pipe_new();
    CHECK_EQ(simul_redis_pipe_bind(p, c), 0);
    /* the server closes the connection after a batch's fourth command:
     * exec fails with ELOST, nothing half-filled comes back, and the
     * connection comes back */
    r = cmd_ok(c, "CLIENT ID", NULL);
    char kill[64];
    snprintf(kill, sizeof kill, "%lld", r->integer);
    simul_redis_reply_free(r);
    add_incrs(p, 3);
    CHECK_EQ(simul_redis_pipe_add(p, "CLIENT KILL ID %s SKIPME no", kill), 0);
    for (int i = 0; i < 20000; i++) {
        /* a batch written after the server closed: ELOST at once */
        int rc = simul_redis_pipe_add(p, "INCR %s", "bp:n");
        CHECK(rc == 0 || rc == SIMUL_REDIS_ELOST);
        if (i % 500 == 499)
            simul_yield();
    }
    r = NULL;
    CHECK_EQ(simul_redis_pipe_exec(c, p, &r), SIMUL_REDIS_ELOST);
    CHECK(r == NULL);
    CHECK_EQ(simul_redis_pipe_count(p), 0);
    CHECK_EQ(simul_redis_command(c, NULL, "PING"), 0);   /* reconnected */

    /* the server pauses past command_timeout: exec times out, the batches
     * are abandoned, their late replies dropped, the connection in step */
    simul_redis_opts o = { .command_timeout = 0.3 };
    simul_redis *c3 = connect_ok(url, &o);
    CHECK_EQ(simul_redis_pipe_bind(p, c3), 0);
    long long before = cmd_int(c2, "INCR %s", "bp:n");
    double t0 = simul_now();
    CHECK_EQ(simul_redis_command(c2, NULL, "CLIENT PAUSE %s WRITE", "1500"), 0);
    add_incrs(p, 20000);
    CHECK_EQ(simul_redis_pipe_exec(c3, p, &r), SIMUL_REDIS_ETIMEOUT);
    CHECK(r == NULL && simul_now() - t0 < 1.5);
    simul_sleep(1.6 - (simul_now() - t0));   /* the pause is over */
    CHECK_EQ(cmd_int(c3, "INCR %s", "bp:n"), before + 20001);
    simul_redis_pipe_free(p);
    CHECK_EQ(simul_redis_close(c3), 0);
    CHECK_EQ(simul_redis_close(c2), 0);
    CHECK_EQ(simul_redis_close(c), 0);
    return 0;
}
TEST_T(bound_pipe_sends_batches_as_it_fills, 60)
{
    CHECK_EQ(simul_run(main_bound, NULL), 0);
}

/* ---- binary safety -------------------------------------------------------------- */

static int main_binary(void *a)
{
    (void)a;
    simul_redis *c = connect_ok(url, NULL);
    static const char key[] = "b:\0key\r\n";
    char val[3000];
    for (size_t i = 0; i < sizeof val; i++)
        val[i] = (char)(i * 7);   /* NULs, CR, LF, every byte */
    const char *av[3] = { "SET", key, val };
    size_t lens[3] = { 3, sizeof key - 1, sizeof val };
    simul_redis_reply *r = NULL;
    CHECK_EQ(simul_redis_command_argv(c, 3, av, lens, &r), 0);
    simul_redis_reply_free(r);
    CHECK_EQ(simul_redis_command(c, &r, "GET %b", key, sizeof key - 1), 0);
    CHECK(r->type == SIMUL_REDIS_STRING && r->len == sizeof val);
    CHECK(memcmp(r->str, val, sizeof val) == 0 && r->str[r->len] == 0);
    simul_redis_reply_free(r);
    /* a key with only its prefix is another key */
    CHECK_EQ(simul_redis_command(c, &r, "EXISTS %b", key, (size_t)2), 0);
    CHECK_EQ(r->integer, 0);
    simul_redis_reply_free(r);
    /* an empty value */
    const char *av2[3] = { "SET", "b:empty", "" };
    CHECK_EQ(simul_redis_command_argv(c, 3, av2, NULL, NULL), 0);
    CHECK_EQ(simul_redis_command(c, &r, "GET b:empty"), 0);
    CHECK(r->type == SIMUL_REDIS_STRING && r->len == 0 && r->str[0] == 0);
    simul_redis_reply_free(r);
    CHECK_EQ(simul_redis_command_argv(c, 0, av, NULL, NULL), -EINVAL);
    CHECK_EQ(simul_redis_close(c), 0);
    return 0;
}
TEST(binary_safe_keys_and_values)
{
    CHECK_EQ(simul_run(main_binary, NULL), 0);
}

/* ---- many tasks, one connection ----------------------------------------------------- */

typedef struct worker {
    simul_redis *c;
    int          id, n, errors;
} worker;

static int pipelined_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        char k[32], v[32];
        snprintf(k, sizeof k, "p:%d:%d", w->id, i);
        snprintf(v, sizeof v, "v%d-%d", w->id, i * 31);
        const char *set[3] = { "SET", k, v };
        simul_redis_reply *r = NULL;
        if (simul_redis_command_argv(w->c, 3, set, NULL, NULL) != 0)
            w->errors++;
        const char *get[2] = { "GET", k };
        if (simul_redis_command_argv(w->c, 2, get, NULL, &r) != 0 || r->type != SIMUL_REDIS_STRING ||
            strcmp(r->str, v) != 0)
            w->errors++;
        simul_redis_reply_free(r);
    }
    return 0;
}

static int main_pipelined(void *a)
{
    (void)a;
    simul_redis *c = connect_ok(url, NULL);
    enum { NT = 100, PER = 50 };   /* 100 tasks x 50 x (SET + GET) = 10,000 */
    worker w[NT];
    simul_task *t[NT];
    for (int i = 0; i < NT; i++) {
        w[i] = (worker){ c, i, PER, 0 };
        t[i] = simul_spawn(pipelined_worker, &w[i]);
    }
    CHECK_EQ(simul_gather(t, NT, NULL, SIMUL_GATHER_FAIL_FAST), 0);
    int errors = 0;
    for (int i = 0; i < NT; i++)
        errors += w[i].errors;
    CHECK_EQ(errors, 0);
    CHECK_EQ(simul_redis_close(c), 0);
    return 0;
}
TEST_T(ten_thousand_commands_from_100_tasks_on_one_connection, 60)
{
    CHECK_EQ(simul_run(main_pipelined, NULL), 0);
}

/* ---- large values: the drain path -------------------------------------------------------- */

typedef struct big_arg {
    simul_redis *c;
    int          id, errors;
} big_arg;

static int big_task(void *arg)
{
    big_arg *b = arg;
    size_t n = (size_t)1 << 20;   /* 20 of them at once: well over the 1 MiB high water */
    char *v = malloc(n);
    for (size_t i = 0; i < n; i++)
        v[i] = (char)(i * 13 + (size_t)b->id);
    char k[32];
    snprintf(k, sizeof k, "big:%d", b->id);
    simul_redis_reply *r = NULL;
    if (simul_redis_command(b->c, NULL, "SET %s %b", k, v, n) != 0)
        b->errors++;
    if (simul_redis_command(b->c, &r, "GET %s", k) != 0 || r->len != n || memcmp(r->str, v, n) != 0)
        b->errors++;
    simul_redis_reply_free(r);
    free(v);
    return 0;
}

static int main_big(void *a)
{
    (void)a;
    simul_redis *c = connect_ok(url, NULL);
    enum { N = 20 };
    big_arg b[N];
    simul_task *t[N];
    for (int i = 0; i < N; i++) {
        b[i] = (big_arg){ c, i, 0 };
        t[i] = simul_spawn(big_task, &b[i]);
    }
    CHECK_EQ(simul_gather(t, N, NULL, SIMUL_GATHER_FAIL_FAST), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(b[i].errors, 0);
    CHECK_EQ(simul_redis_close(c), 0);
    /* a command over max_buffered is refused whole, and nothing is sent */
    simul_redis_opts o = { .max_buffered = 4096 };
    c = connect_ok(url, &o);
    static char v[8192];
    CHECK_EQ(simul_redis_command(c, NULL, "SET big:x %b", v, sizeof v), -EMSGSIZE);
    CHECK_EQ(cmd_int(c, "EXISTS %s", "big:x"), 0);
    CHECK_EQ(simul_redis_close(c), 0);
    return 0;
}
TEST_T(large_values_from_many_tasks_and_max_buffered, 60)
{
    CHECK_EQ(simul_run(main_big, NULL), 0);
}

/* ---- cancelled waiters ------------------------------------------------------------------ */

typedef struct incr_arg {
    simul_redis *c;
    int          i;
    long long    got;
    int          rc;
} incr_arg;

static int incr_task(void *arg)
{
    incr_arg *x = arg;
    char k[32];
    snprintf(k, sizeof k, "cx:%d", x->i);
    simul_redis_reply *r = NULL;
    x->rc = simul_redis_command(x->c, &r, "INCRBY %s %d", k, x->i + 1);
    x->got = r && r->type == SIMUL_REDIS_INTEGER ? r->integer : -1;
    simul_redis_reply_free(r);
    return 0;
}

static int main_cancel(void *a)
{
    (void)a;
    simul_redis *c = connect_ok(url, NULL);
    CHECK_EQ(simul_redis_command(c, NULL, "FLUSHDB"), 0);
    enum { N = 60 };
    incr_arg x[N];
    simul_task *t[N];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) {
            x[i] = (incr_arg){ c, i, 0, 1 };
            t[i] = simul_spawn(incr_task, &x[i]);
        }
        simul_yield();   /* every task has sent its command and waits */
        for (int i = 0; i < N; i += 3)
            simul_cancel(t[i]);
        CHECK_EQ(simul_gather(t, N, NULL, SIMUL_GATHER_COLLECT), 0);
        for (int i = 0; i < N; i++) {
            if (i % 3 == 0) {
                CHECK_EQ(x[i].rc, -ECANCELED);
            } else {
                CHECK_EQ(x[i].rc, 0);
                CHECK_EQ(x[i].got, (long long)(round + 1) * (i + 1));
            }
        }
    }
    /* the abandoned INCRs ran all the same (a cancel does not unsend),
     * and their replies were read and dropped: the stream is in step */
    for (int i = 0; i < N; i++) {
        char k[32];
        snprintf(k, sizeof k, "cx:%d", i);
        simul_redis_reply *r = NULL;
        CHECK_EQ(simul_redis_command(c, &r, "GET %s", k), 0);
        CHECK_EQ(atoll(r->str), 3LL * (i + 1));
        simul_redis_reply_free(r);
    }
    /* a scope's deadline: the same abandonment */
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + 0.05);
    int r = simul_redis_command(c, NULL, "BLPOP %s 0.3", "cx:nolist");
    CHECK_EQ(r, -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    simul_redis_reply *rep = NULL;
    CHECK_EQ(simul_redis_command(c, &rep, "ECHO %s", "after"), 0);   /* waits behind BLPOP */
    CHECK(strcmp(rep->str, "after") == 0);
    simul_redis_reply_free(rep);
    CHECK_EQ(simul_redis_close(c), 0);
    return 0;
}
TEST(cancelled_waiters_mid_pipeline_leave_the_others_right)
{
    CHECK_EQ(simul_run(main_cancel, NULL), 0);
}

/* ---- explicit pipelines, MULTI/EXEC, WATCH -------------------------------------------------- */

static int main_pipe(void *a)
{
    (void)a;
    simul_redis *c = connect_ok(url, NULL);
    simul_redis_pipe *p = simul_redis_pipe_new();
    CHECK(p != NULL);
    CHECK_EQ(simul_redis_pipe_exec(c, p, NULL), -EINVAL);   /* empty */
    CHECK_EQ(simul_redis_pipe_add(p, "DEL %s", "m:x"), 0);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ(simul_redis_pipe_add(p, "INCR %s", "m:x"), 0);
    CHECK_EQ(simul_redis_pipe_add(p, "LPUSH %s y", "m:x"), 0);   /* an error inside */
    const char *get[2] = { "GET", "m:x" };
    CHECK_EQ(simul_redis_pipe_add_argv(p, 2, get, NULL), 0);
    CHECK_EQ(simul_redis_pipe_count(p), 1003);
    simul_redis_reply *r = NULL;
    CHECK_EQ(simul_redis_pipe_exec(c, p, &r), 0);
    CHECK(r->type == SIMUL_REDIS_ARRAY && r->len == 1003);
    for (int i = 1; i <= 1000; i++)
        CHECK_EQ(r->element[i]->integer, i);
    CHECK_EQ(simul_redis_reply_error(r->element[1001]), SIMUL_REDIS_EWRONGTYPE);
    CHECK(strcmp(r->element[1002]->str, "1000") == 0);
    simul_redis_reply_free(r);

    /* MULTI/EXEC */
    simul_redis_pipe_reset(p);
    CHECK_EQ(simul_redis_pipe_count(p), 0);
    simul_redis_pipe_add(p, "SET %s 5", "m:t");
    simul_redis_pipe_add(p, "INCR %s", "m:t");
    simul_redis_pipe_add(p, "GET %s", "m:t");
    CHECK_EQ(simul_redis_multi_exec(c, p, &r), 0);
    CHECK(r->type == SIMUL_REDIS_ARRAY && r->len == 3);
    CHECK_EQ(r->element[1]->integer, 6);
    CHECK(strcmp(r->element[2]->str, "6") == 0);
    simul_redis_reply_free(r);
    /* a command refused when queued discards the transaction */
    simul_redis_pipe_reset(p);
    simul_redis_pipe_add(p, "INCR %s", "m:t");
    simul_redis_pipe_add(p, "GET");   /* wrong arity */
    CHECK_EQ(simul_redis_multi_exec(c, p, &r), SIMUL_REDIS_EEXECABORT);
    CHECK(r && r->type == SIMUL_REDIS_ERROR && strncmp(r->str, "EXECABORT", 9) == 0);
    simul_redis_reply_free(r);
    CHECK_EQ(cmd_int(c, "INCR %s", "m:t"), 7);   /* nothing of it ran */

    /* WATCH on a connection of its own; another client changes the key */
    simul_redis_pool_opts po = { .max_size = 2 };
    simul_redis_pool *pool = NULL;
    CHECK_EQ(simul_redis_pool_open(url, &po, &pool), 0);
    simul_redis *w = NULL;
    CHECK_EQ(simul_redis_pool_acquire(pool, 1, &w), 0);
    CHECK_EQ(simul_redis_command(w, NULL, "WATCH %s", "m:t"), 0);
    CHECK_EQ(cmd_int(c, "INCR %s", "m:t"), 8);
    simul_redis_pipe_reset(p);
    simul_redis_pipe_add(p, "SET %s 0", "m:t");
    CHECK_EQ(simul_redis_multi_exec(w, p, &r), SIMUL_REDIS_EWATCH);
    CHECK(r && r->type == SIMUL_REDIS_NIL);
    simul_redis_reply_free(r);
    CHECK_EQ(cmd_int(c, "INCR %s", "m:t"), 9);
    CHECK_EQ(simul_redis_pool_release(pool, w), 0);
    CHECK_EQ(simul_redis_pool_close(pool), 0);
    simul_redis_pipe_free(p);
    CHECK_EQ(simul_redis_close(c), 0);
    return 0;
}
TEST(explicit_pipeline_multi_exec_and_watch)
{
    CHECK_EQ(simul_run(main_pipe, NULL), 0);
}

/* ---- scripts --------------------------------------------------------------------------------- */

static int main_script(void *a)
{
    (void)a;
    simul_redis *c = connect_ok(url, NULL);
    static simul_redis_script s = SIMUL_REDIS_SCRIPT(
        "redis.call('SET', KEYS[1], ARGV[1]); return {KEYS[1], ARGV[1], #ARGV}");
    const char *av[3] = { "s:k", "v1", "extra" };
    simul_redis_reply *r = NULL;
    CHECK_EQ(simul_redis_evalsha(c, &s, 1, 3, av, NULL, &r), 0);
    CHECK_EQ(strlen(s.sha), 40);
    CHECK(r->type == SIMUL_REDIS_ARRAY && r->len == 3);
    CHECK(strcmp(r->element[0]->str, "s:k") == 0 && r->element[2]->integer == 2);
    simul_redis_reply_free(r);
    char sha[41];
    memcpy(sha, s.sha, 41);
    CHECK_EQ(simul_redis_command(c, NULL, "SCRIPT FLUSH"), 0);
    av[1] = "v2";
    CHECK_EQ(simul_redis_evalsha(c, &s, 1, 2, av, NULL, &r), 0);   /* NOSCRIPT, loaded, again */
    CHECK(strcmp(s.sha, sha) == 0);
    CHECK(strcmp(r->element[1]->str, "v2") == 0);
    simul_redis_reply_free(r);
    r = cmd_ok(c, "GET %s", "s:k");
    CHECK(strcmp(r->str, "v2") == 0);
    simul_redis_reply_free(r);
    /* a script's own error */
    static simul_redis_script bad = SIMUL_REDIS_SCRIPT("return redis.error_reply('ERR mine')");
    CHECK_EQ(simul_redis_evalsha(c, &bad, 0, 0, NULL, NULL, &r), SIMUL_REDIS_EERR);
    CHECK(r && strstr(r->str, "mine") != NULL);
    simul_redis_reply_free(r);
    CHECK_EQ(simul_redis_evalsha(c, &bad, 2, 1, av, NULL, NULL), -EINVAL);
    CHECK_EQ(simul_redis_close(c), 0);
    return 0;
}
TEST(evalsha_loads_the_script_and_survives_script_flush)
{
    CHECK_EQ(simul_run(main_script, NULL), 0);
}

/* ---- pub/sub --------------------------------------------------------------------------------- */

static void drop_msg(void *item, void *ctx)
{
    (void)ctx;
    simul_redis_msg_free(item);
}

static int main_pubsub(void *a)
{
    (void)a;
    simul_queue *q = simul_queue_new(256);   /* small: the reader must wait on it */
    simul_queue_set_drop(q, drop_msg, NULL);
    simul_redis *sub = NULL;
    CHECK_EQ(simul_redis_pubsub_open(url, NULL, q, &sub), 0);
    CHECK_EQ(simul_redis_subscribe(sub, "ch\0one", 6), 0);
    CHECK_EQ(simul_redis_psubscribe(sub, "pat:*", 5), 0);
    simul_redis *pub = connect_ok(url, NULL);
    CHECK_EQ(simul_redis_subscribe(pub, "x", 1), -EINVAL);   /* not a pub/sub connection */
    enum { N = 10000 };
    simul_redis_pipe *p = simul_redis_pipe_new();
    for (int i = 0; i < N; i++) {
        char m[32];
        int n = snprintf(m, sizeof m, "m%d", i);
        m[1] = 0;   /* a NUL in every payload */
        if (i % 2)
            simul_redis_pipe_add(p, "PUBLISH %b %b", "ch\0one", (size_t)6, m, (size_t)n);
        else
            simul_redis_pipe_add(p, "PUBLISH pat:%d %b", i, m, (size_t)n);
    }
    simul_redis_reply *r = NULL;
    CHECK_EQ(simul_redis_pipe_exec(pub, p, &r), 0);
    for (int i = 0; i < N; i++)
        CHECK_EQ(r->element[i]->integer, 1);   /* one subscriber each */
    simul_redis_reply_free(r);
    for (int i = 0; i < N; i++) {
        void *item = NULL;
        CHECK_EQ(simul_queue_get_until(q, &item, simul_now() + 10), 0);
        simul_redis_msg *m = item;
        char want[32];
        int n = snprintf(want, sizeof want, "m%d", i);
        want[1] = 0;
        CHECK(m->len == (size_t)n && memcmp(m->data, want, (size_t)n) == 0);
        if (i % 2) {
            CHECK(m->pattern == NULL && m->channel_len == 6 && memcmp(m->channel, "ch\0one", 6) == 0);
        } else {
            CHECK(m->pattern && strcmp(m->pattern, "pat:*") == 0);
            char ch[32];
            snprintf(ch, sizeof ch, "pat:%d", i);
            CHECK(strcmp(m->channel, ch) == 0);
        }
        simul_redis_msg_free(m);
    }
    /* unsubscribed: no more messages from there */
    CHECK_EQ(simul_redis_unsubscribe(sub, "ch\0one", 6), 0);
    CHECK_EQ(simul_redis_command(pub, &r, "PUBLISH %b x", "ch\0one", (size_t)6), 0);
    CHECK_EQ(r->integer, 0);
    simul_redis_reply_free(r);
    simul_redis_pipe_free(p);
    CHECK_EQ(simul_redis_close(pub), 0);
    CHECK_EQ(simul_redis_close(sub), 0);
    simul_queue_free(q);
    return 0;
}
TEST_T(pubsub_ten_thousand_messages_to_a_queue, 60)
{
    CHECK_EQ(simul_run(main_pubsub, NULL), 0);
}

/* ---- AUTH, ACL users, SELECT, URLs, Unix socket ------------------------------------------------ */

static int main_auth(void *a)
{
    (void)a;
    char u[400];
    simul_redis *c = NULL;
    snprintf(u, sizeof u, "redis://:wrong@127.0.0.1:%d", port);
    CHECK_EQ(simul_redis_connect(u, NULL, &c), SIMUL_REDIS_EWRONGPASS);
    CHECK(c == NULL);
    snprintf(u, sizeof u, "redis://alice:wrong@127.0.0.1:%d", port);
    CHECK_EQ(simul_redis_connect(u, NULL, &c), SIMUL_REDIS_EWRONGPASS);
    char e[200] = "";
    CHECK_EQ(simul_redis_last_error(NULL, e, sizeof e), 0);
    CHECK(strstr(e, "WRONGPASS") != NULL);
    /* the ACL user, from the URL (percent-encoded) and from opts */
    snprintf(u, sizeof u, "redis://al%%69ce:wonder%%6cand@127.0.0.1:%d", port);
    c = connect_ok(u, NULL);
    CHECK_EQ(simul_redis_command(c, NULL, "SET alice:k %s", "1"), 0);
    CHECK_EQ(simul_redis_command(c, NULL, "SET bob:k %s", "1"), SIMUL_REDIS_ENOPERM);
    CHECK_EQ(simul_redis_command(c, NULL, "FLUSHALL"), SIMUL_REDIS_ENOPERM);
    CHECK_EQ(simul_redis_close(c), 0);
    simul_redis_opts o = { .user = "alice", .password = "wonderland" };
    c = connect_ok(url, &o);
    CHECK_EQ(simul_redis_command(c, NULL, "GET alice:k"), 0);
    CHECK_EQ(simul_redis_close(c), 0);

    /* SELECT: from the URL's path, and from opts */
    snprintf(u, sizeof u, "redis://127.0.0.1:%d/3", port);
    c = connect_ok(u, NULL);
    CHECK_EQ(simul_redis_command(c, NULL, "SET %s in3", "sel:k"), 0);
    CHECK_EQ(simul_redis_close(c), 0);
    c = connect_ok(url, NULL);
    CHECK_EQ(cmd_int(c, "EXISTS %s", "sel:k"), 0);
    CHECK_EQ(simul_redis_close(c), 0);
    simul_redis_opts o3 = { .db = 3, .client_name = "simul-test" };
    c = connect_ok(url_unix, &o3);   /* and over the Unix socket */
    CHECK_EQ(cmd_int(c, "EXISTS %s", "sel:k"), 1);
    simul_redis_reply *r = cmd_ok(c, "CLIENT GETNAME", NULL);
    CHECK(strcmp(r->str, "simul-test") == 0);
    simul_redis_reply_free(r);
    CHECK_EQ(simul_redis_close(c), 0);
    snprintf(u, sizeof u, "unix://%s/redis.sock?db=3", dir);
    c = connect_ok(u, NULL);
    CHECK_EQ(cmd_int(c, "EXISTS %s", "sel:k"), 1);
    CHECK_EQ(simul_redis_close(c), 0);
    snprintf(u, sizeof u, "redis://127.0.0.1:%d/99", port);   /* no such db */
    CHECK_EQ(simul_redis_connect(u, NULL, &c), SIMUL_REDIS_EERR);

    /* URLs that do not parse, a refused connection */
    const char *bad[] = { "http://127.0.0.1:1", "redis://", "redis://h:0", "redis://h:99999",
                          "redis://h:12x", "redis://h/notadb", "unix://", "unix://rel/path",
                          "redis://:%zz@h", "redis://[::1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(simul_redis_connect(bad[i], NULL, &c), SIMUL_REDIS_EURL);
    CHECK_EQ(simul_redis_connect("redis://127.0.0.1:1", NULL, &c), SIMUL_REDIS_ECONNECT);
    CHECK_EQ(simul_redis_last_error(NULL, e, sizeof e), 0);
    CHECK(strstr(e, "refused") != NULL);
    snprintf(u, sizeof u, "unix://%s/nosuch.sock", dir);
    CHECK_EQ(simul_redis_connect(u, NULL, &c), SIMUL_REDIS_ECONNECT);
    simul_redis_opts bado = { .connect_timeout = NAN };
    CHECK_EQ(simul_redis_connect(url, &bado, &c), -EINVAL);
    return 0;
}
TEST(auth_acl_select_urls_and_unix_socket)
{
    CHECK_EQ(simul_run(main_auth, NULL), 0);
}

TEST(every_error_code_has_a_message)
{
    for (int code = -3300; code >= -3358; code--) {
        if (code < -3313 && code > -3350)
            continue;
        const char *m = simul_strerror(code);
        CHECK(m && strncmp(m, "Unknown", 7) != 0 && strlen(m) > 10);
    }
    CHECK(strstr(simul_strerror(SIMUL_REDIS_ELOST), "lost") != NULL);
    CHECK(strncmp(simul_strerror(-3340), "Unknown", 7) == 0);   /* unused in the range */
}

/* ---- the pool --------------------------------------------------------------------------------- */

static int main_pool(void *a)
{
    (void)a;
    simul_redis_pool_opts po = { .min_size = 1, .max_size = 2 };
    simul_redis_pool *p = NULL;
    CHECK_EQ(simul_redis_pool_open(url, &po, &p), 0);
    CHECK_EQ(simul_redis_pool_size(p), 1);
    CHECK_EQ(simul_redis_pool_idle(p), 1);
    simul_redis *c1 = NULL, *c2 = NULL, *c3 = NULL;
    CHECK_EQ(simul_redis_pool_acquire(p, 1, &c1), 0);
    CHECK_EQ(simul_redis_pool_acquire(p, 1, &c2), 0);
    CHECK_EQ(simul_redis_pool_size(p), 2);
    /* exhausted: the third waits for its timeout */
    double t0 = simul_now();
    CHECK_EQ(simul_redis_pool_acquire(p, 0.2, &c3), SIMUL_REDIS_EPOOL);
    double el = simul_now() - t0;
    CHECK(el >= 0.19 && el < 1.0);
    CHECK_EQ(simul_redis_pool_close(p), -EBUSY);
    /* a blocking command on c1 alone */
    CHECK_EQ(simul_redis_command(c1, NULL, "BLPOP %s 0.01", "pool:none"), 0);
    /* c2 killed by the server while out: released, it is closed */
    simul_redis_reply *r = cmd_ok(c2, "CLIENT ID", NULL);
    long long id2 = r->integer;
    simul_redis_reply_free(r);
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "%lld", id2);
    CHECK_EQ(cmd_int(c1, "CLIENT KILL ID %s", idbuf), 1);
    simul_sleep(0.05);
    CHECK_EQ(simul_redis_state(c2), SIMUL_REDIS_DOWN);
    CHECK_EQ(simul_redis_command(c2, NULL, "PING"), SIMUL_REDIS_EDOWN);
    CHECK_EQ(simul_redis_pool_release(p, c2), 0);
    CHECK_EQ(simul_redis_pool_size(p), 1);
    /* an idle one killed is replaced at acquire */
    r = cmd_ok(c1, "CLIENT ID", NULL);
    long long id1 = r->integer;
    simul_redis_reply_free(r);
    CHECK_EQ(simul_redis_pool_release(p, c1), 0);
    simul_redis *k = connect_ok(url, NULL);
    snprintf(idbuf, sizeof idbuf, "%lld", id1);
    CHECK_EQ(cmd_int(k, "CLIENT KILL ID %s", idbuf), 1);
    simul_sleep(0.05);
    CHECK_EQ(simul_redis_pool_acquire(p, 1, &c1), 0);
    r = cmd_ok(c1, "CLIENT ID", NULL);
    CHECK(r->integer != id1);
    simul_redis_reply_free(r);
    CHECK_EQ(simul_redis_pool_release(p, c1), 0);
    CHECK_EQ(simul_redis_close(k), 0);
    CHECK_EQ(simul_redis_pool_release(p, c1), -EINVAL);   /* not out any more */
    CHECK_EQ(simul_redis_pool_close(p), 0);

    /* idle connections above min_size close after idle_timeout */
    simul_redis_pool_opts pi = { .min_size = 0, .max_size = 3, .idle_timeout = 0.1 };
    CHECK_EQ(simul_redis_pool_open(url, &pi, &p), 0);
    CHECK_EQ(simul_redis_pool_acquire(p, 1, &c1), 0);
    CHECK_EQ(simul_redis_pool_acquire(p, 1, &c2), 0);
    CHECK_EQ(simul_redis_pool_release(p, c1), 0);
    CHECK_EQ(simul_redis_pool_release(p, c2), 0);
    CHECK_EQ(simul_redis_pool_idle(p), 2);
    simul_sleep(0.15);
    CHECK_EQ(simul_redis_pool_acquire(p, 1, &c1), 0);
    CHECK_EQ(simul_redis_pool_size(p), 1);
    CHECK_EQ(simul_redis_pool_release(p, c1), 0);
    CHECK_EQ(simul_redis_pool_close(p), 0);
    return 0;
}
TEST(pool_exhaustion_timeout_and_broken_connections)
{
    CHECK_EQ(simul_run(main_pool, NULL), 0);
}

/* ---- fake servers: garbage, silence ---------------------------------------------------------- */

static int garbage_handler(simul_stream *s, void *arg)
{
    const char *what = arg;
    char buf[256];
    if (simul_stream_read(s, buf, sizeof buf) <= 0)
        return 0;
    simul_stream_write(s, what, strlen(what));
    simul_stream_drain(s);
    simul_sleep(0.5);
    return 0;
}

static int silent_handler(simul_stream *s, void *arg)
{
    (void)arg;
    char buf[256];
    while (simul_stream_read(s, buf, sizeof buf) > 0)
        ;
    return 0;
}

static int main_fake(void *a)
{
    (void)a;
    const char *cases[] = {
        "!garbage\r\n",                  /* not a RESP type byte */
        "$abc\r\n",                      /* a bad length */
        "*2000000000\r\n",               /* an array we will not allocate */
        "+OK\r\n+EXTRA\r\n",             /* a reply nobody asked for */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        simul_server *srv = NULL;
        CHECK_EQ(simul_start_server("127.0.0.1", 0, garbage_handler, (void *)cases[i], NULL, &srv), 0);
        char u[64];
        snprintf(u, sizeof u, "redis://127.0.0.1:%d", simul_server_port(srv));
        simul_redis_opts o = { .reconnect = -1 };
        simul_redis *c = connect_ok(u, &o);
        simul_redis_reply *r = NULL;
        int rc = simul_redis_command(c, &r, "PING");
        if (i == 3) {
            CHECK_EQ(rc, 0);   /* the first reply is fine ... */
            simul_redis_reply_free(r);
            simul_sleep(0.05);   /* ... the extra one drops the connection */
            CHECK_EQ(simul_redis_state(c), SIMUL_REDIS_DOWN);
        } else {
            CHECK_EQ(rc, SIMUL_REDIS_EPROTO);
            CHECK(r == NULL);
        }
        char e[200];
        CHECK_EQ(simul_redis_last_error(c, e, sizeof e), 0);
        CHECK(strstr(e, "protocol") != NULL);
        CHECK_EQ(simul_redis_command(c, NULL, "PING"), SIMUL_REDIS_EDOWN);
        CHECK_EQ(simul_redis_close(c), 0);
        simul_server_close(srv, 0);
    }

    /* a server that accepts and never answers: AUTH times out the connect,
     * a command its command_timeout */
    simul_server *srv = NULL;
    CHECK_EQ(simul_start_server("127.0.0.1", 0, silent_handler, NULL, NULL, &srv), 0);
    char u[64];
    snprintf(u, sizeof u, "redis://:pw@127.0.0.1:%d", simul_server_port(srv));
    simul_redis_opts o = { .connect_timeout = 0.2, .command_timeout = 0.2 };
    simul_redis *c = NULL;
    double t0 = simul_now();
    CHECK_EQ(simul_redis_connect(u, &o, &c), SIMUL_REDIS_ETIMEOUT);
    CHECK(simul_now() - t0 < 1.0);
    snprintf(u, sizeof u, "redis://127.0.0.1:%d", simul_server_port(srv));
    c = connect_ok(u, &o);
    t0 = simul_now();
    CHECK_EQ(simul_redis_command(c, NULL, "PING"), SIMUL_REDIS_ETIMEOUT);
    double el = simul_now() - t0;
    CHECK(el >= 0.19 && el < 1.0);
    CHECK_EQ(simul_redis_close(c), 0);
    simul_server_close(srv, 0);
    return 0;
}
TEST(fake_servers_garbage_and_silence)
{
    CHECK_EQ(simul_run(main_fake, NULL), 0);
}

/* ---- a server that stops answering (SIGSTOP) ---------------------------------------------------- */

static int main_sigstop(void *a)
{
    (void)a;
    simul_redis_opts o = { .command_timeout = 0.3 };
    simul_redis *c = connect_ok(url, &o);
    CHECK_EQ(simul_redis_command(c, NULL, "SET %s 1", "st:k"), 0);
    int pid = server_pid();
    CHECK(pid > 0);
    CHECK_EQ(kill(pid, SIGSTOP), 0);
    double t0 = simul_now();
    int r1 = simul_redis_command(c, NULL, "INCR %s", "st:k");
    double el = simul_now() - t0;
    kill(pid, SIGCONT);
    CHECK_EQ(r1, SIMUL_REDIS_ETIMEOUT);
    CHECK(el >= 0.29 && el < 1.5);
    /* the late reply is dropped: the next command gets its own */
    simul_redis_reply *r = NULL;
    CHECK_EQ(simul_redis_command(c, &r, "GET %s", "st:k"), 0);
    CHECK(r && strcmp(r->str, "2") == 0);
    simul_redis_reply_free(r);
    CHECK_EQ(simul_redis_state(c), SIMUL_REDIS_UP);
    CHECK_EQ(simul_redis_close(c), 0);
    return 0;
}
TEST(zy_server_that_stops_answering_times_out_and_recovers)
{
    CHECK_EQ(simul_run(main_sigstop, NULL), 0);
}

/* ---- the server killed and restarted mid-pipeline --------------------------------------------- */

typedef struct restart_worker {
    simul_redis *c;
    int          id, ok_before, lost, ok_after, other;
    int         *stop;
} restart_worker;

static int restart_loop(void *arg)
{
    restart_worker *w = arg;
    int seen_error = 0;
    while (!*w->stop) {
        char k[32];
        snprintf(k, sizeof k, "rs:%d", w->id);
        simul_redis_reply *r = NULL;
        int rc = simul_redis_command(w->c, &r, "ECHO %s", k);
        if (rc == 0 && r->type == SIMUL_REDIS_STRING && strcmp(r->str, k) == 0) {
            if (seen_error)
                w->ok_after++;
            else
                w->ok_before++;
        } else if (rc == SIMUL_REDIS_ELOST) {
            w->lost++;
            seen_error = 1;
        } else {
            w->other++;
            fprintf(stderr, "restart worker: %s\n", simul_strerror(rc));
        }
        simul_redis_reply_free(r);
        if (seen_error && w->ok_after >= 20)
            break;
    }
    return 0;
}

static void *restart_server(void *arg)
{
    (void)arg;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s/tests/redis/redisserver.sh restart %s", SIMUL_SRCDIR, dir);
    return (void *)(intptr_t)system(cmd);
}

static int main_restart(void *a)
{
    (void)a;
    simul_redis_opts o = { .command_timeout = 10, .backoff_min = 0.02, .backoff_max = 0.2 };
    simul_redis *c = connect_ok(url, &o);
    enum { N = 20 };
    restart_worker w[N];
    simul_task *t[N];
    int stop = 0;
    for (int i = 0; i < N; i++) {
        w[i] = (restart_worker){ .c = c, .id = i, .stop = &stop };
        t[i] = simul_spawn(restart_loop, &w[i]);
    }
    simul_sleep(0.1);
    void *res = NULL;
    CHECK_EQ(simul_to_thread(restart_server, NULL, &res), 0);
    CHECK_EQ((intptr_t)res, 0);
    simul_sleep(1.0);
    stop = 1;
    CHECK_EQ(simul_gather(t, N, NULL, SIMUL_GATHER_FAIL_FAST), 0);
    int lost = 0;
    for (int i = 0; i < N; i++) {
        CHECK(w[i].ok_before > 0);
        CHECK(w[i].ok_after > 0);   /* reconnected and served */
        CHECK_EQ(w[i].other, 0);    /* only clean ELOST errors */
        lost += w[i].lost;
    }
    CHECK(lost > 0);
    CHECK(simul_redis_reconnects(c) >= 1);
    CHECK_EQ(simul_redis_state(c), SIMUL_REDIS_UP);
    CHECK_EQ(simul_redis_close(c), 0);
    return 0;
}
TEST_T(zz_server_killed_and_restarted_mid_pipeline, 60)
{
    CHECK_EQ(simul_run(main_restart, NULL), 0);
}
