# Unit tests of the ufs module (ufs/) and lib/xml.
strata_unit_test(test_ufs_conformance SOURCES test_ufs_conformance.c ufs_s3rver.c
                 LIBS strata_ufs TIMEOUT 120)
target_compile_definitions(test_ufs_conformance PRIVATE STRATA_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
strata_unit_test(test_ufs_local SOURCES test_ufs_local.c ufs_s3rver.c LIBS strata_ufs)
target_compile_definitions(test_ufs_local PRIVATE STRATA_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
strata_unit_test(test_ufs_sigv4 SOURCES test_ufs_sigv4.c LIBS strata_ufs)
target_compile_definitions(test_ufs_sigv4 PRIVATE STRATA_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
strata_unit_test(test_ufs_xml SOURCES test_ufs_xml.c LIBS strata_ufs)
strata_unit_test(test_ufs_s3 SOURCES test_ufs_s3.c ufs_s3rver.c LIBS strata_ufs)
target_compile_definitions(test_ufs_s3 PRIVATE STRATA_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
strata_unit_test(test_ufs_s3_head SOURCES test_ufs_s3_head.c LIBS strata_ufs)
strata_unit_test(test_ufs_s3_stream SOURCES test_ufs_s3_stream.c LIBS strata_ufs)
