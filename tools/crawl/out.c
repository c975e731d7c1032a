/*
 * out.c - what the crawl writes: the byte buffers pages' lines are built
 * in (hard-capped), pages.jsonl's records (JSON strings escaped, invalid
 * UTF-8 replaced by U+FFFD so every line parses), the error kinds that
 * record's "error" field names, and graph.tsv, derived at the end from
 * foundurls.tsv and the set of fetched URLs. The files themselves are
 * opened, appended to and committed by crawl.c.
 */
#include "crawl.h"

#include <simul.h>

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int obuf_reserve(obuf *b, size_t more)
{
    if (b->cap - b->n >= more)
        return 0;
    if (b->max && b->n + more > b->max)
        return -E2BIG;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->n < more)
        cap *= 2;
    if (b->max && cap > b->max)
        cap = b->max;
    char *p = realloc(b->p, cap);
    if (!p)
        return -ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int obuf_put(obuf *b, const void *s, size_t n)
{
    int rc = obuf_reserve(b, n);
    if (rc == 0) {
        memcpy(b->p + b->n, s, n);
        b->n += n;
    }
    return rc;
}

int obuf_puts(obuf *b, const char *s)
{
    return obuf_put(b, s, strlen(s));
}

int obuf_printf(obuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if (b->p && (size_t)n < b->cap - b->n) {
        b->n += (size_t)n;
        return 0;
    }
    int rc = obuf_reserve(b, (size_t)n + 1);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
    return 0;
}

void obuf_free(obuf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* Length of the valid UTF-8 sequence at s[0, n), or 0 if it is not one
 * (overlong forms, surrogates and values past U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0xC2 || c > 0xF4)
        return 0;
    if (c < 0xE0) { len = 2; min = 0x80; c &= 0x1F; }
    else if (c < 0xF0) { len = 3; min = 0x800; c &= 0x0F; }
    else { len = 4; min = 0x10000; c &= 0x07; }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    return len;
}

char *crawl_utf8_put(char *w, const unsigned char *s, size_t n, size_t *i)
{
    size_t l = utf8_len(s + *i, n - *i);
    if (l) {
        memcpy(w, s + *i, l);
        *i += l;
        return w + l;
    }
    memcpy(w, "\xEF\xBF\xBD", 3);   /* U+FFFD for the bad byte */
    *i += 1;
    return w + 3;
}

int obuf_json_str(obuf *b, const char *str, size_t n)
{
    /* worst case: every byte becomes \u00XX (6) or U+FFFD (3) */
    int rc = obuf_reserve(b, n * 6 + 2);
    if (rc < 0)
        return rc;
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    char *w = b->p + b->n;
    *w++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *w++ = (char)c;
            i++;
        } else if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
            i++;
        } else if (c < 0x20) {
            memcpy(w, "\\u00", 4);
            w[4] = hex[c >> 4];
            w[5] = hex[c & 15];
            w += 6;
            i++;
        } else {
            w = crawl_utf8_put(w, s, n, &i);
        }
    }
    *w++ = '"';
    b->n = (size_t)(w - b->p);
    return 0;
}

static int json_str_or_null(obuf *b, const char *s)
{
    return s ? obuf_json_str(b, s, strlen(s)) : obuf_puts(b, "null");
}

int out_page_json(obuf *b, const page_rec *r)
{
    int rc = obuf_puts(b, "{\"url\":");
    rc = rc ? rc : json_str_or_null(b, r->url);
    rc = rc ? rc : obuf_puts(b, ",\"final_url\":");
    rc = rc ? rc : json_str_or_null(b, r->final_url);
    rc = rc ? rc : obuf_printf(b, ",\"status\":%d,\"content_type\":", r->status);
    rc = rc ? rc : json_str_or_null(b, r->content_type);
    rc = rc ? rc : obuf_printf(b, ",\"bytes\":%llu", (unsigned long long)r->bytes);
    rc = rc ? rc : out_page_label(b, r->depth, r->parent);
    rc = rc ? rc : obuf_printf(b, ",\"fetch_ms\":%.3f,\"error\":", r->fetch_ms);
    rc = rc ? rc : json_str_or_null(b, r->error);
    rc = rc ? rc : obuf_printf(b, ",\"links\":%llu,\"tries\":%d}\n",
                               (unsigned long long)r->links, r->tries);
    return rc;
}

int out_page_label(obuf *b, int depth, const char *parent)
{
    int rc = obuf_printf(b, ",\"depth\":%d,\"parent\":", depth);
    return rc ? rc : json_str_or_null(b, parent);
}

int out_pages_patch(const char *path, const char *new_path,
                    int (*fix)(void *arg, const char *url, size_t n, obuf *repl), void *arg,
                    int sync, int64_t *len)
{
    FILE *in = fopen(path, "r"), *out = in ? fopen(new_path, "w") : NULL;
    if (!out) {
        int e = -errno;
        if (in)
            fclose(in);
        return e;
    }
    out_buffer(in);
    out_buffer(out);
    obuf repl = { .max = 1 << 20 };
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    static const char head[] = "{\"url\":\"", dp[] = ",\"depth\":", fm[] = ",\"fetch_ms\":";
    while (rc == 0 && (n = getline(&line, &cap, in)) > 0) {
        /* the url's JSON string: from its quote to the next one not escaped;
         * then the one ,"depth": and ,"fetch_ms": after it (no string holds
         * an unescaped quote) */
        size_t e = sizeof head - 1;
        while (n > (ssize_t)sizeof head - 1 && e < (size_t)n && line[e] != '"')
            e += line[e] == '\\' ? 2 : 1;
        char *d = NULL, *f = NULL;
        repl.n = 0;
        if (!strncmp(line, head, sizeof head - 1) && e < (size_t)n &&
            fix(arg, line + sizeof head - 2, e + 3 - sizeof head, &repl) == 1 &&
            (d = memmem(line + e, (size_t)n - e, dp, sizeof dp - 1)) &&
            (f = memmem(d, (size_t)(line + n - d), fm, sizeof fm - 1))) {
            fwrite(line, 1, (size_t)(d - line), out);
            fwrite(repl.p, 1, repl.n, out);
            fwrite(f, 1, (size_t)(line + n - f), out);
        } else {
            fwrite(line, 1, (size_t)n, out);
        }
    }
    free(line);
    obuf_free(&repl);
    if (ferror(in) || ferror(out) || fflush(out) != 0 || (sync && fdatasync(fileno(out)) != 0))
        rc = -EIO;
    *len = ftello(out);
    fclose(in);
    if (out_close(out) != 0 && rc == 0)
        rc = -EIO;
    if (rc < 0)
        unlink(new_path);
    return rc;
}

const char *crawl_error_kind(int err)
{
    switch (err) {
    case SIMUL_HTTP_EURL:             return "url";
    case SIMUL_HTTP_EDNS:             return "dns";
    case SIMUL_HTTP_EREFUSED:         return "refused";
    case SIMUL_HTTP_ECONNECT:         return "connect";
    case SIMUL_HTTP_ERESET:           return "reset";
    case SIMUL_HTTP_EINCOMPLETE:      return "incomplete";
    case SIMUL_HTTP_ETLS:             return "tls";
    case SIMUL_HTTP_ECERT:            return "cert";
    case SIMUL_HTTP_ETIMEOUT_POOL:    return "timeout_pool";
    case SIMUL_HTTP_ETIMEOUT_CONNECT: return "timeout_connect";
    case SIMUL_HTTP_ETIMEOUT_READ:    return "timeout_read";
    case SIMUL_HTTP_ETIMEOUT_TOTAL:   return "timeout_total";
    case SIMUL_HTTP_EREDIRECTS:       return "redirects";
    case SIMUL_HTTP_EREDIRECT:        return "redirect_scheme";
    case SIMUL_HTTP_EPROTO:           return "malformed";
    case SIMUL_HTTP_EBODY:            return "too_large";
    case SIMUL_HTTP_EDECODE:          return "decode";
    case SIMUL_HTTP_ESTATUS:          return "http";
    case SIMUL_HTTP_EPROXY:           return "proxy";
    default:                          return "other";
    }
}

#define OUT_BUFFER (1u << 20)

/* The buffers out_buffer gave, by FILE (a handful of files at most). */
static struct { FILE *f; char *buf; } bufs[8];

void out_buffer(FILE *f)
{
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (!bufs[i].f) {
            char *b = malloc(OUT_BUFFER);
            if (b && setvbuf(f, b, _IOFBF, OUT_BUFFER) == 0) {
                bufs[i].f = f;
                bufs[i].buf = b;
            } else {
                free(b);   /* stdio's own 4 KiB buffer then */
            }
            return;
        }
}

int out_close(FILE *f)
{
    int rc = fclose(f) == 0 ? 0 : -errno;
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i].f == f) {
            free(bufs[i].buf);
            bufs[i].f = NULL;
            bufs[i].buf = NULL;
        }
    return rc;
}

/* Opens path.tmp for writing; its name in tmp (caller frees). */
static FILE *open_tmp(const char *path, char **tmp)
{
    size_t n = strlen(path) + 5;
    *tmp = malloc(n);
    if (!*tmp) {
        errno = ENOMEM;
        return NULL;
    }
    snprintf(*tmp, n, "%s.tmp", path);
    return fopen(*tmp, "w");
}

/* Closes out and renames tmp over path, or removes tmp if rc or the
 * close failed. */
static int close_replace(FILE *out, char *tmp, const char *path, int rc)
{
    int rc2 = out_close(out);
    if (rc == 0)
        rc = rc2;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -errno;
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

char *path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int out_file_replace(const char *path, const void *buf, size_t n)
{
    char *tmp;
    FILE *out = open_tmp(path, &tmp);
    if (!out) {
        int e = -errno;
        free(tmp);
        return e;
    }
    int rc = fwrite(buf, 1, n, out) == n ? 0 : -EIO;
    return close_replace(out, tmp, path, rc);
}

/* graph.tsv: foundurls.tsv's lines whose link was fetched. */
int out_graph(const char *found_path, const char *graph_path, const seen_set *fetched)
{
    FILE *in = fopen(found_path, "r");
    if (!in)
        return -errno;
    char *tmp;
    FILE *out = open_tmp(graph_path, &tmp);
    if (!out) {
        int e = -errno;
        free(tmp);
        fclose(in);
        return e;
    }
    out_buffer(in);
    out_buffer(out);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int first = 1;
    while ((n = getline(&line, &cap, in)) > 0) {
        if (first) {   /* the header */
            first = 0;
            continue;
        }
        char *tab = memchr(line, '\t', (size_t)n);
        if (!tab)
            continue;
        size_t dlen = (size_t)(line + n - (tab + 1));
        if (dlen && tab[1 + dlen - 1] == '\n')
            dlen--;
        if (seen_has(fetched, crawl_hash(tab + 1, dlen)))
            fwrite(line, 1, (size_t)n, out);
    }
    free(line);
    int rc = ferror(in) || ferror(out) ? -EIO : 0;
    out_close(in);
    return close_replace(out, tmp, graph_path, rc);
}
