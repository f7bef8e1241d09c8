# Unit tests of strata-top's pure parts (console/tui/).
strata_unit_test(test_tui_rates SOURCES test_tui_rates.c LIBS strata_tui_rates)
strata_unit_test(test_tui_view SOURCES test_tui_view.c LIBS strata_tui)
