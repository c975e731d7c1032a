/*
 * reply.c - replies: the builders hiredis's parser calls (each reply one
 * malloc - a string's bytes follow its struct, an array's element
 * pointers follow its struct - linked into its parent as hiredis asks -
 * except the commonest small replies, which are shared constants),
 * freeing, the mapping of a server error's first word to a code, and the
 * layer's messages for simul_strerror.
 */
#include "redis_internal.h"

#include <stdlib.h>
#include <string.h>

/* Elements one array may announce: an "*2000000000" header must not make
 * us allocate 16 GB before a single element arrived. The connection's
 * max_reply bounds it further (8 bytes a pointer). */
#define MAX_ELEMENTS ((size_t)1 << 27)

static void link_parent(const redisReadTask *t, simul_redis_reply *r)
{
    if (t->parent) {
        simul_redis_reply *p = t->parent->obj;
        SIMUL__ASSERT(p->type == SIMUL_REDIS_ARRAY && (size_t)t->idx < p->len);
        p->element[t->idx] = r;
    }
}

/*
 * +OK, +QUEUED, :0 and :1 answer most writes: a pipeline of 100,000 SETs
 * would otherwise malloc 100,000 identical replies (about 5 MB of fresh
 * pages, which cost more than the parsing). They are one read-only
 * instance each (in read-only memory: a caller writing into one faults at
 * once), linked into as many trees as they occur in; freeing skips them.
 */
static const simul_redis_reply shared[] = {
    { .type = SIMUL_REDIS_STATUS, .len = 2, .str = (char *)"OK" },
    { .type = SIMUL_REDIS_STATUS, .len = 6, .str = (char *)"QUEUED" },
    { .type = SIMUL_REDIS_INTEGER, .integer = 0 },
    { .type = SIMUL_REDIS_INTEGER, .integer = 1 },
};

static int is_shared(const simul_redis_reply *r)
{
    uintptr_t p = (uintptr_t)r, s = (uintptr_t)shared;
    return p >= s && p < s + sizeof shared;
}

/* The shared instance (linked into its parent), or NULL. */
static void *use_shared(const redisReadTask *t, const simul_redis_reply *r)
{
    simul_redis_reply *m = (simul_redis_reply *)r;   /* never written: see above */
    link_parent(t, m);
    return m;
}

static void *create_string(const redisReadTask *t, char *str, size_t len)
{
    if (t->type == SIMUL_REDIS_STATUS) {
        if (len == 2 && str[0] == 'O' && str[1] == 'K')
            return use_shared(t, &shared[0]);
        if (len == 6 && memcmp(str, "QUEUED", 6) == 0)
            return use_shared(t, &shared[1]);
    }
    simul_redis_reply *r = malloc(sizeof *r + len + 1);
    if (!r)
        return NULL;
    r->type = t->type;   /* STRING, STATUS, ERROR: hiredis's numbers are ours */
    r->integer = 0;
    r->len = len;
    r->str = (char *)(r + 1);
    memcpy(r->str, str, len);
    r->str[len] = 0;
    r->element = NULL;
    link_parent(t, r);
    return r;
}

static void *create_array(const redisReadTask *t, int n)
{
    const simul_redis *c = t->privdata;
    size_t cap = c ? c->o.max_reply / sizeof(void *) : MAX_ELEMENTS;
    if (n < 0 || (size_t)n > MAX_ELEMENTS || (size_t)n > cap)
        return NULL;   /* hiredis reports out of memory: a protocol error for us */
    simul_redis_reply *r = malloc(sizeof *r + (size_t)n * sizeof(simul_redis_reply *));
    if (!r)
        return NULL;
    r->type = SIMUL_REDIS_ARRAY;
    r->integer = 0;
    r->len = (size_t)n;
    r->str = NULL;
    r->element = (simul_redis_reply **)(r + 1);
    memset(r->element, 0, (size_t)n * sizeof *r->element);
    link_parent(t, r);
    return r;
}

static void *create_integer(const redisReadTask *t, long long v)
{
    if (v == 0 || v == 1)
        return use_shared(t, &shared[2 + v]);
    simul_redis_reply *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->type = SIMUL_REDIS_INTEGER;
    r->integer = v;
    link_parent(t, r);
    return r;
}

static void *create_nil(const redisReadTask *t)
{
    simul_redis_reply *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->type = SIMUL_REDIS_NIL;
    link_parent(t, r);
    return r;
}

void simul_redis_reply_free(simul_redis_reply *r)
{
    if (!r || is_shared(r))
        return;
    if (r->type == SIMUL_REDIS_ARRAY)
        for (size_t i = 0; i < r->len; i++)
            simul_redis_reply_free(r->element[i]);   /* NULL in a half-built one */
    free(r);
}

static void free_object(void *o)
{
    simul_redis_reply_free(o);
}

redisReplyObjectFunctions simul__redis_reply_fns = {
    create_string, create_array, create_integer, create_nil, free_object,
};

/* The first word of an error reply, as Redis and its cluster send them. */
static const struct { const char *word; int code; } prefixes[] = {
    { "ERR", SIMUL_REDIS_EERR },           { "WRONGTYPE", SIMUL_REDIS_EWRONGTYPE },
    { "MOVED", SIMUL_REDIS_EMOVED },       { "ASK", SIMUL_REDIS_EASK },
    { "LOADING", SIMUL_REDIS_ELOADING },   { "NOSCRIPT", SIMUL_REDIS_ENOSCRIPT },
    { "BUSY", SIMUL_REDIS_EBUSY },         { "NOAUTH", SIMUL_REDIS_ENOAUTH },
    { "WRONGPASS", SIMUL_REDIS_EWRONGPASS }, { "NOPERM", SIMUL_REDIS_ENOPERM },
    { "READONLY", SIMUL_REDIS_EREADONLY }, { "EXECABORT", SIMUL_REDIS_EEXECABORT },
    { "OOM", SIMUL_REDIS_EOOM },           { "TRYAGAIN", SIMUL_REDIS_ETRYAGAIN },
    { "CLUSTERDOWN", SIMUL_REDIS_ETRYAGAIN }, { "MASTERDOWN", SIMUL_REDIS_ETRYAGAIN },
};

int simul__redis_error_code(const char *msg, size_t len)
{
    size_t w = 0;
    while (w < len && msg[w] != ' ')
        w++;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strlen(prefixes[i].word) == w && memcmp(prefixes[i].word, msg, w) == 0)
            return prefixes[i].code;
    return SIMUL_REDIS_EERR;
}

int simul_redis_reply_error(const simul_redis_reply *r)
{
    if (!r)
        return -EINVAL;
    return r->type == SIMUL_REDIS_ERROR ? simul__redis_error_code(r->str, r->len) : 0;
}

static const char *message(int code)
{
    switch (-code) {
    case -SIMUL_REDIS_EERR:       return "Redis server error (the reply has its message)";
    case -SIMUL_REDIS_EWRONGTYPE: return "Redis: operation against a key holding the wrong kind of value";
    case -SIMUL_REDIS_EMOVED:     return "Redis cluster: the key's slot is served by another node (MOVED)";
    case -SIMUL_REDIS_EASK:       return "Redis cluster: the key's slot is migrating (ASK)";
    case -SIMUL_REDIS_ELOADING:   return "Redis is loading the dataset in memory";
    case -SIMUL_REDIS_ENOSCRIPT:  return "Redis: no script with that SHA1 (NOSCRIPT)";
    case -SIMUL_REDIS_EBUSY:      return "Redis is busy running a script";
    case -SIMUL_REDIS_ENOAUTH:    return "Redis: authentication required (NOAUTH)";
    case -SIMUL_REDIS_EWRONGPASS: return "Redis: invalid user name or password";
    case -SIMUL_REDIS_ENOPERM:    return "Redis: the ACL user has no permission for this";
    case -SIMUL_REDIS_EREADONLY:  return "Redis: write against a read-only replica";
    case -SIMUL_REDIS_EEXECABORT: return "Redis: transaction discarded (a queued command was refused)";
    case -SIMUL_REDIS_EOOM:       return "Redis: command not allowed over maxmemory (OOM)";
    case -SIMUL_REDIS_ETRYAGAIN:  return "Redis: try again later (TRYAGAIN, CLUSTERDOWN, MASTERDOWN)";
    case -SIMUL_REDIS_ECONNECT:   return "Could not connect to the Redis server";
    case -SIMUL_REDIS_ELOST:      return "Redis connection lost after the command was sent (it may have run)";
    case -SIMUL_REDIS_EPROTO:     return "Redis protocol error (malformed or oversized reply)";
    case -SIMUL_REDIS_ETIMEOUT:   return "Redis connect or command timed out";
    case -SIMUL_REDIS_EDOWN:      return "Redis connection down (reconnect off)";
    case -SIMUL_REDIS_ECLOSED:    return "Redis connection closed";
    case -SIMUL_REDIS_EURL:       return "Invalid Redis URL";
    case -SIMUL_REDIS_EPOOL:      return "Timed out waiting for a Redis pool connection";
    case -SIMUL_REDIS_EWATCH:     return "Redis transaction aborted: a WATCHed key changed";
    default:                      return NULL;
    }
}

static const simul__errtab errtab = { -3399, -3300, message };

void simul__redis_errors_register(void)
{
    simul__strerror_add(&errtab);
}

/* At load time, so simul_strerror words a code before any Redis call (this
 * file is linked whenever the layer is: every reply goes through it). */
__attribute__((constructor)) static void register_at_load(void)
{
    simul__redis_errors_register();
}
