/*
 * simul/sync.h - part of the public API; included by <simul.h>.
 */
#ifndef SIMUL_SYNC_H
#define SIMUL_SYNC_H

#include <simul.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif
