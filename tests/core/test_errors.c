/*
 * test_errors.c - simul_strerror covers every code the library returns,
 * positive or negative, and never returns NULL; the resolver's codes have a
 * range of their own with their own messages.
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

TEST(resolver_errors_have_their_own_range_and_messages)
{
    static const struct { int code; const char *msg; } eai[] = {
        { SIMUL_EAI_ADDRFAMILY, "Address family not supported" },
        { SIMUL_EAI_AGAIN,      "Temporary failure" },
        { SIMUL_EAI_BADFLAGS,   "Bad ai_flags value" },
        { SIMUL_EAI_FAIL,       "Permanent failure" },
        { SIMUL_EAI_FAMILY,     "ai_family not supported" },
        { SIMUL_EAI_MEMORY,     "Out of memory" },
        { SIMUL_EAI_NODATA,     "No address" },
        { SIMUL_EAI_NONAME,     "Unknown node or service" },
        { SIMUL_EAI_OVERFLOW,   "Argument buffer overflow" },
        { SIMUL_EAI_SERVICE,    "Service not available for socket type" },
        { SIMUL_EAI_SOCKTYPE,   "Socket type not supported" },
    };
    size_t n = sizeof eai / sizeof eai[0];
    for (size_t i = 0; i < n; i++) {
        CHECK(eai[i].code <= -3000 && eai[i].code > -3100);
        CHECK(strcmp(simul_strerror(eai[i].code), eai[i].msg) == 0);
        CHECK(strcmp(simul_strerror(-eai[i].code), eai[i].msg) == 0);
        for (size_t j = i + 1; j < n; j++)
            CHECK(eai[i].code != eai[j].code);
    }
    /* The bug this range fixes: an unknown host read "No such device or address". */
    CHECK(strcmp(simul_strerror(SIMUL_EAI_NONAME), simul_strerror(-ENXIO)) != 0);
}
