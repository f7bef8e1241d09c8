# Unit tests of the typed client (client/).
# client/leader.c needs real HTTP servers to follow; api/http.c provides them.
strata_unit_test(test_client_leader SOURCES test_client_leader.c LIBS strata_client strata_api_http)
strata_unit_test(test_client_decode SOURCES test_client_decode.c LIBS strata_client)
strata_unit_test(test_client_internal SOURCES test_client_internal.c LIBS strata_client strata_api_http)
