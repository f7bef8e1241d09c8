# Unit tests of the S3 gateway (api/s3_proto, api/s3_auth, api/s3_gateway).
# test_s3_auth signs requests with botocore at test time and test_s3_gateway
# drives a real server with awscli, s3cmd and boto3 (Debian packages;
# scripts/deps.sh installs them). A missing client fails; it never skips.
strata_unit_test(test_s3_proto SOURCES test_s3_proto.c LIBS strata_api_s3 TIMEOUT 30)
strata_unit_test(test_s3_auth SOURCES test_s3_auth.c LIBS strata_api_s3 TIMEOUT 60)
target_compile_definitions(test_s3_auth PRIVATE STRATA_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
                           STRATA_PYTHON="${STRATA_PYTHON}")
strata_unit_test(test_s3_gateway SOURCES test_s3_gateway.c s3_dir_backend.c
                 LIBS strata_api_s3 TIMEOUT 420)
target_compile_definitions(test_s3_gateway PRIVATE STRATA_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
                           STRATA_PYTHON="${STRATA_PYTHON}")
