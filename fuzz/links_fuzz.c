/*
 * links_fuzz.c - libFuzzer target for simul/html.h. The input is an HTML
 * page; it is extracted whole and again split into chunks at positions
 * drawn from the input itself, in both modes (links resolved against a
 * document URL, and every attribute). Checks, beyond the sanitizers: the
 * split changes nothing (the same reports in the same order), values are
 * NUL-terminated at their stated length, resolved URLs are within the cap.
 *   make fuzz (scripts/fuzz.sh) builds and runs it.
 */
#include <simul/html.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

typedef struct {
    char  *buf;
    size_t len, cap;
} log_t;

static void add(log_t *l, const void *p, size_t n)
{
    if (l->len + n > l->cap) {
        l->cap = (l->len + n) * 2 + 64;
        l->buf = realloc(l->buf, l->cap);
        REQUIRE(l->buf);
    }
    memcpy(l->buf + l->len, p, n);
    l->len += n;
}

static int on_link(void *arg, const simul_link *k)
{
    log_t *l = arg;
    REQUIRE(k->value[k->len] == '\0');
    REQUIRE(k->tag && k->attr);
    int kind = (int)k->kind;
    add(l, &kind, sizeof kind);
    add(l, k->value, k->len + 1);
    if (k->url) {
        REQUIRE(k->url->len <= SIMUL_URL_MAX && strlen(k->url->href) == k->url->len);
        add(l, k->url->href, k->url->len + 1);
    }
    return 0;
}

static void run(const uint8_t *d, size_t n, unsigned flags, uint32_t seed, log_t *l)
{
    static const char doc[] = "https://example.com/dir/page.html?q#f";
    simul_links *lx;
    REQUIRE(simul_links_new(&lx, doc, sizeof doc - 1, flags, on_link, l) == 0);
    size_t i = 0;
    while (i < n) {
        size_t k = seed ? 1 + (seed % 61) : n - i;
        seed = seed * 1103515245u + 12345u;
        if (k > n - i)
            k = n - i;
        REQUIRE(simul_links_feed(lx, (const char *)d + i, k) == 0);
        i += k;
    }
    REQUIRE(simul_links_end(lx) == 0);
    simul_links_free(lx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint32_t seed = 2166136261u;
    for (size_t i = 0; i < size && i < 64; i++)
        seed = (seed ^ data[i]) * 16777619u;
    seed |= 1;
    static const unsigned modes[] = {SIMUL_URL_NORMALIZE, SIMUL_LINKS_ALL_ATTRS};
    for (int m = 0; m < 2; m++) {
        log_t whole = {0}, split = {0};
        run(data, size, modes[m], 0, &whole);
        run(data, size, modes[m], seed, &split);
        REQUIRE(whole.len == split.len &&
                (!whole.len || !memcmp(whole.buf, split.buf, whole.len)));
        free(whole.buf);
        free(split.buf);
    }
    return 0;
}
