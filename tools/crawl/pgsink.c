/*
 * pgsink.c - simul-crawl --pg: the crawl's pages and links in PostgreSQL
 * tables, through simul's PostgreSQL client (include/simul/pg.h).
 *
 * page_done hands each page's record (pgsink_page) and links (pgsink_link)
 * to the sink, which appends them as rows of COPY text format to two
 * buffers: the batch. The batch goes into one PostgreSQL transaction per
 * store commit, in parts - COPY into two temporary staging tables, then an
 * upsert into the real tables: a sender task sends each 64 KiB of new
 * rows while the crawl goes on, inside a transaction it leaves open; at
 * the store commit, before the store commits, pgsink_flush sends the rest
 * and commits, and empties the batch only once the COMMIT is confirmed
 * (the crawl pauses only for that tail). So PostgreSQL is never
 * behind the store: a crash can only leave it ahead (pages the store will
 * fetch again after a resume), and the upsert makes a second sending of a
 * page replace the first: the page's row is updated, its links are deleted
 * and inserted again. The tables end equal to pages.jsonl and foundurls.tsv:
 * records patched at the end of the crawl (a shorter path to a page found
 * after its record was written: crawl.c's patch_pages) send relabel rows,
 * an UPDATE of the pages' depth and parent in the last batch.
 *
 * A lost connection (the server restarting, a network cut) is retried with
 * exponential backoff (0.1 s doubling up to 5 s) for up to the sink's
 * retry time; the batch is re-sent whole on the new connection. The crawl
 * pauses meanwhile (crawl.c: pages that finish wait at the commit gate). A
 * server error on a sound connection that is not transient (permission,
 * disk full, a changed table) and a lost server past the retry time are
 * permanent: the flush fails, and the crawl stops with the state of its
 * last commit.
 */
#include "crawl.h"

#include <simul.h>
#include <simul/pg.h>

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_SOFT  (8u << 20)     /* bytes of rows that ask for an early commit */
#define BATCH_MAX   (512u << 20)   /* hard cap on each buffer (a page that does not fit: error) */
#define CONNECT_TIMEOUT 10.0       /* seconds per connect attempt */
#define BACKOFF_FIRST 0.1
#define BACKOFF_MAX   5.0
#define PART_BYTES  (64u << 10)    /* unsent rows that wake the sender */
#define CHUNK       (64u << 10)    /* bytes per COPY write */

struct pgsink {
    simul_pg    *c;             /* NULL while disconnected */
    char        *conninfo;
    char         schema[72];    /* quoted identifier: "crawl" */
    double       retry_time;
    int          staged;        /* the staging tables exist on c */
    obuf         pages, links;  /* the batch: COPY text rows */
    obuf         relabels;      /* rows (url, depth, parent) updating pages sent before */
    uint64_t     npages, nlinks, nrelabels;  /* rows in the batch */
    size_t       sent_p, sent_l, sent_r;  /* bytes of it upserted in the open transaction */
    int          in_txn;        /* a transaction is open on c */
    int          broken;        /* the sender failed: the flush starts over */
    int          busy;          /* a task is using c (the sender or a flush) */
    char        *chunk;         /* COPY data handed to libpq (CHUNK bytes) */
    simul_task  *sender;
    simul_event *more, *idle;   /* wake the sender; c is free */
    pgsink_stats st;
};

/* Appends s[0, n) as a COPY text field: backslash, tab, newline and CR
 * escaped, invalid UTF-8 replaced by U+FFFD as pages.jsonl does (the
 * database's encoding is UTF-8: it refuses anything else). */
static int copy_field(obuf *b, const char *str, size_t n)
{
    int rc = obuf_reserve(b, n * 3 + 1);   /* worst case: U+FFFD for each byte */
    if (rc < 0)
        return rc;
    const unsigned char *s = (const unsigned char *)str;
    char *w = b->p + b->n;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c >= 0x80) {
            w = crawl_utf8_put(w, s, n, &i);
            continue;
        }
        if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            *w++ = '\\';
            *w++ = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
        } else {
            *w++ = (char)c;
        }
        i++;
    }
    b->n = (size_t)(w - b->p);
    return 0;
}

/* A text column: the field, or \N for NULL; then sep ('\t' or '\n'). */
static int copy_text(obuf *b, const char *s, char sep)
{
    int rc = s ? copy_field(b, s, strlen(s)) : obuf_put(b, "\\N", 2);
    return rc ? rc : obuf_put(b, &sep, 1);
}

/* Bytes of the batch not yet in the open transaction. */
static size_t unsent(const pgsink *s)
{
    return s->pages.n - s->sent_p + s->links.n - s->sent_l + s->relabels.n - s->sent_r;
}

int pgsink_relabel(pgsink *s, const char *url, int depth, const char *parent)
{
    size_t mark = s->relabels.n;
    int rc = copy_text(&s->relabels, url, '\t');
    rc = rc ? rc : obuf_printf(&s->relabels, "%d\t", depth);
    rc = rc ? rc : copy_text(&s->relabels, parent, '\n');
    if (rc < 0) {
        s->relabels.n = mark;
        return rc;
    }
    s->nrelabels++;
    return 0;
}

int pgsink_page(pgsink *s, const page_rec *r)
{
    size_t mark = s->pages.n;
    int rc = copy_text(&s->pages, r->url, '\t');
    rc = rc ? rc : copy_text(&s->pages, r->final_url, '\t');
    rc = rc ? rc : obuf_printf(&s->pages, "%d\t", r->status);
    rc = rc ? rc : copy_text(&s->pages, r->content_type, '\t');
    rc = rc ? rc : obuf_printf(&s->pages, "%llu\t%d\t", (unsigned long long)r->bytes, r->depth);
    rc = rc ? rc : copy_text(&s->pages, r->parent, '\t');
    rc = rc ? rc : obuf_printf(&s->pages, "%.3f\t", r->fetch_ms);
    rc = rc ? rc : copy_text(&s->pages, r->error, '\t');
    rc = rc ? rc : obuf_printf(&s->pages, "%llu\t%d\n", (unsigned long long)r->links, r->tries);
    if (rc < 0) {
        s->pages.n = mark;   /* no half row */
        return rc;
    }
    s->npages++;
    if (!s->busy && unsent(s) >= PART_BYTES)
        simul_event_set(s->more);   /* the page and its links: a whole cut */
    return 0;
}

int pgsink_link(pgsink *s, const char *src, size_t slen, const char *dst, size_t dlen)
{
    size_t mark = s->links.n;
    int rc = copy_field(&s->links, src, slen);
    rc = rc ? rc : obuf_put(&s->links, "\t", 1);
    rc = rc ? rc : copy_field(&s->links, dst, dlen);
    rc = rc ? rc : obuf_put(&s->links, "\n", 1);
    if (rc < 0)
        s->links.n = mark;
    else
        s->nlinks++;
    return rc;
}

int pgsink_full(const pgsink *s)
{
    return s->pages.n + s->links.n >= BATCH_SOFT;
}

const pgsink_stats *pgsink_stats_get(const pgsink *s)
{
    return &s->st;
}

/* Logs the last error of c (NULL: of the last connect). */
static void log_pg(int level, const simul_pg *c, const char *what, int rc)
{
    simul_pg_error e;
    if (simul_pg_last_error(c, &e) == 0 && e.code == rc) {
        e.message[strcspn(e.message, "\n")] = '\0';   /* libpq's first line */
        logmsg(level, "PostgreSQL: %s: %s%s%s%s", what, e.message, e.sqlstate[0] ? " (SQLSTATE " : "",
               e.sqlstate, e.sqlstate[0] ? ")" : "");
    } else {
        logmsg(level, "PostgreSQL: %s: %s", what, simul_strerror(rc));
    }
}

/* 1 if rc on s->c is worth a new connection and another try: the
 * connection is lost, or the server said it is shutting down, out of
 * resources or in conflict (SQLSTATE classes 08, 40, 53, 57). */
static int transient(pgsink *s, int rc)
{
    if (rc == SIMUL_PG_EBROKEN || rc == SIMUL_PG_ECONNECT || rc == -ETIMEDOUT ||
        rc == -ECONNRESET || rc == -EPIPE)
        return 1;
    if (!s->c || simul_pg_status(s->c) != SIMUL_PG_OK)
        return 1;
    simul_pg_error e;
    if (rc == SIMUL_PG_ESERVER && simul_pg_last_error(s->c, &e) == 0)
        return !strncmp(e.sqlstate, "08", 2) || !strncmp(e.sqlstate, "40", 2) ||
               !strncmp(e.sqlstate, "53", 2) || !strncmp(e.sqlstate, "57", 2);
    return 0;
}

/* Connects if not connected, and makes sure the schema, the tables, the
 * view and this session's staging tables exist. */
static int ensure(pgsink *s)
{
    int rc;
    if (!s->c && (rc = simul_pg_connect(s->conninfo, CONNECT_TIMEOUT, &s->c)) < 0) {
        s->c = NULL;
        return rc;
    }
    if (s->staged)
        return 0;
    char sql[2048];
    const char *q = s->schema;
    snprintf(sql, sizeof sql,
             "SET client_encoding = 'UTF8';"
             "SET client_min_messages = warning;"
             "CREATE SCHEMA IF NOT EXISTS %s;"
             "CREATE TABLE IF NOT EXISTS %s.pages (url text PRIMARY KEY, final_url text,"
             " status int, content_type text, bytes bigint, depth int, parent text,"
             " fetch_ms double precision, error text, links int, tries int,"
             " fetched_at timestamptz NOT NULL DEFAULT now());"
             "CREATE TABLE IF NOT EXISTS %s.links (source text NOT NULL, target text NOT NULL,"
             " PRIMARY KEY (source, target));"
             "CREATE OR REPLACE VIEW %s.graph AS SELECT l.source, l.target FROM %s.links l"
             " JOIN %s.pages p ON p.url = l.target AND p.status > 0;"
             "CREATE TEMP TABLE IF NOT EXISTS stage_pages (url text, final_url text,"
             " status int, content_type text, bytes bigint, depth int, parent text,"
             " fetch_ms double precision, error text, links int, tries int)"
             " ON COMMIT DELETE ROWS;"
             "CREATE TEMP TABLE IF NOT EXISTS stage_links (source text, target text)"
             " ON COMMIT DELETE ROWS;"
             "CREATE TEMP TABLE IF NOT EXISTS stage_relabel (url text, depth int, parent text)"
             " ON COMMIT DELETE ROWS",
             q, q, q, q, q, q);
    rc = simul_pg_exec(s->c, sql);
    if (rc < 0)
        return rc;
    s->staged = 1;
    return 0;
}

static int sender(void *arg);

int pgsink_open(const char *conninfo, const char *schema, double retry_time, pgsink **out)
{
    *out = NULL;
    pgsink *s = calloc(1, sizeof *s);
    if (!s || !(s->conninfo = strdup(conninfo))) {
        free(s);
        return -ENOMEM;
    }
    /* main.c let through only [A-Za-z_][A-Za-z0-9_]*, at most 63 bytes */
    snprintf(s->schema, sizeof s->schema, "\"%s\"", schema);
    s->retry_time = retry_time;
    s->pages.max = s->links.max = s->relabels.max = BATCH_MAX;
    int rc = ensure(s);
    if (rc < 0) {
        log_pg(LOG_ERROR, s->c, "connecting", rc);
        pgsink_close(s);
        return rc;
    }
    if (!(s->chunk = malloc(CHUNK)) || !(s->more = simul_event_new()) ||
        !(s->idle = simul_event_new()) || !(s->sender = simul_spawn(sender, s))) {
        pgsink_close(s);
        return -ENOMEM;
    }
    *out = s;
    return 0;
}

void pgsink_close(pgsink *s)
{
    if (!s)
        return;
    if (s->sender) {   /* cancelled mid-part, its query is cancelled on the server */
        simul_cancel(s->sender);
        simul_join(s->sender);
    }
    if (s->more)
        simul_event_free(s->more);
    if (s->idle)
        simul_event_free(s->idle);
    free(s->chunk);
    if (s->c)
        simul_pg_close(s->c);
    obuf_free(&s->pages);
    obuf_free(&s->links);
    obuf_free(&s->relabels);
    free(s->conninfo);
    free(s);
}

/* COPY b[from, to) into a staging table, CHUNK bytes at a time through
 * s->chunk: page_done may append to b (and move it) while a write waits. */
static int copy_in(pgsink *s, const char *sql, const obuf *b, size_t from, size_t to)
{
    int rc = simul_pg_copy_open(s->c, sql);   /* SIMUL_PG_COPY_IN */
    if (rc < 0)
        return rc;
    rc = 0;
    for (size_t off = from; rc == 0 && off < to; off += CHUNK) {
        size_t n = to - off < CHUNK ? to - off : CHUNK;
        memcpy(s->chunk, b->p + off, n);
        rc = simul_pg_copy_write(s->c, s->chunk, n);
    }
    int cr = simul_pg_copy_close(s->c, rc < 0 ? "simul-crawl: batch abandoned" : NULL);
    return rc < 0 ? rc : cr < 0 ? cr : 0;
}

/* Sends the batch's rows from the sent marks up to np / nl (a cut between
 * two pages) and every relabel row into the open transaction (begun if
 * none is). A relabel row updates a page of this or an earlier part
 * (pgsink_relabel comes after the page's own row). */
static int send_part(pgsink *s, size_t np, size_t nl)
{
    assert(s->busy && np >= s->sent_p && nl >= s->sent_l && np <= s->pages.n &&
           nl <= s->links.n);
    int rc;
    if (!s->in_txn) {
        if ((rc = simul_pg_begin(s->c)) < 0)
            return rc;
        s->in_txn = 1;
    }
    rc = copy_in(s, "COPY stage_pages FROM STDIN", &s->pages, s->sent_p, np);
    if (rc == 0)
        rc = copy_in(s, "COPY stage_links FROM STDIN", &s->links, s->sent_l, nl);
    size_t nr = s->relabels.n;
    if (rc == 0)
        rc = copy_in(s, "COPY stage_relabel FROM STDIN", &s->relabels, s->sent_r, nr);
    if (rc == 0) {
        /* a page sent again (PostgreSQL ahead of the store, then a crash):
         * the new record replaces the old, and so do its links */
        char sql[1536];
        const char *q = s->schema;
        snprintf(sql, sizeof sql,
                 "INSERT INTO %s.pages (url, final_url, status, content_type, bytes, depth,"
                 " parent, fetch_ms, error, links, tries) SELECT * FROM stage_pages"
                 " ON CONFLICT (url) DO UPDATE SET final_url = EXCLUDED.final_url,"
                 " status = EXCLUDED.status, content_type = EXCLUDED.content_type,"
                 " bytes = EXCLUDED.bytes, depth = EXCLUDED.depth, parent = EXCLUDED.parent,"
                 " fetch_ms = EXCLUDED.fetch_ms, error = EXCLUDED.error,"
                 " links = EXCLUDED.links, tries = EXCLUDED.tries, fetched_at = now();"
                 "DELETE FROM %s.links l USING stage_pages p WHERE l.source = p.url;"
                 "INSERT INTO %s.links (source, target) SELECT source, target FROM stage_links"
                 " ON CONFLICT DO NOTHING;"
                 "UPDATE %s.pages p SET depth = r.depth, parent = r.parent FROM stage_relabel r"
                 " WHERE p.url = r.url;"
                 "TRUNCATE stage_pages, stage_links, stage_relabel",
                 q, q, q, q);
        rc = simul_pg_exec(s->c, sql);
        if (rc > 0)
            rc = 0;
    }
    if (rc == 0) {
        s->sent_p = np;
        s->sent_l = nl;
        s->sent_r = nr;
    }
    return rc;
}

/* Forgets the connection (closed) and what the transaction held. */
static void drop(pgsink *s)
{
    if (s->c)
        simul_pg_close(s->c);
    s->c = NULL;
    s->staged = s->in_txn = s->broken = 0;
    s->sent_p = s->sent_l = s->sent_r = 0;
}

/* The sender task: sends each PART_BYTES of new rows while the crawl goes
 * on, so that a commit only waits for the tail. A failure marks the sink
 * broken: the next flush reconnects and sends the whole batch again. */
static int sender(void *arg)
{
    pgsink *s = arg;
    while (simul_event_wait(s->more) == 0) {
        simul_event_clear(s->more);
        if (s->busy || s->broken || !s->c || !s->staged || unsent(s) < PART_BYTES)
            continue;
        s->busy = 1;
        simul_event_clear(s->idle);
        double t0 = simul_now();
        int rc = send_part(s, s->pages.n, s->links.n);   /* between two pages: a cut */
        s->st.seconds += simul_now() - t0;
        s->busy = 0;
        simul_event_set(s->idle);
        if (rc == -ECANCELED)
            break;
        if (rc < 0)
            s->broken = 1;
        else
            s->st.parts++;
    }
    return 0;
}

/* The flush with c held: the rest of the batch and COMMIT, retried. */
static int flush_held(pgsink *s, const volatile int *stop, double t0)
{
    double wait = BACKOFF_FIRST, give_up = t0 + s->retry_time;
    int rc, attempt;
    for (attempt = 0;; attempt++) {
        if (s->broken)
            drop(s);   /* the sender failed: start over on a new connection */
        rc = ensure(s);
        if (rc == 0 && unsent(s))   /* else the sender sent it all: only COMMIT */
            rc = send_part(s, s->pages.n, s->links.n);
        if (rc == 0) {
            rc = simul_pg_commit(s->c);
            s->in_txn = 0;   /* a failed COMMIT ends it too (rolled back) */
        }
        if (rc == 0)
            break;
        if (s->in_txn && s->c && simul_pg_status(s->c) == SIMUL_PG_OK)
            simul_pg_rollback(s->c);
        s->in_txn = 0;
        s->sent_p = s->sent_l = s->sent_r = 0;   /* none of the batch is in PostgreSQL */
        if (rc == -ECANCELED)
            return rc;
        if (!transient(s, rc)) {
            log_pg(LOG_ERROR, s->c, "sending the batch", rc);
            return rc;
        }
        if (attempt == 0) {
            s->st.lost++;
            log_pg(LOG_WARN, s->c, "connection lost; the crawl pauses, reconnecting", rc);
        }
        drop(s);
        double now = simul_now();
        if (now >= give_up) {
            logmsg(LOG_ERROR, "PostgreSQL: unreachable for %.0f s: giving up", now - t0);
            return rc;
        }
        /* sleep in short steps so a SIGINT is noticed */
        for (double until = fmin(now + wait * (0.75 + 0.5 * random() / (double)RAND_MAX), give_up);
             simul_now() < until;) {
            if (*stop)
                return -EINTR;
            int sr = simul_sleep(fmin(0.1, until - simul_now()));
            if (sr < 0)
                return sr;
        }
        wait = fmin(wait * 2, BACKOFF_MAX);
    }
    if (attempt > 0)
        logmsg(LOG_WARN, "PostgreSQL: reconnected after %.1f s; the batch is in", simul_now() - t0);
    return 0;
}

int pgsink_flush(pgsink *s, const volatile int *stop)
{
    if (!s->npages && !s->nlinks && !s->nrelabels)
        return 0;
    double t0 = simul_now();
    while (s->busy) {   /* the sender's part: wait for it (it is part of the batch) */
        int rc = simul_event_wait(s->idle);
        if (rc < 0)
            return rc;
    }
    s->busy = 1;
    simul_event_clear(s->idle);
    double t1 = simul_now();
    int rc = flush_held(s, stop, t1);
    s->busy = 0;
    simul_event_set(s->idle);
    s->st.paused += simul_now() - t0;
    s->st.seconds += simul_now() - t1;   /* the sender counted its part */
    if (rc < 0)
        return rc;
    assert(!s->in_txn);
    s->st.pages += s->npages;
    s->st.links += s->nlinks;
    s->st.batches++;
    s->pages.n = s->links.n = s->relabels.n = 0;
    s->npages = s->nlinks = s->nrelabels = 0;
    s->sent_p = s->sent_l = s->sent_r = 0;
    return 0;
}
