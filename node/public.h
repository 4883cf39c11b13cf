/* node/public.h: the public site (DESIGN §12, docs/operations.md "The
 * public site"): a read-only HTTP server on public_listen (off by default),
 * in Chinese, for the public and inspectors who scan a license's QR code.
 *
 *   GET /                 the search form; /?q=ID goes to that license,
 *                         /?q=USCC lists the licenses of that business
 *   GET /l/<id>           the electronic license (电子证照): every field,
 *                         its QR code (inline SVG), an A4 print layout
 *   GET /l/<id>/bundle    the license's proof bundle (license.proof's bytes)
 *   GET /genesis.json     the genesis file, byte for byte
 *   GET /verifier.js, /verifier.wasm, /page.js
 *                         the browser verifier (wasm/) and the page's
 *                         script, from public_web_dir, read at start
 *
 * GET and HEAD only (405 otherwise); the request line is bounded
 * (PUBLIC_MAX_URI, 414 beyond), headers too, no body is read.  Every answer
 * carries a strict Content-Security-Policy (nothing from elsewhere; no
 * inline script: the license page runs the site's own page.js and
 * verifier, and may compile WebAssembly, 'wasm-unsafe-eval'; the one style
 * sheet inline with a per-answer nonce) and
 * X-Content-Type-Options: nosniff; every field is HTML-escaped.  The pages
 * are made on the site's own worker threads (public_page.c), never on the
 * event loop, and read only committed data. */
#ifndef PERMIT_NODE_PUBLIC_H
#define PERMIT_NODE_PUBLIC_H

#include <stddef.h>
#include <stdint.h>

#include "ledger/err.h"
#include "ledger/genesis.h"
#include "ledger/ledger.h"

typedef struct node node;

#define PUBLIC_MAX_URI 512       /* request target, bytes */
#define PUBLIC_MAX_QUERY 64      /* the search term, bytes once decoded */
#define PUBLIC_MAX_BASE_URL 400  /* public_url */
#define PUBLIC_MAX_LIST 100      /* licenses listed for one USCC */

/* ---- the server (public.c; loop thread) ---- */

/* Start serving on cfg.public_listen; 0 and nothing started when it is
 * empty.  -1 with err when the address, public_url or genesis file is bad,
 * or the port cannot be bound. */
int node_public_start(node *n, ledger_err *err);
/* No new requests; the pages being made are finished and answered. */
void node_public_stop(node *n);
/* Close the server and every connection, after node_public_stop and a run
 * of the loop's posts (the answers of the last pages); safe when the site
 * is off or half started. */
void node_public_free(node *n);

/* ---- the pages (public_page.c; any thread, reads only) ---- */

#define PUBLIC_MAX_ASSET (8u << 20) /* a file of public_web_dir, bytes */

/* The files of the browser verifier, in this order. */
enum { PUBLIC_VERIFIER_JS, PUBLIC_VERIFIER_WASM, PUBLIC_PAGE_JS, PUBLIC_N_ASSETS };

typedef struct {
    const uint8_t *bytes;        /* NULL when the file was not there */
    size_t len;
} public_asset;

typedef struct {
    ledger *L;
    const ledger_genesis *g;
    public_asset assets[PUBLIC_N_ASSETS];
    int verifier;                /* every asset is there: pages verify in the browser */
    const char *base_url;        /* without a trailing '/', e.g. "https://zz.example.gov.cn" */
    const uint8_t *genesis;      /* the genesis file's bytes */
    size_t genesis_len;
} public_site;

typedef struct {
    int status;                  /* HTTP status */
    const char *type;            /* Content-Type */
    char *body;                  /* malloc'd (may be NULL when len is 0) */
    size_t len;
    char location[96];           /* a redirect's target, or "" */
    char filename[96];           /* Content-Disposition attachment name, or "" */
    int scripts;                 /* the page runs the site's scripts (the policy allows them) */
} public_reply;

/* Name and Content-Type of asset i, and its path on the site. */
const char *node_public_asset_file(int i);
const char *node_public_asset_type(int i);

/* The answer to GET `path` with search term q (decoded, NULL when absent)
 * for a page whose inline style carries `nonce`.  Never fails on input: an
 * unknown path or license is 404, a read error 500.  -1 only when memory ran
 * out (out is then cleared). */
int node_public_render(const public_site *s, const char *path, const char *q, const char *nonce,
                       public_reply *out);
void node_public_reply_clear(public_reply *r);

/* Append s to the buffer HTML-escaped (& < > " '); exposed for tests. */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} public_buf;
void node_public_buf_escaped(public_buf *b, const char *s);

/* The QR code of `text` as an inline SVG element (libqrencode, error
 * correction M, a quiet zone of four modules), appended to b; -1 when the
 * text cannot be encoded.  *width gets the number of modules a side. */
int node_public_qr_svg(public_buf *b, const char *text, int *width);

#endif
