/*
 * testdata.c - finds the shared test data and parses its JSON files; see
 * testdata.h. Leaks by design: the trees live as long as the test.
 */
#include "testdata.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *testdata_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) == (size_t)n) {
        b[n] = '\0';
        if (len)
            *len = (size_t)n;
    } else {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

char *testdata_read(const char *rel, size_t *len)
{
    const char *env = getenv("SIMUL_TESTDATA");
    const char *dirs[] = {env, SIMUL_SRCDIR "/../shared/testdata",
                          SIMUL_SRCDIR "/../../shared/testdata"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i])
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dirs[i], rel);
        char *b = testdata_read_file(path, len);
        if (b)
            return b;
    }
    fprintf(stderr, "  testdata %s not found (set SIMUL_TESTDATA)\n", rel);
    return NULL;
}

char *testdata_read_local(const char *rel)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/http/%s", SIMUL_SRCDIR, rel);
    return testdata_read_file(path, NULL);
}

static void find_pages(const char *dir, char **paths, int max, int *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && *n < max) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        size_t l = strlen(p);
        if (l > 5 && !strcmp(p + l - 5, ".html"))
            paths[(*n)++] = strdup(p);
        else if ((e->d_type == DT_DIR || e->d_type == DT_LNK) && e->d_name[0] != '_')
            /* not _static, _sources, _images: pages like _thread.html count */
            find_pages(p, paths, max, n);
    }
    closedir(d);
}

int testdata_python_docs(char **paths, int max)
{
    int n = 0;
    find_pages("/usr/share/doc/python3-doc/html", paths, max, &n);
    if (n == 0)
        find_pages("/usr/share/doc/python3.11/html", paths, max, &n);
    return n;
}

FILE *testdata_python(const char *script, char **paths, int n)
{
    size_t cap = strlen(SIMUL_SRCDIR) + strlen(script) + 64;
    for (int i = 0; i < n; i++)
        cap += strlen(paths[i]) + 3;
    char *cmd = malloc(cap);
    if (!cmd)
        return NULL;
    int w = sprintf(cmd, "/usr/bin/python3 %s/tests/http/%s", SIMUL_SRCDIR, script);
    for (int i = 0; i < n; i++)
        w += sprintf(cmd + w, " '%s'", paths[i]);
    FILE *f = popen(cmd, "r");
    free(cmd);
    return f;
}

typedef struct { const char *p; } jp;

static void ws(jp *j)
{
    while (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')
        j->p++;
}

static int hex4(const char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v = v * 16 + (c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

static size_t utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xc0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 63));
        o[2] = (char)(0x80 | (cp & 63)); return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 63));
    o[2] = (char)(0x80 | ((cp >> 6) & 63)); o[3] = (char)(0x80 | (cp & 63)); return 4;
}

static int str(jp *j, char **out, size_t *len)
{
    j->p++;   /* '"' */
    size_t cap = 16, n = 0;
    char *b = malloc(cap);
    while (*j->p && *j->p != '"') {
        if (n + 8 > cap)
            b = realloc(b, cap *= 2);
        char c = *j->p++;
        if (c != '\\') {
            b[n++] = c;
            continue;
        }
        c = *j->p++;
        switch (c) {
        case 'n': b[n++] = '\n'; break;
        case 't': b[n++] = '\t'; break;
        case 'r': b[n++] = '\r'; break;
        case 'b': b[n++] = '\b'; break;
        case 'f': b[n++] = '\f'; break;
        case 'u': {
            unsigned cp = (unsigned)hex4(j->p);
            j->p += 4;
            if (cp >= 0xd800 && cp < 0xdc00 && j->p[0] == '\\' && j->p[1] == 'u') {
                unsigned lo = (unsigned)hex4(j->p + 2);
                if (lo >= 0xdc00 && lo < 0xe000) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    j->p += 6;
                }
            }
            n += utf8(b + n, cp);   /* lone surrogates: encoded as is (WTF-8) */
            break;
        }
        default: b[n++] = c;
        }
    }
    if (*j->p != '"')
        return -1;
    j->p++;
    b[n] = '\0';
    *out = b;
    *len = n;
    return 0;
}

static int val(jp *j, jval *v)
{
    ws(j);
    memset(v, 0, sizeof *v);
    char c = *j->p;
    if (c == '"') {
        v->t = J_STR;
        return str(j, &v->str, &v->len);
    }
    if (c == '[' || c == '{') {
        bool obj = c == '{';
        v->t = obj ? J_OBJ : J_ARR;
        j->p++;
        size_t cap = 8;
        v->items = malloc(cap * sizeof *v->items);
        if (obj)
            v->keys = malloc(cap * sizeof *v->keys);
        ws(j);
        if (*j->p == (obj ? '}' : ']')) {
            j->p++;
            return 0;
        }
        for (;;) {
            if (v->len == cap) {
                cap *= 2;
                v->items = realloc(v->items, cap * sizeof *v->items);
                if (obj)
                    v->keys = realloc(v->keys, cap * sizeof *v->keys);
            }
            if (obj) {
                ws(j);
                size_t kl;
                if (*j->p != '"' || str(j, &v->keys[v->len], &kl) < 0)
                    return -1;
                ws(j);
                if (*j->p++ != ':')
                    return -1;
            }
            if (val(j, &v->items[v->len]) < 0)
                return -1;
            v->len++;
            ws(j);
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p == (obj ? '}' : ']')) {
                j->p++;
                return 0;
            }
            return -1;
        }
    }
    if (!strncmp(j->p, "true", 4)) { v->t = J_BOOL; v->num = 1; j->p += 4; return 0; }
    if (!strncmp(j->p, "false", 5)) { v->t = J_BOOL; j->p += 5; return 0; }
    if (!strncmp(j->p, "null", 4)) { v->t = J_NULL; j->p += 4; return 0; }
    char *e;
    v->t = J_NUM;
    v->num = strtod(j->p, &e);
    if (e == j->p)
        return -1;
    j->p = e;
    return 0;
}

jval *json_parse(const char *text)
{
    jp j = {text};
    jval *v = malloc(sizeof *v);
    if (val(&j, v) < 0)
        return NULL;
    return v;
}

jval *json_get(const jval *o, const char *key)
{
    if (!o || o->t != J_OBJ)
        return NULL;
    for (size_t i = 0; i < o->len; i++)
        if (!strcmp(o->keys[i], key))
            return &o->items[i];
    return NULL;
}

