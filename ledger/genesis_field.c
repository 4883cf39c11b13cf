/* ledger/genesis_field.c: typed access to the fields of the genesis
 * document (genesis_int.h).  Every error names the JSON path of the field
 * it is about, and quotes a value only when it is short, printable UTF-8. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "genesis_int.h"
#include "hex.h"
#include "text.h"

#define HOST_MAX 253

/* ---- error helpers ------------------------------------------------------- */

static int vfail(ledger_err *err, const char *path, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static int vfail(ledger_err *err, const char *path, const char *fmt, va_list ap)
{
    char msg[sizeof err->msg];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (path == NULL || path[0] == '\0')
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s", msg);
    return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s: %s", path, msg);
}

int ledger_gj_fail(ledger_err *err, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(err, path, fmt, ap);
    va_end(ap);
    return rc;
}

int ledger_gj_nomem(ledger_err *err)
{
    return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
}

/* A value from the file quoted for an error message: only short, valid
 * single-line UTF-8 is echoed, so messages stay printable and bounded. */
const char *ledger_gj_shown(const char *s, char buf[72])
{
    size_t n = strnlen(s, 65);
    if (n <= 64 && ledger_utf8_valid(s, n)) {
        snprintf(buf, 72, "\"%s\"", s);
        return buf;
    }
    return "(value not shown)";
}

/* ---- paths --------------------------------------------------------------- */

/* Paths are short by construction (ids of at most 32 bytes, indexes below
 * 1024); a truncated one would still be marked. */
static const char *pfix(ledger_gj_path *p, int r)
{
    if (r < 0 || (size_t)r >= sizeof p->s)
        memcpy(p->s + sizeof p->s - 4, "...", 4);
    return p->s;
}

const char *ledger_gj_join(ledger_gj_path *p, const char *parent, const char *key)
{
    if (parent[0] == '\0')
        return pfix(p, snprintf(p->s, sizeof p->s, "%s", key));
    return pfix(p, snprintf(p->s, sizeof p->s, "%s.%s", parent, key));
}

const char *ledger_gj_index(ledger_gj_path *p, const char *parent, const char *key, size_t i)
{
    if (parent[0] == '\0')
        return pfix(p, snprintf(p->s, sizeof p->s, "%s[%zu]", key, i));
    return pfix(p, snprintf(p->s, sizeof p->s, "%s.%s[%zu]", parent, key, i));
}

/* ---- typed field access -------------------------------------------------- */

int ledger_gj_fail_at(ledger_err *err, const char *parent, const char *key, const char *fmt, ...)
{
    ledger_gj_path p;
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(err, ledger_gj_join(&p, parent, key), fmt, ap);
    va_end(ap);
    return rc;
}

/* Refuse members of obj not in `allowed` (NULL-terminated); members whose
 * name starts with '_' are comments and ignored. */
int ledger_gj_check_fields(json_t *obj, const char *path, const char *const *allowed,
                           ledger_err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (key[0] == '_')
            continue;
        int ok = 0;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strcmp(key, allowed[i]) == 0;
        if (!ok) {
            char b[72];
            return ledger_gj_fail(err, path, "unknown field %s", ledger_gj_shown(key, b));
        }
    }
    return 0;
}

/* obj[key] into *v: -1 with "<path>: missing" when required and absent,
 * otherwise 0 with *v NULL when absent. */
static int member(json_t *obj, const char *parent, const char *key, int required,
                  json_t **v, ledger_err *err)
{
    *v = json_object_get(obj, key);
    if (*v == NULL && required)
        return ledger_gj_fail_at(err, parent, key, "missing");
    return 0;
}

int ledger_gj_object(json_t *obj, const char *parent, const char *key, int required, json_t **v,
                     ledger_err *err)
{
    if (member(obj, parent, key, required, v, err) != 0)
        return -1;
    if (*v != NULL && !json_is_object(*v))
        return ledger_gj_fail_at(err, parent, key, "must be an object");
    return 0;
}

/* An array with min..max elements. */
int ledger_gj_array(json_t *obj, const char *parent, const char *key, size_t min, size_t max,
                    const char *what, json_t **v, ledger_err *err)
{
    if (member(obj, parent, key, 1, v, err) != 0)
        return -1;
    if (!json_is_array(*v))
        return ledger_gj_fail_at(err, parent, key, "must be an array");
    size_t n = json_array_size(*v);
    if (n < min) /* min is 0 or 1 */
        return ledger_gj_fail_at(err, parent, key,
                                 "must not be empty (at least one %s is required)", what);
    if (n > max)
        return ledger_gj_fail_at(err, parent, key, "%zu entries, more than the limit of %zu", n,
                                 max);
    return 0;
}

/* A string without NUL bytes; *s NULL when optional and absent. */
int ledger_gj_string(json_t *obj, const char *parent, const char *key, int required,
                     const char **s, ledger_err *err)
{
    json_t *v;
    *s = NULL;
    if (member(obj, parent, key, required, &v, err) != 0)
        return -1;
    if (v == NULL)
        return 0;
    if (!json_is_string(v))
        return ledger_gj_fail_at(err, parent, key, "must be a string");
    const char *str = json_string_value(v);
    if (strlen(str) != json_string_length(v))
        return ledger_gj_fail_at(err, parent, key, "contains a NUL character");
    *s = str;
    return 0;
}

int ledger_gj_dup(const char *s, char **out, ledger_err *err)
{
    *out = strdup(s);
    return *out == NULL ? ledger_gj_nomem(err) : 0;
}

/* A required display name: non-empty single-line UTF-8 of at most max bytes. */
int ledger_gj_name(json_t *obj, const char *parent, const char *key, size_t max, char **out,
                   ledger_err *err)
{
    const char *s;
    if (ledger_gj_string(obj, parent, key, 1, &s, err) != 0)
        return -1;
    size_t n = strlen(s);
    if (n == 0)
        return ledger_gj_fail_at(err, parent, key, "must not be empty");
    if (n > max)
        return ledger_gj_fail_at(err, parent, key, "%zu bytes, more than the limit of %zu", n, max);
    if (!ledger_utf8_valid(s, n))
        return ledger_gj_fail_at(err, parent, key,
                                 "not valid single-line UTF-8 text (control characters, "
                                 "line breaks and malformed sequences are refused)");
    return ledger_gj_dup(s, out, err);
}

/* s matches [first][rest]{0,max-1}: first is lower-case letters only when
 * first_lower, else the same set as rest. */
int ledger_gj_id_matches(const char *s, size_t max, int first_lower, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int lower = c >= 'a' && c <= 'z';
        if (i == 0 && first_lower) {
            if (!lower)
                return 0;
            continue;
        }
        int ok = lower || (c >= '0' && c <= '9') || strchr(extra, c) != NULL;
        if (!first_lower)
            ok = ok || (c >= 'A' && c <= 'Z');
        if (!ok)
            return 0;
    }
    return 1;
}

int ledger_gj_integer(json_t *obj, const char *parent, const char *key, int required,
                      long long min, long long max, long long *out, int *present,
                      ledger_err *err)
{
    json_t *v;
    *present = 0;
    if (member(obj, parent, key, required, &v, err) != 0)
        return -1;
    if (v == NULL)
        return 0;
    if (!json_is_integer(v))
        return ledger_gj_fail_at(err, parent, key, "must be an integer");
    long long x = json_integer_value(v);
    if (x < min || x > max)
        return ledger_gj_fail_at(err, parent, key, "%lld is out of range %lld..%lld", x, min, max);
    *out = x;
    *present = 1;
    return 0;
}

int ledger_gj_bool(json_t *obj, const char *parent, const char *key, int *out, ledger_err *err)
{
    json_t *v;
    if (member(obj, parent, key, 1, &v, err) != 0)
        return -1;
    if (!json_is_boolean(v))
        return ledger_gj_fail_at(err, parent, key, "must be true or false");
    *out = json_is_true(v);
    return 0;
}

/* A duration string (ledger_duration_parse) of at most LEDGER_MAX_DURATION_MS;
 * when absent and optional, *out = def and *present = 0. */
int ledger_gj_duration(json_t *obj, const char *parent, const char *key, int required,
                       uint64_t def, uint64_t *out, int *present, ledger_err *err)
{
    const char *s;
    char b[72];
    if (present)
        *present = 0;
    if (ledger_gj_string(obj, parent, key, required, &s, err) != 0)
        return -1;
    if (s == NULL) {
        *out = def;
        return 0;
    }
    uint64_t ms;
    if (ledger_duration_parse(s, &ms) != 0)
        return ledger_gj_fail_at(err, parent, key,
                                 "%s is not a duration (digits without sign or leading zero, then "
                                 "one unit of s, m, h, d or y, e.g. \"90d\")",
                                 ledger_gj_shown(s, b));
    if (ms > LEDGER_MAX_DURATION_MS)
        return ledger_gj_fail_at(err, parent, key, "%s is longer than 100y", ledger_gj_shown(s, b));
    *out = ms;
    if (present)
        *present = 1;
    return 0;
}

/* A 64-hex-digit x-only public key. */
int ledger_gj_key(json_t *obj, const char *parent, const char *key, ledger_pubkey *pk,
                  ledger_err *err)
{
    const char *s;
    uint8_t raw[32];
    if (ledger_gj_string(obj, parent, key, 1, &s, err) != 0)
        return -1;
    if (ledger_hex_decode_exact(s, raw, sizeof raw) != 0)
        return ledger_gj_fail_at(err, parent, key, "must be 64 hex digits");
    if (ledger_pubkey_parse(pk, raw) != 0)
        return ledger_gj_fail_at(err, parent, key, "not a valid x-only public key");
    return 0;
}

/* "host:port": host non-empty, at most 253 characters of [A-Za-z0-9._-] or a
 * bracketed IPv6 literal; port decimal 1..65535 without leading zeros.
 * Returns NULL when valid, else what is wrong. */
const char *ledger_hostport_problem(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL)
        return "expected host:port";
    size_t hlen = (size_t)(colon - s);
    if (hlen == 0)
        return "host is empty";
    if (hlen > HOST_MAX)
        return "host is longer than 253 characters";
    if (s[0] == '[') {
        if (hlen < 3 || s[hlen - 1] != ']')
            return "IPv6 host must be [address]";
        for (size_t i = 1; i + 1 < hlen; i++) {
            char c = s[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                  (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
                return "invalid character in IPv6 host";
        }
    } else {
        for (size_t i = 0; i < hlen; i++) {
            char c = s[i];
            if (c == ':')
                return "IPv6 host must be in brackets, e.g. [::1]:8646";
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (c >= 'A' && c <= 'Z') || c == '.' || c == '-' || c == '_'))
                return "invalid character in host";
        }
    }
    const char *port = colon + 1;
    size_t plen = strlen(port);
    if (plen == 0 || plen > 5 || port[0] == '0')
        return "port must be a number 1..65535";
    unsigned v = 0;
    for (size_t i = 0; i < plen; i++) {
        if (port[i] < '0' || port[i] > '9')
            return "port must be a number 1..65535";
        v = v * 10 + (unsigned)(port[i] - '0');
    }
    if (v < 1 || v > 65535)
        return "port must be a number 1..65535";
    return NULL;
}

int ledger_gj_hostport(json_t *obj, const char *parent, const char *key, int required,
                       char **out, ledger_err *err)
{
    const char *s;
    char b[72];
    *out = NULL;
    if (ledger_gj_string(obj, parent, key, required, &s, err) != 0)
        return -1;
    if (s == NULL)
        return 0;
    const char *why = ledger_hostport_problem(s);
    if (why != NULL)
        return ledger_gj_fail_at(err, parent, key, "%s: %s", ledger_gj_shown(s, b), why);
    return ledger_gj_dup(s, out, err);
}
