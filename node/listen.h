/* node/listen.h: what a listener does when accept() fails for want of
 * descriptors or memory.  libevent calls accept() again at once while
 * connections wait in the backlog, so a node at its descriptor limit would
 * spin a core and flood its log; guarded, it pauses accepting for a moment,
 * logs once a second, and the waiting clients stay queued in the backlog
 * (or time out there) until descriptors are free again. */
#ifndef PERMIT_NODE_LISTEN_H
#define PERMIT_NODE_LISTEN_H

#include <stdint.h>

struct evconnlistener;
struct event_base;

typedef struct node_listen_guard node_listen_guard;

/* Install the guard on lev (named `what` in the log).  NULL when out of
 * memory (the listener then works unguarded). */
node_listen_guard *node_listen_guard_new(struct event_base *base, struct evconnlistener *lev,
                                         const char *what);
/* Times accept() failed so far. */
uint64_t node_listen_guard_failures(const node_listen_guard *g);
/* Free it (before or with its listener). */
void node_listen_guard_free(node_listen_guard *g);

#endif
