/* node/core_sync.c: block sync (core.h, DESIGN §5).
 *
 * A node that learns it is behind asks one peer for blocks with their
 * certificates, and applies those that follow its ledger and whose
 * certificates verify against the validators.  Consensus never pauses for
 * it: a sync that brings nothing changes nothing, and one that brings
 * blocks moves the engine only past heights that are decided.  So a lie
 * about heights (an unsigned handshake height, a Byzantine validator's
 * message for a far height, an empty or withheld answer) costs a request,
 * never a lock.
 *
 * One request is out at a time and one apply runs at a time.  A peer that
 * leaves a request unanswered for CORE_SYNC_ANSWER_MS, answers with a block
 * that does not apply, or claims more than it hands out while f + 1
 * validators vouch for more, is not asked again for CORE_SYNC_SHUN_MS; one
 * that has nothing new (it is behind too) for CORE_SYNC_BRIEF_MS.  While
 * the node is behind and no request is out, it asks again every
 * CORE_SYNC_RETRY_MS.  Certified
 * blocks nobody asked for are applied too when they start at the next
 * height (at most once a second per peer), even while a request is out. */
#include "core_int.h"

#include <stdlib.h>
#include <string.h>

#include "ledger/ledger.h"
#include "ledger/limits.h"
#include "log.h"

static int askable(core *c, uint32_t p, uint64_t now)
{
    return p < CORE_NODE_SLOTS && c->peers[p].up && now >= c->peers[p].shun_until;
}

static void request(core *c, uint32_t prefer);

/* The highest height that f + 1 validators showed, by signed messages, to
 * be decided: at least one of them is correct, so one Byzantine validator
 * that signs messages for far heights cannot send this node after blocks
 * that do not exist. */
static uint64_t vouched_height(core *c)
{
    /* signers that are validators of this height or the next: a key that
     * left the set vouches for nothing any more */
    uint64_t top[CORE_CLAIMS];
    unsigned k = 0;
    uint64_t h0 = cons_height(c->e);
    for (unsigned i = 0; i < CORE_CLAIMS; i++) {
        if (c->claims[i].height == 0)
            continue;
        /* one set at a time: a lookup of another height may evict the last */
        const ledger_genesis *s = core_vset(c, h0);
        int in = s && ledger_genesis_validator_index(s, c->claims[i].key) >= 0;
        if (!in && (s = core_vset(c, h0 + 1)) != NULL)
            in = ledger_genesis_validator_index(s, c->claims[i].key) >= 0;
        if (in)
            top[k++] = c->claims[i].height;
    }
    unsigned n = cons_validators(c->e);
    unsigned need = (n - 1) / 3 + 1, have = 0;
    uint64_t h = 0;
    for (unsigned i = 0; i < need && i < k; i++) { /* the need-th largest */
        unsigned best = i;
        for (unsigned j = i + 1; j < k; j++)
            if (top[j] > top[best])
                best = j;
        uint64_t t = top[i];
        top[i] = top[best];
        top[best] = t;
        h = top[i];
        have++;
    }
    return have == need ? h : 0;
}

/* Signer `key` showed `height` decided (a signed message of a later one). */
static void claim(core *c, const uint8_t key[32], uint64_t height)
{
    claim_entry *free_e = NULL, *low = &c->claims[0];
    for (unsigned i = 0; i < CORE_CLAIMS; i++) {
        claim_entry *e = &c->claims[i];
        if (e->height > 0 && memcmp(e->key, key, 32) == 0) {
            if (height > e->height)
                e->height = height;
            return;
        }
        if (e->height == 0 && free_e == NULL)
            free_e = e;
        if (e->height < low->height)
            low = e;
    }
    /* a new signer: a free entry, else the lowest claim gives way (only
     * those of the current sets count: vouched_height) */
    claim_entry *e = free_e ? free_e : low;
    if (free_e == NULL && height <= low->height)
        return;
    memcpy(e->key, key, 32);
    e->height = height;
}

static void request(core *c, uint32_t prefer)
{
    if (c->sync_inflight || c->applying || c->failed)
        return;
    uint64_t now = core_mono(c);
    uint32_t peer = UINT32_MAX;
    if (askable(c, prefer, now)) {
        peer = prefer;
    } else {
        /* any other: start after the last one asked, so that one peer that
         * never answers does not get every turn */
        for (uint32_t k = 1; k <= CORE_NODE_SLOTS && peer == UINT32_MAX; k++) {
            uint32_t p = (c->sync_peer + k) % CORE_NODE_SLOTS;
            if (askable(c, p, now))
                peer = p;
        }
    }
    if (peer == UINT32_MAX)
        return;
    Permit__SyncRequest r = PERMIT__SYNC_REQUEST__INIT;
    r.from_height = c->ledger_height + 1;
    r.max_blocks = CORE_SYNC_MAX_BLOCKS;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_SYNC_REQUEST;
    f.sync_request = &r;
    core_send_frame(c, peer, &f);
    c->sync_inflight = 1;
    c->sync_peer = peer;
    c->sync_asked_at = now;
    c->probe_inflight = c->probing;
    if (c->probing)
        return; /* an observer's question when no block came: not news */
    if (c->progress_at == 0 || now > c->progress_at + CORE_SYNC_PROGRESS_MS) {
        /* a sync begins, or resumes after a stall: one line now, then
         * progress lines (progress()) */
        c->progress_at = now + CORE_SYNC_PROGRESS_MS;
        c->progress_from = c->progress_height = c->ledger_height;
        c->progress_t = now;
        core_logf(c, NODE_LOG_INFO, "sync: at height %llu, asking validator %u for blocks "
                                    "(highest known: %llu)",
                  (unsigned long long)c->ledger_height, peer, (unsigned long long)c->sync_target);
    }
}

/* After blocks applied by sync: a progress line every CORE_SYNC_PROGRESS_MS
 * (height, target, share, rate), and one when the sync has caught up. */
static void progress(core *c, uint32_t peer, uint64_t height)
{
    uint64_t now = core_mono(c);
    int done = height >= c->sync_target;
    if (!done && now < c->progress_at)
        return;
    uint64_t span = c->sync_target > c->progress_from ? c->sync_target - c->progress_from : 1;
    uint64_t got = height - (height > c->progress_from ? c->progress_from : height);
    double secs = (double)(now - c->progress_t) / 1000.0;
    double rate = secs > 0 ? (double)(height - c->progress_height) / secs : 0;
    if (done) {
        core_logf(c, NODE_LOG_INFO, "sync: caught up at height %llu (%llu blocks, last from "
                                    "validator %u)",
                  (unsigned long long)height, (unsigned long long)got, peer);
        c->progress_at = 0;
        return;
    }
    core_logf(c, NODE_LOG_INFO, "sync: height %llu of %llu (%.0f%%), %.0f blocks/s, about %.0f s "
                                "left",
              (unsigned long long)height, (unsigned long long)c->sync_target,
              100.0 * (double)got / (double)span, rate,
              rate > 0 ? (double)(c->sync_target - height) / rate : 0.0);
    c->progress_at = now + CORE_SYNC_PROGRESS_MS;
    c->progress_height = height;
    c->progress_t = now;
}

void core_behind(core *c, uint32_t who, const uint8_t *signer, uint64_t height, int evidence)
{
    if (evidence == CORE_SIGNED && signer != NULL) {
        claim(c, signer, height);
        uint64_t v = vouched_height(c);
        if (v > c->sync_target) {
            c->sync_target = v;
            c->target_peer = who;
        }
    } else if (evidence == CORE_KNOWN && height > c->sync_target) {
        c->sync_target = height;
    }
    if (height <= c->ledger_height)
        return;
    if (evidence == CORE_HINT || c->sync_target > c->ledger_height)
        request(c, who);
}

uint64_t core_sync_deadline(const core *c)
{
    if (c->sync_inflight)
        return c->sync_asked_at + CORE_SYNC_ANSWER_MS;
    if (!c->applying && c->sync_target > c->ledger_height)
        return c->sync_retry_at;
    return 0;
}

void core_sync_tick(core *c, uint64_t now)
{
    if (!c->sync_inflight) {
        /* behind with no request out (every peer was shunned, or had
         * nothing yet): ask again, once a second */
        if (!c->applying && c->sync_target > c->ledger_height && now >= c->sync_retry_at) {
            c->sync_retry_at = now + CORE_SYNC_RETRY_MS;
            request(c, c->target_peer);
        }
        return;
    }
    if (now - c->sync_asked_at < CORE_SYNC_ANSWER_MS)
        return;
    core_logf(c, NODE_LOG_WARN, "sync: validator %u did not answer within %d ms", c->sync_peer,
              CORE_SYNC_ANSWER_MS);
    c->peers[c->sync_peer].shun_until = now + CORE_SYNC_SHUN_MS;
    c->sync_inflight = 0;
    if (c->sync_target > c->ledger_height)
        request(c, c->target_peer);
}

void core_on_sync_request(core *c, uint32_t peer, const Permit__SyncRequest *r)
{
    if (r == NULL || r->from_height == 0 || r->max_blocks == 0 || peer >= c->n_peers)
        return;
    /* one answer per peer under way: a correct peer asks again only after
     * our answer came (or it gave up on us); more is a flood */
    if (c->peers[peer].serving > 0) {
        c->st.msgs_dropped++;
        return;
    }
    core_action *a = core_push(c, CORE_ACT_SERVE);
    if (a == NULL)
        return;
    c->peers[peer].serving++;
    a->peer = peer;
    a->from = r->from_height;
    a->max = r->max_blocks < CORE_SYNC_MAX_BLOCKS ? r->max_blocks : CORE_SYNC_MAX_BLOCKS;
}

/* A peer left at a height this node has committed gets that block with its
 * certificate, at most once a second: when a Byzantine proposer let only one
 * correct validator decide (the lock-breaking attack), the others would
 * otherwise wait until f + 1 validators vouch for the height. */
void core_help_behind(core *c, uint32_t peer, uint64_t height)
{
    if (peer >= CORE_NODE_SLOTS || !c->peers[peer].up || height > c->ledger_height ||
        height == 0)
        return;
    uint64_t now = core_mono(c);
    if (now < c->peers[peer].behind_next || c->peers[peer].serving > 0)
        return;
    c->peers[peer].behind_next = now + CORE_HELP_MS;
    core_action *a = core_push(c, CORE_ACT_SERVE);
    if (a == NULL)
        return;
    c->peers[peer].serving++;
    a->peer = peer;
    a->from = height;
    a->max = 4;
}

/* Every block this validator commits goes to the observers linked to it,
 * with its certificate (as a sync answer of one block; one under way per
 * observer: an observer still busy with the last one catches up by asking). */
void core_push_observers(core *c, uint64_t height)
{
    for (uint32_t p = CORE_NODE_SLOTS; p < c->n_peers; p++) {
        if (!c->peers[p].up || c->peers[p].serving > 0)
            continue;
        core_action *a = core_push(c, CORE_ACT_SERVE);
        if (a == NULL)
            return;
        c->peers[p].serving++;
        a->peer = p;
        a->from = height;
        a->max = 1;
    }
}

/* An observer that heard of no block for CORE_PROBE_MS asks a validator
 * (in turn) whether it has more: a pushed block that was lost (a full
 * queue, a link that went down at the wrong moment) costs at most this
 * long, not a heartbeat. */
void core_observer_probe(core *c, uint64_t now)
{
    if (c->sync_inflight || c->applying || now < c->probe_at ||
        now - c->last_commit_mono < CORE_PROBE_MS)
        return;
    c->probe_at = now + CORE_PROBE_MS;
    c->probing = 1; /* a question, not news: not logged */
    request(c, CORE_ALL_PEERS);
    c->probing = 0;
}

void core_on_sync_response(core *c, uint32_t peer, const Permit__SyncResponse *r)
{
    if (r == NULL || peer >= CORE_NODE_SLOTS)
        return;
    int asked = c->sync_inflight && peer == c->sync_peer;
    if (asked)
        c->sync_inflight = 0;
    if (c->cfg.observer && r->peer_height > c->ledger_height) {
        if (asked && r->n_blocks == 0) {
            /* it claims more than it hands out: ask another */
            c->peers[peer].shun_until = core_mono(c) + CORE_SYNC_SHUN_MS;
            c->hint_height = 0;
            request(c, CORE_ALL_PEERS);
            return;
        }
        /* an observer hears heights from the validators' answers and the
         * blocks they push: unsigned, so a reason to ask (one request at a
         * time), never a target it waits for */
        if (r->peer_height > c->hint_height || c->hint_height <= c->ledger_height) {
            c->hint_height = r->peer_height;
            c->hint_peer = peer;
        }
    }
    if (c->applying)
        return; /* one apply at a time: the one under way asks again when it ends */
    if (!asked) {
        /* unasked for: certified blocks are welcome whoever sends them (a
         * request of ours may be out to a peer that never answers), but only
         * if the first one is the next, and at most once a second per peer */
        uint64_t now = core_mono(c);
        if (r->n_blocks == 0 || r->blocks[0] == NULL || now < c->peers[peer].unasked_next ||
            now < c->peers[peer].shun_until)
            goto ask;
        /* an observer takes every pushed block that is the next (each one
         * costs it a certificate check before anything executes) */
        if (!c->cfg.observer)
            c->peers[peer].unasked_next = now + CORE_HELP_MS;
        ledger_header hd;
        if (r->blocks[0]->header.len == 0 || r->blocks[0]->header.len > LEDGER_MAX_HEADER_BYTES ||
            ledger_header_decode(&hd, r->blocks[0]->header.data, r->blocks[0]->header.len,
                                 NULL) != 0 ||
            hd.height != c->ledger_height + 1)
            goto ask;
    }
    size_t k = r->n_blocks < CORE_SYNC_MAX_BLOCKS ? r->n_blocks : CORE_SYNC_MAX_BLOCKS;
    core_block **blocks = calloc(k ? k : 1, sizeof *blocks);
    ledger_commit *certs = calloc(k ? k : 1, sizeof *certs);
    size_t n = 0;
    for (size_t i = 0; blocks && certs && i < k; i++) {
        /* blocks of many heights: the hard bounds here, those in force at
         * each height when the ledger applies it */
        core_block *b = core_block_from_pb(r->blocks[i], LEDGER_MAX_BLOCK_TXS_HARD,
                                           LEDGER_MAX_BLOCK_BYTES_HARD, NULL);
        if (b == NULL || ledger_commit_from_pb(&certs[n], r->blocks[i]->commit, NULL) != 0) {
            core_block_unref(b);
            c->st.sync_refused++;
            break;
        }
        blocks[n++] = b;
    }
    if (n == 0) {
        free(blocks);
        free(certs);
        if (c->sync_target > c->ledger_height) {
            /* nothing from it while f + 1 validators vouch for more: one
             * that claims more withholds it (not asked again for
             * CORE_SYNC_SHUN_MS); one behind too, or that says so, is asked
             * again after CORE_SYNC_BRIEF_MS (the retry of core_sync_tick) */
            c->peers[peer].shun_until =
                core_mono(c) + (r->peer_height > c->ledger_height ? CORE_SYNC_SHUN_MS
                                                                   : CORE_SYNC_BRIEF_MS);
            request(c, c->target_peer);
        }
        return;
    }
    core_action *a = core_push(c, CORE_ACT_APPLY);
    if (a == NULL) {
        for (size_t i = 0; i < n; i++)
            core_block_unref(blocks[i]);
        free(blocks);
        free(certs);
        return;
    }
    a->peer = peer;
    a->blocks = blocks;
    a->certs = certs;
    a->n_blocks = n;
    /* the core keeps references too: their transactions leave the mempool
     * once applied */
    c->applying_blocks = calloc(n, sizeof *c->applying_blocks);
    c->n_applying = c->applying_blocks ? n : 0;
    for (size_t i = 0; i < c->n_applying; i++)
        c->applying_blocks[i] = core_block_ref(blocks[i]);
    c->applying = 1;
    c->applying_asked = asked;
    return;
ask:
    if (c->cfg.observer && c->hint_height > c->ledger_height)
        request(c, c->hint_peer);
}

void core_on_served(core *c, uint32_t peer)
{
    if (peer < c->n_peers && c->peers[peer].serving > 0)
        c->peers[peer].serving--;
}

void core_on_applied(core *c, uint32_t peer, uint64_t ledger_height, size_t applied, int bad)
{
    c->applying = 0;
    size_t dropped = 0;
    for (size_t i = 0; i < c->n_applying; i++) {
        core_block *b = c->applying_blocks[i];
        if (b->hdr.height <= ledger_height) {
            core_mempool_drop_block(c, b);
            dropped++;
        }
        core_block_unref(b);
    }
    free(c->applying_blocks);
    c->applying_blocks = NULL;
    c->n_applying = 0;
    if (c->failed)
        return;
    if (applied > 0) {
        c->st.synced_blocks += applied;
        /* an observer following the blocks pushed to it is not syncing */
        if (!c->cfg.observer || c->applying_asked)
            progress(c, peer, ledger_height);
    }
    if (bad)
        c->st.sync_refused++;
    if (ledger_height > c->ledger_height) {
        c->ledger_height = ledger_height;
        core_height_advanced(c);
    }
    (void)dropped;
    /* a block that does not apply, or blocks that bring nothing while more
     * is vouched for: that peer is not asked again for a while */
    int useless = bad || (applied == 0 && c->sync_target > c->ledger_height);
    if (useless && peer < CORE_NODE_SLOTS)
        c->peers[peer].shun_until =
            core_mono(c) + (bad ? CORE_SYNC_SHUN_MS : CORE_SYNC_BRIEF_MS);
    if (c->sync_target > c->ledger_height)
        request(c, useless ? CORE_ALL_PEERS : peer);
    else if (c->cfg.observer && c->hint_height > c->ledger_height)
        request(c, useless ? CORE_ALL_PEERS : c->hint_peer);
    core_drain(c);
}

/* ---- answering (any thread) ---- */

int core_sync_answer(ledger *L, uint64_t from, uint32_t max, uint8_t **frame, size_t *len,
                     ledger_err *err)
{
    *frame = NULL;
    *len = 0;
    if (max > CORE_SYNC_MAX_BLOCKS)
        max = CORE_SYNC_MAX_BLOCKS;
    uint64_t tip = ledger_height(L);
    int rc = -1;
    Permit__SyncResponse resp = PERMIT__SYNC_RESPONSE__INIT;
    resp.peer_height = tip;
    size_t cap = max ? max : 1;
    Permit__Block *blocks = calloc(cap, sizeof *blocks);
    Permit__Block **ptrs = calloc(cap, sizeof *ptrs);
    ledger_commit *certs = calloc(cap, sizeof *certs), *lasts = calloc(cap, sizeof *lasts);
    ledger_commit_pb *cpb = calloc(cap, sizeof *cpb), *lpb = calloc(cap, sizeof *lpb);
    uint8_t **hdrs = calloc(cap, sizeof *hdrs);
    ProtobufCBinaryData **txs = calloc(cap, sizeof *txs);
    uint8_t ***envs = calloc(cap, sizeof *envs);
    size_t *ntx = calloc(cap, sizeof *ntx);
    size_t total = 0, k = 0;
    if (!blocks || !ptrs || !certs || !lasts || !cpb || !lpb || !hdrs || !txs || !envs || !ntx) {
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    for (uint64_t h = from; h >= 1 && h <= tip && k < max; h++) {
        ledger_header hd;
        size_t hlen, n_ids;
        uint8_t(*ids)[32] = NULL;
        if (ledger_get_block(L, h, &hd, &hdrs[k], &hlen, &ids, &n_ids, err) != 1 ||
            ledger_get_commit(L, h, &certs[k], err) != 1 ||
            (h > 1 && ledger_get_commit(L, h - 1, &lasts[k], err) != 1)) {
            free(ids);
            break; /* pruned or being written: the answer ends here */
        }
        txs[k] = calloc(n_ids ? n_ids : 1, sizeof **txs);
        envs[k] = calloc(n_ids ? n_ids : 1, sizeof **envs);
        int whole = txs[k] && envs[k];
        for (size_t i = 0; whole && i < n_ids; i++) {
            size_t tl;
            if (ledger_get_tx(L, ids[i], &envs[k][i], &tl, NULL, NULL, err) != 1) {
                whole = 0;
                break;
            }
            txs[k][i].data = envs[k][i];
            txs[k][i].len = tl;
            ntx[k] = i + 1;
        }
        free(ids);
        if (!whole)
            break; /* what was read of it is freed below */
        permit__block__init(&blocks[k]);
        blocks[k].header.data = hdrs[k];
        blocks[k].header.len = hlen;
        blocks[k].n_txs = ntx[k];
        blocks[k].txs = txs[k];
        ledger_commit_to_pb(&certs[k], &cpb[k]);
        blocks[k].commit = &cpb[k].pc;
        if (h > 1) {
            ledger_commit_to_pb(&lasts[k], &lpb[k]);
            blocks[k].last_commit = &lpb[k].pc;
        }
        size_t bytes = permit__block__get_packed_size(&blocks[k]) + 8;
        /* the first block always goes (a block fits a frame: ledger/limits.h) */
        if (k > 0 && total + bytes > CORE_SYNC_MAX_BYTES)
            break;
        total += bytes;
        ptrs[k] = &blocks[k];
        k++;
    }
    resp.n_blocks = k;
    resp.blocks = ptrs;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_SYNC_RESPONSE;
    f.sync_response = &resp;
    *len = permit__frame__get_packed_size(&f);
    *frame = malloc(*len ? *len : 1);
    if (*frame == NULL) {
        ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    permit__frame__pack(&f, *frame);
    rc = 0;
out:
    for (size_t i = 0; hdrs && envs && ntx && txs && i < cap; i++) {
        free(hdrs[i]);
        for (size_t t = 0; envs[i] && t < ntx[i]; t++)
            free(envs[i][t]);
        free(envs[i]);
        free(txs[i]);
    }
    free(blocks);
    free(ptrs);
    free(certs);
    free(lasts);
    free(cpb);
    free(lpb);
    free(hdrs);
    free(txs);
    free(envs);
    free(ntx);
    return rc;
}

/* ---- an observer's mempool ---- */

/* An observer makes no blocks, so nothing refuses what its mempool holds:
 * a transaction the validators refused would stay for good.  One received
 * more than twice the chain's time window ago can no longer commit (its
 * timestamp was inside the window of the time it was admitted at, and a
 * block takes it only inside the window of its own time): it goes. */
void core_observer_prune(core *c, uint64_t now)
{
    if (now < c->prune_at)
        return;
    c->prune_at = now + CORE_PRUNE_MS;
    uint64_t wall = core_wall(c), keep = 2 * c->g->params.tx_window_ms + CORE_PRUNE_SLACK_MS;
    mp_tx *oldest[64];
    for (;;) {
        size_t n = node_mempool_peek(c->mp, oldest, 64), gone = 0;
        uint8_t ids[64][32];
        for (size_t i = 0; i < n && oldest[i]->received_ms + keep < wall; i++)
            memcpy(ids[gone++], oldest[i]->id, 32);
        for (size_t i = 0; i < gone; i++)
            node_mempool_remove(c->mp, ids[i]);
        if (gone > 0)
            core_logf(c, NODE_LOG_INFO, "observer: %zu transactions the validators never "
                                        "committed left the mempool (past their window)", gone);
        if (gone < 64)
            break;
    }
    core_observer_probe(c, now);
}
