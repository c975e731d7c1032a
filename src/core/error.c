/*
 * error.c - simul_strerror: messages for the negative errno values that
 * every simul call returns, with wording for the ones simul gives a
 * specific meaning, for the resolver's own range (SIMUL_EAI_*, worded
 * as libuv's uv_strerror words its UV_EAI_* codes) and PostgreSQL's
 * (SIMUL_PG_E*). Layers above the core that define a range of their own
 * register its messages (simul__strerror_add), so the core names none of
 * them.
 */
#include "internal.h"

#include <string.h>

/* Registered ranges: a handful at most (one per client library); each
 * slot is written once, by a compare-and-swap, and never cleared. */
#define MAX_TABS 8
static _Atomic(const simul__errtab *) tabs[MAX_TABS];

void simul__strerror_add(const simul__errtab *t)
{
    for (int i = 0; i < MAX_TABS; i++) {
        const simul__errtab *cur = NULL;
        if (atomic_compare_exchange_strong(&tabs[i], &cur, t) || cur == t)
            return;
    }
    SIMUL__ASSERT(!"simul__strerror_add: no free slot");
}

static const char *registered(int err)
{
    for (int i = 0; i < MAX_TABS; i++) {
        const simul__errtab *t = atomic_load(&tabs[i]);
        if (!t)
            break;
        if (-err <= t->hi && -err >= t->lo) {
            const char *s = t->msg(-err);
            if (s)
                return s;
        }
    }
    return NULL;
}

const char *simul_strerror(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
    case 0:          return "Success";
    case ECANCELED:  return "Operation cancelled";
    case ETIMEDOUT:  return "Timed out";
    case ESRCH:      return "No such task (handle already joined, detached or freed)";
    case EPERM:      return "Not allowed here (a suspending call outside a task?)";
    case EDEADLK:    return "A task cannot wait for itself";
    case EALREADY:   return "Already finished";
    case ESHUTDOWN:  return "Shut down (queue or loop closed)";
    case EXDEV:      return "The object or task belongs to another loop (thread)";
    case -SIMUL_EAI_ADDRFAMILY: return "Address family not supported";
    case -SIMUL_EAI_AGAIN:      return "Temporary failure";
    case -SIMUL_EAI_BADFLAGS:   return "Bad ai_flags value";
    case -SIMUL_EAI_FAIL:       return "Permanent failure";
    case -SIMUL_EAI_FAMILY:     return "ai_family not supported";
    case -SIMUL_EAI_MEMORY:     return "Out of memory";
    case -SIMUL_EAI_NODATA:     return "No address";
    case -SIMUL_EAI_NONAME:     return "Unknown node or service";
    case -SIMUL_EAI_OVERFLOW:   return "Argument buffer overflow";
    case -SIMUL_EAI_SERVICE:    return "Service not available for socket type";
    case -SIMUL_EAI_SOCKTYPE:   return "Socket type not supported";
    case -SIMUL_HTTP_EURL:             return "Bad URL or unsupported scheme";
    case -SIMUL_HTTP_EDNS:             return "Could not resolve host";
    case -SIMUL_HTTP_EREFUSED:         return "Connection refused";
    case -SIMUL_HTTP_ECONNECT:         return "Could not connect";
    case -SIMUL_HTTP_ERESET:           return "Connection reset or closed by the server";
    case -SIMUL_HTTP_EINCOMPLETE:      return "Response body shorter than announced";
    case -SIMUL_HTTP_ETLS:             return "TLS failure";
    case -SIMUL_HTTP_ECERT:            return "Server certificate verification failed";
    case -SIMUL_HTTP_ETIMEOUT_POOL:    return "Timed out waiting for a connection slot";
    case -SIMUL_HTTP_ETIMEOUT_CONNECT: return "Timed out connecting";
    case -SIMUL_HTTP_ETIMEOUT_READ:    return "Timed out reading (no data received)";
    case -SIMUL_HTTP_ETIMEOUT_TOTAL:   return "Request timed out (total)";
    case -SIMUL_HTTP_EREDIRECTS:       return "Too many redirects";
    case -SIMUL_HTTP_EREDIRECT:        return "Redirect to a refused scheme";
    case -SIMUL_HTTP_EPROTO:           return "Malformed HTTP response";
    case -SIMUL_HTTP_EBODY:            return "Response body too large";
    case -SIMUL_HTTP_EDECODE:          return "Could not decode the response body";
    case -SIMUL_HTTP_ESTATUS:          return "HTTP error status (>= 400)";
    case -SIMUL_HTTP_EPROXY:           return "Proxy failure";
    case -SIMUL_HTTP_EFAIL:            return "HTTP transfer failed";
    case -SIMUL_PG_ESERVER:     return "PostgreSQL server error (simul_pg_last_error has the SQLSTATE)";
    case -SIMUL_PG_ECONNECT:    return "Could not connect to the PostgreSQL server";
    case -SIMUL_PG_EBROKEN:     return "PostgreSQL connection lost";
    case -SIMUL_PG_ECONNINFO:   return "Invalid PostgreSQL connection string";
    case -SIMUL_PG_EPROTO:      return "Unexpected PostgreSQL result for this call";
    default: {
        const char *s = registered(err);
        if (s)
            return s;
        s = strerrordesc_np(err);
        return s ? s : "Unknown error";
    }
    }
}
