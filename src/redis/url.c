/*
 * url.c - Redis URLs in redis-py's forms, redis://[[user]:password@]host
 * [:port][/db] and unix://[[user]:password@]/path[?db=N], into a
 * connection's fields, with user and password percent-decoded. Kept apart
 * from the connection code so the fuzz target (fuzz/redis_fuzz.c) builds
 * it alone.
 */
#include "redis_internal.h"
#include "../core/ascii.h"

#include <stdlib.h>
#include <string.h>

/* A malloc'd, percent-decoded copy of s[0..n). NULL: ENOMEM or a bad %. */
static char *pct_dup(const char *s, size_t n)
{
    char *d = malloc(n + 1), *o = d;
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int a = i + 1 < n ? simul__hexval((unsigned char)s[i + 1]) : -1;
            int b = i + 2 < n ? simul__hexval((unsigned char)s[i + 2]) : -1;
            if (a < 0 || b < 0) {
                free(d);
                return NULL;
            }
            *o++ = (char)(a * 16 + b);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = 0;
    return d;
}

static int parse_db(const char *s, size_t n, int *db)
{
    if (n == 0)
        return 0;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > 100000)
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *db = (int)v;
    return 0;
}

/* redis://[[user]:pass@]host[:port][/db] or unix://[[user]:pass@]/path[?db=N]
 * into c's host/port/path/user/password/db. SIMUL_REDIS_EURL or -ENOMEM. */
int simul__redis_parse_url(simul_redis *c, const char *url)
{
    const char *p;
    int is_unix;
    if (strncmp(url, "redis://", 8) == 0) {
        p = url + 8;
        is_unix = 0;
    } else if (strncmp(url, "unix://", 7) == 0) {
        p = url + 7;
        is_unix = 1;
    } else {
        return SIMUL_REDIS_EURL;
    }
    const char *at = strrchr(p, '@');
    const char *slash = strchr(p, '/');
    if (at && (is_unix || !slash || at < slash)) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pe = at;
        if (colon) {
            if (colon > p && !(c->user = pct_dup(p, (size_t)(colon - p))))
                return SIMUL_REDIS_EURL;
            if (!(c->password = pct_dup(colon + 1, (size_t)(at - colon - 1))))
                return SIMUL_REDIS_EURL;
        } else if (pe > p && !(c->password = pct_dup(p, (size_t)(pe - p)))) {
            /* redis://secret@host: a lone word is the password (redis-py) */
            return SIMUL_REDIS_EURL;
        }
        p = at + 1;
    }
    if (is_unix) {
        const char *q = strchr(p, '?');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        if (n == 0 || p[0] != '/')
            return SIMUL_REDIS_EURL;
        if (!(c->path = pct_dup(p, n)))
            return SIMUL_REDIS_EURL;
        if (q) {
            if (strncmp(q, "?db=", 4) != 0 || parse_db(q + 4, strlen(q + 4), &c->db) < 0)
                return SIMUL_REDIS_EURL;
        }
        return 0;
    }
    const char *hs = p, *he;
    if (*p == '[') {
        he = strchr(p, ']');
        if (!he)
            return SIMUL_REDIS_EURL;
        hs = p + 1;
        p = he + 1;
    } else {
        he = p + strcspn(p, ":/?");
        p = he;
    }
    if (he == hs || !(c->host = pct_dup(hs, (size_t)(he - hs))))
        return SIMUL_REDIS_EURL;
    c->port = 6379;
    if (*p == ':') {
        p++;
        long v = 0;
        const char *d = p;
        while (*p >= '0' && *p <= '9' && v <= 65535)
            v = v * 10 + (*p++ - '0');
        if (p == d || v < 1 || v > 65535)
            return SIMUL_REDIS_EURL;
        c->port = (int)v;
    }
    if (*p == '/') {
        p++;
        size_t n = strcspn(p, "?");
        if (parse_db(p, n, &c->db) < 0)
            return SIMUL_REDIS_EURL;
        p += n;
    }
    if (*p != 0 && *p != '?')
        return SIMUL_REDIS_EURL;
    return 0;
}
