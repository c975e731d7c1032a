/*
 * store.c - the crawl's resume state: one SQLite database (DIR/state.db) in
 * WAL mode, synchronous=NORMAL, written in batched transactions that the
 * scheduler opens and commits (store_begin / store_commit; one every
 * commit interval). Tables:
 *   url   (id, host, url, depth, parent, state 0 queued / 1 done, status,
 *          err, bytes, tries, kind 0 page / 1 sitemap, hops: redirects
 *          that led to it, uhash: crawl_hash of url, foff and flen: a done
 *          page's lines in foundurls.tsv, lflags: one byte per link when
 *          one is not followed or a sitemap, relabel: 1 when its depth
 *          was lowered after its record was written): every URL the
 *          crawler admitted, once, its depth and parent those of the
 *          shortest path found;
 *   host  (id, origin, robots_status, robots): origins and their robots.txt;
 *   meta  (k, v): the committed byte lengths of the output files, the
 *          finished flag and exit status, the elapsed time.
 * A page's outcome, the URLs it admitted and the output lengths that
 * include its lines go into the same transaction, so the database and the
 * outputs (truncated to the recorded lengths on resume) always agree.
 * Every statement is prepared once; nothing here suspends (SQLite's work
 * is short and stays on the loop's thread).
 */
#include "crawl.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

enum {
    S_META_GET, S_META_SET, S_HOST_GET, S_HOST_ADD, S_ROBOTS_GET, S_ROBOTS_SET,
    S_URL_ADD, S_URL_DONE, S_SCAN, S_QUEUED, S_HOSTS, S_FETCHED, S_URL_FIND, S_URL_LOWER,
    S_URL_LABEL, S_RELABELED, S_NSTMT
};

static const char *const sql[S_NSTMT] = {
    [S_META_GET]   = "SELECT v FROM meta WHERE k = ?1",
    [S_META_SET]   = "INSERT OR REPLACE INTO meta(k, v) VALUES (?1, ?2)",
    [S_HOST_GET]   = "SELECT id FROM host WHERE origin = ?1",
    [S_HOST_ADD]   = "INSERT INTO host(origin) VALUES (?1)",
    [S_ROBOTS_GET] = "SELECT robots_status, robots FROM host WHERE id = ?1",
    [S_ROBOTS_SET] = "UPDATE host SET robots_status = ?2, robots = ?3 WHERE id = ?1",
    [S_URL_ADD]    = "INSERT INTO url(host, url, depth, parent, kind, hops, uhash)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [S_URL_DONE]   = "UPDATE url SET state = 1, status = ?2, err = ?3, bytes = ?4, tries = ?5,"
                     " foff = ?6, flen = ?7, lflags = ?8 WHERE id = ?1",
    [S_URL_FIND]   = "SELECT id, host, url, depth, parent, state, status, tries, kind, hops,"
                     " foff, flen, lflags FROM url WHERE uhash = ?1",
    [S_URL_LOWER]  = "UPDATE url SET depth = ?2, hops = ?3, parent = ?4,"
                     " relabel = relabel OR state = 1 WHERE id = ?1",
    [S_URL_LABEL]  = "SELECT u.depth, u.hops, p.url FROM url u LEFT JOIN url p ON p.id = u.parent"
                     " WHERE u.id = ?1",
    [S_RELABELED]  = "SELECT u.url, u.depth, p.url FROM url u LEFT JOIN url p ON p.id = u.parent"
                     " WHERE u.relabel = 1",
    [S_SCAN]       = "SELECT id, host, url, depth, parent, state, status, tries, kind, hops"
                     " FROM url ORDER BY id",
    [S_QUEUED]     = "SELECT u.id, u.host, u.url, u.depth, u.parent, u.state, u.status,"
                     " u.tries, u.kind, u.hops, p.url FROM url u LEFT JOIN url p ON p.id = u.parent"
                     " WHERE u.host = ?1 AND u.state = 0 AND u.id > ?2 ORDER BY u.id"
                     " LIMIT ?3",
    [S_HOSTS]      = "SELECT id, origin FROM host ORDER BY id",
    [S_FETCHED]    = "SELECT url FROM url WHERE state = 1 AND status > 0",
};

static const char schema[] =
    "PRAGMA journal_mode = WAL;"
    "PRAGMA synchronous = NORMAL;"
    "PRAGMA cache_size = -16384;"      /* 16 MiB of page cache */
    "PRAGMA temp_store = MEMORY;"
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS host(id INTEGER PRIMARY KEY, origin TEXT UNIQUE NOT NULL,"
    " robots_status INTEGER, robots BLOB);"
    "CREATE TABLE IF NOT EXISTS url(id INTEGER PRIMARY KEY, host INTEGER NOT NULL,"
    " url TEXT NOT NULL, depth INTEGER NOT NULL, parent INTEGER NOT NULL,"
    " state INTEGER NOT NULL DEFAULT 0, status INTEGER, err TEXT, bytes INTEGER,"
    " tries INTEGER NOT NULL DEFAULT 0, kind INTEGER NOT NULL DEFAULT 0,"
    " hops INTEGER NOT NULL DEFAULT 0, uhash INTEGER NOT NULL DEFAULT 0, foff INTEGER,"
    " flen INTEGER, lflags BLOB, relabel INTEGER NOT NULL DEFAULT 0);"
    /* a URL found again by a shorter path: its row by the hash of its URL */
    "CREATE INDEX IF NOT EXISTS url_hash ON url(uhash);"
    /* the frontier's refill: a host's queued rows in id order */
    "CREATE INDEX IF NOT EXISTS url_queued ON url(host, id) WHERE state = 0;";

struct store {
    sqlite3      *db;
    sqlite3_stmt *st[S_NSTMT];
    int           in_tx;
};

const char *store_errmsg(store *st)
{
    return st && st->db ? sqlite3_errmsg(st->db) : "no database";
}

static int fail(int rc)
{
    return rc == SQLITE_NOMEM ? -ENOMEM : (rc == SQLITE_FULL ? -ENOSPC : -EIO);
}

static int rows(sqlite3_stmt *s, int find, int (*fn)(void *arg, const store_url *u), void *arg);

int store_open(const char *path, store **out)
{
    store *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    int rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                             SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(st->db, 5000);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(st->db, schema, NULL, NULL, NULL);
    for (int i = 0; rc == SQLITE_OK && i < S_NSTMT; i++)
        rc = sqlite3_prepare_v3(st->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->st[i], NULL);
    *out = st;   /* even on failure: store_errmsg says why, store_close frees */
    return rc == SQLITE_OK ? 0 : fail(rc);
}

void store_close(store *st)
{
    if (!st)
        return;
    for (int i = 0; i < S_NSTMT; i++)
        sqlite3_finalize(st->st[i]);
    sqlite3_close(st->db);   /* an open transaction is rolled back */
    free(st);
}

int store_begin(store *st)
{
    int rc = sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL);
    st->in_tx = rc == SQLITE_OK;
    return rc == SQLITE_OK ? 0 : fail(rc);
}

int store_commit(store *st)
{
    int rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    st->in_tx = 0;
    return rc == SQLITE_OK ? 0 : fail(rc);
}

/* Runs a prepared statement that returns no rows (or ignores them). */
static int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : fail(rc);
}

int store_meta_get(store *st, const char *key, char *val, size_t cap)
{
    sqlite3_stmt *s = st->st[S_META_GET];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s), found = 0;
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(s, 0);
        snprintf(val, cap, "%s", v ? (const char *)v : "");
        found = 1;
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? found : fail(rc);
}

int store_meta_get_int(store *st, const char *key, int64_t *v)
{
    char buf[32];
    int rc = store_meta_get(st, key, buf, sizeof buf);
    if (rc == 1)
        *v = strtoll(buf, NULL, 10);
    return rc;
}

int store_meta_set(store *st, const char *key, const char *val)
{
    sqlite3_stmt *s = st->st[S_META_SET];
    sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, val, -1, SQLITE_STATIC);
    return step_done(s);
}

int store_meta_set_int(store *st, const char *key, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return store_meta_set(st, key, buf);
}

int store_host(store *st, const char *origin, int64_t *id)
{
    sqlite3_stmt *s = st->st[S_HOST_GET];
    sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return fail(rc);
    s = st->st[S_HOST_ADD];
    sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
    rc = step_done(s);
    if (rc == 0)
        *id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int store_robots_get(store *st, int64_t host, int *status, void **body, size_t *len)
{
    sqlite3_stmt *s = st->st[S_ROBOTS_GET];
    sqlite3_bind_int64(s, 1, host);
    int rc = sqlite3_step(s), found = 0;
    if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
        *status = sqlite3_column_int(s, 0);
        *len = (size_t)sqlite3_column_bytes(s, 1);
        *body = malloc(*len + 1);
        if (!*body) {
            sqlite3_reset(s);
            return -ENOMEM;
        }
        if (*len)
            memcpy(*body, sqlite3_column_blob(s, 1), *len);
        found = 1;
    }
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? found : fail(rc);
}

int store_robots_set(store *st, int64_t host, int status, const void *body, size_t len)
{
    sqlite3_stmt *s = st->st[S_ROBOTS_SET];
    sqlite3_bind_int64(s, 1, host);
    sqlite3_bind_int(s, 2, status);
    sqlite3_bind_blob(s, 3, body ? body : "", (int)len, SQLITE_STATIC);
    return step_done(s);
}

int store_url_add(store *st, int64_t host, const char *url, size_t len, int depth, int hops,
                  int64_t parent, int kind, uint64_t hash, int64_t *id)
{
    sqlite3_stmt *s = st->st[S_URL_ADD];
    sqlite3_bind_int64(s, 1, host);
    sqlite3_bind_text(s, 2, url, (int)len, SQLITE_STATIC);
    sqlite3_bind_int(s, 3, depth);
    sqlite3_bind_int64(s, 4, parent);
    sqlite3_bind_int(s, 5, kind);
    sqlite3_bind_int(s, 6, hops);
    sqlite3_bind_int64(s, 7, (int64_t)hash);
    int rc = step_done(s);
    if (rc == 0)
        *id = sqlite3_last_insert_rowid(st->db);
    return rc;
}

int store_url_done(store *st, int64_t id, int status, const char *err, uint64_t bytes, int tries,
                   int64_t foff, int64_t flen, const void *lflags, size_t nflags)
{
    sqlite3_stmt *s = st->st[S_URL_DONE];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, status);
    if (err)
        sqlite3_bind_text(s, 3, err, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 3);
    sqlite3_bind_int64(s, 4, (int64_t)bytes);
    sqlite3_bind_int(s, 5, tries);
    sqlite3_bind_int64(s, 6, foff);
    sqlite3_bind_int64(s, 7, flen);
    if (nflags)
        sqlite3_bind_blob(s, 8, lflags, (int)nflags, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, 8);
    return step_done(s);
}

int store_url_find(store *st, uint64_t hash, int (*fn)(void *arg, const store_url *u), void *arg)
{
    sqlite3_stmt *s = st->st[S_URL_FIND];
    sqlite3_bind_int64(s, 1, (int64_t)hash);
    return rows(s, 1, fn, arg);
}

int store_url_lower(store *st, int64_t id, int depth, int hops, int64_t parent)
{
    sqlite3_stmt *s = st->st[S_URL_LOWER];
    sqlite3_bind_int64(s, 1, id);
    sqlite3_bind_int(s, 2, depth);
    sqlite3_bind_int(s, 3, hops);
    sqlite3_bind_int64(s, 4, parent);
    return step_done(s);
}

int store_url_label(store *st, int64_t id, int *depth, int *hops, char *parent, size_t cap)
{
    sqlite3_stmt *s = st->st[S_URL_LABEL];
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s), found = 0;
    if (rc == SQLITE_ROW) {
        const unsigned char *p = sqlite3_column_text(s, 2);
        *depth = sqlite3_column_int(s, 0);
        *hops = sqlite3_column_int(s, 1);
        snprintf(parent, cap, "%s", p ? (const char *)p : "");
        found = 1;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? found : fail(rc);
}

int store_relabeled(store *st, int (*fn)(void *arg, const char *url, int depth,
                                         const char *parent), void *arg)
{
    sqlite3_stmt *s = st->st[S_RELABELED];
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW)
        stop = fn(arg, (const char *)sqlite3_column_text(s, 0), sqlite3_column_int(s, 1),
                  (const char *)sqlite3_column_text(s, 2));
    sqlite3_reset(s);
    if (stop)
        return stop < 0 ? stop : 0;
    return rc == SQLITE_DONE ? 0 : fail(rc);
}

/* Runs a row query, calling fn for each row (url rows in S_SCAN's or
 * S_QUEUED's column order, or with find S_URL_FIND's). */
static int rows(sqlite3_stmt *s, int find, int (*fn)(void *arg, const store_url *u), void *arg)
{
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_url u = {
            .id = sqlite3_column_int64(s, 0),
            .host = sqlite3_column_int64(s, 1),
            .url = (const char *)sqlite3_column_text(s, 2),
            .depth = sqlite3_column_int(s, 3),
            .parent = sqlite3_column_int64(s, 4),
            .state = sqlite3_column_int(s, 5),
            .status = sqlite3_column_int(s, 6),
            .tries = sqlite3_column_int(s, 7),
            .kind = sqlite3_column_int(s, 8),
            .hops = sqlite3_column_int(s, 9),
        };
        if (find) {   /* S_URL_FIND's columns: the foundurls.tsv lines */
            u.foff = sqlite3_column_int64(s, 10);
            u.flen = sqlite3_column_int64(s, 11);
            u.lflags = sqlite3_column_blob(s, 12);
            u.nflags = (size_t)sqlite3_column_bytes(s, 12);
        } else if (sqlite3_column_count(s) > 10) {
            u.parent_url = (const char *)sqlite3_column_text(s, 10);
        }
        stop = fn(arg, &u);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (stop)
        return stop < 0 ? stop : 0;
    return rc == SQLITE_DONE ? 0 : fail(rc);
}

int store_scan(store *st, int (*fn)(void *arg, const store_url *u), void *arg)
{
    return rows(st->st[S_SCAN], 0, fn, arg);
}

int store_queued(store *st, int64_t host, int64_t after, int limit,
                 int (*fn)(void *arg, const store_url *u), void *arg)
{
    sqlite3_stmt *s = st->st[S_QUEUED];
    sqlite3_bind_int64(s, 1, host);
    sqlite3_bind_int64(s, 2, after);
    sqlite3_bind_int(s, 3, limit);
    return rows(s, 0, fn, arg);
}

int store_hosts(store *st, int (*fn)(void *arg, int64_t id, const char *origin), void *arg)
{
    sqlite3_stmt *s = st->st[S_HOSTS];
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW)
        stop = fn(arg, sqlite3_column_int64(s, 0), (const char *)sqlite3_column_text(s, 1));
    sqlite3_reset(s);
    if (stop)
        return stop < 0 ? stop : 0;
    return rc == SQLITE_DONE ? 0 : fail(rc);
}

int store_fetched(store *st, int (*fn)(void *arg, const char *url, size_t len), void *arg)
{
    sqlite3_stmt *s = st->st[S_FETCHED];
    int rc, stop = 0;
    while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW)
        stop = fn(arg, (const char *)sqlite3_column_text(s, 0),
                  (size_t)sqlite3_column_bytes(s, 0));
    sqlite3_reset(s);
    if (stop)
        return stop < 0 ? stop : 0;
    return rc == SQLITE_DONE ? 0 : fail(rc);
}

/* One-off queries (the summary's): not worth a prepared statement each. */
static int query(store *st, const char *q, void (*fn)(void *arg, sqlite3_stmt *s), void *arg)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(st->db, q, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return fail(rc);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        fn(arg, s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : fail(rc);
}

static void totals_row(void *arg, sqlite3_stmt *s)
{
    store_totals *t = arg;
    t->urls = (uint64_t)sqlite3_column_int64(s, 0);
    t->done = (uint64_t)sqlite3_column_int64(s, 1);
    t->fetched = (uint64_t)sqlite3_column_int64(s, 2);
    t->errors = (uint64_t)sqlite3_column_int64(s, 3);
    t->robots = (uint64_t)sqlite3_column_int64(s, 4);
    t->bytes = (uint64_t)sqlite3_column_int64(s, 5);
    t->queued = t->urls - t->done;
}

int store_totals_get(store *st, store_totals *t)
{
    memset(t, 0, sizeof *t);
    return query(st, "SELECT count(*), coalesce(sum(state = 1), 0),"
                     " coalesce(sum(state = 1 AND status > 0), 0),"
                     " coalesce(sum(err IS NOT NULL AND err NOT IN ('robots', 'scope')), 0),"
                     " coalesce(sum(err = 'robots'), 0), coalesce(sum(bytes), 0) FROM url",
                 totals_row, t);
}

typedef struct hist_ctx {
    void (*fn)(void *arg, const char *key, uint64_t n);
    void *arg;
} hist_ctx;

static void hist_row(void *arg, sqlite3_stmt *s)
{
    hist_ctx *h = arg;
    h->fn(h->arg, (const char *)sqlite3_column_text(s, 0), (uint64_t)sqlite3_column_int64(s, 1));
}

int store_status_hist(store *st, void (*fn)(void *arg, const char *key, uint64_t n), void *arg)
{
    hist_ctx h = { fn, arg };
    return query(st, "SELECT status, count(*) FROM url WHERE state = 1 AND status > 0"
                     " GROUP BY status ORDER BY status", hist_row, &h);
}

int store_error_hist(store *st, void (*fn)(void *arg, const char *key, uint64_t n), void *arg)
{
    hist_ctx h = { fn, arg };
    return query(st, "SELECT err, count(*) FROM url WHERE state = 1 AND err IS NOT NULL"
                     " GROUP BY err ORDER BY err", hist_row, &h);
}
