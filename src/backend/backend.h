/*
 * backend.h - the contract every poller implements (as libuv's
 * src/unix/internal.h): open/close, arm an fd watcher for events, forget a
 * watcher that is going away (including events already collected for it),
 * and poll with a timeout, reporting ready watchers through
 * simul__watch_ready(). The contract itself lives in core/internal.h
 * (struct simul__backend); this header is what backend files include.
 */
#ifndef SIMUL_BACKEND_H
#define SIMUL_BACKEND_H

#include "../core/internal.h"

#endif
