/*
 * simul/robots.h - robots.txt (RFC 9309) for crawlers: parse a body once
 * for one user agent, then ask for every URL whether it may be fetched.
 * Groups of user-agent lines and their allow/disallow rules, the most
 * specific group for the agent's product token (groups naming it merged,
 * else the `*` groups), longest match with Allow winning ties, `*` and `$`
 * in patterns, percent-encoding compared after normalisation; the
 * non-standard Crawl-delay of the chosen group, and every Sitemap: line.
 * What a fetch's status means (a 404 allows all, a 5xx disallows all) is
 * simul_robots_for_status. Pure code: no loop, no task, no I/O; a parsed
 * simul_robots is read-only, so any number of threads may query it.
 *
 *     simul_robots *r;
 *     if (simul_robots_parse_response(status, body, len, "simul-crawl", &r) == 0) {
 *         if (simul_robots_allowed(r, "/a/b?c=d", 8) == 1)
 *             fetch(...);
 *         simul_robots_free(r);
 *     }
 *
 * Errors (negative errno, explained by simul_strerror): -EINVAL bad
 * arguments, -ENAMETOOLONG a path over SIMUL_URL_MAX bytes, -ENOMEM.
 */
#ifndef SIMUL_ROBOTS_H
#define SIMUL_ROBOTS_H

#include <stddef.h>

#include <simul/export.h>   /* SIMUL_API */

#ifdef __cplusplus
extern "C" {
#endif

/* Hard caps. Bytes of a body past SIMUL_ROBOTS_MAX_BYTES (RFC 9309 2.5:
 * parse at least 500 KiB) are ignored, and so is a line that the cap cuts.
 * Rules kept for the agent past SIMUL_ROBOTS_MAX_RULES, and sitemaps past
 * SIMUL_ROBOTS_MAX_SITEMAPS, are dropped (counted by _dropped). Only the
 * chosen agent's rules are stored, never the other groups. */
#define SIMUL_ROBOTS_MAX_BYTES    (500 * 1024)
#define SIMUL_ROBOTS_MAX_RULES    65536
#define SIMUL_ROBOTS_MAX_SITEMAPS 1024
/* Crawl-delay values above this (seconds) are read as this. */
#define SIMUL_ROBOTS_MAX_DELAY    1e9

typedef struct simul_robots simul_robots;

/* What a robots.txt fetch's outcome means (simul_robots_for_status). */
typedef enum {
    SIMUL_ROBOTS_PARSE        = 0, /* 2xx: parse the body */
    SIMUL_ROBOTS_ALLOW_ALL    = 1, /* "unavailable": no restriction */
    SIMUL_ROBOTS_DISALLOW_ALL = 2, /* "unreachable": fetch nothing, retry later */
} simul_robots_verdict;

/* RFC 9309 2.3.1 for the final status of the robots.txt fetch, after the
 * caller followed up to 5 redirects (the RFC's minimum): 2xx PARSE; 3xx
 * (redirects exhausted) and 4xx ALLOW_ALL ("unavailable"); 5xx, 429 (Too
 * Many Requests: the server asks to slow down, as Google reads it), 1xx,
 * and status <= 0 for a transport failure (DNS, refused, timeout)
 * DISALLOW_ALL ("unreachable": fetch nothing from the host until robots.txt
 * can be fetched). Never fails. */
SIMUL_API simul_robots_verdict simul_robots_for_status(int status);

/* Parses body[0, len) (bytes; NUL not needed; NULL with len 0 is an empty
 * file) for the crawler whose product token is user_agent ("simul-crawl";
 * a full User-Agent string such as "simul-crawl/1.0 (+url)" is cut to its
 * token, the leading run of [A-Za-z_-]). Lines end at CR, LF or CRLF; a
 * UTF-8 BOM is skipped; `#` starts a comment; keys are case-insensitive;
 * lines without a colon and unknown keys are ignored; rules before any
 * user-agent line belong to no group and are ignored. A group is one or
 * more user-agent lines followed by rules (a Crawl-delay line is a group
 * member too: it ends the user-agent lines); a user-agent value matches
 * when its product token equals ours ignoring case (RFC 9309 2.2.1), and
 * `*` matches every agent. The rules of every group naming our token are
 * merged and used; if none names it, those of the `*` groups; else none
 * (everything allowed). An empty Disallow or Allow is no rule. Sitemap:
 * lines anywhere are collected (absolute http(s) URLs only, normalised,
 * duplicates once). Never fails on content: garbage is ignored lines.
 * On success *out (owned by the caller) is freed by simul_robots_free.
 * Returns 0, -EINVAL (NULL out or user_agent, NULL body with len > 0),
 * -ENOMEM. */
SIMUL_API int simul_robots_parse(const void *body, size_t len, const char *user_agent,
                                 simul_robots **out);

/* simul_robots_for_status and simul_robots_parse in one: a 2xx body is
 * parsed, any other status gives the allow-all or disallow-all rules.
 * Returns as simul_robots_parse. */
SIMUL_API int simul_robots_parse_response(int status, const void *body, size_t len,
                                          const char *user_agent, simul_robots **out);

/* Rules that allow everything / disallow everything but /robots.txt, for
 * the statuses above or a crawler's --no-robots. *out as from _parse.
 * Returns 0, -EINVAL, -ENOMEM. */
SIMUL_API int simul_robots_new_allow_all(simul_robots **out);
SIMUL_API int simul_robots_new_disallow_all(simul_robots **out);

/* May path_and_query[0, len) be fetched? It is the URL's path and query as
 * sent on the request line ("/a/b?c=d"; "" means "/"; a '#' and what
 * follows are ignored). Both it and the rules are compared after the same
 * normalisation (RFC 9309 2.2.2): %XX of an unreserved character
 * (ALPHA DIGIT - . _ ~) decoded, other escapes' hex uppercased, bytes
 * outside printable ASCII (UTF-8) and a '%' that starts no escape encoded;
 * a literal '*' or '$' in the URL compares equal to %2A / %24 in a rule.
 * Reserved characters (/ ? : & = ...) are compared as written: "%2F" is
 * not "/". The rule with the longest pattern that matches decides, an
 * Allow winning a tie; no match allows. "/robots.txt" is always allowed.
 * Allocates only for paths over 1 KiB that need normalising.
 * Returns 1 allowed, 0 disallowed, -EINVAL (NULL r, or NULL path with
 * len > 0), -ENAMETOOLONG (len over SIMUL_URL_MAX), -ENOMEM. */
SIMUL_API int simul_robots_allowed(const simul_robots *r, const char *path_and_query,
                                   size_t len);

/* The chosen group's Crawl-delay in seconds (the first valid one: a
 * non-negative decimal number, e.g. "10" or "0.5"; at most
 * SIMUL_ROBOTS_MAX_DELAY), or -1 when it has none. Non-standard: the
 * caller caps it. */
SIMUL_API double simul_robots_crawl_delay(const simul_robots *r);

/* Sitemap URLs found (NUL-terminated, valid until simul_robots_free), in
 * file order; _at returns NULL past the end. */
SIMUL_API size_t simul_robots_sitemap_count(const simul_robots *r);
SIMUL_API const char *simul_robots_sitemap_at(const simul_robots *r, size_t i);

/* Rules kept for the agent (after merging groups), and the rules and
 * sitemaps dropped at the caps. */
SIMUL_API size_t simul_robots_rule_count(const simul_robots *r);
SIMUL_API size_t simul_robots_dropped(const simul_robots *r);

/* Frees r and everything it holds. NULL is a no-op. */
SIMUL_API void simul_robots_free(simul_robots *r);

#ifdef __cplusplus
}
#endif

#endif
