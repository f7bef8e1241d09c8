# Unit tests of the master's namespace: lib/path.c, the namespace state
# machine, the master.peers parser and the Raft-backed metadata service
# (daemon/master/).
strata_unit_test(test_lib_path SOURCES test_lib_path.c LIBS strata_lib)
strata_unit_test(test_master_peers SOURCES test_master_peers.c LIBS strata_master_core)
strata_unit_test(test_master_meta SOURCES test_master_meta.c LIBS strata_master_core
                 SQLite::SQLite3 Threads::Threads)
strata_unit_test(test_master_ns SOURCES test_master_ns.c LIBS strata_master_core SQLite::SQLite3)
strata_unit_test(test_master_journal SOURCES test_master_journal.c LIBS strata_master_core)
strata_unit_test(test_master_cluster SOURCES test_master_cluster.c LIBS strata_master_core)
strata_unit_test(test_master_filemeta SOURCES test_master_filemeta.c LIBS strata_master_core
                 SQLite::SQLite3 Threads::Threads)
strata_unit_test(test_master_revalidate SOURCES test_master_revalidate.c LIBS strata_master_core
                 SQLite::SQLite3 Threads::Threads)
strata_unit_test(test_master_jobs SOURCES test_master_jobs.c LIBS strata_master_core
                 Threads::Threads)
strata_unit_test(test_master_history SOURCES test_master_history.c LIBS strata_master_core cjson)
strata_unit_test(test_master_policy SOURCES test_master_policy.c LIBS strata_master_core
                 SQLite::SQLite3 Threads::Threads cjson)
strata_unit_test(test_master_events SOURCES test_master_events.c LIBS strata_master_core cjson)
strata_unit_test(test_master_ns_jobs SOURCES test_master_ns_jobs.c LIBS strata_master_core
                 SQLite::SQLite3)
strata_unit_test(test_master_lazyload SOURCES test_master_lazyload.c LIBS strata_master_core
                 SQLite::SQLite3 Threads::Threads cjson)
strata_unit_test(test_master_persistcheck SOURCES test_master_persistcheck.c
                 LIBS strata_master_core SQLite::SQLite3 Threads::Threads cjson)
