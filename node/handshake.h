/* node/handshake.h: the computations of the p2p handshake (DESIGN §6,
 * docs/formats.md "P2P handshake"), free of I/O, sockets and libevent, so
 * that the node and the consensus simulator run the same code.
 *
 * Both sides of a link send Hello {chain_id, node_key, nonce, height}; on
 * the peer's Hello each sends Auth, its node key's BIP340 signature over
 *
 *   TaggedHash("permit/p2p/v2", str chain_id || own nonce || peer nonce
 *                               || exporter)
 *
 * where exporter is the TLS exporter value of the link's session (RFC 8446
 * §7.5, label NODE_HS_EXPORTER_LABEL, 32 bytes, no context).  Both ends of
 * one TLS session compute the same exporter, and no other session has it,
 * so a Hello and Auth relayed between two connections never verify: the
 * key is bound to this channel. */
#ifndef PERMIT_NODE_HANDSHAKE_H
#define PERMIT_NODE_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/genesis.h"
#include "ledger/keys.h"

struct Permit__Hello;
struct Permit__Auth;

#define NODE_HS_TAG "permit/p2p/v2"
#define NODE_HS_EXPORTER_LABEL "EXPORTER-permit-p2p"
#define NODE_HS_EXPORTER_LEN 32
#define NODE_HS_NONCE_LEN 32
/* Hello and Auth are small: a handshake frame longer than this is refused
 * before it is decoded. */
#define NODE_HS_MAX_FRAME 4096

typedef enum {
    NODE_HS_OK = 0,
    NODE_HS_MALFORMED,     /* missing chain id, key or nonce of the wrong length */
    NODE_HS_OTHER_CHAIN,   /* another chain id */
    NODE_HS_NOT_VALIDATOR, /* the key is not a validator's node key */
    NODE_HS_SELF,          /* our own key: a connection to ourselves */
} node_hs_result;

/* A short English phrase for r, for logs. */
const char *node_hs_result_str(node_hs_result r);

/* out = TaggedHash(NODE_HS_TAG, str chain_id || signer_nonce || other_nonce
 * || exporter).  The signer's own nonce comes first.  Returns 0, or -1 when
 * chain_id is longer than a str can hold (out is then zeroed). */
int node_hs_auth_hash(const char *chain_id, const uint8_t signer_nonce[32],
                      const uint8_t other_nonce[32], const uint8_t exporter[32],
                      uint8_t out[32]) __attribute__((warn_unused_result));

/* ---- membership: whose node key may hold a link (DESIGN §6) ----
 *
 * Peers are numbered: the validators 0..nv-1 (their order in g->validators),
 * then the observers nv..nv+no-1 (their order in g->observers).  The
 * validator set does not change on chain yet, so g's validators are the ones
 * in force.  Observers do change (governance): permitd asks the membership
 * in force at its tip (node/p2p.c, node_p2p_observer_slot) and numbers
 * observer slots itself; the observer answers here, from genesis, serve the
 * simulator and the tests. */

/* Validators and observers: the number of peer indexes. */
unsigned node_member_peers(const ledger_genesis *g);
/* The peer index of a node key, or -1 when it is neither a validator's nor
 * an observer's. */
int node_member_peer(const ledger_genesis *g, const uint8_t key[32]);
/* Whether peer index p is an observer (nv <= p < node_member_peers). */
int node_member_is_observer(const ledger_genesis *g, unsigned p);
/* The node key of peer p, or NULL when out of range. */
const ledger_pubkey *node_member_key(const ledger_genesis *g, unsigned p);
/* A name for logs: a validator's department id, an observer's name, "?". */
const char *node_member_name(const ledger_genesis *g, int p);

/* Check a peer's Hello against genesis g, for the node that is validator
 * `self` (-1 when it is none).  On NODE_HS_OK, *validator is the peer's
 * index in g->validators.  Reads only h's fields; never fails on data. */
node_hs_result node_hs_check_hello(const ledger_genesis *g, int self,
                                   const struct Permit__Hello *h, int *validator);
/* The same for a node that is peer `self` (node_member_peer; -1 for none),
 * accepting observers' keys too when observers_ok (a validator, which lets
 * admitted observers follow it); *peer is the peer index.  A node never
 * accepts its own key. */
node_hs_result node_hs_check_hello_peer(const ledger_genesis *g, int self, int observers_ok,
                                        const struct Permit__Hello *h, int *peer);

/* Our Auth signature: key signs the hash above with our nonce first.
 * Returns 0, or -1 when signing fails. */
int node_hs_sign_auth(const ledger_keypair *key, const char *chain_id,
                      const uint8_t own_nonce[32], const uint8_t peer_nonce[32],
                      const uint8_t exporter[32], uint8_t sig[64])
    __attribute__((warn_unused_result));

/* 1 when a is the valid signature of peer `validator` (a peer index:
 * node_member_peer) over the hash above with the peer's nonce first (as the
 * peer signed it), 0 otherwise (including a signature that is not 64 bytes
 * or an index out of range). */
int node_hs_verify_auth(const ledger_genesis *g, unsigned validator,
                        const uint8_t peer_nonce[32], const uint8_t own_nonce[32],
                        const uint8_t exporter[32], const struct Permit__Auth *a);
/* The same against a node key named directly (an observer the membership
 * in force admits, whose peer index the p2p layer assigns). */
int node_hs_verify_auth_key(const char *chain_id, const ledger_pubkey *key,
                            const uint8_t peer_nonce[32], const uint8_t own_nonce[32],
                            const uint8_t exporter[32], const struct Permit__Auth *a);

#endif
