#include "tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hex.h"
#include "license.h"
#include "pbcheck.h"
#include "permit.pb-c.h"
#include "text.h"

static const char *const kind_names[] = {
    [PERMIT__TX_KIND__APPLY] = "APPLY",
    [PERMIT__TX_KIND__APPROVE] = "APPROVE",
    [PERMIT__TX_KIND__REJECT] = "REJECT",
    [PERMIT__TX_KIND__VERIFY] = "VERIFY",
    [PERMIT__TX_KIND__ADD_ADDRESS] = "ADD_ADDRESS",
    [PERMIT__TX_KIND__REMOVE_ADDRESS] = "REMOVE_ADDRESS",
    [PERMIT__TX_KIND__AMEND] = "AMEND",
    [PERMIT__TX_KIND__SUSPEND] = "SUSPEND",
    [PERMIT__TX_KIND__RESUME] = "RESUME",
    [PERMIT__TX_KIND__REVOKE] = "REVOKE",
    [PERMIT__TX_KIND__RENEW] = "RENEW",
    [PERMIT__TX_KIND__CANCEL] = "CANCEL",
    [PERMIT__TX_KIND__GOV_PROPOSE] = "GOV_PROPOSE",
    [PERMIT__TX_KIND__GOV_APPROVE] = "GOV_APPROVE",
    [PERMIT__TX_KIND__RETIRE_KEY] = "RETIRE_KEY",
    [PERMIT__TX_KIND__SET_HOLDER_KEY] = "SET_HOLDER_KEY",
    [LEDGER_EVENT_APPLY_INSTANT] = "APPLY_INSTANT", /* an event kind only */
};

#define KIND_MIN PERMIT__TX_KIND__APPLY
#define KIND_MAX PERMIT__TX_KIND__SET_HOLDER_KEY

/* kind names also name event kinds: up to the APPLY whose items the rule
 * `instant` approved (license.h) */
#define NAME_MAX_KIND LEDGER_EVENT_APPLY_INSTANT

const char *ledger_tx_kind_name(int kind)
{
    if (kind < KIND_MIN || kind > NAME_MAX_KIND)
        return "UNKNOWN";
    return kind_names[kind];
}

int ledger_tx_kind_parse(const char *name)
{
    for (int k = KIND_MIN; k <= NAME_MAX_KIND; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return -1;
}

ledger_role ledger_tx_kind_role(int kind)
{
    switch (kind) {
    case PERMIT__TX_KIND__APPROVE:
    case PERMIT__TX_KIND__REJECT:
    case PERMIT__TX_KIND__VERIFY:
    case PERMIT__TX_KIND__SUSPEND:
    case PERMIT__TX_KIND__RESUME:
    case PERMIT__TX_KIND__REVOKE:
    case PERMIT__TX_KIND__GOV_PROPOSE:
    case PERMIT__TX_KIND__GOV_APPROVE:
        return LEDGER_ROLE_DEPARTMENT;
    case PERMIT__TX_KIND__RETIRE_KEY:
        return LEDGER_ROLE_KEY;
    default:
        return LEDGER_ROLE_REGISTRAR;
    }
}

/* The payload each kind must carry. */
static int kind_payload(int kind)
{
    switch (kind) {
    case PERMIT__TX_KIND__APPLY:
        return PERMIT__TX_BODY__PAYLOAD_APPLY;
    case PERMIT__TX_KIND__APPROVE:
    case PERMIT__TX_KIND__REJECT:
    case PERMIT__TX_KIND__VERIFY:
        return PERMIT__TX_BODY__PAYLOAD_DECISION;
    case PERMIT__TX_KIND__ADD_ADDRESS:
        return PERMIT__TX_BODY__PAYLOAD_ADD_ADDRESS;
    case PERMIT__TX_KIND__REMOVE_ADDRESS:
        return PERMIT__TX_BODY__PAYLOAD_REMOVE_ADDRESS;
    case PERMIT__TX_KIND__AMEND:
        return PERMIT__TX_BODY__PAYLOAD_AMEND;
    case PERMIT__TX_KIND__GOV_PROPOSE:
        return PERMIT__TX_BODY__PAYLOAD_GOV_PROPOSE;
    case PERMIT__TX_KIND__GOV_APPROVE:
        return PERMIT__TX_BODY__PAYLOAD_GOV_APPROVE;
    case PERMIT__TX_KIND__SET_HOLDER_KEY:
        return PERMIT__TX_BODY__PAYLOAD_HOLDER_KEY;
    default:
        return PERMIT__TX_BODY__PAYLOAD_REASON;
    }
}

void ledger_tx_sighash(const char *chain_id, const uint8_t *body, size_t len,
                       uint8_t out[32])
{
    static ledger_tag tag;
    static int tag_ready; /* benign race: every thread computes the same bytes */
    if (!__atomic_load_n(&tag_ready, __ATOMIC_ACQUIRE)) {
        ledger_tag t;
        ledger_tag_init(&t, "permit/tx/v1");
        tag = t;
        __atomic_store_n(&tag_ready, 1, __ATOMIC_RELEASE);
    }
    size_t cl = strlen(chain_id);
    uint8_t cl8 = (uint8_t)(cl > 255 ? 255 : cl);
    ledger_sha256_ctx c;
    ledger_tag_start(&tag, &c);
    ledger_sha256_update(&c, &cl8, 1);
    ledger_sha256_update(&c, chain_id, cl8);
    ledger_sha256_update(&c, body, len);
    ledger_sha256_final(&c, out);
}

int ledger_tx_decode(ledger_tx *tx, const uint8_t *env, size_t len,
                     const char *chain_id, ledger_err *err)
{
    memset(tx, 0, sizeof *tx);
    if (len > LEDGER_MAX_ENVELOPE)
        return ledger_fail(err, LEDGER_ERR_RULE, "tx_too_large",
                           "envelope is %zu bytes; the limit is %d", len, LEDGER_MAX_ENVELOPE);
    if (len < LEDGER_ENVELOPE_HEADER + 1)
        return ledger_fail(err, LEDGER_ERR_RULE, "envelope_malformed",
                           "envelope is %zu bytes; at least %d are needed", len,
                           LEDGER_ENVELOPE_HEADER + 1);
    if (env[0] != LEDGER_ENVELOPE_VERSION)
        return ledger_fail(err, LEDGER_ERR_RULE, "envelope_malformed",
                           "envelope version %u is not supported", env[0]);
    tx->env = env;
    tx->env_len = len;
    memcpy(tx->signer, env + 1, 32);
    memcpy(tx->sig, env + 33, 64);
    const uint8_t *body = env + LEDGER_ENVELOPE_HEADER;
    size_t blen = len - LEDGER_ENVELOPE_HEADER;
    ledger_sha256(env, len, tx->id);

    Permit__TxBody *b = permit__tx_body__unpack(NULL, blen, body);
    if (b == NULL)
        return ledger_fail(err, LEDGER_ERR_RULE, "body_malformed",
                           "transaction body is not a valid permit.TxBody");
    tx->body = b;
    /* one encoding per body (pbcheck.h): no unknown field at any depth
     * (DESIGN §4), no duplicate field, non-minimal varint, default value
     * written out or embedded NUL */
    switch (ledger_pb_check(&b->base, body, blen)) {
    case LEDGER_PB_CANONICAL:
        break;
    case LEDGER_PB_UNKNOWN:
        return ledger_fail(err, LEDGER_ERR_RULE, "body_unknown_field",
                           "transaction body carries fields this ledger does not know");
    case LEDGER_PB_NOMEM:
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    default:
        return ledger_fail(err, LEDGER_ERR_RULE, "body_noncanonical",
                           "transaction body is not in canonical encoding");
    }
    if ((int)b->kind < KIND_MIN || (int)b->kind > KIND_MAX)
        return ledger_fail(err, LEDGER_ERR_RULE, "kind_unknown",
                           "transaction kind %d is unknown", (int)b->kind);
    tx->kind = (int)b->kind;
    if ((int)b->payload_case != kind_payload(tx->kind))
        return ledger_fail(err, LEDGER_ERR_RULE, "payload_mismatch",
                           "a %s transaction needs its own payload", ledger_tx_kind_name(tx->kind));
    if (b->nonce.len != LEDGER_NONCE_LEN)
        return ledger_fail(err, LEDGER_ERR_RULE, "nonce_invalid",
                           "nonce must be exactly %d bytes, not %zu", LEDGER_NONCE_LEN,
                           b->nonce.len);
    size_t idlen = strlen(b->license_id);
    if (tx->kind == PERMIT__TX_KIND__APPLY || ledger_tx_kind_is_gov(tx->kind)) {
        if (idlen != 0)
            return ledger_fail(err, LEDGER_ERR_RULE, "license_id_invalid",
                               "%s must not name a license", ledger_tx_kind_name(tx->kind));
    } else if (idlen == 0 || idlen > LEDGER_MAX_LICENSE_ID) {
        return ledger_fail(err, LEDGER_ERR_RULE, "license_id_invalid",
                           "%s needs a license id of 1 to %d characters",
                           ledger_tx_kind_name(tx->kind), LEDGER_MAX_LICENSE_ID);
    }
    ledger_tx_sighash(chain_id, body, blen, tx->sighash);
    if (tx->kind == PERMIT__TX_KIND__RENEW)
        tx->signer_parsed = ledger_pubkey_parse(&tx->signer_pk, tx->signer) == 0;
    return 0;
}

/* u8 len(s) || s, the strings of the pledge and holder digests */
static void put_short(ledger_sha256_ctx *c, const char *s)
{
    size_t n = strlen(s);
    uint8_t n8 = (uint8_t)(n > 255 ? 255 : n);
    ledger_sha256_update(c, &n8, 1);
    ledger_sha256_update(c, s, n8);
}

void ledger_pledge_digest(const char *chain_id, const char *uscc, const char *industry,
                          const uint8_t text_sha256[32], uint8_t out[32])
{
    ledger_tag tag;
    ledger_sha256_ctx c;
    ledger_tag_init(&tag, "permit/pledge/v1");
    ledger_tag_start(&tag, &c);
    put_short(&c, chain_id);
    put_short(&c, uscc);
    put_short(&c, industry);
    ledger_sha256_update(&c, text_sha256, 32);
    ledger_sha256_final(&c, out);
}

void ledger_holder_digest(const char *chain_id, const char *license_id, uint8_t out[32])
{
    ledger_tag tag;
    ledger_sha256_ctx c;
    ledger_tag_init(&tag, "permit/holder/v1");
    ledger_tag_start(&tag, &c);
    put_short(&c, chain_id);
    put_short(&c, license_id);
    ledger_sha256_final(&c, out);
}

void ledger_tx_release(ledger_tx *tx)
{
    if (tx == NULL)
        return;
    if (tx->body)
        permit__tx_body__free_unpacked(tx->body, NULL);
    tx->body = NULL;
}

int ledger_tx_kind_is_gov(int kind)
{
    return kind == PERMIT__TX_KIND__GOV_PROPOSE || kind == PERMIT__TX_KIND__GOV_APPROVE ||
           kind == PERMIT__TX_KIND__RETIRE_KEY;
}

int ledger_tx_authorize(const ledger_genesis *g, const ledger_tx *tx,
                        const ledger_pubkey **pk, int *dept, ledger_err *err)
{
    char hex[65];
    if (ledger_tx_kind_role(tx->kind) == LEDGER_ROLE_KEY) {
        /* any key in force may retire itself: a seal, a registrar's or a
         * node key (observers' keys: ledger_gov_step) */
        int d = ledger_genesis_seal_dept(g, tx->signer);
        const ledger_registrar *r = d < 0 ? ledger_genesis_registrar(g, tx->signer) : NULL;
        int v = d < 0 && r == NULL ? ledger_genesis_validator_index(g, tx->signer) : -1;
        if (d >= 0) {
            *pk = &g->departments[d].seal;
        } else if (r != NULL) {
            *pk = &r->key;
        } else if (v >= 0) {
            d = g->validators[v];
            *pk = &g->departments[d].node;
        } else {
            ledger_hex_encode(tx->signer, 32, hex);
            return ledger_fail(err, LEDGER_ERR_UNAUTHORIZED, "retire_key_unknown",
                               "RETIRE_KEY must be signed by the key it retires, one with a "
                               "role in force; key %s has none", hex);
        }
        *dept = d;
        return 0;
    }
    if (ledger_tx_kind_role(tx->kind) == LEDGER_ROLE_REGISTRAR) {
        const ledger_registrar *r = ledger_genesis_registrar(g, tx->signer);
        if (r == NULL && tx->kind == PERMIT__TX_KIND__RENEW && tx->signer_parsed) {
            /* 无感智办: the holder confirms; whether this key is the
             * license's holder key is a rule of state (signer_not_holder) */
            *pk = &tx->signer_pk;
            *dept = LEDGER_DEPT_HOLDER;
            return 0;
        }
        if (r == NULL) {
            ledger_hex_encode(tx->signer, 32, hex);
            return ledger_fail(err, LEDGER_ERR_UNAUTHORIZED, "signer_not_registrar",
                               "%s must be signed by a registrar; key %s is not one",
                               ledger_tx_kind_name(tx->kind), hex);
        }
        *pk = &r->key;
        *dept = r->dept;
        return 0;
    }
    int d = ledger_genesis_seal_dept(g, tx->signer);
    if (d < 0) {
        ledger_hex_encode(tx->signer, 32, hex);
        return ledger_fail(err, LEDGER_ERR_UNAUTHORIZED, "signer_not_department",
                           "%s must be signed with a department's seal key; key %s is not one",
                           ledger_tx_kind_name(tx->kind), hex);
    }
    *pk = &g->departments[d].seal;
    *dept = d;
    return 0;
}

/* Required or optional bounded text; `what` names the field in messages. */
static int check_text(const char *s, const char *what, size_t max, int required,
                      int multiline, const char *required_rule, ledger_err *err)
{
    size_t n = strlen(s);
    if (required && n == 0)
        return ledger_fail(err, LEDGER_ERR_RULE, required_rule, "%s must not be empty", what);
    if (n > max)
        return ledger_fail(err, LEDGER_ERR_RULE, "field_too_long",
                           "%s is %zu bytes; the limit is %zu", what, n, max);
    if (!(multiline ? ledger_utf8_valid_multiline(s, n) : ledger_utf8_valid(s, n)))
        return ledger_fail(err, LEDGER_ERR_RULE, "utf8_invalid",
                           "%s is not valid UTF-8 text (or holds control characters)", what);
    return 0;
}

static int check_address(const ledger_genesis *g, const Permit__Address *a, ledger_err *err)
{
    if (a == NULL || a->text[0] == '\0')
        return ledger_fail(err, LEDGER_ERR_RULE, "address_required",
                           "an address with a division code and text is required");
    if (!ledger_division_valid(a->division))
        return ledger_fail(err, LEDGER_ERR_RULE, "division_invalid",
                           "division code \"%.20s\" is not 6, 9 or 12 digits", a->division);
    if (!ledger_division_in_region(g->region, a->division))
        return ledger_fail(err, LEDGER_ERR_RULE, "division_outside_region",
                           "division %s lies outside the chain's region %s", a->division,
                           g->region);
    return check_text(a->text, "address", LEDGER_MAX_ADDRESS_TEXT, 1, 0, "address_required", err);
}

/* The holder's pledge: on the notify-and-commit route, and only there, the
 * holder key, the pledge text's hash and the holder's signature over the
 * pledge digest, which must verify. */
static int check_pledge(const ledger_genesis *g, const Permit__Apply *a, ledger_err *err)
{
    int any = a->holder_key.len || a->pledge_sha256.len || a->pledge_sig.len;
    if (!a->commitment) {
        if (any)
            return ledger_fail(err, LEDGER_ERR_RULE, "pledge_invalid",
                               "only an application on the notify-and-commit route carries "
                               "the holder's pledge (name a holder key later with "
                               "SET_HOLDER_KEY)");
        return 0;
    }
    if (a->holder_key.len == 0 || a->pledge_sha256.len == 0 || a->pledge_sig.len == 0)
        return ledger_fail(err, LEDGER_ERR_RULE, "pledge_required",
                           "the notify-and-commit route needs the holder's signed pledge: "
                           "holder key, pledge text SHA-256 and the holder's signature");
    if (a->holder_key.len != 32 || a->pledge_sha256.len != 32 || a->pledge_sig.len != 64)
        return ledger_fail(err, LEDGER_ERR_RULE, "pledge_invalid",
                           "holder key (%zu bytes), pledge SHA-256 (%zu) and signature (%zu) "
                           "must be 32, 32 and 64 bytes", a->holder_key.len,
                           a->pledge_sha256.len, a->pledge_sig.len);
    ledger_pubkey pk;
    if (ledger_pubkey_parse(&pk, a->holder_key.data) != 0)
        return ledger_fail(err, LEDGER_ERR_RULE, "pledge_invalid",
                           "the holder key is not a valid x-only public key");
    uint8_t d[32];
    ledger_pledge_digest(g->chain_id, a->uscc, a->industry, a->pledge_sha256.data, d);
    if (!ledger_verify(&pk, d, 32, a->pledge_sig.data))
        return ledger_fail(err, LEDGER_ERR_RULE, "pledge_invalid",
                           "the holder's pledge signature does not verify for this chain, "
                           "USCC, industry and pledge text");
    return 0;
}

/* SET_HOLDER_KEY: the new key proves it is held by signing the license id. */
static int check_holder_key(const ledger_genesis *g, const char *license_id,
                            const Permit__HolderKey *h, ledger_err *err)
{
    ledger_pubkey pk;
    if (h->key.len != 32 || h->sig.len != 64 || ledger_pubkey_parse(&pk, h->key.data) != 0)
        return ledger_fail(err, LEDGER_ERR_RULE, "holder_key_invalid",
                           "SET_HOLDER_KEY needs a 32-byte x-only key and its 64-byte "
                           "signature");
    uint8_t d[32];
    ledger_holder_digest(g->chain_id, license_id, d);
    if (!ledger_verify(&pk, d, 32, h->sig.data))
        return ledger_fail(err, LEDGER_ERR_RULE, "holder_key_invalid",
                           "the new holder key's signature over license %s does not verify "
                           "for this chain", license_id);
    return 0;
}

static int check_apply(const ledger_genesis *g, const Permit__Apply *a, ledger_err *err)
{
    if (ledger_uscc_check(a->uscc, err) != 0)
        return -1;
    if (check_text(a->name, "name", LEDGER_MAX_NAME, 1, 0, "name_required", err) ||
        check_text(a->legal_rep, "legal representative", LEDGER_MAX_LEGAL_REP, 1, 0,
                   "legal_rep_required", err) ||
        check_text(a->scope, "business scope", LEDGER_MAX_SCOPE, 0, 1, NULL, err))
        return -1;
    const ledger_industry *ind = ledger_genesis_industry(g, a->industry);
    if (ind == NULL) {
        /* the codes in force, as many as the message holds: a registrar's
         * next try is one of them */
        char codes[192] = "";
        size_t k = 0;
        for (size_t i = 0; i < g->n_industries; i++) {
            size_t left = sizeof codes - k;
            int n = snprintf(codes + k, left, "%s%s", i ? ", " : "", g->industries[i].code);
            if (n < 0 || (size_t)n >= left || (i + 1 < g->n_industries && left - (size_t)n < 6)) {
                snprintf(codes + k, left, ", ...");
                break;
            }
            k += (size_t)n;
        }
        return ledger_fail(err, LEDGER_ERR_RULE, "industry_unknown",
                           "industry \"%.64s\" is not in the catalogue; valid codes: %s",
                           a->industry, codes);
    }
    if (a->commitment && !ind->commitment_allowed)
        return ledger_fail(err, LEDGER_ERR_RULE, "commitment_not_allowed",
                           "industry %s does not allow the notify-and-commit route", ind->code);
    if (check_address(g, a->address, err) != 0)
        return -1;
    if (a->n_documents > LEDGER_MAX_DOCUMENTS)
        return ledger_fail(err, LEDGER_ERR_RULE, "documents_limit",
                           "%zu document hashes; the limit is %d", a->n_documents,
                           LEDGER_MAX_DOCUMENTS);
    for (size_t i = 0; i < a->n_documents; i++)
        if (a->documents[i].len != 32)
            return ledger_fail(err, LEDGER_ERR_RULE, "document_invalid",
                               "document %zu is not a 32-byte SHA-256 hash", i);
    return check_pledge(g, a, err);
}

const char *const ledger_evidence_methods[] = {"on_site", "remote_video", "documents", NULL};

/* VERIFY's evidence: optional; a known method, a 32-byte hash, a note. */
static int check_evidence(int kind, const Permit__Evidence *ev, ledger_err *err)
{
    if (ev == NULL)
        return 0;
    if (kind != PERMIT__TX_KIND__VERIFY)
        return ledger_fail(err, LEDGER_ERR_RULE, "evidence_invalid",
                           "only VERIFY carries evidence of a check");
    int known = 0;
    for (size_t i = 0; ledger_evidence_methods[i]; i++)
        known |= ev->method != NULL && strcmp(ev->method, ledger_evidence_methods[i]) == 0;
    if (!known)
        return ledger_fail(err, LEDGER_ERR_RULE, "evidence_invalid",
                           "evidence method '%.40s' is not on_site, remote_video or documents",
                           ev->method ? ev->method : "");
    if (ev->sha256.len != 32)
        return ledger_fail(err, LEDGER_ERR_RULE, "evidence_invalid",
                           "evidence sha256 has %zu bytes; it must have 32", ev->sha256.len);
    return check_text(ev->note, "evidence note", LEDGER_MAX_REASON, 0, 1, "evidence_invalid",
                      err);
}

int ledger_tx_check_fields(const ledger_genesis *g, const ledger_tx *tx, ledger_err *err)
{
    const Permit__TxBody *b = tx->body;
    switch (tx->kind) {
    case PERMIT__TX_KIND__APPLY:
        return check_apply(g, b->apply, err);
    case PERMIT__TX_KIND__APPROVE:
    case PERMIT__TX_KIND__REJECT:
    case PERMIT__TX_KIND__VERIFY: {
        const Permit__Decision *d = b->decision;
        if (d->n_items > LEDGER_MAX_ITEMS)
            return ledger_fail(err, LEDGER_ERR_RULE, "item_invalid",
                               "%zu items named; a license has at most %d", d->n_items,
                               LEDGER_MAX_ITEMS);
        for (size_t i = 0; i < d->n_items; i++) {
            if (d->items[i] >= LEDGER_MAX_ITEMS)
                return ledger_fail(err, LEDGER_ERR_RULE, "item_invalid",
                                   "item index %u is out of range", d->items[i]);
            for (size_t k = 0; k < i; k++)
                if (d->items[k] == d->items[i])
                    return ledger_fail(err, LEDGER_ERR_RULE, "item_invalid",
                                       "item %u is named twice", d->items[i]);
        }
        if (check_text(d->reason, "reason", LEDGER_MAX_REASON,
                       tx->kind == PERMIT__TX_KIND__REJECT, 1, "reason_required", err) != 0)
            return -1;
        return check_evidence(tx->kind, d->evidence, err);
    }
    case PERMIT__TX_KIND__ADD_ADDRESS:
        return check_address(g, b->add_address->address, err);
    case PERMIT__TX_KIND__SET_HOLDER_KEY:
        return check_holder_key(g, b->license_id, b->holder_key, err);
    case PERMIT__TX_KIND__REMOVE_ADDRESS:
    case PERMIT__TX_KIND__GOV_PROPOSE: /* a change: ledger_gov_step */
    case PERMIT__TX_KIND__GOV_APPROVE:
        return 0;
    case PERMIT__TX_KIND__AMEND: {
        const Permit__Amend *a = b->amend;
        int any = 0;
        if (a->name_opt_case == PERMIT__AMEND__NAME_OPT_NAME) {
            any = 1;
            if (check_text(a->name, "name", LEDGER_MAX_NAME, 1, 0, "name_required", err))
                return -1;
        }
        if (a->legal_rep_opt_case == PERMIT__AMEND__LEGAL_REP_OPT_LEGAL_REP) {
            any = 1;
            if (check_text(a->legal_rep, "legal representative", LEDGER_MAX_LEGAL_REP, 1, 0,
                           "legal_rep_required", err))
                return -1;
        }
        if (a->scope_opt_case == PERMIT__AMEND__SCOPE_OPT_SCOPE) {
            any = 1;
            if (check_text(a->scope, "business scope", LEDGER_MAX_SCOPE, 0, 1, NULL, err))
                return -1;
        }
        if (!any)
            return ledger_fail(err, LEDGER_ERR_RULE, "amend_empty",
                               "an amendment must change the name, legal representative or scope");
        return 0;
    }
    default: /* SUSPEND RESUME REVOKE CANCEL RENEW RETIRE_KEY */
        return check_text(b->reason->reason, "reason", LEDGER_MAX_REASON,
                          tx->kind != PERMIT__TX_KIND__RENEW &&
                              tx->kind != PERMIT__TX_KIND__RETIRE_KEY,
                          1, "reason_required", err);
    }
}

int ledger_tx_check_time(const ledger_tx *tx, uint64_t now_ms, uint64_t window_ms,
                         ledger_err *err)
{
    uint64_t ts = tx->body->timestamp_ms;
    uint64_t diff = ts > now_ms ? ts - now_ms : now_ms - ts;
    if (diff > window_ms) {
        char a[LEDGER_CST_TEXT], b[LEDGER_CST_TEXT];
        ledger_cst_text(ts, a);
        ledger_cst_text(now_ms, b);
        return ledger_fail(err, LEDGER_ERR_RULE, "timestamp_window",
                           "the transaction was signed %s, %llu s %s the block time %s; the "
                           "window is %llu s (check the signing machine's clock)",
                           a, (unsigned long long)(diff / 1000), ts > now_ms ? "after" : "before",
                           b, (unsigned long long)(window_ms / 1000));
    }
    return 0;
}

int ledger_tx_sig_ok(const ledger_tx *tx, const ledger_pubkey *pk)
{
    return ledger_verify(pk, tx->sighash, 32, tx->sig);
}

int ledger_tx_admit(const ledger_genesis *g, ledger_tx *tx, const uint8_t *env,
                    size_t len, int skip_sig, ledger_err *err)
{
    const ledger_pubkey *pk = NULL;
    int dept;
    if (ledger_tx_decode(tx, env, len, g->chain_id, err) != 0 ||
        ledger_tx_authorize(g, tx, &pk, &dept, err) != 0 ||
        ledger_tx_check_fields(g, tx, err) != 0)
        return -1;
    if (!skip_sig && !ledger_tx_sig_ok(tx, pk))
        return ledger_fail(err, LEDGER_ERR_RULE, "signature_invalid",
                           "the signature does not verify for this chain and signer");
    return 0;
}

int ledger_tx_body_init(Permit__TxBody *body, int kind, uint64_t timestamp_ms,
                        uint8_t nonce_buf[LEDGER_NONCE_LEN])
{
    permit__tx_body__init(body);
    body->kind = (Permit__TxKind)kind;
    body->timestamp_ms = timestamp_ms;
    if (ledger_random(nonce_buf, LEDGER_NONCE_LEN) != 0)
        return -1;
    body->nonce.data = nonce_buf;
    body->nonce.len = LEDGER_NONCE_LEN;
    return 0;
}

int ledger_tx_sign(const char *chain_id, const Permit__TxBody *body,
                   const ledger_keypair *kp, uint8_t **env, size_t *len, ledger_err *err)
{
    size_t blen = permit__tx_body__get_packed_size(body);
    if (blen > LEDGER_MAX_BODY)
        return ledger_fail(err, LEDGER_ERR_RULE, "tx_too_large",
                           "transaction body is %zu bytes; the limit is %d", blen,
                           LEDGER_MAX_BODY);
    uint8_t *e = malloc(LEDGER_ENVELOPE_HEADER + blen);
    if (e == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    permit__tx_body__pack(body, e + LEDGER_ENVELOPE_HEADER);
    uint8_t h[32];
    ledger_tx_sighash(chain_id, e + LEDGER_ENVELOPE_HEADER, blen, h);
    e[0] = LEDGER_ENVELOPE_VERSION;
    memcpy(e + 1, kp->pub, 32);
    if (ledger_sign(kp, h, NULL, e + 33) != 0) {
        free(e);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "signing failed");
    }
    *env = e;
    *len = LEDGER_ENVELOPE_HEADER + blen;
    return 0;
}
