# The worker's S3 front (api/s3_server*.c): its HTTP framing, and the
# front as a proxy before a scripted fake gateway.
strata_unit_test(test_s3front_http SOURCES test_s3front_http.c LIBS strata_api_s3)
strata_unit_test(test_s3front SOURCES test_s3front.c LIBS strata_api_worker TIMEOUT 60)
