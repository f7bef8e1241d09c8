# The typed client's reply decoders (what workers and monitors parse).
strata_fuzz_target(fuzz_client_replies SOURCES fuzz_client_replies.c LIBS strata_client)
# Fuzz targets of the client library: the worker's decoders of master
# replies (client/internal.c).
strata_fuzz_target(fuzz_client_internal SOURCES fuzz_client_internal.c LIBS strata_client cjson)
