strata_fuzz_target(fuzz_conf SOURCES fuzz_conf.c LIBS strata_lib)
strata_fuzz_target(fuzz_s3keys SOURCES fuzz_s3keys.c LIBS strata_lib)
