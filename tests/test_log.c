/* Rate-limited log lines (node/log.h): what anyone who reaches a port can
 * cause is logged at most once a second per call site, and the next line
 * says how many were left out. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "node/log.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_a_rate_limited_site_passes_once_a_second(void **state)
{
    (void)state;
    node_log_rate r = {0};
    uint64_t left = 99;
    assert_true(node_log_rate_pass(&r, &left));
    assert_int_equal(left, 0);
    for (int i = 0; i < 5; i++)
        assert_false(node_log_rate_pass(&r, &left));
    sleep_ms(1050);
    assert_true(node_log_rate_pass(&r, &left));
    assert_int_equal(left, 5);
    assert_false(node_log_rate_pass(&r, &left));
}

static void warn_twice(int i)
{
    LOG_WARN_RATE("site A %d", i);
    LOG_WARN_RATE("site B %d", i);
}

static void test_a_flood_of_warnings_is_one_line_a_second_per_site(void **state)
{
    (void)state;
    char path[] = "/tmp/permit-lograte-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    for (int i = 0; i < 100; i++)
        warn_twice(i);
    sleep_ms(1050);
    warn_twice(100);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char *log = tu_read_file(path, NULL);
    unlink(path);
    assert_non_null(log);
    int lines = 0;
    for (const char *s = log; *s; s++)
        lines += *s == '\n';
    assert_int_equal(lines, 4);
    assert_non_null(strstr(log, "site A 0\n"));
    assert_non_null(strstr(log, "site B 0\n"));
    assert_non_null(strstr(log, "site A 100 (99 similar suppressed)\n"));
    assert_non_null(strstr(log, "site B 100 (99 similar suppressed)\n"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_rate_limited_site_passes_once_a_second),
        cmocka_unit_test(test_a_flood_of_warnings_is_one_line_a_second_per_site),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
