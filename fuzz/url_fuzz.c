/*
 * url_fuzz.c - libFuzzer target for simul/url.h. The input is
 * FLAGS-BYTE BASE '\n' REFERENCE: the base is parsed (WHATWG or RFC 3986 by
 * the flags byte), the reference resolved against it (and alone), with and
 * without normalisation, and both given to simul_url_join_py. Checks, beyond
 * the sanitizers: results are NUL-free strings of the stated length within
 * the cap, component offsets lie inside href in order, normalising is
 * idempotent, and a WHATWG result parses again to itself.
 *   make fuzz (scripts/fuzz.sh) builds and runs it.
 */
#include <simul/url.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static void check(const simul_url *u)
{
    REQUIRE(u->len <= SIMUL_URL_MAX);
    REQUIRE(strlen(u->href) == u->len);
    REQUIRE(u->scheme_end < u->len);
    REQUIRE(u->path_start <= u->path_end && u->path_end <= u->len);
    REQUIRE(!u->query_start || u->href[u->query_start] == '?');
    REQUIRE(!u->fragment_start || u->href[u->fragment_start] == '#');
    for (int part = SIMUL_URL_SCHEME; part <= SIMUL_URL_FRAGMENT; part++) {
        size_t n;
        const char *p = simul_url_part(u, (simul_url_part_id)part, &n);
        REQUIRE(p >= u->href && p + n <= u->href + u->len);
    }
}

static simul_url base, u, v;
static char out[2 * SIMUL_URL_MAX + 16];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0] & SIMUL_URL_RFC3986;
    unsigned norm = data[0] & SIMUL_URL_NORMALIZE;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    const char *nl = memchr(s, '\n', n);
    size_t bl = nl ? (size_t)(nl - s) : n;
    const char *r = nl ? nl + 1 : s + n;
    size_t rl = nl ? n - bl - 1 : 0;

    int brc = simul_url_parse(&base, s, bl, NULL, mode);
    if (brc == 0)
        check(&base);
    int rc = simul_url_parse(&u, r, rl, brc == 0 ? &base : NULL, mode | norm);
    if (rc == 0) {
        check(&u);
        /* Normalising twice changes nothing more. */
        if (norm) {
            char *once = strdup(u.href);
            REQUIRE(simul_url_normalize(&u) == 0);
            REQUIRE(!strcmp(once, u.href));
            free(once);
        }
        /* A WHATWG result is stable: it parses again to itself. */
        if (!mode && simul_url_parse(&v, u.href, u.len, NULL, norm) == 0) {
            check(&v);
            REQUIRE(v.len == u.len && !memcmp(v.href, u.href, u.len));
        }
    } else {
        REQUIRE(u.len == 0);
    }
    int jr = simul_url_join_py(out, sizeof out, s, bl, r, rl);
    if (jr >= 0)
        REQUIRE((size_t)jr < sizeof out && strlen(out) <= (size_t)jr);
    return 0;
}
