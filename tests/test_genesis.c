/* ledger/genesis.c: parsing, every validation rule, hashes and lookups.
 *
 * A valid genesis is built once per run from fresh keys (the template).
 * Each rule is one named test: a row of `cases` applies up to three
 * mutations to a copy of the template and states the message the parser
 * must give, which begins with the JSON path of the offending field. */
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ledger/genesis.h"
#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/keys.h"

#define DAY UINT64_C(86400000)

/* BIP340 test vector 5: an x coordinate that is not on the curve. */
#define OFF_CURVE "eefdea4cdb677750a420fee807eacf21eb9898ae79b9768766e4faa04a2d4a34"
/* BIP340 test vector 14: x not below the field size. */
#define OVER_FIELD "fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc30"

enum { N_SEALS = 4, N_NODES = 2, N_REGS = 2 };
static ledger_keypair seal_kp[N_SEALS], node_kp[N_NODES], reg_kp[N_REGS];
static json_t *tmpl;

static json_t *hexkey(const ledger_keypair *kp)
{
    char h[65];
    ledger_hex_encode(kp->pub, 32, h);
    return json_string(h);
}

static int group_setup(void **state)
{
    (void)state;
    for (int i = 0; i < N_SEALS; i++)
        if (ledger_keygen(&seal_kp[i], NULL) != 0)
            return -1;
    for (int i = 0; i < N_NODES; i++)
        if (ledger_keygen(&node_kp[i], NULL) != 0)
            return -1;
    for (int i = 0; i < N_REGS; i++)
        if (ledger_keygen(&reg_kp[i], NULL) != 0)
            return -1;
    json_error_t je;
    tmpl = json_pack_ex(
        &je, 0,
        "{s:s, s:s, s:I, s:{s:s, s:s}, s:{s:i, s:s, s:i, s:s, s:s},"
        " s:[{s:s, s:s, s:o},"
        "    {s:s, s:s, s:o, s:{s:o, s:s, s:s}},"
        "    {s:s, s:s, s:o, s:{s:o, s:s}},"
        "    {s:s, s:s, s:o}],"
        " s:[{s:s, s:s, s:o}, {s:s, s:s, s:o}],"
        " s:[{s:s, s:s, s:s, s:b, s:s, s:[{s:s, s:s}, {s:s, s:s}]},"
        "    {s:s, s:s, s:s, s:b, s:s, s:s, s:[{s:s, s:s}]}]}",
        "_about", "test network",
        "chain_id", "permitchain-320411-test",
        "genesis_time", (json_int_t)1764288000000LL,
        "region", "code", "320411", "name", "常州市新北区",
        "params", "max_addresses", 8, "tx_window", "30m", "max_block_txs", 500,
        "block_interval", "2s", "heartbeat", "30s",
        "departments",
        "id", "approval", "name", "行政审批局", "seal_key", hexkey(&seal_kp[0]),
        "id", "market", "name", "市场监督管理局", "seal_key", hexkey(&seal_kp[1]),
        "validator", "node_key", hexkey(&node_kp[0]), "p2p", "127.0.0.1:8646",
        "rpc", "127.0.0.1:8645",
        "id", "tobacco", "name", "烟草专卖局", "seal_key", hexkey(&seal_kp[2]),
        "validator", "node_key", hexkey(&node_kp[1]), "p2p", "node2.example:8648",
        "id", "fire", "name", "消防救援大队", "seal_key", hexkey(&seal_kp[3]),
        "registrars",
        "name", "政务服务中心1号窗口", "department", "approval", "key", hexkey(&reg_kp[0]),
        "name", "政务服务中心2号窗口", "department", "approval", "key", hexkey(&reg_kp[1]),
        "industries",
        "code", "convenience-store", "name", "便利店", "validity", "5y",
        "commitment_allowed", 1, "verify_within", "30d", "items",
        "permit", "食品经营许可", "department", "market",
        "permit", "烟草专卖零售许可", "department", "tobacco",
        "code", "hotel", "name", "宾馆", "validity", "3y", "commitment_allowed", 0,
        "renew_window", "60d", "grace", "30d", "items",
        "permit", "公众聚集场所投入使用、营业前消防安全检查", "department", "fire");
    if (tmpl == NULL) {
        fprintf(stderr, "template: %s\n", je.text);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    json_decref(tmpl);
    for (int i = 0; i < N_SEALS; i++)
        ledger_keypair_wipe(&seal_kp[i]);
    for (int i = 0; i < N_NODES; i++)
        ledger_keypair_wipe(&node_kp[i]);
    for (int i = 0; i < N_REGS; i++)
        ledger_keypair_wipe(&reg_kp[i]);
    return 0;
}

/* ---- JSON path helpers --------------------------------------------------- */

/* Walk "a.b[2].c" in root: returns the container of the last step and sets
 * *key (object member) or *idx (array element, *key NULL). */
static json_t *walk(json_t *root, const char *path, char *buf, size_t bufsz,
                    const char **key, size_t *idx)
{
    assert_true(strlen(path) < bufsz);
    strcpy(buf, path);
    json_t *cur = root;
    char *tok = buf;
    for (;;) {
        char *dot = strchr(tok, '.');
        if (dot != NULL)
            *dot = '\0';
        char *br = strchr(tok, '[');
        size_t i = 0;
        if (br != NULL) {
            *br = '\0';
            i = strtoul(br + 1, NULL, 10);
        }
        json_t *arr = br != NULL && tok[0] != '\0' ? json_object_get(cur, tok) : cur;
        if (dot == NULL) {
            if (br == NULL) {
                *key = tok;
                return cur;
            }
            *key = NULL;
            *idx = i;
            assert_non_null(arr);
            return arr;
        }
        cur = br != NULL ? json_array_get(arr, i) : json_object_get(cur, tok);
        if (cur == NULL)
            fail_msg("path %s: no %s", path, tok);
        tok = dot + 1;
    }
}

static json_t *get_path(json_t *root, const char *path)
{
    char buf[256];
    const char *key;
    size_t idx;
    json_t *c = walk(root, path, buf, sizeof buf, &key, &idx);
    json_t *v = key ? json_object_get(c, key) : json_array_get(c, idx);
    if (v == NULL)
        fail_msg("path %s not found", path);
    return v;
}

/* Set (val stolen) or delete (val NULL) the value at path. */
static void set_path(json_t *root, const char *path, json_t *val)
{
    char buf[256];
    const char *key;
    size_t idx;
    json_t *c = walk(root, path, buf, sizeof buf, &key, &idx);
    if (key != NULL) {
        if (val != NULL)
            assert_int_equal(json_object_set_new(c, key, val), 0);
        else
            assert_int_equal(json_object_del(c, key), 0);
    } else if (val == NULL) {
        assert_int_equal(json_array_remove(c, idx), 0);
    } else if (idx == json_array_size(c)) {
        assert_int_equal(json_array_append_new(c, val), 0);
    } else {
        assert_int_equal(json_array_set_new(c, idx, val), 0);
    }
}

/* A mutation value:
 *   NULL            delete the field
 *   "=path"         a copy of the template's value at path
 *   "^path"         the template's string at path in upper case
 *   "#N|unit|tail"  a string of N copies of unit followed by tail
 *   anything else   JSON text */
static json_t *make_value(const char *spec)
{
    if (spec[0] == '=')
        return json_deep_copy(get_path(tmpl, spec + 1));
    if (spec[0] == '^') {
        char *s = strdup(json_string_value(get_path(tmpl, spec + 1)));
        assert_non_null(s);
        for (char *p = s; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char)(*p - 'a' + 'A');
        json_t *v = json_string(s);
        free(s);
        return v;
    }
    if (spec[0] == '#') {
        char unit[32] = "", tail[64] = "";
        int n = 0;
        assert_true(sscanf(spec + 1, "%d|%31[^|]|%63s", &n, unit, tail) >= 2);
        size_t ul = strlen(unit), tl = strlen(tail);
        char *s = malloc((size_t)n * ul + tl + 1);
        assert_non_null(s);
        for (int i = 0; i < n; i++)
            memcpy(s + (size_t)i * ul, unit, ul);
        memcpy(s + (size_t)n * ul, tail, tl + 1);
        json_t *v = json_string(s);
        free(s);
        assert_non_null(v);
        return v;
    }
    json_error_t je;
    json_t *v = json_loads(spec, JSON_DECODE_ANY, &je);
    if (v == NULL)
        fail_msg("bad value %s: %s", spec, je.text);
    return v;
}

/* Serialise doc and parse it; returns the parser's result. */
static int parse_doc(json_t *doc, ledger_genesis **g, ledger_err *err)
{
    char *text = json_dumps(doc, JSON_INDENT(2));
    assert_non_null(text);
    ledger_err_clear(err);
    int rc = ledger_genesis_parse(text, strlen(text), g, err);
    free(text);
    return rc;
}

static void expect_fail_doc(json_t *doc, const char *want)
{
    ledger_genesis *g = (ledger_genesis *)1;
    ledger_err err;
    int rc = parse_doc(doc, &g, &err);
    if (rc == 0) {
        ledger_genesis_free(g);
        fail_msg("accepted; expected \"%s\"", want);
    }
    assert_int_equal(rc, -1);
    assert_null(g);
    assert_int_equal(err.code, LEDGER_ERR_INVALID);
    if (strncmp(err.msg, want, strlen(want)) != 0)
        fail_msg("message \"%s\" does not begin with \"%s\"", err.msg, want);
}

/* ---- the rule table ------------------------------------------------------ */

typedef struct {
    const char *path;
    const char *value;
} mutation;

typedef struct {
    const char *name;
    mutation m[3];
    const char *want; /* expected message prefix; NULL: must be accepted */
} rule_case;

#define DEL NULL
static const rule_case cases[] = {
    /* top level */
    {"top_level_unknown_field", {{"chian_id", "\"x\""}}, "unknown field \"chian_id\""},
    {"underscore_fields_are_comments_everywhere",
     {{"region._note", "1"}, {"departments[1].validator._x", "[]"},
      {"industries[0].items[0]._why", "\"because\""}}, NULL},
    {"chain_id_missing", {{"chain_id", DEL}}, "chain_id: missing"},
    {"chain_id_not_string", {{"chain_id", "7"}}, "chain_id: must be a string"},
    {"chain_id_empty", {{"chain_id", "\"\""}}, "chain_id: \"\" is not a chain id"},
    {"chain_id_bad_character", {{"chain_id", "\"permit chain\""}}, "chain_id: \"permit chain\""},
    {"chain_id_slash", {{"chain_id", "\"a/b\""}}, "chain_id: \"a/b\" is not a chain id"},
    {"chain_id_too_long", {{"chain_id", "#65|a"}}, "chain_id: "},
    {"chain_id_64_accepted", {{"chain_id", "#32|A.|"}}, NULL},
    {"genesis_time_missing", {{"genesis_time", DEL}}, "genesis_time: missing"},
    {"genesis_time_zero", {{"genesis_time", "0"}}, "genesis_time: 0 is out of range"},
    {"genesis_time_negative", {{"genesis_time", "-5"}}, "genesis_time: -5 is out of range"},
    {"genesis_time_string", {{"genesis_time", "\"1764288000000\""}},
     "genesis_time: must be an integer"},
    {"genesis_time_fraction", {{"genesis_time", "1764288000000.5"}},
     "genesis_time: must be an integer"},
    {"genesis_time_after_year_9999", {{"genesis_time", "253402300800000"}},
     "genesis_time: 253402300800000 is out of range"},
    /* region */
    {"region_missing", {{"region", DEL}}, "region: missing"},
    {"region_not_object", {{"region", "\"320411\""}}, "region: must be an object"},
    {"region_unknown_field", {{"region.kode", "\"320411\""}}, "region: unknown field \"kode\""},
    {"region_code_missing", {{"region.code", DEL}}, "region.code: missing"},
    {"region_code_number", {{"region.code", "320411"}}, "region.code: must be a string"},
    {"region_code_five_digits", {{"region.code", "\"32041\""}}, "region.code: \"32041\""},
    {"region_code_nine_digits", {{"region.code", "\"320411001\""}}, "region.code: "},
    {"region_code_all_zero", {{"region.code", "\"000000\""}}, "region.code: \"000000\""},
    {"region_name_missing", {{"region.name", DEL}}, "region.name: missing"},
    {"region_name_empty", {{"region.name", "\"\""}}, "region.name: must not be empty"},
    /* params */
    {"params_optional", {{"params", DEL}}, NULL},
    {"params_not_object", {{"params", "[]"}}, "params: must be an object"},
    {"params_unknown_field", {{"params.max_adresses", "3"}},
     "params: unknown field \"max_adresses\""},
    {"params_max_addresses_zero", {{"params.max_addresses", "0"}},
     "params.max_addresses: 0 is out of range 1..1000"},
    {"params_max_addresses_too_many", {{"params.max_addresses", "1001"}},
     "params.max_addresses: 1001 is out of range"},
    {"params_max_addresses_string", {{"params.max_addresses", "\"8\""}},
     "params.max_addresses: must be an integer"},
    {"params_max_addresses_1000_accepted", {{"params.max_addresses", "1000"}}, NULL},
    {"params_max_block_txs_zero", {{"params.max_block_txs", "0"}},
     "params.max_block_txs: 0 is out of range 1..100000"},
    {"params_max_block_txs_too_many", {{"params.max_block_txs", "100001"}},
     "params.max_block_txs: 100001 is out of range"},
    /* a block must hold one envelope of the largest size, and fit a p2p frame */
    {"params_max_block_bytes_below_one_envelope", {{"params.max_block_bytes", "16383"}},
     "params.max_block_bytes: 16383 is out of range 16384..33554432"},
    {"params_max_block_bytes_over_the_frame", {{"params.max_block_bytes", "33554433"}},
     "params.max_block_bytes: 33554433 is out of range"},
    {"params_tx_window_zero", {{"params.tx_window", "\"0s\""}},
     "params.tx_window: \"0s\" is not a duration"},
    {"params_tx_window_number", {{"params.tx_window", "3600"}},
     "params.tx_window: must be a string"},
    {"params_tx_window_over_100y", {{"params.tx_window", "\"101y\""}},
     "params.tx_window: \"101y\" is longer than 100y"},
    {"params_block_interval_bad_unit", {{"params.block_interval", "\"500us\""}},
     "params.block_interval: \"500us\" is not a duration"},
    {"params_heartbeat_bad", {{"params.heartbeat", "\"60\""}},
     "params.heartbeat: \"60\" is not a duration"},
    {"params_heartbeat_shorter_than_interval", {{"params.heartbeat", "\"1s\""}},
     "params.heartbeat: must not be shorter than block_interval"},
    /* departments */
    {"departments_missing", {{"departments", DEL}}, "departments: missing"},
    {"departments_not_array", {{"departments", "{}"}}, "departments: must be an array"},
    {"departments_empty", {{"departments", "[]"}}, "departments: must not be empty"},
    {"department_not_object", {{"departments[0]", "\"approval\""}},
     "departments[0]: must be an object"},
    {"department_unknown_field", {{"departments[0].seal", "\"x\""}},
     "departments[0]: unknown field \"seal\""},
    {"department_id_missing", {{"departments[1].id", DEL}}, "departments[1].id: missing"},
    {"department_id_upper_case", {{"departments[1].id", "\"Market\""}},
     "departments[1].id: \"Market\" is not a department id"},
    {"department_id_leading_digit", {{"departments[1].id", "\"1market\""}},
     "departments[1].id: \"1market\" is not a department id"},
    {"department_id_space", {{"departments[1].id", "\"mar ket\""}},
     "departments[1].id: \"mar ket\" is not a department id"},
    {"department_id_too_long", {{"departments[1].id", "#33|m"}}, "departments[1].id: "},
    {"department_id_32_accepted",
     {{"departments[1].id", "#31|m|_"}, {"industries[0].items[0].department", "#31|m|_"}},
     NULL},
    {"department_id_duplicate", {{"departments[3].id", "\"market\""}},
     "departments[3].id: duplicate department id \"market\""},
    {"department_name_missing", {{"departments[2].name", DEL}}, "departments[2].name: missing"},
    {"department_name_empty", {{"departments[2].name", "\"\""}},
     "departments[2].name: must not be empty"},
    {"department_name_not_string", {{"departments[2].name", "[\"烟草\"]"}},
     "departments[2].name: must be a string"},
    {"department_name_129_bytes", {{"departments[2].name", "#43|局"}},
     "departments[2].name: 129 bytes, more than the limit of 128"},
    {"department_name_128_bytes_accepted", {{"departments[2].name", "#42|局|ab"}}, NULL},
    {"department_name_line_break", {{"departments[2].name", "\"烟草\\n专卖局\""}},
     "departments[2].name: not valid single-line UTF-8"},
    {"department_name_tab", {{"departments[2].name", "\"烟草\\t专卖局\""}},
     "departments[2].name: not valid single-line UTF-8"},
    {"department_name_c1_control", {{"departments[2].name", "\"烟草\\u0085\""}},
     "departments[2].name: not valid single-line UTF-8"},
    {"department_name_escape_sequence", {{"departments[2].name", "\"\\u001b[31m\""}},
     "departments[2].name: not valid single-line UTF-8"},
    {"seal_key_missing", {{"departments[2].seal_key", DEL}}, "departments[2].seal_key: missing"},
    {"seal_key_not_hex", {{"departments[2].seal_key", "#64|z"}},
     "departments[2].seal_key: must be 64 hex digits"},
    {"seal_key_short", {{"departments[2].seal_key", "#62|a"}},
     "departments[2].seal_key: must be 64 hex digits"},
    {"seal_key_with_prefix", {{"departments[2].seal_key", "#32|ab|00"}},
     "departments[2].seal_key: must be 64 hex digits"},
    {"seal_key_off_curve", {{"departments[2].seal_key", "\"" OFF_CURVE "\""}},
     "departments[2].seal_key: not a valid x-only public key"},
    {"seal_key_over_field_size", {{"departments[2].seal_key", "\"" OVER_FIELD "\""}},
     "departments[2].seal_key: not a valid x-only public key"},
    {"seal_key_number", {{"departments[2].seal_key", "12"}},
     "departments[2].seal_key: must be a string"},
    {"seal_key_upper_case_hex_accepted", {{"departments[2].seal_key", "^departments[2].seal_key"}},
     NULL},
    {"validator_not_object", {{"departments[1].validator", "true"}},
     "departments[1].validator: must be an object"},
    {"validator_unknown_field", {{"departments[1].validator.rcp", "\"127.0.0.1:1\""}},
     "departments[1].validator: unknown field \"rcp\""},
    {"node_key_missing", {{"departments[1].validator.node_key", DEL}},
     "departments[1].validator.node_key: missing"},
    {"node_key_off_curve", {{"departments[1].validator.node_key", "\"" OFF_CURVE "\""}},
     "departments[1].validator.node_key: not a valid x-only public key"},
    {"node_key_not_hex", {{"departments[1].validator.node_key", "\"00\""}},
     "departments[1].validator.node_key: must be 64 hex digits"},
    {"p2p_missing", {{"departments[1].validator.p2p", DEL}},
     "departments[1].validator.p2p: missing"},
    {"p2p_without_port", {{"departments[1].validator.p2p", "\"127.0.0.1\""}},
     "departments[1].validator.p2p: \"127.0.0.1\": expected host:port"},
    {"p2p_empty_host", {{"departments[1].validator.p2p", "\":8646\""}},
     "departments[1].validator.p2p: \":8646\": host is empty"},
    {"p2p_port_zero", {{"departments[1].validator.p2p", "\"127.0.0.1:0\""}},
     "departments[1].validator.p2p: \"127.0.0.1:0\": port must be"},
    {"p2p_port_too_big", {{"departments[1].validator.p2p", "\"127.0.0.1:65536\""}},
     "departments[1].validator.p2p: \"127.0.0.1:65536\": port must be"},
    {"p2p_port_leading_zero", {{"departments[1].validator.p2p", "\"127.0.0.1:08646\""}},
     "departments[1].validator.p2p: \"127.0.0.1:08646\": port must be"},
    {"p2p_port_not_number", {{"departments[1].validator.p2p", "\"127.0.0.1:p2p\""}},
     "departments[1].validator.p2p: \"127.0.0.1:p2p\": port must be"},
    {"p2p_port_empty", {{"departments[1].validator.p2p", "\"127.0.0.1:\""}},
     "departments[1].validator.p2p: \"127.0.0.1:\": port must be"},
    {"p2p_host_with_space", {{"departments[1].validator.p2p", "\"node one:8646\""}},
     "departments[1].validator.p2p: \"node one:8646\": invalid character in host"},
    {"p2p_host_too_long", {{"departments[1].validator.p2p", "#254|a|:8646"}},
     "departments[1].validator.p2p: (value not shown): host is longer than 253"},
    {"p2p_host_253_accepted", {{"departments[1].validator.p2p", "#253|a|:8646"}}, NULL},
    {"p2p_ipv6_without_brackets", {{"departments[1].validator.p2p", "\"::1:8646\""}},
     "departments[1].validator.p2p: \"::1:8646\": IPv6 host must be in brackets"},
    {"p2p_ipv6_accepted", {{"departments[1].validator.p2p", "\"[::1]:65535\""}}, NULL},
    {"p2p_duplicate", {{"departments[2].validator.p2p", "=departments[1].validator.p2p"}},
     "departments[2].validator.p2p: address \"127.0.0.1:8646\" already used by departments[1]"},
    {"rpc_optional", {{"departments[1].validator.rpc", DEL}}, NULL},
    {"rpc_bad", {{"departments[1].validator.rpc", "\"localhost:rpc\""}},
     "departments[1].validator.rpc: \"localhost:rpc\": port must be"},
    {"rpc_not_string", {{"departments[1].validator.rpc", "8645"}},
     "departments[1].validator.rpc: must be a string"},
    {"no_validator",
     {{"departments[1].validator", DEL}, {"departments[2].validator", DEL}},
     "departments: no department runs a validator"},
    /* registrars */
    {"registrars_missing", {{"registrars", DEL}}, "registrars: missing"},
    {"registrars_not_array", {{"registrars", "{}"}}, "registrars: must be an array"},
    {"registrars_empty_accepted", {{"registrars", "[]"}}, NULL},
    {"registrar_not_object", {{"registrars[1]", "7"}}, "registrars[1]: must be an object"},
    {"registrar_unknown_field", {{"registrars[0].kee", "\"00\""}},
     "registrars[0]: unknown field \"kee\""},
    {"registrar_name_missing", {{"registrars[0].name", DEL}}, "registrars[0].name: missing"},
    {"registrar_name_empty", {{"registrars[0].name", "\"\""}},
     "registrars[0].name: must not be empty"},
    {"registrar_name_too_long", {{"registrars[0].name", "#129|w"}},
     "registrars[0].name: 129 bytes"},
    {"registrar_department_missing", {{"registrars[1].department", DEL}},
     "registrars[1].department: missing"},
    {"registrar_department_unknown", {{"registrars[1].department", "\"foo\""}},
     "registrars[1].department: unknown department \"foo\""},
    {"registrar_department_not_string", {{"registrars[1].department", "0"}},
     "registrars[1].department: must be a string"},
    {"registrar_key_missing", {{"registrars[1].key", DEL}}, "registrars[1].key: missing"},
    {"registrar_key_off_curve", {{"registrars[1].key", "\"" OFF_CURVE "\""}},
     "registrars[1].key: not a valid x-only public key"},
    {"registrar_key_not_hex", {{"registrars[1].key", "#64|g"}},
     "registrars[1].key: must be 64 hex digits"},
    /* industries */
    {"industries_missing", {{"industries", DEL}}, "industries: missing"},
    {"industries_not_array", {{"industries", "\"hotel\""}}, "industries: must be an array"},
    {"industries_empty", {{"industries", "[]"}}, "industries: must not be empty"},
    {"industry_not_object", {{"industries[1]", "null"}}, "industries[1]: must be an object"},
    {"industry_unknown_field", {{"industries[1].validty", "\"3y\""}},
     "industries[1]: unknown field \"validty\""},
    {"industry_code_missing", {{"industries[0].code", DEL}}, "industries[0].code: missing"},
    {"industry_code_upper_case", {{"industries[0].code", "\"Hotel2\""}},
     "industries[0].code: \"Hotel2\" is not an industry code"},
    {"industry_code_underscore", {{"industries[0].code", "\"convenience_store\""}},
     "industries[0].code: \"convenience_store\" is not an industry code"},
    {"industry_code_too_long", {{"industries[0].code", "#33|c"}}, "industries[0].code: "},
    {"industry_code_32_accepted", {{"industries[0].code", "#31|c|9"}}, NULL},
    {"industry_code_duplicate", {{"industries[1].code", "\"convenience-store\""}},
     "industries[1].code: duplicate industry code \"convenience-store\""},
    {"industry_name_missing", {{"industries[1].name", DEL}}, "industries[1].name: missing"},
    {"industry_name_empty", {{"industries[1].name", "\"\""}},
     "industries[1].name: must not be empty"},
    {"industry_name_too_long", {{"industries[1].name", "#43|店"}},
     "industries[1].name: 129 bytes"},
    {"industry_name_control", {{"industries[1].name", "\"宾\\u007f馆\""}},
     "industries[1].name: not valid single-line UTF-8"},
    {"validity_missing", {{"industries[0].validity", DEL}}, "industries[0].validity: missing"},
    {"validity_no_unit", {{"industries[0].validity", "\"5\""}},
     "industries[0].validity: \"5\" is not a duration"},
    {"validity_zero", {{"industries[0].validity", "\"0y\""}},
     "industries[0].validity: \"0y\" is not a duration"},
    {"validity_over_100y", {{"industries[0].validity", "\"36501d\""}},
     "industries[0].validity: \"36501d\" is longer than 100y"},
    {"validity_seconds_accepted", {{"industries[0].validity", "\"30s\""}}, NULL},
    {"commitment_allowed_missing", {{"industries[0].commitment_allowed", DEL}},
     "industries[0].commitment_allowed: missing"},
    {"commitment_allowed_not_boolean", {{"industries[0].commitment_allowed", "1"}},
     "industries[0].commitment_allowed: must be true or false"},
    {"verify_within_required_with_commitment", {{"industries[0].verify_within", DEL}},
     "industries[0].verify_within: missing (required when commitment_allowed is true)"},
    {"verify_within_bad", {{"industries[0].verify_within", "\"30 d\""}},
     "industries[0].verify_within: \"30 d\" is not a duration"},
    {"verify_within_without_commitment_accepted", {{"industries[1].verify_within", "\"10d\""}},
     NULL},
    {"renew_window_bad", {{"industries[1].renew_window", "\"-60d\""}},
     "industries[1].renew_window: \"-60d\" is not a duration"},
    {"grace_bad", {{"industries[1].grace", "\"1w\""}},
     "industries[1].grace: \"1w\" is not a duration"},
    {"grace_not_string", {{"industries[1].grace", "30"}}, "industries[1].grace: must be a string"},
    {"items_missing", {{"industries[1].items", DEL}}, "industries[1].items: missing"},
    {"items_not_array", {{"industries[1].items", "{}"}}, "industries[1].items: must be an array"},
    {"items_empty", {{"industries[1].items", "[]"}}, "industries[1].items: must not be empty"},
    {"item_not_object", {{"industries[0].items[1]", "\"烟草专卖零售许可\""}},
     "industries[0].items[1]: must be an object"},
    {"item_unknown_field", {{"industries[0].items[1].dept", "\"tobacco\""}},
     "industries[0].items[1]: unknown field \"dept\""},
    {"item_instant_accepted", {{"industries[0].items[0].instant", "true"}}, NULL},
    {"item_instant_false_accepted", {{"industries[1].items[0].instant", "false"}}, NULL},
    {"item_instant_not_boolean", {{"industries[0].items[0].instant", "1"}},
     "industries[0].items[0].instant: must be true or false"},
    {"item_instant_without_commitment", {{"industries[1].items[0].instant", "true"}},
     "industries[1].items[0].instant: true only where the industry allows the commitment route"},
    {"params_instant_ban_accepted", {{"params.instant_ban", "\"30d\""}}, NULL},
    {"params_instant_ban_bad", {{"params.instant_ban", "\"a year\""}},
     "params.instant_ban: \"a year\" is not a duration"},
    {"item_department_unknown", {{"industries[0].items[1].department", "\"foo\""}},
     "industries[0].items[1].department: unknown department \"foo\""},
    {"item_department_missing", {{"industries[0].items[1].department", DEL}},
     "industries[0].items[1].department: missing"},
    {"item_department_wrong_case", {{"industries[0].items[1].department", "\"Tobacco\""}},
     "industries[0].items[1].department: unknown department \"Tobacco\""},
    {"item_permit_missing", {{"industries[0].items[0].permit", DEL}},
     "industries[0].items[0].permit: missing"},
    {"item_permit_empty", {{"industries[0].items[0].permit", "\"\""}},
     "industries[0].items[0].permit: must not be empty"},
    {"item_permit_257_bytes", {{"industries[0].items[0].permit", "#85|证|ab"}},
     "industries[0].items[0].permit: 257 bytes, more than the limit of 256"},
    {"item_permit_256_bytes_accepted", {{"industries[0].items[0].permit", "#85|证|a"}}, NULL},
    {"item_permit_line_break", {{"industries[0].items[0].permit", "\"食品\\r\\n经营许可\""}},
     "industries[0].items[0].permit: not valid single-line UTF-8"},
    {"item_permit_duplicate", {{"industries[0].items[1].permit", "=industries[0].items[0].permit"}},
     "industries[0].items[1].permit: duplicate permit in this industry (also items[0])"},
    {"item_same_department_twice_accepted",
     {{"industries[0].items[1].department", "\"market\""}}, NULL},
    /* keys used twice */
    {"key_reuse_seal_seal", {{"departments[3].seal_key", "=departments[0].seal_key"}},
     "departments[3].seal_key: key already used at departments[0].seal_key"},
    {"key_reuse_seal_as_own_node_key",
     {{"departments[1].validator.node_key", "=departments[1].seal_key"}},
     "departments[1].validator.node_key: key already used at departments[1].seal_key"},
    {"key_reuse_node_key_as_seal", {{"departments[2].seal_key", "=departments[1].validator.node_key"}},
     "departments[2].seal_key: key already used at departments[1].validator.node_key"},
    {"key_reuse_node_node",
     {{"departments[2].validator.node_key", "=departments[1].validator.node_key"}},
     "departments[2].validator.node_key: key already used at departments[1].validator.node_key"},
    {"key_reuse_registrar_seal", {{"registrars[0].key", "=departments[3].seal_key"}},
     "registrars[0].key: key already used at departments[3].seal_key"},
    {"key_reuse_registrar_node", {{"registrars[1].key", "=departments[2].validator.node_key"}},
     "registrars[1].key: key already used at departments[2].validator.node_key"},
    {"key_reuse_registrar_registrar", {{"registrars[1].key", "=registrars[0].key"}},
     "registrars[1].key: key already used at registrars[0].key"},
    {"key_reuse_ignores_hex_case", {{"registrars[1].key", "^registrars[0].key"}},
     "registrars[1].key: key already used at registrars[0].key"},
};
#define N_CASES (sizeof cases / sizeof cases[0])

static void run_case(void **state)
{
    const rule_case *c = *state;
    json_t *doc = json_deep_copy(tmpl);
    assert_non_null(doc);
    for (size_t i = 0; i < 3 && c->m[i].path != NULL; i++)
        set_path(doc, c->m[i].path, c->m[i].value ? make_value(c->m[i].value) : NULL);
    if (c->want != NULL) {
        expect_fail_doc(doc, c->want);
    } else {
        ledger_genesis *g = NULL;
        ledger_err err;
        if (parse_doc(doc, &g, &err) != 0)
            fail_msg("refused: %s", err.msg);
        ledger_genesis_free(g);
    }
    json_decref(doc);
}

/* ---- behaviour tests ----------------------------------------------------- */

static void test_template_is_accepted_and_fully_parsed(void **state)
{
    (void)state;
    char *text = json_dumps(tmpl, JSON_INDENT(2));
    assert_non_null(text);
    size_t len = strlen(text);
    ledger_genesis *g = NULL;
    ledger_err err;
    if (ledger_genesis_parse(text, len, &g, &err) != 0)
        fail_msg("refused: %s", err.msg);

    assert_string_equal(g->chain_id, "permitchain-320411-test");
    assert_int_equal(g->genesis_time_ms, 1764288000000ULL);
    assert_string_equal(g->region, "320411");
    assert_string_equal(g->region_name, "常州市新北区");
    assert_int_equal(g->params.max_addresses, 8);
    assert_int_equal(g->params.tx_window_ms, 30 * 60000);
    assert_int_equal(g->params.max_block_txs, 500);
    assert_int_equal(g->params.block_interval_ms, 2000);
    assert_int_equal(g->params.heartbeat_ms, 30000);

    assert_int_equal(g->n_departments, 4);
    const char *ids[] = {"approval", "market", "tobacco", "fire"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(g->departments[i].id, ids[i]);
        assert_memory_equal(g->departments[i].seal.raw, seal_kp[i].pub, 32);
    }
    assert_string_equal(g->departments[1].name, "市场监督管理局");
    assert_false(g->departments[0].validator);
    assert_null(g->departments[0].p2p);
    assert_null(g->departments[0].rpc);
    assert_true(g->departments[1].validator);
    assert_memory_equal(g->departments[1].node.raw, node_kp[0].pub, 32);
    assert_string_equal(g->departments[1].p2p, "127.0.0.1:8646");
    assert_string_equal(g->departments[1].rpc, "127.0.0.1:8645");
    assert_true(g->departments[2].validator);
    assert_string_equal(g->departments[2].p2p, "node2.example:8648");
    assert_null(g->departments[2].rpc);
    assert_false(g->departments[3].validator);

    assert_int_equal(g->n_validators, 2);
    assert_int_equal(g->validators[0], 1);
    assert_int_equal(g->validators[1], 2);

    assert_int_equal(g->n_registrars, 2);
    assert_string_equal(g->registrars[1].name, "政务服务中心2号窗口");
    assert_string_equal(g->registrars[1].department, "approval");
    assert_int_equal(g->registrars[1].dept, 0);
    assert_memory_equal(g->registrars[1].key.raw, reg_kp[1].pub, 32);

    assert_int_equal(g->n_industries, 2);
    const ledger_industry *cs = &g->industries[0];
    assert_string_equal(cs->code, "convenience-store");
    assert_string_equal(cs->name, "便利店");
    assert_int_equal(cs->validity_ms, 5 * 365 * DAY);
    assert_true(cs->commitment_allowed);
    assert_int_equal(cs->verify_within_ms, 30 * DAY);
    assert_int_equal(cs->renew_window_ms, 90 * DAY); /* default */
    assert_int_equal(cs->grace_ms, 180 * DAY);       /* default */
    assert_int_equal(cs->n_items, 2);
    assert_string_equal(cs->items[1].permit, "烟草专卖零售许可");
    assert_string_equal(cs->items[1].department, "tobacco");
    assert_int_equal(cs->items[1].dept, 2);
    const ledger_industry *h = &g->industries[1];
    assert_false(h->commitment_allowed);
    assert_int_equal(h->verify_within_ms, 0);
    assert_int_equal(h->validity_ms, 3 * 365 * DAY);
    assert_int_equal(h->renew_window_ms, 60 * DAY);
    assert_int_equal(h->grace_ms, 30 * DAY);
    assert_int_equal(h->items[0].dept, 3);

    uint8_t want[32];
    ledger_sha256(text, len, want);
    assert_memory_equal(g->hash, want, 32);
    ledger_genesis_free(g);
    free(text);
}

static void test_params_default_when_absent(void **state)
{
    (void)state;
    json_t *doc = json_deep_copy(tmpl);
    set_path(doc, "params", NULL);
    ledger_genesis *g;
    ledger_err err;
    assert_int_equal(parse_doc(doc, &g, &err), 0);
    assert_int_equal(g->params.max_addresses, 32);
    assert_int_equal(g->params.tx_window_ms, 3600000);
    assert_int_equal(g->params.max_block_txs, 10000);
    assert_int_equal(g->params.max_block_bytes, 16u << 20);
    assert_int_equal(g->params.block_interval_ms, 1000);
    assert_int_equal(g->params.heartbeat_ms, 60000);
    ledger_genesis_free(g);

    /* each field defaults on its own */
    set_path(doc, "params", make_value("{\"heartbeat\": \"5m\"}"));
    assert_int_equal(parse_doc(doc, &g, &err), 0);
    assert_int_equal(g->params.heartbeat_ms, 300000);
    assert_int_equal(g->params.max_addresses, 32);
    assert_int_equal(g->params.block_interval_ms, 1000);
    ledger_genesis_free(g);
    json_decref(doc);
}

static void test_hash_covers_the_exact_bytes(void **state)
{
    (void)state;
    char *a = json_dumps(tmpl, JSON_COMPACT);
    char *b = json_dumps(tmpl, JSON_INDENT(4));
    ledger_genesis *ga, *gb;
    ledger_err err;
    assert_int_equal(ledger_genesis_parse(a, strlen(a), &ga, &err), 0);
    assert_int_equal(ledger_genesis_parse(b, strlen(b), &gb, &err), 0);
    /* same content, different bytes: different genesis hash, same validators */
    assert_memory_not_equal(ga->hash, gb->hash, 32);
    assert_memory_equal(ga->validators_hash, gb->validators_hash, 32);
    uint8_t want[32];
    ledger_sha256(b, strlen(b), want);
    assert_memory_equal(gb->hash, want, 32);
    ledger_genesis_free(ga);
    ledger_genesis_free(gb);
    free(a);
    free(b);
}

static void test_validators_hash_layout(void **state)
{
    (void)state;
    ledger_genesis *g;
    ledger_err err;
    assert_int_equal(parse_doc(tmpl, &g, &err), 0);
    /* u16 count || node_key || seal_key per validator, in genesis order */
    uint8_t buf[2 + 2 * 64];
    buf[0] = 0;
    buf[1] = 2;
    memcpy(buf + 2, node_kp[0].pub, 32);
    memcpy(buf + 34, seal_kp[1].pub, 32);
    memcpy(buf + 66, node_kp[1].pub, 32);
    memcpy(buf + 98, seal_kp[2].pub, 32);
    uint8_t want[32];
    ledger_sha256(buf, sizeof buf, want);
    assert_memory_equal(g->validators_hash, want, 32);
    ledger_genesis_free(g);

    /* a different validator set hashes differently */
    json_t *doc = json_deep_copy(tmpl);
    set_path(doc, "departments[2].validator", NULL);
    assert_int_equal(parse_doc(doc, &g, &err), 0);
    assert_int_equal(g->n_validators, 1);
    uint8_t one[2 + 64] = {0, 1};
    memcpy(one + 2, node_kp[0].pub, 32);
    memcpy(one + 34, seal_kp[1].pub, 32);
    ledger_sha256(one, sizeof one, want);
    assert_memory_equal(g->validators_hash, want, 32);
    ledger_genesis_free(g);
    json_decref(doc);
}

static void test_lookups_find_each_key_in_its_role(void **state)
{
    (void)state;
    ledger_genesis *g;
    ledger_err err;
    assert_int_equal(parse_doc(tmpl, &g, &err), 0);
    for (int i = 0; i < N_SEALS; i++) {
        assert_int_equal(ledger_genesis_seal_dept(g, seal_kp[i].pub), i);
        assert_null(ledger_genesis_registrar(g, seal_kp[i].pub));
        assert_int_equal(ledger_genesis_validator_index(g, seal_kp[i].pub), -1);
    }
    for (int i = 0; i < N_NODES; i++) {
        assert_int_equal(ledger_genesis_validator_index(g, node_kp[i].pub), i);
        assert_int_equal(ledger_genesis_seal_dept(g, node_kp[i].pub), -1);
        assert_null(ledger_genesis_registrar(g, node_kp[i].pub));
    }
    for (int i = 0; i < N_REGS; i++) {
        assert_ptr_equal(ledger_genesis_registrar(g, reg_kp[i].pub), &g->registrars[i]);
        assert_int_equal(ledger_genesis_seal_dept(g, reg_kp[i].pub), -1);
    }
    uint8_t none[32] = {0};
    assert_int_equal(ledger_genesis_seal_dept(g, none), -1);
    assert_null(ledger_genesis_registrar(g, none));
    assert_int_equal(ledger_genesis_validator_index(g, none), -1);
    memset(none, 0xff, sizeof none);
    assert_int_equal(ledger_genesis_seal_dept(g, none), -1);
    assert_int_equal(ledger_genesis_dept_index(g, "tobacco"), 2);
    assert_int_equal(ledger_genesis_dept_index(g, "police"), -1);
    assert_int_equal(ledger_genesis_dept_index(g, NULL), -1);
    assert_ptr_equal(ledger_genesis_industry(g, "hotel"), &g->industries[1]);
    assert_ptr_equal(ledger_genesis_industry(g, "convenience-store"), &g->industries[0]);
    assert_null(ledger_genesis_industry(g, "gym"));
    assert_null(ledger_genesis_industry(g, NULL));
    assert_null(ledger_genesis_registrar(NULL, reg_kp[0].pub));
    assert_null(ledger_genesis_registrar(g, NULL));
    ledger_genesis_free(g);
}

/* Many registrars and industries: every one is found by binary search. */
static void test_lookups_scale_to_many_entries(void **state)
{
    (void)state;
    enum { NR = 600, NI = 200 };
    static ledger_keypair kp[NR];
    json_t *doc = json_deep_copy(tmpl);
    json_t *regs = json_array(), *inds = json_array();
    for (int i = 0; i < NR; i++) {
        assert_int_equal(ledger_keygen(&kp[i], NULL), 0);
        char name[32];
        snprintf(name, sizeof name, "窗口%d", i);
        json_array_append_new(regs, json_pack("{s:s, s:s, s:o}", "name", name, "department",
                                              i % 2 ? "market" : "approval", "key",
                                              hexkey(&kp[i])));
    }
    for (int i = 0; i < NI; i++) {
        char code[32];
        snprintf(code, sizeof code, "ind-%03d", (i * 7919) % NI); /* unsorted order */
        json_array_append_new(inds, json_pack("{s:s, s:s, s:s, s:b, s:[{s:s, s:s}]}", "code",
                                              code, "name", code, "validity", "1y",
                                              "commitment_allowed", 0, "items", "permit",
                                              "许可", "department", "fire"));
    }
    set_path(doc, "registrars", regs);
    set_path(doc, "industries", inds);
    ledger_genesis *g;
    ledger_err err;
    if (parse_doc(doc, &g, &err) != 0)
        fail_msg("refused: %s", err.msg);
    for (int i = 0; i < NR; i++) {
        const ledger_registrar *r = ledger_genesis_registrar(g, kp[i].pub);
        assert_ptr_equal(r, &g->registrars[i]);
        assert_int_equal(r->dept, i % 2 ? 1 : 0);
        ledger_keypair_wipe(&kp[i]);
    }
    for (int i = 0; i < NI; i++) {
        const ledger_industry *ind = ledger_genesis_industry(g, g->industries[i].code);
        assert_ptr_equal(ind, &g->industries[i]);
    }
    assert_null(ledger_genesis_industry(g, "ind-200"));
    assert_null(ledger_genesis_industry(g, "ind-"));
    for (int i = 0; i < N_SEALS; i++)
        assert_int_equal(ledger_genesis_seal_dept(g, seal_kp[i].pub), i);
    ledger_genesis_free(g);
    json_decref(doc);
}

/* A genesis assembled by hand has no index: lookups scan instead. */
static void test_lookups_work_without_index(void **state)
{
    (void)state;
    ledger_department d[2] = {0};
    ledger_registrar r[1] = {0};
    ledger_industry ind[1] = {0};
    int validators[1] = {1};
    d[0].id = "approval";
    memcpy(d[0].seal.raw, seal_kp[0].pub, 32);
    d[1].id = "market";
    memcpy(d[1].seal.raw, seal_kp[1].pub, 32);
    d[1].validator = 1;
    memcpy(d[1].node.raw, node_kp[0].pub, 32);
    memcpy(r[0].key.raw, reg_kp[0].pub, 32);
    ind[0].code = "hotel";
    ledger_genesis g = {0};
    g.departments = d;
    g.n_departments = 2;
    g.registrars = r;
    g.n_registrars = 1;
    g.industries = ind;
    g.n_industries = 1;
    g.validators = validators;
    g.n_validators = 1;
    assert_int_equal(ledger_genesis_seal_dept(&g, seal_kp[1].pub), 1);
    assert_int_equal(ledger_genesis_seal_dept(&g, reg_kp[0].pub), -1);
    assert_ptr_equal(ledger_genesis_registrar(&g, reg_kp[0].pub), &r[0]);
    assert_int_equal(ledger_genesis_validator_index(&g, node_kp[0].pub), 0);
    assert_ptr_equal(ledger_genesis_industry(&g, "hotel"), &ind[0]);
    assert_null(ledger_genesis_industry(&g, "gym"));
}

static void test_refuses_non_json_and_duplicate_members(void **state)
{
    (void)state;
    ledger_genesis *g = (ledger_genesis *)1;
    ledger_err err;
    const char *bad = "{\"chain_id\": \"a\",";
    assert_int_equal(ledger_genesis_parse(bad, strlen(bad), &g, &err), -1);
    assert_null(g);
    assert_int_equal(err.code, LEDGER_ERR_INVALID);
    assert_non_null(strstr(err.msg, "not valid JSON"));

    /* duplicate members are refused, not silently resolved */
    char *text = json_dumps(tmpl, JSON_COMPACT);
    size_t len = strlen(text);
    char *dup = malloc(len + 64);
    assert_non_null(dup);
    snprintf(dup, len + 64, "{\"chain_id\":\"other\",%s", text + 1);
    assert_int_equal(ledger_genesis_parse(dup, strlen(dup), &g, &err), -1);
    assert_non_null(strstr(err.msg, "duplicate"));
    free(dup);

    /* trailing garbage after the document */
    char *trail = malloc(len + 8);
    memcpy(trail, text, len);
    memcpy(trail + len, " {}", 4);
    assert_int_equal(ledger_genesis_parse(trail, len + 3, &g, &err), -1);
    assert_non_null(strstr(err.msg, "not valid JSON"));
    free(trail);
    /* the length is honoured: the same bytes without the garbage parse */
    free(text);

    assert_int_equal(ledger_genesis_parse("[]", 2, &g, &err), -1);
    assert_string_equal(err.msg, "the genesis document must be a JSON object");
    assert_int_equal(ledger_genesis_parse("", 0, &g, &err), -1);
    assert_int_equal(ledger_genesis_parse("\"x\"", 3, &g, &err), -1);
}

static void test_input_not_nul_terminated(void **state)
{
    (void)state;
    char *text = json_dumps(tmpl, JSON_COMPACT);
    size_t len = strlen(text);
    char *buf = malloc(len); /* exactly len bytes, no terminator */
    memcpy(buf, text, len);
    ledger_genesis *g;
    ledger_err err;
    assert_int_equal(ledger_genesis_parse(buf, len, &g, &err), 0);
    ledger_genesis_free(g);
    free(buf);
    free(text);
}

static void test_refuses_oversized_documents(void **state)
{
    (void)state;
    size_t n = LEDGER_MAX_GENESIS_BYTES + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    ledger_genesis *g;
    ledger_err err;
    assert_int_equal(ledger_genesis_parse(big, n, &g, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_INVALID);
    assert_non_null(strstr(err.msg, "more than the limit"));
    free(big);
}

static json_t *repeated(json_t *one, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_deep_copy(one));
    return a;
}

static void test_refuses_too_many_entries(void **state)
{
    (void)state;
    struct {
        const char *path, *elem;
        size_t n;
        const char *want;
    } c[] = {
        {"departments", "departments[0]", LEDGER_MAX_DEPARTMENTS + 1,
         "departments: 65 entries, more than the limit of 64"},
        {"registrars", "registrars[0]", LEDGER_MAX_REGISTRARS + 1,
         "registrars: 1025 entries, more than the limit of 1024"},
        {"industries", "industries[0]", LEDGER_MAX_INDUSTRIES + 1,
         "industries: 257 entries, more than the limit of 256"},
        {"industries[0].items", "industries[0].items[0]", LEDGER_MAX_ITEMS + 1,
         "industries[0].items: 17 entries, more than the limit of 16"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        json_t *doc = json_deep_copy(tmpl);
        set_path(doc, c[i].path, repeated(get_path(tmpl, c[i].elem), c[i].n));
        expect_fail_doc(doc, c[i].want);
        json_decref(doc);
    }
}

static void test_accepts_the_limits(void **state)
{
    (void)state;
    /* 16 items (distinct permits) */
    json_t *doc = json_deep_copy(tmpl);
    json_t *items = json_array();
    for (int i = 0; i < LEDGER_MAX_ITEMS; i++) {
        char p[32];
        snprintf(p, sizeof p, "许可%d", i);
        json_array_append_new(items, json_pack("{s:s, s:s}", "permit", p, "department", "fire"));
    }
    set_path(doc, "industries[0].items", items);
    /* 64 departments, all validators */
    json_t *depts = json_array();
    static ledger_keypair k[2 * LEDGER_MAX_DEPARTMENTS];
    for (int i = 0; i < LEDGER_MAX_DEPARTMENTS; i++) {
        char id[16], addr[32];
        snprintf(id, sizeof id, "d%d", i);
        snprintf(addr, sizeof addr, "10.0.0.%d:8646", i);
        assert_int_equal(ledger_keygen(&k[2 * i], NULL), 0);
        assert_int_equal(ledger_keygen(&k[2 * i + 1], NULL), 0);
        json_array_append_new(depts,
                              json_pack("{s:s, s:s, s:o, s:{s:o, s:s}}", "id",
                                        i == 0 ? "approval" : i == 1 ? "fire" : id, "name", id,
                                        "seal_key", hexkey(&k[2 * i]), "validator", "node_key",
                                        hexkey(&k[2 * i + 1]), "p2p", addr));
    }
    set_path(doc, "departments", depts);
    set_path(doc, "industries[1].items[0].department", make_value("\"fire\""));
    ledger_genesis *g;
    ledger_err err;
    if (parse_doc(doc, &g, &err) != 0)
        fail_msg("refused: %s", err.msg);
    assert_int_equal(g->n_departments, 64);
    assert_int_equal(g->n_validators, 64);
    assert_int_equal(g->industries[0].n_items, 16);
    for (int i = 0; i < LEDGER_MAX_DEPARTMENTS; i++) {
        assert_int_equal(ledger_genesis_validator_index(g, k[2 * i + 1].pub), i);
        assert_int_equal(ledger_genesis_seal_dept(g, k[2 * i].pub), i);
    }
    ledger_genesis_free(g);
    json_decref(doc);
}

static void test_accepts_the_example_catalogue(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s/../catalogue-example.json", tu_vectors_dir());
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (doc == NULL) {
        print_message("no catalogue at %s: %s\n", path, je.text);
        skip();
    }
    json_t *depts = json_object_get(doc, "departments");
    size_t n = json_array_size(depts);
    assert_true(n >= 1);
    ledger_keypair *k = calloc(2 * n + 1, sizeof *k);
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(depts, i);
        assert_int_equal(ledger_keygen(&k[2 * i], NULL), 0);
        json_object_set_new(d, "seal_key", hexkey(&k[2 * i]));
        if (i < 4) {
            char addr[32];
            assert_int_equal(ledger_keygen(&k[2 * i + 1], NULL), 0);
            snprintf(addr, sizeof addr, "127.0.0.1:%zu", 8646 + 2 * i);
            json_object_set_new(d, "validator", json_pack("{s:o, s:s}", "node_key",
                                                          hexkey(&k[2 * i + 1]), "p2p", addr));
        }
    }
    assert_int_equal(ledger_keygen(&k[2 * n], NULL), 0);
    json_object_set_new(doc, "chain_id", json_string("permitchain-320411-dev"));
    json_object_set_new(doc, "genesis_time", json_integer(1764288000000LL));
    json_object_set_new(doc, "region", json_pack("{s:s, s:s}", "code", "320411", "name",
                                                 "常州市新北区"));
    json_object_set_new(doc, "registrars",
                        json_pack("[{s:s, s:s, s:o}]", "name", "政务服务中心1号窗口",
                                  "department", "approval", "key", hexkey(&k[2 * n])));
    ledger_genesis *g;
    ledger_err err;
    if (parse_doc(doc, &g, &err) != 0)
        fail_msg("catalogue refused: %s", err.msg);
    assert_int_equal(g->n_departments, n);
    assert_int_equal(g->n_validators, 4);
    const ledger_industry *cs = ledger_genesis_industry(g, "convenience-store");
    assert_non_null(cs);
    assert_true(cs->commitment_allowed);
    assert_int_equal(cs->verify_within_ms, 30 * DAY);
    const ledger_industry *ph = ledger_genesis_industry(g, "pharmacy");
    assert_non_null(ph);
    assert_false(ph->commitment_allowed);
    ledger_genesis_free(g);
    free(k);
    json_decref(doc);
}

/* The example in docs/genesis.md is a valid genesis. */
static void test_docs_example_is_valid(void **state)
{
    (void)state;
    char *md = tu_read_file(PERMIT_SOURCE_DIR "/docs/genesis.md", NULL);
    assert_non_null(md);
    char *start = strstr(md, "```json\n");
    assert_non_null(start);
    start += 8;
    char *end = strstr(start, "\n```");
    assert_non_null(end);
    ledger_genesis *g;
    ledger_err err;
    if (ledger_genesis_parse(start, (size_t)(end - start), &g, &err) != 0)
        fail_msg("docs/genesis.md example refused: %s", err.msg);
    assert_string_equal(g->chain_id, "permitchain-320411-dev");
    assert_int_equal(g->n_validators, 2);
    assert_int_equal(g->industries[0].renew_window_ms, 90 * DAY);
    ledger_genesis_free(g);
    free(md);
}

static void test_load_reads_a_file_and_names_it_in_errors(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("genesis");
    char path[512];
    snprintf(path, sizeof path, "%s/genesis.json", dir);
    char *text = json_dumps(tmpl, JSON_INDENT(2));
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    ledger_genesis *g;
    ledger_err err;
    if (ledger_genesis_load(path, &g, &err) != 0)
        fail_msg("load: %s", err.msg);
    uint8_t want[32];
    ledger_sha256(text, strlen(text), want);
    assert_memory_equal(g->hash, want, 32);
    ledger_genesis_free(g);
    free(text);

    /* a rule failure keeps the field path after the file name */
    json_t *doc = json_deep_copy(tmpl);
    set_path(doc, "departments[2].seal_key", make_value("\"" OFF_CURVE "\""));
    assert_int_equal(json_dump_file(doc, path, 0), 0);
    json_decref(doc);
    assert_int_equal(ledger_genesis_load(path, &g, &err), -1);
    assert_null(g);
    char want_msg[600];
    snprintf(want_msg, sizeof want_msg,
             "%s: departments[2].seal_key: not a valid x-only public key", path);
    assert_string_equal(err.msg, want_msg);

    /* missing file */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope.json", dir);
    assert_int_equal(ledger_genesis_load(missing, &g, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_IO);
    assert_non_null(strstr(err.msg, "nope.json"));

    /* a directory */
    assert_int_equal(ledger_genesis_load(dir, &g, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_INVALID);

    /* too big: refused from its size, before reading */
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (off_t)LEDGER_MAX_GENESIS_BYTES + 1), 0);
    fclose(f);
    assert_int_equal(ledger_genesis_load(path, &g, &err), -1);
    assert_int_equal(err.code, LEDGER_ERR_INVALID);
    assert_non_null(strstr(err.msg, "more than the genesis limit"));

    tu_rmrf(dir);
    free(dir);
}

static void test_free_accepts_null(void **state)
{
    (void)state;
    ledger_genesis_free(NULL);
}

#define FIXED_TESTS 16
static struct CMUnitTest tests[FIXED_TESTS + N_CASES] = {
    cmocka_unit_test(test_template_is_accepted_and_fully_parsed),
    cmocka_unit_test(test_params_default_when_absent),
    cmocka_unit_test(test_hash_covers_the_exact_bytes),
    cmocka_unit_test(test_validators_hash_layout),
    cmocka_unit_test(test_lookups_find_each_key_in_its_role),
    cmocka_unit_test(test_lookups_scale_to_many_entries),
    cmocka_unit_test(test_lookups_work_without_index),
    cmocka_unit_test(test_refuses_non_json_and_duplicate_members),
    cmocka_unit_test(test_input_not_nul_terminated),
    cmocka_unit_test(test_refuses_oversized_documents),
    cmocka_unit_test(test_refuses_too_many_entries),
    cmocka_unit_test(test_accepts_the_limits),
    cmocka_unit_test(test_accepts_the_example_catalogue),
    cmocka_unit_test(test_docs_example_is_valid),
    cmocka_unit_test(test_load_reads_a_file_and_names_it_in_errors),
    cmocka_unit_test(test_free_accepts_null),
};

int main(void)
{
    size_t fixed = 0;
    while (fixed < FIXED_TESTS && tests[fixed].name != NULL)
        fixed++;
    static char names[N_CASES][96];
    for (size_t i = 0; i < N_CASES; i++) {
        snprintf(names[i], sizeof names[i], "rule_%s", cases[i].name);
        tests[fixed + i] = (struct CMUnitTest){names[i], run_case, NULL, NULL,
                                               (void *)&cases[i]};
    }
    return _cmocka_run_group_tests("test_genesis", tests, fixed + N_CASES, group_setup,
                                   group_teardown);
}
