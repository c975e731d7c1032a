/*
 * rules.c - which URLs a crawl may take, shared by the single-process
 * crawl (crawl.c) and the shared one (dist.c): the scope the seeds set
 * (host, domain or URL prefix) and the --include / --exclude patterns.
 */
#include "crawl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int scopes_add(crawl_scopes *sc, int scope, const simul_url *u)
{
    size_t len;
    const char *s;
    if (scope == SCOPE_PREFIX) {
        /* the seed's URL up to the last '/' of its path */
        s = u->href;
        len = u->path_end;
        while (len > u->path_start && s[len - 1] != '/')
            len--;
    } else {
        s = simul_url_part(u, SIMUL_URL_HOST, &len);
        if (scope == SCOPE_DOMAIN && len > 4 && !strncmp(s, "www.", 4)) {
            s += 4;
            len -= 4;
        }
    }
    for (size_t i = 0; i < sc->n; i++)
        if (strlen(sc->s[i]) == len && !memcmp(sc->s[i], s, len))
            return 0;
    char **ns = realloc(sc->s, (sc->n + 1) * sizeof *ns);
    if (!ns)
        return -ENOMEM;
    sc->s = ns;
    if (!(ns[sc->n] = strndup(s, len)))
        return -ENOMEM;
    sc->n++;
    return 0;
}

int seed_add(crawl_scopes *sc, const crawl_opts *o, const char *seed, simul_url *u)
{
    if (simul_url_parse(u, seed, strlen(seed), NULL, SIMUL_URL_NORMALIZE) != 0 ||
        !url_is_http(u)) {
        logmsg(LOG_ERROR, "%s: not an http(s) URL: skipped", seed);
        return -EINVAL;
    }
    return scopes_add(sc, o->scope, u);
}

void scopes_free(crawl_scopes *sc)
{
    for (size_t i = 0; i < sc->n; i++)
        free(sc->s[i]);
    free(sc->s);
    sc->s = NULL;
    sc->n = 0;
}

int scopes_match(const crawl_scopes *sc, int scope, const char *url, size_t host_start,
                 size_t host_end)
{
    const char *hs = url + host_start;
    size_t hl = host_end - host_start;
    for (size_t i = 0; i < sc->n; i++) {
        const char *s = sc->s[i];
        size_t sl = strlen(s);
        if (scope == SCOPE_PREFIX) {
            if (!strncmp(url, s, sl))
                return 1;
        } else if (hl == sl && !memcmp(hs, s, hl)) {
            return 1;   /* the host itself, for host and domain scopes */
        } else if (scope == SCOPE_DOMAIN && hl > sl && hs[hl - sl - 1] == '.' &&
                   !memcmp(hs + hl - sl, s, sl)) {
            return 1;   /* a subdomain */
        }
    }
    return 0;
}

int filters_pass(const crawl_opts *o, const char *url)
{
    for (size_t i = 0; i < o->nexclude; i++)
        if (regexec(&o->exclude[i], url, 0, NULL, 0) == 0)
            return 0;
    if (!o->ninclude)
        return 1;
    for (size_t i = 0; i < o->ninclude; i++)
        if (regexec(&o->include[i], url, 0, NULL, 0) == 0)
            return 1;
    return 0;
}
