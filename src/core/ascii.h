/*
 * ascii.h - hex digits, which every parser of outside input needs (URLs,
 * robots.txt, Redis URLs, PostgreSQL's bytea): one inline definition
 * instead of a copy per layer. Internal; no library state.
 */
#ifndef SIMUL_CORE_ASCII_H
#define SIMUL_CORE_ASCII_H

/* The value of hex digit c, either case; -1 when c is none. */
static inline int simul__hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The upper-case digit of v's low 4 bits (RFC 3986 2.1's preference). */
static inline char simul__hexdigit(unsigned v)
{
    return "0123456789ABCDEF"[v & 15];
}

#endif
