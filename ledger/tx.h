/* ledger/tx.h: transaction envelopes and bodies.
 *
 * Envelope (docs/formats.md): version (1 byte, = 1) || signer (32-byte x-only
 * key) || BIP340 signature (64) || body.  tx_id = SHA-256(envelope).  The
 * signature covers TaggedHash("permit/tx/v1", u8 len(chain_id) || chain_id ||
 * body).  The body is a protobuf permit.TxBody in the exact encoding
 * protobuf-c produces (no unknown fields, no redundant encodings); the node
 * verifies the bytes it received and never re-serialises a body. */
#ifndef PERMIT_LEDGER_TX_H
#define PERMIT_LEDGER_TX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "genesis.h"
#include "keys.h"
#include "limits.h"

struct Permit__TxBody;

#define LEDGER_ENVELOPE_VERSION 1
#define LEDGER_ENVELOPE_HEADER 97

typedef struct {
    uint8_t id[32];              /* SHA-256 of the envelope */
    uint8_t signer[32];
    uint8_t sig[64];
    uint8_t sighash[32];         /* what the signature signs */
    const uint8_t *env;          /* the caller's envelope bytes (not owned) */
    size_t env_len;
    struct Permit__TxBody *body; /* decoded body (owned) */
    int kind;                    /* permit TxKind */
    /* RENEW only: the signer's key parsed, for a holder's RENEW (a key the
     * membership does not hold; ledger_tx_authorize points *pk at it) */
    int signer_parsed;
    ledger_pubkey signer_pk;
} ledger_tx;

/* The department index ledger_tx_authorize gives a RENEW signed by a key
 * that is no registrar's: the license's holder key, if the rules find it is
 * (rule signer_not_holder, rules.h).  Never an index into departments. */
#define LEDGER_DEPT_HOLDER (-2)

/* Roles a signer can hold. */
typedef enum {
    LEDGER_ROLE_REGISTRAR = 1,
    LEDGER_ROLE_DEPARTMENT = 2,
    LEDGER_ROLE_KEY = 3, /* RETIRE_KEY: any key in force, retiring itself */
} ledger_role;

/* 1 for GOV_PROPOSE, GOV_APPROVE and RETIRE_KEY (gov.h). */
int ledger_tx_kind_is_gov(int kind);

/* Parse an envelope and decode its body strictly; computes id and sighash.
 * Checks only the form (sizes, canonical encoding, known kind, payload
 * matching the kind, nonce length); not the signature, the signer's role or
 * any rule that needs genesis or state.  `env` must outlive `tx`. */
int ledger_tx_decode(ledger_tx *tx, const uint8_t *env, size_t len,
                     const char *chain_id, ledger_err *err) LEDGER_WUR;

/* Free the decoded body; NULL-safe, idempotent. */
void ledger_tx_release(ledger_tx *tx);

/* The role the kind requires. */
ledger_role ledger_tx_kind_role(int kind);

/* Name of a TxKind ("APPLY", ...); "UNKNOWN" otherwise. */
const char *ledger_tx_kind_name(int kind);
/* Inverse of ledger_tx_kind_name, -1 if unknown. */
int ledger_tx_kind_parse(const char *name);

/* Who signed: checks that the signer holds the role the kind requires
 * (rule signer_not_registrar / signer_not_department, code
 * LEDGER_ERR_UNAUTHORIZED).  On success *pk points at the signer's parsed key
 * in genesis and *dept is the signing department's index (a registrar's
 * authorising department for registrar kinds). */
int ledger_tx_authorize(const ledger_genesis *g, const ledger_tx *tx,
                        const ledger_pubkey **pk, int *dept,
                        ledger_err *err) LEDGER_WUR;

/* Field rules that need only genesis: USCC, industry, commitment route,
 * required and bounded text, UTF-8, division codes inside the region,
 * reasons.  Rule names are documented in docs/rules.md. */
int ledger_tx_check_fields(const ledger_genesis *g, const ledger_tx *tx,
                           ledger_err *err) LEDGER_WUR;

/* The timestamp window: |timestamp - now| <= window (rule timestamp_window). */
int ledger_tx_check_time(const ledger_tx *tx, uint64_t now_ms, uint64_t window_ms,
                         ledger_err *err) LEDGER_WUR;

/* 1 when the signature verifies under pk. */
int ledger_tx_sig_ok(const ledger_tx *tx, const ledger_pubkey *pk);

/* Everything a mempool checks before admitting a tx, short of state:
 * decode, authorize, fields, and (unless skip_sig) the signature.  Fills tx
 * (release it) on success and on failure alike. */
int ledger_tx_admit(const ledger_genesis *g, ledger_tx *tx, const uint8_t *env,
                    size_t len, int skip_sig, ledger_err *err) LEDGER_WUR;

/* Compute the signature hash of a body for a chain. */
void ledger_tx_sighash(const char *chain_id, const uint8_t *body, size_t len,
                       uint8_t out[32]);

/* Build a signed envelope: packs `body` with protobuf-c, signs it with kp for
 * chain_id.  *env is malloc'd.  timestamp and nonce must already be set in
 * body (see ledger_tx_body_init). */
int ledger_tx_sign(const char *chain_id, const struct Permit__TxBody *body,
                   const ledger_keypair *kp, uint8_t **env, size_t *len,
                   ledger_err *err) LEDGER_WUR;

/* Initialise a body of the given kind with timestamp and a fresh random
 * nonce (stored in nonce_buf, which must outlive body). */
int ledger_tx_body_init(struct Permit__TxBody *body, int kind, uint64_t timestamp_ms,
                        uint8_t nonce_buf[LEDGER_NONCE_LEN]) LEDGER_WUR;

/* The pledge digest the holder signs on the notify-and-commit route
 * (docs/formats.md, "Pledge"): TaggedHash("permit/pledge/v1", u8 len(chain_id)
 * || chain_id || u8 len(uscc) || uscc || u8 len(industry) || industry ||
 * h32 SHA-256(pledge text)).  Strings longer than 255 bytes are cut at 255
 * (none that the rules admit is). */
void ledger_pledge_digest(const char *chain_id, const char *uscc, const char *industry,
                          const uint8_t text_sha256[32], uint8_t out[32]);

/* The digest a new holder key signs in SET_HOLDER_KEY (docs/formats.md,
 * "Holder key"): TaggedHash("permit/holder/v1", u8 len(chain_id) || chain_id
 * || u8 len(license_id) || license_id). */
void ledger_holder_digest(const char *chain_id, const char *license_id, uint8_t out[32]);

/* The evidence methods a VERIFY may name (NULL-terminated). */
extern const char *const ledger_evidence_methods[];

#endif
