/*
 * test_links.c - simul/html.h: the tokenizer rules the extractor relies on,
 * checked on html5lib's tokenizer tests (every attribute of every start tag,
 * SIMUL_LINKS_ALL_ATTRS, fed whole and byte by byte); the link sets checked
 * against html5lib's tree (links_html5lib.py, Debian's python3-html5lib) on
 * tricky pages of our own and the Python documentation when installed;
 * base handling, resolution, caps and the stop value.
 */
#include "harness.h"
#include "http/testdata.h"

#include <simul/html.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* ---- collecting what the extractor reports as "kind\tvalue" lines ----- */

typedef struct {
    char  *buf;
    size_t len, cap;
    int    n;
} sink;

static void sink_add(sink *s, const char *a, const char *b, size_t bl)
{
    size_t need = strlen(a) + 2 * bl + 4;
    if (s->len + need >= s->cap) {
        s->cap = (s->len + need) * 2 + 256;
        s->buf = realloc(s->buf, s->cap);
    }
    s->len += (size_t)sprintf(s->buf + s->len, "%s\t", a);
    for (size_t i = 0; i < bl; i++) {   /* escape as links_html5lib.py does */
        char c = b[i];
        const char *e = c == '\\' ? "\\\\" : c == '\t' ? "\\t" : c == '\r' ? "\\r"
                      : c == '\n' ? "\\n" : NULL;
        if (e) {
            memcpy(s->buf + s->len, e, 2);
            s->len += 2;
        } else {
            s->buf[s->len++] = c;
        }
    }
    s->buf[s->len++] = '\n';
    s->buf[s->len] = '\0';
    s->n++;
}

static const char *kind_name[] = {"a", "area", "link", "base", "frame", "iframe", "refresh"};

static int on_link(void *arg, const simul_link *l)
{
    sink *s = arg;
    if (l->kind == SIMUL_LINK_ATTR) {
        char key[300];
        snprintf(key, sizeof key, "%s\t%s", l->tag, l->attr);
        sink_add(s, key, l->value, l->len);
    } else {
        sink_add(s, kind_name[l->kind], l->value, l->len);
    }
    return 0;
}

/* Runs the extractor over text in chunks of `chunk` bytes (0: whole). */
static void extract(const char *text, size_t n, size_t chunk, unsigned flags, sink *s)
{
    simul_links *lx;
    CHECK_EQ(simul_links_new(&lx, NULL, 0, flags, on_link, s), 0);
    if (!chunk)
        chunk = n ? n : 1;
    for (size_t i = 0; i < n; i += chunk)
        CHECK_EQ(simul_links_feed(lx, text + i, i + chunk <= n ? chunk : n - i), 0);
    CHECK_EQ(simul_links_end(lx), 0);
    simul_links_free(lx);
}

/* Sorts and dedups the lines of s in place (link sets, as html5lib's). */
static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *as_set(const char *text)
{
    char *copy = strdup(text ? text : "");
    size_t n = 0, cap = 16;
    char **lines = malloc(cap * sizeof *lines);
    for (char *l = strtok(copy, "\n"); l; l = strtok(NULL, "\n")) {
        if (n == cap)
            lines = realloc(lines, (cap *= 2) * sizeof *lines);
        lines[n++] = l;
    }
    qsort(lines, n, sizeof *lines, cmpstr);
    size_t tot = 1;
    for (size_t i = 0; i < n; i++)
        tot += strlen(lines[i]) + 1;
    char *out = malloc(tot), *o = out;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp(lines[i], lines[i - 1]))
            o += sprintf(o, "%s\n", lines[i]);
    *o = '\0';
    return out;
}

/* ---- html5lib tokenizer tests ------------------------------------------ */

static bool has_rawtext_tag(const char *s)
{
    static const char *tags[] = {"<script", "<style", "<title", "<textarea", "<xmp",
                                 "<iframe", "<noembed", "<noframes", "<plaintext"};
    for (const char *p = s; *p; p++)
        for (size_t k = 0; k < sizeof tags / sizeof tags[0]; k++)
            if (!strncasecmp(p, tags[k], strlen(tags[k])))
                return true;
    return false;
}

/* "\\uXXXX" escapes in doubleEscaped tests. */
static char *unescape(const char *s, size_t *len)
{
    size_t n = strlen(s);
    char *o = malloc(n + 1), *w = o;
    for (size_t i = 0; i < n;) {
        if (s[i] == '\\' && s[i + 1] == 'u') {
            unsigned cp = (unsigned)strtoul((char[]){s[i + 2], s[i + 3], s[i + 4], s[i + 5], 0},
                                            NULL, 16);
            if (cp < 0x80) *w++ = (char)cp;
            else if (cp < 0x800) { *w++ = (char)(0xc0 | cp >> 6); *w++ = (char)(0x80 | (cp & 63)); }
            else { *w++ = (char)(0xe0 | cp >> 12); *w++ = (char)(0x80 | ((cp >> 6) & 63));
                   *w++ = (char)(0x80 | (cp & 63)); }
            i += 6;
        } else {
            *w++ = s[i++];
        }
    }
    *w = '\0';
    *len = (size_t)(w - o);
    return o;
}

static int run_case(const jval *t, int *ran)
{
    const jval *in = json_get(t, "input"), *out = json_get(t, "output");
    const jval *states = json_get(t, "initialStates");
    const jval *dbl = json_get(t, "doubleEscaped");
    bool de = dbl && dbl->num;
    if (states && !(states->len == 1 && !strcmp(states->items[0].str, "Data state")))
        return 0;
    size_t inlen = in->len;
    char *input = de ? unescape(in->str, &inlen) : in->str;
    if (has_rawtext_tag(input))
        return 0;
    /* Expected: tag, attribute, value of every start tag's attributes. */
    sink want = {0};
    for (size_t i = 0; i < out->len; i++) {
        const jval *tok = &out->items[i];
        if (tok->t != J_ARR || strcmp(tok->items[0].str, "StartTag"))
            continue;
        const jval *attrs = &tok->items[2];
        for (size_t k = 0; k < attrs->len; k++) {
            char key[600];
            size_t vl = attrs->items[k].len;
            char *v = attrs->items[k].str;
            char *tag = tok->items[1].str, *an = attrs->keys[k];
            if (de) {
                size_t x;
                v = unescape(v, &vl);
                tag = unescape(tag, &x);
                an = unescape(an, &x);
            }
            snprintf(key, sizeof key, "%.64s\t%.64s", tag, an);
            sink_add(&want, key, v, vl);
        }
    }
    (*ran)++;
    int bad = 0;
    for (int pass = 0; pass < 2; pass++) {   /* whole, then byte by byte */
        sink got = {0};
        extract(input, inlen, pass ? 1 : 0, SIMUL_LINKS_ALL_ATTRS, &got);
        if (strcmp(got.buf ? got.buf : "", want.buf ? want.buf : "")) {
            fprintf(stderr, "  %s (%s): got\n%s  want\n%s", json_get(t, "description")->str,
                    pass ? "byte by byte" : "whole", got.buf ? got.buf : "",
                    want.buf ? want.buf : "");
            bad = 1;
            break;
        }
        free(got.buf);
    }
    return bad;
}

TEST_T(html5lib_tokenizer, 60)
{
    static const char *files[] = {"test1.test", "test2.test", "test3.test", "test4.test",
                                  "entities.test", "unicodeChars.test", "domjs.test",
                                  "pendingSpecChanges.test", "escapeFlag.test",
                                  "contentModelFlags.test", "xmlViolation.test"};
    int ran = 0, bad = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char rel[128];
        snprintf(rel, sizeof rel, "html5lib-tokenizer/%s", files[f]);
        char *text = testdata_read(rel, NULL);
        CHECK(text);
        jval *doc = json_parse(text);
        CHECK(doc);
        const jval *tests = json_get(doc, "tests");
        if (!tests)
            continue;
        for (size_t i = 0; i < tests->len; i++)
            bad += run_case(&tests->items[i], &ran);
    }
    printf("# html5lib tokenizer cases run through the extractor: %d, mismatches %d\n", ran, bad);
    fflush(stdout);
    CHECK(ran >= 300);
    CHECK_EQ(bad, 0);
}

/* Every named and numeric reference test, as an attribute value. */
TEST_T(html5lib_references_in_attributes, 60)
{
    static const char *files[] = {"namedEntities.test", "numericEntities.test"};
    int ran = 0, bad = 0;
    for (size_t f = 0; f < 2; f++) {
        char rel[128];
        snprintf(rel, sizeof rel, "html5lib-tokenizer/%s", files[f]);
        char *text = testdata_read(rel, NULL);
        CHECK(text);
        jval *doc = json_parse(text);
        const jval *tests = json_get(doc, "tests");
        CHECK(tests);
        for (size_t i = 0; i < tests->len; i++) {
            const jval *t = &tests->items[i];
            const char *in = json_get(t, "input")->str;
            const jval *out = json_get(t, "output");
            /* Only "&name;" / "&name" / "&#..;" alone: the same in data and in
             * an attribute value (the value ends right after it). */
            size_t k = 1;
            if (in[0] != '&')
                continue;
            if (in[1] == '#')
                k = 2 + ((in[2] | 0x20) == 'x');
            while (in[k] && ((in[k] >= '0' && in[k] <= '9') || ((in[k] | 0x20) >= 'a' &&
                                                                  (in[k] | 0x20) <= 'z')))
                k++;
            if (in[k] == ';')
                k++;
            if (in[k] || out->len != 1 || strcmp(out->items[0].items[0].str, "Character"))
                continue;
            char page[256];
            snprintf(page, sizeof page, "<x y=\"%s\">", in);
            sink got = {0}, want = {0};
            sink_add(&want, "x\ty", out->items[0].items[1].str, out->items[0].items[1].len);
            extract(page, strlen(page), 0, SIMUL_LINKS_ALL_ATTRS, &got);
            if (strcmp(got.buf ? got.buf : "", want.buf)) {
                fprintf(stderr, "  %s: got %s want %s", in, got.buf ? got.buf : "-\n", want.buf);
                bad++;
            }
            ran++;
        }
    }
    printf("# html5lib reference cases as attribute values: %d, mismatches %d\n", ran, bad);
    fflush(stdout);
    CHECK(ran >= 2000);
    CHECK_EQ(bad, 0);
}

/* ---- against html5lib's tree on real pages ------------------------------ */

#define MAX_PAGES 600

/* Compares the extractor with links_html5lib.py on the given pages. */
static void compare_pages(char **paths, int n)
{
    /* One python run for all the pages. */
    FILE *py = testdata_python("links_html5lib.py", paths, n);
    CHECK(py);
    sink *want = calloc((size_t)n, sizeof *want);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t ll;
    int cur = 0;
    while ((ll = getline(&line, &lcap, py)) > 0) {
        char *tab = strchr(line, '\t');
        CHECK(tab);
        *tab = '\0';
        while (cur < n && strcmp(paths[cur], line))
            cur++;
        CHECK(cur < n);
        char *kind = tab + 1, *tab2 = strchr(kind, '\t');
        *tab2 = '\0';
        char *v = tab2 + 1;
        size_t vl = strlen(v);
        if (vl && v[vl - 1] == '\n')
            v[--vl] = '\0';
        /* Already escaped by the script: add verbatim. */
        size_t need = strlen(kind) + vl + 4;
        if (want[cur].len + need >= want[cur].cap) {
            want[cur].cap = (want[cur].len + need) * 2 + 256;
            want[cur].buf = realloc(want[cur].buf, want[cur].cap);
        }
        want[cur].len += (size_t)sprintf(want[cur].buf + want[cur].len, "%s\t%s\n", kind, v);
    }
    CHECK_EQ(pclose(py), 0);
    int bad = 0, links = 0;
    for (int i = 0; i < n; i++) {
        size_t len = 0;
        char *page = testdata_read_file(paths[i], &len);
        CHECK(page);
        /* Chunk sizes that split tags, references and comments. */
        size_t chunk = (size_t[]){0, 1, 7, 61, 4096}[i % 5];
        sink got = {0};
        extract(page, len, chunk, 0, &got);
        char *g = as_set(got.buf), *wt = as_set(want[i].buf);
        for (char *p = wt; *p; p++)
            links += *p == '\n';
        if (strcmp(g, wt)) {
            if (bad < 3)
                fprintf(stderr, "  %s: got\n%s  want\n%s", paths[i], g, wt);
            bad++;
        }
        free(page);
        free(got.buf);
    }
    printf("# pages compared with html5lib: %d (%d distinct links), mismatches %d\n", n, links,
           bad);
    fflush(stdout);
    CHECK_EQ(bad, 0);
}

TEST_T(html5lib_tricky_pages, 60)
{
    char *paths[] = {SIMUL_SRCDIR "/tests/http/links_tricky.html",
                     SIMUL_SRCDIR "/tests/http/links_frameset.html"};
    compare_pages(paths, 2);
}

TEST_T(html5lib_python_docs, 300)
{
    static char *paths[MAX_PAGES];
    int n = testdata_python_docs(paths, MAX_PAGES);
    printf("# Python documentation pages found: %d\n", n);
    fflush(stdout);
    CHECK(n >= 100);   /* scripts/deps.sh installs python3-doc */
    /* A sample keeps the test quick (html5lib parses ~1 MB/s). */
    int step = n / 60 + 1, m = 0;
    for (int i = 0; i < n; i += step)
        paths[m++] = paths[i];
    compare_pages(paths, m);
}

/* ---- behaviour -------------------------------------------------------- */

typedef struct {
    char urls[16][256];
    int  n;
    int  stop_after;
} urls;

static int on_url(void *arg, const simul_link *l)
{
    urls *u = arg;
    if (u->n < 16)
        snprintf(u->urls[u->n++], 256, "%s %s", kind_name[l->kind], l->url ? l->url->href : "-");
    return u->stop_after && u->n >= u->stop_after ? 77 : 0;
}

TEST(base_and_resolution)
{
    const char *page =
        "<a href=x>before</a><base href='../other/'><base href='/ignored/'>"
        "<a href='y?q#f'>y</a><link href=//cdn.example/s.css><a href='http://[bad'>"
        "<meta http-equiv=refresh content='0;url=/r'><iframe src=f.html></iframe>";
    const char *doc = "https://Example.com/a/b/page.html";
    urls u = {0};
    simul_links *lx;
    CHECK_EQ(simul_links_new(&lx, doc, strlen(doc), SIMUL_URL_NORMALIZE, on_url, &u), 0);
    CHECK_EQ(simul_links_feed(lx, page, strlen(page)), 0);
    CHECK_EQ(simul_links_end(lx), 0);
    CHECK_EQ(u.n, 8);
    CHECK(!strcmp(u.urls[0], "a https://example.com/a/b/x"));
    CHECK(!strcmp(u.urls[1], "base https://example.com/a/other/"));
    CHECK(!strcmp(u.urls[2], "base https://example.com/ignored/"));
    CHECK(!strcmp(u.urls[3], "a https://example.com/a/other/y?q"));
    CHECK(!strcmp(u.urls[4], "link https://cdn.example/s.css"));
    CHECK(!strcmp(u.urls[5], "a -"));
    CHECK(!strcmp(u.urls[6], "refresh https://example.com/r"));
    CHECK(!strcmp(u.urls[7], "iframe https://example.com/a/other/f.html"));
    /* A javascript: base is ignored. */
    CHECK_EQ(simul_links_reset(lx, doc, strlen(doc)), 0);
    u.n = 0;
    const char *p2 = "<base href='javascript:alert(1)'><a href=z>";
    CHECK_EQ(simul_links_feed(lx, p2, strlen(p2)), 0);
    CHECK(!strcmp(u.urls[1], "a https://example.com/a/b/z"));
    simul_links_free(lx);
}

TEST(stop_value_and_caps)
{
    urls u = {.stop_after = 2};
    simul_links *lx;
    CHECK_EQ(simul_links_new(&lx, NULL, 0, 0, on_url, &u), 0);
    const char *p = "<a href=1><a href=2><a href=3>";
    CHECK_EQ(simul_links_feed(lx, p, strlen(p)), 77);
    CHECK_EQ(u.n, 2);
    CHECK_EQ(simul_links_feed(lx, p, strlen(p)), 77);   /* stays stopped */
    CHECK_EQ(simul_links_end(lx), 77);
    CHECK_EQ(simul_links_reset(lx, NULL, 0), 0);
    /* A value over the cap is dropped and counted; the rest goes on. */
    u.n = 0;
    u.stop_after = 0;
    static char big[SIMUL_LINKS_VALUE_MAX + 64];
    memset(big, 'x', sizeof big);
    CHECK_EQ(simul_links_feed(lx, "<a href=\"", 9), 0);
    CHECK_EQ(simul_links_feed(lx, big, sizeof big), 0);
    CHECK_EQ(simul_links_feed(lx, "\"><a href=ok>", 13), 0);
    CHECK_EQ(u.n, 1);
    CHECK_EQ(simul_links_dropped(lx), 1);
    /* Errors. */
    CHECK_EQ(simul_links_new(NULL, NULL, 0, 0, on_url, NULL), -EINVAL);
    simul_links *l2;
    CHECK_EQ(simul_links_new(&l2, "not a url", 9, 0, on_url, NULL), -EINVAL);
    CHECK_EQ(simul_links_feed(lx, NULL, 1), -EINVAL);
    simul_links_free(lx);
    simul_links_free(NULL);
}

static int count_attr(void *arg, const simul_link *l)
{
    (*(int *)arg)++;
    CHECK(strlen(l->attr) <= 64 + 3);
    return 0;
}

/* Long names full of NULs (U+FFFD, 3 bytes each) are cut at the name cap
 * (found by fuzzing: a name overflowed a buffer). */
TEST(long_names_with_nul)
{
    char page[400] = "<x ";
    size_t n = 3;
    for (int i = 0; i < 100; i++)
        page[n++] = i % 2 ? 'a' : '\0';
    memcpy(page + n, "=1 b=2>", 7);
    n += 7;
    int count = 0;
    simul_links *lx;
    CHECK_EQ(simul_links_new(&lx, NULL, 0, SIMUL_LINKS_ALL_ATTRS, count_attr, &count), 0);
    CHECK_EQ(simul_links_feed(lx, page, n), 0);
    CHECK_EQ(count, 2);
    simul_links_free(lx);
    /* A meta http-equiv of NULs (each 3 bytes decoded) beside a refresh
     * content (found by fuzzing: the decode buffer was too small). */
    char meta[200] = "<meta content='0;url=x' http-equiv='";
    n = strlen(meta);
    memset(meta + n, 0, 70);
    n += 70;
    memcpy(meta + n, "'>", 2);
    n += 2;
    urls u = {0};
    CHECK_EQ(simul_links_new(&lx, NULL, 0, 0, on_url, &u), 0);
    CHECK_EQ(simul_links_feed(lx, meta, n), 0);
    CHECK_EQ(u.n, 0);
    simul_links_free(lx);
}
