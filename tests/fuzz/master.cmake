# Fuzz targets of the master's namespace: path normalization and the
# journal decoder/scanner. The sources are compiled into the targets so
# that libFuzzer instruments them; strata_lib supplies logging.
strata_fuzz_target(fuzz_path SOURCES fuzz_path.c ${CMAKE_SOURCE_DIR}/lib/path.c)
strata_fuzz_target(fuzz_journal
  SOURCES fuzz_journal.c ${CMAKE_SOURCE_DIR}/daemon/master/journal.c
  LIBS strata_lib OpenSSL::Crypto)
