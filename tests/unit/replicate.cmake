# daemon/master/replicate.c's planner, the registry's administrative
# states and blockmap_list (issue 12, point 3).
strata_unit_test(test_master_replicate SOURCES test_master_replicate.c LIBS strata_master_core)
