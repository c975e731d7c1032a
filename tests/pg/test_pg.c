/*
 * test_pg.c - the PostgreSQL layer against a real PostgreSQL 15 that this
 * program starts itself (tests/pg/pgserver.sh: initdb into a temporary
 * directory, a free loopback port, the Unix socket there; stopped at exit):
 * connect (TCP, Unix socket, URI, multi-host fallback), every type both
 * ways, NULLs, server errors with SQLSTATE, bad conninfo, wrong password,
 * a server that accepts and never answers, cancellation mid-query (task
 * cancel and scope deadline) leaving the connection usable, a backend
 * killed under a connection, the statement cache, and pipelines of 10,000
 * statements with an error in the middle.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simul.h>
#include <simul/pg.h>

static char dir[256];
static int port;
static char conninfo[512];      /* TCP */
static char conninfo_unix[512]; /* the socket directory */

static void stop_server(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s/tests/pg/pgserver.sh stop %s", SIMUL_SRCDIR, dir);
    if (system(cmd) != 0)
        fprintf(stderr, "pgserver stop failed\n");
}

__attribute__((constructor(200))) static void start_server(void)
{
    /* a connection's close frees all it holds (statement cache, COPY rows) */
    harness_check_leaks();
    snprintf(dir, sizeof dir, "/tmp/simul-pgtest-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    char cmd[600];
    /* with TLS: TCP connections (sslmode=prefer, libpq's default) use it */
    snprintf(cmd, sizeof cmd, "%s/tests/pg/pgserver.sh start %s ssl", SIMUL_SRCDIR, dir);
    FILE *f = popen(cmd, "r");
    if (!f || fscanf(f, "%d", &port) != 1) {
        fprintf(stderr, "cannot start PostgreSQL (tests/pg/pgserver.sh)\n");
        exit(1);
    }
    pclose(f);
    atexit(stop_server);
    snprintf(conninfo, sizeof conninfo,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres", port);
    snprintf(conninfo_unix, sizeof conninfo_unix,
             "host=%s port=%d user=postgres dbname=postgres", dir, port);
}

static simul_pg *connect_ok(const char *ci)
{
    simul_pg *c = NULL;
    int r = simul_pg_connect(ci, 10, &c);
    if (r < 0) {
        simul_pg_error e;
        simul_pg_last_error(NULL, &e);
        fprintf(stderr, "connect: %s: %s\n", simul_strerror(r), e.message);
    }
    CHECK_EQ(r, 0);
    return c;
}

static int64_t one_int(simul_pg *c, const char *sql)
{
    simul_pg_result *r = NULL;
    int64_t v = -12345;
    CHECK_EQ(simul_pg_query(c, sql, NULL, 0, &r), 0);
    CHECK_EQ(simul_pg_get_int(r, 0, 0, &v), 0);
    simul_pg_result_free(r);
    return v;
}

/* ---- connect and simple queries ----------------------------------------- */

static int main_connect(void *a)
{
    (void)a;
    simul_pg *c = connect_ok(conninfo);
    CHECK_EQ(simul_pg_status(c), SIMUL_PG_OK);
    CHECK(simul_pg_backend_pid(c) > 0);
    CHECK_EQ(one_int(c, "SELECT 1"), 1);
    simul_pg_result *r = NULL;
    CHECK_EQ(simul_pg_query(c, "SELECT 1 AS a, 'two' AS b; SELECT 3 AS c", NULL, 0, &r), 0);
    CHECK_EQ(simul_pg_nrows(r), 1);
    CHECK_EQ(simul_pg_ncols(r), 1);   /* the last statement's result */
    CHECK(strcmp(simul_pg_colname(r, 0), "c") == 0);
    CHECK_EQ(simul_pg_colnum(r, "c"), 0);
    CHECK_EQ(simul_pg_colnum(r, "zz"), -ENOENT);
    simul_pg_result_free(r);
    CHECK_EQ(simul_pg_exec(c, "CREATE TEMP TABLE t(a int)"), 0);
    CHECK_EQ(simul_pg_exec(c, "INSERT INTO t SELECT generate_series(1, 5)"), 5);
    CHECK_EQ(simul_pg_close(c), 0);

    c = connect_ok(conninfo_unix);
    CHECK_EQ(one_int(c, "SELECT 2"), 2);
    CHECK_EQ(simul_pg_close(c), 0);

    char uri[256];
    snprintf(uri, sizeof uri, "postgresql://postgres@127.0.0.1:%d/postgres", port);
    c = connect_ok(uri);
    CHECK_EQ(one_int(c, "SELECT 3"), 3);
    CHECK_EQ(simul_pg_close(c), 0);
    return 0;
}
TEST(connect_tcp_unix_uri_and_query)
{
    CHECK_EQ(simul_run(main_connect, NULL), 0);
}

/* libpq closes the refused first host's socket and opens another: the fd
 * table must follow it. */
static int main_multihost(void *a)
{
    (void)a;
    char ci[512];
    snprintf(ci, sizeof ci, "host=127.0.0.1,127.0.0.1,%s port=1,2,%d user=postgres "
             "dbname=postgres", dir, port);
    simul_pg *c = connect_ok(ci);
    CHECK_EQ(one_int(c, "SELECT 7"), 7);
    CHECK_EQ(simul_pg_close(c), 0);
    return 0;
}
TEST(connect_multi_host_fallback)
{
    CHECK_EQ(simul_run(main_multihost, NULL), 0);
}

/* TLS as libpq offers it: the handshake runs through PQconnectPoll's steps
 * on the loop, after a refused first host too; sslmode=disable has none. */
static int main_tls(void *a)
{
    (void)a;
    char ci[600];
    snprintf(ci, sizeof ci, "%s sslmode=require", conninfo);
    simul_pg *c = connect_ok(ci);
    CHECK_EQ(one_int(c, "SELECT ssl::int FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), 1);
    CHECK_EQ(simul_pg_close(c), 0);
    snprintf(ci, sizeof ci, "%s sslmode=disable", conninfo);
    c = connect_ok(ci);
    CHECK_EQ(one_int(c, "SELECT ssl::int FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), 0);
    CHECK_EQ(simul_pg_close(c), 0);
    /* a refused first host, then TLS on the second: both socket changes */
    snprintf(ci, sizeof ci, "host=127.0.0.1,127.0.0.1 port=1,%d user=postgres dbname=postgres "
             "sslmode=require", port);
    c = connect_ok(ci);
    CHECK_EQ(one_int(c, "SELECT 8"), 8);
    CHECK_EQ(simul_pg_close(c), 0);
    return 0;
}
TEST(connect_with_tls)
{
    CHECK_EQ(simul_run(main_tls, NULL), 0);
}

/* ---- connect failures ----------------------------------------------------- */

static int main_bad(void *a)
{
    (void)a;
    simul_pg *c = (simul_pg *)1;
    simul_pg_error e;
    CHECK_EQ(simul_pg_connect("host=x bogus_option=1", 5, &c), SIMUL_PG_ECONNINFO);
    CHECK(c == NULL);
    CHECK_EQ(simul_pg_connect("nonsense", 5, &c), SIMUL_PG_ECONNINFO);
    CHECK_EQ(simul_pg_last_error(NULL, &e), 0);
    CHECK_EQ(e.code, SIMUL_PG_ECONNINFO);
    CHECK(e.message[0] != '\0');
    CHECK_EQ(simul_pg_connect("host=127.0.0.1 port=1 user=postgres", 5, &c), SIMUL_PG_ECONNECT);
    CHECK_EQ(simul_pg_last_error(NULL, &e), 0);
    CHECK(strstr(e.message, "refused") != NULL);

    char ci[512];
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d user=pw_user password=wrong dbname=postgres",
             port);
    CHECK_EQ(simul_pg_connect(ci, 5, &c), SIMUL_PG_ECONNECT);
    CHECK_EQ(simul_pg_last_error(NULL, &e), 0);
    CHECK(strstr(e.message, "password authentication failed") != NULL);
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d user=pw_user password=secret dbname=postgres",
             port);
    c = connect_ok(ci);
    CHECK_EQ(one_int(c, "SELECT 4"), 4);
    CHECK_EQ(simul_pg_close(c), 0);
    CHECK(strstr(simul_strerror(SIMUL_PG_ECONNECT), "connect") != NULL);
    CHECK(strstr(simul_strerror(SIMUL_PG_ESERVER), "server") != NULL);
    return 0;
}
TEST(connect_errors_bad_conninfo_refused_wrong_password)
{
    CHECK_EQ(simul_run(main_bad, NULL), 0);
}

/* A server that accepts and never says a word. */
static int main_silent(void *a)
{
    (void)a;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    CHECK_EQ(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    CHECK_EQ(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
    CHECK_EQ(listen(ls, 8), 0);
    char ci[256];
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d user=postgres sslmode=disable",
             ntohs(sa.sin_port));
    simul_pg *c = NULL;
    double t0 = simul_now();
    CHECK_EQ(simul_pg_connect(ci, 0.3, &c), -ETIMEDOUT);
    double el = simul_now() - t0;
    CHECK(el >= 0.25 && el < 2);
    CHECK(c == NULL);
    /* and a scope around it says the same */
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + 0.2);
    CHECK_EQ(simul_pg_connect(ci, INFINITY, &c), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    close(ls);
    return 0;
}
TEST(connect_to_a_server_that_never_answers_times_out)
{
    CHECK_EQ(simul_run(main_silent, NULL), 0);
}

/* ---- types -------------------------------------------------------------- */

static void check_types(simul_pg *c, int flags)
{
    simul_pg_result *r = NULL;
    const char *sql =
        "SELECT 7::int2, '-2147483648'::int4, 9223372036854775807::int8, 1.5::float4, "
        "-2.25::float8, true, 'héllo'::text, '\\x00ff10'::bytea, 12345678901234567890.5::numeric, "
        "'2024-02-29 13:14:15.123456'::timestamp, '2024-02-29 13:14:15.5+02'::timestamptz, "
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid, '{\"k\": [1, 2]}'::json, "
        "'{\"k\": 1}'::jsonb, NULL::int, 'NaN'::float8, '1970-01-02'::date, "
        "'infinity'::timestamptz";
    CHECK_EQ(simul_pg_query_ex(c, sql, NULL, 0, flags, &r), 0);
    int64_t i;
    double d;
    int b;
    const char *s;
    size_t n;
    uint8_t u[16], buf[8];
    CHECK_EQ(simul_pg_get_int(r, 0, 0, &i), 0);
    CHECK_EQ(i, 7);
    CHECK_EQ(simul_pg_get_int(r, 0, 1, &i), 0);
    CHECK_EQ(i, -2147483648LL);
    CHECK_EQ(simul_pg_get_int(r, 0, 2, &i), 0);
    CHECK(i == INT64_MAX);
    CHECK_EQ(simul_pg_get_double(r, 0, 3, &d), 0);
    CHECK(d == 1.5);
    CHECK_EQ(simul_pg_get_double(r, 0, 4, &d), 0);
    CHECK(d == -2.25);
    CHECK_EQ(simul_pg_get_bool(r, 0, 5, &b), 0);
    CHECK_EQ(b, 1);
    CHECK_EQ(simul_pg_get_text(r, 0, 6, &s, &n), 0);
    CHECK(n == strlen("héllo") && memcmp(s, "héllo", n) == 0);
    CHECK_EQ(simul_pg_get_bytea(r, 0, 7, buf, sizeof buf, &n), 0);
    CHECK(n == 3 && buf[0] == 0 && buf[1] == 0xff && buf[2] == 0x10);
    CHECK_EQ(simul_pg_get_bytea(r, 0, 7, buf, 2, &n), -ENOBUFS);
    CHECK_EQ(n, 3);
    if (!(flags & SIMUL_PG_BINARY)) {   /* numeric: as text */
        CHECK_EQ(simul_pg_get_text(r, 0, 8, &s, &n), 0);
        CHECK(strcmp(s, "12345678901234567890.5") == 0);
    } else {
        CHECK_EQ(simul_pg_get_text(r, 0, 8, &s, &n), -EINVAL);
    }
    int64_t us;
    CHECK_EQ(simul_pg_get_time(r, 0, 9, &us), 0);
    CHECK_EQ(us, 1709212455123456LL);   /* date -u -d '2024-02-29 13:14:15' +%s */
    CHECK_EQ(simul_pg_get_time(r, 0, 10, &us), 0);
    CHECK_EQ(us, 1709212455500000LL - 2 * 3600 * 1000000LL);
    CHECK_EQ(simul_pg_get_uuid(r, 0, 11, u), 0);
    CHECK(u[0] == 0xa0 && u[1] == 0xee && u[15] == 0x11);
    CHECK_EQ(simul_pg_get_text(r, 0, 12, &s, &n), 0);
    CHECK(strcmp(s, "{\"k\": [1, 2]}") == 0);
    CHECK_EQ(simul_pg_get_text(r, 0, 13, &s, &n), 0);
    CHECK(strcmp(s, "{\"k\": 1}") == 0);
    CHECK_EQ(simul_pg_isnull(r, 0, 14), 1);
    CHECK_EQ(simul_pg_isnull(r, 0, 0), 0);
    CHECK_EQ(simul_pg_get_int(r, 0, 14, &i), -ENOENT);
    CHECK_EQ(simul_pg_get_double(r, 0, 15, &d), 0);
    CHECK(isnan(d));
    CHECK_EQ(simul_pg_get_time(r, 0, 16, &us), 0);
    CHECK_EQ(us, 86400LL * 1000000);
    CHECK_EQ(simul_pg_get_time(r, 0, 17, &us), 0);
    CHECK(us == INT64_MAX);
    CHECK_EQ(simul_pg_get_int(r, 1, 0, &i), -ERANGE);
    CHECK_EQ(simul_pg_get_int(r, 0, 99, &i), -ERANGE);
    CHECK_EQ(simul_pg_get_bool(r, 0, 0, &b), -EINVAL);
    CHECK_EQ(simul_pg_isnull(r, 5, 0), -ERANGE);
    CHECK(simul_pg_value(r, 9, 0, NULL) == NULL);
    simul_pg_result_free(r);
}

static void check_arrays(simul_pg *c, int flags)
{
    simul_pg_result *r = NULL;
    CHECK_EQ(simul_pg_query_ex(c, "SELECT ARRAY[1, NULL, -3]::int4[], ARRAY[1.5, 2.5]::float8[], "
                               "ARRAY['a', 'b,c', 'q\"x', NULL, 'NULL']::text[], '{}'::int8[], "
                               "ARRAY[9000000000]::int8[], ARRAY[[1,2],[3,4]]::int2[], 5",
                               NULL, 0, flags, &r), 0);
    int64_t v;
    double d;
    char buf[16];
    CHECK_EQ(simul_pg_array_len(r, 0, 0), 3);
    CHECK_EQ(simul_pg_array_int(r, 0, 0, 0, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(simul_pg_array_int(r, 0, 0, 1, &v), -ENOENT);
    CHECK_EQ(simul_pg_array_int(r, 0, 0, 2, &v), 0);
    CHECK_EQ(v, -3);
    CHECK_EQ(simul_pg_array_int(r, 0, 0, 3, &v), -ERANGE);
    CHECK_EQ(simul_pg_array_len(r, 0, 1), 2);
    CHECK_EQ(simul_pg_array_double(r, 0, 1, 1, &d), 0);
    CHECK(d == 2.5);
    CHECK_EQ(simul_pg_array_len(r, 0, 2), 5);
    CHECK_EQ(simul_pg_array_text(r, 0, 2, 1, buf, sizeof buf), 0);
    CHECK(strcmp(buf, "b,c") == 0);
    CHECK_EQ(simul_pg_array_text(r, 0, 2, 2, buf, sizeof buf), 0);
    CHECK(strcmp(buf, "q\"x") == 0);
    CHECK_EQ(simul_pg_array_text(r, 0, 2, 3, buf, sizeof buf), -ENOENT);
    CHECK_EQ(simul_pg_array_text(r, 0, 2, 4, buf, sizeof buf), 0);   /* the string NULL */
    CHECK(strcmp(buf, "NULL") == 0);
    CHECK_EQ(simul_pg_array_text(r, 0, 2, 1, buf, 2), -ENOBUFS);
    CHECK_EQ(simul_pg_array_len(r, 0, 3), 0);
    CHECK_EQ(simul_pg_array_int(r, 0, 4, 0, &v), 0);
    CHECK_EQ(v, 9000000000LL);
    CHECK_EQ(simul_pg_array_len(r, 0, 5), -EINVAL);   /* two dimensions */
    CHECK_EQ(simul_pg_array_len(r, 0, 6), -EINVAL);   /* not an array */
    simul_pg_result_free(r);
}

/* Integers read from text, as strtoll(s, &end, 10) with nothing after
 * would: the limits exactly, one past them -ERANGE, anything but white
 * space, a sign and digits -EINVAL; in an array element too. And NULL
 * told from the values whose bytes start like libpq's NULL (""). */
static void check_value_edges(simul_pg *c)
{
    simul_pg_result *r = NULL;
    const char *sql = "SELECT '-9223372036854775808', '9223372036854775807', "
                      "'9223372036854775808', '-9223372036854775809', "
                      "'99999999999999999999', ' \t\n+42', '-0', '12a', '', '-', '4 ', "
                      "'{-9223372036854775808,x,9223372036854775808}'::text[], '0x10'";
    CHECK_EQ(simul_pg_query(c, sql, NULL, 0, &r), 0);
    int64_t v = 1;
    CHECK_EQ(simul_pg_get_int(r, 0, 0, &v), 0);
    CHECK(v == INT64_MIN);
    CHECK_EQ(simul_pg_get_int(r, 0, 1, &v), 0);
    CHECK(v == INT64_MAX);
    CHECK_EQ(simul_pg_get_int(r, 0, 2, &v), -ERANGE);
    CHECK_EQ(simul_pg_get_int(r, 0, 3, &v), -ERANGE);
    CHECK_EQ(simul_pg_get_int(r, 0, 4, &v), -ERANGE);
    CHECK_EQ(simul_pg_get_int(r, 0, 5, &v), 0);
    CHECK_EQ(v, 42);
    CHECK_EQ(simul_pg_get_int(r, 0, 6, &v), 0);
    CHECK_EQ(v, 0);
    for (int col = 7; col <= 10; col++)
        CHECK_EQ(simul_pg_get_int(r, 0, col, &v), -EINVAL);
    CHECK_EQ(simul_pg_array_int(r, 0, 11, 0, &v), 0);
    CHECK(v == INT64_MIN);
    CHECK_EQ(simul_pg_array_int(r, 0, 11, 1, &v), -EINVAL);
    CHECK_EQ(simul_pg_array_int(r, 0, 11, 2, &v), -ERANGE);
    CHECK_EQ(simul_pg_get_int(r, 0, 12, &v), -EINVAL);
    simul_pg_result_free(r);
    /* NULL against the values that look like one from outside: an empty
     * text, a binary zero (its first byte 0) */
    r = NULL;
    CHECK_EQ(simul_pg_query_ex(c, "SELECT 0::int4, ''::text, NULL::int4, NULL::text", NULL, 0,
                               SIMUL_PG_BINARY, &r), 0);
    const char *s = NULL;
    size_t n = 9;
    CHECK_EQ(simul_pg_get_int(r, 0, 0, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(simul_pg_get_text(r, 0, 1, &s, &n), 0);
    CHECK(s && n == 0);
    CHECK_EQ(simul_pg_get_int(r, 0, 2, &v), -ENOENT);
    CHECK_EQ(simul_pg_get_text(r, 0, 3, &s, &n), -ENOENT);
    simul_pg_result_free(r);
}

static int main_types(void *a)
{
    (void)a;
    simul_pg *c = connect_ok(conninfo);
    CHECK_EQ(simul_pg_exec(c, "SET TimeZone = 'UTC'"), 0);
    check_types(c, 0);
    check_types(c, SIMUL_PG_BINARY);
    check_arrays(c, 0);
    check_arrays(c, SIMUL_PG_BINARY);
    check_value_edges(c);

    /* parameters both ways: binary (the constructors) and text */
    simul_pg_param p[8];
    const uint8_t bytes[4] = { 0, 1, 0xfe, 0xff };
    p[0] = simul_pg_int4(-5);
    p[1] = simul_pg_int8(1LL << 40);
    p[2] = simul_pg_float8(0.125);
    p[3] = simul_pg_bool(1);
    p[4] = simul_pg_text("it's");
    p[5] = simul_pg_bytes(bytes, 4);
    p[6] = simul_pg_null();
    p[7] = simul_pg_text("42");
    simul_pg_result *r = NULL;
    for (int bin = 0; bin < 2; bin++) {
        CHECK_EQ(simul_pg_query_ex(c, "SELECT $1::int4, $2::int8, $3::float8, $4::bool, $5::text, "
                                   "$6::bytea, $7::text IS NULL, $8::int + 1",
                                   p, 8, bin ? SIMUL_PG_BINARY : 0, &r), 0);
        int64_t i;
        double d;
        int b;
        const char *s;
        size_t n;
        uint8_t out[8];
        CHECK_EQ(simul_pg_get_int(r, 0, 0, &i), 0);
        CHECK_EQ(i, -5);
        CHECK_EQ(simul_pg_get_int(r, 0, 1, &i), 0);
        CHECK_EQ(i, 1LL << 40);
        CHECK_EQ(simul_pg_get_double(r, 0, 2, &d), 0);
        CHECK(d == 0.125);
        CHECK_EQ(simul_pg_get_bool(r, 0, 3, &b), 0);
        CHECK_EQ(b, 1);
        CHECK_EQ(simul_pg_get_text(r, 0, 4, &s, &n), 0);
        CHECK(strcmp(s, "it's") == 0);
        CHECK_EQ(simul_pg_get_bytea(r, 0, 5, out, sizeof out, &n), 0);
        CHECK(n == 4 && memcmp(out, bytes, 4) == 0);
        CHECK_EQ(simul_pg_get_bool(r, 0, 6, &b), 0);
        CHECK_EQ(b, 1);
        CHECK_EQ(simul_pg_get_int(r, 0, 7, &i), 0);
        CHECK_EQ(i, 43);
        simul_pg_result_free(r);
    }
    CHECK_EQ(simul_pg_close(c), 0);
    return 0;
}
TEST(types_round_trip_text_and_binary)
{
    CHECK_EQ(simul_run(main_types, NULL), 0);
}

/* ---- errors ------------------------------------------------------------- */

static int main_server_error(void *a)
{
    (void)a;
    simul_pg *c = connect_ok(conninfo);
    simul_pg_result *r = (simul_pg_result *)1;
    simul_pg_error e;
    CHECK_EQ(simul_pg_last_error(c, &e), -ENOENT);
    CHECK_EQ(simul_pg_query(c, "SELECT 1/0", NULL, 0, &r), SIMUL_PG_ESERVER);
    CHECK(r == NULL);
    CHECK_EQ(simul_pg_last_error(c, &e), 0);
    CHECK(strcmp(e.sqlstate, "22012") == 0);
    CHECK(strcmp(e.severity, "ERROR") == 0);
    CHECK(strstr(e.message, "division by zero") != NULL);
    CHECK_EQ(simul_pg_exec(c, "CREATE TEMP TABLE u(k int PRIMARY KEY)"), 0);
    CHECK_EQ(simul_pg_exec(c, "INSERT INTO u VALUES (1)"), 1);
    CHECK_EQ(simul_pg_exec(c, "INSERT INTO u VALUES (1)"), SIMUL_PG_ESERVER);
    CHECK_EQ(simul_pg_last_error(c, &e), 0);
    CHECK(strcmp(e.sqlstate, "23505") == 0);
    CHECK(strstr(e.detail, "(k)=(1) already exists") != NULL);
    CHECK_EQ(simul_pg_exec(c, "SELEC 1"), SIMUL_PG_ESERVER);
    CHECK_EQ(simul_pg_last_error(c, &e), 0);
    CHECK(strcmp(e.sqlstate, "42601") == 0);
    /* a hint */
    CHECK_EQ(simul_pg_exec(c, "DO $$ BEGIN RAISE EXCEPTION 'boom' USING HINT = 'try again', "
                              "ERRCODE = 'P0001'; END $$"), SIMUL_PG_ESERVER);
    CHECK_EQ(simul_pg_last_error(c, &e), 0);
    CHECK(strcmp(e.hint, "try again") == 0);
    CHECK(strcmp(e.message, "boom") == 0);
    /* still usable */
    CHECK_EQ(one_int(c, "SELECT 5"), 5);
    CHECK_EQ(simul_pg_close(c), 0);
    return 0;
}
TEST(server_errors_carry_sqlstate_detail_hint)
{
    CHECK_EQ(simul_run(main_server_error, NULL), 0);
}

/* ---- concurrency, busy -------------------------------------------------- */

static int sleeper(void *a)
{
    simul_pg *c = a;
    return simul_pg_exec(c, "SELECT pg_sleep(0.3)");
}

static int main_parallel(void *a)
{
    (void)a;
    simul_pg *c1 = connect_ok(conninfo), *c2 = connect_ok(conninfo);
    double t0 = simul_now();
    simul_task *t[2] = { simul_spawn(sleeper, c1), simul_spawn(sleeper, c2) };
    CHECK_EQ(simul_yield(), 0);
    /* c1 is taken: a second operation is refused, not queued */
    CHECK_EQ(simul_pg_exec(c1, "SELECT 1"), -EBUSY);
    CHECK_EQ(simul_pg_close(c1), -EBUSY);
    CHECK_EQ(simul_gather(t, 2, NULL, SIMUL_GATHER_FAIL_FAST), 0);
    double el = simul_now() - t0;
    CHECK(el >= 0.29 && el < 0.55);   /* together, not one after the other */
    CHECK_EQ(simul_pg_close(c1), 0);
    CHECK_EQ(simul_pg_close(c2), 0);
    return 0;
}
TEST(two_connections_run_concurrently_and_one_is_busy)
{
    CHECK_EQ(simul_run(main_parallel, NULL), 0);
}

/* ---- cancellation ------------------------------------------------------- */

static int long_query(void *a)
{
    return simul_pg_exec(a, "SELECT pg_sleep(30)");
}

static int main_cancel(void *a)
{
    (void)a;
    simul_pg *c = connect_ok(conninfo);
    simul_pg *watcher = connect_ok(conninfo);
    double t0 = simul_now();
    simul_task *t = simul_spawn(long_query, c);
    CHECK_EQ(simul_sleep(0.2), 0);
    CHECK_EQ(simul_cancel(t), 0);
    CHECK_EQ(simul_join(t), -ECANCELED);
    CHECK(simul_now() - t0 < 3);
    /* the connection is usable and idle, the server no longer runs it */
    CHECK_EQ(simul_pg_status(c), SIMUL_PG_OK);
    CHECK_EQ(simul_pg_transaction_status(c), 0);
    CHECK_EQ(one_int(c, "SELECT 11"), 11);
    CHECK_EQ(one_int(watcher, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE "
                              "'SELECT pg_sleep(30)%' AND state = 'active'"), 0);

    /* a scope's deadline does the same, and says -ETIMEDOUT */
    simul_scope sc;
    t0 = simul_now();
    simul_scope_enter(&sc, simul_now() + 0.2);
    CHECK_EQ(simul_pg_exec(c, "SELECT pg_sleep(30)"), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    CHECK(simul_now() - t0 < 3);
    CHECK_EQ(one_int(c, "SELECT 12"), 12);

    /* the same inside a transaction: the transaction is aborted, not lost */
    CHECK_EQ(simul_pg_exec(c, "BEGIN"), 0);
    simul_scope_enter(&sc, simul_now() + 0.1);
    CHECK_EQ(simul_pg_exec(c, "SELECT pg_sleep(30)"), -ECANCELED);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    CHECK_EQ(simul_pg_transaction_status(c), 3);
    CHECK_EQ(simul_pg_exec(c, "ROLLBACK"), 0);
    CHECK_EQ(one_int(c, "SELECT 13"), 13);
    CHECK_EQ(simul_pg_close(c), 0);
    CHECK_EQ(simul_pg_close(watcher), 0);
    return 0;
}
TEST_T(cancelled_query_is_cancelled_on_the_server_and_connection_reused, 30)
{
    CHECK_EQ(simul_run(main_cancel, NULL), 0);
}

/* ---- a backend killed ---------------------------------------------------- */

static int main_terminate(void *a)
{
    (void)a;
    simul_pg *victim = connect_ok(conninfo), *killer = connect_ok(conninfo);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)::int",
             simul_pg_backend_pid(victim));
    CHECK_EQ(one_int(killer, sql), 1);
    simul_sleep(0.1);
    int r = simul_pg_exec(victim, "SELECT 1");
    CHECK(r == SIMUL_PG_EBROKEN);
    CHECK_EQ(simul_pg_status(victim), SIMUL_PG_BAD);
    simul_pg_error e;
    CHECK_EQ(simul_pg_last_error(victim, &e), 0);
    CHECK(e.message[0] != '\0');
    CHECK_EQ(simul_pg_exec(victim, "SELECT 1"), SIMUL_PG_EBROKEN);
    CHECK_EQ(simul_pg_close(victim), 0);

    /* killed while a query runs */
    victim = connect_ok(conninfo);
    simul_task *t = simul_spawn(long_query, victim);
    simul_sleep(0.2);
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)::int",
             simul_pg_backend_pid(victim));
    CHECK_EQ(one_int(killer, sql), 1);
    r = simul_join(t);
    CHECK(r == SIMUL_PG_EBROKEN);
    CHECK_EQ(simul_pg_last_error(victim, &e), 0);
    CHECK(strcmp(e.sqlstate, "57P01") == 0 || e.sqlstate[0] == '\0');
    CHECK_EQ(simul_pg_close(victim), 0);
    CHECK_EQ(one_int(killer, "SELECT 1"), 1);
    CHECK_EQ(simul_pg_close(killer), 0);
    return 0;
}
TEST(backend_terminated_gives_ebroken)
{
    CHECK_EQ(simul_run(main_terminate, NULL), 0);
}

/* ---- statement cache ------------------------------------------------------ */

static int main_cache(void *a)
{
    (void)a;
    simul_pg *c = connect_ok(conninfo);
    for (int i = 0; i < 5; i++) {
        simul_pg_param p = simul_pg_int4(i);
        simul_pg_result *r = NULL;
        CHECK_EQ(simul_pg_query(c, "SELECT $1::int * 2", &p, 1, &r), 0);
        int64_t v;
        CHECK_EQ(simul_pg_get_int(r, 0, 0, &v), 0);
        CHECK_EQ(v, 2 * i);
        simul_pg_result_free(r);
    }
    CHECK_EQ(one_int(c, "SELECT count(*) FROM pg_prepared_statements"), 1);
    simul_pg_param p = simul_pg_int4(1);
    CHECK_EQ(simul_pg_query_ex(c, "SELECT $1::int * 3", &p, 1, SIMUL_PG_NOCACHE, NULL), 0);
    CHECK_EQ(one_int(c, "SELECT count(*) FROM pg_prepared_statements"), 1);
    /* a statement that fails to prepare is not cached */
    CHECK_EQ(simul_pg_query(c, "SELECT $1::int FROM nowhere", &p, 1, NULL), SIMUL_PG_ESERVER);
    CHECK_EQ(simul_pg_query(c, "SELECT $1::int FROM nowhere", &p, 1, NULL), SIMUL_PG_ESERVER);
    CHECK_EQ(one_int(c, "SELECT count(*) FROM pg_prepared_statements"), 1);
    CHECK_EQ(simul_pg_set_cache(c, 0), 0);
    CHECK_EQ(simul_pg_query(c, "SELECT $1::int * 4", &p, 1, NULL), 0);
    CHECK_EQ(one_int(c, "SELECT count(*) FROM pg_prepared_statements"), 1);
    CHECK_EQ(simul_pg_set_cache(c, 5000), -EINVAL);
    CHECK_EQ(simul_pg_close(c), 0);
    return 0;
}
TEST(prepared_statement_cache)
{
    CHECK_EQ(simul_run(main_cache, NULL), 0);
}

/* ---- pipeline ------------------------------------------------------------- */

#define PIPE_N 10000
typedef struct pipe_ctx {
    simul_pg *c;
    int       i;
    int       rc;
    int64_t   v;
} pipe_ctx;

static int pipe_one(void *a)
{
    pipe_ctx *p = a;
    simul_pg_param prm = simul_pg_int4(p->i);
    simul_pg_result *r = NULL;
    const char *sql = p->i == PIPE_N / 2 ? "SELECT 1/($1::int - $1::int)" : "SELECT $1::int + 1";
    p->rc = simul_pg_query(p->c, sql, &prm, 1, &r);
    if (p->rc == 0)
        simul_pg_get_int(r, 0, 0, &p->v);
    simul_pg_result_free(r);
    return 0;
}

static int short_sleep(void *a)
{
    return simul_pg_exec(a, "SELECT pg_sleep(0.4)");
}

static int main_pipeline(void *a)
{
    (void)a;
    simul_pg *c = connect_ok(conninfo);
    CHECK_EQ(simul_pg_pipeline_enter(c), 0);
    CHECK_EQ(simul_pg_pipeline_enter(c), -EBUSY);
    pipe_ctx *ctx = calloc(PIPE_N, sizeof *ctx);
    simul_task **t = calloc(PIPE_N, sizeof *t);
    for (int i = 0; i < PIPE_N; i++) {
        ctx[i] = (pipe_ctx){ .c = c, .i = i };
        t[i] = simul_spawn(pipe_one, &ctx[i]);
    }
    CHECK_EQ(simul_gather(t, PIPE_N, NULL, SIMUL_GATHER_FAIL_FAST), 0);
    int bad = 0;
    for (int i = 0; i < PIPE_N; i++) {
        if (i == PIPE_N / 2)
            bad += ctx[i].rc != SIMUL_PG_ESERVER;
        else
            bad += ctx[i].rc != 0 || ctx[i].v != i + 1;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(simul_pg_pipeline_exit(c), 0);
    CHECK_EQ(one_int(c, "SELECT 99"), 99);

    /* a cancelled query in a pipeline is abandoned (it runs on, its
     * result is dropped); the queries behind it are answered */
    CHECK_EQ(simul_pg_pipeline_enter(c), 0);
    ctx[0] = (pipe_ctx){ .c = c, .i = 1 };
    simul_task *slow = simul_spawn(short_sleep, c);
    t[0] = simul_spawn(pipe_one, &ctx[0]);
    simul_sleep(0.05);
    CHECK_EQ(simul_cancel(slow), 0);
    CHECK_EQ(simul_join(slow), -ECANCELED);
    CHECK_EQ(simul_pg_close(c), -EBUSY);   /* queries in flight */
    CHECK_EQ(simul_join(t[0]), 0);
    CHECK_EQ(ctx[0].rc, 0);
    CHECK_EQ(ctx[0].v, 2);
    CHECK_EQ(simul_pg_pipeline_exit(c), 0);
    CHECK_EQ(one_int(c, "SELECT 98"), 98);
    CHECK_EQ(simul_pg_close(c), 0);
    free(ctx);
    free(t);
    return 0;
}
TEST_T(pipeline_of_10000_with_an_error_in_the_middle, 60)
{
    CHECK_EQ(simul_run(main_pipeline, NULL), 0);
}

/* ---- executemany ------------------------------------------------------------ */

#define MANY_N 100000

static int many_forever(void *a)
{
    simul_pg *c = a;
    enum { ROWS = 200000 };
    simul_pg_param *p = malloc(sizeof *p * ROWS);
    for (int i = 0; i < ROWS; i++)
        p[i] = simul_pg_int4(i);
    int r = simul_pg_executemany(c, "INSERT INTO many2 SELECT $1::int FROM pg_sleep(0.0001)", p, 1,
                                 ROWS);
    free(p);
    return r;
}

static int main_many(void *a)
{
    (void)a;
    simul_pg *c = connect_ok(conninfo);
    CHECK_EQ(simul_pg_exec(c, "CREATE TEMP TABLE many(id int, name text)"), 0);
    simul_pg_param *p = malloc(sizeof *p * 2 * MANY_N);
    char (*names)[16] = malloc(16 * (size_t)MANY_N);
    for (int i = 0; i < MANY_N; i++) {
        snprintf(names[i], 16, "n%d", i);
        p[2 * i] = simul_pg_int4(i);
        p[2 * i + 1] = simul_pg_text(names[i]);
    }
    CHECK_EQ(simul_pg_executemany(c, "INSERT INTO many VALUES ($1, $2)", p, 2, MANY_N), 0);
    CHECK_EQ(one_int(c, "SELECT count(*) FROM many"), MANY_N);
    CHECK_EQ(one_int(c, "SELECT count(DISTINCT name) FROM many WHERE name = 'n' || id"), MANY_N);
    /* an error in the middle: nothing of the batch stays */
    p[2 * (MANY_N / 2) + 1] = simul_pg_text("x");
    CHECK_EQ(simul_pg_exec(c, "CREATE UNIQUE INDEX ON many(name)"), 0);
    CHECK_EQ(simul_pg_exec(c, "DELETE FROM many WHERE id <> 0"), MANY_N - 1);
    CHECK_EQ(simul_pg_exec(c, "UPDATE many SET name = 'x'"), 1);
    CHECK_EQ(simul_pg_executemany(c, "INSERT INTO many VALUES ($1, $2)", p + 2, 2, MANY_N - 1),
             SIMUL_PG_ESERVER);
    simul_pg_error e;
    CHECK_EQ(simul_pg_last_error(c, &e), 0);
    CHECK(strcmp(e.sqlstate, "23505") == 0);
    CHECK_EQ(one_int(c, "SELECT count(*) FROM many"), 1);
    CHECK_EQ(simul_pg_executemany(c, "INSERT INTO many VALUES ($1, $2)", p, 2, 0), 0);
    free(p);
    free(names);
    /* cancelled mid-batch: rolled back on the server, connection reusable */
    CHECK_EQ(simul_pg_exec(c, "CREATE TEMP TABLE many2(id int)"), 0);
    simul_task *t = simul_spawn(many_forever, c);
    simul_sleep(0.3);
    simul_cancel(t);
    double t0 = simul_now();
    CHECK_EQ(simul_join(t), -ECANCELED);
    CHECK(simul_now() - t0 < 5);
    CHECK_EQ(simul_pg_status(c), SIMUL_PG_OK);
    CHECK_EQ(one_int(c, "SELECT count(*) FROM many2"), 0);
    CHECK_EQ(simul_pg_close(c), 0);
    return 0;
}
TEST_T(executemany_100000_rows_atomic_and_cancellable, 60)
{
    CHECK_EQ(simul_run(main_many, NULL), 0);
}

/* ---- row streams ------------------------------------------------------------ */

static int main_stream(void *a)
{
    (void)a;
    simul_pg *c = connect_ok(conninfo);
    CHECK_EQ(simul_pg_stream_open(c, "SELECT g, 'row ' || g FROM generate_series(1, 20000) g",
                                  NULL, 0, 0), 0);
    CHECK_EQ(simul_pg_exec(c, "SELECT 1"), -EBUSY);
    simul_pg_result *row;
    int r, n = 0, bad = 0;
    while ((r = simul_pg_stream_next(c, &row)) == 1) {
        int64_t v;
        bad += simul_pg_nrows(row) != 1 || simul_pg_get_int(row, 0, 0, &v) != 0 || v != n + 1;
        n++;
        simul_pg_result_free(row);
    }
    CHECK_EQ(r, 0);
    CHECK_EQ(n, 20000);
    CHECK_EQ(bad, 0);
    CHECK_EQ(simul_pg_stream_close(c), 0);
    /* left early: the rest is cancelled and drained */
    CHECK_EQ(simul_pg_stream_open(c, "SELECT generate_series(1, 50000000)", NULL, 0, 0), 0);
    CHECK_EQ(simul_pg_stream_next(c, &row), 1);
    simul_pg_result_free(row);
    double t0 = simul_now();
    CHECK_EQ(simul_pg_stream_close(c), 0);
    CHECK(simul_now() - t0 < 5);
    CHECK_EQ(one_int(c, "SELECT 21"), 21);
    /* an error after some rows */
    CHECK_EQ(simul_pg_stream_open(c, "SELECT 10 / (3 - g) FROM generate_series(1, 5) g", NULL, 0, 0), 0);
    n = 0;
    while ((r = simul_pg_stream_next(c, &row)) == 1) {
        n++;
        simul_pg_result_free(row);
    }
    CHECK_EQ(r, SIMUL_PG_ESERVER);
    CHECK(n <= 2);
    simul_pg_error e;
    CHECK_EQ(simul_pg_last_error(c, &e), 0);
    CHECK(strcmp(e.sqlstate, "22012") == 0);
    CHECK_EQ(simul_pg_stream_close(c), 0);
    CHECK_EQ(one_int(c, "SELECT 22"), 22);
    CHECK_EQ(simul_pg_close(c), 0);
    return 0;
}
TEST_T(row_stream_in_single_row_mode, 60)
{
    CHECK_EQ(simul_run(main_stream, NULL), 0);
}

/* ---- COPY ------------------------------------------------------------------- */

/* The million rows; a tenth under the sanitizers (several times
 * slower, and every row is a libpq call either way). */
#if defined(__SANITIZE_ADDRESS__)
#define COPY_N 100000
#else
#define COPY_N 1000000
#endif

static int main_copy(void *a)
{
    (void)a;
    simul_pg *c = connect_ok(conninfo);
    CHECK_EQ(simul_pg_exec(c, "CREATE TEMP TABLE cp(id int, name text)"), 0);
    CHECK_EQ(simul_pg_copy_open(c, "COPY cp FROM STDIN"), SIMUL_PG_COPY_IN);
    CHECK_EQ(simul_pg_exec(c, "SELECT 1"), -EBUSY);
    size_t cap = 64 * 1024, used = 0;
    char *buf = malloc(cap);
    for (int i = 0; i < COPY_N; i++) {
        used += (size_t)snprintf(buf + used, cap - used, "%d\tname %d\n", i, i);
        if (used > cap - 64 || i == COPY_N - 1) {
            CHECK_EQ(simul_pg_copy_write(c, buf, used), 0);
            used = 0;
        }
    }
    free(buf);
    CHECK_EQ(simul_pg_copy_close(c, NULL), COPY_N);
    CHECK_EQ(one_int(c, "SELECT count(*) FROM cp"), COPY_N);
    CHECK_EQ(one_int(c, "SELECT sum(id) FROM cp"), (int64_t)COPY_N * (COPY_N - 1) / 2);

    /* and out again */
    CHECK_EQ(simul_pg_copy_open(c, "COPY cp TO STDOUT"), SIMUL_PG_COPY_OUT);
    const char *d;
    int r, n = 0;
    long long bytes = 0;
    while ((r = simul_pg_copy_read(c, &d)) > 0) {
        n++;
        bytes += r;
    }
    CHECK_EQ(r, 0);
    CHECK_EQ(n, COPY_N);
    CHECK(bytes > COPY_N * 8);
    CHECK_EQ(simul_pg_copy_close(c, NULL), 0);

    /* bad data rolls the COPY back, with the server's error */
    CHECK_EQ(simul_pg_copy_open(c, "COPY cp FROM STDIN"), SIMUL_PG_COPY_IN);
    CHECK_EQ(simul_pg_copy_write(c, "1\tok\nnot-a-number\tx\n", 21), 0);
    CHECK_EQ(simul_pg_copy_close(c, NULL), SIMUL_PG_ESERVER);
    simul_pg_error e;
    CHECK_EQ(simul_pg_last_error(c, &e), 0);
    CHECK(strcmp(e.sqlstate, "22P02") == 0);
    /* aborted by the client */
    CHECK_EQ(simul_pg_copy_open(c, "COPY cp FROM STDIN"), SIMUL_PG_COPY_IN);
    CHECK_EQ(simul_pg_copy_write(c, "1\tok\n", 5), 0);
    CHECK_EQ(simul_pg_copy_close(c, "changed my mind"), SIMUL_PG_ESERVER);
    CHECK_EQ(one_int(c, "SELECT count(*) FROM cp"), COPY_N);
    /* a COPY TO left early */
    CHECK_EQ(simul_pg_copy_open(c, "COPY (SELECT generate_series(1, 50000000)) TO STDOUT"),
             SIMUL_PG_COPY_OUT);
    CHECK(simul_pg_copy_read(c, &d) > 0);
    CHECK_EQ(simul_pg_copy_close(c, NULL), 0);
    CHECK_EQ(one_int(c, "SELECT 31"), 31);
    /* not a COPY */
    CHECK_EQ(simul_pg_copy_open(c, "SELECT 1"), SIMUL_PG_EPROTO);
    CHECK_EQ(one_int(c, "SELECT 32"), 32);
    CHECK_EQ(simul_pg_close(c), 0);
    return 0;
}
TEST_T(copy_of_a_million_rows_in_and_out, 120)
{
    CHECK_EQ(simul_run(main_copy, NULL), 0);
}

/* A COPY writer cancelled mid-way: the COPY is ended with an error and the
 * connection stays usable. */
static int copy_forever(void *a)
{
    simul_pg *c = a;
    int r = simul_pg_copy_open(c, "COPY cp2 FROM STDIN");
    if (r != SIMUL_PG_COPY_IN)
        return -1000;
    char buf[8192];
    memset(buf, 0, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i += 8)
        memcpy(buf + i, "1234567\n", 8);
    while ((r = simul_pg_copy_write(c, buf, sizeof buf)) == 0)
        ;
    int r2 = simul_pg_copy_close(c, NULL);
    return r == -ECANCELED && r2 == 0 ? -ECANCELED : -2000 + r2;
}

static int main_copy_cancel(void *a)
{
    (void)a;
    simul_pg *c = connect_ok(conninfo);
    CHECK_EQ(simul_pg_exec(c, "CREATE TEMP TABLE cp2(id int)"), 0);
    simul_task *t = simul_spawn(copy_forever, c);
    simul_sleep(0.3);
    simul_cancel(t);
    CHECK_EQ(simul_join(t), -ECANCELED);
    CHECK_EQ(simul_pg_status(c), SIMUL_PG_OK);
    CHECK_EQ(one_int(c, "SELECT count(*) FROM cp2"), 0);
    CHECK_EQ(simul_pg_close(c), 0);
    return 0;
}
TEST_T(copy_writer_cancelled_rolls_back, 30)
{
    CHECK_EQ(simul_run(main_copy_cancel, NULL), 0);
}

/* ---- transactions ---------------------------------------------------------- */

static int main_tx(void *a)
{
    (void)a;
    simul_pg *c = connect_ok(conninfo);
    CHECK_EQ(simul_pg_exec(c, "CREATE TEMP TABLE tx(v int)"), 0);
    CHECK_EQ(simul_pg_commit(c), -EINVAL);
    CHECK_EQ(simul_pg_begin(c), 0);
    CHECK_EQ(simul_pg_exec(c, "INSERT INTO tx VALUES (1)"), 1);
    CHECK_EQ(simul_pg_begin(c), 0);                         /* savepoint */
    CHECK_EQ(simul_pg_exec(c, "INSERT INTO tx VALUES (2)"), 1);
    CHECK_EQ(simul_pg_exec(c, "INSERT INTO tx VALUES (1/0)"), SIMUL_PG_ESERVER);
    CHECK_EQ(simul_pg_rollback(c), 0);                      /* to the savepoint */
    CHECK_EQ(simul_pg_transaction_status(c), 2);
    CHECK_EQ(simul_pg_begin(c), 0);
    CHECK_EQ(simul_pg_exec(c, "INSERT INTO tx VALUES (3)"), 1);
    CHECK_EQ(simul_pg_commit(c), 0);                        /* release */
    CHECK_EQ(simul_pg_commit(c), 0);
    CHECK_EQ(simul_pg_transaction_status(c), 0);
    CHECK_EQ(one_int(c, "SELECT sum(v) FROM tx"), 4);
    /* rollback works in a cancelled task (clean-up) */
    CHECK_EQ(simul_pg_begin(c), 0);
    CHECK_EQ(simul_pg_exec(c, "INSERT INTO tx VALUES (100)"), 1);
    simul_scope sc;
    simul_scope_enter(&sc, simul_now() + 0.05);
    CHECK_EQ(simul_pg_exec(c, "SELECT pg_sleep(5)"), -ECANCELED);
    CHECK_EQ(simul_pg_rollback(c), 0);
    CHECK_EQ(simul_scope_exit(&sc), -ETIMEDOUT);
    CHECK_EQ(one_int(c, "SELECT sum(v) FROM tx"), 4);
    CHECK_EQ(simul_pg_close(c), 0);
    return 0;
}
TEST(transactions_nest_with_savepoints)
{
    CHECK_EQ(simul_run(main_tx, NULL), 0);
}

/* ---- LISTEN / NOTIFY --------------------------------------------------------- */

#define NOTIFY_N 10000

static int notifier(void *a)
{
    simul_pg *c = connect_ok(conninfo);
    (void)a;
    /* a storm: delivered at commit, all at once */
    int r = simul_pg_exec(c, "SELECT pg_notify('storm', g::text) FROM generate_series(1, 10000) g");
    simul_pg_close(c);
    return r < 0 ? r : 0;
}

static int main_notify(void *a)
{
    (void)a;
    simul_pg *c = connect_ok(conninfo);
    CHECK_EQ(simul_pg_exec(c, "LISTEN storm"), 0);
    simul_pg_notify *n = NULL;
    double t0 = simul_now();
    CHECK_EQ(simul_pg_notify_wait_until(c, simul_now() + 0.1, &n), -ETIMEDOUT);
    CHECK(simul_now() - t0 >= 0.09);
    simul_task *t = simul_spawn(notifier, NULL);
    int bad = 0;
    for (int i = 1; i <= NOTIFY_N; i++) {
        int r = simul_pg_notify_wait_until(c, simul_now() + 10, &n);
        if (r != 0) {
            CHECK_EQ(r, 0);
            break;
        }
        bad += strcmp(n->channel, "storm") != 0 || atoi(n->payload) != i || n->pid <= 0;
        simul_pg_notify_free(n);
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(simul_join(t), 0);
    /* notifications that come during a query are kept for the next wait */
    CHECK_EQ(simul_pg_exec(c, "NOTIFY storm, 'mine'"), 0);
    CHECK_EQ(simul_pg_notify_wait_until(c, simul_now() + 5, &n), 0);
    CHECK(strcmp(n->payload, "mine") == 0);
    simul_pg_notify_free(n);
    CHECK_EQ(simul_pg_close(c), 0);
    return 0;
}
TEST_T(listen_notify_storm_of_10000, 60)
{
    CHECK_EQ(simul_run(main_notify, NULL), 0);
}

/* ---- the library never prints --------------------------------------------- */

static int main_notice(void *a)
{
    (void)a;
    simul_pg *c = connect_ok(conninfo);
    CHECK_EQ(simul_pg_exec(c, "DROP TABLE IF EXISTS no_such_table"), 0);   /* a NOTICE */
    CHECK_EQ(simul_pg_exec(c, "DO $$ BEGIN RAISE WARNING 'careful'; END $$"), 0);
    CHECK_EQ(simul_pg_close(c), 0);
    return 0;
}
static int run_notice(void *a)
{
    return simul_run(main_notice, a);
}
TEST(notices_are_not_printed)
{
    char err[512];
    int st = harness_child_stderr(run_notice, NULL, err, sizeof err);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(strstr(err, "NOTICE") == NULL && strstr(err, "careful") == NULL);
}

/* ---- the pool ---------------------------------------------------------------- */

static int hold(void *a)
{
    simul_pg_pool *p = a;
    simul_pg *c;
    int r = simul_pg_pool_acquire(p, 5, &c);
    if (r < 0)
        return r;
    simul_sleep(0.3);
    return simul_pg_pool_release(p, c);
}

static int main_pool(void *a)
{
    (void)a;
    simul_pg_pool_opts o = { .min_size = 2, .max_size = 3 };
    simul_pg_pool *p = NULL;
    CHECK_EQ(simul_pg_pool_open(conninfo, &o, &p), 0);
    CHECK_EQ(simul_pg_pool_size(p), 2);
    CHECK_EQ(simul_pg_pool_idle(p), 2);
    simul_pg *c1, *c2, *c3, *c4;
    CHECK_EQ(simul_pg_pool_acquire(p, 1, &c1), 0);
    CHECK_EQ(simul_pg_pool_acquire(p, 1, &c2), 0);
    CHECK_EQ(simul_pg_pool_acquire(p, 1, &c3), 0);
    CHECK_EQ(simul_pg_pool_size(p), 3);
    double t0 = simul_now();
    CHECK_EQ(simul_pg_pool_acquire(p, 0.1, &c4), -ETIMEDOUT);
    CHECK(simul_now() - t0 >= 0.09);
    CHECK_EQ(simul_pg_pool_close(p), -EBUSY);
    CHECK_EQ(simul_pg_pool_release(p, c3), 0);
    CHECK_EQ(simul_pg_pool_release(p, c3), -EINVAL);   /* not out any more */

    /* release resets: an open transaction is rolled back, settings reset */
    CHECK_EQ(simul_pg_exec(c1, "SET application_name = 'dirty'"), 0);
    CHECK_EQ(simul_pg_exec(c1, "BEGIN"), 0);
    CHECK_EQ(simul_pg_exec(c1, "CREATE TABLE pool_t(v int)"), 0);
    int pid1 = simul_pg_backend_pid(c1);
    CHECK_EQ(simul_pg_pool_release(p, c1), 0);
    CHECK_EQ(simul_pg_pool_acquire(p, 1, &c1), 0);
    CHECK_EQ(simul_pg_backend_pid(c1), pid1);   /* the most recent idle one */
    CHECK_EQ(simul_pg_transaction_status(c1), 0);
    simul_pg_result *r = NULL;
    CHECK_EQ(simul_pg_query(c1, "SHOW application_name", NULL, 0, &r), 0);
    const char *s;
    CHECK_EQ(simul_pg_get_text(r, 0, 0, &s, NULL), 0);
    CHECK(strcmp(s, "dirty") != 0);
    simul_pg_result_free(r);
    CHECK_EQ(one_int(c1, "SELECT count(*) FROM pg_tables WHERE tablename = 'pool_t'"), 0);

    /* a broken connection is dropped on release and replaced */
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)::int", simul_pg_backend_pid(c2));
    CHECK_EQ(one_int(c1, sql), 1);
    simul_sleep(0.1);
    CHECK_EQ(simul_pg_exec(c2, "SELECT 1"), SIMUL_PG_EBROKEN);
    CHECK_EQ(simul_pg_pool_release(p, c2), 0);
    CHECK_EQ(simul_pg_pool_size(p), 2);
    /* and one killed while idle is seen at acquire and replaced */
    CHECK_EQ(simul_pg_pool_acquire(p, 1, &c2), 0);
    int pid2 = simul_pg_backend_pid(c2);
    CHECK_EQ(simul_pg_pool_release(p, c2), 0);
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%d)::int", pid2);
    CHECK_EQ(one_int(c1, sql), 1);
    simul_sleep(0.1);
    CHECK_EQ(simul_pg_pool_acquire(p, 1, &c2), 0);
    CHECK(simul_pg_backend_pid(c2) != pid2);
    CHECK_EQ(one_int(c2, "SELECT 41"), 41);
    CHECK_EQ(simul_pg_pool_release(p, c2), 0);
    CHECK_EQ(simul_pg_pool_release(p, c1), 0);

    /* waiters queue for the max_size connections */
    simul_task *t[6];
    t0 = simul_now();
    for (int i = 0; i < 6; i++)
        t[i] = simul_spawn(hold, p);
    CHECK_EQ(simul_gather(t, 6, NULL, SIMUL_GATHER_FAIL_FAST), 0);
    double el = simul_now() - t0;
    CHECK(el >= 0.55 && el < 1.5);   /* two rounds of 0.3 s: 3 at a time */
    CHECK(simul_pg_pool_size(p) <= 3);
    CHECK_EQ(simul_pg_pool_close(p), 0);
    return 0;
}
TEST_T(pool_sizes_timeout_reset_and_broken_connections, 30)
{
    CHECK_EQ(simul_run(main_pool, NULL), 0);
}

/* The server restarted under a pool: every idle connection is stale; the
 * next acquires replace them. Runs last (it restarts the shared server). */
static int main_restart(void *a)
{
    (void)a;
    simul_pg_pool_opts o = { .min_size = 3, .max_size = 3 };
    simul_pg_pool *p = NULL;
    CHECK_EQ(simul_pg_pool_open(conninfo, &o, &p), 0);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s/tests/pg/pgserver.sh restart %s", SIMUL_SRCDIR, dir);
    void *res = NULL;
    CHECK_EQ(simul_to_thread((simul_thread_fn)(void *)system, cmd, &res), 0);
    simul_pg *c[3];
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(simul_pg_pool_acquire(p, 10, &c[i]), 0);
        CHECK_EQ(one_int(c[i], "SELECT 51"), 51);
    }
    for (int i = 0; i < 3; i++)
        CHECK_EQ(simul_pg_pool_release(p, c[i]), 0);
    CHECK_EQ(simul_pg_pool_close(p), 0);
    return 0;
}
TEST_T(zz_server_restarted_under_a_pool, 60)
{
    CHECK_EQ(simul_run(main_restart, NULL), 0);
}
