/*
 * simul/net.h - part of the public API; included by <simul.h>.
 */
#ifndef SIMUL_NET_H
#define SIMUL_NET_H

#include <simul.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif
