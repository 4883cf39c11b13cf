/* libFuzzer target: commit certificates (permit.Commit, ledger/block.h),
 * checked against the genesis of tests/fuzz/data.
 *
 * A certificate that converts is bounded (at most LEDGER_MAX_DEPARTMENTS
 * signatures, 32-byte hash), and survives protobuf and back to the same
 * canonical bytes (whose SHA-256 the next header names). */
#include <stdlib.h>
#include <string.h>

#include "fuzzcommon.h"
#include "ledger/block.h"

static const ledger_genesis *g;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g = fz_genesis();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Permit__Commit *pc = permit__commit__unpack(NULL, size, data);
    if (pc == NULL)
        return 0;
    ledger_commit c;
    ledger_err err;
    if (ledger_commit_from_pb(&c, pc, &err) == 0) {
        FZ_CHECK(c.n_sigs <= LEDGER_MAX_DEPARTMENTS);
        uint8_t a[LEDGER_MAX_COMMIT_BYTES], b[LEDGER_MAX_COMMIT_BYTES];
        size_t alen, blen;
        FZ_CHECK(ledger_commit_encode(&c, a, sizeof a, &alen) == 0);
        ledger_commit_pb w;
        ledger_commit_to_pb(&c, &w);
        size_t plen = permit__commit__get_packed_size(&w.pc);
        uint8_t *packed = malloc(plen ? plen : 1);
        FZ_CHECK(packed != NULL);
        permit__commit__pack(&w.pc, packed);
        Permit__Commit *again = permit__commit__unpack(NULL, plen, packed);
        FZ_CHECK(again != NULL);
        ledger_commit c2;
        FZ_CHECK(ledger_commit_from_pb(&c2, again, &err) == 0);
        FZ_CHECK(ledger_commit_encode(&c2, b, sizeof b, &blen) == 0);
        FZ_CHECK(alen == blen && memcmp(a, b, alen) == 0);
        permit__commit__free_unpacked(again, NULL);
        free(packed);
        (void)ledger_commit_verify(g, &c, c.block_hash, c.height, &err);
    }
    permit__commit__free_unpacked(pc, NULL);
    return 0;
}
