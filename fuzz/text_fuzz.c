/*
 * text_fuzz.c - libFuzzer target for simul/text.h. The input is
 * FLAGS-BYTE CONTENT-TYPE '\n' BODY (no '\n': a content type chosen by the
 * flags byte from a list that reaches every decoder). The body is decoded
 * with the defaults and with options drawn from the flags byte (header
 * first, no prescan, an override, a small cap). Checks, beyond the
 * sanitizers: the text is valid UTF-8 (checked here, strictly, not by the
 * library), NUL-terminated, within the cap; -EFBIG only when the text
 * really is over it; the encoding reported is the one simul_text_sniff
 * chooses and a canonical name.
 *   make fuzz (scripts/fuzz.sh) builds and runs it.
 */
#include <simul/text.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

/* Strict UTF-8 (Unicode table 3-7): no overlongs, surrogates, > U+10FFFF. */
static int valid_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            k = 1;
        else if (c >= 0xE0 && c <= 0xEF)
            k = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4)
            k = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        else
            return 0;
        if (n - i <= k)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t j = 2; j <= k; j++)
            if (s[i + j] < 0x80 || s[i + j] > 0xBF)
                return 0;
        i += k + 1;
    }
    return 1;
}

static const char *types[16] = {
    NULL, "text/html", "text/plain", "application/xml", "text/html; charset=utf-8",
    "text/html; charset=latin1", "text/html; charset=utf-16le", "text/html; charset=utf-16be",
    "text/html; charset=shift_jis", "text/html; charset=gbk", "text/html; charset=iso-2022-jp",
    "text/html; charset=x-user-defined", "text/html; charset=iso-2022-kr",
    "text/html; charset=euc-kr", "text/html; charset=big5", "text/html; charset=koi8-r"};
static const char *overrides[4] = {NULL, "utf-8", "windows-1252", "euc-jp"};

static void check(const unsigned char *body, size_t n, const char *ct,
                  const simul_text_opts *o)
{
    char *t = (char *)1;
    size_t len = 0;
    const char *enc = NULL, *sniffed = NULL, *canon = NULL;
    int r = simul_text_decode_opts(body, n, ct, o, &t, &len, &enc);
    REQUIRE(simul_text_sniff(body, n, ct, o, &sniffed, NULL, NULL) == 0);
    size_t max = o && o->max ? o->max : SIMUL_TEXT_MAX;
    if (r == 0) {
        REQUIRE(t && t[len] == '\0' && len <= max);
        REQUIRE(valid_utf8((const unsigned char *)t, len));
        REQUIRE(enc == sniffed);
        REQUIRE(simul_text_encoding_label(enc, strlen(enc), &canon) == 0 && canon == enc);
        free(t);
        return;
    }
    REQUIRE(t == NULL);
    REQUIRE(r == -EFBIG);
    /* Over the cap: without one, the text is longer than it. */
    simul_text_opts big = o ? *o : (simul_text_opts){0};
    big.max = 0;
    REQUIRE(simul_text_decode_opts(body, n, ct, &big, &t, &len, NULL) == 0);
    REQUIRE(len > max);
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned f = data[0];
    const unsigned char *s = data + 1;
    size_t n = size - 1;
    const unsigned char *nl = memchr(s, '\n', n);
    char ct[256];
    const char *ctp;
    if (nl && (size_t)(nl - s) < sizeof ct) {
        memcpy(ct, s, (size_t)(nl - s));
        ct[nl - s] = '\0';   /* a NUL inside ends it early: fine */
        ctp = ct;
        n -= (size_t)(nl - s) + 1;
        s = nl + 1;
    } else {
        ctp = types[f & 15];
    }
    check(s, n, ctp, NULL);
    simul_text_opts o = {
        .flags = (f >> 4) & 3,
        .encoding = overrides[(f >> 6) & 3],
        .max = (f & 1) ? n / 2 + 1 : 0,
    };
    check(s, n, ctp, &o);
    return 0;
}
