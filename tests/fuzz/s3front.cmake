# Fuzz target of the worker's S3 front: its HTTP framing (request heads,
# response heads, chunked bodies). Pure code, compiled into the target.
strata_fuzz_target(fuzz_s3front_http SOURCES fuzz_s3front_http.c
                   ${CMAKE_SOURCE_DIR}/api/s3_server_http.c)
