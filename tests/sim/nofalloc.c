/* tests/sim/nofalloc.c: no preallocation of RocksDB files in the simulator.
 *
 * RocksDB reserves room for each new write-ahead log with fallocate()
 * (1.1 times the 64 MB write buffer that ledger/store.c configures).  On
 * tmpfs, where the simulator keeps its databases so that fsync is cheap,
 * that allocates and zeroes real memory, for every node of every seed at
 * every open, and frees it again at close: about a seventh of the run time.
 * Preallocation is only an optimisation: RocksDB ignores a failed fallocate
 * and writes the same bytes.  These definitions in the executable take the
 * place of the C library's (dynamic symbol interposition) for this test
 * program only. */
#include <errno.h>
#include <sys/types.h>

int fallocate(int fd, int mode, off_t offset, off_t len);
int fallocate64(int fd, int mode, off_t offset, off_t len);

int fallocate(int fd, int mode, off_t offset, off_t len)
{
    (void)fd;
    (void)mode;
    (void)offset;
    (void)len;
    errno = EOPNOTSUPP;
    return -1;
}

int fallocate64(int fd, int mode, off_t offset, off_t len)
{
    return fallocate(fd, mode, offset, len);
}
