/* node/p2p_link.c: one validator link (node/p2p_link.h): TLS 1.3 through
 * libevent's OpenSSL bufferevents, framing, the handshake of
 * node/handshake.h, Ping and Pong.  What to do with a link once it has
 * authenticated, or closes, is node/p2p.c's.  Loop thread only. */
#include "p2p_link.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handshake.h"
#include "ledger/codec.h"
#include "ledger/hex.h"
#include "log.h"
#include "node.h"
#include "permit.pb-c.h"
#include "tls.h"

/* The read watermark is one frame ahead plus room for a TLS record or two,
 * so that a frame of the largest size never stops reading with part of a
 * record left inside OpenSSL */
#define WM_SLACK (64u << 10)

uint64_t node_p2p_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

const char *node_p2p_validator_id(const node_p2p *p, int v)
{
    if (v >= 0 && (unsigned)v < p->npeers && p->peers[v].has_key)
        return p->peers[v].label;
    return v >= 0 && (unsigned)v >= p->nvalidators ? "observer" : "?";
}

void node_p2p_hs_failed(node_p2p *p)
{
    p->hs_failed++;
    atomic_fetch_add(&p->n->metrics.p2p_handshake_failed, 1);
}

/* Queue a frame of len bytes, packed from `f` (or copied from `bytes`). */
int node_p2p_link_queue(p2p_link *l, const Permit__Frame *f, const uint8_t *bytes, size_t len)
{
    node_p2p *p = l->p;
    struct evbuffer *out = bufferevent_get_output(l->bev);
    if (len > p->max_frame) {
        /* a frame the peer would refuse is a bug worth seeing, not a drop */
        p->oversize++;
        atomic_fetch_add(&p->n->metrics.p2p_oversize, 1);
        LOG_WARN_RATE("p2p: a %zu-byte frame (kind %d) for validator %d (%s) is over the "
                      "%zu-byte frame limit: not sent",
                      len, f ? (int)f->msg_case : -1, l->peer, node_p2p_validator_id(p, l->peer),
                      p->max_frame);
        return -1;
    }
    if (evbuffer_get_length(out) + 4 + len > p->max_queue) {
        p->dropped++; /* a slow peer does not grow our memory */
        atomic_fetch_add(&p->n->metrics.p2p_dropped, 1);
        return -1;
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

int node_p2p_link_send(p2p_link *l, const Permit__Frame *f)
{
    return node_p2p_link_queue(l, f, NULL, permit__frame__get_packed_size(f));
}

void node_p2p_send_ping(p2p_link *l, uint64_t now)
{
    if (ledger_random(&l->ping_nonce, sizeof l->ping_nonce) != 0)
        l->ping_nonce = now ^ (uint64_t)(uintptr_t)l;
    Permit__Ping m = PERMIT__PING__INIT;
    m.nonce = l->ping_nonce;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_PING;
    f.ping = &m;
    l->ping_out = 1;
    l->ping_sent_ms = now;
    node_p2p_link_send(l, &f);
}

static void send_pong(p2p_link *l, uint64_t nonce)
{
    Permit__Pong m = PERMIT__PONG__INIT;
    m.nonce = nonce;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_PONG;
    f.pong = &m;
    node_p2p_link_send(l, &f);
}

static void send_hello(p2p_link *l)
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
    node_p2p_link_send(l, &f);
}

/* The TLS handshake finished: bind to the session and say Hello.  -1 when
 * the session has no exporter (not TLS 1.3). */
static int link_tls_up(p2p_link *l)
{
    if (l->state != L_TLS)
        return 0;
    if (node_tls_exporter(bufferevent_openssl_get_ssl(l->bev), l->exporter) != 0)
        return -1;
    /* from now on a peer that goes away without a TLS close_notify is an
     * end of stream, not an error worth a warning */
    bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
    l->state = L_HELLO;
    l->adm.stage = NODE_ADMIT_TLS;
    send_hello(l);
    return 0;
}

static int on_hello(p2p_link *l, const Permit__Hello *h)
{
    node_p2p *p = l->p;
    node *n = p->n;
    /* department nodes of the sets near our height have slots; a validator
     * lets admitted observers follow it; an observer links to department
     * nodes only */
    node_hs_result r = NODE_HS_OK;
    const char *why = NULL;
    if (h == NULL || h->chain_id == NULL || h->node_key.len != 32 ||
        h->nonce.len != NODE_HS_NONCE_LEN)
        r = NODE_HS_MALFORMED;
    else if (strcmp(h->chain_id, n->g->chain_id) != 0)
        r = NODE_HS_OTHER_CHAIN;
    else if (memcmp(h->node_key.data, n->key.pub, 32) == 0)
        r = NODE_HS_SELF;
    int v = r == NODE_HS_OK ? node_p2p_node_slot(p, h->node_key.data) : -1;
    if (r == NODE_HS_OK && v < 0) {
        r = NODE_HS_NOT_VALIDATOR;
        if (n->observer < 0 && !l->outbound) {
            /* not a validator: an observer, if the membership in force says so */
            v = node_p2p_observer_slot(p, h->node_key.data, &why);
            if (v >= 0)
                r = NODE_HS_OK;
        }
    }
    if (r != NODE_HS_OK) {
        char hex[65] = "-";
        if (h != NULL && h->node_key.len == 32)
            ledger_hex_encode(h->node_key.data, 32, hex);
        LOG_WARN_RATE("p2p: refused a peer at %s: %s (key %.16s)", l->addr,
                      why ? why : node_hs_result_str(r), hex);
        return -1;
    }
    if (l->outbound && v != l->peer) {
        LOG_WARN_RATE("p2p: %s, dialled as validator %d (%s), answered as validator %d", l->addr,
                      l->peer, node_p2p_validator_id(p, l->peer), v);
        return -1;
    }
    l->peer = v;
    memcpy(l->peer_nonce, h->nonce.data, 32);
    l->peer_height = h->height;
    if (!l->outbound) {
        /* from here on it counts against that validator's allowance */
        const p2p_slot *s = &p->peers[v];
        l->adm.stage = NODE_ADMIT_NAMED;
        l->adm.key = v;
        l->adm.key_addr = s->addr_len && s->addr_len == l->adm.addr_len &&
                          memcmp(s->addr, l->adm.addr, s->addr_len) == 0;
        if (node_p2p_make_room(p, l, &l->adm, l->addr) != 0)
            return -1;
    }
    uint8_t sig[64];
    if (node_hs_sign_auth(&n->key, n->g->chain_id, l->my_nonce, l->peer_nonce, l->exporter, sig) !=
        0)
        return -1;
    Permit__Auth a = PERMIT__AUTH__INIT;
    a.sig.data = sig;
    a.sig.len = 64;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_AUTH;
    f.auth = &a;
    node_p2p_link_send(l, &f);
    l->state = L_AUTH;
    return 0;
}

static int on_auth(p2p_link *l, const Permit__Auth *a, uint64_t now)
{
    node_p2p *p = l->p;
    const ledger_pubkey *key = p->peers[l->peer].has_key ? &p->peers[l->peer].key : NULL;
    if (!node_hs_verify_auth_key(p->n->g->chain_id, key, l->peer_nonce, l->my_nonce,
                                 l->exporter, a)) {
        LOG_WARN_RATE("p2p: a peer at %s claiming to be validator %d (%s) failed authentication",
                      l->addr, l->peer, node_p2p_validator_id(p, l->peer));
        return -1;
    }
    node_p2p_link_authenticated(l, now);
    return 0;
}

/* Handle one frame; -1 closes the link (why says why). */
static int on_message(p2p_link *l, const Permit__Frame *f, uint64_t now, const char **why)
{
    node_p2p *p = l->p;
    switch (l->state) {
    case L_HELLO:
        *why = "handshake failed";
        return f->msg_case == PERMIT__FRAME__MSG_HELLO ? on_hello(l, f->hello) : -1;
    case L_AUTH:
        *why = "handshake failed";
        return f->msg_case == PERMIT__FRAME__MSG_AUTH ? on_auth(l, f->auth, now) : -1;
    case L_STANDBY:
    case L_READY:
        switch (f->msg_case) {
        case PERMIT__FRAME__MSG_HELLO:
        case PERMIT__FRAME__MSG_AUTH:
            *why = "a handshake message on an open link";
            return -1;
        case PERMIT__FRAME__MSG_PING:
            send_pong(l, f->ping->nonce);
            return 0;
        case PERMIT__FRAME__MSG_PONG:
            node_p2p_on_pong(l, f->pong->nonce);
            return 0;
        default:
            /* a waiting second link is authenticated too: what it says counts */
            if (p->on_frame)
                p->on_frame(p->ctx, (unsigned)l->peer, f);
            return 0;
        }
    default:
        *why = "a frame before TLS was up";
        return -1;
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    p2p_link *l = arg;
    node_p2p *p = l->p;
    struct evbuffer *in = bufferevent_get_input(bev);
    /* data means the TLS handshake is done, even if its event is still queued */
    if (l->state == L_TLS && link_tls_up(l) != 0) {
        node_p2p_hs_failed(p);
        node_p2p_link_close(l, "no TLS 1.3 exporter");
        return;
    }
    uint64_t now = node_p2p_now_ms();
    l->last_rx_ms = now;
    for (;;) {
        uint8_t hdr[4];
        if (evbuffer_copyout(in, hdr, 4) < 4)
            return;
        size_t len = ledger_rd_be32(hdr);
        size_t limit = l->state >= L_STANDBY ? p->max_frame : NODE_HS_MAX_FRAME;
        if (len > limit) {
            if (l->state < L_STANDBY) {
                node_p2p_hs_failed(p);
                LOG_WARN_RATE("p2p: a peer at %s sent a %zu-byte frame during the handshake",
                              l->addr, len);
            }
            node_p2p_link_close(l, "frame too large");
            return;
        }
        if (evbuffer_get_length(in) < 4 + len)
            return;
        evbuffer_drain(in, 4);
        uint8_t *data = evbuffer_pullup(in, (ev_ssize_t)len);
        Permit__Frame *f = len ? permit__frame__unpack(NULL, len, data) : NULL;
        evbuffer_drain(in, len);
        if (f == NULL) {
            if (l->state < L_STANDBY) {
                node_p2p_hs_failed(p);
                LOG_WARN_RATE("p2p: a peer at %s sent a malformed frame during the handshake",
                              l->addr);
            }
            node_p2p_link_close(l, "malformed frame");
            return;
        }
        const char *why = "refused";
        int was_hs = l->state < L_STANDBY;
        int rc = on_message(l, f, now, &why);
        permit__frame__free_unpacked(f, NULL);
        if (rc != 0) {
            if (was_hs)
                node_p2p_hs_failed(p);
            node_p2p_link_close(l, why);
            return;
        }
    }
}

/* errno values that say why a socket failed (others may be stale) */
static int socket_failure(int e)
{
    return e == ECONNRESET || e == ECONNREFUSED || e == ETIMEDOUT || e == EHOSTUNREACH ||
           e == ENETUNREACH || e == EPIPE;
}

/* Why a connection failed, for the log: OpenSSL's reason when there is one
 * (then *tls is 1). */
static const char *failure(struct bufferevent *bev, short what, char *buf, size_t cap, int *tls)
{
    const char *reason = NULL;
    unsigned long e;
    /* empty the stash libevent keeps of OpenSSL's error queue */
    while ((e = bufferevent_get_openssl_error(bev)) != 0)
        if (reason == NULL)
            reason = node_tls_reason(e);
    *tls = reason != NULL;
    if (reason)
        snprintf(buf, cap, "%s", reason);
    else if (what & BEV_EVENT_EOF)
        snprintf(buf, cap, "closed by the peer");
    else if (what & BEV_EVENT_TIMEOUT)
        snprintf(buf, cap, "timed out");
    else if (socket_failure(EVUTIL_SOCKET_ERROR()))
        snprintf(buf, cap, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    else
        snprintf(buf, cap, "connection closed");
    return buf;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    p2p_link *l = arg;
    if (what & BEV_EVENT_CONNECTED) {
        if (link_tls_up(l) != 0) {
            node_p2p_hs_failed(l->p);
            node_p2p_link_close(l, "no TLS 1.3 exporter");
        }
        return;
    }
    if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
        return;
    char buf[160];
    int tls;
    const char *why = failure(bev, what, buf, sizeof buf, &tls);
    if (l->state == L_TLS && !l->outbound) {
        node_p2p_hs_failed(l->p);
        LOG_WARN_RATE("p2p: TLS handshake with %s failed: %s", l->addr, why);
    } else if (l->state == L_TLS && tls) {
        /* a peer that is down is not news; one that speaks no TLS 1.3 is */
        LOG_WARN_RATE("p2p: TLS handshake with validator %d (%s) at %s failed: %s", l->peer,
                      node_p2p_validator_id(l->p, l->peer), l->addr, why);
    }
    node_p2p_link_close(l, why);
}

p2p_link *node_p2p_link_new(node_p2p *p, struct bufferevent *bev, int outbound, int peer)
{
    p2p_link *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->p = p;
    l->bev = bev;
    l->outbound = outbound;
    l->peer = peer;
    l->state = L_TLS;
    l->adm.key = -1;
    l->adm.seq = ++p->seq;
    l->started_ms = l->last_rx_ms = node_p2p_now_ms();
    if (ledger_random(l->my_nonce, 32) != 0) {
        free(l);
        return NULL;
    }
    /* read no more than one frame ahead: a peer cannot fill our memory */
    bufferevent_setwatermark(bev, EV_READ, 0, p->max_frame + 4 + WM_SLACK);
    bufferevent_setcb(bev, on_read, NULL, on_event, l);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    l->next = p->links;
    p->links = l;
    return l;
}

void node_p2p_link_free(p2p_link *l)
{
    node_p2p *p = l->p;
    for (p2p_link **pp = &p->links; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    /* BEV_OPT_CLOSE_ON_FREE: libevent frees the SSL object and closes the
     * socket (once no callback of it is running) */
    bufferevent_free(l->bev);
    free(l);
}
