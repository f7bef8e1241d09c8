# Everything Raft decodes from disk (raft/format.c, raft/storage.c open path).
# The sources are compiled into the target rather than linked from
# strata_raft so that they get the fuzzer's coverage and ASan
# instrumentation, without changing how strata_raft is built for others.
strata_fuzz_target(fuzz_raft_log
  SOURCES fuzz_raft_log.c
          ${CMAKE_SOURCE_DIR}/raft/format.c
          ${CMAKE_SOURCE_DIR}/raft/storage.c
          ${CMAKE_SOURCE_DIR}/raft/log.c
  LIBS Threads::Threads)
