/*
 * simul/http.h - an HTTP client: aiohttp's ClientSession in C, on libcurl.
 * Part of the public API (not included by <simul.h>: include it yourself).
 *
 *     simul_http_session *s;
 *     simul_http_session_new(NULL, &s);              // ClientSession()
 *     simul_http_response *r;
 *     int rc = simul_http_get(s, url, NULL, &r);     // async with s.get(url) as r
 *     if (rc == 0) {
 *         const void *body; size_t len;
 *         if (simul_http_raise_for_status(r) == 0 &&
 *             simul_http_response_read(r, &body, &len) == 0)   // await r.read()
 *             use(body, len);
 *         simul_http_response_free(r);               // leaves the `async with`
 *     }
 *     simul_http_session_free(s);                    // await s.close()
 *
 * A session owns one libcurl multi handle driven by the calling thread's
 * loop (its sockets are fd-table watchers, its timeout one loop timer): no
 * thread per request, no polling. It belongs to the loop it was made on;
 * every call below is made from a task of that loop (-EPERM outside a
 * task, -EXDEV on another loop) unless its comment says otherwise.
 *
 * Errors are negative: errno values (-ENOMEM, -EINVAL, -ECANCELED, ...)
 * and the SIMUL_HTTP_E* codes (<simul.h>, -3100..-3199), one per thing a
 * caller may want to branch on; simul_strerror() words every one, and a
 * request's opts.error buffer receives libcurl's detail line.
 *
 * Cancellation (a simul_cancel, or a scope's deadline) composes with every
 * call: the call returns -ECANCELED, the transfer is taken out of libcurl
 * at once and its connection closed (a half-read response cannot be
 * reused) or, when it had finished, returned to the pool. Nothing leaks.
 * Times follow the library's rule: `timeout`/`seconds` are relative.
 */
#ifndef SIMUL_HTTP_H
#define SIMUL_HTTP_H

#include <simul.h>

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct simul_http_session  simul_http_session;
typedef struct simul_http_response simul_http_response;

/*
 * aiohttp.ClientTimeout, in seconds. In options a 0 field takes the default
 * (for a request: the session's); INFINITY means no limit.
 *  total    from the moment the transfer starts (a pool slot was granted)
 *           to the last byte of the body; default 300 s. Unlike aiohttp it
 *           does not count the wait for a pool slot.
 *  connect  DNS + TCP + TLS of a new connection; default: none (total).
 *  read     no byte received on the connection for this long once
 *           connected (aiohttp's sock_read; a header dribbled a byte at a
 *           time keeps it alive: total bounds that); not counted while the
 *           reader is the slow one (the transfer is paused). Default: none.
 *  pool     the wait for a pool slot (aiohttp's connect minus sock_connect);
 *           default: none.
 * Each expiry has its own error: SIMUL_HTTP_ETIMEOUT_TOTAL, _CONNECT,
 * _READ, _POOL.
 */
typedef struct simul_http_timeouts {
    double total, connect, read, pool;
} simul_http_timeouts;

enum {
    SIMUL_HTTP_VERSION_AUTO = 0,  /* HTTP/2 over TLS when ALPN agrees, else 1.1 */
    SIMUL_HTTP_VERSION_1_1  = 11, /* HTTP/1.1 only */
    SIMUL_HTTP_VERSION_2    = 20  /* HTTP/2 also in clear (prior knowledge) */
};

/* Do not follow redirects (max_redirects); the 3xx is the response. */
#define SIMUL_HTTP_NO_REDIRECTS (-1)

/*
 * Session options (aiohttp.ClientSession / TCPConnector arguments).
 * Zero-initialise and set what you need; zero fields take the default.
 * Strings and arrays are copied by simul_http_session_new.
 */
typedef struct simul_http_session_opts {
    unsigned     limit;            /* transfers (connections, for HTTP/1.1) at once;
                                      0: 100. More requests wait for a slot */
    unsigned     limit_per_host;   /* the same per scheme://host:port; 0: unlimited */
    const char  *user_agent;       /* NULL: "simul/MAJOR.MINOR.PATCH" */
    const char *const *headers;    /* default headers, "Name: value" strings,
                                      NULL-terminated; NULL: none. A request's
                                      own header of the same name replaces one */
    int          cookies;          /* 1: an in-memory cookie jar for the session
                                      (aiohttp's CookieJar); 0: no cookies kept */
    const char  *ca_file;          /* PEM bundle to verify servers with; NULL:
                                      the system store */
    int          insecure;         /* 1: do not verify TLS certificates or host
                                      names (verification is on by default) */
    size_t       max_body;         /* most decoded body bytes one response may
                                      have (a gzip bomb stops here); 0: 64 MiB.
                                      SIZE_MAX: no limit (stream it then) */
    int          max_redirects;    /* 0: 10; SIMUL_HTTP_NO_REDIRECTS: none followed */
    int          http_version;     /* SIMUL_HTTP_VERSION_*; 0: AUTO */
    simul_http_timeouts timeouts;
} simul_http_session_opts;

/*
 * aiohttp.ClientSession(): creates a session (no connection is made yet)
 * and stores it in *out. opts may be NULL (all defaults). The caller owns
 * it and frees it with simul_http_session_free() on the same loop.
 * Does not suspend. Errors: -EINVAL (NULL out, a bad option: limit_per_host
 * above limit, NaN or negative timeouts, an unknown http_version, a header
 * without ':'), -EPERM outside a loop, -ENOMEM, SIMUL_HTTP_EFAIL if
 * libcurl could not be initialised.
 */
SIMUL_API int simul_http_session_new(const simul_http_session_opts *opts,
                                     simul_http_session **out);

/*
 * await session.close(): closes the pooled connections and frees s.
 * Every response must have been freed first (else -EBUSY and nothing
 * happens), and no task may be inside a call on s. Does not suspend; runs
 * in a cancelled task too. 0, -EBUSY, -EINVAL (NULL), -EPERM (outside the
 * session's loop's thread), -EXDEV.
 */
SIMUL_API int simul_http_session_free(simul_http_session *s);

/*
 * Per-request options (the keyword arguments of session.request()).
 * Zero-initialise; zero fields take the session's values.
 */
typedef struct simul_http_request_opts {
    const char *const *headers;  /* extra "Name: value" strings, NULL-terminated;
                                    "Name:" removes a default header. Copied */
    const void  *body;           /* request body (data=); copied before the call
                                    suspends */
    size_t       body_len;
    size_t       max_body;       /* 0: the session's */
    int          max_redirects;  /* 0: the session's; SIMUL_HTTP_NO_REDIRECTS */
    simul_http_timeouts timeouts;/* 0 fields: the session's */
    char        *error;          /* if not NULL: on failure, libcurl's detail
                                    line (CURLOPT_ERRORBUFFER), NUL-terminated
                                    and cut to error_cap bytes; "" if none */
    size_t       error_cap;
} simul_http_request_opts;

/*
 * session.request(method, url): sends the request, follows redirects
 * (http and https only; credentials and Cookie headers are not sent to
 * another host), and suspends the calling task until the headers of the
 * final response arrived. Then stores the response in *out: the caller
 * reads it and frees it with simul_http_response_free(). Any HTTP status
 * is a success here (see simul_http_raise_for_status). method is any
 * token ("GET", "HEAD": no body is read, "POST", ...); url is absolute
 * (http:// or https://; spaces and non-ASCII are not escaped for you).
 * opts may be NULL. The request first waits for a pool slot (limit,
 * limit_per_host; FIFO), which the total timeout does not count.
 *
 * Cancel: -ECANCELED; the transfer is removed and its connection closed
 * (or its slot in the queue given up); *out is untouched.
 * Errors: -EINVAL (NULL argument, a bad option), -ECANCELED, -ENOMEM,
 * -EPERM, -EXDEV, and the SIMUL_HTTP_E* codes: EURL, EDNS, EREFUSED,
 * ECONNECT, ERESET, ETLS, ECERT, ETIMEOUT_POOL/_CONNECT/_READ/_TOTAL,
 * EREDIRECTS, EREDIRECT, EPROTO, EPROXY, EFAIL.
 */
SIMUL_API int simul_http_request(simul_http_session *s, const char *method, const char *url,
                                 const simul_http_request_opts *opts,
                                 simul_http_response **out);
/* session.get(url): simul_http_request(s, "GET", url, opts, out). */
SIMUL_API int simul_http_get(simul_http_session *s, const char *url,
                             const simul_http_request_opts *opts,
                             simul_http_response **out);

/*
 * Leaves the response (the end of aiohttp's `async with`): frees r and
 * everything it returned (body, header strings, URLs). If the body was
 * read to its end the connection goes back to the pool; otherwise the
 * transfer is stopped and its connection closed. Frees the pool slot.
 * Never suspends; fine in a cancelled task. NULL is a no-op.
 */
SIMUL_API void simul_http_response_free(simul_http_response *r);

/*
 * await resp.read(): suspends until the whole body arrived (decoded:
 * gzip, deflate, br, zstd as libcurl was built with; every one is offered
 * in Accept-Encoding) and stores a pointer to it in *body and its length
 * in *len. The bytes belong to r (valid until simul_http_response_free)
 * and are followed by a NUL not counted in *len. Bytes already taken by
 * simul_http_response_read_chunk are not part of it. Calling it again
 * returns the same body.
 * Cancel: -ECANCELED; the body keeps arriving for a later call.
 * Errors: SIMUL_HTTP_EBODY (more than max_body bytes: the transfer is
 * stopped), ERESET (connection lost mid-body), EINCOMPLETE (closed before
 * Content-Length), EDECODE, EPROTO, ETIMEOUT_READ/_TOTAL, -ECANCELED,
 * -ENOMEM, -EINVAL, -EPERM, -EXDEV. An error is sticky: later reads return
 * it too.
 */
SIMUL_API int simul_http_response_read(simul_http_response *r, const void **body, size_t *len);

/*
 * await resp.content.read(cap): streams the body. Copies up to cap bytes
 * that arrived into buf and returns how many (> 0), 0 at the end of the
 * body, or an error as simul_http_response_read. Suspends only when
 * nothing is buffered. Backpressure: at most 64 KiB are held for a reader
 * that is not reading; beyond that the transfer is paused (the server is
 * no longer read, TCP/HTTP/2 flow control slows it) and resumed as the
 * reader catches up; the read timeout does not run meanwhile.
 * Cancel: -ECANCELED; nothing is consumed.
 */
SIMUL_API int simul_http_response_read_chunk(simul_http_response *r, void *buf, size_t cap);

/*
 * await resp.text(): the whole body (as simul_http_response_read) decoded
 * to UTF-8 the way a browser decodes a page (simul_text_decode,
 * <simul/text.h>): a byte order mark, else the Content-Type charset, else
 * for HTML a <meta charset> / http-equiv in the first 1024 bytes, else
 * UTF-8; invalid bytes become U+FFFD, so a mislabelled page is never an
 * error (aiohttp's strict decode raises there). encoding (a WHATWG label,
 * e.g. "latin1") overrides the choice as aiohttp's text(encoding=) does,
 * except a BOM; NULL sniffs. Stores the NUL-terminated text in *text
 * (owned by r, valid until simul_http_response_free or the next text
 * call), its length in *len (NULs in the body stay), and, if used is not
 * NULL, the canonical name of the encoding used ("windows-1252"; static).
 * Cancel: as simul_http_response_read. Errors: read's, -EINVAL (NULL
 * text/len, an unknown encoding label), SIMUL_HTTP_EBODY (the text
 * would exceed 3 x max_body), SIMUL_HTTP_EDECODE (the C library cannot
 * decode that encoding), -ENOMEM.
 */
SIMUL_API int simul_http_response_text(simul_http_response *r, const char *encoding,
                                       const char **text, size_t *len, const char **used);

/*
 * resp.raise_for_status(): 0 if the status is below 400, else
 * SIMUL_HTTP_ESTATUS; the response stays whole and readable (status,
 * reason, headers, body). Does not suspend. -EINVAL for NULL.
 */
SIMUL_API int simul_http_raise_for_status(const simul_http_response *r);

/* resp.status (e.g. 200), or -EINVAL. */
SIMUL_API int simul_http_response_status(const simul_http_response *r);
/* resp.reason: the status line's phrase ("Not Found"); for HTTP/2, which has
 * none, the standard phrase of the code ("" for an unknown code). Owned by
 * r; NULL for NULL r. */
SIMUL_API const char *simul_http_response_reason(const simul_http_response *r);
/* resp.version: 10, 11, 20 or 30 (HTTP/1.0 ... HTTP/3), or -EINVAL. */
SIMUL_API int simul_http_response_version(const simul_http_response *r);
/* resp.url: the final URL, after redirects. Owned by r; NULL for NULL r. */
SIMUL_API const char *simul_http_response_url(const simul_http_response *r);

/*
 * resp.headers (a CIMultiDict). simul_http_response_header: the value of
 * the index-th header named name (case-insensitive; index 0 is the first),
 * or NULL if there is none. simul_http_response_header_count: how many
 * headers are named name, or all headers for name NULL (-EINVAL for NULL
 * r). simul_http_response_header_at: the i-th header in arrival order
 * (name as sent, value with surrounding whitespace removed); 0, or -ENOENT
 * past the end. Strings are owned by r and NUL-terminated. These are the
 * final response's headers (not those of redirects or 1xx); at most 1 MiB
 * and 1000 lines, a line at most 100 KiB (libcurl's limit): more is
 * SIMUL_HTTP_EPROTO from the request.
 */
SIMUL_API const char *simul_http_response_header(const simul_http_response *r,
                                                 const char *name, size_t index);
SIMUL_API int simul_http_response_header_count(const simul_http_response *r, const char *name);
SIMUL_API int simul_http_response_header_at(const simul_http_response *r, size_t i,
                                            const char **name, const char **value);

/*
 * resp.history: the redirects that led to r, oldest first: the status
 * and URL of each hop (the URL that answered with the 3xx). count: how
 * many (0 without redirects; -EINVAL for NULL). at: 0 and the hop's
 * status/url (url owned by r; either pointer may be NULL), -ENOENT past
 * the end.
 */
SIMUL_API int simul_http_response_history_count(const simul_http_response *r);
SIMUL_API int simul_http_response_history_at(const simul_http_response *r, size_t i,
                                             int *status, const char **url);

/*
 * Where the time went, in seconds (libcurl's CURLINFO_*_TIME, for the
 * whole request including redirects). pool: waiting for a pool slot;
 * the rest count from the transfer's start: dns, connect (TCP done), tls
 * (handshake done; 0 in clear), first_byte (first response byte), total
 * (the body's end; while the body is still arriving, the time so far).
 * A reused connection has dns = connect = tls ~ 0.
 */
typedef struct simul_http_timings {
    double pool, dns, connect, tls, first_byte, redirect, total;
} simul_http_timings;
/* Fills *t. 0, -EINVAL for NULL. */
SIMUL_API int simul_http_response_timings(const simul_http_response *r, simul_http_timings *t);

/* libcurl's detail line for the error the body read met (a read returned
 * an error), else "". Owned by r; NULL for NULL r. */
SIMUL_API const char *simul_http_response_error(const simul_http_response *r);

#ifdef __cplusplus
}
#endif

#endif
