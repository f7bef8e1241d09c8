# The typed client's reply decoders (what workers and monitors parse).
strata_fuzz_target(fuzz_client_replies SOURCES fuzz_client_replies.c LIBS strata_client)
