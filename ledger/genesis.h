/* ledger/genesis.h: the genesis file (config/genesis.json).
 *
 * The genesis file defines the chain: its id, region, departments (seal keys
 * and, for validators, node keys and p2p addresses), registrars and the
 * industry catalogue.  It is the auditor's only trust anchor.  Parsing checks
 * everything and names the offending field on error, e.g.
 *   "departments[2].seal_key: not a valid x-only public key". */
#ifndef PERMIT_LEDGER_GENESIS_H
#define PERMIT_LEDGER_GENESIS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "keys.h"

#define LEDGER_MAX_DEPARTMENTS 64
#define LEDGER_MAX_REGISTRARS 1024
#define LEDGER_MAX_INDUSTRIES 256
#define LEDGER_MAX_ITEMS 16
#define LEDGER_MAX_OBSERVERS 64
#define LEDGER_MAX_GENESIS_BYTES (4u << 20)
/* Longest duration genesis accepts (100 years of 365 days), so that a time
 * plus a duration never comes near overflowing uint64 milliseconds. */
#define LEDGER_MAX_DURATION_MS (UINT64_C(100) * 365 * 86400 * 1000)

typedef struct {
    char *id;            /* [a-z][a-z0-9_-]{0,31} */
    char *name;          /* UTF-8 display name */
    ledger_pubkey seal;  /* seal key: signs the department's decisions */
    int validator;       /* runs a validator */
    ledger_pubkey node;  /* node key (validators only) */
    char *p2p;           /* "host:port" (validators only) */
    char *rpc;           /* "host:port" or NULL: where its node answers RPC */
    int seal_retired;    /* the seal key retired itself (RETIRE_KEY, gov.h):
                            it signs nothing and no lookup finds it */
} ledger_department;

typedef struct {
    char *name;
    char *department;    /* id of the authorising department */
    int dept;            /* its index in departments[] */
    ledger_pubkey key;
} ledger_registrar;

/* A node that follows the chain without voting (DESIGN §6): an auditor's
 * office, a service hall, the public gateway. */
typedef struct {
    char *name;
    ledger_pubkey node;  /* its node key in the p2p handshake */
} ledger_observer;

typedef struct {
    char *permit;        /* name of the permit item */
    char *department;    /* owning department id */
    int dept;            /* its index in departments[] */
    int instant;         /* 秒批: on the commitment route the ledger's rule
                            `instant` decides it (docs/rules.md); only where
                            the industry allows that route */
} ledger_item_def;

typedef struct {
    char *code;          /* [a-z][a-z0-9-]{0,31} */
    char *name;
    uint64_t validity_ms;
    uint64_t renew_window_ms;  /* renewal allowed this long before expiry */
    uint64_t grace_ms;         /* and this long after it */
    int commitment_allowed;    /* notify-and-commit route (告知承诺) */
    uint64_t verify_within_ms; /* deadline for departments to verify */
    size_t n_items;
    ledger_item_def *items;
} ledger_industry;

typedef struct {
    uint32_t max_addresses;      /* per license, primary included */
    uint64_t tx_window_ms;       /* |tx timestamp - block time| allowed */
    uint32_t max_block_txs;
    uint64_t max_block_bytes;    /* envelope bytes per block */
    uint64_t block_interval_ms;  /* target time between blocks */
    uint64_t heartbeat_ms;       /* empty block at most this far apart */
    uint64_t gov_window_ms;      /* longest life of a governance proposal */
    uint64_t instant_ban_ms;     /* rule `instant`: no license of the USCC revoked
                                    this long before the APPLY */
} ledger_params;

/* instant_ban when genesis and governance say nothing: one year. */
#define LEDGER_INSTANT_BAN_DEFAULT_MS (UINT64_C(365) * 86400 * 1000)

typedef struct ledger_genesis {
    char *chain_id;              /* [A-Za-z0-9._-]{1,64} */
    char *region;                /* 6-digit division code */
    char *region_name;
    uint64_t genesis_time_ms;
    ledger_params params;
    size_t n_departments;
    ledger_department *departments;
    size_t n_registrars;
    ledger_registrar *registrars;
    size_t n_industries;
    ledger_industry *industries;
    size_t n_observers;
    ledger_observer *observers;  /* optional section; NULL when none */
    size_t n_validators;
    int *validators;             /* department indices, in genesis order */
    uint8_t hash[32];            /* SHA-256 of the genesis file's bytes */
    uint8_t validators_hash[32]; /* SHA-256(u16 BE count || node_key_0 ||
                                    seal_key_0 || ...), docs/genesis.md; in a
                                    membership, the hash of its set
                                    (ledger_set_validators_hash) */
    uint8_t genesis_vhash[32];   /* the genesis' validators_hash, and the v2 hash of
                                    its node keys: carried into every membership */
    uint8_t genesis_nodes[32];
    /* Private: lookup indexes built by ledger_genesis_parse and freed by
     * ledger_genesis_free.  NULL in a genesis built by hand (tests), whose
     * lookups then scan linearly. */
    struct ledger_genesis_index *index;
} ledger_genesis;

/* Parse and validate a genesis document held in memory (len bytes, need not
 * be NUL-terminated; more than LEDGER_MAX_GENESIS_BYTES is refused).  The
 * schema and every rule are in docs/genesis.md.  On success returns 0 and
 * *out owns everything (free with ledger_genesis_free); hash is SHA-256 of
 * exactly these len bytes.  On failure returns -1, *out is NULL, nothing is
 * leaked, and err has code LEDGER_ERR_INVALID (LEDGER_ERR_NOMEM when memory
 * ran out) and a message that begins with the JSON path of the offending
 * field ("industries[0].items[1].department: unknown department \"foo\"");
 * problems of the whole document (syntax, size) have no path. */
int ledger_genesis_parse(const char *json, size_t len, ledger_genesis **out,
                         ledger_err *err) LEDGER_WUR;

/* Read (at most LEDGER_MAX_GENESIS_BYTES, checked before reading) and parse
 * a genesis file.  Errors are those of ledger_genesis_parse prefixed with
 * "path: ", or LEDGER_ERR_IO when the file cannot be read. */
int ledger_genesis_load(const char *path, ledger_genesis **out,
                        ledger_err *err) LEDGER_WUR;

/* Free g and everything it owns; g may be NULL. */
void ledger_genesis_free(ledger_genesis *g);

/* Lookups; NULL / -1 when absent (or when g or the key is NULL).  They only
 * read g, so any number of threads may call them at once.  Keys are matched
 * by their 32 raw bytes and in their role only: a seal key is never found as
 * a registrar.  The key lookups and the industry lookup are binary searches
 * (they run per transaction); the department lookup is a scan of at most
 * LEDGER_MAX_DEPARTMENTS ids. */
/* Index of the department with this id in departments[], or -1. */
int ledger_genesis_dept_index(const ledger_genesis *g, const char *id);
/* Index in departments[] of the department whose seal key this is, or -1. */
int ledger_genesis_seal_dept(const ledger_genesis *g, const uint8_t key[32]);
const ledger_registrar *ledger_genesis_registrar(const ledger_genesis *g,
                                                 const uint8_t key[32]);
const ledger_industry *ledger_genesis_industry(const ledger_genesis *g,
                                               const char *code);
/* Index of the validator with this node key in validators[] (its position in
 * the validator set, not its department index), or -1. */
int ledger_genesis_validator_index(const ledger_genesis *g, const uint8_t node_key[32]);
/* Set g->validators_hash from its validators (the genesis formula). */
void ledger_genesis_validators_hash(ledger_genesis *g);
/* The hash a header names for the validators of membership m (DESIGN §5,
 * docs/genesis.md): SHA-256("permit/validators/v2" || u16 count || node
 * keys), except that while m's validators have genesis' node keys in
 * genesis' order it is the genesis value (seal keys may have rotated: they
 * certify no block).  Reads only m (genesis_vhash, genesis_nodes). */
void ledger_set_validators_hash(ledger_genesis *m);
/* Index in observers[] of the observer with this node key, or -1. */
int ledger_genesis_observer_index(const ledger_genesis *g, const uint8_t node_key[32]);

#endif
