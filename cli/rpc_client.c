/* cli/rpc_client.c: blocking HTTP/1.1 POST of JSON-RPC 2.0 requests.
 *
 * Non-blocking sockets driven by poll() against one deadline per phase
 * (connect; send and receive), so no step can hang past the timeout.  The
 * response is read through a fixed 128 KiB window: header lines and chunk
 * size lines must fit in CLI_LINE_MAX, the body is copied out as it arrives
 * into a buffer bounded by CLI_RPC_MAX_BODY.  https:// goes through OpenSSL
 * on the same non-blocking socket (TLS 1.2 or later, the server's
 * certificate checked against --cacert or the system's trust store, and
 * against the URL's host name or IP address). */
#include "rpc_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "output.h"
#include "rpc_conn.h"

#define CLI_LINE_MAX 8192
#define CLI_WINDOW (128u << 10)

struct cli_rpc {
    char *url;
    int tls;         /* https:// */
    char *token;     /* bearer token (--token-file), or NULL */
    char *cacert;    /* --cacert, or NULL: the system's trust store */
    char *host;      /* for getaddrinfo: no brackets */
    char *port;      /* decimal */
    char *authority; /* Host header: as written in the URL */
    char *path;
    int timeout_ms;
    long next_id;
};

/* ---- URL ---------------------------------------------------------------- */

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static int host_char(char c, int bracketed)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '.' || c == '-')
        return 1;
    return bracketed ? c == ':' || c == '%' : c == '_';
}

int cli_rpc_new(cli_rpc **out, const char *url, int timeout_ms, cli_error *err)
{
    *out = NULL;
    if (url == NULL || strlen(url) > 2048)
        return cli_fail(err, CLI_EXIT_USAGE, "--rpc: missing or overlong URL");
    int tls = strncasecmp(url, "https://", 8) == 0;
    if (!tls && strncasecmp(url, "http://", 7) != 0)
        return cli_fail(err, CLI_EXIT_USAGE,
                        "--rpc %.200s: expected http[s]://HOST[:PORT][/PATH]", url);
    const char *auth = url + (tls ? 8 : 7);
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    const char *hs = auth, *he, *ps = NULL;
    int bracketed = 0;
    if (alen == 0)
        return cli_fail(err, CLI_EXIT_USAGE, "--rpc %.200s: no host", url);
    if (memchr(auth, '@', alen))
        return cli_fail(err, CLI_EXIT_USAGE, "--rpc %.200s: user information is not supported",
                        url);
    if (auth[0] == '[') {
        const char *rb = memchr(auth, ']', alen);
        if (rb == NULL)
            return cli_fail(err, CLI_EXIT_USAGE, "--rpc %.200s: unclosed '[' in host", url);
        hs = auth + 1;
        he = rb;
        bracketed = 1;
        if (rb + 1 < rest) {
            if (rb[1] != ':')
                return cli_fail(err, CLI_EXIT_USAGE, "--rpc %.200s: bad host", url);
            ps = rb + 2;
        }
    } else {
        const char *colon = memchr(auth, ':', alen);
        he = colon ? colon : rest;
        if (colon)
            ps = colon + 1;
    }
    if (he == hs)
        return cli_fail(err, CLI_EXIT_USAGE, "--rpc %.200s: no host", url);
    for (const char *p = hs; p < he; p++)
        if (!host_char(*p, bracketed))
            return cli_fail(err, CLI_EXIT_USAGE, "--rpc %.200s: bad character in host", url);
    unsigned long port = tls ? 443 : 80;
    if (ps) {
        size_t plen = (size_t)(rest - ps);
        if (plen == 0 || plen > 5)
            return cli_fail(err, CLI_EXIT_USAGE, "--rpc %.200s: bad port", url);
        port = 0;
        for (const char *p = ps; p < rest; p++) {
            if (*p < '0' || *p > '9')
                return cli_fail(err, CLI_EXIT_USAGE, "--rpc %.200s: bad port", url);
            port = port * 10 + (unsigned long)(*p - '0');
        }
        if (port == 0 || port > 65535)
            return cli_fail(err, CLI_EXIT_USAGE, "--rpc %.200s: port must be 1..65535", url);
    }
    const char *path = rest;
    if (*path == '?' || *path == '#')
        return cli_fail(err, CLI_EXIT_USAGE, "--rpc %.200s: queries and fragments are not "
                        "supported", url);
    size_t pathlen = strcspn(path, "#");
    if (path[pathlen] != '\0')
        return cli_fail(err, CLI_EXIT_USAGE, "--rpc %.200s: fragments are not supported", url);
    for (size_t i = 0; i < pathlen; i++)
        if ((unsigned char)path[i] <= 0x20 || (unsigned char)path[i] >= 0x7f)
            return cli_fail(err, CLI_EXIT_USAGE, "--rpc %.200s: bad character in path", url);
    if (pathlen == 0 || (pathlen == 1 && path[0] == '/')) {
        path = "/rpc";
        pathlen = 4;
    }
    cli_rpc *c = calloc(1, sizeof *c);
    char portbuf[8];
    snprintf(portbuf, sizeof portbuf, "%lu", port);
    if (c == NULL || (c->url = strdup(url)) == NULL ||
        (c->host = dupn(hs, (size_t)(he - hs))) == NULL || (c->port = strdup(portbuf)) == NULL ||
        (c->authority = dupn(auth, alen)) == NULL || (c->path = dupn(path, pathlen)) == NULL) {
        cli_rpc_free(c);
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    }
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : CLI_DEFAULT_TIMEOUT_MS;
    c->next_id = 1;
    c->tls = tls;
    *out = c;
    return CLI_EXIT_OK;
}

void cli_rpc_free(cli_rpc *c)
{
    if (c == NULL)
        return;
    free(c->url);
    free(c->host);
    free(c->port);
    free(c->authority);
    free(c->path);
    if (c->token) {
        OPENSSL_cleanse(c->token, strlen(c->token));
        free(c->token);
    }
    free(c->cacert);
    free(c);
}

int cli_rpc_set_credentials(cli_rpc *c, const char *token_file, const char *cacert,
                            cli_error *err)
{
    if (cacert) {
        if (access(cacert, R_OK) != 0)
            return cli_fail(err, CLI_EXIT_USAGE, "--cacert %s: %s", cacert, strerror(errno));
        if ((c->cacert = strdup(cacert)) == NULL)
            return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    }
    if (token_file == NULL)
        return CLI_EXIT_OK;
    FILE *f = fopen(token_file, "r");
    if (f == NULL)
        return cli_fail(err, CLI_EXIT_USAGE, "--token-file %s: %s", token_file, strerror(errno));
    struct stat st;
    char line[512];
    int ok = fstat(fileno(f), &st) == 0 && fgets(line, sizeof line, f) != NULL;
    fclose(f);
    if (!ok)
        return cli_fail(err, CLI_EXIT_USAGE, "--token-file %s: empty", token_file);
    if (st.st_mode & 0007) {
        OPENSSL_cleanse(line, sizeof line);
        return cli_fail(err, CLI_EXIT_USAGE,
                        "--token-file %s: readable by every user (mode %03o): chmod 600 it",
                        token_file, (unsigned)(st.st_mode & 0777));
    }
    size_t n = strcspn(line, "\r\n");
    line[n] = '\0';
    int printable = n >= 16 && n <= 256;
    for (size_t i = 0; printable && i < n; i++)
        printable = (unsigned char)line[i] > 0x20 && (unsigned char)line[i] < 0x7f;
    if (!printable) {
        OPENSSL_cleanse(line, sizeof line);
        return cli_fail(err, CLI_EXIT_USAGE,
                        "--token-file %s: the first line must be the token (16..256 printable "
                        "characters, no spaces)",
                        token_file);
    }
    c->token = strdup(line);
    OPENSSL_cleanse(line, sizeof line);
    return c->token ? CLI_EXIT_OK : cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
}

const char *cli_rpc_url(const cli_rpc *c)
{
    return c->url;
}

int cli_rpc_exit_code(long code)
{
    switch (code) {
    case 1001:
        return CLI_EXIT_NOTFOUND;
    case 1002:
    case 1003:
    case 1006:
        return CLI_EXIT_REJECTED;
    case -32602:
        return CLI_EXIT_USAGE;
    default:
        return CLI_EXIT_UNAVAILABLE;
    }
}

/* ---- response reader ---------------------------------------------------- */

typedef struct {
    const cli_rpc *c;
    cli_conn *k;
    int64_t deadline;
    int wait_ms;     /* for the timeout message */
    char *buf;       /* window of CLI_WINDOW bytes */
    size_t pos, len; /* unconsumed bytes are buf[pos..len) */
} reader;

typedef struct {
    char *p;
    size_t len, cap;
} dbuf;

/* Read more bytes into the window (compacting it first): 1 when some
 * arrived, 0 at the end of the stream, -1 with err filled on an error or
 * when the deadline passed. */
static int rd_fill(reader *r, cli_error *err)
{
    if (r->pos == r->len) {
        r->pos = r->len = 0;
    } else if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->len == CLI_WINDOW) {
        cli_fail(err, CLI_EXIT_UNAVAILABLE, "response from %s: line too long", r->c->url);
        return -1;
    }
    {
        ssize_t n = cli_conn_read(r->k, r->buf + r->len, CLI_WINDOW - r->len, r->deadline);
        if (n > 0) {
            r->len += (size_t)n;
            return 1;
        }
        if (n == 0)
            return 0;
        if (errno == ETIMEDOUT)
            cli_fail(err, CLI_EXIT_UNAVAILABLE, "no response from %s within %d ms", r->c->url,
                     r->wait_ms);
        else
            cli_fail(err, CLI_EXIT_UNAVAILABLE, "reading the response from %s failed: %s",
                     r->c->url, strerror(errno));
        return -1;
    }
}

static int closed_early(reader *r, cli_error *err)
{
    return cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s closed the connection in the middle of the "
                    "response", r->c->url);
}

/* One line without its CR LF (or bare LF) into out (cap bytes, NUL ended);
 * *used grows by the line's length, which must stay within max_total. */
static int rd_line(reader *r, char *out, size_t cap, size_t *used, size_t max_total,
                   cli_error *err)
{
    for (;;) {
        char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
        if (nl) {
            size_t n = (size_t)(nl - (r->buf + r->pos));
            size_t keep = n > 0 && r->buf[r->pos + n - 1] == '\r' ? n - 1 : n;
            *used += n + 1;
            if (keep >= cap || *used > max_total)
                return cli_fail(err, CLI_EXIT_UNAVAILABLE, "response from %s: header too long",
                                r->c->url);
            memcpy(out, r->buf + r->pos, keep);
            out[keep] = '\0';
            r->pos += n + 1;
            return CLI_EXIT_OK;
        }
        if (r->len - r->pos >= cap)
            return cli_fail(err, CLI_EXIT_UNAVAILABLE, "response from %s: header too long",
                            r->c->url);
        int f = rd_fill(r, err);
        if (f < 0)
            return err->exit;
        if (f == 0)
            return closed_early(r, err);
    }
}

static int dbuf_reserve(dbuf *b, size_t more, const cli_rpc *c, cli_error *err)
{
    if (more > CLI_RPC_MAX_BODY - b->len)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "response from %s is larger than %zu MiB",
                        c->url, CLI_RPC_MAX_BODY >> 20);
    size_t need = b->len + more + 1;
    if (need <= b->cap)
        return CLI_EXIT_OK;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    if (cap > CLI_RPC_MAX_BODY + 1)
        cap = CLI_RPC_MAX_BODY + 1;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    b->p = p;
    b->cap = cap;
    return CLI_EXIT_OK;
}

/* Move exactly n body bytes from the stream into b. */
static int body_take(reader *r, dbuf *b, size_t n, cli_error *err)
{
    int rc = dbuf_reserve(b, n, r->c, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    while (n > 0) {
        if (r->pos == r->len) {
            int f = rd_fill(r, err);
            if (f < 0)
                return err->exit;
            if (f == 0)
                return closed_early(r, err);
        }
        size_t k = r->len - r->pos < n ? r->len - r->pos : n;
        memcpy(b->p + b->len, r->buf + r->pos, k);
        b->len += k;
        r->pos += k;
        n -= k;
    }
    return CLI_EXIT_OK;
}

static int body_to_eof(reader *r, dbuf *b, cli_error *err)
{
    for (;;) {
        size_t k = r->len - r->pos;
        int rc = dbuf_reserve(b, k, r->c, err);
        if (rc != CLI_EXIT_OK)
            return rc;
        memcpy(b->p + b->len, r->buf + r->pos, k);
        b->len += k;
        r->pos = r->len;
        int f = rd_fill(r, err);
        if (f < 0)
            return err->exit;
        if (f == 0)
            return CLI_EXIT_OK;
    }
}

static int body_chunked(reader *r, dbuf *b, cli_error *err)
{
    char line[CLI_LINE_MAX];
    for (;;) {
        size_t used = 0;
        int rc = rd_line(r, line, sizeof line, &used, CLI_LINE_MAX, err);
        if (rc != CLI_EXIT_OK)
            return rc;
        size_t size = 0, digits = 0;
        const char *p = line;
        for (; *p; p++, digits++) {
            int v;
            if (*p >= '0' && *p <= '9')
                v = *p - '0';
            else if (*p >= 'a' && *p <= 'f')
                v = *p - 'a' + 10;
            else if (*p >= 'A' && *p <= 'F')
                v = *p - 'A' + 10;
            else
                break;
            if (size > (CLI_RPC_MAX_BODY >> 4))
                return cli_fail(err, CLI_EXIT_UNAVAILABLE,
                                "response from %s is larger than %zu MiB", r->c->url,
                                CLI_RPC_MAX_BODY >> 20);
            size = size * 16 + (size_t)v;
        }
        if (digits == 0 || (*p != '\0' && *p != ';' && *p != ' ' && *p != '\t'))
            return cli_fail(err, CLI_EXIT_UNAVAILABLE, "response from %s: malformed chunk size",
                            r->c->url);
        if (size == 0) {
            size_t tused = 0;
            do { /* trailer fields, ignored */
                rc = rd_line(r, line, sizeof line, &tused, CLI_RPC_MAX_HEAD, err);
                if (rc != CLI_EXIT_OK)
                    return rc;
            } while (line[0] != '\0');
            return CLI_EXIT_OK;
        }
        rc = body_take(r, b, size, err);
        if (rc != CLI_EXIT_OK)
            return rc;
        used = 0;
        rc = rd_line(r, line, sizeof line, &used, CLI_LINE_MAX, err);
        if (rc != CLI_EXIT_OK)
            return rc;
        if (line[0] != '\0')
            return cli_fail(err, CLI_EXIT_UNAVAILABLE, "response from %s: malformed chunk",
                            r->c->url);
    }
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* Status line and headers; skips interim 1xx responses. */
static int read_head(reader *r, int *status, char *reason, size_t reason_cap, int *chunked,
                     long long *clen, cli_error *err)
{
    char line[CLI_LINE_MAX];
    size_t used = 0;
    for (;;) {
        *chunked = 0;
        *clen = -1;
        int rc = rd_line(r, line, sizeof line, &used, CLI_RPC_MAX_HEAD, err);
        if (rc != CLI_EXIT_OK)
            return rc;
        int minor, code, off = 0;
        if (sscanf(line, "HTTP/1.%1d %3d%n", &minor, &code, &off) != 2 || off != 12 ||
            code < 100 || code > 599 || (line[12] != '\0' && line[12] != ' '))
            return cli_fail(err, CLI_EXIT_UNAVAILABLE,
                            "%s did not answer with HTTP/1.x (is it a PermitChain node?)",
                            r->c->url);
        cli_clean_text(reason, reason_cap, trim(line + 12));
        *status = code;
        for (;;) {
            rc = rd_line(r, line, sizeof line, &used, CLI_RPC_MAX_HEAD, err);
            if (rc != CLI_EXIT_OK)
                return rc;
            if (line[0] == '\0')
                break;
            char *colon = strchr(line, ':');
            if (colon == NULL)
                return cli_fail(err, CLI_EXIT_UNAVAILABLE, "response from %s: malformed header",
                                r->c->url);
            *colon = '\0';
            char *name = line, *val = trim(colon + 1);
            if (strcasecmp(name, "Content-Length") == 0) {
                long long v = 0;
                if (*val == '\0')
                    goto bad_length;
                for (const char *p = val; *p; p++) {
                    if (*p < '0' || *p > '9' || v > (long long)CLI_RPC_MAX_BODY)
                        goto bad_length;
                    v = v * 10 + (*p - '0');
                }
                if (*clen >= 0 && *clen != v)
                    goto bad_length;
                *clen = v;
            } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
                size_t n = strlen(val);
                if (n < 7 || strcasecmp(val + n - 7, "chunked") != 0)
                    return cli_fail(err, CLI_EXIT_UNAVAILABLE,
                                    "response from %s: unsupported transfer encoding",
                                    r->c->url);
                *chunked = 1;
            }
        }
        if (code >= 200)
            return CLI_EXIT_OK;
    }
bad_length:
    return cli_fail(err, CLI_EXIT_UNAVAILABLE, "response from %s: bad Content-Length",
                    r->c->url);
}

/* ---- JSON-RPC ----------------------------------------------------------- */

static const char *data_str(json_t *data, const char *key)
{
    json_t *v = json_is_object(data) ? json_object_get(data, key) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int rule_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return 0;
    return 1;
}

static int hex64_ok(const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return 0;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* Turn a JSON-RPC error object into err. */
static int rpc_error(cli_error *err, const char *method, json_t *e)
{
    json_t *jc = json_object_get(e, "code");
    json_t *jm = json_object_get(e, "message");
    json_t *data = json_object_get(e, "data");
    long code = json_is_integer(jc) ? (long)json_integer_value(jc) : -32603;
    char msg[600], param[80];
    cli_clean_text(msg, sizeof msg, json_is_string(jm) ? json_string_value(jm) : "(no message)");
    const char *rule = data_str(data, "rule");
    const char *tx = data_str(data, "tx_id");
    if (!rule_name_ok(rule))
        rule = NULL;
    if (!hex64_ok(tx))
        tx = NULL;
    int ex = cli_rpc_exit_code(code);
    switch (code) {
    case 1001:
        cli_fail(err, ex, cli_zh() ? "未找到：%s" : "not found: %s", msg);
        break;
    case 1002:
    case 1003:
    case 1006:
        if (rule && cli_zh())
            cli_fail(err, ex, "被拒绝（规则 %s%s%s）：%s", rule, cli_rule_words(rule) ? "：" : "",
                     cli_rule_words(rule) ? cli_rule_words(rule) : "", msg);
        else if (rule)
            cli_fail(err, ex, "rejected (rule %s): %s", rule, msg);
        else
            cli_fail(err, ex, cli_zh() ? "被拒绝：%s" : "rejected: %s", msg);
        break;
    case 1004:
        cli_fail(err, ex,
                 cli_zh() ? "节点的待处理交易已满（%s），请稍后再试"
                          : "the node's mempool is full (%s); try again later",
                 msg);
        break;
    case 1005:
        if (tx)
            cli_fail(err, ex,
                     cli_zh() ? "超时前尚未上链（交易 %s）；它仍可能上链：用 `permit tx %s` 查看"
                              : "not committed before the timeout (tx %s); it may still "
                                "commit: check with `permit tx %s`",
                     tx, tx);
        else
            cli_fail(err, ex, cli_zh() ? "超时前尚未上链：%s" : "not committed before the timeout: %s",
                     msg);
        break;
    case -32602:
        cli_clean_text(param, sizeof param, data_str(data, "param") ? data_str(data, "param")
                                                                   : "");
        if (param[0])
            cli_fail(err, ex, "the node refused the parameters of %s (param %s): %s", method,
                     param, msg);
        else
            cli_fail(err, ex, "the node refused the parameters of %s: %s", method, msg);
        break;
    case -32601:
        cli_fail(err, ex, "the node does not know the method %s (an older node?): %s", method,
                 msg);
        break;
    case -32000:
        cli_fail(err, ex, "node internal error: %s", msg);
        break;
    default:
        cli_fail(err, ex, "node error %ld: %s", code, msg);
        break;
    }
    err->rpc_code = code;
    if (rule)
        snprintf(err->rule, sizeof err->rule, "%s", rule);
    if (tx)
        snprintf(err->tx_id, sizeof err->tx_id, "%s", tx);
    return ex;
}

/* Interpret a parsed response to request `id`. */
static int rpc_response(const cli_rpc *c, const char *method, long id, json_t *resp,
                        json_t **result, cli_error *err)
{
    json_t *ver = json_object_get(resp, "jsonrpc");
    if (!json_is_object(resp) || !json_is_string(ver) ||
        strcmp(json_string_value(ver), "2.0") != 0)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s answered something that is not a "
                        "JSON-RPC 2.0 response", c->url);
    json_t *e = json_object_get(resp, "error");
    json_t *jid = json_object_get(resp, "id");
    if (json_is_object(e)) {
        if (!json_is_null(jid) && !(json_is_integer(jid) && json_integer_value(jid) == id))
            return cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s answered another request", c->url);
        return rpc_error(err, method, e);
    }
    if (!json_is_integer(jid) || json_integer_value(jid) != id)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s answered another request", c->url);
    json_t *r = json_object_get(resp, "result");
    if (r == NULL)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s answered without a result", c->url);
    *result = json_incref(r);
    return CLI_EXIT_OK;
}

int cli_rpc_call(cli_rpc *c, const char *method, json_t *params, int extra_ms,
                 json_t **result, cli_error *err)
{
    *result = NULL;
    long id = c->next_id++;
    int rc;
    cli_conn k = {.fd = -1};
    cli_conn_target t = {.url = c->url, .host = c->host, .port = c->port,
                         .cacert = c->cacert, .timeout_ms = c->timeout_ms};
    char *req = NULL, *body = NULL;
    reader r;
    dbuf b = {NULL, 0, 0};
    json_t *resp = NULL;
    memset(&r, 0, sizeof r);

    json_t *o = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", (json_int_t)id, "method",
                          method);
    if (o && params)
        json_object_set(o, "params", params);
    body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (body == NULL) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
        goto out;
    }
    size_t blen = strlen(body);
    size_t cap = blen + strlen(c->path) + strlen(c->authority) +
                 (c->token ? strlen(c->token) : 0) + 320;
    req = malloc(cap);
    if (req == NULL) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
        goto out;
    }
    int hlen = snprintf(req, cap,
                        "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: permit/%s\r\n"
                        "Content-Type: application/json\r\nAccept: application/json\r\n"
                        "%s%s%sContent-Length: %zu\r\nConnection: close\r\n\r\n",
                        c->path, c->authority, PERMIT_VERSION,
                        c->token ? "Authorization: Bearer " : "", c->token ? c->token : "",
                        c->token ? "\r\n" : "", blen);
    memcpy(req + hlen, body, blen);

    int64_t connect_by = cli_conn_mono_ms() + c->timeout_ms;
    rc = cli_conn_dial(&t, connect_by, &k.fd, err);
    if (rc == CLI_EXIT_OK && c->tls)
        rc = cli_conn_tls(&t, &k, connect_by, err);
    if (rc != CLI_EXIT_OK)
        goto out;
    if (extra_ms < 0)
        extra_ms = 0;
    r.c = c;
    r.k = &k;
    r.wait_ms = c->timeout_ms + extra_ms;
    r.deadline = cli_conn_mono_ms() + r.wait_ms;
    rc = cli_conn_send_all(&t, &k, req, (size_t)hlen + blen, r.deadline, err);
    if (rc != CLI_EXIT_OK)
        goto out;
    r.buf = malloc(CLI_WINDOW);
    if (r.buf == NULL) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
        goto out;
    }
    int status, chunked;
    long long clen;
    char reason[64];
    rc = read_head(&r, &status, reason, sizeof reason, &chunked, &clen, err);
    if (rc != CLI_EXIT_OK)
        goto out;
    if (chunked)
        rc = body_chunked(&r, &b, err);
    else if (clen >= 0)
        rc = body_take(&r, &b, (size_t)clen, err);
    else
        rc = body_to_eof(&r, &b, err);
    if (rc != CLI_EXIT_OK)
        goto out;
    json_error_t je;
    resp = json_loadb(b.p ? b.p : "", b.len, 0, &je);
    if (status == 401) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s refused the request (HTTP 401): %s",
                      c->url,
                      c->token ? "the node does not know this token"
                               : "it needs a bearer token (--token-file FILE)");
        goto out;
    }
    if (status != 200 && !(json_is_object(resp) && json_is_object(json_object_get(resp, "error")))) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s answered HTTP %d %s", c->url, status, reason);
        goto out;
    }
    if (resp == NULL) {
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s answered with invalid JSON (line %d: %.100s)",
                      c->url, je.line, je.text);
        goto out;
    }
    rc = rpc_response(c, method, id, resp, result, err);
out:
    cli_conn_close(&k);
    json_decref(resp);
    free(r.buf);
    free(b.p);
    free(req);
    free(body);
    return rc;
}

/* ---- GET /events: a body read line by line as it arrives ----------------- */

struct cli_stream {
    cli_conn k;
    reader r;
    cli_conn_target t;
};

int cli_rpc_stream_open(cli_rpc *c, const char *path, const char *last_id, cli_stream **out,
                        cli_error *err)
{
    *out = NULL;
    /* the events live beside the RPC path: /rpc -> /events, /x/rpc -> /x/events */
    size_t pl = strlen(c->path);
    size_t keep = pl >= 4 && strcmp(c->path + pl - 4, "/rpc") == 0 ? pl - 4 : pl;
    if (keep > 0 && c->path[keep - 1] == '/')
        keep--;
    if (last_id && strlen(last_id) > 256)
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "event id too long");
    cli_stream *s = calloc(1, sizeof *s);
    size_t cap = keep + strlen(path) + strlen(c->authority) + (c->token ? strlen(c->token) : 0) +
                 (last_id ? strlen(last_id) : 0) + 320;
    char *req = malloc(cap);
    if (s == NULL || req == NULL) {
        free(s);
        free(req);
        return cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    }
    s->k.fd = -1;
    s->t = (cli_conn_target){.url = c->url, .host = c->host, .port = c->port,
                             .cacert = c->cacert, .timeout_ms = c->timeout_ms};
    /* HTTP/1.0: the body is the stream itself, up to the close (no chunks) */
    int hlen = snprintf(req, cap,
                        "GET %.*s%s HTTP/1.0\r\nHost: %s\r\nUser-Agent: permit/%s\r\n"
                        "Accept: text/event-stream\r\n%s%s%s%s%s%s\r\n",
                        (int)keep, c->path, path, c->authority, PERMIT_VERSION,
                        c->token ? "Authorization: Bearer " : "", c->token ? c->token : "",
                        c->token ? "\r\n" : "", last_id ? "Last-Event-ID: " : "",
                        last_id ? last_id : "", last_id ? "\r\n" : "");
    int64_t connect_by = cli_conn_mono_ms() + c->timeout_ms;
    int rc = cli_conn_dial(&s->t, connect_by, &s->k.fd, err);
    if (rc == CLI_EXIT_OK && c->tls)
        rc = cli_conn_tls(&s->t, &s->k, connect_by, err);
    s->r.c = c;
    s->r.k = &s->k;
    s->r.wait_ms = c->timeout_ms;
    s->r.deadline = cli_conn_mono_ms() + c->timeout_ms;
    if (rc == CLI_EXIT_OK)
        rc = cli_conn_send_all(&s->t, &s->k, req, (size_t)hlen, s->r.deadline, err);
    free(req);
    if (rc == CLI_EXIT_OK && (s->r.buf = malloc(CLI_WINDOW)) == NULL)
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "out of memory");
    int status = 0, chunked;
    long long clen;
    char reason[256];
    if (rc == CLI_EXIT_OK)
        rc = read_head(&s->r, &status, reason, sizeof reason, &chunked, &clen, err);
    if (rc == CLI_EXIT_OK && status != 200) {
        if (status == 401)
            rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s refused the stream (HTTP 401): %s",
                          c->url, c->token ? "the node does not know this token"
                                           : "it needs a bearer token (--token-file FILE)");
        else
            rc = cli_fail(err, status == 400 ? CLI_EXIT_USAGE : CLI_EXIT_UNAVAILABLE,
                          "%s answered HTTP %d: %s", c->url, status, reason);
    }
    if (rc == CLI_EXIT_OK && chunked)
        rc = cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s answered the stream in chunks", c->url);
    if (rc != CLI_EXIT_OK) {
        cli_stream_free(s);
        return rc;
    }
    *out = s;
    return CLI_EXIT_OK;
}

int cli_stream_line(cli_stream *s, char *out, size_t cap, int idle_ms, cli_error *err)
{
    reader *r = &s->r;
    r->wait_ms = idle_ms;
    r->deadline = cli_conn_mono_ms() + idle_ms;
    for (;;) {
        char *nl = memchr(r->buf + r->pos, '\n', r->len - r->pos);
        if (nl) {
            size_t n = (size_t)(nl - (r->buf + r->pos));
            size_t keep = n > 0 && r->buf[r->pos + n - 1] == '\r' ? n - 1 : n;
            if (keep >= cap) {
                cli_fail(err, CLI_EXIT_UNAVAILABLE, "%s: a line of the stream is too long",
                         r->c->url);
                return -1;
            }
            memcpy(out, r->buf + r->pos, keep);
            out[keep] = '\0';
            r->pos += n + 1;
            return 1;
        }
        int f = rd_fill(r, err);
        if (f <= 0)
            return f;
        r->deadline = cli_conn_mono_ms() + idle_ms;
    }
}

void cli_stream_free(cli_stream *s)
{
    if (s == NULL)
        return;
    cli_conn_close(&s->k);
    free(s->r.buf);
    free(s);
}
