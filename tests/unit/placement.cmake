# lib/placement.c: the rendezvous order replication relies on (issue 12).
strata_unit_test(test_lib_placement SOURCES test_lib_placement.c LIBS strata_lib)
