/*
 * sitemap.c - sitemaps (sitemaps.org 0.9) as a seed source: a streaming
 * reader of <urlset> and <sitemapindex> documents that calls back with
 * each <loc> value (whitespace trimmed, the five XML entities and numeric
 * character references decoded), in any chunking, gzip-compressed or not
 * (a body that starts with the gzip magic is inflated with zlib: a
 * sitemap.xml.gz served as application/gzip arrives compressed). No DOM
 * and no allocation past the parser: a <loc> over SIMUL_URL_MAX bytes is
 * dropped, and at most SITEMAP_MAX_BYTES of XML are read (the protocol's
 * 50 MB limit), so a gzip bomb stops there.
 */
#include "crawl.h"

#include <simul/url.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SITEMAP_MAX_BYTES (50u << 20)

enum { S_TEXT, S_TAG, S_LOC };

struct sitemap_parser {
    sitemap_fn fn;
    void      *arg;
    int        sniffed, gz, state, tag_over, val_over;
    int        closing, selfclose, name_done;   /* of the tag being read */
    int        in_sitemap;   /* the last entry opened was <sitemap>, not <url> */
    z_stream   z;
    uint64_t   xml_bytes;
    char       tag[16];
    size_t     taglen;
    size_t     vlen;
    char       val[SIMUL_URL_MAX + 1];
};

int sitemap_new(sitemap_parser **out, sitemap_fn fn, void *arg)
{
    sitemap_parser *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->fn = fn;
    p->arg = arg;
    *out = p;
    return 0;
}

void sitemap_free(sitemap_parser *p)
{
    if (!p)
        return;
    if (p->gz)
        inflateEnd(&p->z);
    free(p);
}

/* &amp; &lt; &gt; &quot; &apos; &#N; &#xN; (ASCII results only: a URL's
 * other characters are percent-encoded by the URL parser anyway). */
static size_t decode_entities(char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '&') {
            s[w++] = s[i];
            continue;
        }
        static const struct { const char *name; char c; } ent[] = {
            { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' },
        };
        size_t k;
        for (k = 0; k < 5; k++) {
            size_t l = strlen(ent[k].name);
            if (n - i - 1 >= l && !memcmp(s + i + 1, ent[k].name, l)) {
                s[w++] = ent[k].c;
                i += l;
                break;
            }
        }
        if (k < 5)
            continue;
        if (i + 2 < n && s[i + 1] == '#') {
            char *e;
            int hex = s[i + 2] == 'x' || s[i + 2] == 'X';
            long v = strtol(s + i + 2 + hex, &e, hex ? 16 : 10);
            if (e < s + n && *e == ';' && v > 0 && v < 128) {
                s[w++] = (char)v;
                i = (size_t)(e - s);
                continue;
            }
        }
        s[w++] = '&';
    }
    return w;
}

static int emit(sitemap_parser *p)
{
    char *s = p->val;
    size_t n = p->vlen;
    if (p->val_over)
        return 0;
    while (n && strchr(" \t\r\n", *s)) {
        s++;
        n--;
    }
    while (n && strchr(" \t\r\n", s[n - 1]))
        n--;
    n = decode_entities(s, n);
    return n ? p->fn(p->arg, s, n, p->in_sitemap) : 0;
}

static void tag_start(sitemap_parser *p)
{
    p->state = S_TAG;
    p->taglen = 0;
    p->tag_over = p->closing = p->selfclose = p->name_done = 0;
}

/* The XML scan: what is between <loc> and the next '<'. */
static int scan(sitemap_parser *p, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        switch (p->state) {
        case S_TEXT:
            if (c == '<')
                tag_start(p);
            break;
        case S_TAG:
            if (c == '>') {
                /* "loc" or a prefixed "x:loc"; not "</loc>", not "<loc/>" */
                p->tag[p->taglen] = '\0';
                char *name = strchr(p->tag, ':');
                name = name ? name + 1 : p->tag;
                int loc = !p->tag_over && !p->closing && !p->selfclose && !strcmp(name, "loc");
                if (!p->tag_over && !p->closing && !strcmp(name, "sitemap"))
                    p->in_sitemap = 1;
                else if (!p->tag_over && !p->closing && !strcmp(name, "url"))
                    p->in_sitemap = 0;
                p->state = loc ? S_LOC : S_TEXT;
                p->vlen = 0;
                p->val_over = 0;
            } else if (c == '/') {
                if (p->taglen == 0 && !p->name_done)
                    p->closing = 1;
                else
                    p->selfclose = 1;
            } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                if (p->taglen)
                    p->name_done = 1;
            } else {
                p->selfclose = 0;
                if (!p->name_done) {
                    if (p->taglen < sizeof p->tag - 1)
                        p->tag[p->taglen++] = c;
                    else
                        p->tag_over = 1;
                }
            }
            break;
        default: /* S_LOC */
            if (c == '<') {
                int rc = emit(p);
                if (rc)
                    return rc;
                tag_start(p);
            } else if (p->vlen < SIMUL_URL_MAX) {
                p->val[p->vlen++] = c;
            } else {
                p->val_over = 1;
            }
        }
    }
    return 0;
}

int sitemap_feed(sitemap_parser *p, const void *buf, size_t n)
{
    const unsigned char *b = buf;
    if (!p->sniffed && n) {
        p->sniffed = 1;
        if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
            if (inflateInit2(&p->z, 16 + MAX_WBITS) != Z_OK)
                return -ENOMEM;
            p->gz = 1;
        }
    }
    if (!p->gz) {
        if (p->xml_bytes + n > SITEMAP_MAX_BYTES)
            return -EFBIG;
        p->xml_bytes += n;
        return scan(p, buf, n);
    }
    char out[16384];
    p->z.next_in = (unsigned char *)(uintptr_t)b;
    p->z.avail_in = (unsigned)n;
    while (p->z.avail_in) {
        p->z.next_out = (unsigned char *)out;
        p->z.avail_out = sizeof out;
        int zr = inflate(&p->z, Z_NO_FLUSH);
        size_t got = sizeof out - p->z.avail_out;
        if (p->xml_bytes + got > SITEMAP_MAX_BYTES)
            return -EFBIG;
        p->xml_bytes += got;
        int rc = scan(p, out, got);
        if (rc)
            return rc;
        if (zr == Z_STREAM_END)
            break;   /* trailing bytes ignored */
        if (zr != Z_OK && zr != Z_BUF_ERROR)
            return -EILSEQ;
        if (zr == Z_BUF_ERROR && got == 0)
            break;
    }
    return 0;
}
