/* node/p2p_link.h: what node/p2p.c (the link policy: dialling, accepting,
 * which link is in use, limits, timers) and node/p2p_link.c (one link: TLS,
 * framing, the handshake) share.  Private to those two files.  Loop thread
 * only. */
#ifndef PERMIT_NODE_P2P_LINK_H
#define PERMIT_NODE_P2P_LINK_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "admit.h"
#include "ledger/genesis.h"
#include "p2p.h"

struct bufferevent;
struct event;
struct evconnlistener;
struct ssl_ctx_st;
struct Permit__Frame;
typedef struct node_listen_guard node_listen_guard;

/* TLS is set up, then Hello, then Auth; an authenticated link is in use
 * (READY) or waits while the one in use is checked (STANDBY). */
typedef enum { L_TLS = 0, L_HELLO, L_AUTH, L_STANDBY, L_READY } p2p_link_state;

typedef struct p2p_link p2p_link;

struct p2p_link {
    node_p2p *p;
    struct bufferevent *bev;   /* an OpenSSL bufferevent; owns the SSL and the socket */
    p2p_link_state state;
    int outbound;
    int peer;                  /* validator index: the one dialled, or named by a valid Hello */
    uint8_t my_nonce[32], peer_nonce[32], exporter[32];
    uint64_t peer_height;
    node_admit_conn adm;       /* inbound: address, progress, arrival order */
    char addr[INET6_ADDRSTRLEN + 8];
    uint64_t started_ms, last_rx_ms;
    uint64_t ping_nonce, ping_sent_ms;
    int ping_out;              /* a Ping with ping_nonce awaits its Pong */
    p2p_link *next;            /* every link, in p->links */
};

typedef struct {
    node_p2p *p;
    unsigned index;
    p2p_link *ready;           /* the link in use, or NULL */
    p2p_link *standby;         /* a second authenticated link waiting for a verdict */
    p2p_link *dialing;         /* our dial in progress */
    uint64_t probe_until;      /* standby: when the link in use must have answered */
    struct event *redial;
    uint64_t backoff_ms;
    int dial;                  /* we dial this peer */
    char host[256];
    uint16_t port;
    uint8_t addr[16], addr_len;/* its numeric address in the membership, for reservations */
    /* the node key the slot was given to: a department node's, by the
     * validator sets of the heights near ours (node_p2p_refresh); an
     * observer's (on a validator), by the membership in force when that
     * observer said Hello */
    int has_key;
    ledger_pubkey key;
    char label[40];            /* its department id, or "observer 1a2b3c4d..." for logs */
} p2p_slot;

struct node_p2p {
    node *n;
    struct evconnlistener *listener;
    node_listen_guard *guard;
    struct ssl_ctx_st *tls;
    struct event *tick;
    p2p_slot peers[LEDGER_MAX_DEPARTMENTS + LEDGER_MAX_OBSERVERS];
    unsigned npeers;           /* department nodes, then (on a validator)
                                * LEDGER_MAX_OBSERVERS observer slots, given out by node
                                * key as observers the membership in force admits say
                                * Hello */
    unsigned nvalidators;      /* department node slots: 0..nvalidators-1, given out by
                                  node key to the validators of the heights near ours */
    p2p_link *links;
    uint64_t seq;              /* arrival order of links */
    p2p_frame_fn on_frame;
    p2p_link_fn on_link;
    void *ctx;
    uint64_t height;
    uint64_t dropped, oversize, evicted, hs_failed;
    size_t max_frame, max_queue;
    node_admit_limits lim;
};

/* ---- node/p2p_link.c ---- */

/* Monotonic milliseconds. */
uint64_t node_p2p_now_ms(void);
/* Validator v's department id, for logs ("?" when out of range). */
const char *node_p2p_validator_id(const node_p2p *p, int v);
/* Count a failed handshake. */
void node_p2p_hs_failed(node_p2p *p);
/* A link on bev (outbound: dialled to validator peer; inbound: peer -1),
 * reading and linked into p->links; NULL when out of memory (bev is then
 * still the caller's). */
p2p_link *node_p2p_link_new(node_p2p *p, struct bufferevent *bev, int outbound, int peer);
/* Unlink and free l and its bufferevent (which frees the SSL and closes
 * the socket); no callbacks, no policy. */
void node_p2p_link_free(p2p_link *l);
/* Queue a frame packed from f, or the len bytes at `bytes`; -1 when over
 * the frame limit (logged, counted) or the queue is full (counted). */
int node_p2p_link_queue(p2p_link *l, const struct Permit__Frame *f, const uint8_t *bytes,
                        size_t len);
int node_p2p_link_send(p2p_link *l, const struct Permit__Frame *f);
/* Send a Ping with a fresh nonce and remember it. */
void node_p2p_send_ping(p2p_link *l, uint64_t now);

/* ---- node/p2p.c ---- */

/* Close l and apply the policy: a waiting second link takes over, the
 * engine hears of a link that went down, a dial is re-armed. */
void node_p2p_link_close(p2p_link *l, const char *why);
/* l proved its key: in use, or waiting for a verdict on the one in use. */
void node_p2p_link_authenticated(p2p_link *l, uint64_t now);
/* A Pong arrived on l (authenticated). */
void node_p2p_on_pong(p2p_link *l, uint64_t nonce);
/* Evict pending inbound connections until c (l's admission record, or a
 * connection about to be made when l is NULL; from address `who`) fits; -1
 * when c must go. */
int node_p2p_make_room(node_p2p *p, p2p_link *l, const node_admit_conn *c, const char *who);
/* On a validator: the peer index for an observer's node key, when the
 * membership in force at the tip admits it (governance adds and removes
 * observers, DESIGN §6, §11): the slot that already holds the key, or a free
 * one.  -1 when the membership does not admit it (*why says so) or every
 * slot is in use. */
int node_p2p_observer_slot(node_p2p *p, const uint8_t key[32], const char **why);
/* The department node slot of a node key, or -1. */
int node_p2p_node_slot(const node_p2p *p, const uint8_t key[32]);

#endif
