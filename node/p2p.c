/* node/p2p.c: the validator links (p2p.h): which link is in use, second
 * links and their verdict, keepalive, dialling and re-arming, accepting and
 * the limits on connections that have not authenticated, start and stop.
 * One link's TLS, framing and handshake are node/p2p_link.c's.  Loop thread
 * only. */
#include "p2p.h"

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "handshake.h"
#include "ledger/gov.h"
#include "ledger/hex.h"
#include "listen.h"
#include "log.h"
#include "node.h"
#include "p2p_link.h"
#include "permit.pb-c.h"
#include "tls.h"

#define HANDSHAKE_MS 5000      /* from accept or dial to an authenticated link */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define TICK_MS 250            /* deadlines, keepalive and re-arming are checked this often */
#define PROBE_MS 2000          /* a link in use must answer a Ping within this to stay */
#define IDLE_PING_MS 10000     /* a link that sent nothing this long is pinged */
#define SILENT_MS 30000        /* ... and closed after this long */
#define ANON_PER_ADDR 32       /* node/admit.h limits */
#define ANON_MAX 128
#define PENDING_PER_KEY 2

static void schedule_redial(node_p2p *p, unsigned peer);
static void node_p2p_refresh(node_p2p *p);

int node_p2p_send_packed(node_p2p *p, unsigned peer, const uint8_t *frame, size_t len)
{
    if (peer >= p->npeers || p->peers[peer].ready == NULL)
        return -1;
    return node_p2p_link_queue(p->peers[peer].ready, NULL, frame, len);
}

unsigned node_p2p_broadcast_packed(node_p2p *p, const uint8_t *frame, size_t len)
{
    unsigned k = 0;
    for (unsigned i = 0; i < p->nvalidators; i++)
        if (p->peers[i].ready && node_p2p_link_queue(p->peers[i].ready, NULL, frame, len) == 0)
            k++;
    return k;
}

int node_p2p_send(node_p2p *p, unsigned peer, const Permit__Frame *f)
{
    if (peer >= p->npeers || p->peers[peer].ready == NULL)
        return -1;
    return node_p2p_link_send(p->peers[peer].ready, f);
}

unsigned node_p2p_broadcast(node_p2p *p, const Permit__Frame *f)
{
    unsigned k = 0;
    for (unsigned i = 0; i < p->nvalidators; i++)
        if (p->peers[i].ready && node_p2p_link_send(p->peers[i].ready, f) == 0)
            k++;
    return k;
}

unsigned node_p2p_connected(const node_p2p *p)
{
    unsigned k = 0;
    for (unsigned i = 0; i < p->nvalidators; i++)
        k += p->peers[i].ready != NULL;
    return k;
}

unsigned node_p2p_observers_connected(const node_p2p *p)
{
    unsigned k = 0;
    for (unsigned i = p->nvalidators; i < p->npeers; i++)
        k += p->peers[i].ready != NULL;
    return k;
}

int node_p2p_is_up(const node_p2p *p, unsigned peer)
{
    return peer < p->npeers && p->peers[peer].ready != NULL;
}

uint64_t node_p2p_dropped(const node_p2p *p)
{
    return p->dropped;
}

uint64_t node_p2p_oversize(const node_p2p *p)
{
    return p->oversize;
}

uint64_t node_p2p_evicted(const node_p2p *p)
{
    return p->evicted;
}

uint64_t node_p2p_handshake_failures(const node_p2p *p)
{
    return p->hs_failed;
}

/* Whether the membership gv admits key as an observer now. */
static int observer_in_force(const ledger_gov *gv, const uint8_t key[32])
{
    return ledger_gov_observer(gv, key) >= 0 && !ledger_gov_key_retired(gv, key);
}

/* Whether any link, in use or still in its handshake, is peer i's. */
static int slot_has_links(const node_p2p *p, unsigned i)
{
    for (const p2p_link *l = p->links; l; l = l->next)
        if (l->peer == (int)i)
            return 1;
    return 0;
}

int node_p2p_observer_slot(node_p2p *p, const uint8_t key[32], const char **why)
{
    ledger_gov *gv = ledger_gov_acquire(p->n->L);
    ledger_pubkey pk; /* parsed, as the membership holds it */
    int admitted = gv != NULL && observer_in_force(gv, key);
    if (admitted)
        pk = gv->observers[ledger_gov_observer(gv, key)].node;
    ledger_gov_release(gv);
    if (!admitted) {
        *why = "neither a validator's nor an observer's node key in the membership in force";
        return -1;
    }
    int free_slot = -1;
    for (unsigned i = p->nvalidators; i < p->npeers; i++) {
        p2p_slot *s = &p->peers[i];
        if (s->has_key && memcmp(s->key.raw, key, 32) == 0)
            return (int)i;
        if (free_slot < 0 && (!s->has_key || !slot_has_links(p, i)))
            free_slot = (int)i;
    }
    if (free_slot < 0) {
        *why = "an admitted observer, but every observer slot is in use";
        return -1;
    }
    p2p_slot *s = &p->peers[free_slot];
    s->has_key = 1;
    s->key = pk;
    char hex[65];
    ledger_hex_encode(key, 32, hex);
    snprintf(s->label, sizeof s->label, "observer %.16s", hex);
    return free_slot;
}

/* A block changed the membership, perhaps: the links of observers it no
 * longer admits (removed, or their key retired) close, and their slots are
 * free again.  (Department nodes: node_p2p_refresh.) */
static void drop_removed_observers(node_p2p *p)
{
    ledger_gov *gv = ledger_gov_acquire(p->n->L);
    if (gv == NULL)
        return;
    for (unsigned i = p->nvalidators; i < p->npeers; i++) {
        p2p_slot *s = &p->peers[i];
        if (!s->has_key || observer_in_force(gv, s->key.raw))
            continue;
        LOG_INFO("p2p: %s is no longer an observer in the membership: its links close",
                 s->label);
        p2p_link *l = p->links;
        while (l) {
            p2p_link *next = l->next;
            if (l->peer == (int)i)
                node_p2p_link_close(l, "removed from the membership");
            l = next;
        }
        s->has_key = 0;
    }
    ledger_gov_release(gv);
}

void node_p2p_set_height(node_p2p *p, uint64_t height)
{
    int changed = height != p->height;
    p->height = height;
    if (!changed)
        return;
    if (p->n->observer < 0)
        drop_removed_observers(p);
    node_p2p_refresh(p);
}

static const char *peer_kind(const node_p2p *p, int peer)
{
    return (unsigned)peer >= p->nvalidators ? "observer" : "validator";
}

static void link_up(p2p_link *l)
{
    node_p2p *p = l->p;
    p2p_slot *s = &p->peers[l->peer];
    s->ready = l;
    s->backoff_ms = BACKOFF_MIN_MS;
    l->state = L_READY;
    l->ping_out = 0;
    LOG_INFO("p2p: link to %s %d (%s) up (%s, %s), its height %llu", peer_kind(p, l->peer),
             l->peer,
             node_p2p_validator_id(p, l->peer), l->outbound ? "outbound" : "inbound", l->addr,
             (unsigned long long)l->peer_height);
    if (p->on_link)
        p->on_link(p->ctx, (unsigned)l->peer, 1, l->peer_height);
}

/* Close l.  If it was the link in use and a second one waits, that one
 * takes over (reported up; no down in between). */
void node_p2p_link_close(p2p_link *l, const char *why)
{
    node_p2p *p = l->p;
    if (l->peer < 0) {
        LOG_DEBUG("p2p: connection from %s closed before its Hello: %s", l->addr, why);
        node_p2p_link_free(l);
        return;
    }
    p2p_slot *s = &p->peers[l->peer];
    const char *id = node_p2p_validator_id(p, l->peer);
    if (s->dialing == l)
        s->dialing = NULL;
    if (s->standby == l) {
        s->standby = NULL;
        LOG_INFO_RATE("p2p: second link to %s %d (%s) closed: %s", peer_kind(p, l->peer), l->peer,
                      id, why);
    } else if (s->ready == l) {
        s->ready = NULL;
        s->probe_until = 0;
        p2p_link *next = s->standby;
        s->standby = NULL;
        LOG_INFO("p2p: link to %s %d (%s) down: %s", peer_kind(p, l->peer), l->peer, id, why);
        if (next) {
            node_p2p_link_free(l);
            LOG_INFO("p2p: the second link to %s %d (%s) takes over", peer_kind(p, next->peer),
                     next->peer, id);
            link_up(next);
            return;
        }
        if (p->on_link)
            p->on_link(p->ctx, (unsigned)l->peer, 0, 0);
    } else {
        LOG_DEBUG("p2p: link to %s %d (%s, %s) closed before the handshake finished: %s",
                  peer_kind(p, l->peer), l->peer, id, l->addr, why);
    }
    int peer = l->peer;
    node_p2p_link_free(l);
    schedule_redial(p, (unsigned)peer);
}

/* l authenticated as its peer: in use if the peer has no link; otherwise it
 * waits while the link in use is asked to prove it is alive. */
void node_p2p_link_authenticated(p2p_link *l, uint64_t now)
{
    node_p2p *p = l->p;
    p2p_slot *s = &p->peers[l->peer];
    if (s->dialing == l)
        s->dialing = NULL;
    if (s->ready == NULL) {
        link_up(l);
        return;
    }
    if (s->standby)
        node_p2p_link_close(s->standby, "superseded by a newer one");
    s->standby = l;
    l->state = L_STANDBY;
    if (s->probe_until == 0) {
        s->probe_until = now + PROBE_MS;
        node_p2p_send_ping(s->ready, now);
    }
    LOG_INFO_RATE("p2p: a second link to validator %d (%s) authenticated (%s); asking the one "
                  "in use whether it is alive",
                  l->peer, node_p2p_validator_id(p, l->peer), l->addr);
}

/* The link in use answered: a waiting second link goes. */
void node_p2p_on_pong(p2p_link *l, uint64_t nonce)
{
    if (!l->ping_out || nonce != l->ping_nonce)
        return; /* not the Ping we sent last */
    l->ping_out = 0;
    p2p_slot *s = &l->p->peers[l->peer];
    if (s->ready != l || s->probe_until == 0)
        return;
    s->probe_until = 0;
    if (s->standby)
        node_p2p_link_close(s->standby, "the existing link is alive");
}

/* The link in use did not answer in time: the waiting link replaces it. */
static void probe_expired(p2p_slot *s)
{
    s->probe_until = 0;
    if (s->standby == NULL || s->ready == NULL)
        return;
    node_p2p_link_close(s->ready, "no answer to a ping while a new link waited"); /* promotes */
}

/* Collect the inbound connections that have not authenticated, except l. */
static size_t pending_inbound(node_p2p *p, const p2p_link *except, node_admit_conn **conns,
                              p2p_link ***links)
{
    size_t n = 0, k = 0;
    for (p2p_link *x = p->links; x; x = x->next)
        n += !x->outbound && x->state < L_STANDBY && x != except;
    *conns = calloc(n ? n : 1, sizeof **conns);
    *links = calloc(n ? n : 1, sizeof **links);
    if (*conns == NULL || *links == NULL) {
        free(*conns);
        free(*links);
        *conns = NULL;
        *links = NULL;
        return SIZE_MAX;
    }
    for (p2p_link *x = p->links; x && k < n; x = x->next)
        if (!x->outbound && x->state < L_STANDBY && x != except) {
            /* has its ClientHello arrived?  (libevent says nothing of it) */
            if (x->adm.stage == NODE_ADMIT_TCP &&
                SSL_get_state(bufferevent_openssl_get_ssl(x->bev)) != TLS_ST_BEFORE)
                x->adm.stage = NODE_ADMIT_TLS_START;
            (*conns)[k] = x->adm;
            (*links)[k++] = x;
        }
    return k;
}

/* Evict pending connections until c (l's admission record, l == NULL for a
 * connection not yet made, from `who`) fits.  0, or -1 when c must go. */
int node_p2p_make_room(node_p2p *p, p2p_link *l, const node_admit_conn *c, const char *who)
{
    for (int round = 0; round < 8; round++) {
        node_admit_conn *conns;
        p2p_link **links;
        size_t n = pending_inbound(p, l, &conns, &links);
        if (n == SIZE_MAX)
            return -1;
        int v = node_admit_victim(&p->lim, conns, n, c);
        p2p_link *victim = v >= 0 ? links[v] : NULL;
        free(conns);
        free(links);
        if (v == NODE_ADMIT_ROOM)
            return 0;
        if (victim == NULL)
            return -1;
        p->evicted++;
        atomic_fetch_add(&p->n->metrics.p2p_evicted, 1);
        LOG_WARN_RATE("p2p: closed a connection from %s that had not authenticated, to make room "
                      "for one from %s",
                      victim->addr, who);
        node_p2p_link_close(victim, "evicted to make room");
    }
    return -1;
}

static void dial(node_p2p *p, unsigned peer)
{
    p2p_slot *s = &p->peers[peer];
    if (s->ready || s->dialing || !s->dial)
        return;
    SSL *ssl = SSL_new(p->tls);
    /* with BEV_OPT_CLOSE_ON_FREE the bufferevent owns ssl, even on failure */
    struct bufferevent *bev =
        ssl ? bufferevent_openssl_socket_new(p->n->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
            : NULL;
    p2p_link *l = bev ? node_p2p_link_new(p, bev, 1, (int)peer) : NULL;
    if (l == NULL) {
        if (bev)
            bufferevent_free(bev);
        schedule_redial(p, peer);
        return;
    }
    snprintf(l->addr, sizeof l->addr, "%.40s:%u", s->host, s->port);
    s->dialing = l;
    if (bufferevent_socket_connect_hostname(bev, NULL, AF_UNSPEC, s->host, s->port) != 0)
        node_p2p_link_close(l, "cannot connect");
}

static void on_redial_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    p2p_slot *s = arg;
    dial(s->p, s->index);
}

/* Dial peer after its backoff, unless it has a link, a dial in progress or
 * a dial already scheduled. */
static void schedule_redial(node_p2p *p, unsigned peer)
{
    p2p_slot *s = &p->peers[peer];
    if (!s->dial || s->redial == NULL || s->ready || s->dialing ||
        evtimer_pending(s->redial, NULL))
        return;
    struct timeval tv = {(time_t)(s->backoff_ms / 1000),
                         (suseconds_t)(s->backoff_ms % 1000) * 1000};
    if (evtimer_add(s->redial, &tv) != 0)
        LOG_WARN_RATE("p2p: cannot arm the redial timer of %s %u (%s) (evtimer_add failed): "
                      "the next tick tries again",
                      peer_kind(p, (int)peer), peer, node_p2p_validator_id(p, (int)peer));
    s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
}

/* Deadlines, keepalive, verdicts on second links, and re-arming dials. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    node_p2p *p = arg;
    uint64_t now = node_p2p_now_ms();
    for (p2p_link *l = p->links, *next; l; l = next) {
        next = l->next; /* closing l frees only l (a takeover frees nothing) */
        if (l->state < L_STANDBY) {
            if (now - l->started_ms >= HANDSHAKE_MS) {
                if (!l->outbound)
                    node_p2p_hs_failed(p);
                node_p2p_link_close(l, "no handshake within 5 s");
            }
            continue;
        }
        uint64_t silent = now - l->last_rx_ms;
        if (silent >= SILENT_MS)
            node_p2p_link_close(l, "silent for 30 s");
        else if (silent >= IDLE_PING_MS && (!l->ping_out || now - l->ping_sent_ms >= IDLE_PING_MS))
            node_p2p_send_ping(l, now);
    }
    for (unsigned i = 0; i < p->npeers; i++) {
        p2p_slot *s = &p->peers[i];
        if (s->probe_until && now >= s->probe_until)
            probe_expired(s);
        schedule_redial(p, i); /* whatever happened to the slot meanwhile */
    }
}

static void addr_of(const struct sockaddr *sa, node_admit_conn *c, char *text, size_t cap)
{
    c->addr_len = 0;
    snprintf(text, cap, "?");
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        memcpy(c->addr, &a->sin_addr, 4);
        c->addr_len = 4;
        evutil_inet_ntop(AF_INET, &a->sin_addr, text, cap);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
            memcpy(c->addr, (const uint8_t *)&a->sin6_addr + 12, 4);
            c->addr_len = 4;
            evutil_inet_ntop(AF_INET, c->addr, text, cap);
        } else {
            memcpy(c->addr, &a->sin6_addr, 16);
            c->addr_len = 16;
            evutil_inet_ntop(AF_INET6, &a->sin6_addr, text, cap);
        }
    }
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)lev;
    (void)salen;
    node_p2p *p = arg;
    node_admit_conn c = {.key = -1, .stage = NODE_ADMIT_TCP};
    char text[INET6_ADDRSTRLEN + 8];
    addr_of(sa, &c, text, sizeof text);
    for (unsigned i = 0; i < p->npeers && c.addr_len; i++)
        if (p->peers[i].addr_len == c.addr_len &&
            memcmp(p->peers[i].addr, c.addr, c.addr_len) == 0)
            c.reserved = 1;
    if (node_p2p_make_room(p, NULL, &c, text) != 0) {
        LOG_WARN_RATE("p2p: refused a connection from %s: the connections that have not "
                      "authenticated yet are all from validators' addresses",
                      text);
        evutil_closesocket(fd);
        return;
    }
    SSL *ssl = SSL_new(p->tls);
    struct bufferevent *bev =
        ssl ? bufferevent_openssl_socket_new(p->n->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS)
            : NULL;
    if (bev == NULL) {
        /* libevent freed ssl (CLOSE_ON_FREE) but leaves the socket to us */
        evutil_closesocket(fd);
        return;
    }
    p2p_link *l = node_p2p_link_new(p, bev, 0, -1);
    if (l == NULL) {
        bufferevent_free(bev);
        return;
    }
    c.seq = l->adm.seq; /* arrival order, from node_p2p_link_new */
    l->adm = c;
    snprintf(l->addr, sizeof l->addr, "%s", text);
}

static int slot_init(node_p2p *p, unsigned i, ledger_err *err)
{
    node *n = p->n;
    p2p_slot *s = &p->peers[i];
    s->p = p;
    s->index = i;
    s->backoff_ms = BACKOFF_MIN_MS;
    if (i >= p->nvalidators)
        return 0; /* an observer: it dials us, from wherever it is */
    s->redial = evtimer_new(n->base, on_redial_timer, s);
    if (s->redial == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    return 0;
}

/* ---- which department nodes are peers (DESIGN §5, §11) ---- */

/* A department node of a validator set near our height. */
typedef struct {
    const ledger_department *d;
} node_peer;

static size_t add_validators(const ledger_genesis *m, const uint8_t self[32], node_peer *out,
                             size_t n, size_t cap)
{
    for (size_t v = 0; m && v < m->n_validators; v++) {
        const ledger_department *d = &m->departments[m->validators[v]];
        if (memcmp(d->node.raw, self, 32) == 0)
            continue;
        size_t k = 0;
        while (k < n && memcmp(out[k].d->node.raw, d->node.raw, 32) != 0)
            k++;
        if (k == n && n < cap)
            out[n++].d = d;
    }
    return n;
}

int node_p2p_node_slot(const node_p2p *p, const uint8_t key[32])
{
    for (unsigned i = 0; i < p->nvalidators; i++)
        if (p->peers[i].has_key && memcmp(p->peers[i].key.raw, key, 32) == 0)
            return (int)i;
    return -1;
}

const uint8_t *node_p2p_peer_key(const node_p2p *p, unsigned peer)
{
    if (p == NULL || peer >= p->npeers || !p->peers[peer].has_key)
        return NULL;
    return p->peers[peer].key.raw;
}

static void close_slot_links(node_p2p *p, unsigned i, const char *why)
{
    p2p_link *l = p->links;
    while (l) {
        p2p_link *next = l->next;
        if (l->peer == (int)i)
            node_p2p_link_close(l, why);
        l = next;
    }
}

/* Give d's node a slot (address, who dials) unless it has one. */
static void node_slot_take(node_p2p *p, const ledger_department *d)
{
    int have = node_p2p_node_slot(p, d->node.raw);
    p2p_slot *s = NULL;
    if (have >= 0) {
        s = &p->peers[have];
    } else {
        /* a validator of genesis takes its index there (logs and peers keep
         * the numbers they had); one added later the highest free slot */
        int g = ledger_genesis_validator_index(p->n->g, d->node.raw);
        if (g >= 0 && (unsigned)g < p->nvalidators && !p->peers[g].has_key &&
            !slot_has_links(p, (unsigned)g))
            s = &p->peers[g];
        for (unsigned i = p->nvalidators; i-- > 0 && s == NULL;)
            if (!p->peers[i].has_key && !slot_has_links(p, i))
                s = &p->peers[i];
        if (s == NULL)
            return; /* more than LEDGER_MAX_DEPARTMENTS: the membership refuses that */
        s->has_key = 1;
        s->key = d->node;
        s->backoff_ms = BACKOFF_MIN_MS;
        snprintf(s->label, sizeof s->label, "%s", d->id);
        LOG_INFO("p2p: %s's node is a peer from height %llu", d->id,
                 (unsigned long long)p->height + 1);
    }
    s->dial = 0;
    s->addr_len = 0;
    s->host[0] = 0;
    if (d->p2p == NULL || node_split_hostport(d->p2p, s->host, sizeof s->host, &s->port) != 0)
        return; /* no address: it dials us */
    /* a numeric address is reserved for this node's connections (a host
     * name is not resolved for that: the key allowance still holds) */
    if (inet_pton(AF_INET, s->host, s->addr) == 1)
        s->addr_len = 4;
    else if (inet_pton(AF_INET6, s->host, s->addr) == 1)
        s->addr_len = 16;
    /* of two department nodes one dials: the lower index in genesis; a node
     * of genesis dials one added later; of two added later, the lower node
     * key.  An observer dials every one */
    int gs = ledger_genesis_validator_index(p->n->g, p->n->key.pub);
    int gp = ledger_genesis_validator_index(p->n->g, d->node.raw);
    s->dial = p->n->observer >= 0 || (gs >= 0 && gp >= 0 ? gs < gp
                                      : gs >= 0 || gp >= 0
                                          ? gs >= 0
                                          : memcmp(p->n->key.pub, d->node.raw, 32) < 0);
}

/* The department nodes that are peers: the validators of the next two
 * heights (the one being decided, and the one whose messages may come
 * early), dialled or awaited; those they no longer name are dropped. */
static void node_p2p_refresh(node_p2p *p)
{
    node_peer want[2 * LEDGER_MAX_DEPARTMENTS];
    size_t n = 0;
    ledger_gov *sets[2] = {NULL, NULL}; /* held while want points into them */
    for (int k = 0; k < 2; k++) {
        sets[k] = ledger_vset_acquire(p->n->L, p->height + 1 + (uint64_t)k, NULL);
        if (sets[k] != NULL)
            n = add_validators(sets[k]->m, p->n->key.pub, want, n, sizeof want / sizeof want[0]);
    }
    for (unsigned i = 0; i < p->nvalidators; i++) {
        p2p_slot *s = &p->peers[i];
        if (!s->has_key)
            continue;
        size_t k = 0;
        while (k < n && memcmp(want[k].d->node.raw, s->key.raw, 32) != 0)
            k++;
        if (k < n)
            continue;
        LOG_INFO("p2p: %s's node is no validator of heights %llu and %llu: its links close",
                 s->label, (unsigned long long)p->height + 1, (unsigned long long)p->height + 2);
        s->has_key = 0;
        s->dial = 0;
        if (s->redial)
            evtimer_del(s->redial);
        close_slot_links(p, i, "no longer a validator");
    }
    for (size_t k = 0; k < n; k++)
        node_slot_take(p, want[k].d);
    ledger_gov_release(sets[0]);
    ledger_gov_release(sets[1]);
    for (unsigned i = 0; i < p->nvalidators; i++)
        if (p->peers[i].has_key)
            dial(p, i);
}

node_p2p *node_p2p_start(node *n, p2p_frame_fn on_frame, p2p_link_fn on_link, void *ctx,
                         ledger_err *err)
{
    node_p2p *p = calloc(1, sizeof *p);
    if (p == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory"), NULL;
    p->n = n;
    p->on_frame = on_frame;
    p->on_link = on_link;
    p->ctx = ctx;
    p->nvalidators = LEDGER_MAX_DEPARTMENTS;
    /* a validator takes links from department nodes and admitted observers;
     * an observer links to department nodes only */
    p->npeers = n->observer < 0 ? p->nvalidators + LEDGER_MAX_OBSERVERS : p->nvalidators;
    p->max_frame = P2P_MAX_FRAME_DEFAULT;
    p->max_queue = P2P_MAX_QUEUE_DEFAULT;
    p->height = ledger_height(n->L);
    p->lim = (node_admit_limits){.per_addr = ANON_PER_ADDR, .anon_max = ANON_MAX,
                                 .per_key = PENDING_PER_KEY};
    for (unsigned i = 0; i < p->npeers; i++)
        if (slot_init(p, i, err) != 0) {
            node_p2p_free(p);
            return NULL;
        }
    p->tls = node_tls_ctx_new(err);
    struct timeval tick = {0, TICK_MS * 1000};
    p->tick = event_new(n->base, -1, EV_PERSIST, on_tick, p);
    if (p->tls == NULL || p->tick == NULL || event_add(p->tick, &tick) != 0) {
        if (p->tls)
            ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
        node_p2p_free(p);
        return NULL;
    }
    if (n->observer >= 0) {
        /* an observer: nobody dials it; it dials every validator */
        node_p2p_refresh(p);
        LOG_INFO("p2p: observer, following the validators of height %llu",
                 (unsigned long long)p->height + 1);
        return p;
    }
    char host[256];
    uint16_t port;
    if (node_split_hostport(n->cfg.p2p_listen, host, sizeof host, &port) != 0) {
        node_p2p_free(p);
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "p2p_listen: \"%s\" is not host:port",
                           n->cfg.p2p_listen),
               NULL;
    }
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                    .ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICHOST};
    struct evutil_addrinfo *ai = NULL;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    if (evutil_getaddrinfo(host, portstr, &hints, &ai) == 0 && ai)
        p->listener = evconnlistener_new_bind(n->base, on_accept, p,
                                              LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
                                                  LEV_OPT_CLOSE_ON_FREE,
                                              64, ai->ai_addr, (int)ai->ai_addrlen);
    if (ai)
        evutil_freeaddrinfo(ai);
    if (p->listener == NULL) {
        node_p2p_free(p);
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "cannot listen for peers on %s",
                           n->cfg.p2p_listen),
               NULL;
    }
    p->guard = node_listen_guard_new(n->base, p->listener, "p2p");
    LOG_INFO("p2p: listening on %s (TLS 1.3); peers: the validators of the heights near "
             "ours, and observers as the membership in force admits them (at most %u)",
             n->cfg.p2p_listen, p->npeers - p->nvalidators);
    node_p2p_refresh(p);
    return p;
}

void node_p2p_free(node_p2p *p)
{
    if (p == NULL)
        return;
    /* the engine is going away: no callbacks, no policy, no redials */
    if (p->tick)
        event_free(p->tick);
    if (p->guard)
        node_listen_guard_free(p->guard);
    if (p->listener)
        evconnlistener_free(p->listener);
    unsigned k = 0;
    while (p->links) {
        node_p2p_link_free(p->links);
        k++;
    }
    if (k)
        LOG_INFO("p2p: closed %u links", k);
    for (unsigned i = 0; i < p->npeers; i++)
        if (p->peers[i].redial)
            event_free(p->peers[i].redial);
    /* each SSL object holds a reference to the context: it goes with the
     * last of them, when libevent finalises their bufferevents */
    node_tls_ctx_free(p->tls);
    free(p);
}
