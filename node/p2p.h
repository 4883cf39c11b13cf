/* node/p2p.h: authenticated TLS 1.3 links between the validators of the
 * heights near ours, and the observers they admit (DESIGN §6, §11;
 * docs/operations.md "Network").
 *
 * Every link is TLS 1.3 with an ephemeral self-signed certificate
 * (node/tls.h); the dialer is the TLS client.  Inside it, frames are u32
 * big-endian length || protobuf permit.Frame, the length checked before a
 * byte of the frame is decoded (p2p_max_frame; handshake frames
 * NODE_HS_MAX_FRAME).  A link starts with the handshake of node/handshake.h:
 * Hello, then Auth, a signature that covers the session's TLS exporter, so
 * a handshake relayed from another connection never verifies.  A key that is
 * no validator of the next two heights (and, on a validator, no observer the
 * membership in force admits), or an Auth that does not verify, closes the
 * link.  Department nodes keep one peer number while they are validators
 * (their index in genesis, or a free number for one added later).
 *
 * Link policy.  Of two validators, the one with the lower index in genesis
 * dials (a validator of genesis dials one added later; of two added later,
 * the lower node key); a peer it dials
 * that has no link and no dial in progress is (re)dialled with backoff
 * (0.5 s doubling to 30 s, reset when a link comes up), checked four times a
 * second whatever happened meanwhile.  A live link is never replaced by a
 * newer one unless it is proven dead: a second authenticated link for a
 * peer waits while the one in use is sent a Ping; a Pong within 2 s closes
 * the newcomer, silence closes the old link and the newcomer takes over.  A
 * link idle for 10 s is pinged; one that sent nothing for 30 s is closed.
 *
 * Connections that have not authenticated are bounded by node/admit.h: per
 * address, in all, and per validator key named in a Hello, each with
 * eviction of the weakest pending connection rather than refusal of the
 * newcomer; every one of them is closed 5 s after it arrived unless it
 * authenticated.
 *
 * A peer that does not read is bounded by its output buffer: past
 * p2p_max_queue bytes, messages to it are dropped (consensus tolerates lost
 * messages) and counted.  A peer reads at most one frame ahead.  Loop thread
 * only. */
#ifndef PERMIT_NODE_P2P_H
#define PERMIT_NODE_P2P_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/err.h"

typedef struct node node;
typedef struct node_p2p node_p2p;
struct Permit__Frame;

#define P2P_MAX_FRAME_DEFAULT (64u << 20)
#define P2P_MAX_QUEUE_DEFAULT (256u << 20)

/* A frame from peer `peer` (a department node's slot, 0..63, or an
 * observer's after them; a slot stays its peer's while linked), over an
 * authenticated link; never a handshake frame, Ping or Pong.  The callee may
 * keep nothing of `f` after returning. */
typedef void (*p2p_frame_fn)(void *ctx, unsigned peer, const struct Permit__Frame *f);
/* A link to `peer` became ready (handshake done) or went down.  A link that
 * replaces a dead one is reported up without a down before it. */
typedef void (*p2p_link_fn)(void *ctx, unsigned peer, int up, uint64_t peer_height);

/* Listen on cfg.p2p_listen (TLS) and dial the validators this node dials.
 * NULL with err when the addresses are malformed, TLS cannot be set up or
 * the port cannot be bound. */
node_p2p *node_p2p_start(node *n, p2p_frame_fn on_frame, p2p_link_fn on_link, void *ctx,
                         ledger_err *err);
/* Close every link (without callbacks) and free everything; NULL is fine. */
void node_p2p_free(node_p2p *p);

/* Send a frame to one peer; 0 when queued, -1 when the peer is not
 * connected, its queue is full, or the frame is over the frame limit. */
int node_p2p_send(node_p2p *p, unsigned peer, const struct Permit__Frame *f);
/* Send to every connected validator (observers hear no consensus or
 * gossip); returns how many took it. */
unsigned node_p2p_broadcast(node_p2p *p, const struct Permit__Frame *f);

/* The same for a frame already packed (without its length prefix). */
int node_p2p_send_packed(node_p2p *p, unsigned peer, const uint8_t *frame, size_t len);
unsigned node_p2p_broadcast_packed(node_p2p *p, const uint8_t *frame, size_t len);

/* Validators linked to us; observers linked to us (a validator's). */
unsigned node_p2p_connected(const node_p2p *p);
unsigned node_p2p_observers_connected(const node_p2p *p);
int node_p2p_is_up(const node_p2p *p, unsigned peer);
/* Frames dropped because a peer's queue was full. */
uint64_t node_p2p_dropped(const node_p2p *p);
/* Frames not sent because they were over the frame limit (each also logged,
 * at most once a second; permit_p2p_frames_dropped_total{reason="oversize"}). */
uint64_t node_p2p_oversize(const node_p2p *p);
/* Connections closed to make room for others before they authenticated. */
uint64_t node_p2p_evicted(const node_p2p *p);
/* Handshakes that failed: TLS, Hello, Auth or the deadline. */
uint64_t node_p2p_handshake_failures(const node_p2p *p);

/* The height our Hello announces (kept current by the engine).  At a new
 * height the peers follow the membership: department nodes that the
 * validator sets of the next two heights name are dialled (or awaited),
 * those they no longer name are dropped, and so are observers no longer
 * admitted. */
void node_p2p_set_height(node_p2p *p, uint64_t height);
/* The node key of peer `peer` (32 bytes), or NULL (p may be NULL). */
const uint8_t *node_p2p_peer_key(const node_p2p *p, unsigned peer);

#endif
