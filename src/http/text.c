/*
 * text.c - HTTP bodies to UTF-8 (simul/text.h): WHATWG encoding labels
 * (tables generated into encodings.h), the choice of encoding (BOM,
 * Content-Type charset, the HTML Standard's <meta> prescan, an XML
 * declaration, UTF-8), and the decoders: UTF-8 with a validating fast path
 * that ends in one memcpy, UTF-16, windows-1252 and x-user-defined natively,
 * everything else through iconv with U+FFFD for what it rejects. The text
 * is built in the library's bounded buffer (core/buf.h), so the cap is the
 * buffer's.
 */
#include <simul/text.h>

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../core/buf.h"
#include "encodings.h"
#include "utf8.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define FLAGS_ALL (SIMUL_TEXT_HEADER_FIRST | SIMUL_TEXT_NO_PRESCAN)

/* ---- labels ------------------------------------------------------------- */

static bool ascii_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static int label_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct label *)elem)->label);
}

/* The encoding a label names, or -1: WHATWG "get an encoding" (trim ASCII
 * whitespace, ASCII lowercase, look up). */
static int lookup(const char *s, size_t n)
{
    while (n && ascii_ws((unsigned char)*s))
        s++, n--;
    while (n && ascii_ws((unsigned char)s[n - 1]))
        n--;
    if (n == 0 || n > LABEL_MAX)
        return -1;
    char key[LABEL_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        key[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    key[n] = '\0';
    const struct label *l =
        bsearch(key, labels, sizeof labels / sizeof labels[0], sizeof labels[0], label_cmp);
    return l ? l->enc : -1;
}

int simul_text_encoding_label(const char *label, size_t len, const char **name)
{
    if (!name || (!label && len))
        return -EINVAL;
    int e = lookup(label, len);
    if (e < 0)
        return -EINVAL;
    *name = encodings[e].name;
    return 0;
}

/* ---- Content-Type ------------------------------------------------------- */

enum kind { K_HTML, K_XML, K_OTHER };

static bool http_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static bool span_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && !strncasecmp(s, lit, n);
}

/* The parts of a Content-Type value that matter here (the MIME Sniffing
 * Standard's "parse a MIME type", leniently): what kind of document, and
 * the encoding its first charset parameter names (-1 for none or an
 * unknown label). A value that is no MIME type counts as HTML, as a
 * missing header does. */
static enum kind content_type(const char *ct, int *charset)
{
    *charset = -1;
    if (!ct)
        return K_HTML;
    const char *p = ct;
    while (http_ws((unsigned char)*p))
        p++;
    const char *type = p;
    while (token_char((unsigned char)*p))
        p++;
    size_t tl = (size_t)(p - type);
    if (!tl || *p != '/')
        return K_HTML;
    const char *sub = ++p;
    while (token_char((unsigned char)*p))
        p++;
    size_t sl = (size_t)(p - sub);
    while (http_ws((unsigned char)*p))
        p++;
    if (!sl || (*p && *p != ';'))
        return K_HTML;
    enum kind k = K_OTHER;
    if ((span_is(type, tl, "text") && span_is(sub, sl, "html")))
        k = K_HTML;
    else if (((span_is(type, tl, "text") || span_is(type, tl, "application")) &&
              span_is(sub, sl, "xml")) ||
             (sl >= 4 && !strncasecmp(sub + sl - 4, "+xml", 4)))
        k = K_XML;
    /* Parameters: ;name=value or ;name="quoted \"value\"". */
    while (*p == ';') {
        p++;
        while (http_ws((unsigned char)*p))
            p++;
        const char *name = p;
        while (*p && *p != ';' && *p != '=')
            p++;
        size_t nl = (size_t)(p - name);
        if (*p != '=')
            continue;
        p++;
        char val[LABEL_MAX + 2];
        size_t vl = 0;
        bool fits = true;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                if (vl <= LABEL_MAX)
                    val[vl++] = *p;
                else
                    fits = false;
            }
            while (*p && *p != ';')
                p++;
        } else {
            const char *v = p;
            while (*p && *p != ';')
                p++;
            const char *e = p;
            while (e > v && http_ws((unsigned char)e[-1]))
                e--;
            if ((size_t)(e - v) <= LABEL_MAX) {
                vl = (size_t)(e - v);
                memcpy(val, v, vl);
            } else {
                fits = false;
            }
        }
        if (span_is(name, nl, "charset")) {
            /* The first charset parameter counts, even if unknown. */
            *charset = fits ? lookup(val, vl) : -1;
            break;
        }
    }
    return k;
}

/* ---- the HTML Standard's prescan (13.2.3.2) ----------------------------- */

/* "get an attribute": at *pos in b[0, n). Names are kept up to 15 bytes
 * (only "http-equiv", "content" and "charset" matter; a longer name is
 * marked with an impossible first byte), values up to n bytes (the value
 * buffer has n bytes of room). Returns false when there is no attribute or
 * the bytes ran out (which ends the prescan). */
struct attr {
    char   name[16];
    size_t nlen;
    char  *val;
    size_t vlen;
};

static inline unsigned char lower_byte(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static void name_add(struct attr *a, unsigned char c)
{
    if (a->nlen < sizeof a->name)
        a->name[a->nlen++] = (char)lower_byte(c);
    else
        a->name[0] = '\0';   /* too long to be one we want */
}

static bool get_attr(const unsigned char *b, size_t n, size_t *pos, struct attr *a, bool *end)
{
    size_t p = *pos;
    a->nlen = a->vlen = 0;
    while (p < n && (ascii_ws(b[p]) || b[p] == '/'))
        p++;
    if (p >= n)
        goto eof;
    if (b[p] == '>')
        return *pos = p, false;
    /* Name. */
    for (;; p++) {
        if (p >= n)
            goto eof;
        unsigned char c = b[p];
        if (c == '=' && a->nlen) {
            p++;
            goto value;
        }
        if (ascii_ws(c))
            break;
        if (c == '/' || c == '>')
            return *pos = p, true;
        name_add(a, c);
    }
    /* Spaces. */
    while (p < n && ascii_ws(b[p]))
        p++;
    if (p >= n)
        goto eof;
    if (b[p] != '=')
        return *pos = p, true;
    p++;
value:
    while (p < n && ascii_ws(b[p]))
        p++;
    if (p >= n)
        goto eof;
    if (b[p] == '"' || b[p] == '\'') {
        unsigned char q = b[p];
        for (p++; p < n; p++) {
            if (b[p] == q)
                return *pos = p + 1, true;
            a->val[a->vlen++] = (char)lower_byte(b[p]);
        }
        goto eof;
    }
    if (b[p] == '>')
        return *pos = p, true;
    a->val[a->vlen++] = (char)lower_byte(b[p++]);
    for (; p < n; p++) {
        if (ascii_ws(b[p]) || b[p] == '>')
            return *pos = p, true;
        a->val[a->vlen++] = (char)lower_byte(b[p]);
    }
eof:
    *end = true;
    *pos = n;
    return false;
}

static bool attr_is(const struct attr *a, const char *lit)
{
    return span_is(a->name, a->nlen, lit);
}

/* "The algorithm for extracting a character encoding from a meta element"
 * on a content attribute's (lowercased) value: -1 for nothing. */
static int meta_content_charset(const char *s, size_t n)
{
    size_t p = 0;
    for (;;) {
        const char *c = p + 7 <= n ? memmem(s + p, n - p, "charset", 7) : NULL;
        if (!c)
            return -1;
        p = (size_t)(c - s) + 7;
        while (p < n && ascii_ws((unsigned char)s[p]))
            p++;
        if (p < n && s[p] == '=')
            break;
        /* Not "charset=": look again from the next character. */
    }
    p++;
    while (p < n && ascii_ws((unsigned char)s[p]))
        p++;
    if (p >= n)
        return -1;
    if (s[p] == '"' || s[p] == '\'') {
        const char *q = memchr(s + p + 1, s[p], n - p - 1);
        return q ? lookup(s + p + 1, (size_t)(q - s - p - 1)) : -1;
    }
    size_t e = p;
    while (e < n && !ascii_ws((unsigned char)s[e]) && s[e] != ';')
        e++;
    return lookup(s + p, e - p);
}

/* "get an XML encoding": an encoding="..." in an XML declaration at the
 * very start; -1 for none. UTF-16 means UTF-8 (the bytes were read as
 * ASCII, so they are not UTF-16). */
static int xml_decl(const unsigned char *b, size_t n)
{
    if (n < 5 || memcmp(b, "<?xml", 5))
        return -1;
    const unsigned char *gt = memchr(b, '>', n);
    if (!gt)
        return -1;
    n = (size_t)(gt - b);
    const unsigned char *e = memmem(b, n, "encoding", 8);
    if (!e)
        return -1;
    size_t p = (size_t)(e - b) + 8;
    while (p < n && b[p] <= 0x20)
        p++;
    if (p >= n || b[p] != '=')
        return -1;
    p++;
    while (p < n && b[p] <= 0x20)
        p++;
    if (p >= n || (b[p] != '"' && b[p] != '\''))
        return -1;
    unsigned char q = b[p++];
    const unsigned char *end = memchr(b + p, q, n - p);
    if (!end)
        return -1;
    for (const unsigned char *c = b + p; c < end; c++)
        if (*c <= 0x20)
            return -1;
    int enc = lookup((const char *)b + p, (size_t)(end - b) - p);
    return enc == ENC_UTF_16BE || enc == ENC_UTF_16LE ? ENC_UTF_8 : enc;
}

/* The prescan over b[0, n) (n <= SIMUL_TEXT_PRESCAN_BYTES): the encoding,
 * or -1. */
static int prescan(const unsigned char *b, size_t n)
{
    static const unsigned char le[6] = {0x3C, 0, 0x3F, 0, 0x78, 0};
    static const unsigned char be[6] = {0, 0x3C, 0, 0x3F, 0, 0x78};
    if (n >= 6 && !memcmp(b, le, 6))
        return ENC_UTF_16LE;
    if (n >= 6 && !memcmp(b, be, 6))
        return ENC_UTF_16BE;
    char val[SIMUL_TEXT_PRESCAN_BYTES];
    struct attr a = {.val = val};
    bool end = false;
    for (size_t p = 0; p < n && !end; p++) {
        const unsigned char *s = b + p;
        size_t left = n - p;
        if (s[0] != '<')
            continue;
        if (left >= 4 && !memcmp(s, "<!--", 4)) {
            /* To the '>' of the first "-->" (its dashes may be the
             * opening ones: "<!-->" ends there). */
            size_t q = p + 2;
            while (q + 2 < n && !(b[q] == '-' && b[q + 1] == '-' && b[q + 2] == '>'))
                q++;
            if (q + 2 >= n)
                break;
            p = q + 2;
            continue;
        }
        if (left >= 6 && (s[1] | 0x20) == 'm' && (s[2] | 0x20) == 'e' && (s[3] | 0x20) == 't' &&
            (s[4] | 0x20) == 'a' && (ascii_ws(s[5]) || s[5] == '/')) {
            size_t q = p + 5;
            bool seen_he = false, seen_ct = false, seen_cs = false, got_pragma = false;
            int need_pragma = -1;   /* null */
            int charset = -2;       /* -2 null, -1 failure */
            while (get_attr(b, n, &q, &a, &end)) {
                if (attr_is(&a, "http-equiv")) {
                    if (seen_he)
                        continue;
                    seen_he = true;
                    if (span_is(a.val, a.vlen, "content-type"))
                        got_pragma = true;
                } else if (attr_is(&a, "content")) {
                    if (seen_ct)
                        continue;
                    seen_ct = true;
                    int e = meta_content_charset(a.val, a.vlen);
                    if (e >= 0 && charset == -2) {
                        charset = e;
                        need_pragma = 1;
                    }
                } else if (attr_is(&a, "charset")) {
                    if (seen_cs)
                        continue;
                    seen_cs = true;
                    charset = lookup(a.val, a.vlen);
                    need_pragma = 0;
                }
            }
            if (end)
                break;
            p = q;   /* at the '>' */
            if (need_pragma < 0 || (need_pragma == 1 && !got_pragma) || charset < 0)
                continue;
            if (charset == ENC_UTF_16BE || charset == ENC_UTF_16LE)
                return ENC_UTF_8;
            if (charset == ENC_X_USER_DEFINED)
                return ENC_WINDOWS_1252;
            return charset;
        }
        if (left >= 2 && ((s[1] | 0x20) >= 'a' && (s[1] | 0x20) <= 'z')) {
            goto tag;
        }
        if (left >= 3 && s[1] == '/' && ((s[2] | 0x20) >= 'a' && (s[2] | 0x20) <= 'z')) {
tag:;
            size_t q = p;
            while (q < n && !ascii_ws(b[q]) && b[q] != '>')
                q++;
            while (get_attr(b, n, &q, &a, &end))
                ;
            if (end)
                break;
            p = q;
            continue;
        }
        if (left >= 2 && (s[1] == '!' || s[1] == '/' || s[1] == '?')) {
            const unsigned char *gt = memchr(s, '>', left);
            if (!gt)
                break;
            p = (size_t)(gt - b);
        }
    }
    /* Out of bytes or no <meta>: an XML declaration may still say. */
    return xml_decl(b, n);
}

/* ---- choosing ----------------------------------------------------------- */

static int bom(const unsigned char *b, size_t n, size_t *skip)
{
    if (n >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF)
        return *skip = 3, ENC_UTF_8;
    if (n >= 2 && b[0] == 0xFE && b[1] == 0xFF)
        return *skip = 2, ENC_UTF_16BE;
    if (n >= 2 && b[0] == 0xFF && b[1] == 0xFE)
        return *skip = 2, ENC_UTF_16LE;
    return *skip = 0, -1;
}

static int choose(const unsigned char *b, size_t n, const char *ct, const simul_text_opts *o,
                  int *enc, simul_text_source *src, size_t *skip)
{
    if (!b && n)
        return -EINVAL;
    unsigned flags = o ? o->flags : 0;
    if (flags & ~(unsigned)FLAGS_ALL)
        return -EINVAL;
    int override = -1;
    if (o && o->encoding && (override = lookup(o->encoding, strlen(o->encoding))) < 0)
        return -EINVAL;
    int hdr;
    enum kind k = content_type(ct, &hdr);
    size_t bl;
    int bomenc = bom(b, n, &bl);
    *skip = 0;
    if (!(flags & SIMUL_TEXT_HEADER_FIRST) && bomenc >= 0) {
        *enc = bomenc, *src = SIMUL_TEXT_FROM_BOM, *skip = bl;
        return 0;
    }
    if (override >= 0) {
        *enc = override, *src = SIMUL_TEXT_FROM_OVERRIDE;
        return 0;
    }
    if (hdr >= 0) {
        *enc = hdr, *src = SIMUL_TEXT_FROM_HEADER;
        return 0;
    }
    if (bomenc >= 0) {   /* SIMUL_TEXT_HEADER_FIRST, and the header said nothing */
        *enc = bomenc, *src = SIMUL_TEXT_FROM_BOM, *skip = bl;
        return 0;
    }
    int m = -1;
    size_t pn = n < SIMUL_TEXT_PRESCAN_BYTES ? n : SIMUL_TEXT_PRESCAN_BYTES;
    if (!(flags & SIMUL_TEXT_NO_PRESCAN))
        m = k == K_HTML ? prescan(b, pn) : k == K_XML ? xml_decl(b, pn) : -1;
    if (m >= 0) {
        *enc = m, *src = SIMUL_TEXT_FROM_META;
        return 0;
    }
    *enc = ENC_UTF_8, *src = SIMUL_TEXT_FROM_DEFAULT;
    return 0;
}

int simul_text_sniff(const void *body, size_t len, const char *content_type,
                     const simul_text_opts *opts, const char **encoding,
                     simul_text_source *source, size_t *bom_len)
{
    if (!encoding)
        return -EINVAL;
    int enc;
    simul_text_source src;
    size_t skip;
    int r = choose(body, len, content_type, opts, &enc, &src, &skip);
    if (r)
        return r;
    *encoding = encodings[enc].name;
    if (source)
        *source = src;
    if (bom_len)
        *bom_len = skip;
    return 0;
}

/* ---- decoders ----------------------------------------------------------- */

/* The bounded buffer counts the NUL: its max is the cap + 1, and running
 * into it is the caller's -EFBIG. */
static int need(simul__buf *o, size_t n)
{
    int r = simul__buf_reserve(o, n);
    return r == -EMSGSIZE || r == -ENOBUFS ? -EFBIG : r;
}

/* Room for about n more bytes if the cap allows: a size hint, not a
 * requirement (what does not fit yet is found out byte by byte). */
static void hint(simul__buf *o, size_t n)
{
    size_t can = o->max - simul__buf_len(o);
    (void)simul__buf_reserve(o, n < can ? n : can);
}

/* More room after iconv said E2BIG: about half again, -EFBIG when the
 * buffer is already as large as the cap allows. */
static int grow(simul__buf *o)
{
    size_t room = simul__buf_room(o), can = o->max - simul__buf_len(o);
    if (room >= can)
        return -EFBIG;
    size_t want = simul__buf_len(o) / 2 + 64;
    if (want <= room)
        want = room + 1;
    return simul__buf_reserve(o, want < can ? want : can);
}

static int put(simul__buf *o, const void *p, size_t n)
{
    int r = need(o, n);
    if (!r) {
        memcpy(simul__buf_tail(o), p, n);
        simul__buf_commit(o, n);
    }
    return r;
}

static int put_cp(simul__buf *o, uint32_t cp)
{
    if (simul__buf_room(o) >= 4) {
        simul__buf_commit(o, simul__utf8_put(simul__buf_tail(o), cp));
        return 0;
    }
    char tmp[4];
    return put(o, tmp, simul__utf8_put(tmp, cp));   /* exact, near the cap */
}

/* Bytes before the first one >= 0x80 in [p, end). */
static size_t ascii_run(const unsigned char *p, const unsigned char *end)
{
    const unsigned char *s = p;
#ifdef __SSE2__
    while (end - s >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
        unsigned m = (unsigned)_mm_movemask_epi8(v);
        if (m)
            return (size_t)(s - p) + (size_t)__builtin_ctz(m);
        s += 16;
    }
#else
    while (end - s >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        if (w & 0x8080808080808080ull)
            break;
        s += 8;
    }
#endif
    while (s < end && *s < 0x80)
        s++;
    return (size_t)(s - p);
}

/* The UTF-8 sequence at p (p[0] >= 0x80, n >= 1 bytes left): its length
 * if valid, else minus the length of its maximal subpart - the bytes that
 * one U+FFFD replaces (WHATWG's UTF-8 decoder, Unicode's "maximal subpart"
 * practice: a lead byte and the continuation bytes it accepted). */
static int utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    int more;
    if (c >= 0xC2 && c <= 0xDF)
        more = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        more = 2;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;   /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        more = 3;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;   /* nothing past U+10FFFF */
    } else {
        return -1;
    }
    for (int i = 1; i <= more; i++) {
        if ((size_t)i >= n || p[i] < lo || p[i] > hi)
            return -i;
        lo = 0x80, hi = 0xBF;
    }
    return more + 1;
}

/* Copies the valid UTF-8 prefix of s[0, n) to d (when copy) and returns
 * its length: the fast path, one pass that loads, stores and checks 64
 * bytes at a time, and steps through multi-byte sequences one by one where
 * it finds them (the 64-byte stores ahead of them have already copied the
 * ASCII). Inlined into its two callers, so each has only its own loop. */
static inline __attribute__((always_inline)) size_t
utf8_scan(unsigned char *d, const unsigned char *s, size_t n, const bool copy)
{
    size_t i = 0;
    for (;;) {
        while (n - i >= 64) {
            uint64_t m;
#ifdef __SSE2__
            __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16));
            __m128i v2 = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 32));
            __m128i v3 = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 48));
            if (copy) {
                _mm_storeu_si128((__m128i *)(void *)(d + i), v0);
                _mm_storeu_si128((__m128i *)(void *)(d + i + 16), v1);
                _mm_storeu_si128((__m128i *)(void *)(d + i + 32), v2);
                _mm_storeu_si128((__m128i *)(void *)(d + i + 48), v3);
            }
            if (!_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(v0, v1), _mm_or_si128(v2, v3)))) {
                i += 64;
                continue;
            }
            m = (uint64_t)(unsigned)_mm_movemask_epi8(v0) |
                (uint64_t)(unsigned)_mm_movemask_epi8(v1) << 16 |
                (uint64_t)(unsigned)_mm_movemask_epi8(v2) << 32 |
                (uint64_t)(unsigned)_mm_movemask_epi8(v3) << 48;
#else
            uint64_t w[8], or = 0;
            memcpy(w, s + i, 64);
            if (copy)
                memcpy(d + i, w, 64);
            for (int k = 0; k < 8; k++)
                or |= w[k];
            if (!(or & 0x8080808080808080ull)) {
                i += 64;
                continue;
            }
            m = 0;
            for (int k = 0; k < 64; k++)
                m |= (uint64_t)(s[i + k] >> 7) << k;
#endif
            i += (size_t)__builtin_ctzll(m);
            break;
        }
        /* At a non-ASCII byte, or in the last 63 bytes. */
        while (i < n) {
            if (s[i] < 0x80) {
                if (n - i >= 64)
                    break;   /* back to the blocks */
                if (copy)
                    d[i] = s[i];
                i++;
                continue;
            }
            int k = utf8_seq(s + i, n - i);
            if (k < 0)
                return i;
            if (copy)
                memcpy(d + i, s + i, (size_t)k);
            i += (size_t)k;
        }
        if (i >= n)
            return n;
    }
}

static size_t utf8_copy_valid(unsigned char *d, const unsigned char *s, size_t n)
{
    return utf8_scan(d, s, n, true);
}

static size_t utf8_valid(const unsigned char *s, size_t n)
{
    return utf8_scan(NULL, s, n, false);
}

/* UTF-8 with replacement; the first ok bytes are known to be valid. */
static int dec_utf8(simul__buf *o, const unsigned char *b, size_t n, size_t ok)
{
    hint(o, n + 16);
    int r = put(o, b, ok);
    const unsigned char *p = b + ok, *end = b + n;
    while (!r && p < end) {
        size_t a = ascii_run(p, end);
        const unsigned char *run = p;
        p += a;
        /* Valid sequences join the run; an invalid one ends it. */
        int k = 0;
        while (p < end && (k = utf8_seq(p, (size_t)(end - p))) > 0) {
            p += k;
            p += ascii_run(p, end);
        }
        r = put(o, run, (size_t)(p - run));
        if (!r && p < end) {
            r = put_cp(o, 0xFFFD);
            p += -k;
        }
    }
    return r;
}

static int dec_utf16(simul__buf *o, const unsigned char *b, size_t n, bool be)
{
    hint(o, n / 2 * 3 + 3);   /* BMP text: at most 3 bytes per unit */
    int r = 0;
    uint32_t lead = 0;                /* a high surrogate waiting */
    for (size_t i = 0; !r && i + 1 < n; i += 2) {
        uint32_t u = be ? (uint32_t)b[i] << 8 | b[i + 1] : (uint32_t)b[i + 1] << 8 | b[i];
        if (lead) {
            if (u >= 0xDC00 && u <= 0xDFFF) {
                r = put_cp(o, 0x10000 + ((lead - 0xD800) << 10) + (u - 0xDC00));
                lead = 0;
                continue;
            }
            lead = 0;
            if ((r = put_cp(o, 0xFFFD)))
                break;
        }
        if (u >= 0xD800 && u <= 0xDBFF)
            lead = u;
        else if (u >= 0xDC00 && u <= 0xDFFF)
            r = put_cp(o, 0xFFFD);
        else if (u < 0x80 && simul__buf_room(o))
            *simul__buf_tail(o) = (char)u, simul__buf_commit(o, 1);
        else
            r = put_cp(o, u);
    }
    /* A lone high surrogate or an odd byte at the end: one U+FFFD. */
    if (!r && (lead || n % 2))
        r = put_cp(o, 0xFFFD);
    return r;
}

/* Single-byte decoders: ASCII runs copied, other bytes through map. */
static int dec_single(simul__buf *o, const unsigned char *b, size_t n, uint32_t (*map)(unsigned))
{
    const unsigned char *p = b, *end = b + n;
    int r = 0;
    hint(o, n + n / 4 + 4);
    while (!r && p < end) {
        size_t a = ascii_run(p, end);
        if ((r = put(o, p, a)))
            break;
        p += a;
        for (; !r && p < end && *p >= 0x80; p++)
            r = put_cp(o, map(*p));
    }
    return r;
}

static uint32_t map_1252(unsigned c)
{
    return c < 0xA0 ? simul__cp1252_c1[c - 0x80] : c;
}

static uint32_t map_user(unsigned c)
{
    return 0xF780 + c - 0x80;
}

/* Everything else through iconv: what it rejects is one U+FFFD per byte
 * (decoding resumes at the next byte), an incomplete sequence at the end
 * one U+FFFD. */
static int dec_iconv(simul__buf *o, const unsigned char *b, size_t n, int enc)
{
    iconv_t cd = iconv_open("UTF-8", encodings[enc].iconv);
    if (cd == (iconv_t)-1)
        return errno == ENOMEM ? -ENOMEM : -ENOTSUP;
    bool gb = enc == ENC_GBK || enc == ENC_GB18030;
    char *in = (char *)(uintptr_t)b;
    size_t inleft = n;
    int r = 0;
    hint(o, n + n / 2 + 16);
    while (!r) {
        char *out = simul__buf_tail(o);
        size_t room = simul__buf_room(o), before = room;
        size_t k = iconv(cd, inleft ? &in : NULL, &inleft, &out, &room);
        simul__buf_commit(o, before - room);
        if (k != (size_t)-1) {
            if (!inleft)
                break;   /* input done and the state flushed */
            continue;
        }
        if (errno == E2BIG) {
            r = grow(o);
        } else if (errno == EILSEQ) {
            /* gb18030 decodes a lone 0x80 as the euro sign. */
            r = put_cp(o, gb && (unsigned char)*in == 0x80 ? 0x20AC : 0xFFFD);
            in++, inleft--;
        } else {   /* EINVAL: cut off at the end */
            r = put_cp(o, 0xFFFD);
            inleft = 0;
        }
    }
    iconv_close(cd);
    return r;
}

static int decode(simul__buf *o, const unsigned char *b, size_t n, int enc, size_t ok)
{
    switch (encodings[enc].dec) {
    case DEC_UTF8:
        return dec_utf8(o, b, n, ok);
    case DEC_UTF16LE:
        return dec_utf16(o, b, n, false);
    case DEC_UTF16BE:
        return dec_utf16(o, b, n, true);
    case DEC_1252:
        return dec_single(o, b, n, map_1252);
    case DEC_USER:
        return dec_single(o, b, n, map_user);
    case DEC_REPLACEMENT:
        return n ? put_cp(o, 0xFFFD) : 0;
    default:
        return dec_iconv(o, b, n, enc);
    }
}

/* simul_text_decode_opts, and simul__text_decode_view when view is not
 * NULL: then valid UTF-8 is not copied but pointed at. */
static int decode_text(const void *body, size_t len, const char *content_type,
                       const simul_text_opts *opts, const char **view, char **out,
                       size_t *outlen, const char **encoding)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    int enc;
    simul_text_source src;
    size_t skip;
    int r = choose(body, len, content_type, opts, &enc, &src, &skip);
    if (r)
        return r;
    size_t max = opts && opts->max ? opts->max : SIMUL_TEXT_MAX;
    const unsigned char *b = (const unsigned char *)body + skip;
    size_t n = len - skip;
    simul__buf o;
    size_t ok = 0;
    if (encodings[enc].dec == DEC_UTF8 && view) {
        if (n > max)
            return -EFBIG;
        ok = utf8_valid(b, n);
        if (ok == n) {
            *view = (const char *)b;   /* the caller's NUL ends it */
            if (outlen)
                *outlen = n;
            if (encoding)
                *encoding = encodings[enc].name;
            return 0;
        }
    } else if (encodings[enc].dec == DEC_UTF8) {
        /* The common case: valid UTF-8, one exact allocation and one pass
         * that copies and checks. Invalid bytes only grow the text. */
        if (n > max)
            return -EFBIG;
        unsigned char *m = malloc(n + 1);
        if (!m)
            return -ENOMEM;
        ok = utf8_copy_valid(m, b, n);
        if (ok == n) {
            m[n] = '\0';
            *out = (char *)m;
            if (outlen)
                *outlen = n;
            if (encoding)
                *encoding = encodings[enc].name;
            return 0;
        }
        free(m);   /* the replacing decoder starts again from ok */
    }
    simul__buf_init(&o, max == SIZE_MAX ? max : max + 1);
    r = decode(&o, b, n, enc, ok);
    if (!r)
        r = put(&o, "", 1);
    if (r) {
        simul__buf_free(&o);
        return r;
    }
    /* Give back what doubling left over beyond an eighth. */
    if (o.cap - o.len > o.len / 8 + 64) {
        char *m = realloc(o.mem, o.len);
        if (m)
            o.mem = m;
    }
    *out = simul__buf_data(&o);
    if (view)
        *view = *out;
    if (outlen)
        *outlen = simul__buf_len(&o) - 1;
    if (encoding)
        *encoding = encodings[enc].name;
    return 0;
}

int simul_text_decode_opts(const void *body, size_t len, const char *content_type,
                           const simul_text_opts *opts, char **out, size_t *outlen,
                           const char **encoding)
{
    return decode_text(body, len, content_type, opts, NULL, out, outlen, encoding);
}

int simul__text_decode_view(const void *body, size_t len, const char *content_type,
                            const simul_text_opts *opts, const char **text, char **owned,
                            size_t *outlen, const char **encoding)
{
    if (!text)
        return -EINVAL;
    return decode_text(body, len, content_type, opts, text, owned, outlen, encoding);
}

int simul_text_decode(const void *body, size_t len, const char *content_type, char **out,
                      size_t *outlen, const char **encoding)
{
    return simul_text_decode_opts(body, len, content_type, NULL, out, outlen, encoding);
}
