/*
 * test_buf.c - the bounded byte buffer (src/core/buf.c), compiled into this
 * program: FIFO order, the hard cap (-EMSGSIZE / -ENOBUFS, nothing
 * appended), O(1) consume, compaction instead of growth when the front has
 * room, and free/reuse.
 */
#include "harness.h"

#include <errno.h>
#include <string.h>

#include "../../src/core/buf.h"

TEST(append_take_fifo)
{
    simul__buf b;
    simul__buf_init(&b, 1024);
    CHECK_EQ(simul__buf_len(&b), 0);
    CHECK_EQ(simul__buf_append(&b, "hello ", 6), 0);
    CHECK_EQ(simul__buf_append(&b, "world", 5), 0);
    CHECK_EQ(simul__buf_len(&b), 11);
    char out[16] = { 0 };
    CHECK_EQ(simul__buf_take(&b, out, 6), 6);
    CHECK(memcmp(out, "hello ", 6) == 0);
    CHECK_EQ(simul__buf_take(&b, out, sizeof out), 5);
    CHECK(memcmp(out, "world", 5) == 0);
    CHECK_EQ(simul__buf_take(&b, out, sizeof out), 0);
    simul__buf_free(&b);
    CHECK(b.mem == NULL);
}

TEST(hard_cap)
{
    simul__buf b;
    simul__buf_init(&b, 100);
    char x[200];
    memset(x, 'x', sizeof x);
    CHECK_EQ(simul__buf_append(&b, x, 101), -EMSGSIZE);   /* never fits */
    CHECK_EQ(simul__buf_len(&b), 0);
    CHECK_EQ(simul__buf_append(&b, x, 60), 0);
    CHECK_EQ(simul__buf_append(&b, x, 41), -ENOBUFS);     /* not now */
    CHECK_EQ(simul__buf_len(&b), 60);
    CHECK_EQ(simul__buf_append(&b, x, 40), 0);            /* exactly full */
    CHECK(b.cap <= 100);
    simul__buf_consume(&b, 50);
    CHECK_EQ(simul__buf_append(&b, x, 50), 0);            /* after consuming */
    CHECK_EQ(simul__buf_len(&b), 100);
    CHECK(b.cap == 100);
    simul__buf_free(&b);
}

TEST(consume_is_o1_and_compacts_later)
{
    simul__buf b;
    simul__buf_init(&b, 4096);
    char x[256];
    for (int i = 0; i < 256; i++)
        x[i] = (char)i;
    CHECK_EQ(simul__buf_append(&b, x, 256), 0);
    size_t cap = b.cap;
    char *mem = b.mem;
    simul__buf_consume(&b, 200);          /* only the read position moves */
    CHECK(b.mem == mem);
    CHECK_EQ(b.pos, 200);
    CHECK_EQ((unsigned char)simul__buf_data(&b)[0], 200);
    /* 56 bytes left, 200 free at the front: room is made by moving them,
     * not by growing. */
    CHECK_EQ(simul__buf_reserve(&b, 150), 0);
    CHECK_EQ(b.cap, cap);
    CHECK_EQ(b.pos, 0);
    CHECK_EQ((unsigned char)simul__buf_data(&b)[0], 200);
    memcpy(simul__buf_tail(&b), "abc", 3);
    simul__buf_commit(&b, 3);
    CHECK_EQ(simul__buf_len(&b), 59);
    simul__buf_consume(&b, 59);           /* empty: positions reset */
    CHECK_EQ(b.pos, 0);
    CHECK_EQ(b.len, 0);
    simul__buf_free(&b);
}

TEST(grows_by_doubling_to_the_cap)
{
    simul__buf b;
    simul__buf_init(&b, 10000);
    char x[1000] = { 0 };
    for (int i = 0; i < 10; i++)
        CHECK_EQ(simul__buf_append(&b, x, sizeof x), 0);
    CHECK_EQ(simul__buf_len(&b), 10000);
    CHECK_EQ(b.cap, 10000);
    CHECK_EQ(simul__buf_append(&b, x, 1), -ENOBUFS);
    simul__buf_free(&b);
    CHECK_EQ(simul__buf_append(&b, x, 10), 0);           /* reusable */
    simul__buf_free(&b);
}
