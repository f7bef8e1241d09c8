# daemon/master/replicate.c's planner, the registry's administrative
# states and blockmap_list (issue 12, point 3).
strata_unit_test(test_master_replicate SOURCES test_master_replicate.c LIBS strata_master_core)
# daemon/master/ns_repl.c: worker_state's apply and the checker's lookups.
strata_unit_test(test_master_ns_repl SOURCES test_master_ns_repl.c LIBS strata_master_core
                 SQLite::SQLite3)
