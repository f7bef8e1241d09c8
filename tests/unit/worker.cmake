# The worker's S3 front (api/s3_server*.c): its HTTP framing, and the
# server with the fast path off running the real gateway over a directory.
strata_unit_test(test_s3front_http SOURCES test_s3front_http.c LIBS strata_api_s3)
strata_unit_test(test_s3front SOURCES test_s3front.c s3_dir_backend.c
                 LIBS strata_api_worker OpenSSL::SSL OpenSSL::Crypto
                 TIMEOUT 60)
# The S3 front's open-file cache shared by its loops (api/s3_fdcache.c).
strata_unit_test(test_s3_fdcache SOURCES test_s3_fdcache.c LIBS strata_api_worker)
# Its TLS transport without kTLS (api/s3_server_tls.c): allocation faults
# and a count of send(2)/sendmsg(2) calls through the linker's --wrap.
strata_unit_test(test_s3front_tls SOURCES test_s3front_tls.c
                 LIBS strata_api_worker OpenSSL::SSL OpenSSL::Crypto TIMEOUT 60)
target_link_options(test_s3front_tls PRIVATE -Wl,--wrap=realloc -Wl,--wrap=send
                    -Wl,--wrap=sendmsg)
# Reads by mount and the top-path sketch (daemon/worker/pathstats.c).
strata_unit_test(test_worker_pathstats SOURCES test_worker_pathstats.c
                 LIBS strata_worker_core cjson)
# The worker's S3 access keys (daemon/worker/s3access.c).
strata_unit_test(test_worker_s3access SOURCES test_worker_s3access.c LIBS strata_worker_core)
# A lazy load's block streamed from its store (daemon/worker/coldstream.c).
strata_unit_test(test_worker_coldstream SOURCES test_worker_coldstream.c
                 LIBS strata_worker_core)
# Kept block buffers for store reads (daemon/worker/bufpool.c).
strata_unit_test(test_worker_bufpool SOURCES test_worker_bufpool.c LIBS strata_worker_core)
