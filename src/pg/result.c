/*
 * result.c - reading results: a simul_pg_result is libpq's PGresult under
 * an opaque name, so the accessors are thin; the typed ones decode both
 * wire formats - text (decimal integers, hex bytea, ISO timestamps) and binary
 * (network-order integers and floats, 2000-based timestamps) - and check
 * the column's type OID where the binary bytes would be ambiguous.
 */
#include "pg_internal.h"
#include "../core/ascii.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_CHAR = 18, OID_NAME = 19, OID_INT8 = 20,
    OID_INT2 = 21, OID_INT4 = 23, OID_TEXT = 25, OID_OID = 26, OID_JSON = 114,
    OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_BPCHAR = 1042, OID_VARCHAR = 1043,
    OID_DATE = 1082, OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184, OID_UUID = 2950,
    OID_JSONB = 3802
};

/* Microseconds and days between the Unix epoch and PostgreSQL's (2000-01-01). */
#define PG_EPOCH_USEC 946684800000000LL
#define PG_EPOCH_DAYS 10957

#define R(r) ((const PGresult *)(r))

void simul_pg_result_free(simul_pg_result *r)
{
    PQclear((PGresult *)r);
}

int simul_pg_nrows(const simul_pg_result *r)
{
    return r ? PQntuples(R(r)) : 0;
}

int simul_pg_ncols(const simul_pg_result *r)
{
    return r ? PQnfields(R(r)) : 0;
}

long long simul_pg_affected(const simul_pg_result *r)
{
    const char *s = r ? PQcmdTuples((PGresult *)r) : "";
    return *s ? strtoll(s, NULL, 10) : 0;
}

const char *simul_pg_colname(const simul_pg_result *r, int col)
{
    return r ? PQfname(R(r), col) : NULL;
}

unsigned simul_pg_coltype(const simul_pg_result *r, int col)
{
    return r ? PQftype(R(r), col) : 0;
}

int simul_pg_colnum(const simul_pg_result *r, const char *name)
{
    int i = r && name ? PQfnumber(R(r), name) : -1;
    return i < 0 ? -ENOENT : i;
}

static int in_range(const simul_pg_result *r, int row, int col)
{
    return r && row >= 0 && col >= 0 && row < PQntuples(R(r)) && col < PQnfields(R(r));
}

int simul_pg_isnull(const simul_pg_result *r, int row, int col)
{
    if (!in_range(r, row, col))
        return -ERANGE;
    return PQgetisnull(R(r), row, col);
}

const char *simul_pg_value(const simul_pg_result *r, int row, int col, int *len)
{
    if (!in_range(r, row, col))
        return NULL;
    if (len)
        *len = PQgetlength(R(r), row, col);
    return PQgetvalue(R(r), row, col);
}

/* The value's bytes, whether binary, and its type; 0, -ERANGE, -ENOENT. */
typedef struct cell {
    const char *p;
    int         n;
    int         bin;
    Oid         type;
} cell;

static int get_cell(const simul_pg_result *r, int row, int col, cell *c)
{
    /* PQgetvalue checks the bounds itself (NULL outside them, after a
     * notice to the connection's processor: a debug line in the log), so
     * the hot path makes no separate range check */
    c->p = r ? PQgetvalue(R(r), row, col) : NULL;
    if (!c->p)
        return -ERANGE;
    /* a NULL's value is "": only an empty value needs the NULL check */
    if (!*c->p && PQgetisnull(R(r), row, col))
        return -ENOENT;
    c->n = PQgetlength(R(r), row, col);
    c->bin = PQfformat(R(r), col) == 1;
    /* the type only tells binary values apart: text needs no lookup */
    c->type = c->bin ? PQftype(R(r), col) : 0;
    return 0;
}

/*
 * A decimal integer as strtoll(s, &end, 10) takes it - leading white
 * space, a sign, digits - with nothing after: 0, -EINVAL, -ERANGE. By
 * hand because strtoll's locale and errno handling cost more than libpq's
 * whole work for a short value (fetching a million rows, half the
 * accessors' time).
 */
static int parse_int(const char *s, int64_t *v)
{
    while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
        s++;
    int neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (*s < '0' || *s > '9')
        return -EINVAL;
    uint64_t x = 0;
    int over = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        /* past this, x * 10 exceeds 2^63 (and cannot wrap before it) */
        if (x > 922337203685477580ull)
            over = 1;
        else
            x = x * 10 + (uint64_t)(*s - '0');
    }
    if (*s)
        return -EINVAL;
    if (over || x > (uint64_t)INT64_MAX + neg)
        return -ERANGE;
    *v = !neg ? (int64_t)x : x ? -(int64_t)(x - 1) - 1 : 0;
    return 0;
}

static uint64_t be_load(const char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | (unsigned char)p[i];
    return v;
}

int simul_pg_get_int(const simul_pg_result *r, int row, int col, int64_t *v)
{
    cell c;
    int e = get_cell(r, row, col, &c);
    if (e < 0)
        return e;
    if (c.bin) {
        switch (c.type) {
        case OID_INT2: if (c.n != 2) return -EINVAL; *v = (int16_t)be_load(c.p, 2); return 0;
        case OID_INT4: if (c.n != 4) return -EINVAL; *v = (int32_t)be_load(c.p, 4); return 0;
        case OID_OID:  if (c.n != 4) return -EINVAL; *v = (uint32_t)be_load(c.p, 4); return 0;
        case OID_INT8: if (c.n != 8) return -EINVAL; *v = (int64_t)be_load(c.p, 8); return 0;
        default: return -EINVAL;
        }
    }
    return parse_int(c.p, v);
}

int simul_pg_get_double(const simul_pg_result *r, int row, int col, double *v)
{
    cell c;
    int e = get_cell(r, row, col, &c);
    if (e < 0)
        return e;
    if (c.bin) {
        if (c.type == OID_FLOAT8 && c.n == 8) {
            uint64_t u = be_load(c.p, 8);
            memcpy(v, &u, 8);
            return 0;
        }
        if (c.type == OID_FLOAT4 && c.n == 4) {
            uint32_t u = (uint32_t)be_load(c.p, 4);
            float f;
            memcpy(&f, &u, 4);
            *v = f;
            return 0;
        }
        int64_t i;
        if ((e = simul_pg_get_int(r, row, col, &i)) < 0)
            return e;
        *v = (double)i;
        return 0;
    }
    char *end;
    double x = strtod(c.p, &end);   /* also "NaN", "Infinity", "-Infinity" */
    if (end == c.p || *end)
        return -EINVAL;
    *v = x;
    return 0;
}

int simul_pg_get_bool(const simul_pg_result *r, int row, int col, int *v)
{
    cell c;
    int e = get_cell(r, row, col, &c);
    if (e < 0)
        return e;
    if (c.bin) {
        if (c.type != OID_BOOL || c.n != 1)
            return -EINVAL;
        *v = c.p[0] != 0;
        return 0;
    }
    if (c.n == 1 && (c.p[0] == 't' || c.p[0] == 'f')) {
        *v = c.p[0] == 't';
        return 0;
    }
    return -EINVAL;
}

int simul_pg_get_text(const simul_pg_result *r, int row, int col, const char **s, size_t *len)
{
    cell c;
    int e = get_cell(r, row, col, &c);
    if (e < 0)
        return e;
    if (c.bin) {
        switch (c.type) {
        case OID_TEXT: case OID_VARCHAR: case OID_BPCHAR: case OID_NAME: case OID_JSON:
        case OID_CHAR:
            break;
        case OID_JSONB:   /* a version byte (1), then the JSON text */
            if (c.n < 1 || c.p[0] != 1)
                return -EINVAL;
            c.p++;
            c.n--;
            break;
        default:
            return -EINVAL;
        }
    }
    *s = c.p;
    if (len)
        *len = (size_t)c.n;
    return 0;
}

int simul_pg_get_bytea(const simul_pg_result *r, int row, int col, void *buf, size_t cap,
                       size_t *len)
{
    cell c;
    int e = get_cell(r, row, col, &c);
    if (e < 0)
        return e;
    if (c.bin) {
        if (c.type != OID_BYTEA)
            return -EINVAL;
        *len = (size_t)c.n;
        if ((size_t)c.n > cap)
            return -ENOBUFS;
        if (c.n)
            memcpy(buf, c.p, (size_t)c.n);
        return 0;
    }
    /* bytea_output = hex (the default since 9.0): "\x0a1b..." */
    if (c.n < 2 || c.p[0] != '\\' || c.p[1] != 'x' || (c.n & 1))
        return -EINVAL;
    size_t n = (size_t)(c.n - 2) / 2;
    *len = n;
    if (n > cap)
        return -ENOBUFS;
    unsigned char *o = buf;
    for (size_t i = 0; i < n; i++) {
        int hi = simul__hexval((unsigned char)c.p[2 + 2 * i]);
        int lo = simul__hexval((unsigned char)c.p[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        o[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int simul_pg_get_uuid(const simul_pg_result *r, int row, int col, uint8_t uuid[16])
{
    cell c;
    int e = get_cell(r, row, col, &c);
    if (e < 0)
        return e;
    if (c.bin) {
        if (c.type != OID_UUID || c.n != 16)
            return -EINVAL;
        memcpy(uuid, c.p, 16);
        return 0;
    }
    int k = 0;
    for (int i = 0; i < c.n; i++) {
        if (c.p[i] == '-')
            continue;
        int hi = simul__hexval((unsigned char)c.p[i]);
        int lo = i + 1 < c.n ? simul__hexval((unsigned char)c.p[i + 1]) : -1;
        if (hi < 0 || lo < 0 || k == 16)
            return -EINVAL;
        uuid[k++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    return k == 16 ? 0 : -EINVAL;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* n digits at *p into *v; advances. */
static int digits(const char **p, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        char ch = (*p)[i];
        if (ch < '0' || ch > '9')
            return -1;
        x = x * 10 + (ch - '0');
    }
    *p += n;
    *v = x;
    return 0;
}

/* ISO text (DateStyle ISO, the default): "YYYY-MM-DD[ HH:MM:SS[.f*]][+-HH[:MM[:SS]]]". */
static int parse_iso(const char *s, int64_t *usec)
{
    if (strcmp(s, "infinity") == 0) {
        *usec = INT64_MAX;
        return 0;
    }
    if (strcmp(s, "-infinity") == 0) {
        *usec = INT64_MIN;
        return 0;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0;
    const char *p = s;
    /* years may have more than four digits */
    y = 0;
    int nd = 0;
    while (*p >= '0' && *p <= '9' && nd < 7)
        y = y * 10 + (*p++ - '0'), nd++;
    if (nd < 4 || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -EINVAL;
    int64_t frac = 0;
    if (*p == ' ' || *p == 'T') {
        p++;
        if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
            digits(&p, 2, &sec))
            return -EINVAL;
        if (*p == '.') {
            p++;
            int64_t scale = 100000;
            while (*p >= '0' && *p <= '9') {
                frac += (*p++ - '0') * scale;
                scale /= 10;
            }
        }
    }
    int64_t off = 0;
    if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0, os = 0;
        if (digits(&p, 2, &oh))
            return -EINVAL;
        if (*p == ':' && (p++, digits(&p, 2, &om)))
            return -EINVAL;
        if (*p == ':' && (p++, digits(&p, 2, &os)))
            return -EINVAL;
        off = sign * (oh * 3600 + om * 60 + os);
    }
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31)
        return -EINVAL;   /* " BC" dates are not supported */
    int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - off;
    *usec = t * 1000000 + frac;
    return 0;
}

int simul_pg_get_time(const simul_pg_result *r, int row, int col, int64_t *usec)
{
    cell c;
    int e = get_cell(r, row, col, &c);
    if (e < 0)
        return e;
    if (c.bin) {
        if ((c.type == OID_TIMESTAMP || c.type == OID_TIMESTAMPTZ) && c.n == 8) {
            int64_t v = (int64_t)be_load(c.p, 8);
            *usec = v == INT64_MAX || v == INT64_MIN ? v : v + PG_EPOCH_USEC;
            return 0;
        }
        if (c.type == OID_DATE && c.n == 4) {
            int32_t dd = (int32_t)be_load(c.p, 4);
            *usec = dd == INT32_MAX   ? INT64_MAX
                    : dd == INT32_MIN ? INT64_MIN
                                      : ((int64_t)dd + PG_EPOCH_DAYS) * 86400 * 1000000;
            return 0;
        }
        return -EINVAL;
    }
    return parse_iso(c.p, usec);
}

/* ---- arrays (one dimension) --------------------------------------------- */

/*
 * Finds element i of a one-dimensional array value (i < 0: counts them).
 * Binary: the array_send layout (ndim, has-null flag, element OID, then
 * per dimension size and lower bound, then length-prefixed elements).
 * Text: "{a,b,NULL,"quo\"ted"}". The element's bytes (unescaped) go to
 * buf (cap; *len its length, NUL-terminated when room remains).
 * Returns the count (i < 0), 0, -ENOENT (NULL element), -ERANGE (past the
 * end), -EINVAL (not a one-dimensional array), -ENOBUFS.
 */
static int array_elem(const cell *c, int i, char *buf, size_t cap, size_t *len, Oid *etype)
{
    if (c->bin) {
        if (c->n < 12)
            return -EINVAL;
        int32_t ndim = (int32_t)be_load(c->p, 4);
        *etype = (Oid)be_load(c->p + 8, 4);
        if (ndim == 0)
            return i < 0 ? 0 : -ERANGE;
        if (ndim != 1 || c->n < 20)
            return -EINVAL;
        int32_t count = (int32_t)be_load(c->p + 12, 4);
        if (i < 0)
            return count;
        if (i >= count)
            return -ERANGE;
        const char *p = c->p + 20, *end = c->p + c->n;
        for (int k = 0;; k++) {
            if (end - p < 4)
                return -EINVAL;
            int32_t l = (int32_t)be_load(p, 4);
            p += 4;
            if (l > end - p)
                return -EINVAL;
            if (k == i) {
                if (l < 0)
                    return -ENOENT;
                *len = (size_t)l;
                if ((size_t)l >= cap)
                    return -ENOBUFS;
                memcpy(buf, p, (size_t)l);
                buf[l] = '\0';
                return 0;
            }
            if (l > 0)
                p += l;
        }
    }
    *etype = 0;
    const char *p = c->p;
    if (*p != '{')
        return -EINVAL;
    p++;
    if (*p == '}')
        return i < 0 ? 0 : -ERANGE;
    for (int k = 0;; k++) {
        size_t n = 0;
        int quoted = *p == '"', null = 0;
        if (*p == '{')
            return -EINVAL;   /* more than one dimension */
        if (quoted) {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                if (k == i && n + 1 < cap)
                    buf[n] = *p;
                n++;
            }
            if (*p++ != '"')
                return -EINVAL;
        } else {
            const char *s = p;
            while (*p && *p != ',' && *p != '}')
                p++;
            n = (size_t)(p - s);
            null = n == 4 && strncasecmp(s, "NULL", 4) == 0;
            if (k == i && n < cap)
                memcpy(buf, s, n);
        }
        if (k == i) {
            if (null)
                return -ENOENT;
            *len = n;
            if (n >= cap)
                return -ENOBUFS;
            buf[n] = '\0';
            return 0;
        }
        if (*p == '}')
            return i < 0 ? k + 1 : -ERANGE;
        if (*p++ != ',')
            return -EINVAL;
    }
}

int simul_pg_array_len(const simul_pg_result *r, int row, int col)
{
    cell c;
    int e = get_cell(r, row, col, &c);
    if (e < 0)
        return e;
    size_t len;
    Oid t;
    return array_elem(&c, -1, NULL, 0, &len, &t);
}

/* Element i of a number array into buf (64 bytes): its length, the
 * element type (binary) and the format. 0 or as array_elem. */
static int array_number(const simul_pg_result *r, int row, int col, int i, char *buf, size_t *n,
                        Oid *t, int *bin)
{
    cell c;
    int e = get_cell(r, row, col, &c);
    if (e < 0)
        return e;
    if (i < 0)
        return -ERANGE;
    *bin = c.bin;
    e = array_elem(&c, i, buf, 64, n, t);
    return e == -ENOBUFS ? -EINVAL : e;
}

int simul_pg_array_int(const simul_pg_result *r, int row, int col, int i, int64_t *v)
{
    char buf[64];
    size_t n;
    Oid t;
    int bin, e = array_number(r, row, col, i, buf, &n, &t, &bin);
    if (e < 0)
        return e;
    if (bin) {
        if ((t == OID_INT2 && n == 2) || (t == OID_INT4 && n == 4) || (t == OID_INT8 && n == 8)) {
            uint64_t u = be_load(buf, (int)n);
            *v = n == 2 ? (int16_t)u : n == 4 ? (int32_t)u : (int64_t)u;
            return 0;
        }
        return -EINVAL;
    }
    return parse_int(buf, v);
}

int simul_pg_array_double(const simul_pg_result *r, int row, int col, int i, double *v)
{
    char buf[64];
    size_t n;
    Oid t;
    int bin, e = array_number(r, row, col, i, buf, &n, &t, &bin);
    if (e < 0)
        return e;
    if (bin) {
        if (t == OID_FLOAT8 && n == 8) {
            uint64_t u = be_load(buf, 8);
            memcpy(v, &u, 8);
            return 0;
        }
        if (t == OID_FLOAT4 && n == 4) {
            uint32_t u = (uint32_t)be_load(buf, 4);
            float f;
            memcpy(&f, &u, 4);
            *v = f;
            return 0;
        }
        int64_t x;
        if ((e = simul_pg_array_int(r, row, col, i, &x)) < 0)
            return e;
        *v = (double)x;
        return 0;
    }
    char *end;
    double x = strtod(buf, &end);
    if (end == buf || *end)
        return -EINVAL;
    *v = x;
    return 0;
}

int simul_pg_array_text(const simul_pg_result *r, int row, int col, int i, char *buf, size_t cap)
{
    cell c;
    int e = get_cell(r, row, col, &c);
    if (e < 0)
        return e;
    if (i < 0)
        return -ERANGE;
    if (!buf || cap == 0)
        return -EINVAL;
    size_t n;
    Oid t;
    if ((e = array_elem(&c, i, buf, cap, &n, &t)) < 0)
        return e;
    if (c.bin && t != OID_TEXT && t != OID_VARCHAR && t != OID_BPCHAR && t != OID_NAME &&
        t != OID_JSON)
        return -EINVAL;
    return 0;
}
