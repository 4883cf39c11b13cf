/* cli/rpc_conn.c: the client's connection to a node (rpc_conn.h): TCP with
 * deadlines through poll(), and TLS over the same non-blocking socket. */
#include "rpc_conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int64_t cli_conn_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- socket ------------------------------------------------------------- */

/* Wait for `events` on fd until the deadline: 0 ready, -1 with errno
 * (ETIMEDOUT when the deadline passed). */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - cli_conn_mono_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

int cli_conn_dial(const cli_conn_target *c, int64_t deadline, int *fdout, cli_error *err)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int gai = getaddrinfo(c->host, c->port, &hints, &res);
    if (gai != 0)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "cannot reach the node at %s: %s", c->url,
                        gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
    int fd = -1, last = ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            if (wait_fd(fd, POLLOUT, deadline) == 0) {
                int so = 0;
                socklen_t sl = sizeof so;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0)
                    break;
                last = so ? so : errno;
            } else {
                last = errno;
            }
        } else {
            last = errno;
        }
        close(fd);
        fd = -1;
        if (last == ETIMEDOUT)
            break;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (last == ETIMEDOUT)
            return cli_fail(err, CLI_EXIT_UNAVAILABLE,
                            "cannot reach the node at %s: no connection within %d ms", c->url,
                            c->timeout_ms);
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "cannot reach the node at %s: %s", c->url,
                        strerror(last));
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *fdout = fd;
    return CLI_EXIT_OK;
}

/* ---- TLS ----------------------------------------------------------------- */

void cli_conn_close(cli_conn *k)
{
    if (k->ssl)
        SSL_free(k->ssl);
    SSL_CTX_free(k->ctx);
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    k->ssl = NULL;
    k->ctx = NULL;
}

/* After an SSL call returned r <= 0: wait for what it needs; 0 to try again,
 * -1 with errno (EPROTO for a TLS failure). */
static int tls_wait(cli_conn *k, int r, int64_t deadline)
{
    switch (SSL_get_error(k->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return wait_fd(k->fd, POLLIN, deadline);
    case SSL_ERROR_WANT_WRITE:
        return wait_fd(k->fd, POLLOUT, deadline);
    case SSL_ERROR_SYSCALL:
        if (errno == 0)
            errno = ECONNRESET;
        return -1;
    default:
        errno = EPROTO;
        return -1;
    }
}

int cli_conn_tls(const cli_conn_target *c, cli_conn *k, int64_t deadline, cli_error *err)
{
    k->ctx = SSL_CTX_new(TLS_client_method());
    if (k->ctx == NULL || !SSL_CTX_set_min_proto_version(k->ctx, TLS1_2_VERSION))
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "cannot set up TLS");
    if ((c->cacert ? SSL_CTX_load_verify_locations(k->ctx, c->cacert, NULL)
                   : SSL_CTX_set_default_verify_paths(k->ctx)) != 1) {
        ERR_clear_error();
        return cli_fail(err, CLI_EXIT_USAGE, "--cacert %s: not a PEM certificate file",
                        c->cacert ? c->cacert : "(system default)");
    }
    SSL_CTX_set_verify(k->ctx, SSL_VERIFY_PEER, NULL);
    k->ssl = SSL_new(k->ctx);
    if (k->ssl == NULL || SSL_set_fd(k->ssl, k->fd) != 1)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "cannot set up TLS");
    struct in6_addr ip;
    int literal = inet_pton(AF_INET, c->host, &ip) == 1 || inet_pton(AF_INET6, c->host, &ip) == 1;
    X509_VERIFY_PARAM *vp = SSL_get0_param(k->ssl);
    if (literal ? X509_VERIFY_PARAM_set1_ip_asc(vp, c->host) != 1
                : (SSL_set_tlsext_host_name(k->ssl, c->host) != 1 ||
                   SSL_set1_host(k->ssl, c->host) != 1))
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "cannot set up TLS for host %s", c->host);
    for (;;) {
        int r = SSL_connect(k->ssl);
        if (r == 1)
            return CLI_EXIT_OK;
        if (tls_wait(k, r, deadline) == 0)
            continue;
        long v = SSL_get_verify_result(k->ssl);
        unsigned long e = ERR_peek_last_error();
        const char *why = v != X509_V_OK ? X509_verify_cert_error_string(v)
                          : e              ? ERR_reason_error_string(e)
                          : errno == ETIMEDOUT ? "timed out"
                                               : strerror(errno);
        ERR_clear_error();
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "TLS with %s failed: %s%s", c->url,
                        why ? why : "handshake failed",
                        v != X509_V_OK && c->cacert == NULL
                            ? " (give the node's certificate or its CA with --cacert)"
                            : "");
    }
}

static ssize_t conn_write(cli_conn *k, const char *p, size_t n, int64_t deadline)
{
    for (;;) {
        if (k->ssl) {
            int w = SSL_write(k->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
            if (w > 0)
                return w;
            if (tls_wait(k, w, deadline) != 0)
                return -1;
            continue;
        }
        ssize_t w = send(k->fd, p, n, MSG_NOSIGNAL);
        if (w > 0)
            return w;
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            wait_fd(k->fd, POLLOUT, deadline) == 0)
            continue;
        return -1;
    }
}

/* Bytes read (> 0), 0 at the end of the stream, -1 with errno. */
ssize_t cli_conn_read(cli_conn *k, char *p, size_t cap, int64_t deadline)
{
    for (;;) {
        if (k->ssl) {
            int n = SSL_read(k->ssl, p, cap > INT32_MAX ? INT32_MAX : (int)cap);
            if (n > 0)
                return n;
            int e = SSL_get_error(k->ssl, n);
            if (e == SSL_ERROR_ZERO_RETURN)
                return 0;
            if (e == SSL_ERROR_SYSCALL && errno == 0)
                return 0; /* closed without close_notify: the body has its own length */
            if (tls_wait(k, n, deadline) != 0)
                return -1;
            continue;
        }
        ssize_t n = recv(k->fd, p, cap, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(k->fd, POLLIN, deadline) == 0)
            continue;
        return -1;
    }
}

int cli_conn_send_all(const cli_conn_target *c, cli_conn *k, const char *p, size_t n, int64_t deadline,
                    cli_error *err)
{
    while (n > 0) {
        ssize_t w = conn_write(k, p, n, deadline);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "sending the request to %s failed: %s",
                        c->url, errno == ETIMEDOUT ? "timed out" : strerror(errno));
    }
    return CLI_EXIT_OK;
}

