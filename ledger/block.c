#include "block.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "hash.h"
#include "keys.h"

int ledger_header_encode(const ledger_header *h, uint8_t *out, size_t cap, size_t *len)
{
    lbuf b;
    ledger_lbuf_init(&b, cap);
    ledger_lbuf_u8(&b, LEDGER_HEADER_VERSION);
    ledger_lbuf_str(&b, h->chain_id);
    ledger_lbuf_u64(&b, h->height);
    ledger_lbuf_u64(&b, h->time);
    ledger_lbuf_put(&b, h->prev_hash, 32);
    ledger_lbuf_put(&b, h->tx_root, 32);
    ledger_lbuf_put(&b, h->state_root, 32);
    ledger_lbuf_u64(&b, h->log_size);
    ledger_lbuf_put(&b, h->log_root, 32);
    ledger_lbuf_put(&b, h->validators_hash, 32);
    ledger_lbuf_put(&b, h->proposer, 32);
    ledger_lbuf_put(&b, h->last_commit_hash, 32);
    int ok = !b.err;
    if (ok) {
        memcpy(out, b.buf, b.len);
        *len = b.len;
    }
    ledger_lbuf_free(&b);
    return ok ? 0 : -1;
}

int ledger_header_decode(ledger_header *h, const uint8_t *p, size_t len, ledger_err *err)
{
    lrd r;
    memset(h, 0, sizeof *h);
    if (len > LEDGER_MAX_HEADER_BYTES)
        return ledger_fail(err, LEDGER_ERR_INVALID, "header_malformed",
                           "header of %zu bytes exceeds %d", len, LEDGER_MAX_HEADER_BYTES);
    ledger_lrd_init(&r, p, len);
    if (ledger_lrd_u8(&r) != LEDGER_HEADER_VERSION)
        return ledger_fail(err, LEDGER_ERR_INVALID, "header_malformed",
                           "unknown header version");
    size_t cl = ledger_lrd_u16(&r);
    if (cl > LEDGER_MAX_CHAIN_ID)
        r.err = 1;
    ledger_lrd_copy(&r, h->chain_id, r.err ? 0 : cl);
    h->chain_id[r.err ? 0 : cl] = '\0';
    h->height = ledger_lrd_u64(&r);
    h->time = ledger_lrd_u64(&r);
    ledger_lrd_copy(&r, h->prev_hash, 32);
    ledger_lrd_copy(&r, h->tx_root, 32);
    ledger_lrd_copy(&r, h->state_root, 32);
    h->log_size = ledger_lrd_u64(&r);
    ledger_lrd_copy(&r, h->log_root, 32);
    ledger_lrd_copy(&r, h->validators_hash, 32);
    ledger_lrd_copy(&r, h->proposer, 32);
    ledger_lrd_copy(&r, h->last_commit_hash, 32);
    if (!ledger_lrd_done(&r) || strlen(h->chain_id) != cl)
        return ledger_fail(err, LEDGER_ERR_INVALID, "header_malformed",
                           "block header is truncated or has trailing bytes");
    return 0;
}

void ledger_header_hash(const ledger_header *h, uint8_t out[32])
{
    uint8_t buf[LEDGER_MAX_HEADER_BYTES];
    size_t n;
    if (ledger_header_encode(h, buf, sizeof buf, &n) != 0)
        abort(); /* cannot happen: the struct bounds every field */
    ledger_sha256(buf, n, out);
}

void ledger_vote_sighash(const char *chain_id, int type, uint64_t height, uint32_t round,
                         const uint8_t block_hash[32], uint8_t out[32])
{
    ledger_tag tag;
    ledger_tag_init(&tag, "permit/vote/v1");
    uint8_t buf[1 + 2 + LEDGER_MAX_CHAIN_ID + 1 + 8 + 4 + 32];
    lbuf b;
    ledger_lbuf_init(&b, sizeof buf);
    ledger_lbuf_str(&b, chain_id);
    ledger_lbuf_u8(&b, (uint8_t)type);
    ledger_lbuf_u64(&b, height);
    ledger_lbuf_u32(&b, round);
    ledger_lbuf_put(&b, block_hash, 32);
    ledger_tagged_hash(&tag, b.buf, b.err ? 0 : b.len, out);
    ledger_lbuf_free(&b);
}

void ledger_proposal_sighash(const char *chain_id, uint64_t height, uint32_t round,
                             int32_t pol_round, const uint8_t block_hash[32], uint8_t out[32])
{
    ledger_tag tag;
    ledger_tag_init(&tag, "permit/proposal/v1");
    lbuf b;
    ledger_lbuf_init(&b, 1 + 2 + LEDGER_MAX_CHAIN_ID + 8 + 4 + 4 + 32);
    ledger_lbuf_str(&b, chain_id);
    ledger_lbuf_u64(&b, height);
    ledger_lbuf_u32(&b, round);
    ledger_lbuf_u32(&b, (uint32_t)pol_round);
    ledger_lbuf_put(&b, block_hash, 32);
    ledger_tagged_hash(&tag, b.buf, b.err ? 0 : b.len, out);
    ledger_lbuf_free(&b);
}

static int cmp_sig(const void *a, const void *b)
{
    const ledger_commit_sig *x = a, *y = b;
    return x->validator < y->validator ? -1 : x->validator > y->validator;
}

int ledger_commit_encode(const ledger_commit *c, uint8_t *out, size_t cap, size_t *len)
{
    if (c->n_sigs > LEDGER_MAX_DEPARTMENTS)
        return -1;
    ledger_commit_sig sorted[LEDGER_MAX_DEPARTMENTS];
    memcpy(sorted, c->sigs, c->n_sigs * sizeof sorted[0]);
    qsort(sorted, c->n_sigs, sizeof sorted[0], cmp_sig);
    lbuf b;
    ledger_lbuf_init(&b, cap);
    ledger_lbuf_u8(&b, 1);
    ledger_lbuf_u64(&b, c->height);
    ledger_lbuf_u32(&b, c->round);
    ledger_lbuf_put(&b, c->block_hash, 32);
    ledger_lbuf_u16(&b, (uint16_t)c->n_sigs);
    for (size_t i = 0; i < c->n_sigs; i++) {
        ledger_lbuf_u16(&b, (uint16_t)sorted[i].validator);
        ledger_lbuf_put(&b, sorted[i].sig, 64);
    }
    int ok = !b.err;
    if (ok) {
        memcpy(out, b.buf, b.len);
        *len = b.len;
    }
    ledger_lbuf_free(&b);
    return ok ? 0 : -1;
}

void ledger_commit_hash(const ledger_commit *c, uint8_t out[32])
{
    uint8_t buf[LEDGER_MAX_COMMIT_BYTES];
    size_t n = 0;
    if (ledger_commit_encode(c, buf, sizeof buf, &n) != 0)
        abort(); /* cannot happen: n_sigs is bounded by the struct */
    ledger_sha256(buf, n, out);
}

size_t ledger_quorum(size_t n)
{
    return 2 * n / 3 + 1;
}

int ledger_commit_verify(const ledger_genesis *g, const ledger_commit *c,
                         const uint8_t block_hash[32], uint64_t height, ledger_err *err)
{
    if (c->height != height)
        return ledger_fail(err, LEDGER_ERR_VERIFY, "certificate",
                           "certificate is for height %llu, not %llu",
                           (unsigned long long)c->height, (unsigned long long)height);
    if (memcmp(c->block_hash, block_hash, 32) != 0)
        return ledger_fail(err, LEDGER_ERR_VERIFY, "certificate",
                           "certificate signs another block");
    uint8_t seen[LEDGER_MAX_DEPARTMENTS] = {0};
    size_t need = ledger_quorum(g->n_validators);
    if (c->n_sigs > g->n_validators)
        return ledger_fail(err, LEDGER_ERR_VERIFY, "certificate",
                           "certificate has %zu signatures for %zu validators", c->n_sigs,
                           g->n_validators);
    uint8_t msg[32];
    ledger_vote_sighash(g->chain_id, LEDGER_VOTE_PRECOMMIT, height, c->round, block_hash, msg);
    for (size_t i = 0; i < c->n_sigs; i++) {
        uint32_t v = c->sigs[i].validator;
        if (v >= g->n_validators)
            return ledger_fail(err, LEDGER_ERR_VERIFY, "certificate",
                               "signer %u is not in the validator set", v);
        if (seen[v])
            return ledger_fail(err, LEDGER_ERR_VERIFY, "certificate",
                               "validator %u signed twice", v);
        seen[v] = 1;
        const ledger_department *d = &g->departments[g->validators[v]];
        if (!ledger_verify(&d->node, msg, 32, c->sigs[i].sig))
            return ledger_fail(err, LEDGER_ERR_VERIFY, "certificate",
                               "signature of validator %u (%s) does not verify", v, d->id);
    }
    if (c->n_sigs < need)
        return ledger_fail(err, LEDGER_ERR_VERIFY, "certificate",
                           "%zu of %zu validators signed; %zu are needed", c->n_sigs,
                           g->n_validators, need);
    return 0;
}

int ledger_commit_from_pb(ledger_commit *c, const Permit__Commit *pc, ledger_err *err)
{
    memset(c, 0, sizeof *c);
    if (pc == NULL)
        return ledger_fail(err, LEDGER_ERR_INVALID, "certificate", "no commit certificate");
    if (pc->block_hash.len != 32)
        return ledger_fail(err, LEDGER_ERR_INVALID, "certificate",
                           "certificate block_hash is not 32 bytes");
    if (pc->n_sigs > LEDGER_MAX_DEPARTMENTS)
        return ledger_fail(err, LEDGER_ERR_INVALID, "certificate",
                           "certificate has more than %d signatures", LEDGER_MAX_DEPARTMENTS);
    c->height = pc->height;
    c->round = pc->round;
    memcpy(c->block_hash, pc->block_hash.data, 32);
    for (size_t i = 0; i < pc->n_sigs; i++) {
        if (pc->sigs[i]->sig.len != 64)
            return ledger_fail(err, LEDGER_ERR_INVALID, "certificate",
                               "a certificate signature is not 64 bytes");
        c->sigs[i].validator = pc->sigs[i]->validator;
        memcpy(c->sigs[i].sig, pc->sigs[i]->sig.data, 64);
    }
    c->n_sigs = pc->n_sigs;
    return 0;
}

void ledger_commit_to_pb(const ledger_commit *c, ledger_commit_pb *w)
{
    permit__commit__init(&w->pc);
    w->pc.height = c->height;
    w->pc.round = c->round;
    w->pc.block_hash.data = (uint8_t *)c->block_hash;
    w->pc.block_hash.len = 32;
    size_t n = c->n_sigs < LEDGER_MAX_DEPARTMENTS ? c->n_sigs : LEDGER_MAX_DEPARTMENTS;
    for (size_t i = 0; i < n; i++) {
        permit__commit_sig__init(&w->sigs[i]);
        w->sigs[i].validator = c->sigs[i].validator;
        w->sigs[i].sig.data = (uint8_t *)c->sigs[i].sig;
        w->sigs[i].sig.len = 64;
        w->ptrs[i] = &w->sigs[i];
    }
    w->pc.n_sigs = n;
    w->pc.sigs = w->ptrs;
}
