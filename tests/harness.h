/*
 * harness.h - a tiny test harness. Each TEST runs in a forked child with a
 * time limit, so a crash or a hang fails that case and the rest still run.
 *
 *     TEST(name) { CHECK(x == 1); CHECK_EQ(a, b); }
 *
 * The program prints "ok - name" or "FAIL - name: why" per case and ends
 * with "N passed, M failed". Arguments filter cases by substring.
 */
#ifndef SIMUL_TEST_HARNESS_H
#define SIMUL_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>

typedef void (*harness_fn)(void);
void harness_register(const char *name, harness_fn fn, int timeout_s);
void harness_fail(const char *file, int line, const char *msg);
/* Runs fn(arg) in a forked child whose stderr is captured into buf (cap
 * bytes, NUL-terminated); the child exits with fn's return value. Returns
 * the child's wait status. For checking what the library prints. */
int harness_child_stderr(int (*fn)(void *), void *arg, char *buf, size_t cap);
/* In an ASan build, fail a case that leaked memory: each case's child
 * ends with _exit, which skips LeakSanitizer's own check at exit, so a
 * program that wants it calls this (from a constructor or main) and the
 * harness runs the check after every case. No effect in other builds. */
void harness_check_leaks(void);

#define TEST_T(name, timeout)                                              \
    static void test_##name(void);                                         \
    __attribute__((constructor)) static void reg_##name(void)              \
    {                                                                      \
        harness_register(#name, test_##name, timeout);                     \
    }                                                                      \
    static void test_##name(void)
#define TEST(name) TEST_T(name, 20)

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond))                                                       \
            harness_fail(__FILE__, __LINE__, "CHECK(" #cond ")");          \
    } while (0)

#define CHECK_EQ(a, b)                                                     \
    do {                                                                   \
        long long a_ = (long long)(a), b_ = (long long)(b);                \
        if (a_ != b_) {                                                    \
            char m_[256];                                                  \
            snprintf(m_, sizeof m_, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
            harness_fail(__FILE__, __LINE__, m_);                          \
        }                                                                  \
    } while (0)

#endif
