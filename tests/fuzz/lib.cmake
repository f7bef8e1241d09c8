strata_fuzz_target(fuzz_conf SOURCES fuzz_conf.c LIBS strata_lib)
# The 64-bit id codec and its inverse (lib/json.c compiled in: instrumented).
strata_fuzz_target(fuzz_json_u64 SOURCES fuzz_json_u64.c ${CMAKE_SOURCE_DIR}/lib/json.c
                   LIBS cjson m)
strata_fuzz_target(fuzz_tokens SOURCES fuzz_tokens.c LIBS strata_lib)
strata_fuzz_target(fuzz_s3keys SOURCES fuzz_s3keys.c LIBS strata_lib)
# The short-circuit read messages of worker.local_socket (issue 17).
strata_fuzz_target(fuzz_localread SOURCES fuzz_localread.c LIBS strata_lib)
