# Fuzz targets of the master: path normalization, the master.peers
# parser and the journal command decoder. The sources are compiled into
# the targets so that libFuzzer instruments them; strata_lib supplies
# logging.
strata_fuzz_target(fuzz_path SOURCES fuzz_path.c ${CMAKE_SOURCE_DIR}/lib/path.c)
strata_fuzz_target(fuzz_master_peers
  SOURCES fuzz_master_peers.c ${CMAKE_SOURCE_DIR}/daemon/master/peers.c)
strata_fuzz_target(fuzz_journal
  SOURCES fuzz_journal.c ${CMAKE_SOURCE_DIR}/daemon/master/journal.c
          ${CMAKE_SOURCE_DIR}/lib/path.c ${CMAKE_SOURCE_DIR}/lib/json.c
  LIBS cjson m)
