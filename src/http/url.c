/*
 * url.c - URL parsing, reference resolution, normalisation for dedup, and
 * Python's urljoin. Three parsers share one output discipline: the result
 * is written left to right, in serialisation order, straight into the
 * simul_url's own buffer (capped at SIMUL_URL_MAX), recording component
 * offsets as it goes - so a parse costs no allocation per component and,
 * once the buffer exists, none at all.
 *
 *  - whatwg_parse: the WHATWG URL Standard's basic URL parser (no state
 *    override), its states folded into straight-line code; hosts through
 *    the host parser (IPv6, IPv4 with WHATWG's numeric forms, IDNA via
 *    libidn2 with UTS #46 non-transitional processing, opaque hosts).
 *  - rfc_parse: RFC 3986's generic syntax and strict resolution (5.2).
 *  - simul_url_join_py: a transcription of CPython 3.11's urljoin.
 */
#include <simul/url.h>

#include "../core/ascii.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <idn2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <uninorm.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---- character classes ------------------------------------------------ */

/* Percent-encode sets (URL Standard 1.3), one bit each, for bytes < 0x80;
 * every byte >= 0x80 is in every set (bytes are UTF-8). */
enum { E_C0 = 1, E_FRAG = 2, E_QUERY = 4, E_SQUERY = 8, E_PATH = 16, E_USER = 32,
       /* Not encode sets: character classes. */
       C_SCHEME = 64, C_HEX = 128 };
static uint8_t ctab[256];

__attribute__((constructor)) static void ctab_init(void)
{
    for (int c = 0; c < 256; c++) {
        uint8_t m = 0;
        if (c < 0x20 || c > 0x7e)
            m |= E_C0 | E_FRAG | E_QUERY | E_SQUERY | E_PATH | E_USER;
        if (strchr(" \"<>`", c) && c)
            m |= E_FRAG;
        if (strchr(" \"#<>", c) && c)
            m |= E_QUERY | E_SQUERY | E_PATH | E_USER;
        if (c == '\'')
            m |= E_SQUERY;
        if (strchr("?^`{}", c) && c)
            m |= E_PATH | E_USER;
        if (strchr("/:;=@[\\]^|", c) && c)
            m |= E_USER;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '+' || c == '-' || c == '.')
            m |= C_SCHEME;
        if ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9'))
            m |= C_HEX;
        ctab[c] = m;
    }
}

static inline bool is_alpha(unsigned char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }
static inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline bool is_hex(unsigned char c) { return ctab[c] & C_HEX; }
static inline char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c; }
static inline bool unreserved(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* ---- the output buffer ------------------------------------------------ */

/* Appends are checked against the cap; overflow sets a sticky flag that
 * the caller turns into -ENAMETOOLONG once, at the end. */
typedef struct {
    char    *b;
    uint32_t n;
    bool     over;
} wbuf;

static inline void put(wbuf *w, char c)
{
    if (w->n < SIMUL_URL_MAX)
        w->b[w->n++] = c;
    else
        w->over = true;
}

static inline void putn(wbuf *w, const char *s, size_t n)
{
    if (n > SIMUL_URL_MAX - w->n) {
        w->over = true;
        return;
    }
    memcpy(w->b + w->n, s, n);
    w->n += (uint32_t)n;
}

/* Appends s[0, n) percent-encoding the bytes in `set`. */
static void put_enc(wbuf *w, const char *s, size_t n, uint8_t set)
{
    if (n > (SIMUL_URL_MAX - w->n) / 3) {  /* slow, exact check near the cap */
        for (size_t i = 0; i < n && !w->over; i++) {
            unsigned char c = (unsigned char)s[i];
            if (ctab[c] & set) {
                put(w, '%');
                put(w, simul__hexdigit(c >> 4));
                put(w, simul__hexdigit(c & 15));
            } else {
                put(w, (char)c);
            }
        }
        return;
    }
    char *o = w->b + w->n;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (ctab[c] & set) {
            o[0] = '%';
            o[1] = simul__hexdigit(c >> 4);
            o[2] = simul__hexdigit(c & 15);
            o += 3;
        } else {
            *o++ = (char)c;
        }
    }
    w->n = (uint32_t)(o - w->b);
}

static int ensure_buf(simul_url *u)
{
    if (u->cap >= SIMUL_URL_MAX + 1)
        return 0;
    char *b = realloc(u->href, SIMUL_URL_MAX + 1);
    if (!b)
        return -ENOMEM;
    u->href = b;
    u->cap = SIMUL_URL_MAX + 1;
    return 0;
}

static void reset(simul_url *u)
{
    char *b = u->href;
    uint32_t cap = u->cap;
    memset(u, 0, sizeof *u);
    u->href = b;
    u->cap = cap;
    u->port = -1;
    if (b)
        b[0] = '\0';
}

void simul_url_init(simul_url *u)
{
    memset(u, 0, sizeof *u);
    u->port = -1;
}

void simul_url_fini(simul_url *u)
{
    if (!u)
        return;
    free(u->href);
    simul_url_init(u);
}

/* Default port of a special scheme; 0 for file, -1 for none, -2 when the
 * scheme is not special. */
static int special_port(const char *s, size_t n)
{
    switch (n) {
    case 2:
        if (!memcmp(s, "ws", 2))
            return 80;
        break;
    case 3:
        if (!memcmp(s, "wss", 3))
            return 443;
        if (!memcmp(s, "ftp", 3))
            return 21;
        break;
    case 4:
        if (!memcmp(s, "http", 4))
            return 80;
        if (!memcmp(s, "file", 4))
            return -1;
        break;
    case 5:
        if (!memcmp(s, "https", 5))
            return 443;
        break;
    }
    return -2;
}

/* ---- hosts ------------------------------------------------------------- */

static bool forbidden_host(unsigned char c)
{
    return c == 0 || c == '\t' || c == '\n' || c == '\r' || c == ' ' || c == '#' ||
           c == '/' || c == ':' || c == '<' || c == '>' || c == '?' || c == '@' ||
           c == '[' || c == '\\' || c == ']' || c == '^' || c == '|';
}

static bool forbidden_domain(unsigned char c)
{
    return forbidden_host(c) || c < 0x20 || c == '%' || c == 0x7f;
}

/* WHATWG IPv4 number parser: 0x.. hex, 0.. octal, decimal. Values above
 * 2^32 saturate (they fail later anyway). */
static int ipv4_number(const char *s, size_t n, uint64_t *out)
{
    if (n == 0)
        return -1;
    int radix = 10;
    if (n >= 2 && s[0] == '0' && (s[1] | 0x20) == 'x') {
        radix = 16;
        s += 2;
        n -= 2;
    } else if (n >= 2 && s[0] == '0') {
        radix = 8;
        s++;
        n--;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int d;
        if (radix == 16 && is_hex(c))
            d = simul__hexval(c);
        else if (is_digit(c) && c - '0' < radix)
            d = c - '0';
        else
            return -1;
        v = v * (uint64_t)radix + (uint64_t)d;
        if (v > (1ull << 33))
            v = 1ull << 33;
    }
    *out = v;
    return 0;
}

static bool ends_in_number(const char *s, size_t n)
{
    if (n && s[n - 1] == '.')
        n--;
    size_t i = n;
    while (i > 0 && s[i - 1] != '.')
        i--;
    const char *last = s + i;
    size_t ln = n - i;
    if (ln == 0)
        return false;
    bool digits = true;
    for (size_t k = 0; k < ln; k++)
        digits &= is_digit((unsigned char)last[k]);
    if (digits)
        return true;
    uint64_t v;
    return ipv4_number(last, ln, &v) == 0;
}

static int ipv4_parse(const char *s, size_t n, uint32_t *out)
{
    uint64_t num[4];
    int parts = 0;
    if (n && s[n - 1] == '.')
        n--;   /* a trailing dot is allowed (validation error only) */
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < n && s[j] != '.')
            j++;
        if (parts == 4)
            return -1;
        if (ipv4_number(s + i, j - i, &num[parts]) < 0)
            return -1;
        parts++;
        if (j >= n)
            break;
        i = j + 1;
    }
    for (int k = 0; k < parts - 1; k++)
        if (num[k] > 255)
            return -1;
    if (num[parts - 1] >= (1ull << (8 * (5 - parts))))
        return -1;
    uint64_t v = num[parts - 1];
    for (int k = 0; k < parts - 1; k++)
        v += num[k] << (8 * (3 - k));
    *out = (uint32_t)v;
    return 0;
}

static void put_u32(wbuf *w, uint32_t v)
{
    char tmp[12];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k)
        put(w, tmp[--k]);
}

static void ipv4_serialize(wbuf *w, uint32_t a)
{
    for (int k = 3; k >= 0; k--) {
        put_u32(w, (a >> (8 * k)) & 255);
        if (k)
            put(w, '.');
    }
}

/* The URL Standard's IPv6 parser, to 8 pieces. */
static int ipv6_parse(const char *s, size_t n, uint16_t a[8])
{
    memset(a, 0, 16);
    int piece = 0, compress = -1;
    size_t p = 0;
#define C (p < n ? (unsigned char)s[p] : 0u)
    if (n && s[0] == ':') {
        if (n < 2 || s[1] != ':')
            return -1;
        p = 2;
        piece = 1;
        compress = 1;
    }
    while (p < n) {
        if (piece == 8)
            return -1;
        if (C == ':') {
            if (compress != -1)
                return -1;
            p++;
            compress = ++piece;
            continue;
        }
        unsigned v = 0, len = 0;
        while (len < 4 && p < n && is_hex(C)) {
            v = v * 16 + (unsigned)simul__hexval(C);
            p++;
            len++;
        }
        if (p < n && C == '.') {
            if (len == 0)
                return -1;
            p -= len;
            if (piece > 6)
                return -1;
            int seen = 0;
            while (p < n) {
                int v4 = -1;
                if (seen > 0) {
                    if (C == '.' && seen < 4)
                        p++;
                    else
                        return -1;
                }
                if (p >= n || !is_digit(C))
                    return -1;
                while (p < n && is_digit(C)) {
                    int d = C - '0';
                    if (v4 == -1)
                        v4 = d;
                    else if (v4 == 0)
                        return -1;
                    else
                        v4 = v4 * 10 + d;
                    if (v4 > 255)
                        return -1;
                    p++;
                }
                a[piece] = (uint16_t)(a[piece] * 0x100 + v4);
                seen++;
                if (seen == 2 || seen == 4)
                    piece++;
            }
            if (seen != 4)
                return -1;
            break;
        } else if (p < n && C == ':') {
            p++;
            if (p >= n)
                return -1;
        } else if (p < n) {
            return -1;
        }
        a[piece++] = (uint16_t)v;
    }
#undef C
    if (compress != -1) {
        int swaps = piece - compress;
        piece = 7;
        while (piece != 0 && swaps > 0) {
            uint16_t t = a[piece];
            a[piece] = a[compress + swaps - 1];
            a[compress + swaps - 1] = t;
            piece--;
            swaps--;
        }
    } else if (piece != 8) {
        return -1;
    }
    return 0;
}

static void ipv6_serialize(wbuf *w, const uint16_t a[8])
{
    int best = -1, bestlen = 1;
    for (int i = 0; i < 8;) {
        if (a[i]) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && !a[j])
            j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j;
    }
    put(w, '[');
    bool ignore0 = false;
    for (int i = 0; i < 8; i++) {
        if (ignore0 && !a[i])
            continue;
        ignore0 = false;
        if (i == best) {
            putn(w, i == 0 ? "::" : ":", i == 0 ? 2 : 1);
            ignore0 = true;
            continue;
        }
        static const char hx[] = "0123456789abcdef";
        char t[4];
        int k = 0;
        unsigned v = a[i];
        do {
            t[k++] = hx[v & 15];
            v >>= 4;
        } while (v);
        while (k)
            put(w, t[--k]);
        if (i != 7)
            put(w, ':');
    }
    put(w, ']');
}

/* Domain to ASCII for a name that is not plain ASCII (or has an xn--
 * label): UTS #46 non-transitional via libidn2, into w. */
static int idna_to_ascii(wbuf *w, const char *s, size_t n)
{
    char stackbuf[512];
    char *z = n < sizeof stackbuf ? stackbuf : malloc(n + 1);
    if (!z)
        return -ENOMEM;
    memcpy(z, s, n);
    z[n] = '\0';
    uint8_t *out = NULL;
    int rc = idn2_lookup_u8((const uint8_t *)z, &out, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    if (z != stackbuf)
        free(z);
    if (rc != IDN2_OK)
        return -EINVAL;
    putn(w, (const char *)out, strlen((char *)out));
    idn2_free(out);
    return 0;
}

/* The URL Standard's host parser, writing the serialised host to w.
 * special: the URL's scheme is special (else hosts are opaque). */
static int host_parse(wbuf *w, const char *s, size_t n, bool special, uint8_t *type)
{
    if (n && s[0] == '[') {
        uint16_t a[8];
        if (s[n - 1] != ']' || n < 2 || ipv6_parse(s + 1, n - 2, a) < 0)
            return -EINVAL;
        ipv6_serialize(w, a);
        *type = SIMUL_URL_HOST_IPV6;
        return 0;
    }
    *type = SIMUL_URL_HOST_NAME;
    if (!special) {
        for (size_t i = 0; i < n; i++)
            if (forbidden_host((unsigned char)s[i]))
                return -EINVAL;
        put_enc(w, s, n, E_C0);
        return 0;
    }
    if (n == 0)
        return -EINVAL;
    /* Percent-decode and see whether the fast path (ASCII, no "xn--"
     * label: lowercasing is all UTS #46 does) applies. */
    uint32_t start = w->n;
    bool ascii = true, xn = false;
    size_t lab = 0;   /* bytes into the current label */
    char labstart[4];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n + 0 && is_hex((unsigned char)s[i + 1]) &&
            is_hex((unsigned char)s[i + 2])) {
            c = (unsigned char)(simul__hexval((unsigned char)s[i + 1]) * 16 +
                                simul__hexval((unsigned char)s[i + 2]));
            i += 2;
        }
        if (c >= 0x80)
            ascii = false;
        c = (unsigned char)lower((char)c);
        if (c == '.') {
            lab = 0;
        } else {
            if (lab < 4)
                labstart[lab] = (char)c;
            if (++lab == 4 && !memcmp(labstart, "xn--", 4))
                xn = true;
        }
        put(w, (char)c);
    }
    if (w->over)
        return -ENAMETOOLONG;
    if (!ascii || xn) {
        size_t dn = w->n - start;
        char tmp[512];
        char *d = dn <= sizeof tmp ? tmp : malloc(dn);
        if (!d)
            return -ENOMEM;
        memcpy(d, w->b + start, dn);
        w->n = start;
        int rc = idna_to_ascii(w, d, dn);
        if (d != tmp)
            free(d);
        if (rc < 0)
            return rc;
    }
    if (w->n == start)
        return -EINVAL;
    for (uint32_t i = start; i < w->n; i++)
        if (forbidden_domain((unsigned char)w->b[i]))
            return -EINVAL;
    if (ends_in_number(w->b + start, w->n - start)) {
        uint32_t a;
        if (ipv4_parse(w->b + start, w->n - start, &a) < 0)
            return -EINVAL;
        w->n = start;
        ipv4_serialize(w, a);
        *type = SIMUL_URL_HOST_IPV4;
    }
    return 0;
}

/* ---- the WHATWG parser ------------------------------------------------- */

typedef struct {
    const char      *s;
    size_t           n;
    const simul_url *base;
    simul_url       *u;
    wbuf             w;
    bool             special, file;
} wp;

static inline bool is_slash(const wp *p, size_t i)
{
    return i < p->n && (p->s[i] == '/' || (p->special && p->s[i] == '\\'));
}

static bool drive_letter(const char *s, size_t n, bool normalized)
{
    return n == 2 && is_alpha((unsigned char)s[0]) &&
           (s[1] == ':' || (!normalized && s[1] == '|'));
}

/* "starts with a Windows drive letter" (URL Standard 4.2). */
static bool starts_drive(const char *s, size_t n)
{
    return n >= 2 && drive_letter(s, 2, false) &&
           (n == 2 || s[2] == '/' || s[2] == '\\' || s[2] == '?' || s[2] == '#');
}

static void shorten_path(wp *p)
{
    simul_url *u = p->u;
    uint32_t i = p->w.n;
    if (i == u->path_start)
        return;
    while (i > u->path_start && p->w.b[i - 1] != '/')
        i--;
    if (i == 0)
        return;
    i--;  /* the '/' that opens the last segment */
    if (p->file && i == u->path_start &&
        drive_letter(p->w.b + i + 1, p->w.n - i - 1, true))
        return;
    p->w.n = i;
}

static int fragment_state(wp *p, size_t i)
{
    p->u->path_end = p->u->path_end ? p->u->path_end : p->w.n;
    p->u->fragment_start = p->w.n;
    put(&p->w, '#');
    put_enc(&p->w, p->s + i, p->n - i, E_FRAG);
    return 0;
}

static int query_state(wp *p, size_t i)
{
    p->u->path_end = p->w.n;
    p->u->query_start = p->w.n;
    put(&p->w, '?');
    const char *h = memchr(p->s + i, '#', p->n - i);
    size_t e = h ? (size_t)(h - p->s) : p->n;
    put_enc(&p->w, p->s + i, e - i, p->special ? E_SQUERY : E_QUERY);
    if (h)
        return fragment_state(p, e + 1);
    return 0;
}

static bool single_dot(const char *s, size_t n)
{
    return (n == 1 && s[0] == '.') ||
           (n == 3 && s[0] == '%' && s[1] == '2' && (s[2] | 0x20) == 'e');
}

static bool double_dot(const char *s, size_t n)
{
    if (n == 2)
        return s[0] == '.' && s[1] == '.';
    if (n == 4)
        return (s[0] == '.' && single_dot(s + 1, 3)) || (single_dot(s, 3) && s[3] == '.');
    if (n == 6)
        return single_dot(s, 3) && single_dot(s + 3, 3);
    return false;
}

/* Path state from a segment start at i. */
static int path_state(wp *p, size_t i)
{
    for (;;) {
        size_t q = i;
        while (q < p->n) {
            char c = p->s[q];
            if (c == '/' || c == '?' || c == '#' || (p->special && c == '\\'))
                break;
            q++;
        }
        bool slash = is_slash(p, q);
        const char *seg = p->s + i;
        size_t sn = q - i;
        if (double_dot(seg, sn)) {
            shorten_path(p);
            if (!slash)
                put(&p->w, '/');
        } else if (single_dot(seg, sn)) {
            if (!slash)
                put(&p->w, '/');
        } else if (p->file && p->w.n == p->u->path_start && drive_letter(seg, sn, false)) {
            put(&p->w, '/');
            put(&p->w, seg[0]);
            put(&p->w, ':');
        } else {
            put(&p->w, '/');
            put_enc(&p->w, seg, sn, E_PATH);
        }
        if (q >= p->n) {
            p->u->path_end = p->w.n;
            return 0;
        }
        if (p->s[q] == '?')
            return query_state(p, q + 1);
        if (p->s[q] == '#') {
            p->u->path_end = p->w.n;
            return fragment_state(p, q + 1);
        }
        i = q + 1;
    }
}

/* Path start state at i (the authority, if any, is written). */
static int path_start(wp *p, size_t i)
{
    p->u->path_start = p->w.n;
    if (p->special) {
        if (is_slash(p, i))
            i++;
        return path_state(p, i);
    }
    if (i < p->n && p->s[i] == '?')
        return query_state(p, i + 1);
    if (i < p->n && p->s[i] == '#') {
        p->u->path_end = p->w.n;
        return fragment_state(p, i + 1);
    }
    if (i < p->n) {
        if (p->s[i] == '/')
            i++;
        return path_state(p, i);
    }
    p->u->path_end = p->w.n;
    return 0;
}

/* Authority state at i (after the slashes): credentials, host, port. */
static int authority_state(wp *p, size_t i)
{
    simul_url *u = p->u;
    putn(&p->w, "//", 2);
    size_t e = i;
    while (e < p->n) {
        char c = p->s[e];
        if (c == '/' || c == '?' || c == '#' || (p->special && c == '\\'))
            break;
        e++;
    }
    size_t at = (size_t)-1;
    for (size_t k = e; k > i; k--)
        if (p->s[k - 1] == '@') {
            at = k - 1;
            break;
        }
    uint32_t us = p->w.n;
    u->user_end = u->pass_start = u->pass_end = us;
    if (at != (size_t)-1) {
        if (at + 1 == e)
            return -EINVAL;
        const char *col = memchr(p->s + i, ':', at - i);
        size_t ue = col ? (size_t)(col - p->s) : at;
        put_enc(&p->w, p->s + i, ue - i, E_USER);
        u->user_end = p->w.n;
        if (col) {
            put(&p->w, ':');
            u->pass_start = p->w.n;
            put_enc(&p->w, p->s + ue + 1, at - ue - 1, E_USER);
            u->pass_end = p->w.n;
            if (u->pass_end == u->pass_start) {   /* "user:@" drops the ':' */
                p->w.n = u->user_end;
                u->pass_start = u->pass_end = u->user_end;
            }
        } else {
            u->pass_start = u->pass_end = u->user_end;
        }
        if (p->w.n == us)       /* "@host", ":@host": no credentials */
            u->user_end = u->pass_start = u->pass_end = us;
        else
            put(&p->w, '@');
        i = at + 1;
    }
    /* Hostname state: up to a ':' outside brackets. */
    size_t h = i;
    bool br = false;
    while (h < e && (p->s[h] != ':' || br)) {
        if (p->s[h] == '[')
            br = true;
        else if (p->s[h] == ']')
            br = false;
        h++;
    }
    if (h < e && h == i)
        return -EINVAL;    /* ":port" with no host */
    if (p->special && h == i)
        return -EINVAL;
    u->host_start = p->w.n;
    int rc = host_parse(&p->w, p->s + i, h - i, p->special, &u->host_type);
    if (rc < 0)
        return rc;
    u->host_end = p->w.n;
    if (h < e) {   /* port state */
        uint32_t v = 0;
        size_t k = h + 1;
        for (; k < e; k++) {
            if (!is_digit((unsigned char)p->s[k]))
                return -EINVAL;
            v = v * 10 + (uint32_t)(p->s[k] - '0');
            if (v > 65535)
                return -EINVAL;
        }
        if (k > h + 1) {
            int def = special_port(p->w.b, u->scheme_end);
            if ((int)v != def) {
                put(&p->w, ':');
                put_u32(&p->w, v);
                u->port = (int32_t)v;
            }
        }
    }
    u->auth_end = p->w.n;
    return path_start(p, e);
}

/* Copies base's authority (host_type, offsets; same scheme length). */
static void copy_base_auth(wp *p)
{
    const simul_url *b = p->base;
    simul_url *u = p->u;
    if (b->host_type != SIMUL_URL_HOST_NONE) {
        putn(&p->w, b->href + b->scheme_end + 1, b->auth_end - b->scheme_end - 1);
        u->user_end = b->user_end;
        u->pass_start = b->pass_start;
        u->pass_end = b->pass_end;
        u->host_start = b->host_start;
        u->host_end = b->host_end;
        u->port = b->port;
        u->host_type = b->host_type;
    }
    u->auth_end = p->w.n;
}

static void copy_base_path(wp *p)
{
    const simul_url *b = p->base;
    p->u->path_start = p->w.n;
    putn(&p->w, b->href + b->path_start, b->path_end - b->path_start);
}

static void copy_base_query(wp *p)
{
    const simul_url *b = p->base;
    p->u->path_end = p->w.n;
    if (b->query_start) {
        uint32_t e = b->fragment_start ? b->fragment_start : b->len;
        p->u->query_start = p->w.n;
        putn(&p->w, b->href + b->query_start, e - b->query_start);
    }
}

/* After a base's path is copied: the reference's end, query or fragment
 * finish the URL (returns 1 and the result in *rc); else 0: go on. */
static int base_rest(wp *p, size_t i, int *rc)
{
    if (i >= p->n) {
        copy_base_query(p);
        *rc = 0;
        return 1;
    }
    if (p->s[i] == '?') {
        *rc = query_state(p, i + 1);
        return 1;
    }
    if (p->s[i] == '#') {
        copy_base_query(p);
        *rc = fragment_state(p, i + 1);
        return 1;
    }
    return 0;
}

static int relative_state(wp *p, size_t i)
{
    if (is_slash(p, i)) {          /* relative slash state */
        i++;
        if (p->special && is_slash(p, i)) {
            while (is_slash(p, i))  /* special authority ignore slashes */
                i++;
            return authority_state(p, i);
        }
        if (i < p->n && p->s[i] == '/')
            return authority_state(p, i + 1);
        copy_base_auth(p);
        p->u->path_start = p->w.n;
        return path_state(p, i);
    }
    copy_base_auth(p);
    copy_base_path(p);
    int rc;
    if (base_rest(p, i, &rc))
        return rc;
    shorten_path(p);
    return path_state(p, i);
}

static bool base_is_file(const simul_url *b)
{
    return b && b->scheme_end == 4 && !memcmp(b->href, "file", 4);
}

static int file_state(wp *p, size_t i)
{
    simul_url *u = p->u;
    const simul_url *b = p->base;
    u->host_type = SIMUL_URL_HOST_NAME;
    if (is_slash(p, i)) {   /* file slash state */
        i++;
        if (is_slash(p, i)) {   /* file host state */
            i++;
            size_t e = i;
            while (e < p->n && !strchr("/\\?#", p->s[e]))
                e++;
            putn(&p->w, "//", 2);
            u->user_end = u->pass_start = u->pass_end = u->host_start = p->w.n;
            if (drive_letter(p->s + i, e - i, false)) {
                u->host_end = u->auth_end = p->w.n;
                u->path_start = p->w.n;
                return path_state(p, i);
            }
            if (e > i) {
                int rc = host_parse(&p->w, p->s + i, e - i, true, &u->host_type);
                if (rc < 0)
                    return rc;
                if (p->w.n - u->host_start == 9 && !memcmp(p->w.b + u->host_start, "localhost", 9))
                    p->w.n = u->host_start;
            }
            u->host_end = u->auth_end = p->w.n;
            return path_start(p, e);
        }
        putn(&p->w, "//", 2);
        u->user_end = u->pass_start = u->pass_end = u->host_start = p->w.n;
        if (base_is_file(b)) {
            putn(&p->w, b->href + b->host_start, b->host_end - b->host_start);
            u->host_end = u->auth_end = p->w.n;
            u->path_start = p->w.n;
            if (!starts_drive(p->s + i, p->n - i)) {
                const char *bp = b->href + b->path_start;
                size_t bn = b->path_end - b->path_start;
                if (bn >= 3 && drive_letter(bp + 1, (bn == 3 || bp[3] == '/') ? 2 : 0, true))
                    putn(&p->w, bp, 3);
            }
        } else {
            u->host_end = u->auth_end = p->w.n;
            u->path_start = p->w.n;
        }
        return path_state(p, i);
    }
    putn(&p->w, "//", 2);
    u->user_end = u->pass_start = u->pass_end = u->host_start = p->w.n;
    if (base_is_file(b)) {
        putn(&p->w, b->href + b->host_start, b->host_end - b->host_start);
        u->host_end = u->auth_end = p->w.n;
        copy_base_path(p);
        int rc;
        if (base_rest(p, i, &rc))
            return rc;
        if (!starts_drive(p->s + i, p->n - i))
            shorten_path(p);
        else
            p->w.n = u->path_start;
        return path_state(p, i);
    }
    u->host_end = u->auth_end = p->w.n;
    u->path_start = p->w.n;
    return path_state(p, i);
}

static int opaque_path_state(wp *p, size_t i)
{
    simul_url *u = p->u;
    u->opaque_path = 1;
    u->path_start = p->w.n;
    size_t e = i;
    while (e < p->n && p->s[e] != '?' && p->s[e] != '#')
        e++;
    size_t pe = e;
    if (e < p->n)   /* trailing spaces before ?/# are stripped */
        while (pe > i && p->s[pe - 1] == ' ')
            pe--;
    put_enc(&p->w, p->s + i, pe - i, E_C0);
    u->path_end = p->w.n;
    if (e >= p->n)
        return 0;
    if (p->s[e] == '?')
        return query_state(p, e + 1);
    return fragment_state(p, e + 1);
}

static int whatwg_parse(wp *p)
{
    simul_url *u = p->u;
    const simul_url *b = p->base;
    size_t i = 0;
    /* Scheme state. */
    size_t se = 0;
    if (p->n && is_alpha((unsigned char)p->s[0])) {
        se = 1;
        while (se < p->n && (ctab[(unsigned char)p->s[se]] & C_SCHEME))
            se++;
        if (se >= p->n || p->s[se] != ':')
            se = 0;
    }
    if (se) {
        for (size_t k = 0; k < se; k++)
            put(&p->w, lower(p->s[k]));
        u->scheme_end = p->w.n;
        put(&p->w, ':');
        int sp = special_port(p->w.b, se);
        p->special = sp != -2;
        p->file = sp == -1;
        i = se + 1;
        if (p->file)
            return file_state(p, i);
        if (p->special) {
            /* Special relative or authority state. */
            if (b && b->special && b->scheme_end == se && !memcmp(b->href, p->w.b, se) &&
                !(i + 1 < p->n && p->s[i] == '/' && p->s[i + 1] == '/'))
                return relative_state(p, i);
            while (is_slash(p, i))
                i++;
            return authority_state(p, i);
        }
        if (i < p->n && p->s[i] == '/') {   /* path or authority state */
            if (i + 1 < p->n && p->s[i + 1] == '/')
                return authority_state(p, i + 2);
            u->path_start = p->w.n;
            return path_state(p, i + 1);
        }
        return opaque_path_state(p, i);
    }
    /* No scheme state. */
    if (!b)
        return -EINVAL;
    if (b->opaque_path) {
        if (!p->n || p->s[0] != '#')
            return -EINVAL;
        putn(&p->w, b->href, b->fragment_start ? b->fragment_start : b->len);
        u->scheme_end = b->scheme_end;
        u->path_start = b->path_start;
        u->path_end = b->path_end;
        u->query_start = b->query_start;
        u->opaque_path = 1;
        return fragment_state(p, 1);
    }
    putn(&p->w, b->href, b->scheme_end + 1);
    u->scheme_end = b->scheme_end;
    p->special = b->special;
    p->file = base_is_file(b);
    if (p->file)
        return file_state(p, 0);
    return relative_state(p, 0);
}

/* ---- RFC 3986 ---------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t      n;
    bool        def;
} rspan;

typedef struct {
    rspan scheme, auth, path, query, frag;
} rparts;

static bool rfc_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"<>\\^`{|}", c);
}

static int rfc_split(const char *s, size_t n, rparts *r)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < n; i++)
        if (!rfc_char((unsigned char)s[i]))
            return -EINVAL;
    size_t i = 0;
    size_t k = 0;
    while (k < n && !strchr(":/?#", s[k]))
        k++;
    if (k < n && s[k] == ':' && k > 0) {
        if (!is_alpha((unsigned char)s[0]))
            return -EINVAL;
        for (size_t j = 1; j < k; j++)
            if (!(ctab[(unsigned char)s[j]] & C_SCHEME))
                return -EINVAL;
        r->scheme = (rspan){s, k, true};
        i = k + 1;
    } else if (k < n && s[k] == ':') {
        return -EINVAL;
    }
    if (n - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        size_t e = i + 2;
        while (e < n && !strchr("/?#", s[e]))
            e++;
        r->auth = (rspan){s + i + 2, e - i - 2, true};
        i = e;
    }
    size_t e = i;
    while (e < n && s[e] != '?' && s[e] != '#')
        e++;
    r->path = (rspan){s + i, e - i, true};
    i = e;
    if (i < n && s[i] == '?') {
        e = i + 1;
        while (e < n && s[e] != '#')
            e++;
        r->query = (rspan){s + i + 1, e - i - 1, true};
        i = e;
    }
    if (i < n && s[i] == '#')
        r->frag = (rspan){s + i + 1, n - i - 1, true};
    return 0;
}

/* remove_dot_segments (RFC 3986 5.2.4) in place; returns the new length. */
static size_t remove_dots(char *b, size_t n)
{
    size_t i = 0, o = 0;
    while (i < n) {
        const char *s = b + i;
        size_t r = n - i;
        if (r >= 3 && s[0] == '.' && s[1] == '.' && s[2] == '/') {
            i += 3;
        } else if (r >= 2 && s[0] == '.' && s[1] == '/') {
            i += 2;
        } else if (r >= 3 && s[0] == '/' && s[1] == '.' && s[2] == '/') {
            i += 2;
        } else if (r == 2 && s[0] == '/' && s[1] == '.') {
            i += 1;
            b[i] = '/';
        } else if ((r >= 4 && !memcmp(s, "/../", 4)) || (r == 3 && !memcmp(s, "/..", 3))) {
            if (r == 3) {   /* "/.." becomes "/" */
                i += 2;
                b[i] = '/';
            } else {        /* "/../" becomes "/" */
                i += 3;
            }
            while (o > 0 && b[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
        } else if ((r == 1 && s[0] == '.') || (r == 2 && s[0] == '.' && s[1] == '.')) {
            i = n;
        } else {
            size_t j = i + (s[0] == '/');
            while (j < n && b[j] != '/')
                j++;
            memmove(b + o, b + i, j - i);
            o += j - i;
            i = j;
        }
    }
    return o;
}

/* Records user/host/port offsets of an RFC authority written at [a, e). */
static void rfc_auth_offsets(simul_url *u, uint32_t a, uint32_t e)
{
    const char *b = u->href;
    uint32_t at = a;
    for (uint32_t k = e; k > a; k--)
        if (b[k - 1] == '@') {
            at = k;
            break;
        }
    u->user_end = u->pass_start = u->pass_end = a;
    if (at > a) {
        const char *c = memchr(b + a, ':', at - 1 - a);
        u->user_end = c ? (uint32_t)(c - b) : at - 1;
        u->pass_start = c ? u->user_end + 1 : u->user_end;
        u->pass_end = c ? at - 1 : u->user_end;
    }
    u->host_start = at;
    uint32_t h = at;
    if (h < e && b[h] == '[') {
        while (h < e && b[h] != ']')
            h++;
        if (h < e)
            h++;
    } else {
        while (h < e && b[h] != ':')
            h++;
    }
    u->host_end = h;
    u->host_type = SIMUL_URL_HOST_NAME;
    if (h < e && b[h] == ':' && h + 1 < e) {
        long v = 0;
        for (uint32_t k = h + 1; k < e && v <= 65535; k++)
            v = is_digit((unsigned char)b[k]) ? v * 10 + (b[k] - '0') : 65536;
        u->port = v <= 65535 ? (int32_t)v : -1;
    }
    u->auth_end = e;
}

static int rfc_parse(simul_url *u, wbuf *w, const char *s, size_t n, const simul_url *base)
{
    rparts r, bp;
    if (rfc_split(s, n, &r) < 0)
        return -EINVAL;
    if (!r.scheme.def) {
        if (!base)
            return -EINVAL;
        if (rfc_split(base->href, base->len, &bp) < 0 || !bp.scheme.def)
            return -EINVAL;
    }
    const rspan *sch = r.scheme.def ? &r.scheme : &bp.scheme;
    putn(w, sch->s, sch->n);
    u->scheme_end = w->n;
    put(w, ':');
    const rspan *auth = (r.scheme.def || r.auth.def) ? &r.auth : &bp.auth;
    if (auth->def) {
        putn(w, "//", 2);
        uint32_t a = w->n;
        putn(w, auth->s, auth->n);
        if (w->over)
            return -ENAMETOOLONG;
        rfc_auth_offsets(u, a, w->n);
    } else {
        u->auth_end = w->n;
    }
    u->path_start = w->n;
    const rspan *query = &r.query;
    if (r.scheme.def || r.auth.def || (r.path.n && r.path.s[0] == '/')) {
        putn(w, r.path.s, r.path.n);
    } else if (r.path.n == 0) {
        putn(w, bp.path.s, bp.path.n);
        if (!r.query.def)
            query = &bp.query;
    } else {   /* merge (5.2.3) */
        if (bp.auth.def && bp.path.n == 0) {
            put(w, '/');
        } else {
            const char *sl = NULL;
            for (size_t k = bp.path.n; k > 0; k--)
                if (bp.path.s[k - 1] == '/') {
                    sl = bp.path.s + k;
                    break;
                }
            if (sl)
                putn(w, bp.path.s, (size_t)(sl - bp.path.s));
        }
        putn(w, r.path.s, r.path.n);
    }
    if (w->over)
        return -ENAMETOOLONG;
    w->n = u->path_start + (uint32_t)remove_dots(w->b + u->path_start, w->n - u->path_start);
    u->path_end = w->n;
    if (query->def) {
        u->query_start = w->n;
        put(w, '?');
        putn(w, query->s, query->n);
    }
    if (r.frag.def) {
        u->fragment_start = w->n;
        put(w, '#');
        putn(w, r.frag.s, r.frag.n);
    }
    u->special = special_port(w->b, u->scheme_end) != -2;
    return 0;
}

/* ---- public entry points ----------------------------------------------- */

static bool c0_or_space(unsigned char c) { return c <= 0x20; }

int simul_url_parse(simul_url *u, const char *input, size_t len, const simul_url *base,
                    unsigned flags)
{
    if (!u || (!input && len) || base == u || (flags & ~3u))
        return -EINVAL;
    int rc = ensure_buf(u);
    if (rc < 0)
        return rc;
    reset(u);
    if (len > SIMUL_URL_MAX)
        return -ENAMETOOLONG;
    if (base && base->len == 0)
        return -EINVAL;
    if (base && (base->flags & SIMUL_URL_RFC3986) != (flags & SIMUL_URL_RFC3986))
        return -EINVAL;
    wbuf w = {u->href, 0, false};
    if (flags & SIMUL_URL_RFC3986) {
        rc = rfc_parse(u, &w, input, len, base);
    } else {
        /* Strip leading and trailing C0 controls and spaces; remove every
         * tab and newline (into a scratch copy only when there are any). */
        while (len && c0_or_space((unsigned char)input[0])) {
            input++;
            len--;
        }
        while (len && c0_or_space((unsigned char)input[len - 1]))
            len--;
        char *scratch = NULL;
        for (size_t k = 0; k < len; k++) {
            char c = input[k];
            if (c == '\t' || c == '\n' || c == '\r') {
                scratch = malloc(len);
                if (!scratch)
                    return -ENOMEM;
                size_t m = 0;
                for (size_t j = 0; j < len; j++)
                    if (input[j] != '\t' && input[j] != '\n' && input[j] != '\r')
                        scratch[m++] = input[j];
                input = scratch;
                len = m;
                break;
            }
        }
        wp p = {.s = input, .n = len, .base = base, .u = u, .w = w};
        rc = whatwg_parse(&p);
        w = p.w;
        free(scratch);
        if (rc == 0 && !w.over) {
            if (!u->path_end)
                u->path_end = u->query_start ? u->query_start
                            : u->fragment_start ? u->fragment_start : w.n;
            /* Host-less path starting with "//" gets the "/." prefix. */
            if (u->host_type == SIMUL_URL_HOST_NONE && !u->opaque_path &&
                u->path_end - u->path_start >= 2 && w.b[u->path_start] == '/' &&
                w.b[u->path_start + 1] == '/') {
                if (w.n + 2 > SIMUL_URL_MAX) {
                    w.over = true;
                } else {
                    memmove(w.b + u->path_start + 2, w.b + u->path_start, w.n - u->path_start);
                    memcpy(w.b + u->path_start, "/.", 2);
                    w.n += 2;
                    u->path_start += 2;
                    u->path_end += 2;
                    if (u->query_start)
                        u->query_start += 2;
                    if (u->fragment_start)
                        u->fragment_start += 2;
                }
            }
            if (u->host_type == SIMUL_URL_HOST_NONE)
                u->auth_end = u->host_start = u->host_end = u->user_end = u->pass_start =
                    u->pass_end = u->scheme_end + 1;
            u->special = p.special;
        }
    }
    if (rc == 0 && w.over)
        rc = -ENAMETOOLONG;
    if (rc < 0) {
        reset(u);
        return rc;
    }
    u->len = w.n;
    u->href[w.n] = '\0';
    u->flags = (uint8_t)(flags & SIMUL_URL_RFC3986);
    assert(u->scheme_end < u->len && u->path_start <= u->path_end && u->path_end <= u->len);
    assert(!u->query_start || (u->query_start >= u->path_end && u->href[u->query_start] == '?'));
    assert(!u->fragment_start || u->href[u->fragment_start] == '#');
    if (flags & SIMUL_URL_NORMALIZE)
        return simul_url_normalize(u);
    return 0;
}

const char *simul_url_part(const simul_url *u, simul_url_part_id part, size_t *len)
{
    uint32_t a = 0, e = 0;
    if (u && u->len) {
        switch (part) {
        case SIMUL_URL_SCHEME: a = 0; e = u->scheme_end; break;
        case SIMUL_URL_USERNAME:
            if (u->host_type) { a = u->scheme_end + 3; e = u->user_end; }
            break;
        case SIMUL_URL_PASSWORD: a = u->pass_start; e = u->pass_end; break;
        case SIMUL_URL_HOST: a = u->host_start; e = u->host_end; break;
        case SIMUL_URL_PORT:
            a = u->host_end + (u->host_end < u->auth_end);
            e = u->auth_end;
            break;
        case SIMUL_URL_PATH: a = u->path_start; e = u->path_end; break;
        case SIMUL_URL_QUERY:
            if (u->query_start) {
                a = u->query_start + 1;
                e = u->fragment_start ? u->fragment_start : u->len;
            }
            break;
        case SIMUL_URL_FRAGMENT:
            if (u->fragment_start) { a = u->fragment_start + 1; e = u->len; }
            break;
        }
    }
    if (e < a)
        e = a;
    if (len)
        *len = e - a;
    return u && u->href ? u->href + a : "";
}

/* Copies [r, e) to o (o <= r), percent-normalised: escapes of unreserved
 * characters decoded, the others' hex uppercased; lower: lowercase too. */
static uint32_t pct_norm(char *b, uint32_t o, uint32_t r, uint32_t e, bool lower_all,
                         bool decode)
{
    if (!lower_all) {   /* most components hold no escape: one block move */
        const char *pc = memchr(b + r, '%', e - r);
        uint32_t k = pc ? (uint32_t)(pc - b) : e;
        if (o != r)
            memmove(b + o, b + r, k - r);
        o += k - r;
        r = k;
    }
    while (r < e) {
        char c = b[r];
        if (c == '%' && r + 2 < e && is_hex((unsigned char)b[r + 1]) &&
            is_hex((unsigned char)b[r + 2])) {
            unsigned char v = (unsigned char)(simul__hexval((unsigned char)b[r + 1]) * 16 +
                                              simul__hexval((unsigned char)b[r + 2]));
            /* Decoding a hex digit right after a literal '%' ("%%41")
             * would make a new escape: keep those encoded (idempotence). */
            bool after_pct = (o >= 1 && b[o - 1] == '%') || (o >= 2 && b[o - 2] == '%');
            if (decode && unreserved(v) && !(is_hex(v) && after_pct)) {
                b[o++] = lower_all ? lower((char)v) : (char)v;
            } else {
                b[o++] = '%';
                b[o++] = simul__hexdigit(v >> 4);
                b[o++] = simul__hexdigit(v & 15);
            }
            r += 3;
            continue;
        }
        b[o++] = lower_all ? lower(c) : c;
        r++;
    }
    return o;
}

int simul_url_normalize(simul_url *u)
{
    if (!u || !u->len)
        return -EINVAL;
    /* One left-to-right pass, compacting in place (nothing but the empty
     * path's "/" grows, and that is inserted at the end). */
    char *b = u->href;
    uint32_t end = u->fragment_start ? u->fragment_start : u->len;
    if (!(u->flags & SIMUL_URL_RFC3986) && !memchr(b, '%', end)) {
        /* The WHATWG parser has done the rest: drop the fragment. */
        u->len = end;
        u->fragment_start = 0;
        if (!u->query_start)
            u->path_end = end;
        b[end] = '\0';
        return 0;
    }
    for (uint32_t k = 0; k < u->scheme_end; k++)
        b[k] = lower(b[k]);
    uint32_t o = u->scheme_end + 1;
    if (u->host_type != SIMUL_URL_HOST_NONE) {
        o += 2;
        uint32_t a = o;
        o = pct_norm(b, o, a, u->user_end, false, true);
        uint32_t ue = o, ps = o, pe = o;
        if (u->pass_start > u->user_end) {
            b[o++] = ':';
            ps = o;
            o = pct_norm(b, o, u->pass_start, u->pass_end, false, true);
            pe = o;
        }
        if (u->host_start > a)
            b[o++] = '@';
        uint32_t hs = o;
        o = pct_norm(b, o, u->host_start, u->host_end, true, true);
        uint32_t he = o;
        if (u->port >= 0 && u->port != special_port(b, u->scheme_end)) {
            memmove(b + o, b + u->host_end, u->auth_end - u->host_end);
            o += u->auth_end - u->host_end;
        } else {
            u->port = -1;
        }
        u->user_end = ue;
        u->pass_start = ps;
        u->pass_end = pe;
        u->host_start = hs;
        u->host_end = he;
        u->auth_end = o;
    } else {
        u->user_end = u->pass_start = u->pass_end = u->host_start = u->host_end =
            u->auth_end = o;
        if (!u->opaque_path && u->path_start == u->scheme_end + 3) {
            b[o++] = '/';   /* the "/." before a host-less "//" path */
            b[o++] = '.';
        }
    }
    uint32_t ps = o;
    if (u->opaque_path) {
        memmove(b + o, b + u->path_start, u->path_end - u->path_start);
        o += u->path_end - u->path_start;
    } else {
        /* A file: path keeps its escapes (only the hex is uppercased):
         * decoding "%43|" would make a drive letter, "C|", that a parse
         * turns into "C:". */
        bool file = u->scheme_end == 4 && !memcmp(b, "file", 4);
        o = pct_norm(b, o, u->path_start, u->path_end, false, !file);
        if (u->flags & SIMUL_URL_RFC3986)   /* decoding may have made dots */
            o = ps + (uint32_t)remove_dots(b + ps, o - ps);
    }
    bool empty_path = o == ps;
    uint32_t qs = 0;
    if (u->query_start) {
        qs = o;
        b[o++] = '?';
        o = pct_norm(b, o, u->query_start + 1, u->fragment_start ? u->fragment_start : u->len,
                     false, true);
    }
    /* An empty path after an authority is "/" for the special schemes
     * (RFC 3986 6.2.3). */
    if (empty_path && u->host_type != SIMUL_URL_HOST_NONE && u->special) {
        if (o + 1 > SIMUL_URL_MAX)
            return -ENAMETOOLONG;
        memmove(b + ps + 1, b + ps, o - ps);
        b[ps] = '/';
        o++;
        if (qs)
            qs++;
    }
    u->path_start = ps;
    u->path_end = qs ? qs : o;
    u->query_start = qs;
    u->fragment_start = 0;
    u->len = o;
    b[o] = '\0';
    return 0;
}

/* ---- Python's urljoin -------------------------------------------------- */

typedef struct {
    const char *p;
    size_t      n;
} sp;

static bool sp_has(sp a, char c) { return a.n && memchr(a.p, c, a.n); }

/* urllib.parse's scheme lists, as one table of flags: a scheme is looked
 * up once per parse (lowercased, length first), not once per list. */
enum { USES_RELATIVE = 1, USES_NETLOC = 2, USES_PARAMS = 4 };
static const struct {
    const char   *name;
    unsigned char len, uses;
} py_schemes[] = {
    /* http and https first: nearly every link */
    {"http", 4, USES_RELATIVE | USES_NETLOC | USES_PARAMS},
    {"https", 5, USES_RELATIVE | USES_NETLOC | USES_PARAMS},
    {"", 0, USES_RELATIVE | USES_NETLOC | USES_PARAMS},
    {"ftp", 3, USES_RELATIVE | USES_NETLOC | USES_PARAMS},
    {"gopher", 6, USES_RELATIVE | USES_NETLOC},
    {"nntp", 4, USES_RELATIVE | USES_NETLOC},
    {"imap", 4, USES_RELATIVE | USES_NETLOC | USES_PARAMS},
    {"wais", 4, USES_RELATIVE | USES_NETLOC},
    {"file", 4, USES_RELATIVE | USES_NETLOC},
    {"shttp", 5, USES_RELATIVE | USES_NETLOC | USES_PARAMS},
    {"mms", 3, USES_RELATIVE | USES_NETLOC | USES_PARAMS},
    {"prospero", 8, USES_RELATIVE | USES_NETLOC | USES_PARAMS},
    {"rtsp", 4, USES_RELATIVE | USES_NETLOC | USES_PARAMS},
    {"rtspu", 5, USES_RELATIVE | USES_NETLOC | USES_PARAMS},
    {"sftp", 4, USES_RELATIVE | USES_NETLOC | USES_PARAMS},
    {"svn", 3, USES_RELATIVE | USES_NETLOC},
    {"svn+ssh", 7, USES_RELATIVE | USES_NETLOC},
    {"ws", 2, USES_RELATIVE | USES_NETLOC},
    {"wss", 3, USES_RELATIVE | USES_NETLOC},
    {"telnet", 6, USES_NETLOC},
    {"snews", 5, USES_NETLOC},
    {"rsync", 5, USES_NETLOC},
    {"nfs", 3, USES_NETLOC},
    {"git", 3, USES_NETLOC},
    {"git+ssh", 7, USES_NETLOC},
    {"hdl", 3, USES_PARAMS},
    {"sip", 3, USES_PARAMS},
    {"sips", 4, USES_PARAMS},
    {"tel", 3, USES_PARAMS},
};

/* The USES_* flags of a scheme (case-insensitive), 0 for any other. */
static unsigned py_uses(sp scheme)
{
    char low[8];
    if (scheme.n > sizeof low)
        return 0;
    for (size_t k = 0; k < scheme.n; k++)
        low[k] = lower(scheme.p[k]);
    for (size_t i = 0; i < sizeof py_schemes / sizeof py_schemes[0]; i++)
        if (py_schemes[i].len == scheme.n && !memcmp(py_schemes[i].name, low, scheme.n))
            return py_schemes[i].uses;
    return 0;
}

typedef struct {
    sp       scheme, netloc, path, params, query, fragment;
    unsigned uses;   /* py_uses(scheme) */
} pyparts;

/* Python's ipaddress.ip_address(h) is an IPv6 address (IPv4 or junk: no). */
static bool py_ipv6(sp h)
{
    char tmp[128];
    const char *pc = memchr(h.p, '%', h.n);
    size_t an = pc ? (size_t)(pc - h.p) : h.n;
    if (pc) {
        size_t sn = h.n - an - 1;
        if (sn == 0 || memchr(pc + 1, '%', sn))
            return false;
    }
    if (an >= sizeof tmp || an == 0)
        return false;
    memcpy(tmp, h.p, an);
    tmp[an] = '\0';
    unsigned char a[16];
    return inet_pton(AF_INET6, tmp, a) == 1;
}

/* _check_bracketed_netloc + _check_bracketed_host. */
static int py_check_brackets(sp nl)
{
    sp hp = nl;
    for (size_t k = nl.n; k > 0; k--)
        if (nl.p[k - 1] == '@') {
            hp = (sp){nl.p + k, nl.n - k};
            break;
        }
    sp host;
    const char *ob = hp.n ? memchr(hp.p, '[', hp.n) : NULL;
    if (ob) {
        if (ob != hp.p)
            return -EINVAL;
        sp br = {ob + 1, hp.n - 1};
        const char *cb = br.n ? memchr(br.p, ']', br.n) : NULL;
        host = (sp){br.p, cb ? (size_t)(cb - br.p) : br.n};
        if (cb && (size_t)(cb - br.p) + 1 < br.n && cb[1] != ':')
            return -EINVAL;
    } else {
        const char *c = hp.n ? memchr(hp.p, ':', hp.n) : NULL;
        host = (sp){hp.p, c ? (size_t)(c - hp.p) : hp.n};
    }
    if (host.n && host.p[0] == 'v') {
        /* \Av[a-fA-F0-9]+\..+\Z */
        size_t k = 1;
        while (k < host.n && is_hex((unsigned char)host.p[k]))
            k++;
        if (k == 1 || k >= host.n || host.p[k] != '.' || k + 1 >= host.n)
            return -EINVAL;
        return 0;
    }
    return py_ipv6(host) ? 0 : -EINVAL;
}

/* _checknetloc: a non-ASCII netloc whose NFKC form (without @:#?) differs
 * and then holds one of /?#@: is a ValueError. */
static int py_checknetloc(sp nl)
{
    bool ascii = true;
    for (size_t k = 0; k < nl.n; k++)
        ascii &= (unsigned char)nl.p[k] < 0x80;
    if (ascii)
        return 0;
    uint8_t *n = malloc(nl.n + 1);
    if (!n)
        return -ENOMEM;
    size_t m = 0;
    for (size_t k = 0; k < nl.n; k++)
        if (!strchr("@:#?", nl.p[k]))
            n[m++] = (uint8_t)nl.p[k];
    size_t on = 0;
    uint8_t *o = u8_normalize(UNINORM_NFKC, n, m, NULL, &on);
    int rc = 0;
    if (o && !(on == m && !memcmp(o, n, m)))
        for (size_t k = 0; k < on; k++)
            if (strchr("/?#@:", o[k]) && o[k])
                rc = -EINVAL;
    free(o);
    free(n);
    return rc;
}

/* urlparse(url, default_scheme) on the already cleaned string s[0, n). */
static int py_urlparse(const char *s, size_t n, sp defscheme, pyparts *r)
{
    memset(r, 0, sizeof *r);
    r->scheme = defscheme;
    size_t i = 0;
    const char *colon = memchr(s, ':', n);
    if (colon && colon > s && is_alpha((unsigned char)s[0])) {
        size_t k = (size_t)(colon - s);
        bool ok = true;
        for (size_t j = 0; j < k; j++)
            ok &= (ctab[(unsigned char)s[j]] & C_SCHEME) != 0;
        if (ok) {
            r->scheme = (sp){s, k};
            i = k + 1;
        }
    }
    r->uses = py_uses(r->scheme);
    sp url = {s + i, n - i};
    if (url.n >= 2 && url.p[0] == '/' && url.p[1] == '/') {
        size_t e = 2;
        while (e < url.n && url.p[e] != '/' && url.p[e] != '?' && url.p[e] != '#')
            e++;
        r->netloc = (sp){url.p + 2, e - 2};
        url = (sp){url.p + e, url.n - e};
        bool ob = sp_has(r->netloc, '['), cb = sp_has(r->netloc, ']');
        if (ob != cb)
            return -EINVAL;
        if (ob && cb && py_check_brackets(r->netloc) < 0)
            return -EINVAL;
    }
    const char *h = url.n ? memchr(url.p, '#', url.n) : NULL;
    if (h) {
        r->fragment = (sp){h + 1, (size_t)(url.p + url.n - h - 1)};
        url.n = (size_t)(h - url.p);
    }
    const char *q = url.n ? memchr(url.p, '?', url.n) : NULL;
    if (q) {
        r->query = (sp){q + 1, (size_t)(url.p + url.n - q - 1)};
        url.n = (size_t)(q - url.p);
    }
    int rc = py_checknetloc(r->netloc);
    if (rc < 0)
        return rc;
    if ((r->uses & USES_PARAMS) && sp_has(url, ';')) {   /* _splitparams */
        const char *sc;
        const char *sl = NULL;
        for (size_t k = url.n; k > 0; k--)
            if (url.p[k - 1] == '/') {
                sl = url.p + k - 1;
                break;
            }
        if (sl) {
            sc = memchr(sl, ';', (size_t)(url.p + url.n - sl));
        } else {
            sc = memchr(url.p, ';', url.n);
        }
        if (sc) {
            r->params = (sp){sc + 1, (size_t)(url.p + url.n - sc - 1)};
            url.n = (size_t)(sc - url.p);
        }
    }
    r->path = url;
    return 0;
}

typedef struct {
    char  *o;
    size_t n, cap;
    bool   over;
} obuf;

static void oput(obuf *b, const char *s, size_t n)
{
    if (!n)
        return;   /* s may be NULL for an empty span */
    if (n >= b->cap - b->n) {
        b->over = true;
        return;
    }
    memcpy(b->o + b->n, s, n);
    b->n += n;
}

/* urlunparse((scheme, netloc, path, params, query, fragment)), where path
 * is given as pieces joined by '/' (npieces < 0: the single span path). */
static void py_unparse(obuf *b, const pyparts *r, const sp *pieces, long npieces)
{
    size_t pathlen = 0;
    const char *p0 = NULL;
    if (npieces < 0) {
        pathlen = r->path.n;
        p0 = r->path.p;
    } else {
        for (long k = 0; k < npieces; k++)
            pathlen += pieces[k].n + (k > 0);
        if (npieces > 0)
            p0 = pieces[0].n ? pieces[0].p : (npieces > 1 ? "/" : NULL);
    }
    char first = pathlen ? p0[0] : 0;
    char second = 0;
    if (pathlen >= 2) {
        if (npieces < 0)
            second = r->path.p[1];
        else
            second = pieces[0].n >= 2 ? pieces[0].p[1] : pieces[0].n == 1 ? '/' :
                     pieces[1].n ? pieces[1].p[0] : '/';
    }
    /* url = path [+ ';' + params] */
    size_t urllen = pathlen + (r->params.n ? 1 + r->params.n : 0);
    if (urllen && !pathlen)
        first = ';';
    if (urllen >= 2 && pathlen == 1)
        second = ';';
    if (urllen >= 2 && !pathlen)
        second = r->params.p[0];
    bool scheme = r->scheme.n > 0;
    if (r->netloc.n || (scheme && (r->uses & USES_NETLOC) &&
                        !(urllen >= 2 && first == '/' && second == '/'))) {
        if (scheme) {
            for (size_t k = 0; k < r->scheme.n; k++) {
                char c = lower(r->scheme.p[k]);
                oput(b, &c, 1);
            }
            oput(b, ":", 1);
        }
        oput(b, "//", 2);
        oput(b, r->netloc.p, r->netloc.n);
        if (urllen && first != '/')
            oput(b, "/", 1);
    } else if (scheme) {
        for (size_t k = 0; k < r->scheme.n; k++) {
            char c = lower(r->scheme.p[k]);
            oput(b, &c, 1);
        }
        oput(b, ":", 1);
    }
    if (npieces < 0) {
        oput(b, r->path.p, r->path.n);
    } else {
        for (long k = 0; k < npieces; k++) {
            if (k)
                oput(b, "/", 1);
            oput(b, pieces[k].p, pieces[k].n);
        }
    }
    if (r->params.n) {
        oput(b, ";", 1);
        oput(b, r->params.p, r->params.n);
    }
    if (r->query.n) {
        oput(b, "?", 1);
        oput(b, r->query.p, r->query.n);
    }
    if (r->fragment.n) {
        oput(b, "#", 1);
        oput(b, r->fragment.p, r->fragment.n);
    }
}

/* urlsplit's cleaning: lstrip C0/space, drop every \t \r \n. Returns s
 * itself or a copy in *scratch (to free). */
static const char *py_clean(const char *s, size_t *n, char **scratch)
{
    while (*n && (unsigned char)s[0] <= 0x20) {
        s++;
        (*n)--;
    }
    *scratch = NULL;
    /* bytes 9, 10 and 13 as bits of one mask: a compare and a bit test a byte */
    const uint32_t drop = 1u << '\t' | 1u << '\r' | 1u << '\n';
    size_t k = 0;
#ifdef __SSE2__
    /* 16 bytes at a time to the first block with a byte below 0x20 (or
     * above 0x7f: a signed compare), which the byte loop then settles */
    const __m128i sp20 = _mm_set1_epi8(0x20);
    while (*n - k >= 16 &&
           !_mm_movemask_epi8(_mm_cmplt_epi8(_mm_loadu_si128((const __m128i *)(const void *)(s + k)),
                                             sp20)))
        k += 16;
#endif
    while (k < *n && !((unsigned char)s[k] < 32 && (drop >> (unsigned char)s[k] & 1)))
        k++;
    if (k == *n)
        return s;
    char *c = malloc(*n);
    if (!c)
        return NULL;
    size_t m = 0;
    for (size_t j = 0; j < *n; j++)
        if (s[j] != '\t' && s[j] != '\r' && s[j] != '\n')
            c[m++] = s[j];
    *n = m;
    *scratch = c;
    return c;
}

static int py_copy(char *out, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        return -ENAMETOOLONG;
    memcpy(out, s, n);
    out[n] = '\0';
    return (int)n;
}

/* Whether every '/'-separated segment of p is plain - not empty, "." or
 * ".." - except that the last may be empty when last_empty_ok. An empty p
 * is one empty segment. */
static bool plain_segments(sp p, bool last_empty_ok)
{
    size_t a = 0;
    for (size_t k = 0; k <= p.n; k++) {
        if (k < p.n && p.p[k] != '/')
            continue;
        size_t len = k - a;
        const char *seg = p.p + a;
        if ((len == 0 && !(k == p.n && last_empty_ok)) || (len == 1 && seg[0] == '.') ||
            (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        a = k + 1;
    }
    return true;
}

/* The last base this thread joined against, cleaned and parsed: a caller
 * joins every link of a page against one base (areq), and the base's
 * cleaning and parsing were half of each join. Only bases that parsed, of
 * up to PY_BASE_KEEP bytes. */
#define PY_BASE_KEEP 512
static __thread struct {
    size_t  rawlen;                /* 0: nothing kept */
    char    raw[PY_BASE_KEEP];     /* the base as given */
    char    clean[PY_BASE_KEEP];   /* as cleaned: B's spans point here */
    pyparts B;
} pybase;

static void base_keep(const char *raw, size_t rawlen, const char *clean, size_t n,
                      const pyparts *B)
{
    pybase.rawlen = 0;
    if (rawlen > PY_BASE_KEEP || n > PY_BASE_KEEP)
        return;
    memcpy(pybase.raw, raw, rawlen);
    memcpy(pybase.clean, clean, n);
    pybase.B = *B;
    /* rebase every span that points into the cleaned string */
    sp *f[] = { &pybase.B.scheme, &pybase.B.netloc, &pybase.B.path, &pybase.B.params,
                &pybase.B.query, &pybase.B.fragment };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i]->p >= clean && f[i]->p <= clean + n)
            f[i]->p = pybase.clean + (f[i]->p - clean);
    pybase.rawlen = rawlen;
}

int simul_url_join_py(char *out, size_t cap, const char *base, size_t blen, const char *ref,
                      size_t rlen)
{
    if (!out || !cap || (!base && blen) || (!ref && rlen))
        return -EINVAL;
    if (blen > SIMUL_URL_MAX || rlen > SIMUL_URL_MAX)
        return -ENAMETOOLONG;
    if (!blen)
        return py_copy(out, cap, ref, rlen);
    if (!rlen)
        return py_copy(out, cap, base, blen);
    char *bscr = NULL, *rscr = NULL;
    int rc = 0;
    sp *segs = NULL;
    pyparts B, R;
    if (blen == pybase.rawlen && !memcmp(base, pybase.raw, blen)) {
        B = pybase.B;
    } else {
        size_t bn = blen;
        const char *bs = py_clean(base, &bn, &bscr);
        if (!bs)
            return -ENOMEM;
        if ((rc = py_urlparse(bs, bn, (sp){"", 0}, &B)) < 0)
            goto done;
        base_keep(base, blen, bs, bn, &B);
    }
    size_t rn = rlen;
    const char *rs = py_clean(ref, &rn, &rscr);
    if (!rs) {
        rc = -ENOMEM;
        goto done;
    }
    if ((rc = py_urlparse(rs, rn, B.scheme, &R)) < 0)
        goto done;
    obuf ob = {out, 0, cap, false};
    bool same = R.scheme.n == B.scheme.n;
    for (size_t k = 0; same && k < R.scheme.n; k++)
        same = lower(R.scheme.p[k]) == lower(B.scheme.p[k]);
    if (!same || !(R.uses & USES_RELATIVE)) {
        rc = py_copy(out, cap, ref, rlen);
        goto done;
    }
    if (R.uses & USES_NETLOC) {
        if (R.netloc.n) {
            py_unparse(&ob, &R, NULL, -1);
            goto out;
        }
        R.netloc = B.netloc;
    }
    if (!R.path.n && !R.params.n) {
        R.path = B.path;
        R.params = B.params;
        if (!R.query.n)
            R.query = B.query;
        py_unparse(&ob, &R, NULL, -1);
        goto out;
    }
    /* The common shape needs no splitting: a base path "/d1/.../dk/last"
     * whose directory segments are plain (not empty, "." or "..") and a
     * relative path of plain segments (the last may be empty): urljoin's
     * filter and dot-segment walk then change nothing, and the result is
     * the base's directory followed by the path. */
    if (R.path.n && R.path.p[0] != '/' && B.path.n && B.path.p[0] == '/') {
        size_t dir = B.path.n;
        while (B.path.p[dir - 1] != '/')
            dir--;
        if ((dir == 1 || plain_segments((sp){B.path.p + 1, dir - 2}, false)) &&
            plain_segments(R.path, true)) {
            const sp pieces[2] = {{B.path.p, dir - 1}, R.path};
            py_unparse(&ob, &R, pieces, 2);
            goto out;
        }
    }
    /* segments = base_parts (minus a last non-empty one) + path.split('/') */
    size_t nmax = 2;
    for (size_t k = 0; k < B.path.n; k++)
        nmax += B.path.p[k] == '/';
    for (size_t k = 0; k < R.path.n; k++)
        nmax += R.path.p[k] == '/';
    sp stackseg[64];
    segs = nmax * 2 <= 64 ? stackseg : malloc(nmax * 2 * sizeof *segs);
    if (!segs) {
        rc = -ENOMEM;
        goto done;
    }
    sp *seg = segs, *res = segs + nmax;
    size_t ns = 0, nr = 0;
    bool rooted = R.path.n && R.path.p[0] == '/';
    if (!rooted) {
        size_t a = 0;
        for (size_t k = 0; k <= B.path.n; k++)
            if (k == B.path.n || B.path.p[k] == '/') {
                seg[ns++] = (sp){B.path.p + a, k - a};
                a = k + 1;
            }
        if (seg[ns - 1].n)
            ns--;
    }
    {
        size_t a = 0;
        for (size_t k = 0; k <= R.path.n; k++)
            if (k == R.path.n || R.path.p[k] == '/') {
                seg[ns++] = (sp){R.path.p + a, k - a};
                a = k + 1;
            }
    }
    if (!rooted && ns > 2) {   /* segments[1:-1] = filter(None, ...) */
        size_t m = 1;
        for (size_t k = 1; k < ns - 1; k++)
            if (seg[k].n)
                seg[m++] = seg[k];
        seg[m++] = seg[ns - 1];
        ns = m;
    }
    for (size_t k = 0; k < ns; k++) {
        sp s = seg[k];
        if (s.n == 2 && s.p[0] == '.' && s.p[1] == '.') {
            if (nr)
                nr--;
        } else if (s.n == 1 && s.p[0] == '.') {
            continue;
        } else {
            res[nr++] = s;
        }
    }
    sp last = seg[ns - 1];
    if ((last.n == 1 && last.p[0] == '.') || (last.n == 2 && !memcmp(last.p, "..", 2)))
        res[nr++] = (sp){"", 0};
    size_t joined = 0;
    for (size_t k = 0; k < nr; k++)
        joined += res[k].n + (k > 0);
    if (!joined) {
        static const sp slash = {"/", 1};
        py_unparse(&ob, &R, &slash, 1);
    } else {
        py_unparse(&ob, &R, res, (long)nr);
    }
out:
    if (ob.over) {
        rc = -ENAMETOOLONG;
    } else {
        out[ob.n] = '\0';
        rc = (int)ob.n;
    }
done:
    if (segs && segs != stackseg)
        free(segs);
    free(bscr);
    free(rscr);
    return rc;
}
