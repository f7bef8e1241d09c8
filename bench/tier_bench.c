/*
 * tier_bench: MB/s of put and read per tier kind and io path, and of the
 * CRC32C. Not part of the test run. Usage: tier_bench [total_MiB] [block_MiB]
 * MEM runs in a temp dir under /dev/shm, SSD in a temp dir under /tmp (or
 * $TIER_BENCH_DIR). SSD reads are mostly from the page cache: they measure
 * the store's overhead (verification included), not the device.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/crc32c.h"
#include "tier/tier.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int run(const char *label, const char *parent, enum tier_medium medium,
	       enum tier_io_mode mode, size_t total, size_t block)
{
	char root[512];
	snprintf(root, sizeof(root), "%s/strata-tier-bench-XXXXXX", parent);
	if (!mkdtemp(root)) {
		perror(root);
		return 1;
	}
	struct tier_config cfg = { .nlevels = 1, .io_mode = mode };
	cfg.levels[0].medium = medium;
	cfg.levels[0].ndirs = 1;
	cfg.levels[0].dirs[0].path = root;
	cfg.levels[0].dirs[0].quota = total + block;
	char err[256];
	struct tier_store *store;
	int rc = tier_store_open(&cfg, &store, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", label, err);
		goto out_rm;
	}
	unsigned char *buf = malloc(block);
	if (!buf) {
		rc = 1;
		goto out_close;
	}
	for (size_t i = 0; i < block; i++)
		buf[i] = (unsigned char)(i * 7 + 1);
	size_t nblocks = total / block;
	double t0 = now_s();
	for (size_t i = 0; i < nblocks; i++) {
		rc = tier_block_put(store, i, buf, block, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "%s: put: %s\n", label, err);
			goto out_free;
		}
	}
	double t1 = now_s();
	for (size_t i = 0; i < nblocks; i++) {
		if (tier_block_read(store, i, 0, buf, block) != (ssize_t)block) {
			fprintf(stderr, "%s: read failed\n", label);
			rc = 1;
			goto out_free;
		}
	}
	double t2 = now_s();
	size_t nranges = nblocks * 16, range = 64 * 1024;
	for (size_t i = 0; i < nranges; i++) {
		uint64_t off = (uint64_t)((i * 2654435761u) % (block - range));
		if (tier_block_read(store, i % nblocks, off, buf, range) != (ssize_t)range) {
			fprintf(stderr, "%s: range read failed\n", label);
			rc = 1;
			goto out_free;
		}
	}
	double t3 = now_s();
	double mib = (double)(nblocks * block) / (1 << 20);
	printf("%-22s put %8.0f MB/s   read %8.0f MB/s   64KiB ranges %8.0f MB/s\n", label,
	       mib / (t1 - t0), mib / (t2 - t1),
	       (double)(nranges * range) / (1 << 20) / (t3 - t2));
	rc = 0;
out_free:
	free(buf);
out_close:
	tier_store_close(store);
out_rm:
	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc != 0;
}

int main(int argc, char **argv)
{
	size_t total = (size_t)(argc > 1 ? atoi(argv[1]) : 256) << 20;
	size_t block = (size_t)(argc > 2 ? atoi(argv[2]) : 4) << 20;
	const char *disk = getenv("TIER_BENCH_DIR") ? getenv("TIER_BENCH_DIR") : "/tmp";
	if (block < (128u << 10) || total < block) {
		fprintf(stderr, "usage: tier_bench [total_MiB] [block_MiB >= 1]\n");
		return 2;
	}
	unsigned char *data = malloc(block);
	if (!data)
		return 1;
	memset(data, 0x5a, block);
	double t0 = now_s();
	uint32_t crc = 0;
	for (int i = 0; i < 64; i++)
		crc = crc32c(crc, data, block);
	double t1 = now_s();
	for (int i = 0; i < 8; i++)
		crc = crc32c_sw(crc, data, block);
	double t2 = now_s();
	free(data);
	double mib = (double)block / (1 << 20);
	printf("crc32c %s %8.0f MB/s   slicing-by-8 %8.0f MB/s   (%08x)\n",
	       crc32c_hw_available() ? "sse4.2" : "sw    ", 64 * mib / (t1 - t0),
	       8 * mib / (t2 - t1), crc);
	int failed = 0;
	failed |= run("MEM /dev/shm", "/dev/shm", TIER_MEDIUM_MEM, TIER_IO_SYNC, total, block);
	failed |= run("SSD io_uring", disk, TIER_MEDIUM_SSD, TIER_IO_URING, total, block);
	failed |= run("SSD pread/pwrite", disk, TIER_MEDIUM_SSD, TIER_IO_SYNC, total, block);
	return failed;
}
