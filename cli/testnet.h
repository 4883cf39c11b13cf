/* cli/testnet.h: generation of a local test network (`permit testnet`).
 *
 * Layout (DESIGN §10):
 *   OUT/genesis.json
 *   OUT/node<i>/config/{permitd.conf, genesis.json, node.key}   i = 0..N-1
 *   OUT/keys/<department>.key   one seal key per catalogue department
 *   OUT/keys/registrar.key      the registrar 政务服务中心1号窗口
 *   OUT/observer/config/{permitd.conf, genesis.json, node.key}   with --observer
 * An observer (DESIGN §6), when asked for, is named in genesis observers; its
 * home listens for RPC on 127.0.0.1:(P + 2N) and serves the public site on
 * 127.0.0.1:(P + 2N + 1).
 * The first N departments of the catalogue run the validators; node i
 * listens for RPC on 127.0.0.1:(P + 2i) and for p2p on 127.0.0.1:(P + 2i + 1).
 * Everything is written into a fresh sibling folder and renamed to OUT at
 * the end, so OUT either appears complete or not at all; an existing OUT is
 * never touched. */
#ifndef PERMIT_CLI_TESTNET_H
#define PERMIT_CLI_TESTNET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

#define CLI_TESTNET_BASE_PORT 8645
#define CLI_TESTNET_REGION "320411"
#define CLI_TESTNET_REGION_NAME "常州市新北区"
#define CLI_TESTNET_REGISTRAR "政务服务中心1号窗口"
#define CLI_TESTNET_REGISTRAR_DEPT "approval"
#define CLI_TESTNET_OBSERVER "公众查询节点"

typedef struct {
    const char *out;          /* folder to create; must not exist */
    unsigned validators;      /* 1 .. number of catalogue departments */
    unsigned base_port;       /* 0: CLI_TESTNET_BASE_PORT */
    const char *catalogue;    /* catalogue file; NULL: the built-in one */
    const char *chain_id;     /* NULL: "permitchain-<region>-dev" */
    const char *region;       /* NULL: CLI_TESTNET_REGION */
    const char *region_name;  /* NULL: CLI_TESTNET_REGION_NAME for 320411, else
                                 "行政区划<region>" */
    uint64_t genesis_time_ms; /* 0: now */
    int observer;             /* also an observer with the public site */
} cli_testnet_opts;

/* Create the network.  On success returns CLI_EXIT_OK and *summary (a new
 * JSON object: chain_id, dir, genesis, region, validators[] {node,
 * department, name, home, rpc, p2p, node_key, seal_key}, keys {dir,
 * registrar, departments {id: path}}, and with an observer observer {name,
 * home, rpc, public, node_key}).  Usage problems (bad options, an
 * existing OUT, a catalogue the genesis rules refuse, named by its JSON
 * path) give CLI_EXIT_USAGE; failures to write give CLI_EXIT_UNAVAILABLE,
 * and nothing is left behind. */
int cli_testnet_create(const cli_testnet_opts *o, json_t **summary, cli_error *err)
    __attribute__((warn_unused_result));

/* The built-in catalogue (JSON text in the format of
 * ../shared/catalogue-example.json: departments[] {id, name}, industries[]
 * as in genesis). */
const char *cli_default_catalogue(void);

/* Parse and check the shape of a catalogue: an object with departments[]
 * (objects of id and name only) and industries[] (checked later by the
 * genesis rules); members starting with '_' are comments.  origin names it
 * in messages.  Returns CLI_EXIT_OK and *out, or CLI_EXIT_USAGE. */
int cli_catalogue_parse(const char *text, size_t len, const char *origin, json_t **out,
                        cli_error *err) __attribute__((warn_unused_result));

#endif
