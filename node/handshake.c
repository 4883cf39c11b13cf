/* node/handshake.c: the handshake's hash, Hello check and Auth signature
 * (handshake.h).  No I/O. */
#include "handshake.h"

#include <pthread.h>
#include <string.h>

#include "ledger/codec.h"
#include "ledger/hash.h"
#include "permit.pb-c.h"

static ledger_tag g_tag;
static pthread_once_t g_tag_once = PTHREAD_ONCE_INIT;

static void tag_init(void)
{
    ledger_tag_init(&g_tag, NODE_HS_TAG);
}

const char *node_hs_result_str(node_hs_result r)
{
    switch (r) {
    case NODE_HS_OK:
        return "ok";
    case NODE_HS_MALFORMED:
        return "malformed hello";
    case NODE_HS_OTHER_CHAIN:
        return "another chain";
    case NODE_HS_NOT_VALIDATOR:
        return "not a validator's node key (nor, to a validator, an admitted observer's)";
    case NODE_HS_SELF:
        return "our own node key";
    }
    return "?";
}

int node_hs_auth_hash(const char *chain_id, const uint8_t signer_nonce[32],
                      const uint8_t other_nonce[32], const uint8_t exporter[32], uint8_t out[32])
{
    int rc = -1;
    pthread_once(&g_tag_once, tag_init);
    lbuf b;
    /* str chain_id (at most 2 + 65535) and three 32-byte values */
    ledger_lbuf_init(&b, 2 + 65535 + 3 * 32);
    ledger_lbuf_str(&b, chain_id);
    ledger_lbuf_put(&b, signer_nonce, 32);
    ledger_lbuf_put(&b, other_nonce, 32);
    ledger_lbuf_put(&b, exporter, NODE_HS_EXPORTER_LEN);
    if (b.err) {
        memset(out, 0, 32);
        goto out;
    }
    ledger_tagged_hash(&g_tag, b.buf, b.len, out);
    rc = 0;
out:
    ledger_lbuf_free(&b);
    return rc;
}

/* ---- membership ---- */

unsigned node_member_peers(const ledger_genesis *g)
{
    return (unsigned)(g->n_validators + g->n_observers);
}

int node_member_peer(const ledger_genesis *g, const uint8_t key[32])
{
    int v = ledger_genesis_validator_index(g, key);
    if (v >= 0)
        return v;
    int o = ledger_genesis_observer_index(g, key);
    return o >= 0 ? (int)g->n_validators + o : -1;
}

int node_member_is_observer(const ledger_genesis *g, unsigned p)
{
    return p >= g->n_validators && p < node_member_peers(g);
}

const ledger_pubkey *node_member_key(const ledger_genesis *g, unsigned p)
{
    if (p < g->n_validators)
        return &g->departments[g->validators[p]].node;
    if (p < node_member_peers(g))
        return &g->observers[p - g->n_validators].node;
    return NULL;
}

const char *node_member_name(const ledger_genesis *g, int p)
{
    if (p >= 0 && (size_t)p < g->n_validators)
        return g->departments[g->validators[p]].id;
    if (p >= 0 && (unsigned)p < node_member_peers(g))
        return g->observers[(size_t)p - g->n_validators].name;
    return "?";
}

/* ---- the handshake ---- */

node_hs_result node_hs_check_hello_peer(const ledger_genesis *g, int self, int observers_ok,
                                        const Permit__Hello *h, int *peer)
{
    *peer = -1;
    if (h == NULL || h->chain_id == NULL || h->node_key.len != 32 ||
        h->nonce.len != NODE_HS_NONCE_LEN)
        return NODE_HS_MALFORMED;
    if (strcmp(h->chain_id, g->chain_id) != 0)
        return NODE_HS_OTHER_CHAIN;
    int v = node_member_peer(g, h->node_key.data);
    if (v < 0 || (!observers_ok && node_member_is_observer(g, (unsigned)v)))
        return NODE_HS_NOT_VALIDATOR;
    if (v == self)
        return NODE_HS_SELF;
    *peer = v;
    return NODE_HS_OK;
}

node_hs_result node_hs_check_hello(const ledger_genesis *g, int self, const Permit__Hello *h,
                                   int *validator)
{
    return node_hs_check_hello_peer(g, self, 0, h, validator);
}

int node_hs_sign_auth(const ledger_keypair *key, const char *chain_id,
                      const uint8_t own_nonce[32], const uint8_t peer_nonce[32],
                      const uint8_t exporter[32], uint8_t sig[64])
{
    uint8_t msg[32];
    if (node_hs_auth_hash(chain_id, own_nonce, peer_nonce, exporter, msg) != 0)
        return -1;
    return ledger_sign(key, msg, NULL, sig) == 0 ? 0 : -1;
}

int node_hs_verify_auth_key(const char *chain_id, const ledger_pubkey *key,
                            const uint8_t peer_nonce[32], const uint8_t own_nonce[32],
                            const uint8_t exporter[32], const Permit__Auth *a)
{
    if (a == NULL || a->sig.len != 64 || key == NULL)
        return 0;
    uint8_t msg[32];
    if (node_hs_auth_hash(chain_id, peer_nonce, own_nonce, exporter, msg) != 0)
        return 0;
    return ledger_verify(key, msg, 32, a->sig.data) == 1;
}

int node_hs_verify_auth(const ledger_genesis *g, unsigned validator,
                        const uint8_t peer_nonce[32], const uint8_t own_nonce[32],
                        const uint8_t exporter[32], const Permit__Auth *a)
{
    return node_hs_verify_auth_key(g->chain_id, node_member_key(g, validator), peer_nonce,
                                   own_nonce, exporter, a);
}
