# Fuzz targets of the ufs module: lib/xml.c and the S3 response parsers.
# strata_ufs itself is compiled with -fsanitize=fuzzer-no-link under
# STRATA_FUZZ (ufs/CMakeLists.txt), so the parsers feed coverage back.
# lib/xml.c is part of strata_lib now: compiled into the target so that
# it is instrumented.
strata_fuzz_target(fuzz_xml SOURCES fuzz_xml.c ${CMAKE_SOURCE_DIR}/lib/xml.c LIBS strata_ufs)
strata_fuzz_target(fuzz_s3_list SOURCES fuzz_s3_list.c ${CMAKE_SOURCE_DIR}/lib/xml.c
                   LIBS strata_ufs)
# Mount URIs and options as ufs_open parses them (no I/O), and durations.
strata_fuzz_target(fuzz_ufs_uri SOURCES fuzz_ufs_uri.c LIBS strata_ufs strata_lib)
# What the S3 driver keeps of a store's reply headers (ETag, lengths,
# Last-Modified), with round trips through the header formats.
strata_fuzz_target(fuzz_s3_head SOURCES fuzz_s3_head.c ${CMAKE_SOURCE_DIR}/ufs/s3_xml.c
                   ${CMAKE_SOURCE_DIR}/lib/xml.c LIBS strata_lib CURL::libcurl)
