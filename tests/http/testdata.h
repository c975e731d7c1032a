/*
 * testdata.h - helpers for the HTTP tests that read shared test data
 * (WHATWG URL tests, html5lib tokenizer tests): where the data lives, and
 * a small JSON reader (enough for those files: objects, arrays, strings
 * with \u escapes, numbers, true/false/null).
 */
#ifndef SIMUL_TEST_TESTDATA_H
#define SIMUL_TEST_TESTDATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Reads testdata file `rel` (e.g. "url/urltestdata.json") from
 * $SIMUL_TESTDATA, or ../shared/testdata beside the source tree (as CI
 * lays it), or ../../shared/testdata (a worktree). Returns a malloc'd
 * NUL-terminated buffer (and its length), or NULL. */
char *testdata_read(const char *rel, size_t *len);

/* Reads any file whole (malloc'd, NUL-terminated; its length in *len). */
char *testdata_read_file(const char *path, size_t *len);

/* Reads tests/http/REL from the source tree (checked-in tables). */
char *testdata_read_local(const char *rel);

/* The pages of Debian's Python documentation (python3-doc): fills paths
 * with up to max malloc'd file names (readdir order); returns how many. */
int testdata_python_docs(char **paths, int max);

/* Runs /usr/bin/python3 tests/http/SCRIPT (may carry arguments) with the
 * n paths appended, quoted; returns popen's stream (pclose it), or NULL. */
FILE *testdata_python(const char *script, char **paths, int n);

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;
typedef struct jval jval;
struct jval {
    jtype  t;
    double num;       /* J_NUM, J_BOOL */
    char  *str;       /* J_STR: UTF-8, NUL-terminated (may hold NULs: see len) */
    size_t len;       /* J_STR length; J_ARR/J_OBJ item count */
    jval  *items;     /* J_ARR values, J_OBJ values */
    char **keys;      /* J_OBJ keys */
};

/* Parses text; returns a tree (never freed: tests are short-lived) or NULL. */
jval *json_parse(const char *text);
/* Object member by key, or NULL. */
jval *json_get(const jval *obj, const char *key);

#endif
