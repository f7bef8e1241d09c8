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
# Every REST route of a real in-process master (one-member group, state
# under /dev/shm) over loopback HTTP: bodies, query and path parameters.
strata_fuzz_target(fuzz_rest_master SOURCES fuzz_rest_master.c rest_env.c
  LIBS strata_api_master strata_master_core strata_lib cjson)
# Every REST route of a real in-process worker (MEM tier under /dev/shm),
# backed by the same in-process master for its lookups.
strata_fuzz_target(fuzz_rest_worker SOURCES fuzz_rest_worker.c rest_env.c
  LIBS strata_api_worker strata_worker_core strata_api_master strata_master_core strata_lib cjson)
