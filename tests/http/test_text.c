/*
 * test_text.c - simul/text.h: WHATWG labels, the choice of encoding (BOM,
 * header, <meta> prescan, XML declaration; their order, both ways), the
 * prescan's edge cases, the decoders against Python's bytes.decode(...,
 * 'replace') (text_python.py: random invalid UTF-8 and UTF-16, every byte
 * of windows-1252, Python's documentation pages), legacy encodings through
 * iconv, caps and arguments; and the UTF-8 fast path's speed beside memcpy
 * and iconv on the documentation pages.
 */
#include "harness.h"
#include "http/testdata.h"

#include <simul.h>
#include <simul/text.h>

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Decodes and checks what every result must satisfy: NUL-terminated,
 * valid UTF-8 of the stated length. Returns the text (caller frees). */
static char *dec(const void *b, size_t n, const char *ct, const simul_text_opts *o,
                 size_t *len, const char **enc)
{
    char *t = (char *)1;
    size_t l = 12345;
    const char *e = NULL;
    int r = simul_text_decode_opts(b, n, ct, o, &t, &l, &e);
    if (r) {
        CHECK(t == NULL);
        fprintf(stderr, "  decode: %s\n", simul_strerror(r));
        return NULL;
    }
    CHECK(t && t[l] == '\0' && e);
    /* Valid UTF-8 (strict: no overlongs, surrogates or > U+10FFFF). */
    char *t2 = NULL;
    size_t l2 = 0;
    const char *e2;
    simul_text_opts hf = {.flags = SIMUL_TEXT_HEADER_FIRST};   /* a U+FEFF stays */
    CHECK_EQ(simul_text_decode_opts(t, l, "text/plain; charset=utf-8", &hf, &t2, &l2, &e2), 0);
    CHECK(l2 == l && !memcmp(t, t2, l));
    free(t2);
    if (len)
        *len = l;
    if (enc)
        *enc = e;
    return t;
}

/* The encoding name and text (NULL: any) for a body of n bytes. */
static void expectn(const char *body, size_t bn, const char *ct, const char *want_enc,
                    const char *want)
{
    size_t n;
    const char *e;
    char *t = dec(body, bn, ct, NULL, &n, &e);
    CHECK(t);
    if (!t)
        return;
    if (strcmp(e, want_enc) || (want && (n != strlen(want) || memcmp(t, want, n))))
        fprintf(stderr, "  %.60s | %s: got %s '%s', want %s '%s'\n", body, ct ? ct : "-", e, t,
                want_enc, want ? want : "");
    CHECK(!strcmp(e, want_enc));
    if (want)
        CHECK(n == strlen(want) && !memcmp(t, want, n));
    free(t);
}

#define expect(body, ct, enc, want) expectn(body, strlen(body), ct, enc, want)
/* For bodies with NULs: a string literal's length. */
#define expectl(lit, ct, enc, want) expectn(lit, sizeof lit - 1, ct, enc, want)

static const char *sniffed(const char *body, const char *ct)
{
    const char *e = NULL;
    CHECK_EQ(simul_text_sniff(body, strlen(body), ct, NULL, &e, NULL, NULL), 0);
    return e;
}

#define SNIFF(body, ct, want)                                                         \
    do {                                                                              \
        const char *g_ = sniffed(body, ct);                                           \
        if (strcmp(g_, want))                                                         \
            fprintf(stderr, "  sniff %s: got %s, want %s\n", body, g_, want);         \
        CHECK(!strcmp(g_, want));                                                     \
    } while (0)

/* ---- labels -------------------------------------------------------------- */

TEST(labels)
{
    static const char *canon[] = {
        "UTF-8", "IBM866", "ISO-8859-2", "ISO-8859-3", "ISO-8859-4", "ISO-8859-5",
        "ISO-8859-6", "ISO-8859-7", "ISO-8859-8", "ISO-8859-8-I", "ISO-8859-10", "ISO-8859-13",
        "ISO-8859-14", "ISO-8859-15", "ISO-8859-16", "KOI8-R", "KOI8-U", "macintosh",
        "windows-874", "windows-1250", "windows-1251", "windows-1252", "windows-1253",
        "windows-1254", "windows-1255", "windows-1256", "windows-1257", "windows-1258",
        "x-mac-cyrillic", "GBK", "gb18030", "Big5", "EUC-JP", "ISO-2022-JP", "Shift_JIS",
        "EUC-KR", "replacement", "UTF-16BE", "UTF-16LE", "x-user-defined"};
    const char *name;
    for (size_t i = 0; i < sizeof canon / sizeof canon[0]; i++) {
        CHECK_EQ(simul_text_encoding_label(canon[i], strlen(canon[i]), &name), 0);
        CHECK(!strcmp(name, canon[i]));
    }
    static const char *pairs[][2] = {
        {" Latin1\n", "windows-1252"}, {"\tUS-ASCII\f\r ", "windows-1252"},
        {"iso-8859-1", "windows-1252"}, {"ISO_8859-1:1987", "windows-1252"},
        {"ascii", "windows-1252"}, {"UTF8", "UTF-8"}, {"unicode-1-1-utf-8", "UTF-8"},
        {"x-unicode20utf8", "UTF-8"}, {"utf-16", "UTF-16LE"}, {"unicode", "UTF-16LE"},
        {"unicodefffe", "UTF-16BE"}, {"gb2312", "GBK"}, {"x-gbk", "GBK"},
        {"big5-hkscs", "Big5"}, {"sjis", "Shift_JIS"}, {"windows-31j", "Shift_JIS"},
        {"ks_c_5601-1987", "EUC-KR"}, {"iso-2022-kr", "replacement"},
        {"hz-gb-2312", "replacement"}, {"tis-620", "windows-874"},
        {"iso-8859-9", "windows-1254"}, {"latin5", "windows-1254"},
        {"x-mac-ukrainian", "x-mac-cyrillic"}, {"koi8-ru", "KOI8-U"}, {"logical", "ISO-8859-8-I"},
        {"visual", "ISO-8859-8"}, {"iso-ir-58", "GBK"}, {"csiso2022jp", "ISO-2022-JP"}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        name = NULL;
        CHECK_EQ(simul_text_encoding_label(pairs[i][0], strlen(pairs[i][0]), &name), 0);
        CHECK(name && !strcmp(name, pairs[i][1]));
    }
    static const char *bad[] = {"", " ", "foo", "utf -8", "utf-8;", "latin 1", "utf-32",
                                "iso-8859-1x", "x-user-defined-but-much-longer-than-any"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(simul_text_encoding_label(bad[i], strlen(bad[i]), &name), -EINVAL);
    /* The length counts, not a NUL. */
    CHECK_EQ(simul_text_encoding_label("utf-8xyz", 5, &name), 0);
    CHECK(!strcmp(name, "UTF-8"));
    CHECK_EQ(simul_text_encoding_label("utf\0-8", 6, &name), -EINVAL);
    CHECK_EQ(simul_text_encoding_label("utf-8", 5, NULL), -EINVAL);
    CHECK_EQ(simul_text_encoding_label(NULL, 0, &name), -EINVAL);
}

/* ---- which encoding -------------------------------------------------------- */

TEST(precedence_bom_header_meta)
{
    const char *meta = "<meta charset=koi8-r>x";
    /* Default: UTF-8. Meta beats the default; header beats meta. */
    SNIFF("plain", NULL, "UTF-8");
    SNIFF(meta, NULL, "KOI8-R");
    SNIFF(meta, "text/html", "KOI8-R");
    SNIFF(meta, "text/html; charset=latin1", "windows-1252");
    /* An unknown header charset is ignored: the meta decides. */
    SNIFF(meta, "text/html; charset=bogus", "KOI8-R");
    /* The BOM beats the header (a browser's order)... */
    expect("\xEF\xBB\xBF" "caf\xC3\xA9", "text/html; charset=iso-8859-1", "UTF-8", "caf\xC3\xA9");
    expect("\xEF\xBB\xBF<meta charset=koi8-r>", NULL, "UTF-8", "<meta charset=koi8-r>");
    /* ...and with SIMUL_TEXT_HEADER_FIRST (aiohttp's) the header wins and
     * the BOM bytes are text in the header's encoding. */
    simul_text_opts hf = {.flags = SIMUL_TEXT_HEADER_FIRST};
    const char *body = "\xEF\xBB\xBF" "caf\xC3\xA9";
    size_t n;
    const char *e;
    char *t = dec(body, strlen(body), "text/html; charset=iso-8859-1", &hf, &n, &e);
    CHECK(t && !strcmp(e, "windows-1252"));
    CHECK(t && !strcmp(t, "\xC3\xAF\xC2\xBB\xC2\xBF" "caf\xC3\x83\xC2\xA9"));
    free(t);
    t = dec(body, strlen(body), "text/html; charset=utf-8", &hf, &n, &e);
    CHECK(t && !strcmp(t, "\xEF\xBB\xBF" "caf\xC3\xA9"));   /* U+FEFF kept, as Python's utf-8 */
    free(t);
    /* Header-first without a header charset: the BOM still counts. */
    t = dec(body, strlen(body), "text/html", &hf, &n, &e);
    CHECK(t && !strcmp(t, "caf\xC3\xA9") && !strcmp(e, "UTF-8"));
    free(t);
    /* UTF-16 BOMs. */
    expectl("\xFF\xFE" "a\0b\0", "text/html; charset=utf-8", "UTF-16LE", "ab");
    expectl("\xFE\xFF" "\0a\0b", "text/html; charset=utf-8", "UTF-16BE", "ab");
    /* The header may say UTF-16 (a meta may not). */
    expectl("a\0b\0", "text/html; charset=utf-16", "UTF-16LE", "ab");
    /* Where it came from, and the BOM's length. */
    simul_text_source src;
    size_t bl;
    CHECK_EQ(simul_text_sniff("\xEF\xBB\xBFx", 4, "text/html; charset=latin1", NULL, &e, &src,
                              &bl), 0);
    CHECK(src == SIMUL_TEXT_FROM_BOM && bl == 3);
    CHECK_EQ(simul_text_sniff(meta, strlen(meta), "text/html;charset=latin1", NULL, &e, &src,
                              &bl), 0);
    CHECK(src == SIMUL_TEXT_FROM_HEADER && bl == 0);
    CHECK_EQ(simul_text_sniff(meta, strlen(meta), NULL, NULL, &e, &src, NULL), 0);
    CHECK(src == SIMUL_TEXT_FROM_META);
    CHECK_EQ(simul_text_sniff("x", 1, NULL, NULL, &e, &src, NULL), 0);
    CHECK(src == SIMUL_TEXT_FROM_DEFAULT && !strcmp(e, "UTF-8"));
    /* No prescan, on request. */
    simul_text_opts np = {.flags = SIMUL_TEXT_NO_PRESCAN};
    CHECK_EQ(simul_text_sniff(meta, strlen(meta), NULL, &np, &e, NULL, NULL), 0);
    CHECK(!strcmp(e, "UTF-8"));
}

TEST(override)
{
    simul_text_opts o = {.encoding = " KOI8-R "};
    const char *e;
    simul_text_source src;
    CHECK_EQ(simul_text_sniff("<meta charset=latin1>", 21, "text/html; charset=gbk", &o, &e,
                              &src, NULL), 0);
    CHECK(!strcmp(e, "KOI8-R") && src == SIMUL_TEXT_FROM_OVERRIDE);
    /* A BOM still wins (HTML's order: BOM, then the user's override). */
    CHECK_EQ(simul_text_sniff("\xFF\xFEx\0", 4, NULL, &o, &e, &src, NULL), 0);
    CHECK(!strcmp(e, "UTF-16LE") && src == SIMUL_TEXT_FROM_BOM);
    /* ...except header-first, where the override is aiohttp's text(encoding=). */
    o.flags = SIMUL_TEXT_HEADER_FIRST;
    CHECK_EQ(simul_text_sniff("\xFF\xFEx\0", 4, NULL, &o, &e, &src, NULL), 0);
    CHECK(!strcmp(e, "KOI8-R") && src == SIMUL_TEXT_FROM_OVERRIDE);
    o.encoding = "no-such-thing";
    char *t = (char *)1;
    CHECK_EQ(simul_text_decode_opts("x", 1, NULL, &o, &t, NULL, NULL), -EINVAL);
    CHECK(t == NULL);
    o = (simul_text_opts){.flags = 1u << 7};
    CHECK_EQ(simul_text_sniff("x", 1, NULL, &o, &e, NULL, NULL), -EINVAL);
}

TEST(content_type_forms)
{
    const char *m = "<meta charset=koi8-r>";
    SNIFF(m, "text/html; charset=\"ISO-8859-2\"", "ISO-8859-2");
    SNIFF(m, "TEXT/HTML;Charset=Shift_JIS", "Shift_JIS");
    SNIFF(m, "text/html ; foo=bar; charset = gbk", "KOI8-R");   /* "charset " is no name */
    SNIFF(m, "text/html;foo=\"a;charset=gbk\";charset=big5", "Big5");
    SNIFF(m, "text/html; charset=\"utf-\\8\"", "UTF-8");
    SNIFF(m, "text/html; charset=", "KOI8-R");
    SNIFF(m, "text/html; charset=latin1; charset=gbk", "windows-1252");
    SNIFF(m, "text/html; charset=nope; charset=gbk", "KOI8-R");   /* the first one counts */
    SNIFF(m, "text/html; charset=\"windows-1252-and-a-lot-more-text\"", "KOI8-R");
    /* Not HTML: no prescan. */
    SNIFF(m, "text/plain", "UTF-8");
    SNIFF(m, "application/json", "UTF-8");
    SNIFF(m, "text/plain; charset=latin1", "windows-1252");
    /* Not a MIME type at all: treated as a missing header (HTML). */
    SNIFF(m, "", "KOI8-R");
    SNIFF(m, "html", "KOI8-R");
    SNIFF(m, "text/", "KOI8-R");
    SNIFF(m, "text/html junk", "KOI8-R");
    /* XML types: the XML declaration only. */
    const char *x = "<?xml version=\"1.0\" encoding=\"ISO-8859-5\"?><meta charset=koi8-r>";
    SNIFF(x, "application/xml", "ISO-8859-5");
    SNIFF(x, "text/xml", "ISO-8859-5");
    SNIFF(x, "application/xhtml+xml", "ISO-8859-5");
    SNIFF(m, "application/atom+xml", "UTF-8");
    /* In HTML a meta after the declaration beats it. */
    SNIFF(x, "text/html", "KOI8-R");
}

TEST(prescan_edge_cases)
{
    /* Comments hide a meta; "<!-->" is a whole comment. */
    SNIFF("<!-- <meta charset=latin1> --><p>", NULL, "UTF-8");
    SNIFF("<!-- --> <meta charset=latin1>", NULL, "windows-1252");
    SNIFF("<!--> <meta charset=latin1>", NULL, "windows-1252");
    SNIFF("<!---> <meta charset=latin1> -->", NULL, "windows-1252");   /* "-->" at 3 */
    SNIFF("<!-- unterminated <meta charset=latin1>", NULL, "UTF-8");
    /* Attributes across lines, any quoting, any case. */
    SNIFF("<META\n  Charset\n =\n 'KOI8-R'\n>", NULL, "KOI8-R");
    SNIFF("<meta/charset=\"gbk\"/>", NULL, "GBK");
    SNIFF("<meta charset=\" latin1 \">", NULL, "windows-1252");
    SNIFF("<meta charset=\"latin1>", NULL, "UTF-8");   /* runs out of bytes */
    /* http-equiv: in either order, and only with content-type. */
    SNIFF("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=koi8-r\">", NULL,
          "KOI8-R");
    SNIFF("<meta content=\"text/html; charset=koi8-r\" http-equiv=\"content-type\">", NULL,
          "KOI8-R");
    SNIFF("<meta content=\"text/html; charset=koi8-r\">", NULL, "UTF-8");
    SNIFF("<meta http-equiv=refresh content=\"text/html; charset=koi8-r\">", NULL, "UTF-8");
    SNIFF("<meta http-equiv=content-type content='charset = \"gbk\"'>", NULL, "GBK");
    SNIFF("<meta http-equiv=content-type content='charset=\"gbk'>", NULL, "UTF-8");
    SNIFF("<meta http-equiv=content-type content='charsetX charset=big5;x'>", NULL, "Big5");
    /* A charset attribute beats a later content, and is final. */
    SNIFF("<meta charset=gbk http-equiv=content-type content='charset=big5'>", NULL, "GBK");
    SNIFF("<meta http-equiv=content-type content='charset=big5' charset=gbk>", NULL, "GBK");
    /* Repeated attributes: the first counts. An unknown charset is no answer,
     * and the scan goes on to the next meta. */
    SNIFF("<meta charset=bogus charset=latin1><meta charset=koi8-r>", NULL, "KOI8-R");
    SNIFF("<meta charset=latin1 charset=bogus>", NULL, "windows-1252");
    /* UTF-16 in a meta means UTF-8; x-user-defined means windows-1252. */
    SNIFF("<meta charset=utf-16>", NULL, "UTF-8");
    SNIFF("<meta charset=utf-16be>", NULL, "UTF-8");
    SNIFF("<meta charset=x-user-defined>", NULL, "windows-1252");
    /* Not metas: other tags' attributes, end tags, bogus comments, <metax>. */
    SNIFF("<a title='<meta charset=latin1>'>", NULL, "UTF-8");
    SNIFF("<a title=x <meta charset=latin1>", NULL, "UTF-8");   /* attributes of <a> */
    SNIFF("</a title='<meta charset=latin1>'>", NULL, "UTF-8");
    SNIFF("<? <meta charset=latin1> ?>", NULL, "UTF-8");
    SNIFF("<!DOCTYPE html><metax charset=latin1><meta charset=gbk>", NULL, "GBK");
    SNIFF("<meta>charset=latin1", NULL, "UTF-8");
    SNIFF("< meta charset=latin1>", NULL, "UTF-8");   /* "< " is text */
    /* Only the first 1024 bytes. */
    char big[2048];
    memset(big, ' ', sizeof big);
    memcpy(big + 1010, "<meta charset=gbk>", 18);   /* ends at byte 1028 */
    big[sizeof big - 1] = '\0';
    SNIFF(big, NULL, "UTF-8");
    memcpy(big + 1000 - 20, "<meta charset=gbk>", 18);
    SNIFF(big, NULL, "GBK");
    /* XML declarations, ASCII and UTF-16 shaped. */
    SNIFF("<?xml version='1.0' encoding='koi8-r'?><p>", NULL, "KOI8-R");
    SNIFF("<?xml version='1.0' encoding = \"utf-16\"?>", NULL, "UTF-8");
    SNIFF("<?xml encoding=' koi8-r'?>", NULL, "UTF-8");
    SNIFF(" <?xml encoding='koi8-r'?>", NULL, "UTF-8");
    SNIFF("<?xml> encoding='koi8-r'", NULL, "UTF-8");
    const char *e;
    CHECK_EQ(simul_text_sniff("<\0?\0x\0m\0l\0", 10, NULL, NULL, &e, NULL, NULL), 0);
    CHECK(!strcmp(e, "UTF-16LE"));
    CHECK_EQ(simul_text_sniff("\0<\0?\0x\0m\0l", 10, NULL, NULL, &e, NULL, NULL), 0);
    CHECK(!strcmp(e, "UTF-16BE"));
    /* NULs and high bytes in names and values are just bytes. */
    CHECK_EQ(simul_text_sniff("<meta \0\xff=\0 charset=gbk>", 23, NULL, NULL, &e, NULL, NULL),
             0);
    CHECK(!strcmp(e, "GBK"));
}

/* ---- decoders against Python --------------------------------------------- */

static size_t unhex(const char *h, size_t hl, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < hl; i += 2) {
        unsigned v;
        sscanf(h + i, "%2x", &v);
        out[n++] = (char)v;
    }
    return n;
}

/* text_python.py's random cases for codec, decoded with content type ct. */
static void against_python(const char *codec, const char *ct, int ncases)
{
    char args[128];
    snprintf(args, sizeof args, "text_python.py cases %s 7 %d", codec, ncases);
    FILE *py = testdata_python(args, NULL, 0);
    CHECK(py);
    char *line = NULL;
    size_t cap = 0;
    ssize_t ll;
    int ran = 0, bad = 0;
    while ((ll = getline(&line, &cap, py)) > 0) {
        char *tab = strchr(line, '\t');
        CHECK(tab);
        char in[256], want[1024];
        size_t n = unhex(line, (size_t)(tab - line), in);
        size_t wl = unhex(tab + 1, strlen(tab + 1), want);
        size_t gl;
        /* The header names the encoding, before any BOM-like bytes. */
        simul_text_opts o = {.flags = SIMUL_TEXT_HEADER_FIRST};
        char *got = dec(in, n, ct, &o, &gl, NULL);
        if (!got || gl != wl || memcmp(got, want, wl)) {
            if (bad++ < 5)
                fprintf(stderr, "  %s: %.*s -> got %zu bytes, want %.*s", codec,
                        (int)(tab - line), line, gl, (int)strlen(tab + 1), tab + 1);
        }
        free(got);
        ran++;
    }
    free(line);
    CHECK_EQ(pclose(py), 0);
    printf("# %s: %d random cases compared with Python, mismatches %d\n", codec, ran, bad);
    fflush(stdout);
    CHECK_EQ(ran, ncases);
    CHECK_EQ(bad, 0);
}

TEST_T(utf8_invalid_vs_python, 60)
{
    against_python("utf-8", "text/html; charset=utf-8", 20000);
}

TEST_T(utf16_vs_python, 60)
{
    against_python("utf-16-le", "text/plain; charset=utf-16le", 5000);
    against_python("utf-16-be", "text/plain; charset=utf-16be", 5000);
}

TEST_T(windows1252_vs_python, 60)
{
    against_python("windows-1252", "text/plain; charset=iso-8859-1", 3000);
}

TEST(utf8_maximal_subparts)
{
    /* Hand-picked rows of Unicode's table 3-8 and friends; "~" is U+FFFD. */
    static const struct { const char *in; const char *out; } rows[] = {
        {"\x80", "~"}, {"\xC0\xAF", "~~"}, {"\xE0\x80\xAF", "~~~"}, {"\xED\xA0\x80", "~~~"},
        {"\xF4\x90\x80\x80", "~~~~"}, {"\xF0\x80\x80", "~~~"}, {"\xE1\x80", "~"},
        {"\xF1\x80\x80", "~"}, {"\xF1\x80\x80" "A", "~A"}, {"\xE1\x80\xE2\xF0\x91\x92\xF1\xBF\x41", "~~~~A"},
        {"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "a~~~b~c~~d"},
        {"\xF8\x88\x80\x80\x80", "~~~~~"}, {"\xFF", "~"}, {"\xEF\xBF\xBF", "\xEF\xBF\xBF"},
        {"\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"}, {"\xED\x9F\xBF", "\xED\x9F\xBF"}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char want[64];
        size_t w = 0;
        for (const char *p = rows[i].out; *p; p++)
            if (*p == '~')
                memcpy(want + w, "\xEF\xBF\xBD", 3), w += 3;
            else
                want[w++] = *p;
        size_t n;
        char *t = dec(rows[i].in, strlen(rows[i].in), "text/plain", NULL, &n, NULL);
        CHECK(t && n == w && !memcmp(t, want, w));
        if (t && (n != w || memcmp(t, want, w)))
            fprintf(stderr, "  row %zu: got %zu bytes\n", i, n);
        free(t);
    }
    /* NULs are text too. */
    size_t n;
    char *t = dec("a\0b", 3, NULL, NULL, &n, NULL);
    CHECK(t && n == 3 && !memcmp(t, "a\0b", 4));
    free(t);
}

TEST(latin1_page)
{
    const char *page = "<html><meta charset=iso-8859-1><p>caf\xE9 \x80 \x81 \xFF</p>";
    expect(page, NULL, "windows-1252",
           "<html><meta charset=iso-8859-1><p>caf\xC3\xA9 \xE2\x82\xAC \xC2\x81 \xC3\xBF</p>");
    expect("caf\xE9", "text/html; charset=us-ascii", "windows-1252", "caf\xC3\xA9");
    /* The same bytes unlabelled: invalid UTF-8, replaced, never an error. */
    expect("caf\xE9!", NULL, "UTF-8", "caf\xEF\xBF\xBD!");
}

TEST(legacy_through_iconv)
{
    /* Bytes from Python's encoders (cp932, euc_jp, gbk, gb18030, cp949,
     * big5hkscs, koi8_r, cp1251). */
    const char *ja = "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9"
                     "\xE3\x83\x88\xE3\x80\x81\xE5\x8D\x8A\xE8\xA7\x92\xEF\xBD\xB6\xEF\xBE\x85";
    expect("\x93\xfa\x96\x7b\x8c\xea\x83\x65\x83\x4c\x83\x58\x83\x67\x81\x41\x94\xbc\x8a\x70"
           "\xb6\xc5", "text/html; charset=shift_jis", "Shift_JIS", ja);
    expect("<meta charset=euc-jp>\xc6\xfc\xcb\xdc\xb8\xec\xa5\xc6\xa5\xad\xa5\xb9\xa5\xc8\xa1"
           "\xa2\xc8\xbe\xb3\xd1\x8e\xb6\x8e\xc5", NULL, "EUC-JP", NULL);
    const char *zh = "\xE4\xB8\xAD\xE6\x96\x87\xE7\xBD\x91\xE9\xA1\xB5\xEF\xBC\x8C\xE7\xBC\x96"
                     "\xE7\xA0\x81";
    expect("\xd6\xd0\xce\xc4\xcd\xf8\xd2\xb3\xa3\xac\xb1\xe0\xc2\xeb", "text/html; charset=gb2312",
           "GBK", zh);
    expect("\xd6\xd0\xce\xc4\xcd\xf8\xd2\xb3\xa3\xac\xb1\xe0\xc2\xeb", "text/html; charset=gb18030",
           "gb18030", zh);
    /* gb18030 (and so GBK) decodes a lone 0x80 as the euro sign. */
    expect("a\x80z", "text/html; charset=gbk", "GBK", "a\xE2\x82\xACz");
    expect("\xc7\xd1\xb1\xb9\xbe\xee\x20\xc6\xe4\xc0\xcc\xc1\xf6", "text/html; charset=euc-kr",
           "EUC-KR", "\xED\x95\x9C\xEA\xB5\xAD\xEC\x96\xB4 \xED\x8E\x98\xEC\x9D\xB4\xEC\xA7\x80");
    expect("\xc1\x63\xc5\xe9\xa4\xa4\xa4\xe5", "text/html; charset=big5", "Big5",
           "\xE7\xB9\x81\xE9\xAB\x94\xE4\xB8\xAD\xE6\x96\x87");
    const char *ru = "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82";
    expect("\xf0\xd2\xc9\xd7\xc5\xd4", "text/html; charset=koi8-r", "KOI8-R", ru);
    expect("\xcf\xf0\xe8\xe2\xe5\xf2", "text/html; charset=cp1251", "windows-1251", ru);
    /* What iconv rejects is U+FFFD, one per byte, and decoding goes on. */
    expect("a\x82\xFFz", "text/html; charset=shift_jis", "Shift_JIS", NULL);
    size_t n;
    char *t = dec("a\xA0z\x93", 4, "text/html; charset=shift_jis", NULL, &n, NULL);
    CHECK(t && n >= 3 && t[0] == 'a' && strstr(t, "z\xEF\xBF\xBD"));   /* cut off at the end */
    free(t);
    t = dec("\xFF\xFF\xFF", 3, "text/html; charset=gbk", NULL, &n, NULL);
    CHECK(t && !strcmp(t, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"));
    free(t);
    /* ISO-2022-JP: escapes switch sets; a bad escape is replaced. */
    expect("\x1b$B$3$s\x1b(B!", "text/html; charset=iso-2022-jp", "ISO-2022-JP",
           "\xE3\x81\x93\xE3\x82\x93!");
}

TEST(utf16_and_others)
{
    /* Surrogate pairs, lone surrogates, an odd byte. */
    expectl("\xFF\xFE\x3D\xD8\x00\xDE" "a\0", NULL, "UTF-16LE", "\xF0\x9F\x98\x80" "a");
    expectl("\xFE\xFF\xD8\x3D" "\0a", NULL, "UTF-16BE", "\xEF\xBF\xBD" "a");
    expectl("\xFF\xFE\x00\xDC" "a\0" "b", NULL, "UTF-16LE", "\xEF\xBF\xBD" "a\xEF\xBF\xBD");
    expect("\xFF\xFE\x3D\xD8", NULL, "UTF-16LE", "\xEF\xBF\xBD");
    /* x-user-defined: high bytes to U+F780..U+F7FF. */
    expect("a\x80\xFF", "text/plain; charset=x-user-defined", "x-user-defined",
           "a\xEF\x9E\x80\xEF\x9F\xBF");
    /* replacement: a non-empty body is one U+FFFD, an empty one "". */
    expect("anything at all", "text/html; charset=iso-2022-kr", "replacement", "\xEF\xBF\xBD");
    expect("", "text/html; charset=hz-gb-2312", "replacement", "");
}

TEST(empty_and_arguments)
{
    char *t;
    size_t n = 99;
    const char *e = NULL;
    CHECK_EQ(simul_text_decode(NULL, 0, NULL, &t, &n, &e), 0);
    CHECK(t && t[0] == '\0' && n == 0 && !strcmp(e, "UTF-8"));
    free(t);
    CHECK_EQ(simul_text_decode("", 0, "text/html; charset=utf-16le", &t, NULL, NULL), 0);
    CHECK(t && t[0] == '\0');
    free(t);
    CHECK_EQ(simul_text_decode("x", 1, NULL, NULL, &n, &e), -EINVAL);
    t = (char *)1;
    CHECK_EQ(simul_text_decode(NULL, 1, NULL, &t, &n, &e), -EINVAL);
    CHECK(t == NULL);
    CHECK_EQ(simul_text_sniff("x", 1, NULL, NULL, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(simul_text_sniff(NULL, 1, NULL, NULL, &e, NULL, NULL), -EINVAL);
    CHECK(strlen(simul_strerror(-EFBIG)) > 0);
}

TEST(caps)
{
    char body[300];
    memset(body, 'a', sizeof body);
    simul_text_opts o = {.max = 300};
    char *t = NULL;
    size_t n;
    /* Exactly at the cap, on the fast path and on every decoder. */
    static const char *cts[] = {"text/plain", "text/plain; charset=latin1",
                                "text/plain; charset=koi8-r", "text/plain; charset=x-user-defined"};
    for (size_t i = 0; i < sizeof cts / sizeof cts[0]; i++) {
        o.max = 300;
        CHECK_EQ(simul_text_decode_opts(body, 300, cts[i], &o, &t, &n, NULL), 0);
        CHECK(n == 300);
        free(t);
        o.max = 299;
        t = (char *)1;
        CHECK_EQ(simul_text_decode_opts(body, 300, cts[i], &o, &t, &n, NULL), -EFBIG);
        CHECK(t == NULL);
    }
    /* Growth: 100 invalid bytes are 300 bytes of U+FFFD. */
    memset(body, 0xFF, 100);
    o.max = 300;
    CHECK_EQ(simul_text_decode_opts(body, 100, NULL, &o, &t, &n, NULL), 0);
    CHECK(n == 300);
    free(t);
    o.max = 299;
    CHECK_EQ(simul_text_decode_opts(body, 100, NULL, &o, &t, &n, NULL), -EFBIG);
    /* windows-1252 high bytes are 2 or 3 bytes each. */
    memset(body, 0x80, 100);   /* the euro sign, 3 bytes */
    CHECK_EQ(simul_text_decode_opts(body, 100, "text/plain; charset=latin1", &o, &t, &n, NULL),
             -EFBIG);
    o.max = 300;
    CHECK_EQ(simul_text_decode_opts(body, 100, "text/plain; charset=latin1", &o, &t, &n, NULL), 0);
    free(t);
    /* Through iconv: Shift_JIS kanji are 2 bytes in, 3 out. */
    for (int i = 0; i < 200; i += 2)
        body[i] = (char)0x93, body[i + 1] = (char)0xfa;
    o.max = 300;
    CHECK_EQ(simul_text_decode_opts(body, 200, "text/plain; charset=sjis", &o, &t, &n, NULL), 0);
    CHECK(n == 300);
    free(t);
    o.max = 299;
    CHECK_EQ(simul_text_decode_opts(body, 200, "text/plain; charset=sjis", &o, &t, &n, NULL),
             -EFBIG);
    /* The default cap is the documented one. */
    CHECK(SIMUL_TEXT_MAX == (size_t)256 << 20);
}

/* ---- the Python documentation ---------------------------------------------- */

#define MAX_PAGES 600

TEST_T(python_docs_vs_python, 300)
{
    static char *paths[MAX_PAGES];
    int n = testdata_python_docs(paths, MAX_PAGES);
    printf("# Python documentation pages found: %d\n", n);
    fflush(stdout);
    CHECK(n >= 100);   /* scripts/deps.sh installs python3-doc */
    FILE *py = testdata_python("text_python.py pages", paths, n);
    CHECK(py);
    int bad = 0, cur = 0;
    size_t bytes = 0;
    char head[1200];
    while (cur < n && fgets(head, sizeof head, py)) {
        char *t1 = strchr(head, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        CHECK(t2);
        *t1 = *t2 = '\0';
        CHECK(!strcmp(head, paths[cur]));
        size_t wl = strtoul(t2 + 1, NULL, 10);
        char *want = malloc(wl + 1);
        CHECK(fread(want, 1, wl, py) == wl);
        size_t len, gl;
        char *page = testdata_read_file(paths[cur], &len);
        const char *e;
        char *got = dec(page, len, "text/html", NULL, &gl, &e);
        /* Same codec as the page's meta, same text. */
        const char *pyname;
        CHECK_EQ(simul_text_encoding_label(t1 + 1, strlen(t1 + 1), &pyname), 0);
        if (!got || strcmp(e, pyname) || gl != wl || memcmp(got, want, wl)) {
            if (bad++ < 3)
                fprintf(stderr, "  %s: %s vs python %s, %zu vs %zu bytes\n", paths[cur],
                        got ? e : "-", t1 + 1, gl, wl);
        }
        bytes += len;
        free(got);
        free(want);
        free(page);
        cur++;
    }
    CHECK_EQ(pclose(py), 0);
    printf("# pages compared with Python's decode: %d (%zu bytes), mismatches %d\n", cur, bytes,
           bad);
    fflush(stdout);
    CHECK_EQ(cur, n);
    CHECK_EQ(bad, 0);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);   /* CPU time: steadier under load */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* MB/s (per CPU second) of the UTF-8 path beside malloc+memcpy and iconv's
 * UTF-8 -> UTF-8 on the same pages in the same run (best of 9 rounds each,
 * interleaved). */
TEST_T(speed_python_docs, 300)
{
    static char *paths[MAX_PAGES];
    int n = testdata_python_docs(paths, MAX_PAGES);
    CHECK(n >= 100);
    char **pages = calloc((size_t)n, sizeof *pages);
    size_t *lens = calloc((size_t)n, sizeof *lens), total = 0, maxlen = 0;
    for (int i = 0; i < n; i++) {
        pages[i] = testdata_read_file(paths[i], &lens[i]);
        total += lens[i];
        if (lens[i] > maxlen)
            maxlen = lens[i];
    }
    char *dst = malloc(maxlen * 2 + 16);
    iconv_t cd = iconv_open("UTF-8", "UTF-8");
    CHECK(cd != (iconv_t)-1);
    double best[3] = {1e9, 1e9, 1e9};
    volatile size_t sink = 0;
    for (int round = 0; round < 9; round++) {
        double t0 = now();
        for (int i = 0; i < n; i++) {
            char *m = malloc(lens[i] + 1);   /* what the decoder does too */
            memcpy(m, pages[i], lens[i]);
            m[lens[i]] = 0;
            sink += (size_t)m[lens[i] / 2];
            free(m);
        }
        double t1 = now();
        for (int i = 0; i < n; i++) {
            char *t;
            size_t l;
            CHECK_EQ(simul_text_decode(pages[i], lens[i], "text/html", &t, &l, NULL), 0);
            sink += l;
            free(t);
        }
        double t2 = now();
        for (int i = 0; i < n; i++) {
            char *in = pages[i], *out = dst;
            size_t il = lens[i], ol = maxlen * 2 + 16;
            CHECK(iconv(cd, &in, &il, &out, &ol) != (size_t)-1);
            sink += (size_t)(out - dst);
        }
        double t3 = now();
        best[0] = t1 - t0 < best[0] ? t1 - t0 : best[0];
        best[1] = t2 - t1 < best[1] ? t2 - t1 : best[1];
        best[2] = t3 - t2 < best[2] ? t3 - t2 : best[2];
    }
    iconv_close(cd);
    (void)sink;
    double mb = (double)total / 1e6;
    printf("# UTF-8 over %d pages (%.1f MB): malloc+memcpy %.0f MB/s, simul_text_decode %.0f "
           "MB/s (%.2fx memcpy), iconv UTF-8->UTF-8 %.0f MB/s (decode %.1fx iconv)\n",
           n, mb, mb / best[0], mb / best[1], best[0] / best[1], mb / best[2],
           best[2] / best[1]);
    fflush(stdout);
    /* A loose floor that load cannot break: well ahead of iconv - in an
     * optimised build without sanitizers (they slow our code, not libc's). */
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    CHECK(best[1] * 2 < best[2]);
#endif
    for (int i = 0; i < n; i++)
        free(pages[i]);
    free(pages);
    free(lens);
    free(dst);
}
