# The worker's S3 front (daemon/worker/s3front*.c): its HTTP framing, and the
# front as a proxy before a scripted fake gateway.
strata_unit_test(test_s3front_http SOURCES test_s3front_http.c LIBS strata_worker_front)
strata_unit_test(test_s3front SOURCES test_s3front.c LIBS strata_worker_front TIMEOUT 60)
