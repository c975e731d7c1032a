/*
 * sys_internal.h - what the system half of the I/O layer shares: the
 * thread pool's work items (used by to_thread, files and DNS). Each of
 * pool.c, dns.c, signal.c and file.c keeps its per-loop state in a module
 * (core/module.c) of its own.
 */
#ifndef SIMUL_IO_SYS_INTERNAL_H
#define SIMUL_IO_SYS_INTERNAL_H

#include "../core/internal.h"

/*
 * A unit of work for the pool. The submitter allocates it (usually embedded
 * in a larger struct) and keeps it alive until done() has run or
 * simul__work_cancel() returned 0.
 *   work(w)          runs in a pool thread;
 *   done(w, status)  runs later on the loop thread (from a callback, never
 *                    in a task): status 0 if work ran, -ECANCELED if it never
 *                    will (the loop is closing). done may free w.
 */
typedef struct simul__work {
    simul__list link;       /* the pool's queue or done list */
    void (*work)(struct simul__work *w);
    void (*done)(struct simul__work *w, int status);
    int  state;             /* SIMUL__WORK_* (guarded by the pool's lock) */
} simul__work;

enum { SIMUL__WORK_IDLE = 0, SIMUL__WORK_QUEUED, SIMUL__WORK_RUNNING, SIMUL__WORK_DONE };

/* Queues w on the current loop's pool (creating it, starting a thread if
 * none is idle and the maximum allows). Holds a loop ref until done runs.
 * From the loop thread. 0, -ENOMEM, -EAGAIN (no thread could start). */
int  simul__work_submit(simul_loop *l, simul__work *w);
/* Takes w back if no thread has started it: returns 0 and done() will not
 * run. -EBUSY if it is running or finished (done() will run or ran). */
int  simul__work_cancel(simul_loop *l, simul__work *w);

#endif
