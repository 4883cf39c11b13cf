/* tests/clusterload.h: client load on a network of permitd validators
 * (nodetest.h's nt_cluster) and the checks that follow it, shared by the
 * wide-area test (test_wan.c) and the SIGKILL soak (soak_kill.c).
 *
 * Clients submit applications, and market's and tobacco's approvals of them,
 * with wait "commit"; each acknowledged transaction is kept with the height
 * the node gave it and how long the acknowledgement took.  The checks: every
 * acknowledged transaction is on every node at that height, and the nodes
 * agree block by block. */
#ifndef PERMIT_CLUSTERLOAD_H
#define PERMIT_CLUSTERLOAD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "nodetest.h"

typedef struct cl_load cl_load;

/* Start `clients` client threads (≤ 32) on cluster c.  A client sends to the
 * nodes in turn, skipping those whose up[i] is 0, and waits at most
 * timeout_ms for each commit.  up must outlive the load. */
cl_load *cl_start(nt_cluster *c, _Atomic int *up, unsigned clients, unsigned timeout_ms);
/* Stop and join the clients (the acknowledgements stay). */
void cl_stop(cl_load *l);
void cl_free(cl_load *l);

/* Acknowledged transactions so far. */
size_t cl_acks(cl_load *l);
/* Submissions that were answered with an error or not at all. */
uint64_t cl_failures(cl_load *l);
/* One line: the failures by kind (no answer, 1005, 1003, 1002, 1001, other). */
void cl_failures_print(cl_load *l, const char *label);

/* Commit latency (submit to acknowledgement) percentiles, in ms, of the
 * transactions submitted in [from_ms, to_ms) of the wall clock (0, UINT64_MAX
 * for all).  p is 0..100.  Returns the number of samples (0: *out untouched). */
size_t cl_latency(cl_load *l, uint64_t from_ms, uint64_t to_ms, const unsigned *p, size_t np,
                  uint64_t *out);
/* One line: "LABEL: N commits, p50 X ms, p90 Y ms, p99 Z ms, max W ms". */
void cl_latency_print(cl_load *l, const char *label, uint64_t from_ms, uint64_t to_ms);

/* Check acknowledged transactions [from, to) on every node i with up[i]:
 * present, at the acknowledged height.  Fails the test otherwise. */
void cl_check_acks(cl_load *l, size_t from, size_t to);

/* The nodes with up[i] have the same block hash at every height from
 * h_from to h_to and at the heights of acknowledged transactions [ack_from,
 * ack_to), and each of those transactions is in the block of its height on
 * each node (block.get's tx_ids): acknowledged, never lost, and the same
 * everywhere.  The nodes must have reached those heights.  Fails the test
 * otherwise.  Returns the number of blocks compared on each node. */
uint64_t cl_verify(cl_load *l, uint64_t h_from, uint64_t h_to, size_t ack_from, size_t ack_to);
/* The highest height among acknowledged transactions [from, to) (0 if none). */
uint64_t cl_ack_max_height(cl_load *l, size_t from, size_t to);

/* The lowest and highest height among the nodes with up[i]. */
void cl_heights(nt_cluster *c, _Atomic int *up, uint64_t *lo, uint64_t *hi);
/* The highest height among nodes with up[i]. */
uint64_t cl_max_height(nt_cluster *c, _Atomic int *up);

/* Every node with up[i] has the same block hash at each height in
 * [from, to]; fails the test otherwise. */
void cl_check_agreement(nt_cluster *c, _Atomic int *up, uint64_t from, uint64_t to);

/* Wait until every node with up[i] is at the same height (fails after
 * timeout_ms); returns it. */
uint64_t cl_wait_same_height(nt_cluster *c, _Atomic int *up, long timeout_ms);

#endif
