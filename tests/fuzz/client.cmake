# Fuzz targets of the client library: the worker's decoders of master
# replies (client/internal.c).
strata_fuzz_target(fuzz_client_internal SOURCES fuzz_client_internal.c LIBS strata_client cjson)
