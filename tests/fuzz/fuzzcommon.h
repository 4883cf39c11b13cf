/* tests/fuzz/fuzzcommon.h: what the libFuzzer targets share: the genesis and
 * the certified chain of tests/fuzz/data (made by tests/test_fuzz_seeds.c),
 * and a ledger holding that chain in a temporary folder.
 *
 * Failing set-up aborts: a target that cannot start must not report "no
 * finding".  Each target aborts on a broken invariant, which libFuzzer
 * reports as a crash with the input that broke it. */
#ifndef PERMIT_FUZZCOMMON_H
#define PERMIT_FUZZCOMMON_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/genesis.h"
#include "ledger/ledger.h"
#include "permit.pb-c.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The handshake values of the seeds: our nonce, the peer's, the exporter. */
#define FZ_OWN_NONCE 0x01
#define FZ_PEER_NONCE 0x02
#define FZ_EXPORTER 0x03

/* tests/fuzz/data/genesis.json, loaded once. */
const ledger_genesis *fz_genesis(void);

/* tests/fuzz/data/chain.bin: a SyncResponse frame of every block. */
const Permit__SyncResponse *fz_chain(void);

/* A new ledger of fz_genesis() in a temporary folder (removed at exit)
 * holding the chain's first `upto` blocks. */
ledger *fz_ledger(size_t upto);

/* abort() with a message when cond is false. */
#define FZ_CHECK(cond)                                                                     \
    do {                                                                                   \
        if (!(cond))                                                                       \
            fz_fail(__FILE__, __LINE__, #cond);                                            \
    } while (0)
void fz_fail(const char *file, int line, const char *what) __attribute__((noreturn));

#endif
