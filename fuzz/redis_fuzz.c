/*
 * redis_fuzz.c - libFuzzer target for the Redis layer's own parsing. The
 * first byte picks the part:
 *   even: the rest is a URL for the URL parser (src/redis/url.c); checks:
 *         a parse either fails with SIMUL_REDIS_EURL (or ENOMEM) or yields
 *         a Unix path starting with '/' or a host and a port in 1..65535,
 *         and a non-negative db;
 *   odd:  the rest is a server's byte stream, fed to hiredis's parser with
 *         the layer's reply builders (src/redis/reply.c) in chunks whose
 *         sizes come from the first byte; every reply is walked (strings
 *         NUL-terminated at len, arrays complete) and freed. A protocol
 *         error ends the input, as it drops a connection.
 *   make fuzz (scripts/fuzz.sh) builds and runs it.
 */
#include "../src/redis/redis_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c) do { if (!(c)) __builtin_trap(); } while (0)

static void walk(const simul_redis_reply *r, int depth)
{
    REQUIRE(r && depth < 16);
    switch (r->type) {
    case SIMUL_REDIS_STRING:
    case SIMUL_REDIS_STATUS:
    case SIMUL_REDIS_ERROR:
        REQUIRE(r->str && r->str[r->len] == 0);
        if (r->type == SIMUL_REDIS_ERROR)
            REQUIRE(simul_redis_reply_error(r) < 0);
        break;
    case SIMUL_REDIS_ARRAY:
        for (size_t i = 0; i < r->len; i++)
            walk(r->element[i], depth + 1);
        break;
    case SIMUL_REDIS_INTEGER:
    case SIMUL_REDIS_NIL:
        REQUIRE(r->str == NULL);
        break;
    default:
        REQUIRE(0);
    }
}

static void free_fields(simul_redis *c)
{
    free(c->host);
    free(c->path);
    free(c->user);
    free(c->password);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    data++;
    size--;
    if (!(mode & 1)) {
        char *url = malloc(size + 1);
        memcpy(url, data, size);
        url[size] = 0;
        simul_redis c;
        memset(&c, 0, sizeof c);
        int r = simul__redis_parse_url(&c, url);
        REQUIRE(r == 0 || r == SIMUL_REDIS_EURL || r == -ENOMEM);
        if (r == 0) {
            REQUIRE(c.db >= 0);
            if (c.path)
                REQUIRE(c.path[0] == '/' && !c.host);
            else
                REQUIRE(c.host && c.port >= 1 && c.port <= 65535);
        }
        free_fields(&c);
        free(url);
        return 0;
    }
    simul_redis c;
    memset(&c, 0, sizeof c);
    c.o.max_reply = 1 << 20;
    redisReader *rd = redisReaderCreateWithFunctions(&simul__redis_reply_fns);
    REQUIRE(rd);
    rd->privdata = &c;
    size_t chunk = 1 + (mode >> 1) * 7;
    for (size_t off = 0; off < size;) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (redisReaderFeed(rd, (const char *)data + off, n) != REDIS_OK)
            break;
        off += n;
        int bad = 0;
        for (;;) {
            void *rep = NULL;
            if (redisReaderGetReply(rd, &rep) != REDIS_OK) {
                bad = 1;
                break;
            }
            if (!rep)
                break;
            walk(rep, 0);
            simul_redis_reply_free(rep);
        }
        if (bad)
            break;
    }
    redisReaderFree(rd);
    return 0;
}
