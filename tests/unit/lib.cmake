strata_unit_test(test_lib_conf SOURCES test_lib_conf.c LIBS strata_lib)
target_compile_definitions(test_lib_conf PRIVATE STRATA_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
strata_unit_test(test_master_registry SOURCES test_master_registry.c LIBS strata_master_core)
strata_unit_test(test_lib_json SOURCES test_lib_json.c LIBS strata_lib)
