# The tier store's on-disk parsers. The parser sources are compiled into the
# target so that libFuzzer instruments them.
strata_fuzz_target(fuzz_tier_header
  SOURCES fuzz_tier_header.c ${CMAKE_SOURCE_DIR}/tier/format.c ${CMAKE_SOURCE_DIR}/lib/crc32c.c)
