# daemon/master/repin.c: the pins a registering worker gets back (issue 12, point 4).
strata_unit_test(test_master_repin SOURCES test_master_repin.c
                 LIBS strata_master_core SQLite::SQLite3 Threads::Threads cjson)
