/* node/rpc_auth.c: HTTPS and bearer tokens for the JSON-RPC server
 * (rpc_auth.h). */
#include "rpc_auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

typedef struct {
    char name[65];
    rpc_role role;
    size_t len;
    char token[RPC_AUTH_TOKEN_MAX + 1];
} token_entry;

struct rpc_auth {
    SSL_CTX *tls;
    token_entry *tokens;
    size_t n_tokens;
    int required;
};

int node_rpc_is_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0)
        return 1;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

/* path as configured, relative to DIR/config */
static int resolve(const node_config *cfg, const char *opt, const char *path, char *out,
                   size_t cap, ledger_err *err)
{
    int k = path[0] == '/' ? snprintf(out, cap, "%s", path)
                           : snprintf(out, cap, "%s/config/%s", cfg->home, path);
    if (k < 0 || (size_t)k >= cap)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s: path too long", opt);
    return 0;
}

/* A secret file must not be open to everyone. */
static int private_file(const char *what, const char *path, ledger_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "%s %s: %s", what, path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s %s: not a regular file", what,
                           path);
    if (st.st_mode & 0007)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "%s %s: readable or writable by every user (mode %03o): chmod 600 it",
                           what, path, (unsigned)(st.st_mode & 0777));
    return 0;
}

static int token_char(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

static int load_tokens(rpc_auth *a, const char *path, ledger_err *err)
{
    if (private_file("rpc_tokens", path, err) != 0)
        return -1;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return ledger_fail(err, LEDGER_ERR_IO, NULL, "rpc_tokens %s: %s", path, strerror(errno));
    a->tokens = calloc(RPC_AUTH_MAX_TOKENS, sizeof *a->tokens);
    if (a->tokens == NULL) {
        fclose(f);
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory");
    }
    char line[512];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL, "rpc_tokens %s:%d: line too long",
                             path, lineno);
            break;
        }
        char *save = NULL, *name = strtok_r(line, " \t\r\n", &save);
        if (name == NULL || name[0] == '#')
            continue;
        char *role = strtok_r(NULL, " \t\r\n", &save), *tok = strtok_r(NULL, " \t\r\n", &save);
        if (role == NULL || tok == NULL || strtok_r(NULL, " \t\r\n", &save) != NULL) {
            rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                             "rpc_tokens %s:%d: expected \"name role token\"", path, lineno);
            break;
        }
        size_t nl = strlen(name), tl = strlen(tok);
        int name_ok = nl > 0 && nl < sizeof a->tokens[0].name;
        for (size_t i = 0; name_ok && i < nl; i++)
            name_ok = token_char((unsigned char)name[i]);
        int tok_ok = tl >= RPC_AUTH_TOKEN_MIN && tl <= RPC_AUTH_TOKEN_MAX;
        for (size_t i = 0; tok_ok && i < tl; i++)
            tok_ok = token_char((unsigned char)tok[i]);
        rpc_role r = strcmp(role, "read") == 0     ? RPC_ROLE_READ
                     : strcmp(role, "submit") == 0 ? RPC_ROLE_SUBMIT
                                                   : RPC_ROLE_NONE;
        if (!name_ok)
            rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                             "rpc_tokens %s:%d: a name is 1..64 characters", path, lineno);
        else if (r == RPC_ROLE_NONE)
            rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                             "rpc_tokens %s:%d: role \"%.32s\" is not read or submit", path,
                             lineno, role);
        else if (!tok_ok)
            rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                             "rpc_tokens %s:%d: a token is %d..%d printable characters", path,
                             lineno, RPC_AUTH_TOKEN_MIN, RPC_AUTH_TOKEN_MAX);
        else if (a->n_tokens == RPC_AUTH_MAX_TOKENS)
            rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL, "rpc_tokens %s: more than %d tokens",
                             path, RPC_AUTH_MAX_TOKENS);
        for (size_t i = 0; rc == 0 && i < a->n_tokens; i++)
            if (a->tokens[i].len == tl && memcmp(a->tokens[i].token, tok, tl) == 0)
                rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                                 "rpc_tokens %s:%d: the token of \"%s\" is given twice", path,
                                 lineno, a->tokens[i].name);
        if (rc != 0)
            break;
        token_entry *e = &a->tokens[a->n_tokens++];
        memcpy(e->name, name, nl + 1);
        memcpy(e->token, tok, tl + 1);
        e->len = tl;
        e->role = r;
    }
    OPENSSL_cleanse(line, sizeof line);
    fclose(f);
    if (rc == 0 && a->n_tokens == 0)
        rc = ledger_fail(err, LEDGER_ERR_INVALID, NULL, "rpc_tokens %s: no tokens", path);
    return rc;
}

static int load_tls(rpc_auth *a, const char *cert, const char *key, ledger_err *err)
{
    if (private_file("rpc_tls_key", key, err) != 0)
        return -1;
    a->tls = SSL_CTX_new(TLS_server_method());
    if (a->tls == NULL || !SSL_CTX_set_min_proto_version(a->tls, TLS1_2_VERSION))
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "rpc: cannot set up TLS");
    const char *what = NULL;
    if (SSL_CTX_use_certificate_chain_file(a->tls, cert) != 1)
        what = "rpc_tls_cert";
    else if (SSL_CTX_use_PrivateKey_file(a->tls, key, SSL_FILETYPE_PEM) != 1)
        what = "rpc_tls_key";
    else if (SSL_CTX_check_private_key(a->tls) != 1)
        what = "rpc_tls_key (not the key of rpc_tls_cert)";
    if (what) {
        unsigned long e = ERR_peek_last_error();
        const char *why = e ? ERR_reason_error_string(e) : NULL;
        ERR_clear_error();
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL, "%s: cannot use %s: %s", what,
                           strncmp(what, "rpc_tls_cert", 12) == 0 ? cert : key,
                           why ? why : "not a PEM file");
    }
    SSL_CTX_set_options(a->tls, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    return 0;
}

rpc_auth *node_rpc_auth_new(const node_config *cfg, const char *host, ledger_err *err)
{
    int loopback = node_rpc_is_loopback(host);
    int have_cert = cfg->rpc_tls_cert[0] != '\0', have_key = cfg->rpc_tls_key[0] != '\0';
    int have_tokens = cfg->rpc_tokens[0] != '\0';
    if (have_cert != have_key)
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "rpc_tls_cert and rpc_tls_key go together: %s is missing",
                           have_cert ? "rpc_tls_key" : "rpc_tls_cert"),
               NULL;
    if (!loopback && (!have_cert || !have_tokens))
        return ledger_fail(err, LEDGER_ERR_INVALID, NULL,
                           "rpc_listen %s is not a loopback address: it needs %s%s%s (DESIGN "
                           "§7; docs/operations.md, \"Remote RPC\")",
                           cfg->rpc_listen, have_cert ? "" : "rpc_tls_cert and rpc_tls_key",
                           !have_cert && !have_tokens ? " and " : "",
                           have_tokens ? "" : "rpc_tokens"),
               NULL;
    rpc_auth *a = calloc(1, sizeof *a);
    if (a == NULL)
        return ledger_fail(err, LEDGER_ERR_NOMEM, NULL, "out of memory"), NULL;
    char p1[NODE_PATH_MAX], p2[NODE_PATH_MAX];
    if (have_tokens) {
        if (resolve(cfg, "rpc_tokens", cfg->rpc_tokens, p1, sizeof p1, err) != 0 ||
            load_tokens(a, p1, err) != 0)
            goto fail;
        a->required = 1;
    }
    if (have_cert) {
        if (resolve(cfg, "rpc_tls_cert", cfg->rpc_tls_cert, p1, sizeof p1, err) != 0 ||
            resolve(cfg, "rpc_tls_key", cfg->rpc_tls_key, p2, sizeof p2, err) != 0 ||
            load_tls(a, p1, p2, err) != 0)
            goto fail;
    }
    return a;
fail:
    node_rpc_auth_free(a);
    return NULL;
}

void node_rpc_auth_free(rpc_auth *a)
{
    if (a == NULL)
        return;
    if (a->tokens) {
        OPENSSL_cleanse(a->tokens, RPC_AUTH_MAX_TOKENS * sizeof *a->tokens);
        free(a->tokens);
    }
    SSL_CTX_free(a->tls);
    free(a);
}

struct ssl_ctx_st *node_rpc_auth_tls(const rpc_auth *a)
{
    return a ? a->tls : NULL;
}

int node_rpc_auth_required(const rpc_auth *a)
{
    return a && a->required;
}

rpc_role node_rpc_auth_check(const rpc_auth *a, const char *authorization, const char **name)
{
    if (name)
        *name = NULL;
    if (a == NULL || authorization == NULL || strncasecmp(authorization, "Bearer ", 7) != 0)
        return RPC_ROLE_NONE;
    const char *tok = authorization + 7;
    while (*tok == ' ')
        tok++;
    size_t tl = strlen(tok);
    while (tl > 0 && (tok[tl - 1] == ' ' || tok[tl - 1] == '\t'))
        tl--;
    if (tl < RPC_AUTH_TOKEN_MIN || tl > RPC_AUTH_TOKEN_MAX)
        return RPC_ROLE_NONE;
    /* every entry is compared, each in constant time */
    rpc_role role = RPC_ROLE_NONE;
    for (size_t i = 0; i < a->n_tokens; i++) {
        const token_entry *e = &a->tokens[i];
        if (e->len == tl && CRYPTO_memcmp(e->token, tok, tl) == 0) {
            role = e->role;
            if (name)
                *name = e->name;
        }
    }
    return role;
}
