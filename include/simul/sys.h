/*
 * simul/sys.h - part of the public API; included by <simul.h>.
 */
#ifndef SIMUL_SYS_H
#define SIMUL_SYS_H

#include <simul.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif
