/*
 * simul/text.h - decoding an HTTP body to UTF-8, as a browser does: find
 * the encoding (BOM, Content-Type charset, <meta> prescan, UTF-8 default),
 * map WHATWG encoding labels to their encodings, and decode with every
 * invalid byte sequence replaced by U+FFFD - a mislabelled page is never an
 * error (aiohttp's resp.text() raises UnicodeDecodeError there; this is
 * Python's bytes.decode(enc, 'replace') with a browser's choice of enc).
 * Pure functions: no loop, no task, callable from any thread.
 *
 *     char *text;
 *     size_t n;
 *     const char *enc;
 *     if (simul_text_decode(body, len, content_type, &text, &n, &enc) == 0) {
 *         printf("%s: %zu bytes of UTF-8\n", enc, n);
 *         free(text);
 *     }
 *
 * Which encoding (the HTML Standard's "encoding sniffing algorithm", the
 * order a browser uses; each step only if the previous found nothing):
 *   1. a byte order mark: EF BB BF UTF-8, FE FF UTF-16BE, FF FE UTF-16LE.
 *      The BOM wins over the header, as in browsers (WHATWG "decode");
 *      aiohttp and requests let the header win - SIMUL_TEXT_HEADER_FIRST
 *      gives that order. The BOM is not part of the text.
 *   2. the charset parameter of content_type ("text/html; charset=latin1"),
 *      if it is a WHATWG label; an unknown one is ignored, as browsers do.
 *   3. for HTML (content_type NULL, or not a MIME type, or text/html): the
 *      HTML Standard's "prescan a byte stream to determine its encoding"
 *      over the first SIMUL_TEXT_PRESCAN_BYTES bytes - <meta charset=...>,
 *      <meta http-equiv="content-type" content="...charset=..."> (attributes
 *      in any order, across lines, comments skipped; a meta naming UTF-16
 *      means UTF-8, x-user-defined windows-1252), then an XML declaration's
 *      encoding="..." at the very start. For XML (text/xml,
 *      application/xml, any +xml type) only the XML declaration; for every
 *      other type (text/plain, application/json...) nothing.
 *   4. UTF-8.
 * The "replacement" encoding (labels such as iso-2022-kr, hz-gb-2312) turns
 * a non-empty body into a single U+FFFD, as the Encoding Standard says.
 *
 * Decoders: UTF-8 natively (a validating fast path, then one U+FFFD per
 * WHATWG "maximal subpart" of an invalid sequence - the same output as
 * Python's bytes.decode('utf-8', 'replace')); UTF-16LE/BE natively (lone
 * surrogates U+FFFD); windows-1252 (also for the labels latin1, iso-8859-1,
 * ascii, us-ascii, as WHATWG says) and x-user-defined natively; every other
 * encoding through glibc's iconv, with each byte iconv rejects replaced by
 * U+FFFD and decoding resumed at the next byte.
 *
 * Errors (negative errno, explained by simul_strerror): -EINVAL bad
 * argument or unknown label, -EFBIG the UTF-8 text would exceed the cap,
 * -ENOTSUP the C library cannot decode that (known) encoding, -ENOMEM.
 */
#ifndef SIMUL_TEXT_H
#define SIMUL_TEXT_H

#include <stddef.h>

#include <simul/export.h>   /* SIMUL_API */

#ifdef __cplusplus
extern "C" {
#endif

/* Default hard cap, in bytes, on decoded text (without its NUL). Decoding
 * can grow a body up to 3 times (one byte of a legacy encoding, or an
 * invalid byte, becomes up to 3 bytes of UTF-8). */
#define SIMUL_TEXT_MAX ((size_t)256 << 20)

/* How many leading bytes the <meta> prescan looks at (the HTML Standard's
 * number). */
#define SIMUL_TEXT_PRESCAN_BYTES 1024

/* Where the encoding came from (simul_text_sniff's *source). */
typedef enum {
    SIMUL_TEXT_FROM_DEFAULT = 0,  /* nothing said: UTF-8 */
    SIMUL_TEXT_FROM_BOM,          /* a byte order mark */
    SIMUL_TEXT_FROM_HEADER,       /* the Content-Type charset */
    SIMUL_TEXT_FROM_META,         /* <meta> or an XML declaration in the prescan */
    SIMUL_TEXT_FROM_OVERRIDE,     /* simul_text_opts.encoding */
} simul_text_source;

/* Flags for simul_text_opts.flags. */
enum {
    /* aiohttp/requests order: a Content-Type charset beats a BOM (a BOM
     * that matches nothing in the header is then decoded as text). */
    SIMUL_TEXT_HEADER_FIRST = 1 << 0,
    /* No <meta> prescan even for HTML (header, BOM, then UTF-8). */
    SIMUL_TEXT_NO_PRESCAN   = 1 << 1,
};

typedef struct simul_text_opts {
    /* A WHATWG label that overrides all sniffing except the BOM (as
     * aiohttp's text(encoding=...), and a browser's user override); NULL:
     * sniff. An unknown label is -EINVAL. */
    const char *encoding;
    /* Cap on the decoded text in bytes; 0: SIMUL_TEXT_MAX. */
    size_t      max;
    unsigned    flags;   /* SIMUL_TEXT_* */
} simul_text_opts;

/* Decodes len bytes of body (any bytes; NULL only when len is 0) to UTF-8,
 * choosing the encoding as described above from content_type (the
 * Content-Type header's value, NUL-terminated; NULL if there was none).
 * On success *out is a malloc'd NUL-terminated UTF-8 string the caller
 * frees with free() (valid UTF-8 always; it may contain NULs when the body
 * does, so use *outlen), *outlen (if non-NULL) its length without the NUL,
 * and *encoding (if non-NULL) the canonical WHATWG name of the encoding
 * used ("UTF-8", "windows-1252", "Shift_JIS"...; static storage). An empty
 * body gives "" (allocated all the same). On error *out is NULL and
 * nothing is allocated.
 * Returns 0, -EINVAL (out NULL, body NULL with len > 0), -EFBIG (text
 * over SIMUL_TEXT_MAX), -ENOTSUP, -ENOMEM. */
SIMUL_API int simul_text_decode(const void *body, size_t len, const char *content_type,
                                char **out, size_t *outlen, const char **encoding);

/* simul_text_decode with options (opts NULL: the defaults, as above).
 * Errors as simul_text_decode, plus -EINVAL for an unknown opts->encoding
 * or unknown flags; -EFBIG when the text would exceed opts->max. */
SIMUL_API int simul_text_decode_opts(const void *body, size_t len, const char *content_type,
                                     const simul_text_opts *opts, char **out, size_t *outlen,
                                     const char **encoding);

/* Only the choice: the encoding simul_text_decode would use for this body
 * (it reads at most the first SIMUL_TEXT_PRESCAN_BYTES bytes, so a crawler
 * can call it on the first chunk of a streamed body). *encoding gets the
 * canonical name (static storage), *source (if non-NULL) where it came
 * from, *bom (if non-NULL) the length of the byte order mark to skip
 * (0, 2 or 3). opts as for simul_text_decode_opts (max unused; NULL for
 * the defaults). Returns 0 or -EINVAL (encoding NULL, body NULL with
 * len > 0, unknown opts->encoding or flags). */
SIMUL_API int simul_text_sniff(const void *body, size_t len, const char *content_type,
                               const simul_text_opts *opts, const char **encoding,
                               simul_text_source *source, size_t *bom);

/* Looks up a WHATWG encoding label (len bytes; leading and trailing ASCII
 * whitespace ignored, ASCII case-insensitive: " Latin1\n" is a label) and
 * sets *name to the canonical name of its encoding ("windows-1252"; static
 * storage). Returns 0, or -EINVAL (not a label; out NULL). */
SIMUL_API int simul_text_encoding_label(const char *label, size_t len, const char **name);

#ifdef __cplusplus
}
#endif

#endif
