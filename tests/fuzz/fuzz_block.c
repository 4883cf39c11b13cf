/* libFuzzer target: blocks as peers send them (permit.Block: header bytes,
 * envelopes, certificates), through core_block_from_pb (node/core.h) and
 * then ledger_validate_block on a ledger holding the chain of
 * tests/fuzz/data but its last block, so the seed of that block validates
 * in full: header, proposer, certificate, every transaction re-executed and
 * every root compared.
 *
 * A block that converts keeps its header's hash and its envelopes' ids
 * (SHA-256 of the bytes as received), and survives protobuf and back. */
#include <stdlib.h>
#include <string.h>

#include "fuzzcommon.h"
#include "ledger/hash.h"
#include "ledger/tx.h"
#include "node/core.h"

static const ledger_genesis *g;
static ledger *L;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g = fz_genesis();
    L = fz_ledger(fz_chain()->n_blocks - 1);
    return 0;
}

static void check_block(const core_block *b)
{
    uint8_t h[32];
    ledger_sha256(b->hdr_bytes, b->hdr_len, h);
    FZ_CHECK(memcmp(h, b->hash.b, 32) == 0);
    FZ_CHECK(b->n <= g->params.max_block_txs);
    for (size_t i = 0; i < b->n; i++) {
        FZ_CHECK(b->lens[i] >= 1 && b->lens[i] <= LEDGER_MAX_ENVELOPE);
        ledger_sha256(b->txs[i], b->lens[i], h);
        FZ_CHECK(memcmp(h, b->ids[i], 32) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Permit__Block *pb = permit__block__unpack(NULL, size, data);
    if (pb == NULL)
        return 0;
    ledger_err err;
    core_block *b = core_block_from_pb(pb, g->params.max_block_txs, g->params.max_block_bytes,
                                       &err);
    permit__block__free_unpacked(pb, NULL);
    if (b == NULL)
        return 0;
    check_block(b);

    /* to protobuf and back: the same block */
    Permit__Block out = PERMIT__BLOCK__INIT;
    ProtobufCBinaryData *txs = calloc(b->n ? b->n : 1, sizeof *txs);
    ledger_commit_pb lc;
    FZ_CHECK(txs != NULL);
    core_block_to_pb(b, &out, txs, &lc);
    size_t plen = permit__block__get_packed_size(&out);
    uint8_t *packed = malloc(plen ? plen : 1);
    FZ_CHECK(packed != NULL);
    permit__block__pack(&out, packed);
    Permit__Block *pb2 = permit__block__unpack(NULL, plen, packed);
    FZ_CHECK(pb2 != NULL);
    core_block *b2 = core_block_from_pb(pb2, g->params.max_block_txs, g->params.max_block_bytes,
                                        &err);
    FZ_CHECK(b2 != NULL);
    FZ_CHECK(memcmp(b->hash.b, b2->hash.b, 32) == 0 && b->n == b2->n &&
             b->has_last_commit == b2->has_last_commit);
    for (size_t i = 0; i < b->n; i++)
        FZ_CHECK(memcmp(b->ids[i], b2->ids[i], 32) == 0);
    core_block_unref(b2);
    permit__block__free_unpacked(pb2, NULL);
    free(packed);
    free(txs);

    for (size_t i = 0; i < b->n; i++) {
        ledger_tx tx;
        memset(&tx, 0, sizeof tx);
        (void)ledger_tx_decode(&tx, b->txs[i], b->lens[i], g->chain_id, &err);
        ledger_tx_release(&tx);
    }
    ledger_exec *held = NULL;
    if (ledger_validate_block(L, b->hdr_bytes, b->hdr_len, (const uint8_t *const *)b->txs,
                              b->lens, b->n, b->has_last_commit ? &b->last_commit : NULL, NULL,
                              NULL, &held, &err) == 0) {
        FZ_CHECK(held != NULL);
        FZ_CHECK(ledger_exec_header(held)->height == ledger_height(L) + 1);
        ledger_exec_free(held);
    }
    core_block_unref(b);
    return 0;
}
