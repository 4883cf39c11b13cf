/* node/core_lock.c: the lock record, the node core's consensus WAL (core.h).
 *
 * Before a precommit for a block leaves, the block and the 2f+1 prevotes
 * that justified it are made durable (hook persist_lock).  After a restart
 * in that height the node has its lock back from the sign state, and the
 * block and its proof of lock from this record: it can propose the block
 * again (line 15, with the proof as pol_round) and relay the proof to peers
 * that never saw it.  Without it, a Byzantine proposer that shows a block to
 * some validators only, and never again, stalls the height for good once
 * those validators restart: they may vote for no other block, and nobody
 * can propose theirs. */
#include "core_int.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/codec.h"
#include "ledger/hash.h"
#include "log.h"

#define HEAD (4 + 8 + 4 + 4)

/* Record the lock a precommit for m->value takes; 0, or -1 (not signed). */
int core_lock_record(core *c, const cons_msg *m, const node_sign_evidence *ev)
{
    core_block *b = core_store_find(c, &m->value);
    if (b == NULL || ev == NULL || ev->n > LEDGER_MAX_DEPARTMENTS) {
        core_logf(c, NODE_LOG_WARN, "consensus: the block to lock on at %llu/%u is not here",
                  (unsigned long long)m->height, m->round);
        return -1;
    }
    Permit__Block pb;
    ProtobufCBinaryData *txs = calloc(b->n ? b->n : 1, sizeof *txs);
    static ledger_commit_pb lc; /* one thread */
    if (txs == NULL)
        return -1;
    core_block_to_pb(b, &pb, txs, &lc);
    size_t blen = permit__block__get_packed_size(&pb);
    size_t len = HEAD + ev->n * 68 + 4 + blen + 32;
    uint8_t *buf = malloc(len);
    if (buf == NULL) {
        free(txs);
        return -1;
    }
    uint8_t *p = buf;
    memcpy(p, CORE_LOCK_MAGIC, 4);
    ledger_be64(p + 4, m->height);
    ledger_be32(p + 12, m->round);
    ledger_be32(p + 16, (uint32_t)ev->n);
    p += HEAD;
    for (size_t i = 0; i < ev->n; i++) {
        ledger_be32(p, ev->validators[i]);
        memcpy(p + 4, ev->sigs[i], 64);
        p += 68;
    }
    ledger_be32(p, (uint32_t)blen);
    permit__block__pack(&pb, p + 4);
    p += 4 + blen;
    ledger_sha256(buf, (size_t)(p - buf), p);
    free(txs);
    ledger_err err;
    int rc = c->h.persist_lock ? c->h.persist_lock(c->h.ctx, buf, len, &err) : 0;
    if (rc != 0) {
        core_logf(c, NODE_LOG_ERROR, "consensus: cannot record the lock (%s): not signing",
                  err.msg);
        free(buf);
        return rc;
    }
    free(c->lock_pending);
    c->lock_pending = buf;
    c->lock_pending_len = len;
    return 0;
}

/* The sign state took the lock just recorded (taken = 1), or could not
 * (0): then the record of the lock it still holds is written back, so that
 * a restart finds the block and the proof of that one. */
void core_lock_settle(core *c, int taken)
{
    if (c->lock_pending == NULL)
        return;
    if (taken) {
        free(c->lock_last);
        c->lock_last = c->lock_pending;
        c->lock_last_len = c->lock_pending_len;
    } else {
        ledger_err err;
        if (c->lock_last && c->h.persist_lock &&
            c->h.persist_lock(c->h.ctx, c->lock_last, c->lock_last_len, &err) != 0)
            core_logf(c, NODE_LOG_ERROR, "consensus: cannot write back the lock record (%s)",
                      err.msg);
        free(c->lock_pending);
    }
    c->lock_pending = NULL;
    c->lock_pending_len = 0;
}

/* After a restart: bring back the block and the proof of lock of the lock
 * the sign state holds, if the record is about it. */
void core_lock_restore(core *c)
{
    const uint8_t *buf = c->lock_rec;
    size_t len = c->lock_rec_len;
    const node_sign_state *s = &c->ss;
    if (buf == NULL || !s->present || s->lock_round < 0 || s->height != c->ledger_height + 1)
        goto out;
    uint8_t sum[32];
    if (len < HEAD + 4 + 32 || memcmp(buf, CORE_LOCK_MAGIC, 4) != 0)
        goto bad;
    ledger_sha256(buf, len - 32, sum);
    uint64_t height = ledger_rd_be64(buf + 4);
    uint32_t round = ledger_rd_be32(buf + 12), n = ledger_rd_be32(buf + 16);
    if (memcmp(sum, buf + len - 32, 32) != 0 || n > CONS_MAX_VALIDATORS || (size_t)n * 68 > len - HEAD - 36)
        goto bad;
    if (height != s->height || (int32_t)round != s->lock_round)
        goto out; /* an older lock: the sign state moved on */
    const uint8_t *p = buf + HEAD + (size_t)n * 68;
    uint32_t blen = ledger_rd_be32(p);
    if ((size_t)blen != len - (size_t)(p + 4 - buf) - 32)
        goto bad;
    Permit__Block *pb = permit__block__unpack(NULL, blen, p + 4);
    const ledger_params *bp = core_params(c, height);
    core_block *b = pb ? core_block_from_pb(pb, bp->max_block_txs, bp->max_block_bytes, NULL)
                       : NULL;
    if (pb)
        permit__block__free_unpacked(pb, NULL);
    if (b == NULL)
        goto bad;
    if (memcmp(b->hash.b, s->lock_hash, 32) != 0 || b->hdr.height != height) {
        core_block_unref(b);
        goto out;
    }
    core_store_add(c, b, height, round, cons_proposer(c->e, height, round));
    /* the proof of lock, to the engine (it re-proposes with it) and to
     * whoever needs it */
    const uint8_t *q = buf + HEAD;
    for (uint32_t i = 0; i < n; i++, q += 68) {
        cons_msg v;
        memset(&v, 0, sizeof v);
        v.type = CONS_PREVOTE;
        v.height = height;
        v.round = round;
        v.pol_round = CONS_NIL_ROUND;
        memcpy(v.value.b, s->lock_hash, 32);
        v.validator = ledger_rd_be32(q);
        memcpy(v.sig, q + 4, 64);
        uint8_t msg[32];
        ledger_vote_sighash(c->g->chain_id, LEDGER_VOTE_PREVOTE, height, round, v.value.b, msg);
        if (!core_verify(c, height, v.validator, msg, v.sig))
            continue;
        if ((int)v.validator != core_self_at(c, height))
            core_keep_relay(c, &v);
        cons_on_msg(c->e, &v);
    }
    core_logf(c, NODE_LOG_INFO, "consensus: the block locked on at %llu/%u is back, with its "
                                "proof of lock",
              (unsigned long long)height, round);
    goto out;
bad:
    core_logf(c, NODE_LOG_WARN, "consensus: the lock record is corrupt: ignored (the sign "
                                "state still holds the lock)");
out:
    /* what is on disk now: written back if a new lock cannot be taken */
    free(c->lock_last);
    c->lock_last = c->lock_rec;
    c->lock_last_len = c->lock_rec_len;
    c->lock_rec = NULL;
    c->lock_rec_len = 0;
}
