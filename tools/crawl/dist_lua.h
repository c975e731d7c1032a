/*
 * dist_lua.h - the Lua scripts of the shared crawl (dist.c), as C strings.
 *
 * Every state change of a shared job is one of these scripts, so it is
 * atomic on the server and in its AOF: a Redis that restarts from its
 * AOF (which may miss the last second with appendfsync everysec) comes
 * back in a state that some moment of the crawl had, never half a page.
 *
 * Keys (P = "simul-crawl:{JOB}:", one hash tag so a Redis Cluster keeps a
 * job in one slot):
 *   P.."hosts"   ZSET origin -> when it may next be leased (ms, server
 *                TIME); only hosts with queued URLs, under their
 *                in-flight cap
 *   P.."q:"..H   LIST of queued items of host H,
 *                "url\tparent\tdepth\ttries\thops"
 *   P.."next"    HASH H -> not before (ms): --delay / Crawl-delay
 *   P.."infl"    HASH H -> leases out
 *   P.."delay"   HASH H -> Crawl-delay (ms) from its robots.txt
 *   P.."robots"  HASH H -> "status\n" .. robots.txt body
 *   P.."rlock"   HASH H -> 1 while one worker fetches H's robots.txt
 *   P.."leases"  ZSET lease id -> deadline (ms)
 *   P.."lease"   HASH lease id -> H .. "\n" .. item ("" for robots.txt; H ""
 *                for a reoffer)
 *   P.."lid"     counter of lease ids
 *   P.."seen"    HASH 8-byte hash of an admitted URL -> its rank (the dedup
 *                set; the rank is CRAWL_RANK(depth, hops) of the shortest
 *                path found)
 *   P.."low"     HASH url -> "parent_json\tparent\tdepth\thops": a shorter
 *                path to a queued or leased URL, taken by its lease or ack
 *   P.."reoffer" LIST of items of done pages whose depth was lowered: their
 *                links are to be offered again at it (a lease of kind 4)
 *   P.."lflags"  HASH url -> its links' PAGE_LFLAG_* bytes, when one is not
 *                plain (a reoffer's links are its found lines)
 *   P.."adm"     counter of admitted URLs (--max-pages)
 *   P.."hadm"    HASH H -> admitted URLs (--max-host-pages)
 *   P.."qv"      HASH 8-byte hash of URL-up-to-'?' -> variants admitted
 *   P.."rec"     HASH url -> its pages.jsonl line (the record, once)
 *   P.."found"   HASH url -> its foundurls.tsv lines
 *   P.."stat"    HASH counters (reclaimed, refetched)
 */
#ifndef DIST_LUA_H
#define DIST_LUA_H

/* Shared by the scripts: the server's clock and a host's place in
 * P.."hosts" (ARGV[1] = P, ARGV[2] = --per-host, ARGV[3] = --delay ms). */
#define DIST_LUA_COMMON \
    "local P = ARGV[1]\n" \
    "local cap, gdelay = tonumber(ARGV[2]), tonumber(ARGV[3])\n" \
    "local t = redis.call('TIME')\n" \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n" \
    "local function hdelay(h)\n" \
    "  return math.max(gdelay, tonumber(redis.call('HGET', P..'delay', h) or '0'))\n" \
    "end\n" \
    "local function resched(h)\n" \
    "  if redis.call('LLEN', P..'q:'..h) == 0 then redis.call('ZREM', P..'hosts', h) return end\n" \
    "  local c = cap\n" \
    "  if hdelay(h) > 0 then c = 1 end\n" \
    "  if tonumber(redis.call('HGET', P..'infl', h) or '0') >= c then\n" \
    "    redis.call('ZREM', P..'hosts', h) return end\n" \
    "  local nx = tonumber(redis.call('HGET', P..'next', h) or '0')\n" \
    "  redis.call('ZADD', P..'hosts', math.max(nx, now), h)\n" \
    "end\n" \
    "local function unlease(id)\n" \
    "  local v = redis.call('HGET', P..'lease', id)\n" \
    "  if not v then return nil end\n" \
    "  redis.call('ZREM', P..'leases', id)\n" \
    "  redis.call('HDEL', P..'lease', id)\n" \
    "  local nl = string.find(v, '\\n', 1, true)\n" \
    "  local h = string.sub(v, 1, nl - 1)\n" \
    "  if h ~= '' then redis.call('HINCRBY', P..'infl', h, -1) end\n" \
    "  return h, string.sub(v, nl + 1)\n" \
    "end\n" \
    "local function putback(h, item)\n" \
    "  if h == '' then redis.call('LPUSH', P..'reoffer', item)\n" \
    "  elseif item ~= '' then redis.call('LPUSH', P..'q:'..h, item)\n" \
    "  else redis.call('HDEL', P..'rlock', h) end\n" \
    "  if h ~= '' then resched(h) end\n" \
    "end\n" \
    "local function fields(item)\n" \
    "  return string.match(item, '^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t?([^\\t]*)$')\n" \
    "end\n"

/*
 * lease: ARGV P, per_host, delay_ms, lease_ms, robots (0/1).
 * First puts back up to 16 expired leases (their items at the head of
 * their hosts' lists; an expired robots.txt lease frees the host's
 * rlock). Then looks at up to 16 hosts whose time has come: a host
 * without robots.txt gets one robots lease (rlock) and others skip it; a
 * host with robots.txt gives its next item whose record does not exist
 * yet (one that does was finished by a worker whose lease had expired:
 * dropped; one with a "low" entry takes its shorter path's depth, hops
 * and parent). A reoffer (a done page whose depth was lowered) is leased
 * first, to no host. Returns {1, id, host, item}, {3, id, host} (fetch
 * robots.txt), {4, id, "", item} (offer a done page's links again), {0,
 * wait_ms} (nothing ready now) or {2} (no queued URL, no reoffer and no
 * lease out: the job is done).
 */
#define DIST_LUA_LEASE DIST_LUA_COMMON \
    "local lease_ms, robots = tonumber(ARGV[4]), ARGV[5] == '1'\n" \
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', P..'leases', '-inf', now, 'LIMIT', 0, 16)) do\n" \
    "  local h, item = unlease(id)\n" \
    "  if h then\n" \
    "    putback(h, item)\n" \
    "    redis.call('HINCRBY', P..'stat', 'reclaimed', 1)\n" \
    "  end\n" \
    "end\n" \
    "local function grant(h, item)\n" \
    "  local id = redis.call('INCR', P..'lid')\n" \
    "  redis.call('HSET', P..'lease', id, h..'\\n'..item)\n" \
    "  redis.call('ZADD', P..'leases', now + lease_ms, id)\n" \
    "  if h ~= '' then redis.call('HINCRBY', P..'infl', h, 1) end\n" \
    "  return id\n" \
    "end\n" \
    "local ro = redis.call('LPOP', P..'reoffer')\n" \
    "if ro then return {4, grant('', ro), '', ro} end\n" \
    "for _, h in ipairs(redis.call('ZRANGEBYSCORE', P..'hosts', '-inf', now, 'LIMIT', 0, 16)) do\n" \
    "  if robots and redis.call('HEXISTS', P..'robots', h) == 0 then\n" \
    "    if redis.call('HSETNX', P..'rlock', h, 1) == 1 then\n" \
    "      local id = grant(h, '')\n" \
    "      resched(h)\n" \
    "      return {3, id, h}\n" \
    "    end\n" \
    "    redis.call('ZADD', P..'hosts', now + 50, h)\n" \
    "  else\n" \
    "    while true do\n" \
    "      local item = redis.call('LPOP', P..'q:'..h)\n" \
    "      if not item then resched(h) break end\n" \
    "      local url, parent, d, tries, hops = fields(item)\n" \
    "      if redis.call('HEXISTS', P..'rec', url) == 0 then\n" \
    "        local low = redis.call('HGET', P..'low', url)\n" \
    "        if low then\n" \
    "          local _, lp, ld, lh = string.match(low, '^(.-)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)$')\n" \
    "          redis.call('HDEL', P..'low', url)\n" \
    "          item = url..'\\t'..lp..'\\t'..ld..'\\t'..tries..'\\t'..lh\n" \
    "        end\n" \
    "        local id = grant(h, item)\n" \
    "        redis.call('HSET', P..'next', h, now + hdelay(h))\n" \
    "        resched(h)\n" \
    "        return {1, id, h, item}\n" \
    "      end\n" \
    "      redis.call('HINCRBY', P..'stat', 'dropped', 1)\n" \
    "    end\n" \
    "  end\n" \
    "end\n" \
    "if redis.call('ZCARD', P..'hosts') == 0 and redis.call('ZCARD', P..'leases') == 0 and\n" \
    "   redis.call('LLEN', P..'reoffer') == 0 then\n" \
    "  return {2} end\n" \
    "local w = 50\n" \
    "local f = redis.call('ZRANGE', P..'hosts', 0, 0, 'WITHSCORES')\n" \
    "if f[2] then w = math.max(1, math.min(w, tonumber(f[2]) - now)) end\n" \
    "return {0, w}\n"

/*
 * ack: ARGV P, per_host, delay_ms, lease id ("" for seeds), url ("" for
 * seeds), record, found lines, max_pages, max_host_pages, max_query, the
 * url as a JSON string (its links' parent field), its links' flags ("":
 * plain), mode ("r": a reoffer - no record, the links offered again),
 * then 5 per link: hash8, qhash8 ("" without a query), host, item, rank.
 * Ends the lease (if still ours: an expired one was already put back);
 * stores the record if the URL has none (else the page was done by
 * someone else: nothing more happens - exactly once) and then admits the
 * links as a single-process crawl does: dedup, --max-pages, query
 * variants, --max-host-pages, in that order. A link seen at a longer
 * distance is lowered: a done page's record is patched and its item
 * queued as a reoffer (for a shorter depth only, as crawl.c), a queued or
 * leased one gets a "low" entry its lease or ack takes. A page whose own
 * "low" entry is there (lowered while it was fetched) stores its record
 * with the new depth and parent and is queued as a reoffer instead of
 * admitting its links at the old distance. Returns 1 if the record was
 * stored (seeds and reoffers: 1), 0 if it was a duplicate.
 */
#define DIST_LUA_ACK DIST_LUA_COMMON \
    "local id, url = ARGV[4], ARGV[5]\n" \
    "local maxp, maxh, maxq = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])\n" \
    "local pj, lflags, reoffer = ARGV[11], ARGV[12], ARGV[13] == 'r'\n" \
    "local function relabel(rec, d, parent_json)\n" \
    "  local a = string.find(rec, ',\"depth\":', 1, true)\n" \
    "  local b = string.find(rec, ',\"fetch_ms\":', a, true)\n" \
    "  return string.sub(rec, 1, a - 1)..',\"depth\":'..d..',\"parent\":'..parent_json..\n" \
    "         string.sub(rec, b)\n" \
    "end\n" \
    "local h = nil\n" \
    "if id ~= '' then h = unlease(id) end\n" \
    "local fresh, links = 1, true\n" \
    "if url ~= '' and not reoffer then\n" \
    "  local rec, low = ARGV[6], redis.call('HGET', P..'low', url)\n" \
    "  local lj, lp, ld, lh\n" \
    "  if low then\n" \
    "    lj, lp, ld, lh = string.match(low, '^(.-)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)$')\n" \
    "    rec = relabel(rec, ld, lj)\n" \
    "  end\n" \
    "  fresh = redis.call('HSETNX', P..'rec', url, rec)\n" \
    "  if fresh == 1 and ARGV[7] ~= '' then redis.call('HSET', P..'found', url, ARGV[7]) end\n" \
    "  if fresh == 1 and lflags ~= '' then redis.call('HSET', P..'lflags', url, lflags) end\n" \
    "  if fresh == 0 then redis.call('HINCRBY', P..'stat', 'refetched', 1) end\n" \
    "  if fresh == 1 and low then\n" \
    "    redis.call('HDEL', P..'low', url)\n" \
    "    redis.call('RPUSH', P..'reoffer', url..'\\t'..lp..'\\t'..ld..'\\t0\\t'..lh)\n" \
    "    links = false\n" \
    "  end\n" \
    "end\n" \
    "if fresh == 1 and links then\n" \
    "  for i = 14, #ARGV, 5 do\n" \
    "    local hs, qh, lh, item = ARGV[i], ARGV[i+1], ARGV[i+2], ARGV[i+3]\n" \
    "    local rank = tonumber(ARGV[i+4])\n" \
    "    local cur = redis.call('HGET', P..'seen', hs)\n" \
    "    if not cur and (maxp == 0 or tonumber(redis.call('GET', P..'adm') or '0') < maxp) then\n" \
    "      local ok = true\n" \
    "      if qh ~= '' and maxq > 0 then\n" \
    "        if tonumber(redis.call('HGET', P..'qv', qh) or '0') >= maxq then ok = false\n" \
    "        else redis.call('HINCRBY', P..'qv', qh, 1) end\n" \
    "      end\n" \
    "      if ok and maxh > 0 and tonumber(redis.call('HGET', P..'hadm', lh) or '0') >= maxh then\n" \
    "        ok = false end\n" \
    "      if ok then\n" \
    "        redis.call('HSET', P..'seen', hs, rank)\n" \
    "        redis.call('INCR', P..'adm')\n" \
    "        if maxh > 0 then redis.call('HINCRBY', P..'hadm', lh, 1) end\n" \
    "        redis.call('RPUSH', P..'q:'..lh, item)\n" \
    "        resched(lh)\n" \
    "      end\n" \
    "    elseif cur and rank < tonumber(cur) then\n" \
    "      local u, parent, d, _, hops = fields(item)\n" \
    "      local rec = redis.call('HGET', P..'rec', u)\n" \
    "      if not rec then\n" \
    "        redis.call('HSET', P..'seen', hs, rank)\n" \
    "        redis.call('HSET', P..'low', u, pj..'\\t'..parent..'\\t'..d..'\\t'..hops)\n" \
    "        redis.call('HINCRBY', P..'stat', 'lowered', 1)\n" \
    "      elseif tonumber(d) < tonumber(string.match(rec, ',\"depth\":(%d+),')) then\n" \
    "        redis.call('HSET', P..'seen', hs, rank)\n" \
    "        redis.call('HSET', P..'rec', u, relabel(rec, d, pj))\n" \
    "        redis.call('RPUSH', P..'reoffer', item)\n" \
    "        redis.call('HINCRBY', P..'stat', 'lowered', 1)\n" \
    "      end\n" \
    "    end\n" \
    "  end\n" \
    "end\n" \
    "if h and h ~= '' then resched(h) end\n" \
    "return fresh\n"

/*
 * retry: ARGV P, per_host, delay_ms, lease id, item (tries counted up),
 * not-before (ms from now). Ends the lease and queues the item at its
 * host's tail; the host waits not-before ms (backoff or Retry-After).
 * 1, or 0 if the lease had expired (the old item was put back already).
 */
#define DIST_LUA_RETRY DIST_LUA_COMMON \
    "local h = unlease(ARGV[4])\n" \
    "if not h then return 0 end\n" \
    "redis.call('RPUSH', P..'q:'..h, ARGV[5])\n" \
    "local nb = now + tonumber(ARGV[6])\n" \
    "if nb > tonumber(redis.call('HGET', P..'next', h) or '0') then\n" \
    "  redis.call('HSET', P..'next', h, nb) end\n" \
    "resched(h)\n" \
    "return 1\n"

/*
 * robots: ARGV P, per_host, delay_ms, lease id, host, "status\nbody",
 * Crawl-delay ms. Stores the host's robots.txt for the whole job, frees
 * the rlock, ends the lease. 1, or 0 if the lease had expired (another
 * worker may fetch it again: the first answer stored stays).
 */
#define DIST_LUA_ROBOTS DIST_LUA_COMMON \
    "local h = unlease(ARGV[4])\n" \
    "redis.call('HSETNX', P..'robots', ARGV[5], ARGV[6])\n" \
    "if tonumber(ARGV[7]) > 0 then redis.call('HSET', P..'delay', ARGV[5], ARGV[7]) end\n" \
    "redis.call('HDEL', P..'rlock', ARGV[5])\n" \
    "resched(ARGV[5])\n" \
    "if h then return 1 end\n" \
    "return 0\n"

/* release: ARGV P, per_host, delay_ms, ids...: gives leases back at
 * once (a worker stopping on SIGINT/SIGTERM): each item to the head of
 * its host's list, a robots.txt lease's rlock freed. Returns how many. */
#define DIST_LUA_RELEASE DIST_LUA_COMMON \
    "local n = 0\n" \
    "for i = 4, #ARGV do\n" \
    "  local h, item = unlease(ARGV[i])\n" \
    "  if h then\n" \
    "    putback(h, item)\n" \
    "    n = n + 1\n" \
    "  end\n" \
    "end\n" \
    "return n\n"

/* renew: ARGV P, per_host, delay_ms, lease_ms, ids...: pushes the
 * deadline of each lease still out to now + lease_ms (XX: one that
 * expired and was put back is not revived). */
#define DIST_LUA_RENEW DIST_LUA_COMMON \
    "for i = 5, #ARGV do\n" \
    "  redis.call('ZADD', P..'leases', 'XX', now + tonumber(ARGV[4]), ARGV[i])\n" \
    "end\n" \
    "return 1\n"

#endif
