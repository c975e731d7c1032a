/*
 * robots.c - robots.txt (RFC 9309): the parser and the URL matcher a
 * crawler asks before every fetch. Parsing is one pass over the lines,
 * Google's robots.cc state machine for groups: user-agent lines gather
 * until the first allow/disallow, which closes the agent list; each rule
 * goes to the "specific" list when the current group names our product
 * token and to the "global" list when it names `*`. At the end one list
 * survives (specific if any group named us, even an empty one).
 *
 * Matching is the hot path (once per URL). Patterns are normalised once
 * at parse time (the same percent-encoding normalisation the URL gets) and
 * sorted by priority - pattern length descending, Allow before Disallow at
 * equal length - so the first rule that matches is the answer. A pattern
 * is literal segments between '*'s: the first segment must be a prefix,
 * each later one is found leftmost, and a '$'-anchored last one
 * must be a suffix past that point. Leftmost placement is always safe for
 * '*'-only patterns, so there is no backtracking: O(path * segments).
 * An index on the path's second byte (the one after '/') leaves only the
 * rules that can match, and a first-segment memcmp rejects most of those.
 */
#include <simul/robots.h>
#include <simul/url.h>

#include "../core/ascii.h"
#include "../core/buf.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { MODE_RULES, MODE_ALLOW_ALL, MODE_DISALLOW_ALL };

/* Normalising at most triples a pattern, and a rule of a group naming both
 * us and * is stored twice: patterns cannot outgrow this. */
#define ARENA_MAX (6 * (size_t)SIMUL_ROBOTS_MAX_BYTES)

typedef struct {
    uint32_t off;      /* pattern bytes in arena: '*' collapsed, no final '$' */
    uint32_t plen;     /* their length */
    uint32_t prio;     /* normalised pattern length as written (with '*', '$') */
    uint32_t pre;      /* length of the literal part before the first '*' */
    uint32_t seq;      /* file order, for a stable sort */
    uint64_t bytes;    /* bit (c & 63) for every literal byte c: a filter */
    uint8_t  allow;
    uint8_t  anchored; /* pattern ended in '$' */
} rule;

typedef struct {
    rule  *v;
    size_t n, cap;
    double delay;      /* first Crawl-delay seen for this list, -1 none */
} rule_list;

struct simul_robots {
    int     mode;
    rule   *rules;     /* sorted by priority */
    size_t  nrules;
    /* An index on the byte after the leading '/': rule i with a literal
     * prefix "/c..." is listed in by_byte[start[c], start[c + 1]); the
     * rest (prefix "/", "*...", no '/') in by_byte[start[256], nrules).
     * Ascending in each range, so merging two ranges keeps priority order. */
    uint32_t *by_byte;
    uint32_t  start[258];
    simul__buf arena;  /* patterns; at most ARENA_MAX bytes */
    double  delay;
    char  **sitemaps;
    size_t  nsitemaps, sitemap_cap;
    size_t  dropped;
};

/* ---- normalisation (both sides) -------------------------------------- */

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Writes the normalised form of s[0, n) to out (room for 3n bytes) and
 * returns its length. In a URL (pattern false) '*' and '$' are data, so
 * they become %2A / %24 - the form a rule writes them in; in a pattern
 * they are kept as wildcard and anchor (the caller strips a final '$'
 * first; a '$' elsewhere is data). Everything else as the header says. */
static size_t normalize(const char *s, size_t n, char *out, bool pattern)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%' && i + 2 < n && simul__hexval((unsigned char)s[i + 1]) >= 0 &&
            simul__hexval((unsigned char)s[i + 2]) >= 0) {
            unsigned v = (unsigned)(simul__hexval((unsigned char)s[i + 1]) << 4 |
                                    simul__hexval((unsigned char)s[i + 2]));
            if (unreserved((unsigned char)v)) {
                out[o++] = (char)v;
            } else {
                out[o++] = '%';
                out[o++] = simul__hexdigit(v >> 4);
                out[o++] = simul__hexdigit(v & 15);
            }
            i += 2;
        } else if (c <= 0x20 || c >= 0x7f || c == '%' || (!pattern && (c == '*' || c == '$')) ||
                   (pattern && c == '$')) {
            out[o++] = '%';
            out[o++] = simul__hexdigit(c >> 4);
            out[o++] = simul__hexdigit(c & 15);
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

/* Does a URL path need normalize() at all? Most do not. */
static bool needs_normalizing(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '%' || c == '*' || c == '$')
            return true;
    }
    return false;
}

/* ---- matching ------------------------------------------------------------ */

/* memmem for the short needles and haystacks of paths: glibc's memmem
 * sets up a two-way search per call, which costs more than the search. */
static const char *find(const char *h, size_t hl, const char *nd, size_t nl)
{
    if (nl > hl)
        return NULL;
    const char *end = h + (hl - nl) + 1;   /* candidate starts are < end */
    for (const char *p = h; p < end && (p = memchr(p, nd[0], (size_t)(end - p))); p++)
        if (!memcmp(p + 1, nd + 1, nl - 1))
            return p;
    return NULL;
}

static bool rule_matches(const rule *r, const char *arena, const char *s, size_t n)
{
    const char *pat = arena + r->off;
    if (n < r->pre || memcmp(pat, s, r->pre) != 0)
        return false;
    if (r->pre == r->plen)
        return !r->anchored || n == r->pre;
    size_t pos = r->pre;
    const char *p = pat + r->pre + 1, *pe = pat + r->plen;
    for (;;) {
        const char *star = memchr(p, '*', (size_t)(pe - p));
        size_t sl = (size_t)((star ? star : pe) - p);
        if (!star) {
            if (r->anchored)
                return n - pos >= sl && memcmp(s + n - sl, p, sl) == 0;
            return sl == 0 || find(s + pos, n - pos, p, sl) != NULL;
        }
        /* Stars are collapsed, so sl > 0 here. */
        const char *f = find(s + pos, n - pos, p, sl);
        if (!f)
            return false;
        pos = (size_t)(f - s) + sl;
        p = star + 1;
    }
}

static int decide(const simul_robots *r, const char *s, size_t n)
{
    if (n == 11 && !memcmp(s, "/robots.txt", 11))
        return 1;
    if (r->mode == MODE_ALLOW_ALL)
        return 1;
    if (r->mode == MODE_DISALLOW_ALL)
        return 0;
    /* Only two ranges can hold a match: rules keyed on s[1], and the
     * unkeyed ones. Merge them in priority order; the first match decides. */
    const uint32_t *a = r->by_byte + r->start[256], *ae = r->by_byte + r->start[257];
    const uint32_t *b = a, *be = a;
    if (n >= 2 && s[0] == '/') {
        b = r->by_byte + r->start[(unsigned char)s[1]];
        be = r->by_byte + r->start[(unsigned char)s[1] + 1];
    }
    /* A rule needing a byte the path lacks cannot match: one AND rejects
     * most wildcard rules (a "*?sort=" one) before any search. */
    uint64_t have = 0;
    for (size_t i = 0; i < n; i++)
        have |= 1ull << (s[i] & 63);
    while (a < ae || b < be) {
        uint32_t i = (b == be || (a < ae && *a < *b)) ? *a++ : *b++;
        const rule *ru = &r->rules[i];
        if (!(ru->bytes & ~have) && rule_matches(ru, r->arena.mem, s, n))
            return ru->allow;
    }
    return 1;
}

static int rule_key(const simul_robots *r, const rule *ru)
{
    const char *pat = r->arena.mem + ru->off;
    return ru->pre >= 2 && pat[0] == '/' ? (unsigned char)pat[1] : 256;
}

static int build_index(simul_robots *r)
{
    r->by_byte = malloc((r->nrules ? r->nrules : 1) * sizeof *r->by_byte);
    if (!r->by_byte)
        return -ENOMEM;
    uint32_t count[257] = {0};
    for (size_t i = 0; i < r->nrules; i++)
        count[rule_key(r, &r->rules[i])]++;
    r->start[0] = 0;
    for (int k = 0; k < 257; k++)
        r->start[k + 1] = r->start[k] + count[k];
    uint32_t fill[257];
    memcpy(fill, r->start, sizeof fill);
    for (size_t i = 0; i < r->nrules; i++)
        r->by_byte[fill[rule_key(r, &r->rules[i])]++] = (uint32_t)i;
    return 0;
}

int simul_robots_allowed(const simul_robots *r, const char *path, size_t len)
{
    if (!r || (!path && len))
        return -EINVAL;
    if (len > SIMUL_URL_MAX)
        return -ENAMETOOLONG;
    const char *hash = len ? memchr(path, '#', len) : NULL;
    if (hash)
        len = (size_t)(hash - path);
    if (len == 0) {
        path = "/";
        len = 1;
    }
    if (!needs_normalizing(path, len))
        return decide(r, path, len);
    /* 3 bytes out per byte in at most; small paths stay on the stack
     * (tasks have small stacks: 3 KiB is the most this takes there). */
    char stack[3 * 1024];
    char *buf = len <= 1024 ? stack : malloc(3 * len);
    if (!buf)
        return -ENOMEM;
    size_t n = normalize(path, len, buf, false);
    int rc = decide(r, buf, n);
    if (buf != stack)
        free(buf);
    return rc;
}

/* ---- parsing ------------------------------------------------------------- */

typedef struct {
    simul_robots *r;
    const char   *ua;       /* our product token */
    size_t        ualen;
    rule_list     lists[2]; /* 0 specific, 1 global */
    bool          ever_specific, cur_specific, cur_global;
    bool          any_agent, seen_rule;
    double        group_delay; /* the current group's first valid Crawl-delay */
    uint32_t      seq;
} parser;

static bool key_is(const char *k, size_t kl, const char *name)
{
    size_t n = strlen(name);
    if (kl != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i] >= 'A' && k[i] <= 'Z' ? (char)(k[i] + 32) : k[i];
        if (c != name[i])
            return false;
    }
    return true;
}

static bool token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-';
}

static size_t token_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && token_char((unsigned char)s[i]))
        i++;
    return i;
}

/* The current group ends: its first valid Crawl-delay goes to the lists
 * it fed. */
static void close_group(parser *p)
{
    if (p->group_delay >= 0) {
        if (p->cur_specific && p->lists[0].delay < 0)
            p->lists[0].delay = p->group_delay;
        if (p->cur_global && p->lists[1].delay < 0)
            p->lists[1].delay = p->group_delay;
    }
    p->cur_specific = p->cur_global = p->seen_rule = false;
    p->group_delay = -1;
}

static void on_user_agent(parser *p, const char *v, size_t vl)
{
    if (p->seen_rule)
        close_group(p);  /* a rule closed the previous agent list: a new group */
    p->any_agent = true;
    if (vl >= 1 && v[0] == '*' && (vl == 1 || v[1] == ' ' || v[1] == '\t')) {
        p->cur_global = true;
        return;
    }
    size_t tl = token_len(v, vl);
    if (tl && tl == p->ualen) {
        for (size_t i = 0; i < tl; i++)
            if ((v[i] | 0x20) != (p->ua[i] | 0x20))
                return;
        p->cur_specific = p->ever_specific = true;
    }
}

static int add_rule(parser *p, rule_list *l, bool allow, const char *v, size_t vl)
{
    simul_robots *r = p->r;
    if (l->n + (l == &p->lists[0] ? p->lists[1].n : p->lists[0].n) >= SIMUL_ROBOTS_MAX_RULES) {
        r->dropped++;
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        rule *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return -ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    bool anchored = vl && v[vl - 1] == '$';
    size_t body = vl - anchored;
    /* (reserve at least a byte: the arena is never NULL) */
    int rc = simul__buf_reserve(&r->arena, 3 * body + 1);
    if (rc < 0)
        return rc == -ENOMEM ? rc : 0;   /* over ARENA_MAX: cannot happen */
    char *dst = simul__buf_tail(&r->arena);
    size_t n = normalize(v, body, dst, true);
    rule *ru = &l->v[l->n++];
    ru->prio = (uint32_t)(n + anchored);
    /* Collapse runs of '*': "a**b" is "a*b" and keeps the segment loop simple. */
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        if (dst[i] != '*' || w == 0 || dst[w - 1] != '*')
            dst[w++] = dst[i];
    const char *star = memchr(dst, '*', w);
    ru->off = (uint32_t)simul__buf_len(&r->arena);
    ru->plen = (uint32_t)w;
    ru->pre = (uint32_t)(star ? (size_t)(star - dst) : w);
    ru->seq = p->seq++;
    ru->allow = allow;
    ru->anchored = anchored;
    ru->bytes = 0;
    for (size_t i = 0; i < w; i++)
        if (dst[i] != '*')
            ru->bytes |= 1ull << (dst[i] & 63);
    simul__buf_commit(&r->arena, w);
    return 0;
}

static int on_rule(parser *p, bool allow, const char *v, size_t vl)
{
    if (!p->any_agent)
        return 0;        /* outside any group (RFC 9309 2.2.2) */
    p->seen_rule = true;
    if (vl == 0)
        return 0;        /* "Disallow:" disallows nothing */
    int rc = 0;
    if (p->cur_specific)
        rc = add_rule(p, &p->lists[0], allow, v, vl);
    if (rc == 0 && p->cur_global)
        rc = add_rule(p, &p->lists[1], allow, v, vl);
    return rc;
}

/* A non-negative decimal ("10", "0.5", ".5", "3."), else -1. */
static double parse_delay(const char *v, size_t vl)
{
    double d = 0, scale = 1;
    bool digits = false, dot = false;
    for (size_t i = 0; i < vl; i++) {
        char c = v[i];
        if (c >= '0' && c <= '9') {
            digits = true;
            if (dot) {
                scale /= 10;
                d += (c - '0') * scale;
            } else if (d < SIMUL_ROBOTS_MAX_DELAY) {
                d = d * 10 + (c - '0');
            }
        } else if (c == '.' && !dot) {
            dot = true;
        } else {
            return -1;
        }
    }
    if (!digits)
        return -1;
    return d > SIMUL_ROBOTS_MAX_DELAY ? SIMUL_ROBOTS_MAX_DELAY : d;
}

static void on_crawl_delay(parser *p, const char *v, size_t vl)
{
    if (!p->any_agent)
        return;
    /* A group member, so it ends the agent list as a rule does: in the
     * common "User-agent: *\nCrawl-delay: 10\n\nUser-agent: foo\n..."
     * the delay is meant for *, not for foo (Google's parser, which knows
     * no Crawl-delay, would merge the two groups). */
    p->seen_rule = true;
    if (p->group_delay < 0)
        p->group_delay = parse_delay(v, vl);
}

static int on_sitemap(parser *p, const char *v, size_t vl)
{
    simul_robots *r = p->r;
    if (vl == 0 || vl > SIMUL_URL_MAX)
        return 0;
    simul_url u;
    simul_url_init(&u);
    int rc = simul_url_parse(&u, v, vl, NULL, SIMUL_URL_NORMALIZE);
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0 || !u.special || (strncmp(u.href, "http:", 5) && strncmp(u.href, "https:", 6))) {
        simul_url_fini(&u);
        return 0;
    }
    for (size_t i = 0; i < r->nsitemaps; i++)
        if (!strcmp(r->sitemaps[i], u.href)) {
            simul_url_fini(&u);
            return 0;
        }
    if (r->nsitemaps == SIMUL_ROBOTS_MAX_SITEMAPS) {
        r->dropped++;
        simul_url_fini(&u);
        return 0;
    }
    if (r->nsitemaps == r->sitemap_cap) {
        size_t cap = r->sitemap_cap ? r->sitemap_cap * 2 : 4;
        char **nv = realloc(r->sitemaps, cap * sizeof *nv);
        if (!nv) {
            simul_url_fini(&u);
            return -ENOMEM;
        }
        r->sitemaps = nv;
        r->sitemap_cap = cap;
    }
    char *s = strdup(u.href);
    simul_url_fini(&u);
    if (!s)
        return -ENOMEM;
    r->sitemaps[r->nsitemaps++] = s;
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int on_line(parser *p, const char *s, size_t n)
{
    const char *hash = memchr(s, '#', n);
    if (hash)
        n = (size_t)(hash - s);
    const char *colon = memchr(s, ':', n);
    if (!colon)
        return 0;
    const char *k = s, *ke = colon;
    while (k < ke && is_space(*k))
        k++;
    while (ke > k && is_space(ke[-1]))
        ke--;
    const char *v = colon + 1, *ve = s + n;
    while (v < ve && is_space(*v))
        v++;
    while (ve > v && is_space(ve[-1]))
        ve--;
    size_t kl = (size_t)(ke - k), vl = (size_t)(ve - v);
    if (key_is(k, kl, "user-agent"))
        on_user_agent(p, v, vl);
    else if (key_is(k, kl, "disallow"))
        return on_rule(p, false, v, vl);
    else if (key_is(k, kl, "allow"))
        return on_rule(p, true, v, vl);
    else if (key_is(k, kl, "crawl-delay"))
        on_crawl_delay(p, v, vl);
    else if (key_is(k, kl, "sitemap"))
        return on_sitemap(p, v, vl);
    return 0;
}

static int rule_cmp(const void *a, const void *b)
{
    const rule *x = a, *y = b;
    if (x->prio != y->prio)
        return x->prio > y->prio ? -1 : 1;
    if (x->allow != y->allow)
        return x->allow ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static simul_robots *robots_alloc(int mode)
{
    simul_robots *r = calloc(1, sizeof *r);
    if (r) {
        r->mode = mode;
        r->delay = -1;
        simul__buf_init(&r->arena, ARENA_MAX);
    }
    return r;
}

int simul_robots_parse(const void *body, size_t len, const char *user_agent,
                       simul_robots **out)
{
    if (!out || !user_agent || (!body && len))
        return -EINVAL;
    *out = NULL;
    simul_robots *r = robots_alloc(MODE_RULES);
    if (!r)
        return -ENOMEM;
    parser p = {.r = r, .ua = user_agent, .lists = {{.delay = -1}, {.delay = -1}},
                .group_delay = -1};
    p.ualen = token_len(user_agent, strlen(user_agent));

    const char *s = body, *end = s + len;
    bool cut = len > SIMUL_ROBOTS_MAX_BYTES;
    if (cut)
        end = s + SIMUL_ROBOTS_MAX_BYTES;
    if (end - s >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
        s += 3;
    int rc = 0;
    while (s < end && rc == 0) {
        const char *e = s;
        while (e < end && *e != '\n' && *e != '\r')
            e++;
        if (e == end && cut)
            break;       /* a line the cap cut: half a rule is no rule */
        rc = on_line(&p, s, (size_t)(e - s));
        if (e < end && *e == '\r' && e + 1 < end && e[1] == '\n')
            e++;
        s = e + 1;
    }
    close_group(&p);
    rule_list *keep = &p.lists[p.ever_specific ? 0 : 1];
    free(p.lists[p.ever_specific ? 1 : 0].v);
    if (rc < 0) {
        free(keep->v);
        simul_robots_free(r);
        return rc;
    }
    r->rules = keep->v;
    r->nrules = keep->n;
    r->delay = keep->delay;
    if (r->nrules)
        qsort(r->rules, r->nrules, sizeof *r->rules, rule_cmp);
    if (build_index(r) < 0) {
        simul_robots_free(r);
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

simul_robots_verdict simul_robots_for_status(int status)
{
    if (status >= 200 && status < 300)
        return SIMUL_ROBOTS_PARSE;
    if (status == 429)
        return SIMUL_ROBOTS_DISALLOW_ALL;
    if (status >= 300 && status < 500)
        return SIMUL_ROBOTS_ALLOW_ALL;
    return SIMUL_ROBOTS_DISALLOW_ALL;
}

int simul_robots_parse_response(int status, const void *body, size_t len,
                                const char *user_agent, simul_robots **out)
{
    switch (simul_robots_for_status(status)) {
    case SIMUL_ROBOTS_PARSE:
        return simul_robots_parse(body, len, user_agent, out);
    case SIMUL_ROBOTS_ALLOW_ALL:
        return simul_robots_new_allow_all(out);
    default:
        return simul_robots_new_disallow_all(out);
    }
}

static int new_mode(simul_robots **out, int mode)
{
    if (!out)
        return -EINVAL;
    *out = robots_alloc(mode);
    return *out ? 0 : -ENOMEM;
}

int simul_robots_new_allow_all(simul_robots **out)
{
    return new_mode(out, MODE_ALLOW_ALL);
}

int simul_robots_new_disallow_all(simul_robots **out)
{
    return new_mode(out, MODE_DISALLOW_ALL);
}

double simul_robots_crawl_delay(const simul_robots *r)
{
    return r ? r->delay : -1;
}

size_t simul_robots_sitemap_count(const simul_robots *r)
{
    return r ? r->nsitemaps : 0;
}

const char *simul_robots_sitemap_at(const simul_robots *r, size_t i)
{
    return r && i < r->nsitemaps ? r->sitemaps[i] : NULL;
}

size_t simul_robots_rule_count(const simul_robots *r)
{
    return r ? r->nrules : 0;
}

size_t simul_robots_dropped(const simul_robots *r)
{
    return r ? r->dropped : 0;
}

void simul_robots_free(simul_robots *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nsitemaps; i++)
        free(r->sitemaps[i]);
    free(r->sitemaps);
    free(r->rules);
    free(r->by_byte);
    simul__buf_free(&r->arena);
    free(r);
}
