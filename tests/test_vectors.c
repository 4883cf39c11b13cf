/* Known-answer vectors for every canonical byte layout of docs/formats.md.
 *
 * tests/vectors/formats.json is written by tests/vectors/gen.py, a Python
 * program made from docs/formats.md alone (hashlib; no code shared with
 * this C implementation).  Each test rebuilds the structure with the C code
 * from the vector's fields and compares the bytes and hashes, and decodes
 * the bytes back where a decoder exists.  So a silent change of one byte in
 * a signed or hashed layout (a tag, a field's width or order, a length
 * prefix) fails here, even though every other test would go on agreeing
 * with itself.  This test never runs Python: make vectors does. */
#include "testutil.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ledger/block.h"
#include "ledger/bundle.h"
#include "ledger/gov.h"
#include "ledger/hash.h"
#include "ledger/hex.h"
#include "ledger/instant.h"
#include "ledger/license.h"
#include "ledger/merkle.h"
#include "ledger/smt.h"
#include "ledger/tx.h"
#include "node/handshake.h"

static json_t *g_doc;

static int setup(void **state)
{
    (void)state;
    json_error_t jerr;
    g_doc = json_load_file(PERMIT_SOURCE_DIR "/tests/vectors/formats.json", 0, &jerr);
    if (g_doc == NULL)
        fail_msg("tests/vectors/formats.json: %s (line %d)", jerr.text, jerr.line);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(g_doc);
    return 0;
}

static json_t *section(const char *name)
{
    json_t *s = json_object_get(g_doc, name);
    if (s == NULL)
        fail_msg("formats.json has no \"%s\"", name);
    return s;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (s == NULL)
        fail_msg("vector lacks string \"%s\"", k);
    return s;
}

static uint64_t num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("vector lacks integer \"%s\"", k);
    return (uint64_t)json_integer_value(v);
}

/* A hex field as bytes (malloc'd). */
static uint8_t *hex(json_t *o, const char *k, size_t *len)
{
    size_t n;
    uint8_t *b = tu_unhex(str(o, k), &n);
    assert_non_null(b);
    if (len)
        *len = n;
    return b;
}

/* A 32-byte hex field. */
static void h32(json_t *o, const char *k, uint8_t out[32])
{
    assert_int_equal(ledger_hex_decode_exact(str(o, k), out, 32), 0);
}

static void assert_hex(const uint8_t *got, size_t len, json_t *o, const char *k)
{
    size_t n;
    uint8_t *want = hex(o, k, &n);
    if (n != len || memcmp(got, want, n) != 0) {
        char *g = malloc(2 * len + 1);
        assert_non_null(g);
        ledger_hex_encode(got, len, g);
        fail_msg("%s differs:\n  want %s\n  got  %s", k, str(o, k), g);
    }
    free(want);
}

/* ---- transactions ---- */

static void test_tx_envelope_id_and_sighash(void **state)
{
    (void)state;
    size_t i;
    json_t *v;
    json_array_foreach(section("tx"), i, v) {
        const char *chain = str(v, "chain_id");
        size_t blen, elen;
        uint8_t *body = hex(v, "body", &blen), *env = hex(v, "envelope", &elen), h[32];
        ledger_tx_sighash(chain, body, blen, h);
        assert_hex(h, 32, v, "sighash");
        ledger_tx tx;
        ledger_err err;
        if (ledger_tx_decode(&tx, env, elen, chain, &err) != 0)
            fail_msg("tx vector %zu: %s", i, err.msg);
        assert_hex(tx.id, 32, v, "tx_id");
        assert_hex(tx.sighash, 32, v, "sighash");
        assert_hex(tx.signer, 32, v, "signer");
        assert_hex(tx.sig, 64, v, "sig");
        assert_int_equal(tx.kind, num(v, "kind"));
        assert_int_equal(tx.body->timestamp_ms, num(v, "timestamp_ms"));
        assert_string_equal(tx.body->license_id, str(v, "license_id"));
        assert_hex(tx.body->nonce.data, tx.body->nonce.len, v, "nonce");
        const char *reason = tx.body->payload_case == PERMIT__TX_BODY__PAYLOAD_DECISION
                                 ? tx.body->decision->reason
                                 : tx.body->reason->reason;
        assert_string_equal(reason, str(v, "reason"));
        /* protobuf-c packs the decoded body to the same bytes (one encoding) */
        uint8_t *packed = malloc(blen);
        assert_non_null(packed);
        assert_int_equal(permit__tx_body__pack(tx.body, packed), blen);
        assert_hex(packed, blen, v, "body");
        free(packed);
        ledger_tx_release(&tx);
        free(body);
        free(env);
    }
}

/* ---- votes and proposals ---- */

static void test_vote_sighash(void **state)
{
    (void)state;
    size_t i;
    json_t *v;
    json_array_foreach(section("vote"), i, v) {
        uint8_t bh[32], h[32];
        h32(v, "block_hash", bh);
        ledger_vote_sighash(str(v, "chain_id"), (int)num(v, "type"), num(v, "height"),
                            (uint32_t)num(v, "round"), bh, h);
        assert_hex(h, 32, v, "sighash");
    }
}

static void test_proposal_sighash(void **state)
{
    (void)state;
    size_t i;
    json_t *v;
    json_array_foreach(section("proposal"), i, v) {
        uint8_t bh[32], h[32];
        h32(v, "block_hash", bh);
        ledger_proposal_sighash(str(v, "chain_id"), num(v, "height"), (uint32_t)num(v, "round"),
                                (int32_t)json_integer_value(json_object_get(v, "pol_round")),
                                bh, h);
        assert_hex(h, 32, v, "sighash");
    }
}

/* ---- headers and certificates ---- */

static void test_header_bytes_and_block_hash(void **state)
{
    (void)state;
    size_t i;
    json_t *v;
    json_array_foreach(section("header"), i, v) {
        ledger_header h;
        memset(&h, 0, sizeof h);
        snprintf(h.chain_id, sizeof h.chain_id, "%s", str(v, "chain_id"));
        h.height = num(v, "height");
        h.time = num(v, "time");
        h32(v, "prev_hash", h.prev_hash);
        h32(v, "tx_root", h.tx_root);
        h32(v, "state_root", h.state_root);
        h.log_size = num(v, "log_size");
        h32(v, "log_root", h.log_root);
        h32(v, "validators_hash", h.validators_hash);
        h32(v, "proposer", h.proposer);
        h32(v, "last_commit_hash", h.last_commit_hash);
        uint8_t out[LEDGER_MAX_HEADER_BYTES], hash[32];
        size_t len;
        assert_int_equal(ledger_header_encode(&h, out, sizeof out, &len), 0);
        assert_hex(out, len, v, "bytes");
        ledger_header_hash(&h, hash);
        assert_hex(hash, 32, v, "hash");
        ledger_header back;
        ledger_err err;
        assert_int_equal(ledger_header_decode(&back, out, len, &err), 0);
        assert_memory_equal(&back, &h, sizeof h);
    }
}

static void test_certificate_bytes_and_hash(void **state)
{
    (void)state;
    size_t i;
    json_t *v;
    json_array_foreach(section("certificate"), i, v) {
        ledger_commit c;
        memset(&c, 0, sizeof c);
        c.height = num(v, "height");
        c.round = (uint32_t)num(v, "round");
        h32(v, "block_hash", c.block_hash);
        size_t k;
        json_t *s;
        json_array_foreach(json_object_get(v, "sigs"), k, s) {
            c.sigs[k].validator = (uint32_t)num(s, "validator");
            size_t n;
            uint8_t *sig = hex(s, "sig", &n);
            assert_int_equal(n, 64);
            memcpy(c.sigs[k].sig, sig, 64);
            free(sig);
            c.n_sigs = k + 1;
        }
        uint8_t out[LEDGER_MAX_COMMIT_BYTES], hash[32];
        size_t len;
        assert_int_equal(ledger_commit_encode(&c, out, sizeof out, &len), 0);
        assert_hex(out, len, v, "bytes");
        ledger_commit_hash(&c, hash);
        assert_hex(hash, 32, v, "hash");
    }
}

/* ---- events and records ---- */

static void test_event_bytes_and_hash(void **state)
{
    (void)state;
    size_t i;
    json_t *v;
    json_array_foreach(section("event"), i, v) {
        ledger_event e;
        memset(&e, 0, sizeof e);
        snprintf(e.license_id, sizeof e.license_id, "%s", str(v, "license_id"));
        e.seq = (uint32_t)num(v, "seq");
        e.kind = (uint8_t)num(v, "kind");
        h32(v, "tx_id", e.tx_id);
        e.height = num(v, "height");
        e.time = num(v, "time");
        h32(v, "prev", e.prev);
        uint8_t out[LEDGER_EVENT_MAX_BYTES], hash[32];
        size_t len;
        assert_int_equal(ledger_event_encode(&e, out, sizeof out, &len), 0);
        assert_hex(out, len, v, "bytes");
        ledger_event_hash(&e, hash);
        assert_hex(hash, 32, v, "hash");
        ledger_event back;
        assert_int_equal(ledger_event_decode(&back, out, len), 0);
        assert_memory_equal(&back, &e, sizeof e);
    }
}

static char *dup_str(json_t *o, const char *k)
{
    char *s = strdup(str(o, k));
    assert_non_null(s);
    return s;
}

/* The governance record: the C reader takes the bytes gen.py wrote from
 * docs/formats.md, finds in them what the vector says, and the C writer
 * gives back the same bytes. */
static void test_gov_record_bytes_and_hash(void **state)
{
    (void)state;
    size_t i;
    json_t *v;
    json_array_foreach(section("gov_record"), i, v) {
        ledger_genesis g;
        memset(&g, 0, sizeof g);
        g.chain_id = "permit-test";
        g.region = (char *)str(v, "region");
        g.region_name = "新北区";
        size_t n;
        uint8_t *b = hex(v, "bytes", &n);
        ledger_gov *gv = NULL;
        ledger_err err;
        if (ledger_gov_decode(&g, b, n, &gv, &err) != 0)
            fail_msg("gov_record %zu: %s", i, err.msg);
        assert_int_equal(gv->seq, num(v, "seq"));
        assert_int_equal(gv->next_proposal, num(v, "next_proposal"));
        json_t *depts = json_object_get(v, "departments"), *d;
        size_t k;
        assert_int_equal(gv->m->n_departments, json_array_size(depts));
        json_array_foreach(depts, k, d)
            assert_string_equal(gv->m->departments[k].id, json_string_value(d));
        assert_hex(gv->m->departments[1].seal.raw, 32, v, "market_seal");
        assert_true(gv->m->departments[1].seal_retired);
        assert_int_equal(ledger_genesis_seal_dept(gv->m, gv->m->departments[1].seal.raw), -1);
        assert_hex(gv->m->registrars[0].key.raw, 32, v, "registrar");
        assert_int_equal(gv->n_open, 1);
        assert_int_equal(gv->open[0].id, num(v, "open_proposal"));
        assert_int_equal(gv->open[0].ch.type, num(v, "open_change_type"));
        assert_string_equal(gv->open[0].ch.industry.code, str(v, "open_industry"));
        if (json_object_get(v, "instant_ban")) { /* version 2 (秒批) */
            assert_int_equal(gv->m->params.instant_ban_ms, num(v, "instant_ban"));
            json_t *ii = json_object_get(v, "instant_items"), *x;
            size_t q;
            json_array_foreach(ii, q, x) {
                const ledger_industry *ind =
                    &gv->m->industries[json_integer_value(json_array_get(x, 0))];
                assert_true(ind->items[json_integer_value(json_array_get(x, 1))].instant);
            }
            assert_false(gv->open[0].ch.industry.items[0].instant);
        } else {
            assert_int_equal(gv->m->params.instant_ban_ms, LEDGER_INSTANT_BAN_DEFAULT_MS);
            assert_false(gv->m->industries[0].items[0].instant);
        }
        uint8_t *out, h[32];
        size_t len;
        assert_int_equal(ledger_gov_encode(gv, "GOV-320411", &out, &len, &err), 0);
        assert_int_equal(len, n);
        assert_memory_equal(out, b, n);
        ledger_sha256(out, len, h);
        assert_hex(h, 32, v, "hash");
        free(out);
        free(b);
        ledger_gov_release(gv);
    }
}

/* The USCC record (秒批): the reader finds the revocations gen.py wrote,
 * the writer gives back the same bytes, and its state-tree key is
 * SHA-256 of its id. */
static void test_uscc_record_bytes_and_hash(void **state)
{
    (void)state;
    size_t i;
    json_t *v;
    json_array_foreach(section("uscc_record"), i, v) {
        size_t n;
        uint8_t *b = hex(v, "bytes", &n);
        ledger_uscc_record u;
        ledger_err err;
        if (ledger_uscc_record_decode(&u, b, n, &err) != 0)
            fail_msg("uscc_record %zu: %s", i, err.msg);
        assert_string_equal(u.uscc, str(v, "uscc"));
        json_t *revs = json_object_get(v, "revocations"), *r;
        size_t k;
        assert_int_equal(u.n, json_array_size(revs));
        json_array_foreach(revs, k, r) {
            assert_int_equal(u.v[k].log_index, num(r, "log_index"));
            assert_int_equal(u.v[k].time, num(r, "time"));
            assert_string_equal(u.v[k].license_id, str(r, "license_id"));
        }
        assert_int_equal(u.full, json_object_get(v, "unlisted_from") != NULL);
        if (u.full)
            assert_int_equal(u.unlisted_from, num(v, "unlisted_from"));
        char id[32];
        ledger_uscc_record_id(u.uscc, id, sizeof id);
        assert_string_equal(id, str(v, "id"));
        uint8_t key[32], h[32], *out;
        ledger_sha256(id, strlen(id), key);
        assert_hex(key, 32, v, "key");
        size_t len;
        assert_int_equal(ledger_uscc_record_encode(&u, &out, &len, &err), 0);
        assert_int_equal(len, n);
        assert_memory_equal(out, b, n);
        ledger_sha256(out, len, h);
        assert_hex(h, 32, v, "hash");
        free(out);
        free(b);
    }
}

static void test_record_bytes_and_hash(void **state)
{
    (void)state;
    size_t i;
    json_t *v;
    json_array_foreach(section("record"), i, v) {
        ledger_license l;
        memset(&l, 0, sizeof l);
        l.id = dup_str(v, "id");
        l.uscc = dup_str(v, "uscc");
        l.name = dup_str(v, "name");
        l.legal_rep = dup_str(v, "legal_rep");
        l.industry = dup_str(v, "industry");
        l.scope = dup_str(v, "scope");
        l.status = (uint8_t)num(v, "status");
        l.commitment = (uint8_t)num(v, "commitment");
        l.applied_at = num(v, "applied_at");
        l.issued_at = num(v, "issued_at");
        l.expires_at = num(v, "expires_at");
        l.verify_deadline = num(v, "verify_deadline");
        l.suspended_by = dup_str(v, "suspended_by");
        l.next_address_id = (uint32_t)num(v, "next_address_id");
        json_t *arr = json_object_get(v, "addresses"), *x;
        size_t k;
        l.n_addresses = json_array_size(arr);
        l.addresses = calloc(l.n_addresses, sizeof *l.addresses);
        assert_non_null(l.addresses);
        json_array_foreach(arr, k, x) {
            l.addresses[k].id = (uint32_t)num(x, "id");
            l.addresses[k].division = dup_str(x, "division");
            l.addresses[k].text = dup_str(x, "text");
            l.addresses[k].primary = (uint8_t)num(x, "primary");
        }
        json_array_foreach(json_object_get(v, "items"), k, x) {
            l.items[k].permit = dup_str(x, "permit");
            l.items[k].department = dup_str(x, "department");
            l.items[k].decision = (uint8_t)num(x, "decision");
            l.items[k].verified = (uint8_t)num(x, "verified");
            l.items[k].decided_at = num(x, "decided_at");
            l.n_items = k + 1;
        }
        json_array_foreach(json_object_get(v, "documents"), k, x) {
            assert_int_equal(ledger_hex_decode_exact(json_string_value(x), l.documents[k], 32),
                             0);
            l.n_documents = k + 1;
        }
        l.seq = (uint32_t)num(v, "seq");
        h32(v, "head", l.head);
        if (json_object_get(v, "holder_key")) { /* a record of version 2 */
            l.has_holder = 1;
            h32(v, "holder_key", l.holder_key);
            h32(v, "pledge_sha256", l.pledge_sha256);
        }
        uint8_t *out, hash[32];
        size_t len;
        ledger_err err;
        assert_int_equal(ledger_license_encode(&l, &out, &len, &err), 0);
        assert_hex(out, len, v, "bytes");
        ledger_sha256(out, len, hash);
        assert_hex(hash, 32, v, "hash");
        ledger_license back;
        uint8_t *again;
        size_t alen;
        assert_int_equal(ledger_license_decode(&back, out, len, &err), 0);
        assert_int_equal(ledger_license_encode(&back, &again, &alen, &err), 0);
        assert_hex(again, alen, v, "bytes");
        free(again);
        ledger_license_clear(&back);
        free(out);
        ledger_license_clear(&l);
    }
}

/* ---- the state tree ---- */

static int no_page(void *ctx, const uint8_t h[32], unsigned depth, uint8_t *page, size_t *len,
                   ledger_err *err)
{
    (void)ctx;
    (void)h;
    (void)depth;
    (void)page;
    (void)len;
    (void)err;
    return 0; /* the tree starts empty: nothing is ever read */
}

static int cmp_update(const void *a, const void *b)
{
    return memcmp(((const smt_update *)a)->key, ((const smt_update *)b)->key, 32);
}

static void check_proof(json_t *p, const uint8_t root[32], json_t *records)
{
    const char *id = str(p, "id");
    uint8_t key[32], value[32];
    const uint8_t *want_value = NULL;
    ledger_sha256(id, strlen(id), key);
    size_t k;
    json_t *r;
    json_array_foreach(records, k, r) {
        if (strcmp(str(r, "id"), id) == 0) {
            size_t n;
            uint8_t *rec = hex(r, "record", &n);
            ledger_sha256(rec, n, value);
            free(rec);
            want_value = value;
        }
    }
    smt_proof proof;
    memset(&proof, 0, sizeof proof);
    json_t *sibs = json_object_get(p, "siblings"), *s;
    json_array_foreach(sibs, k, s) {
        assert_int_equal(ledger_hex_decode_exact(json_string_value(s), proof.siblings[k], 32), 0);
        proof.n_siblings = k + 1;
    }
    if (strcmp(str(p, "end"), "leaf") == 0) {
        proof.end = SMT_END_LEAF;
        h32(p, "leaf_key", proof.leaf_key);
        h32(p, "leaf_value", proof.leaf_value);
    } else {
        proof.end = SMT_END_EMPTY;
    }
    ledger_err err;
    if (ledger_smt_verify(root, key, want_value, &proof, &err) != 0)
        fail_msg("state proof of %s: %s", id, err.msg);
}

static void test_state_tree_hashes_root_page_and_proofs(void **state)
{
    (void)state;
    json_t *smt = section("smt");
    uint8_t a[32], b[32], h[32];
    json_t *leaf = json_object_get(smt, "leaf"), *inner = json_object_get(smt, "inner");
    h32(leaf, "key", a);
    h32(leaf, "value", b);
    ledger_smt_leaf_hash(a, b, h);
    assert_hex(h, 32, leaf, "hash");
    h32(inner, "left", a);
    h32(inner, "right", b);
    ledger_smt_inner_hash(a, b, h);
    assert_hex(h, 32, inner, "hash");

    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(smt, "trees"), i, t) {
        json_t *records = json_object_get(t, "records"), *r;
        size_t n = json_array_size(records), k;
        smt_update *u = calloc(n, sizeof *u);
        assert_non_null(u);
        json_array_foreach(records, k, r) {
            const char *id = str(r, "id");
            size_t len;
            uint8_t *rec = hex(r, "record", &len);
            ledger_sha256(id, strlen(id), u[k].key);
            ledger_sha256(rec, len, u[k].value);
            free(rec);
        }
        qsort(u, n, sizeof *u, cmp_update);
        smt_mem *mem = ledger_smt_mem_new();
        assert_non_null(mem);
        smt_store st = {.get = no_page, .mem = mem, .gen = 1};
        smt_delta d = {0};
        smt_page *none = NULL, *root = NULL;
        uint8_t zero[32] = {0}, root_hash[32], page_hash[32], page[SMT_STORED_PAGE_MAX];
        ledger_err err;
        if (ledger_smt_update_root(&none, zero, u, n, &st, &d, &root, root_hash, &err) != 0)
            fail_msg("tree %zu: %s", i, err.msg);
        ledger_smt_delta_commit(&d, mem);
        assert_hex(root_hash, 32, t, "root");
        size_t plen = ledger_smt_page_store_form(root, page_hash, page);
        assert_hex(page, plen, t, "root_page");
        assert_hex(page_hash, 32, t, "root");
        json_t *p;
        json_array_foreach(json_object_get(t, "proofs"), k, p)
            check_proof(p, root_hash, records);
        ledger_smt_tree_free(root, mem);
        ledger_smt_delta_clear(&d);
        ledger_smt_mem_free(mem);
        free(u);
    }
}

/* ---- tx_root and the p2p handshake ---- */

static void test_tx_root(void **state)
{
    (void)state;
    size_t i;
    json_t *v;
    json_array_foreach(section("tx_root"), i, v) {
        json_t *envs = json_object_get(v, "envelopes"), *e;
        size_t n = json_array_size(envs), k;
        uint8_t(*leaves)[32] = calloc(n ? n : 1, 32), root[32];
        assert_non_null(leaves);
        json_array_foreach(envs, k, e) {
            size_t len;
            uint8_t *env = tu_unhex(json_string_value(e), &len);
            assert_non_null(env);
            ledger_merkle_leaf_hash(env, len, leaves[k]);
            free(env);
        }
        ledger_merkle_root_of_leaves((const uint8_t(*)[32])leaves, n, root);
        assert_hex(root, 32, v, "root");
        free(leaves);
    }
}

static void test_p2p_auth_hash(void **state)
{
    (void)state;
    size_t i;
    json_t *v;
    json_array_foreach(section("p2p_auth"), i, v) {
        uint8_t own[32], peer[32], exp[32], h[32];
        h32(v, "own_nonce", own);
        h32(v, "peer_nonce", peer);
        h32(v, "exporter", exp);
        assert_int_equal(node_hs_auth_hash(str(v, "chain_id"), own, peer, exp, h), 0);
        assert_hex(h, 32, v, "hash");
    }
}

/* ---- the proof bundle: each field where docs/formats.md puts it ---- */

static void test_bundle_fields(void **state)
{
    (void)state;
    size_t i;
    json_t *v;
    json_array_foreach(section("bundle"), i, v) {
        size_t len;
        uint8_t *bytes = hex(v, "bytes", &len);
        ledger_bundle b;
        ledger_err err;
        if (ledger_bundle_decode(&b, bytes, len, &err) != 0)
            fail_msg("bundle vector: %s", err.msg);
        assert_int_equal(b.version, 1);
        assert_string_equal(b.license_id, str(v, "license_id"));
        assert_hex(b.header, b.header_len, v, "header");
        assert_hex(b.record, b.record_len, v, "record");
        assert_int_equal(b.commit.height, num(v, "commit_height"));
        assert_int_equal(b.commit.round, num(v, "commit_round"));
        assert_hex(b.commit.block_hash, 32, v, "commit_block_hash");
        json_t *sigs = json_object_get(v, "commit_sigs"), *s;
        size_t k;
        assert_int_equal(b.commit.n_sigs, json_array_size(sigs));
        json_array_foreach(sigs, k, s) {
            assert_int_equal(b.commit.sigs[k].validator, num(s, "validator"));
            assert_hex(b.commit.sigs[k].sig, 64, s, "sig");
        }
        json_t *sibs = json_object_get(v, "state_siblings");
        assert_int_equal(b.state.n_siblings, json_array_size(sibs));
        json_array_foreach(sibs, k, s) {
            uint8_t want[32];
            assert_int_equal(ledger_hex_decode_exact(json_string_value(s), want, 32), 0);
            assert_memory_equal(b.state.siblings[k], want, 32);
        }
        assert_int_equal(b.state.end, SMT_END_LEAF);
        assert_hex(b.state.leaf_key, 32, v, "state_leaf_key");
        assert_hex(b.state.leaf_value, 32, v, "state_leaf_value");
        assert_int_equal(b.since_log_size, num(v, "since_log_size"));
        json_t *cons = json_object_get(v, "consistency");
        assert_int_equal(b.n_consistency, json_array_size(cons));
        json_array_foreach(cons, k, s) {
            uint8_t want[32];
            assert_int_equal(ledger_hex_decode_exact(json_string_value(s), want, 32), 0);
            assert_memory_equal(b.consistency[k], want, 32);
        }
        if (json_object_get(v, "uscc_record")) { /* fields 13 and 14 (秒批) */
            assert_true(b.has_uscc);
            assert_hex(b.uscc_record, b.uscc_record_len, v, "uscc_record");
            assert_int_equal(b.uscc_state.n_siblings, json_array_size(sibs));
            assert_hex(b.uscc_state.leaf_key, 32, v, "state_leaf_key");
        } else {
            assert_false(b.has_uscc);
        }
        json_t *evs = json_object_get(v, "events"), *e;
        assert_int_equal(b.n_events, json_array_size(evs));
        json_array_foreach(evs, k, e) {
            const ledger_bundle_event *be = &b.events[k];
            assert_hex(be->event, be->event_len, e, "event");
            assert_hex(be->tx, be->tx_len, e, "tx");
            assert_int_equal(be->log_index, num(e, "log_index"));
            json_t *path = json_object_get(e, "log_path"), *p;
            size_t m;
            assert_int_equal(be->n_path, json_array_size(path));
            json_array_foreach(path, m, p) {
                uint8_t want[32];
                assert_int_equal(ledger_hex_decode_exact(json_string_value(p), want, 32), 0);
                assert_memory_equal(be->path[m], want, 32);
            }
        }
        ledger_bundle_free(&b);
        free(bytes);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tx_envelope_id_and_sighash),
        cmocka_unit_test(test_vote_sighash),
        cmocka_unit_test(test_proposal_sighash),
        cmocka_unit_test(test_header_bytes_and_block_hash),
        cmocka_unit_test(test_certificate_bytes_and_hash),
        cmocka_unit_test(test_event_bytes_and_hash),
        cmocka_unit_test(test_record_bytes_and_hash),
        cmocka_unit_test(test_gov_record_bytes_and_hash),
        cmocka_unit_test(test_uscc_record_bytes_and_hash),
        cmocka_unit_test(test_state_tree_hashes_root_page_and_proofs),
        cmocka_unit_test(test_tx_root),
        cmocka_unit_test(test_p2p_auth_hash),
        cmocka_unit_test(test_bundle_fields),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
