/* tests/peer.c: the p2p test peer (peer.h). */
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ledger/codec.h"
#include "ledger/hash.h"
#include "permit.pb-c.h"

#define EXPORTER_LABEL "EXPORTER-permit-p2p"
#define DEFAULT_MAX_FRAME (16u << 20)
/* a blocking call never waits longer than this at once, so that deadlines
 * hold even inside OpenSSL (a record that arrives in part) */
#define SLICE_MS 100

struct tp_conn {
    int fd;
    SSL *ssl;           /* NULL: plain TCP */
    size_t max_frame;
    char err[256];
};

struct tp_server {
    int fd;
    int port;
    SSL_CTX *ctx;
};

static __thread char g_last_error[256];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void once(void)
{
    signal(SIGPIPE, SIG_IGN);
}

static void fail_conn(tp_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_conn(tp_conn *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c ? c->err : g_last_error, sizeof g_last_error, fmt, ap);
    va_end(ap);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int left_ms(uint64_t deadline)
{
    uint64_t now = now_ms();
    return now >= deadline ? 0 : (int)(deadline - now);
}

static const char *ssl_reason(void)
{
    unsigned long e = ERR_get_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : strerror(errno);
}

const char *tp_error(const tp_conn *c)
{
    return c ? c->err : g_last_error;
}

const char *tp_last_error(void)
{
    return g_last_error;
}

void tp_set_max_frame(tp_conn *c, size_t max)
{
    c->max_frame = max;
}

/* ---- TLS contexts ---- */

static SSL_CTX *client_ctx(int max_version)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, max_version);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    return ctx;
}

/* A P-256 key and a self-signed certificate for it, in memory. */
static SSL_CTX *server_ctx(void)
{
    SSL_CTX *ctx = NULL;
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (key == NULL || x == NULL)
        goto out;
    X509_NAME *name = X509_get_subject_name(x);
    if (!X509_set_version(x, X509_VERSION_3) || !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -60) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 86400) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"tp", -1,
                                    -1, 0) ||
        !X509_set_issuer_name(x, name) || !X509_set_pubkey(x, key) ||
        X509_sign(x, key, EVP_sha256()) <= 0)
        goto out;
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1) {
        SSL_CTX_free(ctx);
        ctx = NULL;
        goto out;
    }
    SSL_CTX_set_num_tickets(ctx, 0);
out:
    X509_free(x);
    EVP_PKEY_free(key);
    return ctx;
}

/* ---- connections ---- */

static tp_conn *conn_new(int fd)
{
    tp_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    c->max_frame = DEFAULT_MAX_FRAME;
    /* backstops for blocking calls inside OpenSSL; loops check deadlines */
    struct timeval tv = {0, SLICE_MS * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return c;
}

static int tcp_connect(int port, int timeout_ms)
{
    pthread_once(&g_once, once);
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        fail_conn(NULL, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int e = 0;
        socklen_t el = sizeof e;
        if (poll(&p, 1, left_ms(deadline)) != 1 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0) {
            fail_conn(NULL, "connect to port %d: %s", port, e ? strerror(e) : "timed out");
            close(fd);
            return -1;
        }
        rc = 0;
    }
    if (rc != 0) {
        fail_conn(NULL, "connect to port %d: %s", port, strerror(errno));
        close(fd);
        return -1;
    }
    /* blocking from here on, with the time slices of conn_new */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        fail_conn(NULL, "fcntl: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* Drive the TLS handshake to its end, or fail at the deadline. */
static int tls_handshake(tp_conn *c, int server, uint64_t deadline)
{
    for (;;) {
        ERR_clear_error();
        int r = server ? SSL_accept(c->ssl) : SSL_connect(c->ssl);
        if (r == 1)
            return 0;
        int e = SSL_get_error(c->ssl, r);
        if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && left_ms(deadline) > 0)
            continue;
        fail_conn(c, "TLS handshake: %s",
                  e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? "timed out"
                                                                        : ssl_reason());
        return -1;
    }
}

/* Wrap fd in TLS (ctx's reference is taken by the SSL object). */
static tp_conn *tls_conn(int fd, SSL_CTX *ctx, int server, uint64_t deadline)
{
    tp_conn *c = conn_new(fd);
    if (c == NULL || ctx == NULL) {
        fail_conn(NULL, "out of memory");
        tp_close(c);
        return NULL;
    }
    c->ssl = SSL_new(ctx);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, fd) != 1) {
        fail_conn(NULL, "SSL_new: %s", ssl_reason());
        tp_close(c);
        return NULL;
    }
    /* a peer that closes without close_notify has closed, not failed */
    SSL_set_options(c->ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (tls_handshake(c, server, deadline) != 0) {
        fail_conn(NULL, "%s", c->err);
        tp_close(c);
        return NULL;
    }
    return c;
}

tp_conn *tp_connect_version(int port, int max_version, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    int fd = tcp_connect(port, timeout_ms);
    if (fd < 0)
        return NULL;
    SSL_CTX *ctx = client_ctx(max_version);
    tp_conn *c = tls_conn(fd, ctx, 0, deadline);
    SSL_CTX_free(ctx);
    return c;
}

tp_conn *tp_connect(int port, int timeout_ms)
{
    return tp_connect_version(port, TLS1_3_VERSION, timeout_ms);
}

tp_conn *tp_connect_plain(int port, int timeout_ms)
{
    int fd = tcp_connect(port, timeout_ms);
    return fd < 0 ? NULL : conn_new(fd);
}

tp_server *tp_listen(int port)
{
    pthread_once(&g_once, once);
    tp_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (s->fd < 0 || setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(s->fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->fd, 64) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&a, &al) != 0) {
        fail_conn(NULL, "listen on port %d: %s", port, strerror(errno));
        tp_server_free(s);
        return NULL;
    }
    s->port = ntohs(a.sin_port);
    s->ctx = server_ctx();
    if (s->ctx == NULL) {
        fail_conn(NULL, "no TLS server context: %s", ssl_reason());
        tp_server_free(s);
        return NULL;
    }
    return s;
}

int tp_server_port(const tp_server *s)
{
    return s->port;
}

tp_conn *tp_accept(tp_server *s, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    struct pollfd p = {.fd = s->fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1) {
        fail_conn(NULL, "no connection on port %d within %d ms", s->port, timeout_ms);
        return NULL;
    }
    int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        fail_conn(NULL, "accept: %s", strerror(errno));
        return NULL;
    }
    return tls_conn(fd, s->ctx, 1, deadline);
}

void tp_server_free(tp_server *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    SSL_CTX_free(s->ctx);
    free(s);
}

void tp_close(tp_conn *c)
{
    if (c == NULL)
        return;
    SSL_free(c->ssl); /* no SSL_shutdown: the peer sees a connection that went away */
    close(c->fd);
    free(c);
}

int tp_exporter(tp_conn *c, uint8_t out[32])
{
    if (c->ssl == NULL ||
        SSL_export_keying_material(c->ssl, out, 32, EXPORTER_LABEL, strlen(EXPORTER_LABEL), NULL,
                                   0, 0) != 1) {
        fail_conn(c, "no exporter: %s", c->ssl ? ssl_reason() : "not a TLS connection");
        return -1;
    }
    return 0;
}

/* ---- bytes ---- */

int tp_write(tp_conn *c, const void *p, size_t n, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    const uint8_t *b = p;
    while (n > 0) {
        if (c->ssl) {
            /* after WANT_*, SSL_write is retried with the same arguments */
            int chunk = n > (1u << 20) ? (1 << 20) : (int)n;
            ERR_clear_error();
            int r = SSL_write(c->ssl, b, chunk);
            if (r > 0) {
                b += r;
                n -= (size_t)r;
                continue;
            }
            int e = SSL_get_error(c->ssl, r);
            if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && left_ms(deadline) > 0)
                continue;
            fail_conn(c, "write: %s",
                      e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ ? "timed out"
                                                                            : ssl_reason());
            return -1;
        }
        ssize_t r = send(c->fd, b, n, MSG_NOSIGNAL);
        if (r > 0) {
            b += r;
            n -= (size_t)r;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) &&
                   left_ms(deadline) > 0) {
            continue;
        } else {
            fail_conn(c, "write: %s", r < 0 ? strerror(errno) : "nothing written");
            return -1;
        }
    }
    return 0;
}

ssize_t tp_read(tp_conn *c, void *buf, size_t cap, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    int want = cap > (1u << 30) ? (1 << 30) : (int)cap;
    for (;;) {
        if (c->ssl) {
            ERR_clear_error();
            errno = 0;
            int r = SSL_read(c->ssl, buf, want);
            if (r > 0)
                return r;
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_ZERO_RETURN ||
                (e == SSL_ERROR_SYSCALL && (errno == ECONNRESET || errno == EPIPE || r == 0))) {
                fail_conn(c, "closed by the other side");
                return 0;
            }
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                if (left_ms(deadline) == 0) {
                    fail_conn(c, "nothing within %d ms", timeout_ms);
                    return -2;
                }
                continue;
            }
            fail_conn(c, "read: %s", ssl_reason());
            return -1;
        }
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        int pr = poll(&p, 1, left_ms(deadline));
        if (pr == 0) {
            fail_conn(c, "nothing within %d ms", timeout_ms);
            return -2;
        }
        ssize_t r = pr > 0 ? recv(c->fd, buf, (size_t)want, 0) : -1;
        if (r > 0)
            return r;
        if (r == 0 || errno == ECONNRESET) {
            fail_conn(c, "closed by the other side");
            return 0;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            fail_conn(c, "read: %s", strerror(errno));
            return -1;
        }
    }
}

int tp_wait_closed(tp_conn *c, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    char buf[4096];
    for (;;) {
        ssize_t r = tp_read(c, buf, sizeof buf, left_ms(deadline));
        if (r == 0 || r == -1)
            return 1; /* closed, or broken by the other side (a TLS alert) */
        if (r == -2)
            return 0;
    }
}

/* Read exactly n bytes before the deadline; 0 or -1. */
static int read_exact(tp_conn *c, uint8_t *buf, size_t n, uint64_t deadline)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = tp_read(c, buf + got, n - got, left_ms(deadline));
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* ---- frames ---- */

int tp_send_packed(tp_conn *c, const uint8_t *body, size_t len, int timeout_ms)
{
    uint8_t *buf = malloc(4 + len);
    if (buf == NULL) {
        fail_conn(c, "out of memory");
        return -1;
    }
    ledger_be32(buf, (uint32_t)len);
    if (len)
        memcpy(buf + 4, body, len);
    int rc = tp_write(c, buf, 4 + len, timeout_ms);
    free(buf);
    return rc;
}

int tp_send_frame(tp_conn *c, const Permit__Frame *f, int timeout_ms)
{
    size_t len = permit__frame__get_packed_size(f);
    uint8_t *body = malloc(len ? len : 1);
    if (body == NULL) {
        fail_conn(c, "out of memory");
        return -1;
    }
    permit__frame__pack(f, body);
    int rc = tp_send_packed(c, body, len, timeout_ms);
    free(body);
    return rc;
}

uint8_t *tp_recv_packed(tp_conn *c, size_t *len, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    uint8_t hdr[4];
    if (read_exact(c, hdr, 4, deadline) != 0)
        return NULL;
    uint32_t n = ledger_rd_be32(hdr);
    if (n > c->max_frame) {
        fail_conn(c, "frame too large (%u bytes, at most %zu)", n, c->max_frame);
        return NULL;
    }
    uint8_t *body = malloc(n ? n : 1);
    if (body == NULL) {
        fail_conn(c, "out of memory");
        return NULL;
    }
    if (read_exact(c, body, n, deadline) != 0) {
        free(body);
        return NULL;
    }
    *len = n;
    return body;
}

Permit__Frame *tp_recv_frame(tp_conn *c, int timeout_ms)
{
    size_t len;
    uint8_t *body = tp_recv_packed(c, &len, timeout_ms);
    if (body == NULL)
        return NULL;
    Permit__Frame *f = permit__frame__unpack(NULL, len, body);
    free(body);
    if (f == NULL)
        fail_conn(c, "a %zu-byte frame that does not decode", len);
    return f;
}

Permit__Frame *tp_recv_kind(tp_conn *c, int msg_case, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    for (;;) {
        Permit__Frame *f = tp_recv_frame(c, left_ms(deadline));
        if (f == NULL)
            return NULL;
        if ((int)f->msg_case == msg_case)
            return f;
        if (f->msg_case == PERMIT__FRAME__MSG_PING) {
            Permit__Pong pong = PERMIT__PONG__INIT;
            pong.nonce = f->ping->nonce;
            Permit__Frame r = PERMIT__FRAME__INIT;
            r.msg_case = PERMIT__FRAME__MSG_PONG;
            r.pong = &pong;
            if (tp_send_frame(c, &r, left_ms(deadline) + 100) != 0) {
                permit__frame__free_unpacked(f, NULL);
                return NULL;
            }
        }
        permit__frame__free_unpacked(f, NULL);
    }
}

/* ---- the handshake ---- */

void tp_auth_hash(const char *chain_id, const uint8_t signer_nonce[32],
                  const uint8_t other_nonce[32], const uint8_t exporter[32], uint8_t out[32])
{
    /* docs/formats.md: str chain_id || signer nonce || other nonce || exporter */
    ledger_tag tag;
    ledger_tag_init(&tag, "permit/p2p/v2");
    lbuf b;
    ledger_lbuf_init(&b, 2 + strlen(chain_id) + 96);
    ledger_lbuf_str(&b, chain_id);
    ledger_lbuf_put(&b, signer_nonce, 32);
    ledger_lbuf_put(&b, other_nonce, 32);
    ledger_lbuf_put(&b, exporter, 32);
    ledger_tagged_hash(&tag, b.buf, b.err ? 0 : b.len, out);
    ledger_lbuf_free(&b);
}

int tp_send_hello(tp_conn *c, const char *chain_id, const uint8_t key[32], const uint8_t nonce[32],
                  uint64_t height)
{
    Permit__Hello h = PERMIT__HELLO__INIT;
    h.chain_id = (char *)chain_id;
    h.node_key.data = (uint8_t *)key;
    h.node_key.len = 32;
    h.nonce.data = (uint8_t *)nonce;
    h.nonce.len = 32;
    h.height = height;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_HELLO;
    f.hello = &h;
    return tp_send_frame(c, &f, 5000);
}

int tp_recv_hello(tp_conn *c, tp_hello *h, int timeout_ms)
{
    Permit__Frame *f = tp_recv_frame(c, timeout_ms);
    if (f == NULL)
        return -1;
    int rc = -1;
    if (f->msg_case != PERMIT__FRAME__MSG_HELLO) {
        fail_conn(c, "expected a Hello, got a frame of kind %d", (int)f->msg_case);
        goto out;
    }
    const Permit__Hello *m = f->hello;
    if (m->chain_id == NULL || strlen(m->chain_id) >= sizeof h->chain_id || m->node_key.len != 32 ||
        m->nonce.len != 32) {
        fail_conn(c, "a malformed Hello");
        goto out;
    }
    snprintf(h->chain_id, sizeof h->chain_id, "%s", m->chain_id);
    memcpy(h->key, m->node_key.data, 32);
    memcpy(h->nonce, m->nonce.data, 32);
    h->height = m->height;
    rc = 0;
out:
    permit__frame__free_unpacked(f, NULL);
    return rc;
}

int tp_send_auth_sig(tp_conn *c, const uint8_t sig[64])
{
    Permit__Auth a = PERMIT__AUTH__INIT;
    a.sig.data = (uint8_t *)sig;
    a.sig.len = 64;
    Permit__Frame f = PERMIT__FRAME__INIT;
    f.msg_case = PERMIT__FRAME__MSG_AUTH;
    f.auth = &a;
    return tp_send_frame(c, &f, 5000);
}

int tp_send_auth(tp_conn *c, const ledger_keypair *kp, const char *chain_id,
                 const uint8_t own_nonce[32], const uint8_t peer_nonce[32])
{
    uint8_t exp[32], msg[32], sig[64];
    if (tp_exporter(c, exp) != 0)
        return -1;
    tp_auth_hash(chain_id, own_nonce, peer_nonce, exp, msg);
    if (ledger_sign(kp, msg, NULL, sig) != 0) {
        fail_conn(c, "cannot sign");
        return -1;
    }
    return tp_send_auth_sig(c, sig);
}

int tp_recv_auth(tp_conn *c, uint8_t sig[64], int timeout_ms)
{
    Permit__Frame *f = tp_recv_frame(c, timeout_ms);
    if (f == NULL)
        return -1;
    int rc = -1;
    if (f->msg_case != PERMIT__FRAME__MSG_AUTH || f->auth->sig.len != 64)
        fail_conn(c, "expected an Auth, got a frame of kind %d", (int)f->msg_case);
    else {
        memcpy(sig, f->auth->sig.data, 64);
        rc = 0;
    }
    permit__frame__free_unpacked(f, NULL);
    return rc;
}

int tp_verify_auth(tp_conn *c, const char *chain_id, const uint8_t key[32],
                   const uint8_t peer_nonce[32], const uint8_t own_nonce[32], const uint8_t sig[64])
{
    uint8_t exp[32], msg[32];
    ledger_pubkey pk;
    if (tp_exporter(c, exp) != 0 || ledger_pubkey_parse(&pk, key) != 0)
        return 0;
    tp_auth_hash(chain_id, peer_nonce, own_nonce, exp, msg);
    return ledger_verify(&pk, msg, 32, sig) == 1;
}

int tp_handshake(tp_conn *c, const char *chain_id, const ledger_keypair *kp, uint64_t height,
                 const uint8_t *expect_key, tp_hello *peer, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    uint8_t nonce[32], sig[64];
    tp_hello h;
    if (ledger_random(nonce, sizeof nonce) != 0) {
        fail_conn(c, "no randomness");
        return -1;
    }
    if (tp_send_hello(c, chain_id, kp->pub, nonce, height) != 0 ||
        tp_recv_hello(c, &h, left_ms(deadline)) != 0)
        return -1;
    if (expect_key && memcmp(h.key, expect_key, 32) != 0) {
        fail_conn(c, "the other side's Hello names another key");
        return -1;
    }
    if (tp_send_auth(c, kp, chain_id, nonce, h.nonce) != 0 ||
        tp_recv_auth(c, sig, left_ms(deadline)) != 0)
        return -1;
    if (!tp_verify_auth(c, chain_id, h.key, h.nonce, nonce, sig)) {
        fail_conn(c, "the other side's Auth does not verify");
        return -1;
    }
    if (peer)
        *peer = h;
    return 0;
}

/* ---- relaying ---- */

int tp_relay_frame(tp_conn *from, tp_conn *to, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    size_t len;
    uint8_t *body = tp_recv_packed(from, &len, timeout_ms);
    if (body == NULL)
        return -1;
    Permit__Frame *f = permit__frame__unpack(NULL, len, body);
    int kind = f ? (int)f->msg_case : 0;
    permit__frame__free_unpacked(f, NULL);
    int rc = tp_send_packed(to, body, len, left_ms(deadline) + 100);
    free(body);
    return rc == 0 ? kind : -1;
}

static int readable(tp_conn *c, short revents)
{
    return (c->ssl && SSL_pending(c->ssl) > 0) || (revents & (POLLIN | POLLHUP | POLLERR));
}

long tp_relay(tp_conn *a, tp_conn *b, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    long moved = 0;
    static __thread uint8_t buf[16384];
    while (left_ms(deadline) > 0) {
        struct pollfd p[2] = {{.fd = a->fd, .events = POLLIN}, {.fd = b->fd, .events = POLLIN}};
        int pending = (a->ssl && SSL_pending(a->ssl)) || (b->ssl && SSL_pending(b->ssl));
        int wait = left_ms(deadline) < SLICE_MS ? left_ms(deadline) : SLICE_MS;
        if (poll(p, 2, pending ? 0 : wait) < 0 && errno != EINTR)
            return -1;
        for (int i = 0; i < 2; i++) {
            tp_conn *from = i ? b : a, *to = i ? a : b;
            if (!readable(from, p[i].revents))
                continue;
            ssize_t r = tp_read(from, buf, sizeof buf, 0);
            if (r == 0)
                return moved; /* one side closed */
            if (r == -1)
                return from->ssl ? moved : -1; /* a TLS alert ends it like a close */
            if (r > 0) {
                if (tp_write(to, buf, (size_t)r, left_ms(deadline) + 100) != 0)
                    return moved;
                moved += r;
            }
        }
    }
    return moved;
}
