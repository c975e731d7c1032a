/*
 * links.c - streaming link extraction: the HTML5 tokenizer's states for
 * what carries links (tags, attributes, comments, raw text, script data with
 * its escape states), byte-driven so a page may be split anywhere, with no
 * tree. The tree builder's only effect we model is the one that hides
 * links: after <script>, <style>, <title>, <textarea>, <xmp>, <iframe>,
 * <noembed>, <noframes> the tokenizer reads raw text up to the matching end
 * tag, and after <plaintext> forever. See docs/design.md "Link extraction".
 *
 * Attribute values are kept raw while tokenizing (only for the attributes
 * that matter) and character references are decoded when the tag ends:
 * a reference consumes only alphanumerics, '#' and ';', which never end a
 * value, so decoding afterwards is the same as decoding in the value states.
 */
#include <simul/html.h>

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "entities.h"
#include "utf8.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum {
    S_DATA, S_TAG_OPEN, S_END_TAG_OPEN, S_TAG_NAME, S_BEFORE_ATTR_NAME, S_ATTR_NAME,
    S_AFTER_ATTR_NAME, S_BEFORE_ATTR_VALUE, S_ATTR_VALUE_DQ, S_ATTR_VALUE_SQ,
    S_ATTR_VALUE_UQ, S_AFTER_ATTR_VALUE_Q, S_SELF_CLOSING, S_MD_OPEN, S_MD_DASH,
    S_BOGUS_COMMENT, S_COMMENT_START, S_COMMENT_START_DASH, S_COMMENT, S_COMMENT_END_DASH,
    S_COMMENT_END, S_COMMENT_END_BANG,
    /* RCDATA and RAWTEXT (the same to us: text until the end tag). */
    S_RAW, S_RAW_LT, S_RAW_END_TAG_OPEN, S_RAW_END_TAG_NAME,
    /* Script data and its escapes. */
    S_SCRIPT, S_SCRIPT_LT, S_SCRIPT_END_TAG_OPEN, S_SCRIPT_END_TAG_NAME, S_SCRIPT_ESC_START,
    S_SCRIPT_ESC_START_DASH, S_SCRIPT_ESC, S_SCRIPT_ESC_DASH, S_SCRIPT_ESC_DASH_DASH,
    S_SCRIPT_ESC_LT, S_SCRIPT_ESC_END_TAG_OPEN, S_SCRIPT_ESC_END_TAG_NAME, S_SCRIPT_DESC_START,
    S_SCRIPT_DESC, S_SCRIPT_DESC_DASH, S_SCRIPT_DESC_DASH_DASH, S_SCRIPT_DESC_LT,
    S_SCRIPT_DESC_END,
    S_PLAINTEXT,
};

enum { T_OTHER, T_A, T_AREA, T_LINK, T_BASE, T_FRAME, T_IFRAME, T_META, T_SCRIPT, T_STYLE,
       T_TEXTAREA, T_TITLE, T_XMP, T_NOEMBED, T_NOFRAMES, T_PLAINTEXT };
enum { A_OTHER, A_HREF, A_SRC, A_HTTP_EQUIV, A_CONTENT };

#define NAME_MAX_ 64    /* tag and attribute names kept (longer: truncated) */
#define AUX_MAX 64      /* http-equiv value kept */

/* Bytes that end a run in the tag states. */
enum { K_WS = 1, K_NAME_END = 2, K_UQ_END = 4, K_SKIP_END = 8 };
static uint8_t ktab[256];

__attribute__((constructor)) static void ktab_init(void)
{
    const char *ws = "\t\n\f\r ";
    for (const char *c = ws; *c; c++)
        ktab[(unsigned char)*c] |= K_WS | K_NAME_END | K_UQ_END | K_SKIP_END;
    ktab['/'] |= K_NAME_END | K_SKIP_END;
    ktab['>'] |= K_NAME_END | K_UQ_END | K_SKIP_END;
    ktab['='] |= K_NAME_END | K_SKIP_END;
    ktab[0] |= K_NAME_END;
    for (int c = 'A'; c <= 'Z'; c++)
        ktab[c] |= K_NAME_END;   /* uppercase: lowered one by one */
}

struct simul_links {
    simul_link_fn fn;
    void         *arg;
    unsigned      url_flags;
    int           state;
    int           ret;        /* the callback's stop value */
    /* The tag being tokenized. */
    uint8_t tag, attr, target, end_tag;
    uint8_t seen;             /* 1 << A_*: first attribute wins */
    bool    has_v, has_a, vover;
    bool    all;              /* SIMUL_LINKS_ALL_ATTRS */
    bool    collect;          /* this tag's attribute names matter */
    char    name[NAME_MAX_ + 4];   /* tag name, then the attribute name */
    uint8_t nlen;
    char    tagname[NAME_MAX_ + 4];
    uint8_t tlen;
    char    tmp[NAME_MAX_ + 4];    /* end tag name in raw text */
    uint8_t tmplen;
    char    last[NAME_MAX_ + 4];   /* the raw-text element's name */
    uint8_t lastlen;
    uint32_t vlen, alen;
    char    abuf[AUX_MAX];
    /* Base URL. */
    bool      have_doc, have_base;
    simul_url doc, base, out;
    size_t    dropped;
    char      vbuf[SIMUL_LINKS_VALUE_MAX];
    char      dec[3 * SIMUL_LINKS_VALUE_MAX + 16];   /* NUL decodes to 3 bytes */
};

/* The tags that matter, by (length, first letter): no two share both, so
 * one table load finds the only candidate and one compare confirms it
 * (most tags are none of these: no branch to mispredict on the name). */
static const char *const tag_names[] = {
    [T_A] = "a", [T_AREA] = "area", [T_LINK] = "link", [T_BASE] = "base",
    [T_FRAME] = "frame", [T_IFRAME] = "iframe", [T_META] = "meta", [T_SCRIPT] = "script",
    [T_STYLE] = "style", [T_TEXTAREA] = "textarea", [T_TITLE] = "title", [T_XMP] = "xmp",
    [T_NOEMBED] = "noembed", [T_NOFRAMES] = "noframes", [T_PLAINTEXT] = "plaintext"};
#define TAG_LEN_MAX 9
static uint8_t tag_slot[(TAG_LEN_MAX + 1) * 32];

static int tag_id(const char *s, size_t n)
{
    if (n > TAG_LEN_MAX || n == 0)
        return T_OTHER;
    int t = tag_slot[n * 32 + ((unsigned char)s[0] & 31)];
    return t != T_OTHER && !memcmp(s, tag_names[t], n) ? t : T_OTHER;
}

__attribute__((constructor)) static void tag_slot_init(void)
{
    for (int t = 0; t < (int)(sizeof tag_names / sizeof tag_names[0]); t++) {
        if (!tag_names[t])
            continue;
        size_t n = strlen(tag_names[t]);
        int k = (int)n * 32 + (tag_names[t][0] & 31);
        assert(n <= TAG_LEN_MAX && tag_slot[k] == T_OTHER);
        tag_slot[k] = (uint8_t)t;
    }
}

static int attr_id(const char *s, size_t n)
{
    if (n == 4 && !memcmp(s, "href", 4))
        return A_HREF;
    if (n == 3 && !memcmp(s, "src", 3))
        return A_SRC;
    if (n == 10 && !memcmp(s, "http-equiv", 10))
        return A_HTTP_EQUIV;
    if (n == 7 && !memcmp(s, "content", 7))
        return A_CONTENT;
    return A_OTHER;
}

/* Which buffer (1 value, 2 aux) an attribute of this tag fills, or 0. */
static int target_of(int tag, int attr)
{
    switch (tag) {
    case T_A: case T_AREA: case T_LINK: case T_BASE:
        return attr == A_HREF;
    case T_FRAME: case T_IFRAME:
        return attr == A_SRC;
    case T_META:
        return attr == A_CONTENT ? 1 : attr == A_HTTP_EQUIV ? 2 : 0;
    }
    return 0;
}

/* ---- character references (HTML 13.2.5.72-80, in an attribute) -------- */

static bool alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* Longest entity name that prefixes s[0, n); its index, or -1. */
static int entity_match(const char *s, size_t n, size_t *mlen)
{
    int best = -1;
    size_t lo = 0, hi = sizeof entities / sizeof entities[0];
    /* Narrow the range one character at a time (the table is sorted). */
    for (size_t k = 1; k <= n && k <= ENTITY_MAX_NAME && lo < hi; k++) {
        size_t a = lo, b = hi;
        while (a < b) {   /* first entry whose k-prefix >= s's */
            size_t m = (a + b) / 2;
            const char *e = entities[m].name;
            size_t el = strlen(e);
            int c = memcmp(e, s, el < k ? el : k);
            if (c < 0 || (c == 0 && el < k))
                a = m + 1;
            else
                b = m;
        }
        lo = a;
        b = hi;
        size_t z = lo;
        while (z < b) {   /* first entry whose k-prefix > s's */
            size_t m = (z + b) / 2;
            const char *e = entities[m].name;
            size_t el = strlen(e);
            if (el >= k && !memcmp(e, s, k))
                z = m + 1;
            else
                b = m;
        }
        hi = z;
        if (lo < hi && strlen(entities[lo].name) == k) {
            best = (int)lo;
            *mlen = k;
        }
    }
    return best;
}

/* Decodes raw attribute bytes: references, CR/CRLF to LF, NUL to U+FFFD.
 * Output is at most 3n bytes (NUL becomes U+FFFD). */
static size_t decode_attr(const char *s, size_t n, char *o)
{
    size_t i = 0, w = 0;
    while (i < n) {
#ifdef __SSE2__
        /* Most values have no reference, CR or NUL: copy them 16 bytes at
         * a time. The output never outgrows 3 bytes per input byte, so the
         * 16-byte store stays inside the caller's buffer. */
        while (n - i >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('&')),
                                       _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')),
                                                    _mm_cmpeq_epi8(v, _mm_setzero_si128())));
            unsigned m = (unsigned)_mm_movemask_epi8(hit);
            _mm_storeu_si128((__m128i *)(void *)(o + w), v);
            if (m) {
                unsigned k = (unsigned)__builtin_ctz(m);
                i += k;
                w += k;
                break;
            }
            i += 16;
            w += 16;
        }
        if (i >= n)
            break;
#endif
        unsigned char c = (unsigned char)s[i];
        if (c == '\r') {
            o[w++] = '\n';
            i += (i + 1 < n && s[i + 1] == '\n') ? 2 : 1;
            continue;
        }
        if (c == 0) {
            w += simul__utf8_put(o + w, 0xFFFD);
            i++;
            continue;
        }
        if (c != '&') {
            o[w++] = (char)c;
            i++;
            continue;
        }
        if (i + 1 < n && s[i + 1] == '#') {
            size_t k = i + 2;
            bool hex = k < n && (s[k] | 0x20) == 'x';
            if (hex)
                k++;
            size_t d0 = k;
            uint32_t v = 0;
            while (k < n && (hex ? alnum((unsigned char)s[k]) &&
                                       ((s[k] >= '0' && s[k] <= '9') ||
                                        ((s[k] | 0x20) >= 'a' && (s[k] | 0x20) <= 'f'))
                                 : (s[k] >= '0' && s[k] <= '9'))) {
                int dv = s[k] <= '9' ? s[k] - '0' : (s[k] | 0x20) - 'a' + 10;
                v = v > 0x10FFFF ? v : v * (hex ? 16 : 10) + (uint32_t)dv;
                k++;
            }
            if (k == d0) {   /* "&#" or "&#x" with no digits: as is */
                o[w++] = '&';
                i++;
                continue;
            }
            if (k < n && s[k] == ';')
                k++;
            if (v == 0 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                v = 0xFFFD;
            else if (v >= 0x80 && v <= 0x9F)
                v = simul__cp1252_c1[v - 0x80];
            w += simul__utf8_put(o + w, v);
            i = k;
            continue;
        }
        size_t ml = 0;
        int e = entity_match(s + i + 1, n - i - 1, &ml);
        if (e >= 0) {
            const char *name = entities[e].name;
            bool semi = name[ml - 1] == ';';
            unsigned char next = i + 1 + ml < n ? (unsigned char)s[i + 1 + ml] : 0;
            if (!semi && (next == '=' || alnum(next))) {
                o[w++] = '&';   /* historical: "&amp=..." in a value stays */
                i++;
                continue;
            }
            size_t ul = strlen(entities[e].utf8);
            memcpy(o + w, entities[e].utf8, ul);
            w += ul;
            i += 1 + ml;
            continue;
        }
        o[w++] = '&';
        i++;
    }
    return w;
}

/* ---- emitting ----------------------------------------------------------- */

static bool ws(unsigned char c)
{
    return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}

/* The URL of a meta refresh content (HTML's shared declarative refresh
 * steps), or false. */
static bool refresh_url(const char *s, size_t n, const char **u, size_t *un)
{
    size_t p = 0;
    while (p < n && ws((unsigned char)s[p]))
        p++;
    size_t t0 = p;
    while (p < n && s[p] >= '0' && s[p] <= '9')
        p++;
    if (p == t0 && !(p < n && s[p] == '.'))
        return false;
    while (p < n && ((s[p] >= '0' && s[p] <= '9') || s[p] == '.'))
        p++;
    if (p >= n)
        return false;   /* refresh to the page itself: no link */
    if (s[p] != ';' && s[p] != ',' && !ws((unsigned char)s[p]))
        return false;
    while (p < n && ws((unsigned char)s[p]))
        p++;
    if (p < n && (s[p] == ';' || s[p] == ','))
        p++;
    while (p < n && ws((unsigned char)s[p]))
        p++;
    if (p >= n)
        return false;
    size_t start = p;
    if ((s[p] | 0x20) != 'u')
        goto skip_quotes;
    p++;
    if (p >= n || (s[p] | 0x20) != 'r')
        goto parse;
    p++;
    if (p >= n || (s[p] | 0x20) != 'l')
        goto parse;
    p++;
    while (p < n && ws((unsigned char)s[p]))
        p++;
    if (p >= n || s[p] != '=')
        goto parse;
    p++;
    while (p < n && ws((unsigned char)s[p]))
        p++;
skip_quotes:
    {
        char q = 0;
        if (p < n && (s[p] == '\'' || s[p] == '"'))
            q = s[p++];
        start = p;
        size_t e = n;
        if (q) {
            const char *qe = memchr(s + p, q, n - p);
            if (qe)
                e = (size_t)(qe - s);
        }
        *u = s + start;
        *un = e - start;
        return true;
    }
parse:
    *u = s + start;
    *un = n - start;
    return true;
}

static int call(simul_links *lx, int kind, const char *v, size_t n)
{
    static const char *const tags[] = {"a", "area", "link", "base", "frame", "iframe", "meta"};
    simul_link l = {.kind = (simul_link_kind)kind, .value = v, .len = n, .url = NULL,
                    .tag = tags[kind], .attr = kind == SIMUL_LINK_REFRESH ? "content"
                                            : kind >= SIMUL_LINK_FRAME ? "src" : "href"};
    if (lx->have_doc) {
        const simul_url *b = lx->have_base ? &lx->base : &lx->doc;
        if (simul_url_parse(&lx->out, v, n, b, lx->url_flags) == 0)
            l.url = &lx->out;
    }
    return lx->fn(lx->arg, &l);
}

/* A start tag ended: report its links, set the base, enter raw text. */
static int emit_start(simul_links *lx)
{
    int tag = lx->tag, rc = 0;
    if (lx->vover) {
        lx->dropped++;
    } else if (lx->has_v && tag != T_META) {
        size_t n = decode_attr(lx->vbuf, lx->vlen, lx->dec);
        lx->dec[n] = '\0';
        if (tag == T_BASE && !lx->have_base && lx->have_doc) {
            /* The frozen base URL: the first <base href>, unless it does
             * not parse or is data:/javascript:. */
            if (simul_url_parse(&lx->base, lx->dec, n, &lx->doc,
                                lx->url_flags & SIMUL_URL_RFC3986) == 0) {
                size_t sl;
                const char *sch = simul_url_part(&lx->base, SIMUL_URL_SCHEME, &sl);
                lx->have_base = !(sl == 4 && !memcmp(sch, "data", 4)) &&
                                !(sl == 10 && !memcmp(sch, "javascript", 10));
            }
        }
        static const int kinds[] = {
            [T_A] = SIMUL_LINK_A, [T_AREA] = SIMUL_LINK_AREA, [T_LINK] = SIMUL_LINK_LINK,
            [T_BASE] = SIMUL_LINK_BASE, [T_FRAME] = SIMUL_LINK_FRAME,
            [T_IFRAME] = SIMUL_LINK_IFRAME};
        rc = call(lx, kinds[tag], lx->dec, n);
    } else if (tag == T_META && lx->has_v && lx->has_a) {
        char eq[3 * AUX_MAX + 8];   /* a NUL decodes to 3 bytes */
        size_t en = decode_attr(lx->abuf, lx->alen, eq);
        bool refresh = en == 7;
        for (size_t k = 0; refresh && k < 7; k++)
            refresh = (eq[k] | 0x20) == "refresh"[k];
        if (refresh) {
            size_t n = decode_attr(lx->vbuf, lx->vlen, lx->dec);
            const char *u;
            size_t un;
            if (refresh_url(lx->dec, n, &u, &un)) {
                memmove(lx->dec, u, un);
                lx->dec[un] = '\0';
                rc = call(lx, SIMUL_LINK_REFRESH, lx->dec, un);
            }
        }
    }
    /* What the tree builder would switch the tokenizer to. */
    switch (tag) {
    case T_SCRIPT:
        lx->state = S_SCRIPT;
        break;
    case T_STYLE: case T_TEXTAREA: case T_TITLE: case T_XMP: case T_IFRAME: case T_NOEMBED:
    case T_NOFRAMES:
        lx->state = S_RAW;
        memcpy(lx->last, lx->tagname, lx->tlen);
        lx->lastlen = lx->tlen;
        break;
    case T_PLAINTEXT:
        lx->state = S_PLAINTEXT;
        break;
    default:
        lx->state = S_DATA;
    }
    return rc;
}

static int emit_list(simul_links *lx)
{
    int rc = 0;
    lx->tagname[lx->tlen] = '\0';
    if (lx->vover)
        lx->dropped++;
    for (uint32_t o = 0; !lx->vover && !rc && o < lx->vlen;) {
        uint8_t nl = (uint8_t)lx->vbuf[o];
        uint32_t vl;
        memcpy(&vl, lx->vbuf + o + 1 + nl, 4);
        char name[NAME_MAX_ + 4];
        memcpy(name, lx->vbuf + o + 1, nl);
        name[nl] = '\0';
        size_t n = decode_attr(lx->vbuf + o + 1 + nl + 4, vl, lx->dec);
        lx->dec[n] = '\0';
        simul_link l = {.kind = SIMUL_LINK_ATTR, .tag = lx->tagname, .attr = name,
                        .value = lx->dec, .len = n};
        rc = lx->fn(lx->arg, &l);
        o += 1u + nl + 4u + vl;
    }
    return rc;
}

static int emit_tag(simul_links *lx)
{
    if (lx->all && !lx->end_tag) {
        int rc = emit_list(lx);
        int keep = lx->tag;
        lx->tag = (uint8_t)tag_id(lx->tagname, lx->tlen);
        lx->vlen = 0;
        lx->has_v = lx->has_a = false;
        emit_start(lx);   /* for the raw-text switch only: nothing to report */
        lx->tag = (uint8_t)keep;
        return rc;
    }
    if (lx->end_tag || lx->tag == T_OTHER) {
        lx->state = S_DATA;
        return 0;
    }
    return emit_start(lx);
}

static void tag_begin(simul_links *lx, bool end)
{
    lx->end_tag = end;
    lx->tlen = 0;
    lx->tag = T_OTHER;
    lx->seen = 0;
    lx->has_v = lx->has_a = lx->vover = false;
    lx->vlen = lx->alen = 0;
    lx->target = 0;
    lx->collect = false;
}

static void tag_named(simul_links *lx)
{
    if (!lx->end_tag)
        lx->tag = (uint8_t)tag_id(lx->tagname, lx->tlen);
    lx->collect = !lx->end_tag && (lx->all || lx->tag != T_OTHER);
}

/* SIMUL_LINKS_ALL_ATTRS keeps every attribute in vbuf as records
 * [u8 name length][name][u32 value length][value]; lx->alen is the offset
 * of the current record's value length. */
static void list_attr(simul_links *lx)
{
    lx->target = 0;
    if (lx->end_tag || lx->vover)
        return;
    for (uint32_t o = 0; o < lx->vlen;) {   /* duplicates: the first wins */
        uint8_t nl = (uint8_t)lx->vbuf[o];
        uint32_t vl;
        memcpy(&vl, lx->vbuf + o + 1 + nl, 4);
        if (nl == lx->nlen && !memcmp(lx->vbuf + o + 1, lx->name, nl))
            return;
        o += 1u + nl + 4u + vl;
    }
    if (1u + lx->nlen + 4u > SIMUL_LINKS_VALUE_MAX - lx->vlen) {
        lx->vover = true;
        return;
    }
    lx->vbuf[lx->vlen] = (char)lx->nlen;
    memcpy(lx->vbuf + lx->vlen + 1, lx->name, lx->nlen);
    lx->alen = lx->vlen + 1 + lx->nlen;
    memset(lx->vbuf + lx->alen, 0, 4);
    lx->vlen = lx->alen + 4;
    lx->target = 3;
}

static void attr_named(simul_links *lx)
{
    lx->target = 0;
    if (lx->all) {
        list_attr(lx);
        return;
    }
    if (lx->tag == T_OTHER || lx->end_tag)
        return;
    int a = attr_id(lx->name, lx->nlen);
    int t = target_of(lx->tag, a);
    if (!t || (lx->seen & (1u << a)))
        return;   /* not wanted, or a duplicate: the first wins */
    lx->seen |= (uint8_t)(1u << a);
    lx->target = (uint8_t)t;
    if (t == 1) {
        lx->has_v = true;
        lx->vlen = 0;
    } else {
        lx->has_a = true;
        lx->alen = 0;
    }
}

static void value_add(simul_links *lx, const char *s, size_t n)
{
    if (lx->target == 3) {
        if (n > SIMUL_LINKS_VALUE_MAX - lx->vlen) {
            lx->vover = true;
            lx->target = 0;
            return;
        }
        memcpy(lx->vbuf + lx->vlen, s, n);
        lx->vlen += (uint32_t)n;
        uint32_t vl;
        memcpy(&vl, lx->vbuf + lx->alen, 4);
        vl += (uint32_t)n;
        memcpy(lx->vbuf + lx->alen, &vl, 4);
    } else if (lx->target == 1) {
        if (n > SIMUL_LINKS_VALUE_MAX - lx->vlen) {
            lx->vover = true;
            return;
        }
        memcpy(lx->vbuf + lx->vlen, s, n);
        lx->vlen += (uint32_t)n;
    } else if (lx->target == 2) {
        size_t k = n < AUX_MAX - lx->alen ? n : AUX_MAX - lx->alen;
        memcpy(lx->abuf + lx->alen, s, k);
        lx->alen += (uint32_t)k;
        if (k < n)
            lx->alen = AUX_MAX;   /* too long to be "refresh" anyway */
    }
}

/* The first c in [p, end), or end. Spans in HTML are mostly short: a few
 * 16-byte compares inline, memchr for the long tail. */
static inline const char *find_byte(const char *p, const char *end, char c)
{
#ifdef __SSE2__
    __m128i needle = _mm_set1_epi8(c);
    for (int k = 0; k < 4 && end - p >= 16; k++, p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, needle));
        if (m)
            return p + __builtin_ctz(m);
    }
    if (end - p >= 16) {
        const char *r = memchr(p, c, (size_t)(end - p));
        return r ? r : end;
    }
#endif
    while (p < end && *p != c)
        p++;
    return p;
}

static inline char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
}

static inline bool alpha(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static void name_add(char *buf, uint8_t *len, char c)
{
    if (*len >= NAME_MAX_)
        return;
    if (c == 0) {   /* NUL in a name is U+FFFD */
        if (*len + 3 > NAME_MAX_)
            return;
        memcpy(buf + *len, "\xef\xbf\xbd", 3);
        *len += 3;
    } else {
        buf[(*len)++] = lower(c);
    }
}

static bool appropriate(const simul_links *lx, const char *want, size_t wl)
{
    return lx->tmplen == wl && !memcmp(lx->tmp, want, wl);
}

/* ---- the tokenizer ------------------------------------------------------ */

int simul_links_feed(simul_links *lx, const char *chunk, size_t n)
{
    if (!lx || (!chunk && n))
        return -EINVAL;
    if (lx->ret)
        return lx->ret;
    const char *p = chunk, *end = chunk + n;
    int st = lx->state;
#define NEXT(s) do { st = (s); p++; } while (0)
#define RECONSUME(s) do { st = (s); } while (0)
#define EMIT() do { lx->state = st; p++; int r_ = emit_tag(lx); st = lx->state; \
                    if (r_) { lx->ret = r_; return r_; } } while (0)
    while (p < end) {
        unsigned char c = (unsigned char)*p;
        switch (st) {
        case S_DATA:
        data: {
            const char *lt = find_byte(p, end, '<');
            if (lt == end) {
                p = end;
                st = S_DATA;
                break;
            }
            p = lt + 1;
            if (p < end && alpha((unsigned char)*p)) {   /* the common case */
                tag_begin(lx, false);
                goto tag_name;
            }
            /* An end tag in data reports nothing and switches nothing: skip
             * "</name>" whole; anything else takes the states below. */
            if (!lx->all && end - p >= 3 && *p == '/' && alpha((unsigned char)p[1])) {
                const char *e = p + 2;
                while (e < end && !(ktab[(unsigned char)*e] & K_SKIP_END))
                    e++;
                if (e < end && *e == '>') {
                    p = e + 1;
                    goto data;
                }
            }
            st = S_TAG_OPEN;
            break;
        }
        case S_TAG_OPEN:
            if (c == '!')
                NEXT(S_MD_OPEN);
            else if (c == '/')
                NEXT(S_END_TAG_OPEN);
            else if (alpha(c)) {
                tag_begin(lx, false);
                RECONSUME(S_TAG_NAME);
            } else if (c == '?')
                RECONSUME(S_BOGUS_COMMENT);
            else
                RECONSUME(S_DATA);
            break;
        case S_END_TAG_OPEN:
            if (alpha(c)) {
                tag_begin(lx, true);
                RECONSUME(S_TAG_NAME);
            } else if (c == '>')
                NEXT(S_DATA);
            else
                RECONSUME(S_BOGUS_COMMENT);
            break;
        /* The tag states, as one block with direct jumps between them (the
         * hot path: a page is mostly tags). Each label is one state; "need"
         * leaves with the state saved when the chunk ends. */
        case S_TAG_NAME:
        case S_BEFORE_ATTR_NAME:
        case S_ATTR_NAME:
        case S_AFTER_ATTR_NAME:
        case S_BEFORE_ATTR_VALUE:
        case S_ATTR_VALUE_DQ:
        case S_ATTR_VALUE_SQ:
        case S_ATTR_VALUE_UQ:
        case S_AFTER_ATTR_VALUE_Q:
        case S_SELF_CLOSING: {
#define NEED(s) do { if (p >= end) { st = (s); goto chunk_end; } c = (unsigned char)*p; } while (0)
            switch (st) {
            case S_TAG_NAME: goto tag_name;
            case S_BEFORE_ATTR_NAME: goto before_attr_name;
            case S_ATTR_NAME: goto attr_name;
            case S_AFTER_ATTR_NAME: goto after_attr_name;
            case S_BEFORE_ATTR_VALUE: goto before_attr_value;
            case S_ATTR_VALUE_DQ: case S_ATTR_VALUE_SQ: goto attr_value_q;
            case S_ATTR_VALUE_UQ: goto attr_value_uq;
            case S_AFTER_ATTR_VALUE_Q: goto after_attr_value_q;
            default: goto self_closing;
            }
        tag_name: {
            /* Plain bytes (not uppercase, NUL or an end) copy straight. */
            const char *e = p;
            while (e < end && !(ktab[(unsigned char)*e] & K_NAME_END))
                e++;
            size_t k = (size_t)(e - p);
            if (k > (size_t)(NAME_MAX_ - lx->tlen))
                k = (size_t)(NAME_MAX_ - lx->tlen);
            memcpy(lx->tagname + lx->tlen, p, k);
            lx->tlen = (uint8_t)(lx->tlen + k);
            p = e;
            NEED(S_TAG_NAME);
            if (ws(c)) {
                tag_named(lx);
                p++;
                if (!lx->collect)
                    goto skip_attrs;
                goto before_attr_name;
            }
            if (c == '/') {
                tag_named(lx);
                p++;
                goto self_closing;
            }
            if (c == '>') {
                tag_named(lx);
                goto emit;
            }
            name_add(lx->tagname, &lx->tlen, (char)c);
            p++;
            goto tag_name;
        }
        skip_attrs:
            /* A tag whose attributes matter to nobody (most of a page): the
             * common shape, name="value" pairs up to '>', in a tight loop
             * with nothing stored; any other shape, or the chunk's end,
             * continues in the general states from where it stands. */
            for (;;) {
                while (p < end && (ktab[(unsigned char)*p] & K_WS))
                    p++;
                if (p >= end || *p == '/' || *p == '=')
                    goto before_attr_name;
                if (*p == '>') {
                    p++;
                    goto data;
                }
                const char *e = p + 1;
                while (e < end && !(ktab[(unsigned char)*e] & K_SKIP_END))
                    e++;
                if (end - e < 2 || e[0] != '=' || e[1] != '"') {
                    p = e;
                    goto attr_name;
                }
                const char *q = find_byte(e + 2, end, '"');
                if (q == end) {
                    p = e + 1;
                    goto before_attr_value;
                }
                p = q + 1;
                if (p < end && *p == '>') {
                    p++;
                    goto data;
                }
                if (p >= end || !(ktab[(unsigned char)*p] & K_WS))
                    goto after_attr_value_q;
            }
        before_attr_name:
            NEED(S_BEFORE_ATTR_NAME);
            if (ws(c)) {
                p++;
                goto before_attr_name;
            }
            if (c == '/' || c == '>')
                goto after_attr_name;
            lx->nlen = 0;
            if (c == '=') {
                name_add(lx->name, &lx->nlen, '=');
                p++;
            }
            goto attr_name;
        attr_name: {
            const char *e = p;
            while (e < end && !(ktab[(unsigned char)*e] & K_NAME_END))
                e++;
            if (lx->collect) {   /* names matter only on the tags we report */
                size_t k = (size_t)(e - p);
                if (k > (size_t)(NAME_MAX_ - lx->nlen))
                    k = (size_t)(NAME_MAX_ - lx->nlen);
                memcpy(lx->name + lx->nlen, p, k);
                lx->nlen = (uint8_t)(lx->nlen + k);
            }
            p = e;
            NEED(S_ATTR_NAME);
            if (ws(c) || c == '/' || c == '>') {
                attr_named(lx);
                goto after_attr_name;
            }
            if (c == '=') {
                attr_named(lx);
                p++;
                goto before_attr_value;
            }
            if (lx->collect)
                name_add(lx->name, &lx->nlen, (char)c);
            p++;
            goto attr_name;
        }
        after_attr_name:
            NEED(S_AFTER_ATTR_NAME);
            if (ws(c)) {
                p++;
                goto after_attr_name;
            }
            if (c == '/') {
                p++;
                goto self_closing;
            }
            if (c == '=') {
                p++;
                goto before_attr_value;
            }
            if (c == '>')
                goto emit;
            lx->nlen = 0;
            goto attr_name;
        before_attr_value:
            NEED(S_BEFORE_ATTR_VALUE);
            if (ws(c)) {
                p++;
                goto before_attr_value;
            }
            if (c == '"' || c == '\'') {
                st = c == '"' ? S_ATTR_VALUE_DQ : S_ATTR_VALUE_SQ;
                p++;
                goto attr_value_q;
            }
            if (c == '>')
                goto emit;
            goto attr_value_uq;
        attr_value_q: {
            char q = st == S_ATTR_VALUE_DQ ? '"' : '\'';
            const char *e = find_byte(p, end, q);
            if (lx->target)
                value_add(lx, p, (size_t)(e - p));
            p = e;
            NEED(st);
            p++;
            goto after_attr_value_q;
        }
        attr_value_uq: {
            const char *e = p;
            while (e < end && !(ktab[(unsigned char)*e] & K_UQ_END))
                e++;
            if (lx->target)
                value_add(lx, p, (size_t)(e - p));
            p = e;
            NEED(S_ATTR_VALUE_UQ);
            if (c == '>')
                goto emit;
            p++;
            goto before_attr_name;
        }
        after_attr_value_q:
            NEED(S_AFTER_ATTR_VALUE_Q);
            if (ws(c)) {
                p++;
                goto before_attr_name;
            }
            if (c == '/') {
                p++;
                goto self_closing;
            }
            if (c == '>')
                goto emit;
            goto before_attr_name;
        self_closing:
            NEED(S_SELF_CLOSING);
            if (c == '>')
                goto emit;
            goto before_attr_name;
        emit:
            if (!lx->all && (lx->end_tag || lx->tag == T_OTHER)) {
                p++;   /* nothing to report, no raw text: straight on */
                goto data;
            }
            st = S_DATA;
            EMIT();
            break;
        chunk_end:
            break;
#undef NEED
        }
        /* <! : comments start with "--"; DOCTYPE, CDATA in HTML content and
         * anything else end at the next '>' like a bogus comment. */
        case S_MD_OPEN:
            if (c == '-')
                NEXT(S_MD_DASH);
            else
                RECONSUME(S_BOGUS_COMMENT);
            break;
        case S_MD_DASH:
            if (c == '-')
                NEXT(S_COMMENT_START);
            else
                RECONSUME(S_BOGUS_COMMENT);
            break;
        case S_BOGUS_COMMENT: {
            const char *gt = memchr(p, '>', (size_t)(end - p));
            if (!gt)
                p = end;
            else {
                p = gt + 1;
                st = S_DATA;
            }
            break;
        }
        case S_COMMENT_START:
            if (c == '-')
                NEXT(S_COMMENT_START_DASH);
            else if (c == '>')
                NEXT(S_DATA);
            else
                RECONSUME(S_COMMENT);
            break;
        case S_COMMENT_START_DASH:
            if (c == '-')
                NEXT(S_COMMENT_END);
            else if (c == '>')
                NEXT(S_DATA);
            else
                RECONSUME(S_COMMENT);
            break;
        case S_COMMENT: {
            /* "<!--" inside a comment only adds dashes toward the end. */
            const char *d = memchr(p, '-', (size_t)(end - p));
            if (!d)
                p = end;
            else {
                p = d + 1;
                st = S_COMMENT_END_DASH;
            }
            break;
        }
        case S_COMMENT_END_DASH:
            if (c == '-')
                NEXT(S_COMMENT_END);
            else
                RECONSUME(S_COMMENT);
            break;
        case S_COMMENT_END:
            if (c == '>')
                NEXT(S_DATA);
            else if (c == '!')
                NEXT(S_COMMENT_END_BANG);
            else if (c == '-')
                p++;
            else
                RECONSUME(S_COMMENT);
            break;
        case S_COMMENT_END_BANG:
            if (c == '-')
                NEXT(S_COMMENT_END_DASH);
            else if (c == '>')
                NEXT(S_DATA);
            else
                RECONSUME(S_COMMENT);
            break;
        /* RCDATA / RAWTEXT. */
        case S_RAW: {
            const char *lt = memchr(p, '<', (size_t)(end - p));
            if (!lt)
                p = end;
            else {
                p = lt + 1;
                st = S_RAW_LT;
            }
            break;
        }
        case S_RAW_LT:
            if (c == '/') {
                lx->tmplen = 0;
                NEXT(S_RAW_END_TAG_OPEN);
            } else
                RECONSUME(S_RAW);
            break;
        case S_RAW_END_TAG_OPEN:
        case S_SCRIPT_END_TAG_OPEN:
        case S_SCRIPT_ESC_END_TAG_OPEN:
            if (alpha(c))
                RECONSUME(st + 1);   /* the matching _END_TAG_NAME state */
            else
                RECONSUME(st == S_RAW_END_TAG_OPEN ? S_RAW
                          : st == S_SCRIPT_END_TAG_OPEN ? S_SCRIPT : S_SCRIPT_ESC);
            break;
        case S_RAW_END_TAG_NAME:
        case S_SCRIPT_END_TAG_NAME:
        case S_SCRIPT_ESC_END_TAG_NAME: {
            bool ok = st == S_RAW_END_TAG_NAME ? appropriate(lx, lx->last, lx->lastlen)
                                               : appropriate(lx, "script", 6);
            if (ok && (ws(c) || c == '/' || c == '>')) {
                tag_begin(lx, true);
                if (ws(c))
                    NEXT(S_BEFORE_ATTR_NAME);
                else if (c == '/')
                    NEXT(S_SELF_CLOSING);
                else
                    EMIT();
            } else if (alpha(c)) {
                name_add(lx->tmp, &lx->tmplen, (char)c);
                p++;
            } else {
                RECONSUME(st == S_RAW_END_TAG_NAME ? S_RAW
                          : st == S_SCRIPT_END_TAG_NAME ? S_SCRIPT : S_SCRIPT_ESC);
            }
            break;
        }
        /* Script data. */
        case S_SCRIPT: {
            const char *lt = memchr(p, '<', (size_t)(end - p));
            if (!lt)
                p = end;
            else {
                p = lt + 1;
                st = S_SCRIPT_LT;
            }
            break;
        }
        case S_SCRIPT_LT:
            if (c == '/') {
                lx->tmplen = 0;
                NEXT(S_SCRIPT_END_TAG_OPEN);
            } else if (c == '!')
                NEXT(S_SCRIPT_ESC_START);
            else
                RECONSUME(S_SCRIPT);
            break;
        case S_SCRIPT_ESC_START:
            if (c == '-')
                NEXT(S_SCRIPT_ESC_START_DASH);
            else
                RECONSUME(S_SCRIPT);
            break;
        case S_SCRIPT_ESC_START_DASH:
            if (c == '-')
                NEXT(S_SCRIPT_ESC_DASH_DASH);
            else
                RECONSUME(S_SCRIPT);
            break;
        case S_SCRIPT_ESC:
        case S_SCRIPT_DESC:
            if (c == '-')
                NEXT(st == S_SCRIPT_ESC ? S_SCRIPT_ESC_DASH : S_SCRIPT_DESC_DASH);
            else if (c == '<')
                NEXT(st == S_SCRIPT_ESC ? S_SCRIPT_ESC_LT : S_SCRIPT_DESC_LT);
            else
                p++;
            break;
        case S_SCRIPT_ESC_DASH:
        case S_SCRIPT_DESC_DASH: {
            bool esc = st == S_SCRIPT_ESC_DASH;
            if (c == '-')
                NEXT(esc ? S_SCRIPT_ESC_DASH_DASH : S_SCRIPT_DESC_DASH_DASH);
            else if (c == '<')
                NEXT(esc ? S_SCRIPT_ESC_LT : S_SCRIPT_DESC_LT);
            else
                NEXT(esc ? S_SCRIPT_ESC : S_SCRIPT_DESC);
            break;
        }
        case S_SCRIPT_ESC_DASH_DASH:
        case S_SCRIPT_DESC_DASH_DASH: {
            bool esc = st == S_SCRIPT_ESC_DASH_DASH;
            if (c == '-')
                p++;
            else if (c == '<')
                NEXT(esc ? S_SCRIPT_ESC_LT : S_SCRIPT_DESC_LT);
            else if (c == '>')
                NEXT(S_SCRIPT);
            else
                NEXT(esc ? S_SCRIPT_ESC : S_SCRIPT_DESC);
            break;
        }
        case S_SCRIPT_ESC_LT:
            lx->tmplen = 0;
            if (c == '/')
                NEXT(S_SCRIPT_ESC_END_TAG_OPEN);
            else if (alpha(c))
                RECONSUME(S_SCRIPT_DESC_START);
            else
                RECONSUME(S_SCRIPT_ESC);
            break;
        case S_SCRIPT_DESC_START:
        case S_SCRIPT_DESC_END: {
            bool start = st == S_SCRIPT_DESC_START;
            if (ws(c) || c == '/' || c == '>') {
                bool is_script = appropriate(lx, "script", 6);
                NEXT(start == is_script ? S_SCRIPT_DESC : S_SCRIPT_ESC);
            } else if (alpha(c)) {
                name_add(lx->tmp, &lx->tmplen, (char)c);
                p++;
            } else {
                RECONSUME(start ? S_SCRIPT_ESC : S_SCRIPT_DESC);
            }
            break;
        }
        case S_SCRIPT_DESC_LT:
            if (c == '/') {
                lx->tmplen = 0;
                NEXT(S_SCRIPT_DESC_END);
            } else
                RECONSUME(S_SCRIPT_DESC);
            break;
        case S_PLAINTEXT:
            p = end;
            break;
        }
    }
#undef NEXT
#undef RECONSUME
#undef EMIT
    lx->state = st;
    return 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

int simul_links_reset(simul_links *lx, const char *doc_url, size_t len)
{
    if (!lx)
        return -EINVAL;
    lx->state = S_DATA;
    lx->ret = 0;
    lx->dropped = 0;
    lx->have_doc = lx->have_base = false;
    tag_begin(lx, false);
    if (doc_url) {
        int rc = simul_url_parse(&lx->doc, doc_url, len, NULL, lx->url_flags & SIMUL_URL_RFC3986);
        if (rc < 0)
            return rc;
        lx->have_doc = true;
    }
    return 0;
}

int simul_links_new(simul_links **out, const char *doc_url, size_t len, unsigned flags,
                    simul_link_fn fn, void *arg)
{
    if (!out || !fn)
        return -EINVAL;
    *out = NULL;
    simul_links *lx = calloc(1, sizeof *lx);
    if (!lx)
        return -ENOMEM;
    lx->fn = fn;
    lx->arg = arg;
    lx->all = flags & SIMUL_LINKS_ALL_ATTRS;
    lx->url_flags = flags & ~SIMUL_LINKS_ALL_ATTRS;
    simul_url_init(&lx->doc);
    simul_url_init(&lx->base);
    simul_url_init(&lx->out);
    int rc = simul_links_reset(lx, doc_url, len);
    if (rc < 0) {
        simul_links_free(lx);
        return rc;
    }
    *out = lx;
    return 0;
}

int simul_links_end(simul_links *lx)
{
    if (!lx)
        return -EINVAL;
    if (lx->ret)
        return lx->ret;
    lx->state = S_DATA;   /* a tag cut off by the end of the page is dropped */
    return 0;
}

size_t simul_links_dropped(const simul_links *lx)
{
    return lx ? lx->dropped : 0;
}

void simul_links_free(simul_links *lx)
{
    if (!lx)
        return;
    simul_url_fini(&lx->doc);
    simul_url_fini(&lx->base);
    simul_url_fini(&lx->out);
    free(lx);
}
