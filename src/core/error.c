/*
 * error.c - simul_strerror: messages for the negative errno values that
 * every simul call returns, with wording for the ones simul gives a
 * specific meaning, for the resolver's own range (SIMUL_EAI_*, worded
 * as libuv's uv_strerror words its UV_EAI_* codes). Layers above the
 * core that define a range of their own (HTTP, PostgreSQL, Redis) register
 * its messages (simul__strerror_add), so the core names none of them.
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
    default: {
        const char *s = registered(err);
        if (s)
            return s;
        s = strerrordesc_np(err);
        return s ? s : "Unknown error";
    }
    }
}
