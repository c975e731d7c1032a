/*
 * http_case.h - the HTTP client tests' case macro: a harness TEST whose
 * session options (the program's `HO`, zeroed first) are set by `optset`,
 * a statement, and whose body runs in a task through the program's
 * `run(fn)` (a loop, servers, a session made from HO).
 */
#ifndef SIMUL_TESTS_HTTP_CASE_H
#define SIMUL_TESTS_HTTP_CASE_H

#include <string.h>

#include "harness.h"

#define CASE_O(name, timeout, optset)                                    \
    static void case_##name(void);                                       \
    TEST_T(name, timeout)                                                \
    {                                                                    \
        memset(&HO, 0, sizeof HO);                                       \
        optset;                                                          \
        run(case_##name);                                                \
    }                                                                    \
    static void case_##name(void)

#endif
