strata_fuzz_target(fuzz_conf SOURCES fuzz_conf.c LIBS strata_lib)
strata_fuzz_target(fuzz_tokens SOURCES fuzz_tokens.c LIBS strata_lib)
