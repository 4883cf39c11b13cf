/* node/admit.h: which connection gives way when connections that have not
 * authenticated yet would exceed their limits (DESIGN §6,
 * docs/operations.md "Network").  Pure decisions over a list, no I/O, so
 * that they are tested on their own and the simulator may use them.
 *
 * Anyone who reaches the p2p port can open connections, and on a shared
 * address (every test node is on 127.0.0.1) a validator's connection looks
 * like an attacker's until its Hello.  So nothing that has not spoken may
 * keep anyone else out: a connection over a limit never refuses the
 * newcomer, it evicts the weakest pending one (the least progress, then the
 * oldest).  A validator sends its TLS ClientHello as soon as it connects and
 * its Hello a round trip later, so a connection that said nothing is always
 * weaker than it, however many arrive.  The limits:
 *
 *  - anonymous connections (no valid Hello yet) from one address: at most
 *    per_addr; a newcomer beyond it evicts that address's weakest;
 *  - anonymous connections in all: at most anon_max; a newcomer beyond it
 *    evicts the weakest of all, except that the addresses of configured
 *    validators are reserved: a newcomer from elsewhere evicts only
 *    connections from elsewhere (and is refused when there are none);
 *  - connections whose Hello named validator k and that have not proven it
 *    yet: at most per_key for each k; the next evicts k's weakest, preferring
 *    one that does not come from k's configured address. */
#ifndef PERMIT_NODE_ADMIT_H
#define PERMIT_NODE_ADMIT_H

#include <stddef.h>
#include <stdint.h>

/* How far a connection got, in order: less progress gives way first. */
typedef enum {
    NODE_ADMIT_TCP = 0,   /* accepted; not a byte of TLS from it yet */
    NODE_ADMIT_TLS_START, /* its TLS ClientHello arrived; the handshake is under way */
    NODE_ADMIT_TLS,       /* TLS is up; no valid Hello yet */
    NODE_ADMIT_NAMED,     /* its Hello named a validator (key); Auth pending */
} node_admit_stage;

typedef struct {
    uint8_t addr[16];       /* source address: IPv4 in the first 4 bytes, or IPv6 */
    uint8_t addr_len;       /* 4 or 16 */
    uint8_t reserved;       /* the address is a configured validator's */
    uint8_t key_addr;       /* NAMED: the address is validator `key`'s */
    node_admit_stage stage;
    int key;                /* NAMED: the validator its Hello named; else -1 */
    uint64_t seq;           /* arrival order: smaller is older */
} node_admit_conn;

typedef struct {
    unsigned per_addr;      /* anonymous connections from one address */
    unsigned anon_max;      /* anonymous connections in all */
    unsigned per_key;       /* named, unproven connections per validator */
} node_admit_limits;

#define NODE_ADMIT_ROOM (-1)   /* nothing has to go */
#define NODE_ADMIT_REFUSE (-2) /* the newcomer itself has to go */

/* What must go so that `c` may stay: the index in pending[] of the
 * connection to evict, NODE_ADMIT_ROOM, or NODE_ADMIT_REFUSE.  pending[]
 * holds the other connections that have not authenticated (not c).  Call
 * it when c arrives (stage TCP) and again when its Hello names a validator
 * (stage NAMED); after an eviction, call again: one eviction may not be
 * enough after the limits were lowered. */
int node_admit_victim(const node_admit_limits *lim, const node_admit_conn *pending, size_t n,
                      const node_admit_conn *c);

/* Whether two connections come from the same address. */
int node_admit_same_addr(const node_admit_conn *a, const node_admit_conn *b);

#endif
