/*
 * simul/html.h - streaming link extraction from HTML: feed a page chunk by
 * chunk (any split, state kept across chunks, no DOM) and get a callback
 * for each URL-carrying attribute the HTML5 tokenizer would see - a/area
 * href, link href, base href, frame/iframe src, meta refresh - with
 * character references decoded and, when a document URL is given, the
 * link resolved against the document's base URL (the first <base href>).
 * Nothing inside comments, <script>, <style>, <textarea>, <title> and the
 * other raw-text elements is a link. Pure code: no loop, no task needed.
 *
 *     static int on_link(void *arg, const simul_link *l)
 *     {
 *         if (l->url) puts(l->url->href);
 *         return 0;
 *     }
 *     simul_links *lx;
 *     simul_links_new(&lx, page_url, strlen(page_url), SIMUL_URL_NORMALIZE, on_link, NULL);
 *     while ((n = read(fd, buf, sizeof buf)) > 0)
 *         simul_links_feed(lx, buf, n);
 *     simul_links_end(lx);
 *     simul_links_free(lx);
 */
#ifndef SIMUL_HTML_H
#define SIMUL_HTML_H

#include <stddef.h>

#include <simul/url.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where a link was found (simul_link.kind). */
typedef enum {
    SIMUL_LINK_A,       /* <a href> */
    SIMUL_LINK_AREA,    /* <area href> */
    SIMUL_LINK_LINK,    /* <link href> (any rel) */
    SIMUL_LINK_BASE,    /* <base href>; the first one sets the base */
    SIMUL_LINK_FRAME,   /* <frame src> */
    SIMUL_LINK_IFRAME,  /* <iframe src> */
    SIMUL_LINK_REFRESH, /* <meta http-equiv=refresh content="N; url=..."> */
    SIMUL_LINK_ATTR,    /* with SIMUL_LINKS_ALL_ATTRS: any attribute of any start tag */
} simul_link_kind;

/* A flag for simul_links_new beside the SIMUL_URL_* ones: report every
 * attribute of every start tag (kind SIMUL_LINK_ATTR, first of duplicates
 * only; e.g. for img/script src), and no links as such. Tag and attribute
 * names are lowercased and cut at 64 bytes. */
#define SIMUL_LINKS_ALL_ATTRS (1u << 8)

typedef struct simul_link {
    simul_link_kind  kind;
    const char      *tag;    /* "a", "link", ... (lowercase) */
    const char      *attr;   /* "href", "src", "content" */
    const char      *value;  /* the attribute's value (or refresh URL),
                              * references decoded; NUL-terminated */
    size_t           len;
    const simul_url *url;    /* value resolved against the base, or NULL
                              * (no document URL, or not a valid URL) */
} simul_link;

/* Called for each link in document order. Everything it is given is valid
 * only during the call. A non-zero return stops the extraction: the
 * current simul_links_feed/_end returns that value. */
typedef int (*simul_link_fn)(void *arg, const simul_link *link);

typedef struct simul_links simul_links;

/* Hard caps: an attribute value longer than SIMUL_LINKS_VALUE_MAX bytes
 * is no link (counted in simul_links_dropped). */
#define SIMUL_LINKS_VALUE_MAX SIMUL_URL_MAX

/* Creates an extractor. doc_url (len bytes; NULL for none) is the page's
 * URL: links are then resolved with simul_url_parse(..., flags) against
 * the document's base URL - the first <base href> resolved against doc_url
 * (ignored if invalid, data: or javascript:), else doc_url. A <base> after
 * links does not change them (HTML requires <base> before any link).
 * flags: SIMUL_URL_* (mode, NORMALIZE), optionally SIMUL_LINKS_ALL_ATTRS.
 * On success *out owns about 60 KiB, freed by simul_links_free.
 * Returns 0, -EINVAL (NULL out or fn; doc_url not a URL), -ENOMEM. */
SIMUL_API int simul_links_new(simul_links **out, const char *doc_url, size_t len, unsigned flags,
                              simul_link_fn fn, void *arg);

/* Feeds the next n bytes of the page (bytes, any encoding that is ASCII-
 * compatible; values are passed through as bytes). Calls fn for the links
 * completed in this chunk. Returns 0, or fn's non-zero value (then the
 * extractor is stopped: later feeds return it again). */
SIMUL_API int simul_links_feed(simul_links *lx, const char *chunk, size_t n);

/* End of the page: a tag cut off by the end is dropped, as HTML does.
 * Returns 0 or fn's stop value. The extractor may then be reused for a
 * new page with simul_links_reset. */
SIMUL_API int simul_links_end(simul_links *lx);

/* Starts a new page with the same callback and flags; doc_url as in _new.
 * Returns 0, -EINVAL, -ENAMETOOLONG. */
SIMUL_API int simul_links_reset(simul_links *lx, const char *doc_url, size_t len);

/* Links dropped since the last reset: values over the cap. */
SIMUL_API size_t simul_links_dropped(const simul_links *lx);

/* Frees the extractor. NULL is a no-op. */
SIMUL_API void simul_links_free(simul_links *lx);

#ifdef __cplusplus
}
#endif

#endif
