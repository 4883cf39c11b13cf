#include "p2p.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ledger/codec.h"
#include "ledger/hash.h"
#include "ledger/hex.h"
#include "listen.h"
#include "log.h"
#include "node.h"
#include "permit.pb-c.h"

#define HANDSHAKE_MS 5000
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000

typedef enum { L_NONE = 0, L_HELLO, L_AUTH, L_READY } link_state;

typedef struct link link;

struct link {
    node_p2p *p;
    struct bufferevent *bev;
    link_state state;
    int outbound;
    int peer;                  /* validator index once known, -1 before Hello */
    uint8_t my_nonce[32], peer_nonce[32];
    uint8_t peer_key[32];
    uint64_t peer_height;
    struct event *hs_timer;    /* handshake deadline */
    link *next;                /* in the list of links not yet ready */
};

typedef struct {
    struct node_p2p *p;
    unsigned index;
    link *ready;               /* the link in use, or NULL */
    struct event *redial;
    uint64_t backoff_ms;
    int dial;                  /* we dial this peer */
    char host[256];
    uint16_t port;
} peer_slot;

struct node_p2p {
    node *n;
    struct evconnlistener *listener;
    node_listen_guard *guard;
    peer_slot peers[64];
    unsigned npeers;
    link *pending;             /* links in handshake */
    p2p_frame_fn on_frame;
    p2p_link_fn on_link;
    void *ctx;
    uint64_t height;
    uint64_t dropped;
    size_t max_frame, max_queue;
};

static ledger_tag g_p2p_tag;
static int g_tag_ready;

static void auth_hash(const char *chain_id, const uint8_t a[32], const uint8_t b[32],
                      uint8_t out[32])
{
    if (!g_tag_ready) {
        ledger_tag_init(&g_p2p_tag, "permit/p2p/v1");
        g_tag_ready = 1;
    }
    lbuf buf;
    lbuf_init(&buf, 200);
    lbuf_str(&buf, chain_id);
    lbuf_put(&buf, a, 32);
    lbuf_put(&buf, b, 32);
    ledger_tagged_hash(&g_p2p_tag, buf.buf, buf.err ? 0 : buf.len, out);
    lbuf_free(&buf);
}

/* ---- sending ---- */

/* Queue a frame of len bytes, packed by `pack` (or copied from `bytes`). */
static int link_queue(link *l, const Permit__Frame *f, const uint8_t *bytes, size_t len)
{
    node_p2p *p = l->p;
    struct evbuffer *out = bufferevent_get_output(l->bev);
    if (len > p->max_frame)
        return -1;
    if (evbuffer_get_length(out) + len > p->max_queue) {
        p->dropped++;
        return -1; /* a slow peer does not grow our memory */
    }
    uint8_t hdr[4];
    ledger_be32(hdr, (uint32_t)len);
    if (evbuffer_add(out, hdr, 4) != 0)
        return -1;
    if (bytes)
        return evbuffer_add(out, bytes, len);
    struct evbuffer_iovec v;
    if (evbuffer_reserve_space(out, len ? len : 1, &v, 1) < 1)
        return -1;
    permit__frame__pack(f, v.iov_base);
    v.iov_len = len;
    return evbuffer_commit_space(out, &v, 1);
}

static int link_send(link *l, const Permit__Frame *f)
{
    return link_queue(l, f, NULL, permit__frame__get_packed_size(f));
}

int node_p2p_send_packed(node_p2p *p, unsigned peer, const uint8_t *frame, size_t len)
{
    if (peer >= p->npeers || p->peers[peer].ready == NULL)
        return -1;
    return link_queue(p->peers[peer].ready, NULL, frame, len);
}

unsigned node_p2p_broadcast_packed(node_p2p *p, const uint8_t *frame, size_t len)
{
    unsigned k = 0;
    for (unsigned i = 0; i < p->npeers; i++)
        if (p->peers[i].ready && link_queue(p->peers[i].ready, NULL, frame, len) == 0)
            k++;
    return k;
}

int node_p2p_send(node_p2p *p, unsigned peer, const Permit__Frame *f)
{
    if (peer >= p->npeers || p->peers[peer].ready == NULL)
        return -1;
    return link_send(p->peers[peer].ready, f);
}

unsigned node_p2p_broadcast(node_p2p *p, const Permit__Frame *f)
{
    unsigned k = 0;
    for (unsigned i = 0; i < p->npeers; i++)
        if (p->peers[i].ready && link_send(p->peers[i].ready, f) == 0)
            k++;
    return k;
}

unsigned node_p2p_connected(const node_p2p *p)
{
    unsigned k = 0;
    for (unsigned i = 0; i < p->npeers; i++)
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

void node_p2p_set_height(node_p2p *p, uint64_t height)
{
    p->height = height;
}

/* ---- links ---- */

static void schedule_redial(node_p2p *p, unsigned peer);

static void pending_remove(node_p2p *p, link *l)
{
    for (link **pp = &p->pending; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            return;
        }
}

static void link_close(link *l, const char *why)
{
    node_p2p *p = l->p;
    int was_ready = l->state == L_READY;
    if (l->peer >= 0 && p->peers[l->peer].ready == l) {
        p->peers[l->peer].ready = NULL;
        LOG_INFO("p2p: link to validator %d (%s) down: %s", l->peer,
                 p->n->g->departments[p->n->g->validators[l->peer]].id, why);
        if (was_ready && p->on_link)
            p->on_link(p->ctx, (unsigned)l->peer, 0, 0);
    } else {
        LOG_DEBUG("p2p: link closed before the handshake finished: %s", why);
        pending_remove(p, l);
    }
    if (l->outbound && l->peer >= 0)
        schedule_redial(p, (unsigned)l->peer);
    if (l->hs_timer)
        event_free(l->hs_timer);
    bufferevent_free(l->bev);
    free(l);
}

static void send_hello(link *l)
{
    node *n = l->p->n;
    Permit__Hello h = PERMIT__HELLO__INIT;
    h.chain_id = n->g->chain_id;
    h.node_key.data = n->key.pub;
    h.node_key.len = 32;
    h.nonce.data = l->my_nonce;
    h.nonce.len = 32;
    h.height = l->p->height;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_HELLO;
    f.hello = &h;
    link_send(l, &f);
}

static int on_hello(link *l, const Permit__Hello *h)
{
    node_p2p *p = l->p;
    node *n = p->n;
    if (h->chain_id == NULL || strcmp(h->chain_id, n->g->chain_id) != 0 || h->node_key.len != 32 ||
        h->nonce.len != 32)
        return -1;
    int v = ledger_genesis_validator_index(n->g, h->node_key.data);
    if (v < 0 || v == n->validator) {
        char hex[65];
        ledger_hex_encode(h->node_key.data, 32, hex);
        LOG_WARN_RATE("p2p: refused a peer whose key %.16s is not another validator", hex);
        return -1;
    }
    if (l->outbound && v != l->peer)
        return -1; /* we dialled someone else */
    l->peer = v;
    memcpy(l->peer_key, h->node_key.data, 32);
    memcpy(l->peer_nonce, h->nonce.data, 32);
    l->peer_height = h->height;
    uint8_t msg[32], sig[64];
    auth_hash(n->g->chain_id, l->my_nonce, l->peer_nonce, msg);
    if (ledger_sign(&n->key, msg, NULL, sig) != 0)
        return -1;
    Permit__Auth a = PERMIT__AUTH__INIT;
    a.sig.data = sig;
    a.sig.len = 64;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_AUTH;
    f.auth = &a;
    link_send(l, &f);
    l->state = L_AUTH;
    return 0;
}

static int on_auth(link *l, const Permit__Auth *a)
{
    node_p2p *p = l->p;
    node *n = p->n;
    if (a->sig.len != 64)
        return -1;
    uint8_t msg[32];
    auth_hash(n->g->chain_id, l->peer_nonce, l->my_nonce, msg);
    const ledger_department *d = &n->g->departments[n->g->validators[l->peer]];
    if (!ledger_verify(&d->node, msg, 32, a->sig.data)) {
        LOG_WARN_RATE("p2p: validator %d (%s) failed authentication", l->peer, d->id);
        return -1;
    }
    pending_remove(p, l);
    peer_slot *s = &p->peers[l->peer];
    if (s->ready) /* a newer link replaces an old one (the peer restarted) */
        link_close(s->ready, "replaced by a new link");
    s->ready = l;
    s->backoff_ms = BACKOFF_MIN_MS;
    l->state = L_READY;
    if (l->hs_timer) {
        event_free(l->hs_timer);
        l->hs_timer = NULL;
    }
    LOG_INFO("p2p: link to validator %d (%s) up (%s), its height %llu", l->peer, d->id,
             l->outbound ? "outbound" : "inbound", (unsigned long long)l->peer_height);
    if (p->on_link)
        p->on_link(p->ctx, (unsigned)l->peer, 1, l->peer_height);
    return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    link *l = arg;
    node_p2p *p = l->p;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        uint8_t hdr[4];
        if (evbuffer_copyout(in, hdr, 4) < 4)
            return;
        size_t len = ledger_rd_be32(hdr);
        if (len > p->max_frame || (l->state != L_READY && len > 4096)) {
            link_close(l, "frame too large");
            return;
        }
        if (evbuffer_get_length(in) < 4 + len)
            return;
        evbuffer_drain(in, 4);
        uint8_t *data = evbuffer_pullup(in, (ev_ssize_t)len);
        Permit__Frame *f = len ? permit__frame__unpack(NULL, len, data) : NULL;
        evbuffer_drain(in, len);
        if (f == NULL) {
            link_close(l, "malformed frame");
            return;
        }
        int rc = 0;
        switch (l->state) {
        case L_HELLO:
            rc = f->msg_case == PERMIT__FRAME__MSG_HELLO ? on_hello(l, f->hello) : -1;
            break;
        case L_AUTH:
            rc = f->msg_case == PERMIT__FRAME__MSG_AUTH ? on_auth(l, f->auth) : -1;
            break;
        case L_READY:
            if (f->msg_case == PERMIT__FRAME__MSG_HELLO || f->msg_case == PERMIT__FRAME__MSG_AUTH)
                rc = -1;
            else if (p->on_frame)
                p->on_frame(p->ctx, (unsigned)l->peer, f);
            break;
        default:
            rc = -1;
        }
        permit__frame__free_unpacked(f, NULL);
        if (rc != 0) {
            link_close(l, "handshake failed");
            return;
        }
    }
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    link *l = arg;
    if (what & BEV_EVENT_CONNECTED) {
        send_hello(l);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        link_close(l, what & BEV_EVENT_EOF ? "closed by the peer"
                      : what & BEV_EVENT_TIMEOUT ? "timed out"
                                                 : evutil_socket_error_to_string(
                                                       EVUTIL_SOCKET_ERROR()));
}

static void on_handshake_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    link *l = arg;
    if (l->state != L_READY)
        link_close(l, "no handshake within 5 s");
}

static link *link_new(node_p2p *p, struct bufferevent *bev, int outbound, int peer)
{
    link *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->p = p;
    l->bev = bev;
    l->outbound = outbound;
    l->peer = peer;
    l->state = L_HELLO;
    if (ledger_random(l->my_nonce, 32) != 0) {
        free(l);
        return NULL;
    }
    l->hs_timer = evtimer_new(p->n->base, on_handshake_timeout, l);
    struct timeval tv = {HANDSHAKE_MS / 1000, 0};
    if (l->hs_timer)
        evtimer_add(l->hs_timer, &tv);
    /* read no more than one frame ahead: a peer cannot fill our memory */
    bufferevent_setwatermark(bev, EV_READ, 0, p->max_frame + 4);
    bufferevent_setcb(bev, on_read, NULL, on_event, l);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    l->next = p->pending;
    p->pending = l;
    return l;
}

static void dial(node_p2p *p, unsigned peer)
{
    peer_slot *s = &p->peers[peer];
    if (s->ready)
        return;
    struct bufferevent *bev =
        bufferevent_socket_new(p->n->base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL) {
        schedule_redial(p, peer);
        return;
    }
    link *l = link_new(p, bev, 1, (int)peer);
    if (l == NULL) {
        bufferevent_free(bev);
        schedule_redial(p, peer);
        return;
    }
    if (bufferevent_socket_connect_hostname(bev, NULL, AF_UNSPEC, s->host, s->port) != 0)
        link_close(l, "cannot connect");
}

static void on_redial_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    peer_slot *s = arg;
    dial(s->p, s->index);
}

static void schedule_redial(node_p2p *p, unsigned peer)
{
    peer_slot *s = &p->peers[peer];
    if (!s->dial || s->redial == NULL || evtimer_pending(s->redial, NULL))
        return;
    struct timeval tv = {(time_t)(s->backoff_ms / 1000), (suseconds_t)(s->backoff_ms % 1000) * 1000};
    evtimer_add(s->redial, &tv);
    s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    (void)lev;
    (void)sa;
    (void)salen;
    node_p2p *p = arg;
    unsigned pending = 0;
    for (link *l = p->pending; l; l = l->next)
        pending++;
    if (pending >= 4 * p->npeers + 8) { /* unauthenticated connections are bounded */
        evutil_closesocket(fd);
        return;
    }
    struct bufferevent *bev =
        bufferevent_socket_new(p->n->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL) {
        evutil_closesocket(fd);
        return;
    }
    link *l = link_new(p, bev, 0, -1);
    if (l == NULL) {
        bufferevent_free(bev);
        return;
    }
    send_hello(l);
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
    p->npeers = (unsigned)n->g->n_validators;
    p->max_frame = P2P_MAX_FRAME_DEFAULT;
    p->max_queue = P2P_MAX_QUEUE_DEFAULT;
    p->height = ledger_height(n->L);
    for (unsigned i = 0; i < p->npeers; i++) {
        peer_slot *s = &p->peers[i];
        s->backoff_ms = BACKOFF_MIN_MS;
        const ledger_department *d = &n->g->departments[n->g->validators[i]];
        if ((int)i == n->validator || d->p2p == NULL)
            continue;
        s->dial = (int)i > n->validator; /* the lower index dials */
        if (node_split_hostport(d->p2p, s->host, sizeof s->host, &s->port) != 0) {
            node_p2p_free(p);
            return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                               "genesis: p2p address of %s is not host:port", d->id),
                   NULL;
        }
        s->p = p;
        s->index = i;
        s->redial = evtimer_new(n->base, on_redial_timer, s);
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
    LOG_INFO("p2p: listening on %s, %u validators", n->cfg.p2p_listen, p->npeers);
    for (unsigned i = 0; i < p->npeers; i++)
        if (p->peers[i].dial)
            dial(p, i);
    return p;
}

void node_p2p_free(node_p2p *p)
{
    if (p == NULL)
        return;
    p->on_link = NULL;
    p->on_frame = NULL;
    for (unsigned i = 0; i < p->npeers; i++) {
        peer_slot *s = &p->peers[i];
        s->dial = 0;
        if (s->ready)
            link_close(s->ready, "shutting down");
        if (s->redial)
            event_free(s->redial);
    }
    while (p->pending)
        link_close(p->pending, "shutting down");
    node_listen_guard_free(p->guard);
    if (p->listener)
        evconnlistener_free(p->listener);
    free(p);
}
