/*
 * module.c - the per-loop module registry: how layers above the core (the
 * thread pool, the fd table, DNS, signals, files) keep state in a loop and
 * take part in its lifecycle without the core naming them.
 *
 * A module is a static descriptor (internal.h) that attaches to a loop the
 * first time the layer needs it there (simul__module_data), as libuv starts
 * its thread pool on the first uv_queue_work. Nothing is registered at
 * load time: no constructors, so a statically linked program carries only
 * the layers it uses and no loop pays for a layer it never touches. The
 * descriptor's id is assigned once per process, so a lookup is one indexed
 * load from the loop; the attach order is kept for the lifecycle hooks.
 */
#include "internal.h"

#include <stdlib.h>

/* Next module id; 0 is "none", so slot 0 of every loop stays NULL. */
static atomic_uint next_id = 1;

static unsigned module_id(simul__module *m)
{
    unsigned id = atomic_load(&m->id);
    if (id)
        return id;
    /* Two loops on two threads may attach m at once: one id wins. */
    unsigned fresh = atomic_fetch_add(&next_id, 1);
    if (fresh >= SIMUL__MAX_MODULES) {
        atomic_fetch_sub(&next_id, 1);
        return 0;
    }
    unsigned zero = 0;
    if (!atomic_compare_exchange_strong(&m->id, &zero, fresh))
        return zero;   /* another thread's id (ours is lost: a hole) */
    return fresh;
}

void *simul__module_attach(simul_loop *l, simul__module *m)
{
    if (l->mod_closing) {
        errno = ESHUTDOWN;
        return NULL;
    }
    unsigned id = module_id(m);
    if (!id || l->nmods == SIMUL__MAX_MODULES) {
        errno = ENOSPC;
        return NULL;
    }
    if (l->mod_data[id])
        return l->mod_data[id];
    void *d = calloc(1, m->size ? m->size : 1);
    if (!d) {
        errno = ENOMEM;
        return NULL;
    }
    /* init may attach what m depends on: those come first in the order,
     * so they close after m. */
    if (m->init) {
        int r = m->init(l, d);
        if (r < 0) {
            free(d);
            errno = -r;
            return NULL;
        }
    }
    l->mod_data[id] = d;
    l->mod_order[l->nmods++] = m;
    if (l->main && m->run_begin)
        m->run_begin(l, d);
    return d;
}

void simul__modules_run_begin(simul_loop *l)
{
    for (unsigned i = 0; i < l->nmods; i++) {
        simul__module *m = l->mod_order[i];
        if (m->run_begin)
            m->run_begin(l, simul__module_peek(l, m));
    }
}

void simul__modules_run_end(simul_loop *l)
{
    for (unsigned i = 0; i < l->nmods; i++) {
        simul__module *m = l->mod_order[i];
        if (m->run_end)
            m->run_end(l, simul__module_peek(l, m));
    }
}

void simul__modules_shutdown(simul_loop *l)
{
    /* By index: a hook may attach another module, whose hook then runs. */
    for (unsigned i = 0; i < l->nmods; i++) {
        simul__module *m = l->mod_order[i];
        if (m->shutdown)
            m->shutdown(l, simul__module_peek(l, m));
    }
}

void simul__modules_close(simul_loop *l)
{
    l->mod_closing = 1;
    while (l->nmods) {
        simul__module *m = l->mod_order[--l->nmods];
        unsigned id = atomic_load(&m->id);
        if (m->close)
            m->close(l, l->mod_data[id]);
        free(l->mod_data[id]);
        l->mod_data[id] = NULL;
    }
}
