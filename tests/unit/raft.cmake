# Raft: focused core tests, storage tests, deterministic cluster simulation.
strata_unit_test(test_raft_sim SOURCES test_raft_sim.c raft_sim.c LIBS strata_raft TIMEOUT 300)
strata_unit_test(test_raft_core SOURCES test_raft_core.c raft_sim.c LIBS strata_raft)
strata_unit_test(test_raft_storage SOURCES test_raft_storage.c LIBS strata_raft)
# I/O fault injection: the test defines __wrap_fdatasync and __wrap_unlinkat.
target_link_options(test_raft_storage PRIVATE -Wl,--wrap=fdatasync -Wl,--wrap=unlinkat)
# The wire codec and the TCP transport between masters (raft/wire.c, raft/net.c).
strata_unit_test(test_raft_wire SOURCES test_raft_wire.c LIBS strata_raft)
strata_unit_test(test_raft_net SOURCES test_raft_net.c LIBS strata_raft TIMEOUT 60)
strata_unit_test(test_raft_net_tls SOURCES test_raft_net_tls.c LIBS strata_raft OpenSSL::SSL TIMEOUT 60)
