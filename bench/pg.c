/*
 * pg.c - the PostgreSQL benchmarks, simul's side and plain synchronous
 * libpq's (the floor for one connection), in one program so both run the
 * same statements:
 *
 *     build/bench/pg simul|libpq BENCH N CONNINFO
 *
 * BENCH: select1 (N round trips of SELECT 1 on one connection), params1 (N
 * parameterised queries on one connection, one after the other), params (10
 * connections x N/10 parameterised queries each: 10 tasks for simul; for
 * libpq one connection after the other), insert (N pipelined INSERTs of
 * (int, text) rows into a fresh table, in one transaction: simul_pg_
 * executemany; libpq: its pipeline mode, blocking, a sync per 1,000),
 * insert_tasks (simul only: the same rows from 100 tasks sharing one
 * connection in pipeline mode, a sync per query), fetch (one SELECT of N rows, every value read
 * as an integer and a string), copy (COPY of N rows FROM STDIN). Prints one
 * JSON line: {"impl", "bench", "n", "wall_s", "cpu_s"} (CPU: this
 * process's user + system time). The table is created by the driver.
 */
#include <simul.h>
#include <simul/pg.h>

#include <fcntl.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static const char *conninfo;
static const char *bench;
static int n;

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
    fprintf(stderr, "pg bench: %s: %s\n", what, r < 0 ? simul_strerror(r) : "libpq");
    exit(1);
}

/* ---- simul --------------------------------------------------------------- */

#define CONNS 10

/* k parameterised queries on c, each answer checked */
static int params_run(simul_pg *c, int k)
{
    for (int i = 0; i < k; i++) {
        simul_pg_param p = simul_pg_int4(i);
        simul_pg_result *r;
        int rc = simul_pg_query(c, "SELECT $1::int + 1", &p, 1, &r);
        if (rc < 0)
            return rc;
        int64_t v;
        if (simul_pg_get_int(r, 0, 0, &v) < 0 || v != i + 1)
            return -EIO;
        simul_pg_result_free(r);
    }
    return 0;
}

static int params_task(void *arg)
{
    return params_run(arg, n / CONNS);
}

typedef struct ins_ctx {
    simul_pg *c;
    int       from, to;
} ins_ctx;

static int insert_task(void *arg)
{
    ins_ctx *x = arg;
    char name[32];
    for (int i = x->from; i < x->to; i++) {
        snprintf(name, sizeof name, "row %d", i);
        simul_pg_param p[2] = { simul_pg_int4(i), simul_pg_text(name) };
        int rc = simul_pg_query(x->c, "INSERT INTO bench_t VALUES ($1, $2)", p, 2, NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int simul_main(void *arg)
{
    (void)arg;
    simul_pg *c[CONNS];
    int nc = strcmp(bench, "params") == 0 ? CONNS : 1;
    for (int i = 0; i < nc; i++) {
        int r = simul_pg_connect(conninfo, 30, &c[i]);
        if (r < 0)
            die("connect", r);
    }
    double t0 = now(), c0 = cpu();
    int r = 0;
    if (strcmp(bench, "select1") == 0) {
        for (int i = 0; i < n && r == 0; i++) {
            simul_pg_result *res;
            r = simul_pg_query(c[0], "SELECT 1", NULL, 0, &res);
            simul_pg_result_free(res);
        }
    } else if (strcmp(bench, "params1") == 0) {
        r = params_run(c[0], n);
    } else if (strcmp(bench, "params") == 0) {
        simul_task *t[CONNS];
        for (int i = 0; i < CONNS; i++)
            t[i] = simul_spawn(params_task, c[i]);
        r = simul_gather(t, CONNS, NULL, SIMUL_GATHER_FAIL_FAST);
    } else if (strcmp(bench, "insert") == 0) {
        /* asyncpg's executemany: one statement, n rows, one sync */
        simul_pg_param *p = malloc(sizeof *p * 2 * (size_t)n);
        char (*names)[16] = malloc(16 * (size_t)n);
        for (int i = 0; i < n; i++) {
            snprintf(names[i], 16, "row %d", i);
            p[2 * i] = simul_pg_int4(i);
            p[2 * i + 1] = simul_pg_text(names[i]);
        }
        t0 = now();
        c0 = cpu();
        r = simul_pg_executemany(c[0], "INSERT INTO bench_t VALUES ($1, $2)", p, 2, n);
        free(p);
        free(names);
    } else if (strcmp(bench, "insert_tasks") == 0) {
        /* 100 tasks, each inserting its share, all on one pipelined
         * connection, inside one transaction */
        enum { TASKS = 100 };
        static ins_ctx x[TASKS];
        simul_task *t[TASKS];
        r = simul_pg_exec(c[0], "BEGIN");
        if (r >= 0)
            r = simul_pg_pipeline_enter(c[0]);
        for (int i = 0; i < TASKS && r >= 0; i++) {
            x[i] = (ins_ctx){ c[0], (int)((long)n * i / TASKS), (int)((long)n * (i + 1) / TASKS) };
            t[i] = simul_spawn(insert_task, &x[i]);
        }
        if (r >= 0)
            r = simul_gather(t, TASKS, NULL, SIMUL_GATHER_FAIL_FAST);
        if (r >= 0)
            r = simul_pg_pipeline_exit(c[0]);
        if (r >= 0)
            r = simul_pg_exec(c[0], "COMMIT");
    } else if (strcmp(bench, "fetch") == 0) {
        simul_pg_result *res;
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT g, 'row ' || g FROM generate_series(1, %d) g", n);
        r = simul_pg_query(c[0], sql, NULL, 0, &res);
        long long sum = 0, len = 0;
        for (int i = 0; r == 0 && i < simul_pg_nrows(res); i++) {
            int64_t v;
            const char *s;
            size_t l;
            simul_pg_get_int(res, i, 0, &v);
            simul_pg_get_text(res, i, 1, &s, &l);
            sum += v;
            len += (long long)l;
        }
        /* every 'row N' is at least 5 bytes: the text was really read */
        if (r == 0 && (sum != (long long)n * (n + 1) / 2 || len < 5LL * n))
            r = -EIO;
        simul_pg_result_free(res);
    } else if (strcmp(bench, "copy") == 0) {
        r = simul_pg_copy_open(c[0], "COPY bench_t FROM STDIN");
        if (r == SIMUL_PG_COPY_IN) {
            size_t cap = 64 * 1024, used = 0;
            char *buf = malloc(cap);
            r = 0;
            for (int i = 0; i < n && r == 0; i++) {
                used += (size_t)snprintf(buf + used, cap - used, "%d\trow %d\n", i, i);
                if (used > cap - 64 || i == n - 1) {
                    r = simul_pg_copy_write(c[0], buf, used);
                    used = 0;
                }
            }
            free(buf);
            int rows = simul_pg_copy_close(c[0], NULL);
            if (r == 0 && rows != n)
                r = rows < 0 ? rows : -EIO;
        }
    }
    double wall = now() - t0, cp = cpu() - c0;
    if (r < 0) {
        simul_pg_error e;
        if (simul_pg_last_error(c[0], &e) == 0)
            fprintf(stderr, "pg bench: %s\n", e.message);
        die(bench, r);
    }
    printf("{\"impl\": \"simul\", \"bench\": \"%s\", \"n\": %d, \"wall_s\": %.6f, \"cpu_s\": %.6f}\n",
           bench, n, wall, cp);
    for (int i = 0; i < nc; i++)
        simul_pg_close(c[i]);
    return 0;
}

/* ---- plain synchronous libpq ------------------------------------------------ */

static PGconn *pq_connect(void)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "%s", PQerrorMessage(c));
        exit(1);
    }
    return c;
}

static void pq_ok(PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && st != PGRES_PIPELINE_SYNC) {
        fprintf(stderr, "pg bench: %s", PQresultErrorMessage(r));
        exit(1);
    }
    PQclear(r);
}

static void libpq_main(void)
{
    PGconn *c = pq_connect();
    double t0 = now(), c0 = cpu();
    if (strcmp(bench, "select1") == 0) {
        for (int i = 0; i < n; i++)
            pq_ok(PQexec(c, "SELECT 1"));
    } else if (strcmp(bench, "params") == 0 || strcmp(bench, "params1") == 0) {
        /* the same queries, one connection after the other (params1: one
         * pass of n) */
        int passes = strcmp(bench, "params") == 0 ? CONNS : 1;
        PQclear(PQprepare(c, "q", "SELECT $1::int + 1", 1, NULL));
        for (int k = 0; k < passes; k++) {
            for (int i = 0; i < n / passes; i++) {
                char v[16];
                snprintf(v, sizeof v, "%d", i);
                const char *vals[1] = { v };
                PGresult *r = PQexecPrepared(c, "q", 1, vals, NULL, NULL, 0);
                if (atoi(PQgetvalue(r, 0, 0)) != i + 1)
                    exit(1);
                pq_ok(r);
            }
        }
    } else if (strcmp(bench, "insert") == 0) {
        /* libpq's own pipeline, blocking: send all, then read all */
        pq_ok(PQexec(c, "BEGIN"));
        PQenterPipelineMode(c);
        int sent = 0, got = 0;
        char name[32], v[16];
        while (got < n) {
            /* keep at most 1000 in flight so neither side's buffers fill */
            while (sent < n && sent - got < 1000) {
                snprintf(v, sizeof v, "%d", sent);
                snprintf(name, sizeof name, "row %d", sent);
                const char *vals[2] = { v, name };
                PQsendQueryParams(c, "INSERT INTO bench_t VALUES ($1, $2)", 2, NULL, vals, NULL,
                                  NULL, 0);
                sent++;
            }
            PQpipelineSync(c);
            for (;;) {
                PGresult *r = PQgetResult(c);
                if (!r)
                    continue;
                ExecStatusType st = PQresultStatus(r);
                if (st == PGRES_PIPELINE_SYNC) {
                    PQclear(r);
                    break;
                }
                pq_ok(r);
                got++;
            }
        }
        PQexitPipelineMode(c);
        pq_ok(PQexec(c, "COMMIT"));
    } else if (strcmp(bench, "fetch") == 0) {
        char sql[128];
        snprintf(sql, sizeof sql, "SELECT g, 'row ' || g FROM generate_series(1, %d) g", n);
        PGresult *r = PQexec(c, sql);
        long long sum = 0, len = 0;
        for (int i = 0; i < PQntuples(r); i++) {
            sum += strtoll(PQgetvalue(r, i, 0), NULL, 10);
            len += PQgetlength(r, i, 1);
        }
        if (sum != (long long)n * (n + 1) / 2 || len < 5LL * n)
            exit(1);
        pq_ok(r);
    } else if (strcmp(bench, "copy") == 0) {
        PGresult *r = PQexec(c, "COPY bench_t FROM STDIN");
        if (PQresultStatus(r) != PGRES_COPY_IN)
            exit(1);
        PQclear(r);
        size_t cap = 64 * 1024, used = 0;
        char *buf = malloc(cap);
        for (int i = 0; i < n; i++) {
            used += (size_t)snprintf(buf + used, cap - used, "%d\trow %d\n", i, i);
            if (used > cap - 64 || i == n - 1) {
                if (PQputCopyData(c, buf, (int)used) != 1)
                    exit(1);
                used = 0;
            }
        }
        free(buf);
        if (PQputCopyEnd(c, NULL) != 1)
            exit(1);
        pq_ok(PQgetResult(c));
        PQclear(PQgetResult(c));
    }
    double wall = now() - t0, cp = cpu() - c0;
    printf("{\"impl\": \"libpq\", \"bench\": \"%s\", \"n\": %d, \"wall_s\": %.6f, \"cpu_s\": %.6f}\n",
           bench, n, wall, cp);
    PQfinish(c);
}

/* ---- the server's floor: precomputed protocol bytes ---------------------- */

/*
 * raw insert / raw-describe insert: the pipelined INSERTs with no client
 * cost to speak of: libpq connects (and authenticates), then the socket is
 * driven by hand with bytes built before the clock starts - Parse once,
 * Bind (int4 binary, text) + Execute per row (raw-describe: + Describe
 * portal, what libpq's PQsendQueryPrepared sends), one Sync - written and
 * read in a poll loop; the answers are only counted (CommandComplete per
 * row, ReadyForQuery at the end). What is left is the server's cost per row
 * and the kernel's, the floor any client of this protocol can reach.
 */
typedef struct rawbuf {
    char  *p;
    size_t n, cap;
} rawbuf;

static void raw_put(rawbuf *b, const void *d, size_t len)
{
    if (b->n + len > b->cap) {
        b->cap = (b->cap + len) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            exit(1);
    }
    memcpy(b->p + b->n, d, len);
    b->n += len;
}

static void raw_u32(rawbuf *b, uint32_t v)
{
    v = __builtin_bswap32(v);
    raw_put(b, &v, 4);
}

static void raw_u16(rawbuf *b, uint16_t v)
{
    v = __builtin_bswap16(v);
    raw_put(b, &v, 2);
}

/* A message: type byte, then the length (patched once the body is in). */
static size_t raw_begin(rawbuf *b, char type)
{
    raw_put(b, &type, 1);
    size_t at = b->n;
    raw_u32(b, 0);
    return at;
}

static void raw_end(rawbuf *b, size_t at)
{
    uint32_t len = __builtin_bswap32((uint32_t)(b->n - at));
    memcpy(b->p + at, &len, 4);
}

static void raw_main(int describe)
{
    PGconn *c = pq_connect();
    pq_ok(PQexec(c, "BEGIN"));
    const char *sql = "INSERT INTO bench_t VALUES ($1, $2)";
    rawbuf b = { 0 };
    size_t m = raw_begin(&b, 'P');
    raw_put(&b, "", 1);                      /* unnamed statement */
    raw_put(&b, sql, strlen(sql) + 1);
    raw_u16(&b, 2);
    raw_u32(&b, 23);                         /* int4 */
    raw_u32(&b, 25);                         /* text */
    raw_end(&b, m);
    for (int i = 0; i < n; i++) {
        char name[32];
        int ln = snprintf(name, sizeof name, "row %d", i);
        m = raw_begin(&b, 'B');
        raw_put(&b, "\0", 2);                /* unnamed portal, statement */
        raw_u16(&b, 2);                      /* parameter formats: binary, text */
        raw_u16(&b, 1);
        raw_u16(&b, 0);
        raw_u16(&b, 2);
        raw_u32(&b, 4);
        raw_u32(&b, (uint32_t)i);
        raw_u32(&b, (uint32_t)ln);
        raw_put(&b, name, (size_t)ln);
        raw_u16(&b, 0);                      /* result formats: default */
        raw_end(&b, m);
        if (describe) {
            m = raw_begin(&b, 'D');
            raw_put(&b, "P", 2);
            raw_end(&b, m);
        }
        m = raw_begin(&b, 'E');
        raw_put(&b, "", 1);
        raw_u32(&b, 0);
        raw_end(&b, m);
    }
    m = raw_begin(&b, 'S');
    raw_end(&b, m);

    int fd = PQsocket(c);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    static char in[1 << 16];
    size_t sent = 0, have = 0;
    long done = 0;
    int ready = 0;
    double t0 = now(), c0 = cpu();
    while (!ready) {
        struct pollfd pf = { fd, (short)(POLLIN | (sent < b.n ? POLLOUT : 0)), 0 };
        if (poll(&pf, 1, -1) < 0)
            exit(1);
        if (sent < b.n && (pf.revents & POLLOUT)) {
            ssize_t w = write(fd, b.p + sent, b.n - sent);
            if (w > 0)
                sent += (size_t)w;
        }
        if (!(pf.revents & (POLLIN | POLLERR | POLLHUP)))
            continue;
        ssize_t r = read(fd, in + have, sizeof in - have);
        if (r <= 0) {
            fprintf(stderr, "pg bench: raw: connection lost\n");
            exit(1);
        }
        have += (size_t)r;
        size_t at = 0;
        while (have - at >= 5) {
            uint32_t len;
            memcpy(&len, in + at + 1, 4);
            len = __builtin_bswap32(len);
            if (have - at < 1 + (size_t)len)
                break;
            char t = in[at];
            if (t == 'C')
                done++;
            else if (t == 'Z')
                ready = 1;
            else if (t == 'E') {
                fprintf(stderr, "pg bench: raw: server error\n");
                exit(1);
            }
            at += 1 + len;
        }
        memmove(in, in + at, have - at);
        have -= at;
    }
    double wall = now() - t0, cp = cpu() - c0;
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    if (done != n)
        exit(1);
    pq_ok(PQexec(c, "COMMIT"));
    printf("{\"impl\": \"%s\", \"bench\": \"%s\", \"n\": %d, \"wall_s\": %.6f, \"cpu_s\": %.6f}\n",
           describe ? "raw-describe" : "raw", bench, n, wall, cp);
    free(b.p);
    PQfinish(c);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: pg simul|libpq|raw|raw-describe BENCH N CONNINFO\n");
        return 2;
    }
    bench = argv[2];
    n = atoi(argv[3]);
    conninfo = argv[4];
    /* an unknown BENCH must fail, not time nothing */
    static const char *const known[] = { "select1", "params1", "params", "insert",
                                         "insert_tasks", "fetch", "copy" };
    int ok = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        ok |= strcmp(bench, known[i]) == 0;
    if (!ok || n <= 0 || (strcmp(argv[1], "libpq") == 0 && strcmp(bench, "insert_tasks") == 0)) {
        fprintf(stderr, "pg bench: %s %s %s: no such benchmark\n", argv[1], bench, argv[3]);
        return 2;
    }
    if (strcmp(argv[1], "libpq") == 0) {
        libpq_main();
        return 0;
    }
    if (strcmp(argv[1], "raw") == 0 || strcmp(argv[1], "raw-describe") == 0) {
        if (strcmp(bench, "insert") != 0) {
            fprintf(stderr, "pg bench: raw: insert only\n");
            return 2;
        }
        raw_main(strcmp(argv[1], "raw-describe") == 0);
        return 0;
    }
    return simul_run(simul_main, NULL) < 0;
}
