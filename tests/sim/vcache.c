/* tests/sim/vcache.c: what verified, remembered for the seed.
 *
 * Every node of the simulation checks every signature it receives, as
 * permitd does, but a BIP340 verification is a pure function of (key,
 * message, signature): when n - 1 nodes receive the same message, the first
 * check decides for all of them.  Only successes are remembered, keyed by a
 * SHA-256 of everything the verdict depends on, so a different byte anywhere
 * is verified afresh.  Without this the seeds spend most of their time
 * re-verifying identical bytes. */
#include "sim.h"

#include <string.h>

#include "ledger/gov.h"
#include "ledger/hash.h"

static int seen(sim_world *w, const uint8_t key[32])
{
    size_t slot = ((size_t)key[0] | (size_t)key[1] << 8 | (size_t)key[2] << 16) % SIM_VERIFIED;
    return memcmp(w->verified[slot], key, 32) == 0;
}

static void remember(sim_world *w, const uint8_t key[32])
{
    size_t slot = ((size_t)key[0] | (size_t)key[1] << 8 | (size_t)key[2] << 16) % SIM_VERIFIED;
    memcpy(w->verified[slot], key, 32);
}

int sim_verify_key(sim_world *w, const ledger_pubkey *key, const uint8_t sighash[32],
                   const uint8_t sig[64])
{
    uint8_t buf[1 + 32 + 32 + 64], k[32];
    buf[0] = 'm';
    memcpy(buf + 1, key->raw, 32);
    memcpy(buf + 33, sighash, 32);
    memcpy(buf + 65, sig, 64);
    ledger_sha256(buf, sizeof buf, k);
    if (seen(w, k))
        return 1;
    if (!ledger_verify(key, sighash, 32, sig))
        return 0;
    remember(w, k);
    return 1;
}

int sim_commit_verify(sim_world *w, ledger *L, const ledger_commit *c,
                      const uint8_t block_hash[32], uint64_t height, ledger_err *err)
{
    ledger_gov *gv = ledger_vset_acquire(L, height, err);
    if (gv == NULL)
        return -1;
    const ledger_genesis *vs = gv->m;
    uint8_t buf[1 + 32 + 32 + 8 + 32], key[32];
    buf[0] = 'c';
    ledger_commit_hash(c, buf + 1); /* covers height, round, hash and every signature */
    memcpy(buf + 33, block_hash, 32);
    for (int i = 0; i < 8; i++)
        buf[65 + i] = (uint8_t)(height >> (56 - 8 * i));
    memcpy(buf + 73, vs->validators_hash, 32); /* the set it was checked against */
    ledger_sha256(buf, sizeof buf, key);
    int rc = 0;
    if (!seen(w, key)) {
        rc = ledger_commit_verify(vs, c, block_hash, height, err);
        if (rc == 0)
            remember(w, key);
    }
    ledger_gov_release(gv);
    return rc;
}

int sim_tx_verified(sim_world *w, const uint8_t tx_id[32])
{
    uint8_t buf[33], key[32];
    buf[0] = 't';
    memcpy(buf + 1, tx_id, 32); /* the id hashes the whole envelope, signature included */
    ledger_sha256(buf, sizeof buf, key);
    return seen(w, key);
}

void sim_tx_remember(sim_world *w, const uint8_t tx_id[32])
{
    uint8_t buf[33], key[32];
    buf[0] = 't';
    memcpy(buf + 1, tx_id, 32);
    ledger_sha256(buf, sizeof buf, key);
    remember(w, key);
}
