# The tiered block store (tier/). test_tier_util.c holds shared fixtures.
strata_unit_test(test_tier_evict SOURCES test_tier_evict.c LIBS strata_tier)
strata_unit_test(test_tier_format SOURCES test_tier_format.c LIBS strata_tier)
strata_unit_test(test_tier_store SOURCES test_tier_store.c test_tier_util.c LIBS strata_tier)
strata_unit_test(test_tier_disk SOURCES test_tier_disk.c test_tier_util.c LIBS strata_tier)
strata_unit_test(test_tier_concurrency SOURCES test_tier_concurrency.c test_tier_util.c
                 LIBS strata_tier TIMEOUT 300)
