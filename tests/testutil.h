/* tests/testutil.h: helpers shared by the cmocka tests. */
#ifndef PERMIT_TESTUTIL_H
#define PERMIT_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Folder of ../shared/vectors (PERMIT_VECTORS env var overrides). */
const char *tu_vectors_dir(void);

/* Read a whole file (NUL-terminated, size in *len); NULL when missing. */
char *tu_read_file(const char *path, size_t *len);

/* Create a fresh temporary folder; the returned path is malloc'd. */
char *tu_tmpdir(const char *tag);

/* rm -rf path (only below /tmp). */
void tu_rmrf(const char *path);

/* Decode hex into a fresh buffer (asserts on bad input). */
uint8_t *tu_unhex(const char *hex, size_t *len);

#endif
