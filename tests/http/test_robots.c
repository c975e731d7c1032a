/*
 * test_robots.c - simul/robots.h: RFC 9309's examples (2.2.2's encoding
 * table, 2.2.3's special characters, 5.1 and 5.2), Google's documented
 * path-matching and precedence tables, group selection and merging, the
 * lexical rules (case, BOM, CR/LF/CRLF, comments, garbage, binary), the
 * 500 KiB cap, Crawl-delay, Sitemap, the status verdicts, and a table that
 * Python's urllib.robotparser produced on files where first-match and
 * longest-match agree (gen_robots_py.py); random rule sets against a
 * dynamic-programming reference matcher; then the matching speed.
 */
#include "harness.h"
#include "http/testdata.h"

#include <simul.h>
#include <simul/robots.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* 1 allowed, 0 disallowed for robots body `txt`, agent `ua`, path `p`. */
static int allowed(const char *txt, const char *ua, const char *p)
{
    simul_robots *r;
    if (simul_robots_parse(txt, strlen(txt), ua, &r) != 0)
        return -100;
    int rc = simul_robots_allowed(r, p, strlen(p));
    simul_robots_free(r);
    return rc;
}

#define ALLOWED(txt, ua, p)    CHECK_EQ(allowed(txt, ua, p), 1)
#define DISALLOWED(txt, ua, p) CHECK_EQ(allowed(txt, ua, p), 0)

/* RFC 9309 5.1. */
TEST(rfc9309_simple_example)
{
    const char *t = "User-Agent: *\n"
                    "Disallow: *.gif$\n"
                    "Disallow: /example/\n"
                    "Allow: /publications/\n"
                    "\n"
                    "User-Agent: foobot\n"
                    "Disallow:/\n"
                    "Allow:/example/page.html\n"
                    "Allow:/example/allowed.gif\n"
                    "\n"
                    "User-Agent: barbot\n"
                    "User-Agent: bazbot\n"
                    "Disallow: /example/page.html\n"
                    "\n"
                    "User-Agent: quxbot\n"
                    "\n"
                    "EOF\n";
    /* foobot: only the two allowed files. */
    ALLOWED(t, "foobot", "/example/page.html");
    ALLOWED(t, "foobot", "/example/allowed.gif");
    DISALLOWED(t, "foobot", "/");
    DISALLOWED(t, "foobot", "/example/other.html");
    DISALLOWED(t, "foobot", "/publications/");
    /* barbot, bazbot: everything but /example/page.html. */
    for (const char *const *a = (const char *const[]){"barbot", "bazbot", NULL}; *a; a++) {
        DISALLOWED(t, *a, "/example/page.html");
        ALLOWED(t, *a, "/example/other.html");
        ALLOWED(t, *a, "/x.gif");
    }
    /* quxbot: an empty group allows everything (not the * group). */
    ALLOWED(t, "quxbot", "/example/page.html");
    ALLOWED(t, "quxbot", "/x.gif");
    /* Anyone else: the * group. */
    DISALLOWED(t, "otherbot", "/x.gif");
    DISALLOWED(t, "otherbot", "/a/b/c.gif");
    ALLOWED(t, "otherbot", "/x.gif?size=2");
    DISALLOWED(t, "otherbot", "/example/");
    DISALLOWED(t, "otherbot", "/example/page.html");
    ALLOWED(t, "otherbot", "/publications/");
    ALLOWED(t, "otherbot", "/");
}

/* RFC 9309 5.2. */
TEST(rfc9309_longest_match)
{
    const char *t = "User-Agent: foobot\n"
                    "Allow: /example/page/\n"
                    "Disallow: /example/page/disallowed.gif\n";
    ALLOWED(t, "foobot", "/example/page/");
    ALLOWED(t, "foobot", "/example/page/x.gif");
    DISALLOWED(t, "foobot", "/example/page/disallowed.gif");
}

/* RFC 9309 2.2.2's table: each path and its encoded form match the path to
 * match, rule on one side and URL on the other. Row 2 (a URL inside a
 * query) is read as the identity on each form: reserved characters are
 * compared as written ("%3A" is not ":", RFC 3986 6.2.2.2). */
TEST(rfc9309_encoding_table)
{
    static const char *const rows[][2] = {
        {"/foo/bar?baz=quz", "/foo/bar?baz=quz"},
        {"/foo/bar?baz=https://foo.bar", "/foo/bar?baz=https://foo.bar"},
        {"/foo/bar?baz=https%3A%2F%2Ffoo.bar", "/foo/bar?baz=https%3A%2F%2Ffoo.bar"},
        {"/foo/bar/\xE3\x83\x84", "/foo/bar/%E3%83%84"},
        {"/foo/bar/%E3%83%84", "/foo/bar/%E3%83%84"},
        {"/foo/bar/%e3%83%84", "/foo/bar/%E3%83%84"},
        {"/foo/bar/%62%61%7A", "/foo/bar/baz"},
    };
    char t[256];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        for (int dir = 0; dir < 2; dir++) {
            const char *rule = rows[i][dir], *url = rows[i][!dir];
            snprintf(t, sizeof t, "User-agent: *\nDisallow: /\nAllow: %s$\n", rule);
            ALLOWED(t, "a", url);
            DISALLOWED(t, "a", "/foo/bar/other");
        }
    }
    /* Reserved characters: escaped and raw differ. */
    const char *t2 = "User-agent: *\nDisallow: /a%2Fb\n";
    DISALLOWED(t2, "a", "/a%2fb");
    ALLOWED(t2, "a", "/a/b");
    /* A stray '%' is compared as %25 on both sides. */
    const char *t3 = "User-agent: *\nDisallow: /100%\n";
    DISALLOWED(t3, "a", "/100%");
    DISALLOWED(t3, "a", "/100%25");
    ALLOWED(t3, "a", "/100");
}

/* RFC 9309 2.2.3: '#', '$', '*', and percent-encoded '*' / '$' matching
 * those characters verbatim. */
TEST(rfc9309_special_characters)
{
    const char *t = "User-agent: *            # Note: matches all\n"
                    "Disallow: /path/file-with-a-%2A.html\n"
                    "Disallow: /path/foo-%24\n"
                    "Allow: /this/path/exactly$\n"
                    "Allow: /this/*/exactly\n"
                    "Disallow: /this/\n";
    DISALLOWED(t, "a", "/path/file-with-a-*.html");
    DISALLOWED(t, "a", "/path/file-with-a-%2A.html");
    ALLOWED(t, "a", "/path/file-with-a-b.html");
    DISALLOWED(t, "a", "/path/foo-$");
    ALLOWED(t, "a", "/path/foo-");
    ALLOWED(t, "a", "/this/path/exactly");
    ALLOWED(t, "a", "/this/path/exactly/not");   /* the wildcard Allow */
    DISALLOWED(t, "a", "/this/path/notexactly");
    ALLOWED(t, "a", "/this/any/thing/exactly");
    DISALLOWED(t, "a", "/this/other");
    /* A '$' not at the end is a literal. */
    const char *t2 = "User-agent: *\nDisallow: /a$b\n";
    DISALLOWED(t2, "a", "/a$b");
    DISALLOWED(t2, "a", "/a%24bc");
    ALLOWED(t2, "a", "/a");
    /* Google's special-character cases. */
    const char *g1 = "User-agent: FooBot\nDisallow: /foo/bar/quz\nAllow: /foo/*/qux\n";
    DISALLOWED(g1, "FooBot", "/foo/bar/quz");
    ALLOWED(g1, "FooBot", "/foo/quz");
    ALLOWED(g1, "FooBot", "/foo//quz");
    ALLOWED(g1, "FooBot", "/foo/bax/quz");
    const char *g2 = "User-agent: FooBot\nDisallow: /foo/bar$\nAllow: /foo/bar/qux\n";
    DISALLOWED(g2, "FooBot", "/foo/bar");
    ALLOWED(g2, "FooBot", "/foo/bar/qux");
    ALLOWED(g2, "FooBot", "/foo/bar/");
    ALLOWED(g2, "FooBot", "/foo/bar/baz");
    const char *g3 = "User-agent: FooBot\n# Disallow: /\nDisallow: /foo/quz#qux\nAllow: /\n";
    ALLOWED(g3, "FooBot", "/foo/bar");
    DISALLOWED(g3, "FooBot", "/foo/quz");
}

typedef struct {
    const char *pattern;
    const char *yes[12];
    const char *no[12];
} pathcase;

/* developers.google.com/search/docs/crawling-indexing/robots/robots_txt,
 * "URL matching based on path values" (as google/robotstxt tests it: each
 * pattern as an Allow under "Disallow: /"). */
TEST(google_path_matching)
{
    static const pathcase cases[] = {
        {"/", {"/", "/x", "/fish/a?b"}, {0}},
        {"/*", {"/", "/x", "/fish/a?b"}, {0}},
        {"/$", {"/"}, {"/x", "/?a"}},
        {"/fish",
         {"/fish", "/fish.html", "/fish/salmon.html", "/fishheads", "/fishheads/yummy.html",
          "/fish.php?id=anything"},
         {"/Fish.asp", "/catfish", "/?id=fish", "/desert/fish", "/bar"}},
        {"/fish*",
         {"/fish", "/fish.html", "/fish/salmon.html", "/fishheads", "/fishheads/yummy.html",
          "/fish.php?id=anything"},
         {"/Fish.bar", "/catfish", "/?id=fish", "/desert/fish", "/bar"}},
        {"/fish/",
         {"/fish/", "/fish/?id=anything", "/fish/salmon.htm", "/fish/salmon", "/fish/?salmon"},
         {"/fish", "/fish.html", "/animals/fish/", "/Fish/Salmon.asp", "/bar"}},
        {"/*.php",
         {"/index.php", "/filename.php", "/folder/filename.php", "/folder/filename.php?parameters",
          "/folder/any.php.file.html", "//folder/any.php.file.html", "/filename.php/",
          "/index?f=filename.php/"},
         {"/", "/windows.PHP", "/php/", "/index?php", "/bar"}},
        {"/*.php$",
         {"/filename.php", "/folder/filename.php"},
         {"/filename.php?parameters", "/filename.php/", "/filename.php5", "/windows.PHP",
          "/php/", "/filename?php", "/aaaphpaaa", "//windows.PHP", "/bar"}},
        {"/fish*.php",
         {"/fish.php", "/fishheads/catfish.php?parameters"},
         {"/Fish.PHP", "/bar"}},
    };
    char t[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const pathcase *c = &cases[i];
        /* As an Allow under "Disallow: /" (Google's test) and as a Disallow alone. */
        snprintf(t, sizeof t, "user-agent: FooBot\ndisallow: /\nallow: %s\n", c->pattern);
        char t2[256];
        snprintf(t2, sizeof t2, "user-agent: FooBot\ndisallow: %s\n", c->pattern);
        for (int k = 0; k < 12 && c->yes[k]; k++) {
            if (allowed(t, "FooBot", c->yes[k]) != 1 || allowed(t2, "FooBot", c->yes[k]) != 0)
                fprintf(stderr, "  %s should match %s\n", c->pattern, c->yes[k]);
            ALLOWED(t, "FooBot", c->yes[k]);
            DISALLOWED(t2, "FooBot", c->yes[k]);
        }
        for (int k = 0; k < 12 && c->no[k]; k++) {
            if (allowed(t2, "FooBot", c->no[k]) != 1)
                fprintf(stderr, "  %s should not match %s\n", c->pattern, c->no[k]);
            ALLOWED(t2, "FooBot", c->no[k]);
            if (strcmp(c->pattern, "/") && strcmp(c->pattern, "/*"))
                DISALLOWED(t, "FooBot", c->no[k]);
        }
    }
}

/* Google's "Order of precedence for rules". */
TEST(google_precedence)
{
    ALLOWED("user-agent: FooBot\nallow: /p\ndisallow: /\n", "FooBot", "/page");
    ALLOWED("user-agent: FooBot\nallow: /folder\ndisallow: /folder\n", "FooBot", "/folder/page");
    ALLOWED("user-agent: FooBot\ndisallow: /folder\nallow: /folder\n", "FooBot", "/folder/page");
    DISALLOWED("user-agent: FooBot\nallow: /page\ndisallow: /*.htm\n", "FooBot", "/page.htm");
    ALLOWED("user-agent: FooBot\nallow: /$\ndisallow: /\n", "FooBot", "/");
    DISALLOWED("user-agent: FooBot\nallow: /$\ndisallow: /\n", "FooBot", "/page.htm");
    /* Priority is the pattern's length as written: "/page$" (6) over "/page" (5). */
    ALLOWED("user-agent: *\ndisallow: /page\nallow: /page$\n", "a", "/page");
    DISALLOWED("user-agent: *\ndisallow: /page\nallow: /page$\n", "a", "/pages");
    /* An empty Disallow means nothing, and does not shadow later rules. */
    ALLOWED("user-agent: *\ndisallow:\n", "a", "/x");
    DISALLOWED("user-agent: *\ndisallow:\ndisallow: /x\n", "a", "/x");
    /* Patterns of wildcards and anchors alone. */
    ALLOWED("user-agent: *\ndisallow: $\n", "a", "/");
    DISALLOWED("user-agent: *\ndisallow: *\n", "a", "/x");
    DISALLOWED("user-agent: *\ndisallow: **$\n", "a", "/x");
    DISALLOWED("user-agent: *\ndisallow: x\ndisallow: *x\n", "a", "/ax");
    ALLOWED("user-agent: *\ndisallow: x\n", "a", "/x");
}

TEST(agent_groups)
{
    const char *t = "User-agent: simul-crawl\nDisallow: /a\n"
                    "\n"
                    "User-agent: *\nDisallow: /b\n"
                    "\n"
                    "User-agent: SIMUL-CRAWL/2.0\nDisallow: /c\n"    /* merged with the first */
                    "\n"
                    "User-agent: simul\nDisallow: /d\n"              /* another token */
                    "\n"
                    "User-agent: simul-crawler\nDisallow: /e\n";
    /* Our group(s) win over *, merged, any case; a prefix or extension of
     * our token is another agent. */
    DISALLOWED(t, "simul-crawl", "/a");
    ALLOWED(t, "simul-crawl", "/b");
    DISALLOWED(t, "simul-crawl", "/c");
    ALLOWED(t, "simul-crawl", "/d");
    ALLOWED(t, "simul-crawl", "/e");
    /* The token is cut from a full User-Agent string. */
    DISALLOWED(t, "Simul-Crawl/1.0 (+https://example.com/bot)", "/a");
    ALLOWED(t, "Simul-Crawl/1.0 (+https://example.com/bot)", "/b");
    /* Others use *. */
    DISALLOWED(t, "otherbot", "/b");
    ALLOWED(t, "otherbot", "/a");
    DISALLOWED(t, "simul", "/d");
    ALLOWED(t, "simul", "/b");
    /* Several user-agent lines make one group; a rule ends the list. */
    const char *t2 = "User-agent: a\nUser-agent: b\nDisallow: /x\nUser-agent: c\nDisallow: /y\n";
    DISALLOWED(t2, "a", "/x");
    ALLOWED(t2, "a", "/y");
    DISALLOWED(t2, "b", "/x");
    DISALLOWED(t2, "c", "/y");
    ALLOWED(t2, "c", "/x");
    /* A group naming both * and us counts once for us. */
    const char *t3 = "User-agent: *\nUser-agent: foo\nDisallow: /x\n";
    DISALLOWED(t3, "foo", "/x");
    DISALLOWED(t3, "bar", "/x");
    /* "* text" is still the global agent (Google). */
    DISALLOWED("User-agent: * # all\nDisallow: /x\n", "foo", "/x");
    DISALLOWED("User-agent: *  foo\nDisallow: /x\n", "foo", "/x");
    /* No group for us and no *: everything allowed. */
    ALLOWED("User-agent: other\nDisallow: /\n", "foo", "/x");
    /* Rules before any user-agent belong to no group. */
    ALLOWED("Disallow: /\nUser-agent: *\nDisallow: /y\n", "foo", "/x");
    /* Only our rules are kept. */
    simul_robots *r;
    CHECK_EQ(simul_robots_parse(t, strlen(t), "simul-crawl", &r), 0);
    CHECK_EQ(simul_robots_rule_count(r), 2);
    simul_robots_free(r);
}

TEST(lexical)
{
    /* Keys any case, spaces and tabs around keys and values, comments. */
    const char *t = "  uSeR-AgEnT\t :  FooBot  # x\n\tDISALLOW :\t/a # comment\n"
                    "ALLOW: /a/b\n# Disallow: /\n";
    DISALLOWED(t, "foobot", "/a");
    ALLOWED(t, "foobot", "/a/b");
    ALLOWED(t, "foobot", "/c");
    /* Paths are case-sensitive. */
    ALLOWED(t, "foobot", "/A");
    /* BOM; CRLF; CR alone; no final newline. */
    static const char *const ends[] = {"\n", "\r\n", "\r"};
    for (int bom = 0; bom < 2; bom++)
        for (int e = 0; e < 3; e++) {
            char b[256];
            snprintf(b, sizeof b, "%sUser-agent: *%sDisallow: /x%sAllow: /x/y", bom ? "\xEF\xBB\xBF" : "",
                     ends[e], ends[e]);
            DISALLOWED(b, "a", "/x");
            ALLOWED(b, "a", "/x/y");
            ALLOWED(b, "a", "/z");
        }
    /* Lines without a colon, unknown keys, blank lines, garbage. */
    const char *g = "hello world\nUser-agent *\nUser-agent: *\n\n\nNoindex: /x\n"
                    "Disallow /y\n::::\n:\nDisallow: /z\n";
    ALLOWED(g, "a", "/x");
    ALLOWED(g, "a", "/y");
    DISALLOWED(g, "a", "/z");
    /* Blank lines do not end a group (RFC 9309: groups end at user-agent). */
    DISALLOWED("User-agent: *\n\nDisallow: /x\n\n\nDisallow: /y\n", "a", "/y");
    /* Empty and NULL bodies. */
    ALLOWED("", "a", "/x");
    simul_robots *r;
    CHECK_EQ(simul_robots_parse(NULL, 0, "a", &r), 0);
    CHECK_EQ(simul_robots_allowed(r, "/x", 2), 1);
    simul_robots_free(r);
}

TEST(binary_input)
{
    /* Random bytes, with the odd real line in between: no crash, real
     * lines still count, nothing from the noise is a rule for us. */
    static char buf[64 * 1024];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (char)(x >> 16);
    }
    const char *line = "\nUser-agent: binbot\nDisallow: /bin\n";
    memcpy(buf + 30000, line, strlen(line));
    simul_robots *r;
    CHECK_EQ(simul_robots_parse(buf, sizeof buf, "binbot", &r), 0);
    CHECK_EQ(simul_robots_allowed(r, "/bin/x", 6), 0);
    CHECK_EQ(simul_robots_allowed(r, "/x", 2), 1);
    simul_robots_free(r);
    /* NULs inside lines. */
    static const char nul[] = "User-agent: *\nDisallow: /a\0b\nDisallow: /c\n";
    CHECK_EQ(simul_robots_parse(nul, sizeof nul - 1, "x", &r), 0);
    CHECK_EQ(simul_robots_allowed(r, "/a\0b", 4), 0);
    CHECK_EQ(simul_robots_allowed(r, "/a%00b", 6), 0);
    CHECK_EQ(simul_robots_allowed(r, "/a", 2), 1);
    CHECK_EQ(simul_robots_allowed(r, "/c", 2), 0);
    CHECK_EQ(simul_robots_allowed(r, "/b", 2), 1);
    /* Paths with NUL, controls, high bytes, '*', '$', '#'. */
    CHECK_EQ(simul_robots_allowed(r, "/b\0\x01\xff*$", 7), 1);
    CHECK_EQ(simul_robots_allowed(r, "/c#frag", 7), 0);
    CHECK_EQ(simul_robots_allowed(r, "#/c", 3), 1);
    simul_robots_free(r);
}

TEST(size_cap)
{
    /* 500 KiB of comment, then a rule: ignored. A rule ending right at the
     * cap counts; one that the cap cuts does not. */
    size_t cap = SIMUL_ROBOTS_MAX_BYTES;
    char *b = malloc(cap + 4096);
    CHECK(b);
    const char *head = "User-agent: *\nDisallow: /early\n";
    size_t n = strlen(head);
    memcpy(b, head, n);
    memset(b + n, '#', cap + 4096 - n);
    const char *in = "\nDisallow: /inside\n";
    memcpy(b + cap - 40, in, strlen(in));
    const char *cut = "\nDisallow: /cut\n";
    memcpy(b + cap - 6, cut, strlen(cut));
    const char *late = "\nDisallow: /late\n";
    memcpy(b + cap + 100, late, strlen(late));
    simul_robots *r;
    CHECK_EQ(simul_robots_parse(b, cap + 4096, "a", &r), 0);
    CHECK_EQ(simul_robots_allowed(r, "/early", 6), 0);
    CHECK_EQ(simul_robots_allowed(r, "/inside", 7), 0);
    CHECK_EQ(simul_robots_allowed(r, "/cut", 4), 1);
    CHECK_EQ(simul_robots_allowed(r, "/c", 2), 1);
    CHECK_EQ(simul_robots_allowed(r, "/late", 5), 1);
    CHECK_EQ(simul_robots_rule_count(r), 2);
    simul_robots_free(r);
    free(b);
}

TEST(rule_cap)
{
    /* The biggest rule count a 500 KiB body can hold stays under the cap,
     * so nothing is dropped; 100,000 short rules in a bigger body are cut
     * by the byte cap first. */
    size_t cap = 2 * SIMUL_ROBOTS_MAX_BYTES, n = 0;
    char *b = malloc(cap);
    CHECK(b);
    n += (size_t)sprintf(b, "user-agent:*\n");
    for (int i = 0; n + 16 < cap; i++)
        n += (size_t)sprintf(b + n, "allow:/%d\n", i);
    simul_robots *r;
    CHECK_EQ(simul_robots_parse(b, n, "a", &r), 0);
    CHECK(simul_robots_rule_count(r) > 40000);
    CHECK(simul_robots_rule_count(r) <= SIMUL_ROBOTS_MAX_RULES);
    CHECK_EQ(simul_robots_dropped(r), 0);
    CHECK_EQ(simul_robots_allowed(r, "/17", 3), 1);
    simul_robots_free(r);
    free(b);
}

TEST(crawl_delay)
{
    static const struct {
        const char *v;
        double d;
    } cases[] = {
        {"10", 10}, {"0.5", 0.5}, {".25", 0.25}, {"3.", 3}, {"0", 0},
        {"-1", -1}, {"abc", -1}, {"1e3", -1}, {"", -1}, {"10 s", -1}, {"nan", -1},
        {"99999999999999999999", SIMUL_ROBOTS_MAX_DELAY},
    };
    char t[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(t, sizeof t, "User-agent: *\nCrawl-delay: %s\n", cases[i].v);
        simul_robots *r;
        CHECK_EQ(simul_robots_parse(t, strlen(t), "a", &r), 0);
        if (simul_robots_crawl_delay(r) != cases[i].d)
            fprintf(stderr, "  crawl-delay %s: got %g\n", cases[i].v, simul_robots_crawl_delay(r));
        CHECK(simul_robots_crawl_delay(r) == cases[i].d);
        simul_robots_free(r);
    }
    /* The chosen group's; the first valid one; others' do not leak in. A
     * Crawl-delay is a group member: it ends the user-agent list (so the
     * * group here is not merged with foo's). */
    const char *t2 = "User-agent: *\nCrawl-delay: 9\n\nUser-agent: foo\nCrawl-delay: x\n"
                     "Crawl-delay: 2\nUser-agent: bar\nCrawl-delay: 4\nDisallow: /z\n";
    simul_robots *r;
    CHECK_EQ(simul_robots_parse(t2, strlen(t2), "foo", &r), 0);
    CHECK(simul_robots_crawl_delay(r) == 2);
    CHECK_EQ(simul_robots_allowed(r, "/z", 2), 1);
    simul_robots_free(r);
    CHECK_EQ(simul_robots_parse(t2, strlen(t2), "bar", &r), 0);
    CHECK(simul_robots_crawl_delay(r) == 4);
    CHECK_EQ(simul_robots_allowed(r, "/z", 2), 0);
    simul_robots_free(r);
    CHECK_EQ(simul_robots_parse(t2, strlen(t2), "baz", &r), 0);
    CHECK(simul_robots_crawl_delay(r) == 9);
    CHECK_EQ(simul_robots_allowed(r, "/z", 2), 1);
    simul_robots_free(r);
    /* Two user-agent lines before the delay share it. */
    const char *t3 = "User-agent: a\nUser-agent: b\nCrawl-delay: 3\nDisallow: /q\n";
    CHECK_EQ(simul_robots_parse(t3, strlen(t3), "b", &r), 0);
    CHECK(simul_robots_crawl_delay(r) == 3);
    simul_robots_free(r);
    CHECK_EQ(simul_robots_parse("", 0, "baz", &r), 0);
    CHECK(simul_robots_crawl_delay(r) < 0);
    simul_robots_free(r);
}

TEST(sitemaps)
{
    const char *t = "Sitemap: https://example.com/sitemap.xml\n"
                    "User-agent: *\nDisallow: /x\n"
                    "sitemap:HTTP://Example.COM:80/a.xml.gz # comment\n"
                    "Sitemap: /relative.xml\n"
                    "Sitemap: ftp://example.com/s.xml\n"
                    "Sitemap: not a url\n"
                    "Sitemap: https://example.com/sitemap.xml\n"
                    "User-agent: other\nSitemap: https://example.org/s.xml\n";
    simul_robots *r;
    CHECK_EQ(simul_robots_parse(t, strlen(t), "a", &r), 0);
    CHECK_EQ(simul_robots_sitemap_count(r), 3);
    CHECK(!strcmp(simul_robots_sitemap_at(r, 0), "https://example.com/sitemap.xml"));
    CHECK(!strcmp(simul_robots_sitemap_at(r, 1), "http://example.com/a.xml.gz"));
    CHECK(!strcmp(simul_robots_sitemap_at(r, 2), "https://example.org/s.xml"));
    CHECK(simul_robots_sitemap_at(r, 3) == NULL);
    /* Sitemap lines do not disturb the groups. */
    CHECK_EQ(simul_robots_allowed(r, "/x", 2), 0);
    simul_robots_free(r);
    /* The cap. */
    size_t cap = (SIMUL_ROBOTS_MAX_SITEMAPS + 10) * 40, n = 0;
    char *b = malloc(cap);
    CHECK(b);
    for (int i = 0; i < SIMUL_ROBOTS_MAX_SITEMAPS + 10; i++)
        n += (size_t)sprintf(b + n, "Sitemap: http://e.com/%d.xml\n", i);
    CHECK_EQ(simul_robots_parse(b, n, "a", &r), 0);
    CHECK_EQ(simul_robots_sitemap_count(r), SIMUL_ROBOTS_MAX_SITEMAPS);
    CHECK_EQ(simul_robots_dropped(r), 10);
    simul_robots_free(r);
    free(b);
}

TEST(status_and_modes)
{
    CHECK_EQ(simul_robots_for_status(200), SIMUL_ROBOTS_PARSE);
    CHECK_EQ(simul_robots_for_status(204), SIMUL_ROBOTS_PARSE);
    CHECK_EQ(simul_robots_for_status(301), SIMUL_ROBOTS_ALLOW_ALL);
    CHECK_EQ(simul_robots_for_status(401), SIMUL_ROBOTS_ALLOW_ALL);
    CHECK_EQ(simul_robots_for_status(403), SIMUL_ROBOTS_ALLOW_ALL);
    CHECK_EQ(simul_robots_for_status(404), SIMUL_ROBOTS_ALLOW_ALL);
    CHECK_EQ(simul_robots_for_status(410), SIMUL_ROBOTS_ALLOW_ALL);
    CHECK_EQ(simul_robots_for_status(429), SIMUL_ROBOTS_DISALLOW_ALL);
    CHECK_EQ(simul_robots_for_status(500), SIMUL_ROBOTS_DISALLOW_ALL);
    CHECK_EQ(simul_robots_for_status(503), SIMUL_ROBOTS_DISALLOW_ALL);
    CHECK_EQ(simul_robots_for_status(0), SIMUL_ROBOTS_DISALLOW_ALL);
    CHECK_EQ(simul_robots_for_status(-ECONNREFUSED), SIMUL_ROBOTS_DISALLOW_ALL);
    CHECK_EQ(simul_robots_for_status(100), SIMUL_ROBOTS_DISALLOW_ALL);

    const char *body = "User-agent: *\nDisallow: /x\n";
    simul_robots *r;
    CHECK_EQ(simul_robots_parse_response(200, body, strlen(body), "a", &r), 0);
    CHECK_EQ(simul_robots_allowed(r, "/x", 2), 0);
    CHECK_EQ(simul_robots_allowed(r, "/y", 2), 1);
    simul_robots_free(r);
    /* A 404's body (an error page) is not parsed. */
    CHECK_EQ(simul_robots_parse_response(404, body, strlen(body), "a", &r), 0);
    CHECK_EQ(simul_robots_allowed(r, "/x", 2), 1);
    simul_robots_free(r);
    CHECK_EQ(simul_robots_parse_response(503, NULL, 0, "a", &r), 0);
    CHECK_EQ(simul_robots_allowed(r, "/x", 2), 0);
    CHECK_EQ(simul_robots_allowed(r, "/", 1), 0);
    CHECK_EQ(simul_robots_allowed(r, "", 0), 0);
    /* /robots.txt itself is always allowed. */
    CHECK_EQ(simul_robots_allowed(r, "/robots.txt", 11), 1);
    simul_robots_free(r);
    ALLOWED("User-agent: *\nDisallow: /\n", "a", "/robots.txt");
    DISALLOWED("User-agent: *\nDisallow: /\n", "a", "/robots.txt.bak");
    CHECK_EQ(simul_robots_new_allow_all(&r), 0);
    CHECK_EQ(simul_robots_allowed(r, "/anything", 9), 1);
    CHECK(simul_robots_crawl_delay(r) < 0);
    CHECK_EQ(simul_robots_sitemap_count(r), 0);
    simul_robots_free(r);
    CHECK_EQ(simul_robots_new_disallow_all(&r), 0);
    CHECK_EQ(simul_robots_allowed(r, "/anything", 9), 0);
    simul_robots_free(r);
}

TEST(errors)
{
    simul_robots *r;
    CHECK_EQ(simul_robots_parse("x", 1, NULL, &r), -EINVAL);
    CHECK_EQ(simul_robots_parse("x", 1, "a", NULL), -EINVAL);
    CHECK_EQ(simul_robots_parse(NULL, 1, "a", &r), -EINVAL);
    CHECK_EQ(simul_robots_new_allow_all(NULL), -EINVAL);
    CHECK_EQ(simul_robots_allowed(NULL, "/", 1), -EINVAL);
    CHECK_EQ(simul_robots_parse("User-agent: *\nDisallow: /a\n", 26, "a", &r), 0);
    CHECK_EQ(simul_robots_allowed(r, NULL, 1), -EINVAL);
    CHECK_EQ(simul_robots_allowed(r, NULL, 0), 1);
    /* Long paths: normalised on the heap past 1 KiB, refused past the cap. */
    static char p[SIMUL_URL_MAX + 2];
    memset(p, 'x', sizeof p);
    p[0] = '/';
    p[1] = 'a';
    p[2] = '%';
    CHECK_EQ(simul_robots_allowed(r, p, SIMUL_URL_MAX), 0);
    CHECK_EQ(simul_robots_allowed(r, p, SIMUL_URL_MAX + 1), -ENAMETOOLONG);
    simul_robots_free(r);
    simul_robots_free(NULL);
    CHECK(simul_robots_crawl_delay(NULL) < 0);
    CHECK(simul_robots_sitemap_at(NULL, 0) == NULL);
}

/* Python's urllib.robotparser, on files where it and RFC 9309 agree. */
TEST(python_robotparser)
{
    char *text = testdata_read_local("robots_py.json");
    CHECK(text);
    jval *rows = text ? json_parse(text) : NULL;
    CHECK(rows && rows->t == J_ARR);
    if (!rows)
        return;
    size_t checked = 0, bad = 0;
    for (size_t i = 0; i < rows->len; i++) {
        jval *row = &rows->items[i];
        jval *body = json_get(row, "robots"), *agent = json_get(row, "agent");
        jval *al = json_get(row, "allowed"), *delay = json_get(row, "delay");
        jval *maps = json_get(row, "sitemaps");
        simul_robots *r;
        CHECK_EQ(simul_robots_parse(body->str, body->len, agent->str, &r), 0);
        for (size_t k = 0; k < al->len; k++) {
            const char *path = al->keys[k];
            int want = al->items[k].num != 0;
            int got = simul_robots_allowed(r, path, strlen(path));
            checked++;
            if (got != want) {
                bad++;
                fprintf(stderr, "  row %zu %s %s: got %d, robotparser %d\n", i, agent->str,
                        path, got, want);
            }
        }
        if (simul_robots_crawl_delay(r) != delay->num) {
            bad++;
            fprintf(stderr, "  row %zu: delay %g, robotparser %g\n", i,
                    simul_robots_crawl_delay(r), delay->num);
        }
        CHECK_EQ(simul_robots_sitemap_count(r), maps->len);
        for (size_t k = 0; k < maps->len && k < simul_robots_sitemap_count(r); k++)
            CHECK(!strcmp(simul_robots_sitemap_at(r, k), maps->items[k].str));
        simul_robots_free(r);
    }
    fprintf(stderr, "  %zu verdicts compared with robotparser\n", checked);
    CHECK(checked > 1000);
    CHECK_EQ(bad, 0);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);   /* CPU time: the machine is shared */
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* A realistic big robots.txt: 200 rules, a quarter with wildcards, for
 * our agent and for *; the time per simul_robots_allowed call over a mix
 * of paths, printed. The bound is loose (a slow, loaded ASan build must
 * pass); the figure is what counts. */
TEST_T(speed, 60)
{
    char *b = malloc(64 * 1024);
    CHECK(b);
    size_t n = 0;
    static const char *const dirs[] = {"search", "account", "cart", "api", "static", "admin",
                                       "wiki", "user", "tag", "print"};
    n += (size_t)sprintf(b + n, "# big site\nUser-agent: *\nDisallow: /\n\n"
                                "User-agent: simul-crawl\nCrawl-delay: 1\n");
    for (int i = 0; i < 200; i++) {
        const char *d = dirs[i % 10];
        switch (i % 8) {
        case 0: n += (size_t)sprintf(b + n, "Disallow: /%s/%d/\n", d, i); break;
        case 1: n += (size_t)sprintf(b + n, "Allow: /%s/%d/public\n", d, i); break;
        case 2: n += (size_t)sprintf(b + n, "Disallow: /*?%s=%d\n", d, i); break;
        case 3: n += (size_t)sprintf(b + n, "Disallow: /%s/*/%d.php$\n", d, i); break;
        case 4: n += (size_t)sprintf(b + n, "Disallow: /%s-%d\n", d, i); break;
        case 5: n += (size_t)sprintf(b + n, "Disallow: /%s/%d*print\n", d, i); break;
        case 6: n += (size_t)sprintf(b + n, "Allow: /%s/%d.html$\n", d, i); break;
        default: n += (size_t)sprintf(b + n, "Disallow: /%s/%d/private\n", d, i); break;
        }
    }
    simul_robots *r;
    CHECK_EQ(simul_robots_parse(b, n, "simul-crawl", &r), 0);
    CHECK_EQ(simul_robots_rule_count(r), 200);
    static const char *const paths[] = {
        "/", "/index.html", "/wiki/Main_Page", "/search/0/", "/search/0/x",
        "/account/1/public/a", "/item?cart=2", "/item?cart=3", "/api/x/y/z/3.php",
        "/api/x/y/z/3.phpx", "/static-4/app.js", "/admin/5/print", "/admin/5/x/y/print/z",
        "/wiki/6.html", "/user/7/private/settings", "/tag/some/long/path/that/matches/nothing/at/all?with=query&and=more",
        "/docs/library/asyncio-task.html", "/caf%C3%A9/menu%2Ehtml", "/print/199/private",
        "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/0/1/2/3/4/5/6/7/8/9"};
    size_t np = sizeof paths / sizeof paths[0], plen[32];
    for (size_t i = 0; i < np; i++)
        plen[i] = strlen(paths[i]);
    int sink = 0;
    long iters = 200000;
    double t0 = now_ns();
    for (long k = 0; k < iters; k++)
        sink += simul_robots_allowed(r, paths[k % (long)np], plen[k % (long)np]);
    double ns = (now_ns() - t0) / (double)iters;
    fprintf(stderr, "  %.0f ns per simul_robots_allowed (200 rules, %zu paths, %d allowed)\n",
            ns, np, sink);
    CHECK(ns < 100000);
    /* And the parse of that file. */
    t0 = now_ns();
    for (int k = 0; k < 200; k++) {
        simul_robots *q;
        CHECK_EQ(simul_robots_parse(b, n, "simul-crawl", &q), 0);
        simul_robots_free(q);
    }
    fprintf(stderr, "  %.1f us per simul_robots_parse (%zu bytes)\n", (now_ns() - t0) / 200 / 1e3,
            n);
    simul_robots_free(r);
    free(b);
}

/* Wildcard patterns that make naive backtracking exponential finish fast. */
TEST(no_backtracking_blowup)
{
    char t[512], p[SIMUL_URL_MAX];
    snprintf(t, sizeof t, "User-agent: *\nDisallow: /%s$\n",
             "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
    memset(p, 'a', sizeof p);
    p[0] = '/';
    simul_robots *r;
    CHECK_EQ(simul_robots_parse(t, strlen(t), "x", &r), 0);
    double t0 = now_ns();
    for (int k = 0; k < 100; k++)
        CHECK_EQ(simul_robots_allowed(r, p, sizeof p), 1);
    p[sizeof p - 1] = 'b';
    CHECK_EQ(simul_robots_allowed(r, p, sizeof p), 0);
    CHECK((now_ns() - t0) / 1e6 < 2000);
    simul_robots_free(r);
}

/* The reference: does pattern p[0, pl) (with '*', and '$' when anchored)
 * match a prefix of s[0, n)? Dynamic programming over both, no shortcut. */
static bool ref_match(const char *p, size_t pl, bool anchored, const char *s, size_t n)
{
    bool dp[16][16] = {{false}};   /* dp[i][j]: p[0,i) matches s[0,j) */
    dp[0][0] = true;
    for (size_t i = 1; i <= pl; i++)
        for (size_t j = 0; j <= n; j++)
            dp[i][j] = p[i - 1] == '*' ? dp[i - 1][j] || (j && dp[i][j - 1])
                                       : j && dp[i - 1][j - 1] && p[i - 1] == s[j - 1];
    if (anchored)
        return dp[pl][n];
    for (size_t j = 0; j <= n; j++)
        if (dp[pl][j])
            return true;
    return false;
}

/* Random rule sets over a small alphabet against the reference - the
 * longest matching pattern decides, Allow on ties - to check what the fast
 * path adds: the priority sort, the second-byte index, the byte filter,
 * star collapsing and the leftmost placement of segments. */
TEST(random_vs_reference)
{
    uint32_t x = 2463534242u;
#define RND(k) ((x ^= x << 13, x ^= x >> 17, x ^= x << 5), x % (k))
    char body[2048], pats[16][12], path[16];
    bool allow[16], anch[16];
    long checked = 0, bad = 0;
    for (int round = 0; round < 2000; round++) {
        int nr = 1 + (int)RND(12);
        size_t bl = (size_t)sprintf(body, "User-agent: *\n");
        for (int k = 0; k < nr; k++) {
            size_t pl = 1 + RND(8);
            for (size_t i = 0; i < pl; i++)
                pats[k][i] = "/ab*"[i == 0 ? (RND(5) ? 0 : 3) : RND(4)];
            pats[k][pl] = '\0';
            anch[k] = RND(3) == 0;
            allow[k] = RND(2);
            bl += (size_t)sprintf(body + bl, "%s: %s%s\n", allow[k] ? "Allow" : "Disallow",
                                  pats[k], anch[k] ? "$" : "");
        }
        simul_robots *r;
        CHECK_EQ(simul_robots_parse(body, bl, "x", &r), 0);
        for (int q = 0; q < 40; q++) {
            size_t n = 1 + RND(10);
            path[0] = '/';
            for (size_t i = 1; i < n; i++)
                path[i] = "/ab?"[RND(4)];
            size_t best = 0;
            int want = 1;
            for (int k = 0; k < nr; k++) {
                size_t pl = strlen(pats[k]);
                if (!ref_match(pats[k], pl, anch[k], path, n))
                    continue;
                size_t prio = pl + anch[k];
                if (prio > best || (prio == best && allow[k]))
                    want = allow[k];
                if (prio > best)
                    best = prio;
            }
            int got = simul_robots_allowed(r, path, n);
            checked++;
            if (got != want && bad++ < 5)
                fprintf(stderr, "  %.*s: got %d, reference %d; rules:\n%s", (int)n, path, got,
                        want, body);
        }
        simul_robots_free(r);
    }
#undef RND
    fprintf(stderr, "  %ld random verdicts compared with the reference\n", checked);
    CHECK_EQ(bad, 0);
}
