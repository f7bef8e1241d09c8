# Unit tests of strata-fuse's pure parts (fuse/cache.c).
strata_unit_test(test_fuse_cache SOURCES test_fuse_cache.c LIBS strata_fuse_cache)
