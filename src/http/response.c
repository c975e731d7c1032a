/*
 * response.c - the HTTP client's responses: what libcurl's header and
 * write callbacks store (the status line, the final block's headers, the
 * redirect history, the decoded body in a capped byte buffer), the body
 * readers with their backpressure (a streaming reader that falls behind
 * pauses the transfer: CURL_WRITEFUNC_PAUSE, resumed by curl_easy_pause),
 * and the accessors. The callbacks run on the loop's stack inside
 * curl_multi_socket_action (or curl_easy_pause); they only store and wake
 * the task parked on the response, never call back into libcurl.
 */
#include "client_internal.h"

#include <simul/text.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- headers ------------------------------------------------------------- */

static const char *std_reason(int code)
{
    switch (code) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Request Entity Too Large";
    case 414: return "Request-URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Requested Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Entity";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default:  return "";
    }
}

static size_t trim_end(const char *p, size_t n)
{
    while (n && (p[n - 1] == '\r' || p[n - 1] == '\n' || p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return n;
}

/* "HTTP/1.1 200 OK": a new block starts (a 1xx, a redirect, the final). */
static int status_line(simul_http_response *r, const char *p, size_t n)
{
    n = trim_end(p, n);
    size_t i = 5;   /* after "HTTP/" */
    int major = 0, minor = 0, code = 0;
    if (i < n && isdigit((unsigned char)p[i]))
        major = p[i++] - '0';
    if (i + 1 < n && p[i] == '.' && isdigit((unsigned char)p[i + 1])) {
        minor = p[i + 1] - '0';
        i += 2;
    }
    while (i < n && p[i] == ' ')
        i++;
    for (int k = 0; k < 3; k++, i++) {
        if (i >= n || !isdigit((unsigned char)p[i]))
            return SIMUL_HTTP_EPROTO;
        code = code * 10 + (p[i] - '0');
    }
    while (i < n && p[i] == ' ')
        i++;
    free(r->reason);
    r->reason = i < n ? strndup(p + i, n - i) : strdup(std_reason(code));
    if (!r->reason)
        return -ENOMEM;
    r->status = code;
    r->version = major * 10 + minor;
    r->hlen = r->nh = 0;
    r->block_location = 0;
    return 0;
}

static int store_header(simul_http_response *r, const char *p, size_t n)
{
    n = trim_end(p, n);
    const char *colon = memchr(p, ':', n);
    if (!colon || colon == p) {
        /* a folded continuation line or junk: libcurl accepted it; keep
         * nothing rather than guess */
        return 0;
    }
    size_t nl = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    size_t vl = (size_t)(end - v), need = nl + vl + 2;
    if (r->nh >= HTTP_MAX_HEADERS || r->hlen + need > HTTP_MAX_HDR_MEM)
        return SIMUL_HTTP_EPROTO;
    if (r->hlen + need > r->hcap) {
        size_t cap = r->hcap ? r->hcap : 1024;
        while (cap < r->hlen + need)
            cap *= 2;
        char *m = realloc(r->hmem, cap);
        if (!m)
            return -ENOMEM;
        r->hmem = m;
        r->hcap = cap;
    }
    if (r->nh == r->nhcap) {
        size_t cap = r->nhcap ? r->nhcap * 2 : 16;
        uint32_t *o = realloc(r->hoff, cap * sizeof *o);
        if (!o)
            return -ENOMEM;
        r->hoff = o;
        r->nhcap = cap;
    }
    r->hoff[r->nh++] = (uint32_t)r->hlen;
    memcpy(r->hmem + r->hlen, p, nl);
    r->hmem[r->hlen + nl] = 0;
    memcpy(r->hmem + r->hlen + nl + 1, v, vl);
    r->hmem[r->hlen + nl + 1 + vl] = 0;
    r->hlen += need;
    if (nl == 8 && !strncasecmp(p, "location", 8))
        r->block_location = 1;
    return 0;
}

static void wake_if(simul_http_response *r, int wait)
{
    if (r->waiter && r->wait == wait) {
        simul__task *t = r->waiter;
        r->waiter = NULL;
        r->wait = HTTP_WAIT_NONE;
        simul__wake(t, 0);
    }
}

int simul__http_make_final(simul_http_response *r)
{
    char *u = NULL;
    r->final = 1;
    curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &u);
    if (u && !(r->url = strdup(u)))
        return -ENOMEM;
    wake_if(r, HTTP_WAIT_HEADERS);
    return 0;
}

/* The end of a block: the final response's headers, or a 1xx, or a
 * redirect libcurl is about to follow (recorded in the history). */
static int block_end(simul_http_response *r)
{
    int code = r->status;
    if (code >= 100 && code < 200 && code != 101)
        return 0;
    if (r->follow && code >= 300 && code < 400 && r->block_location) {
        char *u = NULL;
        if (r->nhist >= 1000)
            return SIMUL_HTTP_EREDIRECTS;
        http_hop *h = realloc(r->hist, (r->nhist + 1) * sizeof *h);
        if (!h)
            return -ENOMEM;
        r->hist = h;
        curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &u);
        if (!(h[r->nhist].url = strdup(u ? u : "")))
            return -ENOMEM;
        h[r->nhist++].status = code;
        return 0;
    }
    return simul__http_make_final(r);
}

size_t simul__http_on_header(char *p, size_t size, size_t n, void *ud)
{
    simul_http_response *r = ud;
    int rc = 0;
    n *= size;
    if (r->discard)
        return n;
    r->last_rx = r->s->loop->now;
    if (r->final)
        return n;   /* trailers */
    if (n >= 5 && !memcmp(p, "HTTP/", 5))
        rc = status_line(r, p, n);
    else if (trim_end(p, n) == 0)
        rc = block_end(r);
    else
        rc = store_header(r, p, n);
    if (rc < 0) {
        if (!r->err)
            r->err = rc;
        return 0;   /* libcurl stops the transfer (CURLE_WRITE_ERROR) */
    }
    return n;
}

/* Room for a body of announced length at once, up to `upto` bytes (and
 * the NUL read() adds): one allocation instead of a chain of doublings
 * from the buffer's minimum (nine reallocs for a 95 KB page; a streaming
 * reader's buffer never holds more than a window and a piece). Bounded, so
 * a Content-Length that lies costs no more than the bound; a decoded body
 * longer than the length grows the buffer as before. Best effort. */
#define HTTP_PRESIZE_MAX (1024 * 1024)
static void body_presize(simul_http_response *r, size_t upto)
{
    curl_off_t cl;
    if (curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) != CURLE_OK ||
        cl <= 0)
        return;
    if (upto > HTTP_PRESIZE_MAX)
        upto = HTTP_PRESIZE_MAX;
    size_t want = (uint64_t)cl < upto ? (size_t)cl : upto;
    size_t have = simul__buf_len(&r->body);
    if (want > have)
        (void)simul__buf_reserve(&r->body, want - have + 1);
}

size_t simul__http_on_write(char *p, size_t size, size_t n, void *ud)
{
    simul_http_response *r = ud;
    n *= size;
    if (r->discard)
        return n;
    r->last_rx = r->s->loop->now;
    if (!r->final && simul__http_make_final(r) < 0) {
        r->err = -ENOMEM;
        return 0;
    }
    if (n > r->max_body - r->received) {
        /* counted after decoding: a gzip bomb stops here */
        r->err = SIMUL_HTTP_EBODY;
        snprintf(r->errbuf, sizeof r->errbuf, "body exceeds %zu bytes", r->max_body);
        return 0;
    }
    size_t have = simul__buf_len(&r->body);
    if (!r->received)
        body_presize(r, r->wants_all ? r->max_body : HTTP_WINDOW + HTTP_PIECE);
    if (!r->wants_all && have && have + n > HTTP_WINDOW) {
        r->paused = 1;   /* libcurl keeps the bytes and offers them again */
        return CURL_WRITEFUNC_PAUSE;
    }
    if (simul__buf_append(&r->body, p, n) < 0) {
        r->err = -ENOMEM;
        return 0;
    }
    r->received += n;
    wake_if(r, HTTP_WAIT_DATA);
    return n;
}

void simul__http_response_release(simul_http_response *r)
{
    free(r->reason);
    free(r->text);
    free(r->url);
    free(r->hmem);
    free(r->hoff);
    for (size_t i = 0; i < r->nhist; i++)
        free(r->hist[i].url);
    free(r->hist);
    simul__buf_free(&r->body);
}

/* ---- body --------------------------------------------------------------- */

int simul_http_response_read(simul_http_response *r, const void **body, size_t *len)
{
    if (!r || !body || !len)
        return -EINVAL;
    int rc = simul__http_check(r->s);
    if (rc < 0)
        return rc;
    r->wants_all = 1;
    if (!r->done)
        body_presize(r, r->max_body);
    simul__http_resume(r);
    while (!r->done) {
        rc = simul__http_park(r, HTTP_WAIT_DONE);
        if (rc == -ECANCELED)
            return rc;
    }
    if (r->err)
        return r->err;
    /* a NUL after the body, not counted (the cap left room for it) */
    if ((rc = simul__buf_reserve(&r->body, 1)) < 0)
        return rc == -ENOMEM ? rc : SIMUL_HTTP_EBODY;
    *simul__buf_tail(&r->body) = 0;
    *body = simul__buf_data(&r->body);
    *len = simul__buf_len(&r->body);
    return 0;
}

int simul_http_response_read_chunk(simul_http_response *r, void *buf, size_t cap)
{
    if (!r || (!buf && cap))
        return -EINVAL;
    int rc = simul__http_check(r->s);
    if (rc < 0)
        return rc;
    if (cap > INT_MAX)
        cap = INT_MAX;
    for (;;) {
        if (simul__buf_len(&r->body)) {
            size_t k = simul__buf_take(&r->body, buf, cap);
            if (simul__buf_len(&r->body) <= HTTP_WINDOW / 2)
                simul__http_resume(r);
            return (int)k;
        }
        if (r->done)
            return r->err;
        simul__http_resume(r);
        if (simul__buf_len(&r->body))
            continue;   /* the resume delivered bytes at once */
        rc = simul__http_park(r, HTTP_WAIT_DATA);
        if (rc == -ECANCELED)
            return rc;
    }
}

/* ---- text ----------------------------------------------------------------- */

int simul_http_response_text(simul_http_response *r, const char *encoding, const char **text,
                             size_t *len, const char **used)
{
    if (!r || !text || !len)
        return -EINVAL;
    const void *body;
    size_t n;
    int rc = simul_http_response_read(r, &body, &n);
    if (rc < 0)
        return rc;
    /* UTF-8 from a legacy encoding grows up to 3x; the cap follows the body's */
    simul_text_opts o = {.encoding = encoding,
                         .max = r->max_body <= SIZE_MAX / 3 ? r->max_body * 3 : SIZE_MAX};
    char *t = NULL;
    const char *view = NULL;
    size_t tl = 0;
    const char *enc = NULL;
    /* read() put a NUL after the body, and the body stays until the
     * response is freed: valid UTF-8 is handed out where it lies */
    rc = simul__text_decode_view(body, n, simul_http_response_header(r, "content-type", 0), &o,
                                 &view, &t, &tl, &enc);
    if (rc < 0)
        return rc == -EFBIG ? SIMUL_HTTP_EBODY : rc == -ENOTSUP ? SIMUL_HTTP_EDECODE : rc;
    free(r->text);
    r->text = t;
    *text = view;
    *len = tl;
    if (used)
        *used = enc;
    return 0;
}

/* ---- accessors ------------------------------------------------------------ */

int simul_http_raise_for_status(const simul_http_response *r)
{
    if (!r)
        return -EINVAL;
    return r->status >= 400 ? SIMUL_HTTP_ESTATUS : 0;
}

int simul_http_response_status(const simul_http_response *r)
{
    return r ? r->status : -EINVAL;
}

const char *simul_http_response_reason(const simul_http_response *r)
{
    return r ? (r->reason ? r->reason : "") : NULL;
}

int simul_http_response_version(const simul_http_response *r)
{
    return r ? r->version : -EINVAL;
}

const char *simul_http_response_url(const simul_http_response *r)
{
    return r ? (r->url ? r->url : "") : NULL;
}

const char *simul_http_response_header(const simul_http_response *r, const char *name,
                                       size_t index)
{
    if (!r || !name)
        return NULL;
    for (size_t i = 0; i < r->nh; i++) {
        const char *h = r->hmem + r->hoff[i];
        if (!strcasecmp(h, name) && index-- == 0)
            return h + strlen(h) + 1;
    }
    return NULL;
}

int simul_http_response_header_count(const simul_http_response *r, const char *name)
{
    if (!r)
        return -EINVAL;
    if (!name)
        return (int)r->nh;
    int n = 0;
    for (size_t i = 0; i < r->nh; i++)
        n += !strcasecmp(r->hmem + r->hoff[i], name);
    return n;
}

int simul_http_response_header_at(const simul_http_response *r, size_t i, const char **name,
                                  const char **value)
{
    if (!r)
        return -EINVAL;
    if (i >= r->nh)
        return -ENOENT;
    const char *h = r->hmem + r->hoff[i];
    if (name)
        *name = h;
    if (value)
        *value = h + strlen(h) + 1;
    return 0;
}

int simul_http_response_history_count(const simul_http_response *r)
{
    return r ? (int)r->nhist : -EINVAL;
}

int simul_http_response_history_at(const simul_http_response *r, size_t i, int *status,
                                   const char **url)
{
    if (!r)
        return -EINVAL;
    if (i >= r->nhist)
        return -ENOENT;
    if (status)
        *status = r->hist[i].status;
    if (url)
        *url = r->hist[i].url;
    return 0;
}

static double info_s(CURL *e, CURLINFO what)
{
    curl_off_t us = 0;
    curl_easy_getinfo(e, what, &us);
    return (double)us / 1e6;
}

int simul_http_response_timings(const simul_http_response *r, simul_http_timings *t)
{
    if (!r || !t)
        return -EINVAL;
    t->pool = r->pool_wait;
    t->dns = info_s(r->easy, CURLINFO_NAMELOOKUP_TIME_T);
    t->connect = info_s(r->easy, CURLINFO_CONNECT_TIME_T);
    t->tls = info_s(r->easy, CURLINFO_APPCONNECT_TIME_T);
    t->first_byte = info_s(r->easy, CURLINFO_STARTTRANSFER_TIME_T);
    t->redirect = info_s(r->easy, CURLINFO_REDIRECT_TIME_T);
    t->total = info_s(r->easy, CURLINFO_TOTAL_TIME_T);
    return 0;
}

const char *simul_http_response_error(const simul_http_response *r)
{
    if (!r)
        return NULL;
    return r->err ? r->errbuf : "";
}
