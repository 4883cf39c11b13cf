/* libFuzzer target: canonical block headers (ledger/block.h).
 *
 * The layout is canonical, so a header that decodes must encode back to
 * exactly the input bytes (else two byte strings would be one header with
 * two block hashes), and its hash is SHA-256 of those bytes.  A header of
 * this chain (the only ones a ledger stores) has the JSON of block.get. */
#include <string.h>

#include "fuzzcommon.h"
#include "ledger/block.h"
#include "ledger/hash.h"
#include "node/rpc_json.h"

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
    ledger_header h;
    ledger_err err;
    if (ledger_header_decode(&h, data, size, &err) != 0)
        return 0;
    uint8_t out[LEDGER_MAX_HEADER_BYTES];
    size_t len;
    FZ_CHECK(ledger_header_encode(&h, out, sizeof out, &len) == 0);
    FZ_CHECK(len == size && memcmp(out, data, size) == 0);
    uint8_t a[32], b[32];
    ledger_header_hash(&h, a);
    ledger_sha256(data, size, b);
    FZ_CHECK(memcmp(a, b, 32) == 0);
    json_t *j = node_json_header(&h);
    FZ_CHECK(j != NULL || strcmp(h.chain_id, g->chain_id) != 0);
    json_decref(j);
    return 0;
}
