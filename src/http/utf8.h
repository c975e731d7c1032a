/*
 * utf8.h - the two pieces of character handling that the HTML tokenizer
 * (links.c: character references) and the body decoder (text.c) share:
 * writing a code point as UTF-8, and windows-1252's mapping of the bytes
 * 0x80..0x9F (the C1 range that numeric references and the windows-1252
 * decoder both reinterpret; 0xA0..0xFF are Latin-1 in both).
 */
#ifndef SIMUL_HTTP_UTF8_H
#define SIMUL_HTTP_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Writes cp (<= 0x10FFFF, not a surrogate) at o (room for 4 bytes);
 * returns the bytes written. */
static inline size_t simul__utf8_put(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 63));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 63));
        o[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 63));
    o[2] = (char)(0x80 | ((cp >> 6) & 63));
    o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* windows-1252 bytes 0x80..0x9F as code points (WHATWG's index: the five
 * bytes Microsoft leaves undefined map to the C1 controls). */
static const uint16_t simul__cp1252_c1[32] = {
    0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x8D, 0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013,
    0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D, 0x017E, 0x0178};

#endif
