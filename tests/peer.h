/* tests/peer.h: a peer that speaks permitd's p2p protocol from a test, with
 * blocking sockets and OpenSSL: the Byzantine peer harness.
 *
 * It plays either end of a link on loopback: the TLS client that connects
 * to a node's p2p port (tp_connect), or the TLS server a node dials
 * (tp_listen + tp_accept: put the server's port in genesis as a validator's
 * p2p address and the node dials it as that validator).  On top of a
 * connection it reads the TLS exporter, does the handshake of
 * docs/formats.md ("P2P handshake") with any key pair (a validator's, an
 * outsider's), or sends someone else's Hello and Auth bytes, and sends and
 * receives frames (u32 BE length || protobuf Frame) or raw bytes; two
 * connections can be relayed to each other.  The handshake hash is computed
 * here from the documented layout, independently of node/handshake.c.
 *
 * Every call that waits takes a timeout in milliseconds and returns when it
 * passes; every read is bounded (frames by tp_set_max_frame, 16 MiB by
 * default).  Failures return NULL or a negative number and leave a reason in
 * tp_error(c) (for tp_connect and tp_accept, which return no connection: in
 * tp_last_error()).  SIGPIPE is ignored in the process once a connection is
 * made, so a write to a closed connection fails instead of killing the test.
 * A tp_conn is used by one thread at a time; different ones may be used by
 * different threads. */
#ifndef PERMIT_TESTS_PEER_H
#define PERMIT_TESTS_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ledger/keys.h"

struct Permit__Frame;

typedef struct tp_conn tp_conn;
typedef struct tp_server tp_server;

#define TP_TLS13 0x0304 /* TLS1_3_VERSION */
#define TP_TLS12 0x0303 /* TLS1_2_VERSION */

/* ---- connections ---- */

/* TCP to 127.0.0.1:port, then a TLS 1.3 client handshake (no certificate
 * check, as the nodes do).  NULL on failure or timeout (tp_last_error()). */
tp_conn *tp_connect(int port, int timeout_ms);
/* The same, offering TLS versions up to max_version only (TP_TLS12 to try a
 * version the nodes refuse). */
tp_conn *tp_connect_version(int port, int max_version, int timeout_ms);
/* A plain TCP connection to 127.0.0.1:port: no TLS, bytes as they are. */
tp_conn *tp_connect_plain(int port, int timeout_ms);

/* A TLS 1.3 server on 127.0.0.1:port (0: any free port), with its own
 * ephemeral self-signed certificate.  NULL on failure (tp_last_error()). */
tp_server *tp_listen(int port);
int tp_server_port(const tp_server *s);
/* Accept one connection and do the TLS server handshake.  NULL when none
 * arrived, or its handshake failed, within the time (tp_last_error()). */
tp_conn *tp_accept(tp_server *s, int timeout_ms);
void tp_server_free(tp_server *s);

/* Close (without a TLS close_notify: as a peer that goes away) and free;
 * NULL is fine. */
void tp_close(tp_conn *c);
/* Why the last call on c failed. */
const char *tp_error(const tp_conn *c);
/* Why the last tp_connect*, tp_listen or tp_accept of this thread failed. */
const char *tp_last_error(void);
/* The largest frame tp_recv_* accept (a longer length closes nothing: the
 * call fails with "frame too large"). */
void tp_set_max_frame(tp_conn *c, size_t max);

/* The session's exporter value: label "EXPORTER-permit-p2p", 32 bytes, no
 * context.  -1 on a plain connection. */
int tp_exporter(tp_conn *c, uint8_t out[32]);

/* ---- bytes and frames ---- */

/* Write all n bytes (inside TLS when c is TLS).  0, or -1. */
int tp_write(tp_conn *c, const void *p, size_t n, int timeout_ms);
/* Read what is there, at most cap bytes: the count, 0 when the other side
 * closed, -1 on error, -2 when nothing came within the time. */
ssize_t tp_read(tp_conn *c, void *buf, size_t cap, int timeout_ms);
/* 1 when the other side closes the connection within the time (what it
 * sends meanwhile is read and dropped), 0 otherwise. */
int tp_wait_closed(tp_conn *c, int timeout_ms);

/* Send a frame: u32 BE length || the packed frame. */
int tp_send_frame(tp_conn *c, const struct Permit__Frame *f, int timeout_ms);
/* Send bytes as a frame's body (a length prefix is added). */
int tp_send_packed(tp_conn *c, const uint8_t *body, size_t len, int timeout_ms);
/* Read one frame's body (malloc'd; *len its length).  NULL on close,
 * timeout, error or a length over the maximum. */
uint8_t *tp_recv_packed(tp_conn *c, size_t *len, int timeout_ms);
/* Read and decode one frame (free with permit__frame__free_unpacked).  NULL
 * as above, or when the body is not a Frame. */
struct Permit__Frame *tp_recv_frame(tp_conn *c, int timeout_ms);
/* Read frames until one of this kind (a PERMIT__FRAME__MSG_* value) comes;
 * other frames are dropped, and a Ping is answered with its Pong. */
struct Permit__Frame *tp_recv_kind(tp_conn *c, int msg_case, int timeout_ms);

/* ---- the handshake (docs/formats.md, "P2P handshake") ---- */

typedef struct {
    char chain_id[72];
    uint8_t key[32];
    uint8_t nonce[32];
    uint64_t height;
} tp_hello;

/* TaggedHash("permit/p2p/v2", str chain_id || signer_nonce || other_nonce ||
 * exporter). */
void tp_auth_hash(const char *chain_id, const uint8_t signer_nonce[32],
                  const uint8_t other_nonce[32], const uint8_t exporter[32], uint8_t out[32]);

int tp_send_hello(tp_conn *c, const char *chain_id, const uint8_t key[32], const uint8_t nonce[32],
                  uint64_t height);
/* The next Hello (other frames before it fail the call). */
int tp_recv_hello(tp_conn *c, tp_hello *h, int timeout_ms);
/* Auth signed by kp over (chain_id, own_nonce, peer_nonce, c's exporter). */
int tp_send_auth(tp_conn *c, const ledger_keypair *kp, const char *chain_id,
                 const uint8_t own_nonce[32], const uint8_t peer_nonce[32]);
/* Auth with any 64 bytes as its signature. */
int tp_send_auth_sig(tp_conn *c, const uint8_t sig[64]);
/* The next Auth's signature (other frames before it fail the call). */
int tp_recv_auth(tp_conn *c, uint8_t sig[64], int timeout_ms);
/* 1 when sig is key's signature over (chain_id, peer_nonce, own_nonce, c's
 * exporter): the Auth the other side owes us on this connection. */
int tp_verify_auth(tp_conn *c, const char *chain_id, const uint8_t key[32],
                   const uint8_t peer_nonce[32], const uint8_t own_nonce[32],
                   const uint8_t sig[64]);

/* The whole handshake as the holder of kp, announcing `height`: send Hello,
 * read the other side's Hello (its key must be expect_key unless that is
 * NULL), send Auth, read its Auth and verify it.  0 and *peer filled (peer
 * may be NULL), or -1. */
int tp_handshake(tp_conn *c, const char *chain_id, const ledger_keypair *kp, uint64_t height,
                 const uint8_t *expect_key, tp_hello *peer, int timeout_ms);

/* ---- relaying ---- */

/* Move one frame from `from` to `to`, byte for byte.  Its kind (a
 * PERMIT__FRAME__MSG_* value, 0 when it does not decode), or -1. */
int tp_relay_frame(tp_conn *from, tp_conn *to, int timeout_ms);
/* Copy bytes both ways between a and b (decrypted and encrypted again for
 * TLS connections) until one side closes or the time is up.  The number of
 * bytes moved, or -1 on an error other than a close. */
long tp_relay(tp_conn *a, tp_conn *b, int timeout_ms);

#endif
