/*
 * test_errors.c - simul_strerror covers every code the library returns,
 * positive or negative, and never returns NULL.
 */
#include "harness.h"

#include <errno.h>
#include <string.h>
#include <simul.h>

TEST(strerror_explains_the_codes_simul_returns)
{
    int codes[] = { ECANCELED, ETIMEDOUT, ESRCH, EPERM, EDEADLK, EALREADY, ESHUTDOWN,
                    EINVAL, ENOMEM, EBUSY, EAGAIN, ENOENT, ECONNRESET };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *neg = simul_strerror(-codes[i]);
        const char *pos = simul_strerror(codes[i]);
        CHECK(neg && pos && strcmp(neg, pos) == 0);
        CHECK(strlen(neg) > 3);
        CHECK(strstr(neg, "Unknown") == NULL);
    }
    CHECK(strcmp(simul_strerror(0), "Success") == 0);
    CHECK(strstr(simul_strerror(-ESRCH), "task") != NULL);
    CHECK(simul_strerror(-99999) != NULL);
}
