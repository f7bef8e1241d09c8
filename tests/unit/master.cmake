# Unit tests of the master's namespace: lib/path.c, the journal and the
# namespace state machine (daemon/master/).
strata_unit_test(test_lib_path SOURCES test_lib_path.c LIBS strata_lib)
strata_unit_test(test_master_journal SOURCES test_master_journal.c LIBS strata_master_core)
strata_unit_test(test_master_ns SOURCES test_master_ns.c LIBS strata_master_core SQLite::SQLite3)
