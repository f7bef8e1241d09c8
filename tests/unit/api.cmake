# Unit tests of the REST layer (api/).
strata_unit_test(test_api_openapi SOURCES test_api_openapi.c
                 LIBS strata_api_master strata_api_worker)
target_compile_definitions(test_api_openapi PRIVATE STRATA_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
# Access levels of every route and the one check in dispatch (api/http.c).
strata_unit_test(test_api_routes SOURCES test_api_routes.c LIBS strata_api_master
                 strata_api_worker)
