# Fuzz targets of the S3 gateway's pure layers (api/s3_proto, api/s3_auth).
# The parsers are compiled into each target (not linked from strata_api) so
# that libFuzzer instruments them; lib/xml.c and lib/sigv4.c come along.
set(STRATA_S3_FUZZ_SOURCES
    ${CMAKE_SOURCE_DIR}/api/s3_proto.c ${CMAKE_SOURCE_DIR}/api/s3_proto_xml.c
    ${CMAKE_SOURCE_DIR}/api/s3_proto_fmt.c
    ${CMAKE_SOURCE_DIR}/api/s3_auth.c ${CMAKE_SOURCE_DIR}/lib/xml.c
    ${CMAKE_SOURCE_DIR}/lib/sigv4.c)
strata_fuzz_target(fuzz_s3_request SOURCES fuzz_s3_request.c ${STRATA_S3_FUZZ_SOURCES}
                   LIBS OpenSSL::Crypto)
strata_fuzz_target(fuzz_s3_body SOURCES fuzz_s3_body.c ${STRATA_S3_FUZZ_SOURCES}
                   LIBS OpenSSL::Crypto)
strata_fuzz_target(fuzz_s3_chunked SOURCES fuzz_s3_chunked.c ${STRATA_S3_FUZZ_SOURCES}
                   LIBS OpenSSL::Crypto)
strata_fuzz_target(fuzz_s3_auth SOURCES fuzz_s3_auth.c ${STRATA_S3_FUZZ_SOURCES}
                   LIBS OpenSSL::Crypto)
