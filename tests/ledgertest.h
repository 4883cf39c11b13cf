/* tests/ledgertest.h: a test chain: genesis with deterministic keys, a ledger
 * in a temporary folder, and builders of signed transactions. */
#ifndef PERMIT_LEDGERTEST_H
#define PERMIT_LEDGERTEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger/genesis.h"
#include "ledger/keys.h"
#include "ledger/ledger.h"
#include "permit.pb-c.h"

#define LT_T0 1764288000000ULL /* genesis time: 2025-11-28T00:00:00Z */
#define LT_SEC 1000ULL
#define LT_DAY (86400ULL * 1000)

/* departments of the test chain, in genesis order */
enum { LT_APPROVAL, LT_MARKET, LT_TOBACCO, LT_FIRE, LT_HEALTH, LT_POLICE, LT_NDEPT };

typedef struct {
    char *dir;
    ledger_genesis *g;
    ledger *L;
    ledger_keypair dept[LT_NDEPT];
    ledger_keypair node[LT_NDEPT];
    ledger_keypair registrar;
    ledger_keypair outsider;      /* a valid key nobody authorised */
    ledger_keypair holder;        /* the applicant's e-seal key: signs the pledge of every
                                     commitment APPLY the builders make */
    uint64_t now;                 /* time of the last block */
    char *genesis_json;
} lt_env;

/* Edits the genesis document before it is parsed (may be NULL). */
typedef void (*lt_genesis_edit)(json_t *root);

/* Build the test genesis (JSON text, malloc'd) with keys from `env`. */
char *lt_genesis_json(lt_env *env, lt_genesis_edit edit);

/* Create keys, genesis and an empty ledger in a new temporary folder. */
void lt_setup(lt_env *env, lt_genesis_edit edit);
/* Close and reopen the ledger (same folder). */
void lt_reopen(lt_env *env);
void lt_teardown(lt_env *env);

/* Key of a department's seal. */
const ledger_keypair *lt_dept(lt_env *env, int d);

/* Transaction builders: return a malloc'd envelope, timestamp = env->now +
 * 1 s (the time the next block will have by default). */
uint8_t *lt_apply(lt_env *env, const char *uscc, const char *industry, int commitment,
                  size_t *len);
uint8_t *lt_apply_full(lt_env *env, const ledger_keypair *kp, const char *uscc,
                       const char *name, const char *rep, const char *industry,
                       const char *division, const char *address, int commitment,
                       size_t *len);
/* The pledge text the builders' holder signs, and its digest signed by
 * `holder` for this chain, uscc and industry into a (holder_key,
 * pledge_sha256, pledge_sig pointing into the static buffers of `pl`). */
typedef struct {
    uint8_t key[32], sha[32], sig[64];
} lt_pledge;
#define LT_PLEDGE_TEXT "本人承诺：所填信息真实，符合许可条件，愿承担不实承诺的法律责任。"
void lt_pledge_sign(lt_env *env, const ledger_keypair *holder, const char *uscc,
                    const char *industry, lt_pledge *pl);
/* A commitment or ordinary APPLY with the pledge of `pl` (NULL: none). */
uint8_t *lt_apply_pledged(lt_env *env, const char *uscc, const char *industry, int commitment,
                          const lt_pledge *pl, size_t *len);
/* SET_HOLDER_KEY by the registrar: `holder` signs the license id. */
uint8_t *lt_set_holder(lt_env *env, const ledger_keypair *signer, const char *license,
                       const ledger_keypair *holder, size_t *len);
uint8_t *lt_decision(lt_env *env, const ledger_keypair *kp, int kind, const char *license,
                     const uint32_t *items, size_t n_items, const char *reason, size_t *len);
uint8_t *lt_reason_tx(lt_env *env, const ledger_keypair *kp, int kind, const char *license,
                      const char *reason, size_t *len);
uint8_t *lt_add_address(lt_env *env, const ledger_keypair *kp, const char *license,
                        const char *division, const char *text, size_t *len);
uint8_t *lt_remove_address(lt_env *env, const ledger_keypair *kp, const char *license,
                           uint32_t id, size_t *len);
uint8_t *lt_amend(lt_env *env, const ledger_keypair *kp, const char *license,
                  const char *name, const char *rep, const char *scope, size_t *len);
/* Sign an arbitrary body (its nonce/timestamp already set). */
uint8_t *lt_sign(lt_env *env, const ledger_keypair *kp, Permit__TxBody *b, size_t *len);

/* Execute one transaction alone in a block at time env->now + dt and commit
 * it.  Returns 0 on success; on refusal returns -1 with err filled and
 * commits nothing (the block is discarded).  license_out (may be NULL) gets
 * the license id the transaction touched. */
int lt_run(lt_env *env, uint64_t dt, const uint8_t *envl, size_t len, char *license_out,
           ledger_err *err);
/* Same, freeing envl. */
int lt_run_free(lt_env *env, uint64_t dt, uint8_t *envl, size_t len, char *license_out,
                ledger_err *err);
/* Commit an empty block at env->now + dt (advances time). */
void lt_tick(lt_env *env, uint64_t dt);
/* Store a certificate of the tip (round 0) signed by keys[i] as validator i
 * of its height's set, whatever that set is (an audit decides whether they
 * count).  0, or -1 with err. */
int lt_certify_tip(lt_env *env, const ledger_keypair *const *keys, size_t n, ledger_err *err);

/* Load a license (asserts it exists). */
void lt_get(lt_env *env, const char *id, ledger_license *out);

/* A valid USCC derived from a number (distinct numbers give distinct codes). */
void lt_uscc(uint32_t n, char out[19]);

#endif
