/*
 * simul/url.h - URLs for HTTP clients and crawlers: parse, resolve a
 * reference against a base, normalise for deduplication, serialise; and
 * Python's urllib.parse.urljoin as a separate string function.
 *
 * A simul_url holds its serialisation (href) in one buffer that it owns and
 * reuses from parse to parse, plus the offsets of each component inside it:
 * no allocation per component, and none at all once the buffer exists.
 * Pure functions: no loop, no task, callable from any thread (one simul_url
 * per thread at a time).
 *
 *     simul_url base, u;
 *     simul_url_init(&base);
 *     simul_url_init(&u);
 *     if (simul_url_parse(&base, page, strlen(page), NULL, 0) == 0 &&
 *         simul_url_parse(&u, href, strlen(href), &base, SIMUL_URL_NORMALIZE) == 0)
 *         puts(u.href);
 *     simul_url_fini(&u);
 *     simul_url_fini(&base);
 *
 * Errors (negative errno, explained by simul_strerror): -EINVAL the input
 * is not a URL (or not one relative to that base), -ENAMETOOLONG input or
 * result over SIMUL_URL_MAX bytes, -ENOMEM.
 */
#ifndef SIMUL_URL_H
#define SIMUL_URL_H

#include <stddef.h>
#include <stdint.h>

#include <simul/export.h>   /* SIMUL_API */

#ifdef __cplusplus
extern "C" {
#endif

/* Hard cap, in bytes, on an input URL and on a serialised result. */
#define SIMUL_URL_MAX 8192

/* Flags for simul_url_parse. */
enum {
    /* Default (0): the WHATWG URL Standard's basic URL parser, what
     * browsers do: special schemes (http, https, ws, wss, ftp, file), IDNA
     * hosts (UTS #46 non-transitional, via libidn2), IPv4 in all of
     * WHATWG's numeric forms, IPv6, percent-encoding of what must be. */
    SIMUL_URL_WHATWG    = 0,
    /* RFC 3986 generic syntax and its strict reference resolution
     * (section 5.2); no host processing, no percent-encoding added: input
     * with bytes outside the RFC's grammar (space, controls, non-ASCII)
     * is -EINVAL. */
    SIMUL_URL_RFC3986   = 1 << 0,
    /* After parsing, normalise for deduplication: see simul_url_normalize. */
    SIMUL_URL_NORMALIZE = 1 << 1,
};

/* Kinds of host (simul_url.host_type). */
enum {
    SIMUL_URL_HOST_NONE = 0, /* no authority ("mailto:x", "file:" keeps "") */
    SIMUL_URL_HOST_NAME,     /* a (lowercase, ASCII) domain or opaque host */
    SIMUL_URL_HOST_IPV4,     /* serialised dotted quad */
    SIMUL_URL_HOST_IPV6,     /* serialised with brackets, compressed */
};

/* Components, for simul_url_part. */
typedef enum {
    SIMUL_URL_SCHEME,   /* "https" (no ':') */
    SIMUL_URL_USERNAME,
    SIMUL_URL_PASSWORD,
    SIMUL_URL_HOST,     /* "example.com", "[::1]" */
    SIMUL_URL_PORT,     /* digits; empty when absent or the default */
    SIMUL_URL_PATH,     /* "/a/b" (or an opaque path) */
    SIMUL_URL_QUERY,    /* without the '?' */
    SIMUL_URL_FRAGMENT, /* without the '#' */
} simul_url_part_id;

typedef struct simul_url {
    char    *href;      /* NUL-terminated serialisation (owned) */
    uint32_t len;       /* strlen(href) */
    uint32_t cap;       /* bytes allocated at href */
    /* Offsets into href. The scheme is [0, scheme_end); when host_type is
     * not NONE, "//" follows the ':' and the authority runs from
     * scheme_end + 3 to auth_end. */
    uint32_t scheme_end;                /* index of ':' */
    uint32_t user_end, pass_start, pass_end; /* creds: [scheme_end+3, user_end) */
    uint32_t host_start, host_end;
    uint32_t auth_end;                  /* after the port, if any */
    uint32_t path_start, path_end;      /* "/." may sit before path_start */
    uint32_t query_start;               /* index of '?', 0 when none */
    uint32_t fragment_start;            /* index of '#', 0 when none */
    int32_t  port;                      /* -1 when none (or the default) */
    uint8_t  host_type;                 /* SIMUL_URL_HOST_* */
    uint8_t  special;                   /* 1 for http(s), ws(s), ftp, file */
    uint8_t  opaque_path;               /* 1 for "mailto:x"-style paths */
    uint8_t  flags;                     /* parse flags that made it */
} simul_url;

/* Makes u an empty URL (len 0, href NULL); allocates nothing. Never fails. */
SIMUL_API void simul_url_init(simul_url *u);

/* Frees u's buffer; u is then as after simul_url_init. NULL is a no-op. */
SIMUL_API void simul_url_fini(simul_url *u);

/* Parses input[0, len) - NUL not needed; bytes >= 0x80 are taken as UTF-8
 * and percent-encoded byte for byte where the standard encodes - as an
 * absolute URL, or, when base is not NULL, as a reference resolved against
 * base (a URL parsed with the same mode flag). flags: SIMUL_URL_WHATWG
 * (default) or SIMUL_URL_RFC3986, optionally | SIMUL_URL_NORMALIZE.
 * On success u holds the result (its buffer allocated or reused: at most
 * SIMUL_URL_MAX + 1 bytes). On error u is left empty (len 0) but keeps its
 * buffer. base must not be u.
 * Returns 0, -EINVAL (not a URL; base == u; bad flags), -ENAMETOOLONG
 * (input or result over SIMUL_URL_MAX), -ENOMEM. */
SIMUL_API int simul_url_parse(simul_url *u, const char *input, size_t len,
                              const simul_url *base, unsigned flags);

/* Normalises u in place for deduplication: scheme and host lowercase,
 * default port dropped, dot segments removed (the WHATWG parser has done
 * these three already; the RFC 3986 mode needs them), fragment dropped,
 * percent-encoding normalised in userinfo, path and query (%XX for an
 * unreserved character ALPHA / DIGIT / "-" / "." / "_" / "~" decoded,
 * other escapes' hex uppercased), an empty path with an authority made
 * "/". Two URLs that differ only in these ways serialise the same.
 * Returns 0, or -EINVAL for an empty u. Allocates nothing. */
SIMUL_API int simul_url_normalize(simul_url *u);

/* Returns a pointer to component `part` inside u->href (not NUL-terminated)
 * and stores its length in *len; an absent component gives length 0.
 * Valid until u is parsed again or freed. */
SIMUL_API const char *simul_url_part(const simul_url *u, simul_url_part_id part, size_t *len);

/* Python's urllib.parse.urljoin(base, ref), byte for byte the result of
 * Debian 12's python3 (3.11): the urlsplit stripping (leading C0/space,
 * every tab, CR, LF), scheme rules, uses_relative / uses_netloc /
 * uses_params, its ';params' handling and its '..'-past-root behaviour,
 * and ValueError cases (unbalanced or invalid bracketed hosts, netlocs
 * that change under NFKC) as -EINVAL. Unlike simul_url_parse nothing is
 * encoded, lowercased (but the scheme) or validated: this is the areq
 * walkthrough's semantics, not a browser's. Inputs are UTF-8 of lengths
 * blen, rlen (at most SIMUL_URL_MAX each). Writes the NUL-terminated
 * result to out (cap bytes, caller's). Returns its length, -EINVAL,
 * -ENAMETOOLONG (inputs over the cap, or the result does not fit in
 * cap), -ENOMEM. */
SIMUL_API int simul_url_join_py(char *out, size_t cap, const char *base, size_t blen,
                                const char *ref, size_t rlen);

#ifdef __cplusplus
}
#endif

#endif
