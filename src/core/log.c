/*
 * log.c - the library's only way to say something: simul__log() formats a
 * one-line message and hands it to the handler set with
 * simul_log_set_handler (default: "simul: MESSAGE" on stderr). Callable on
 * any thread, pool workers included; messages are capped at LOG_MAX bytes.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>

#define LOG_MAX 512

/* One handler per process, swapped as a whole so a thread never pairs one
 * handler's fn with another's arg. */
typedef struct handler {
    simul_log_fn fn;
    void        *arg;
} handler;

static handler handlers[2];
static _Atomic(handler *) current;
static atomic_int max_level = SIMUL_LOG_INFO;

int simul_log_set_handler(simul_log_fn fn, void *arg, int level)
{
    if (level < SIMUL_LOG_ERROR || level > SIMUL_LOG_DEBUG)
        return -EINVAL;
    handler *h = NULL;
    if (fn) {
        /* Alternate slots: a thread still reading the old one sees it whole
         * (the documented contract is to set it before loops start). */
        handler *old = atomic_load(&current);
        h = old == &handlers[0] ? &handlers[1] : &handlers[0];
        h->fn = fn;
        h->arg = arg;
    }
    atomic_store(&max_level, level);
    atomic_store(&current, h);
    return 0;
}

int simul__log_enabled(int level)
{
    return level <= atomic_load_explicit(&max_level, memory_order_relaxed);
}

void simul__log(int level, const char *fmt, ...)
{
    if (!simul__log_enabled(level))
        return;
    char msg[LOG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    handler *h = atomic_load(&current);
    if (h)
        h->fn(level, msg, h->arg);
    else
        fprintf(stderr, "simul: %s\n", msg);
}
