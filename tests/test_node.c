/* permitd as a process: the license lifecycle through raw JSON-RPC. */
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "nodetest.h"

static void test_lifecycle_over_rpc(void **state)
{
    (void)state;
    nt_node nd;
    nt_init(&nd, NULL);
    nt_start(&nd, NULL);
    json_t *r = nt_rpc(nd.port, "status", NULL);
    assert_non_null(r);
    json_t *res = json_object_get(r, "result");
    assert_string_equal(json_string_value(json_object_get(res, "chain_id")), "permit-test");
    json_decref(r);

    size_t len;
    uint8_t *tx = lt_apply(&nd.env, "91350100M000100Y43", "convenience-store", 0, &len);
    r = nt_submit(nd.port, tx, len, "commit");
    free(tx);
    assert_non_null(r);
    if (nt_error_code(r))
        fail_msg("%s", json_dumps(r, 0));
    res = json_object_get(r, "result");
    const char *id = json_string_value(json_object_get(res, "license_id"));
    assert_non_null(id);
    char lid[80];
    snprintf(lid, sizeof lid, "%s", id);
    assert_string_equal(json_string_value(json_object_get(res, "status")), "committed");
    json_decref(r);

    tx = lt_decision(&nd.env, lt_dept(&nd.env, LT_MARKET), 2, lid, NULL, 0, NULL, &len);
    r = nt_submit(nd.port, tx, len, "commit");
    free(tx);
    assert_int_equal(nt_error_code(r), 0);
    json_decref(r);
    tx = lt_decision(&nd.env, lt_dept(&nd.env, LT_FIRE), 2, lid, NULL, 0, NULL, &len);
    r = nt_submit(nd.port, tx, len, "commit");
    free(tx);
    assert_int_equal(nt_error_code(r), 1006);
    assert_string_equal(nt_error_rule(r), "department_not_owner");
    json_decref(r);
    tx = lt_decision(&nd.env, lt_dept(&nd.env, LT_TOBACCO), 2, lid, NULL, 0, NULL, &len);
    r = nt_submit(nd.port, tx, len, "commit");
    free(tx);
    assert_int_equal(nt_error_code(r), 0);
    json_decref(r);

    json_t *p = json_pack("{s:s}", "id", lid);
    r = nt_rpc(nd.port, "license.get", p);
    res = json_object_get(r, "result");
    assert_string_equal(json_string_value(json_object_get(res, "status")), "ISSUED");
    assert_string_equal(json_string_value(json_object_get(res, "name")), "常州新北便利超市有限公司");
    json_decref(r);
    r = nt_rpc(nd.port, "license.history", p);
    res = json_object_get(r, "result");
    assert_int_equal(json_array_size(json_object_get(res, "events")), 3);
    json_decref(r);
    json_decref(p);

    int wst = nt_signal_wait(&nd, SIGTERM);
    assert_true(WIFEXITED(wst));
    assert_int_equal(WEXITSTATUS(wst), 0);
    nt_cleanup(&nd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle_over_rpc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
