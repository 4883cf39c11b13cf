/* ledger/limits.h: size limits of everything a transaction carries.  Every
 * length from the network is checked against these before use. */
#ifndef PERMIT_LEDGER_LIMITS_H
#define PERMIT_LEDGER_LIMITS_H

#define LEDGER_MAX_ENVELOPE 16384    /* bytes of one signed envelope */
#define LEDGER_MAX_BODY (LEDGER_MAX_ENVELOPE - 97)
#define LEDGER_MAX_NAME 256          /* business name, bytes of UTF-8 */
#define LEDGER_MAX_LEGAL_REP 128
#define LEDGER_MAX_SCOPE 4096
#define LEDGER_MAX_ADDRESS_TEXT 512
#define LEDGER_MAX_REASON 1024
#define LEDGER_MAX_LICENSE_ID 64
#define LEDGER_MAX_DOCUMENTS 16
#define LEDGER_MAX_ADDRESSES_HARD 1000 /* genesis max_addresses may not exceed this */
#define LEDGER_NONCE_LEN 16
#define LEDGER_MAX_RECORD (1u << 20)  /* encoded license record */
#define LEDGER_MAX_BLOCK_TXS_HARD 100000 /* genesis max_block_txs may not exceed this */
/* Bytes of the envelopes of one block.  A proposal carries its block in one
 * p2p frame (64 MiB at most, node/p2p.h) and a sync answer always carries at
 * least one block, so the hard limit leaves room for the framing of up to
 * LEDGER_MAX_BLOCK_TXS_HARD envelopes, the header and two certificates. */
#define LEDGER_MAX_BLOCK_BYTES_HARD (32u << 20)
#define LEDGER_MAX_BLOCK_BYTES_DEFAULT (16u << 20)
/* Events of one license (rule license_events_full, docs/rules.md): its
 * proof bundle carries every event with its envelope, so the history is
 * bounded to keep the bundle well under LEDGER_MAX_BUNDLE_BYTES.  Filings a
 * signer can repeat at will (AMEND, ADD/REMOVE_ADDRESS, SUSPEND, RESUME)
 * stop at LEDGER_LICENSE_FILINGS_MAX events, which leaves the rest for
 * decisions, renewals and the final REVOKE or CANCEL. */
#define LEDGER_MAX_LICENSE_EVENTS 1024
#define LEDGER_LICENSE_FILINGS_MAX 960

#endif
