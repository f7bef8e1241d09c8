strata_fuzz_target(fuzz_conf SOURCES fuzz_conf.c LIBS strata_lib)
