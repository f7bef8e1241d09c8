# Unit tests of the REST layer (api/).
strata_unit_test(test_api_openapi SOURCES test_api_openapi.c
                 LIBS strata_api_master strata_api_worker)
target_compile_definitions(test_api_openapi PRIVATE STRATA_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
# lib/mclient.c needs real HTTP servers to follow; api/http.c provides them.
strata_unit_test(test_lib_mclient SOURCES test_lib_mclient.c LIBS strata_api_http)
