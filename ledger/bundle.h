/* ledger/bundle.h: the proof bundle of one license (DESIGN §9,
 * docs/formats.md "Proof bundle").
 *
 * A node builds it from its ledger (ledger_bundle_build, for the
 * license.proof RPC); an auditor decodes it (ledger_bundle_decode) and
 * verifies it with ledger/audit.h.  The wire form is the protobuf
 * permit.ProofBundle; before protobuf-c sees a byte, a scan of the wire
 * format bounds every length, every count and the nesting, and refuses
 * unknown fields and repeated singular fields, so a hostile file can neither
 * make the decoder allocate without bound nor carry data the verifier
 * ignores.  A bundle has one encoding, the one ledger_bundle_encode writes:
 * fields out of order, padded varints, strings with bytes after a NUL,
 * default values written out and an empty subtree spelled out are refused
 * (the scan, then the shared check of pbcheck.h).  The decoded struct owns
 * copies of everything. */
#ifndef PERMIT_LEDGER_BUNDLE_H
#define PERMIT_LEDGER_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "block.h"
#include "err.h"
#include "instant.h"
#include "ledger.h"
#include "limits.h"
#include "merkle.h"
#include "smt.h"

#define LEDGER_BUNDLE_VERSION 1
#define LEDGER_MAX_BUNDLE_BYTES (16u << 20)  /* a bundle file or RPC answer */
#define LEDGER_MAX_BUNDLE_EVENTS 65536       /* events of one license in a bundle */

typedef struct {
    uint8_t *event;            /* canonical event bytes */
    size_t event_len;          /* <= LEDGER_EVENT_MAX_BYTES */
    uint64_t log_index;
    size_t n_path;             /* <= MERKLE_MAX_PROOF */
    uint8_t (*path)[32];       /* inclusion proof, leaf first */
    uint8_t *tx;               /* the envelope */
    size_t tx_len;             /* <= LEDGER_MAX_ENVELOPE */
} ledger_bundle_event;

typedef struct {
    uint32_t version;
    char license_id[LEDGER_MAX_LICENSE_ID + 1];
    uint8_t *header;           /* canonical header bytes */
    size_t header_len;         /* <= LEDGER_MAX_HEADER_BYTES */
    ledger_commit commit;
    uint8_t *record;           /* canonical license record */
    size_t record_len;         /* <= LEDGER_MAX_RECORD */
    smt_proof state;
    size_t n_events;           /* <= LEDGER_MAX_BUNDLE_EVENTS */
    ledger_bundle_event *events;
    /* the governance record (gov.h) at that block; gov_record NULL when the
     * chain has none (then no gov_state and no gov_events) */
    uint8_t *gov_record;
    size_t gov_record_len;     /* <= LEDGER_MAX_GOV_RECORD */
    smt_proof gov_state;
    size_t n_gov_events;       /* <= LEDGER_MAX_BUNDLE_EVENTS */
    ledger_bundle_event *gov_events;
    /* the USCC record (instant.h) of the license's USCC at that block, for
     * a license of the commitment route: has_uscc with its proof of
     * presence (uscc_record its bytes) or of absence (uscc_record NULL) */
    int has_uscc;
    uint8_t *uscc_record;
    size_t uscc_record_len;    /* <= LEDGER_MAX_USCC_RECORD */
    smt_proof uscc_state;
    uint64_t since_log_size;   /* 0: no consistency proof */
    size_t n_consistency;      /* <= MERKLE_MAX_PROOF */
    uint8_t consistency[MERKLE_MAX_PROOF][32];
} ledger_bundle;

/* Build the bundle of license `id` against the latest block that has a
 * commit certificate: that header and certificate, the record and its state
 * proof under the header's state_root, every event up to the record's seq
 * with its inclusion proof at the header's log_size and its envelope, the
 * governance record, for a license of the commitment route its USCC's
 * record (or its absence) with its proof, and,
 * when since_log_size > 0, the consistency proof from since_log_size to the
 * header's log_size.  Everything is proven against that one header's roots
 * (state tree and event log nodes are never rewritten), so blocks committed
 * meanwhile do not matter; should the record change under the build, it
 * starts again on the newer header.  *out is malloc'd.  Errors:
 * LEDGER_ERR_NOTFOUND (no such license in the certified state, or no
 * certified block yet), LEDGER_ERR_INVALID (since_log_size beyond the
 * header's log), LEDGER_ERR_IO / NOMEM.  Any thread. */
int ledger_bundle_build(ledger *L, const char *id, uint64_t since_log_size, uint8_t **out,
                        size_t *len, uint64_t *height, ledger_err *err) LEDGER_WUR;

/* Decode bundle bytes, bounded and in their one encoding as above; *b is
 * zeroed first and owns its memory afterwards (free it with
 * ledger_bundle_free on success and on failure alike).  What decodes
 * encodes back into exactly p.  Errors are LEDGER_ERR_INVALID with a message
 * saying what is malformed (rule "bundle_malformed"), or LEDGER_ERR_NOMEM. */
int ledger_bundle_decode(ledger_bundle *b, const uint8_t *p, size_t len,
                         ledger_err *err) LEDGER_WUR;

/* The wire bytes of a bundle (*out malloc'd). */
int ledger_bundle_encode(const ledger_bundle *b, uint8_t **out, size_t *len,
                         ledger_err *err) LEDGER_WUR;

/* Free what b owns; NULL-safe, leaves b zeroed. */
void ledger_bundle_free(ledger_bundle *b);

#endif
