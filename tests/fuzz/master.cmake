# Fuzz targets of the master: path normalization and the master.peers
# parser. The sources are compiled into the targets so that libFuzzer
# instruments them; strata_lib supplies logging.
strata_fuzz_target(fuzz_path SOURCES fuzz_path.c ${CMAKE_SOURCE_DIR}/lib/path.c)
strata_fuzz_target(fuzz_master_peers
  SOURCES fuzz_master_peers.c ${CMAKE_SOURCE_DIR}/daemon/master/peers.c)
