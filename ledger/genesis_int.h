/* ledger/genesis_int.h: what the files of the genesis parser (genesis.h)
 * share.
 *
 *   genesis.c        the document: its sections and rules, reading the
 *                    file, freeing
 *   genesis_field.c  typed access to the fields of the JSON document, every
 *                    error naming the field's JSON path
 *   genesis_index.c  the sorted index of every key and industry code, and
 *                    the lookups
 *
 * Private: only the .c files of ledger/ include it. */
#ifndef PERMIT_LEDGER_GENESIS_INT_H
#define PERMIT_LEDGER_GENESIS_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "genesis.h"

/* ---- genesis_field.c ---- */

#define LEDGER_GJ_PATH_MAX 128

/* A JSON path ("industries[0].items[1].department") for an error message. */
typedef struct {
    char s[LEDGER_GJ_PATH_MAX];
} ledger_gj_path;

/* Fail with LEDGER_ERR_INVALID and "path: message" (just the message when
 * path is NULL or empty, at the top level).  Returns -1. */
int ledger_gj_fail(ledger_err *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* ledger_gj_fail at the path "parent.key" (ledger_gj_join). */
int ledger_gj_fail_at(ledger_err *err, const char *parent, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Fail with LEDGER_ERR_NOMEM.  Returns -1. */
int ledger_gj_nomem(ledger_err *err);
/* s quoted for an error message when it is short, valid single-line UTF-8
 * (in buf), else "(value not shown)". */
const char *ledger_gj_shown(const char *s, char buf[72]);

/* "parent.key" and "parent.key[i]" ("key", "key[i]" at the top level) in p;
 * return p->s. */
const char *ledger_gj_join(ledger_gj_path *p, const char *parent, const char *key);
const char *ledger_gj_index(ledger_gj_path *p, const char *parent, const char *key, size_t i);

/* The readers below read obj[key] of the object at path `parent`: 0, or -1
 * with err naming "parent.key" and what is wrong with it.  A required member
 * that is absent is "missing". */

/* Refuse members of obj not in `allowed` (NULL-terminated); members whose
 * name starts with '_' are comments and ignored. */
int ledger_gj_check_fields(json_t *obj, const char *path, const char *const *allowed,
                           ledger_err *err);
/* An object; *v NULL when optional and absent. */
int ledger_gj_object(json_t *obj, const char *parent, const char *key, int required, json_t **v,
                     ledger_err *err);
/* A required array of min (0 or 1) to max elements; `what` names one in the
 * message for an empty one. */
int ledger_gj_array(json_t *obj, const char *parent, const char *key, size_t min, size_t max,
                    const char *what, json_t **v, ledger_err *err);
/* A string without NUL bytes, owned by obj; *s NULL when optional and absent. */
int ledger_gj_string(json_t *obj, const char *parent, const char *key, int required,
                     const char **s, ledger_err *err);
/* A malloc'd copy of s. */
int ledger_gj_dup(const char *s, char **out, ledger_err *err);
/* A required display name: non-empty single-line UTF-8 of at most max bytes,
 * malloc'd. */
int ledger_gj_name(json_t *obj, const char *parent, const char *key, size_t max, char **out,
                   ledger_err *err);
/* Does s match [first][rest]{0,max-1}?  rest is a-z 0-9 and the characters
 * of extra; first is a lower-case letter when first_lower, else as rest; and
 * rest includes A-Z unless first_lower. */
int ledger_gj_id_matches(const char *s, size_t max, int first_lower, const char *extra);
/* An integer in min..max; *present 0 when optional and absent. */
int ledger_gj_integer(json_t *obj, const char *parent, const char *key, int required,
                      long long min, long long max, long long *out, int *present,
                      ledger_err *err);
/* A required boolean. */
int ledger_gj_bool(json_t *obj, const char *parent, const char *key, int *out, ledger_err *err);
/* A duration string (ledger_duration_parse) of at most LEDGER_MAX_DURATION_MS;
 * when absent and optional, *out = def and *present (may be NULL) = 0. */
int ledger_gj_duration(json_t *obj, const char *parent, const char *key, int required,
                       uint64_t def, uint64_t *out, int *present, ledger_err *err);
/* A required 64-hex-digit x-only public key. */
int ledger_gj_key(json_t *obj, const char *parent, const char *key, ledger_pubkey *pk,
                  ledger_err *err);
/* "host:port", malloc'd; *out NULL when optional and absent. */
/* NULL when s is a valid "host:port" (a p2p or RPC address), else what is
 * wrong with it. */
const char *ledger_hostport_problem(const char *s);
int ledger_gj_hostport(json_t *obj, const char *parent, const char *key, int required,
                       char **out, ledger_err *err);

/* ---- genesis_index.c ---- */

/* Build g->index from the parsed document: refuses a key used twice (in any
 * roles), naming both fields. */
int ledger_genesis_index_build(ledger_genesis *g, ledger_err *err);
/* Free an index; NULL-safe. */
void ledger_genesis_index_free(struct ledger_genesis_index *ix);

#endif
