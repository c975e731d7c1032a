/*
 * robots_fuzz.c - libFuzzer target for simul/robots.h. The input is
 * AGENT-LEN-BYTE AGENT BODY: the body is parsed as robots.txt for that
 * agent (and for "*"-only matching with an agent no group names), then
 * asked about paths drawn from the body itself (each line's text after a
 * ':'), from fixed tricky paths, and from the input's tail as raw bytes.
 * Checks, beyond the sanitizers (leaks included): verdicts are 0 or 1,
 * /robots.txt is always allowed, a path and its normalised spellings
 * (letters as %-escapes in lowercase hex) get the same verdict,
 * sitemaps are NUL-terminated http(s) URLs, counts stay within the caps.
 *   make fuzz (scripts/fuzz.sh) builds and runs it.
 */
#include <simul/robots.h>
#include <simul/url.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static int ask(const simul_robots *r, const char *p, size_t n)
{
    if (n > SIMUL_URL_MAX)
        n = SIMUL_URL_MAX;
    int v = simul_robots_allowed(r, p, n);
    REQUIRE(v == 0 || v == 1);
    return v;
}

/* The path with every unreserved ASCII letter written as %XX (lowercase
 * hex): the same path after normalisation. */
static void same_verdict(const simul_robots *r, const char *p, size_t n, int v)
{
    if (n > 512)
        return;
    char q[3 * 512];
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '#')
            break;
        bool in_escape = (i >= 1 && p[i - 1] == '%') || (i >= 2 && p[i - 2] == '%');
        if (!in_escape && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            o += (size_t)sprintf(q + o, "%%%02x", c);
        else
            q[o++] = (char)c;
    }
    if (o <= SIMUL_URL_MAX)
        REQUIRE(simul_robots_allowed(r, q, o) == v);
}

static void check(const simul_robots *r, const uint8_t *d, size_t n)
{
    REQUIRE(ask(r, "/robots.txt", 11) == 1);
    REQUIRE(simul_robots_rule_count(r) <= SIMUL_ROBOTS_MAX_RULES);
    size_t ns = simul_robots_sitemap_count(r);
    REQUIRE(ns <= SIMUL_ROBOTS_MAX_SITEMAPS);
    for (size_t i = 0; i < ns; i++) {
        const char *s = simul_robots_sitemap_at(r, i);
        REQUIRE(s && strlen(s) <= SIMUL_URL_MAX);
        REQUIRE(!strncmp(s, "http://", 7) || !strncmp(s, "https://", 8));
    }
    REQUIRE(simul_robots_sitemap_at(r, ns) == NULL);
    double delay = simul_robots_crawl_delay(r);
    REQUIRE(delay == -1 || (delay >= 0 && delay <= SIMUL_ROBOTS_MAX_DELAY));

    static const char *const fixed[] = {"", "/", "/a", "/a/b?c=d", "/%41%7e", "/*$", "/\xff\x00",
                                        "/caf\xc3\xa9", "%", "/a%2Fb", "/index.php?x=1#y"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        size_t len = i == 6 ? 3 : strlen(fixed[i]);
        int v = ask(r, fixed[i], len);
        same_verdict(r, fixed[i], len, v);
    }
    /* Each line's value as a path (the rules themselves, mostly). */
    const char *s = (const char *)d, *end = s + n;
    int lines = 0;
    while (s < end && lines++ < 200) {
        const char *e = memchr(s, '\n', (size_t)(end - s));
        if (!e)
            e = end;
        const char *c = memchr(s, ':', (size_t)(e - s));
        if (c) {
            const char *v = c + 1;
            while (v < e && *v == ' ')
                v++;
            int verdict = ask(r, v, (size_t)(e - v));
            same_verdict(r, v, (size_t)(e - v), verdict);
        }
        s = e + 1;
    }
    /* The tail as raw bytes. */
    size_t t = n > 64 ? 64 : n;
    ask(r, (const char *)d + n - t, t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t al = data[0] % 32;
    if (al > size - 1)
        al = size - 1;
    char agent[33];
    memcpy(agent, data + 1, al);
    agent[al] = '\0';
    const uint8_t *body = data + 1 + al;
    size_t n = size - 1 - al;
    static const char *const agents[2] = {NULL, "no-group-names-this-agent"};
    for (int k = 0; k < 2; k++) {
        simul_robots *r;
        REQUIRE(simul_robots_parse(body, n, k ? agents[k] : agent, &r) == 0);
        check(r, body, n);
        simul_robots_free(r);
    }
    return 0;
}
