# Everything Raft decodes from disk (raft/format.c, raft/storage.c open path).
# The sources are compiled into the target rather than linked from
# strata_raft so that they get the fuzzer's coverage and ASan
# instrumentation, without changing how strata_raft is built for others.
strata_fuzz_target(fuzz_raft_log
  SOURCES fuzz_raft_log.c
          ${CMAKE_SOURCE_DIR}/raft/format.c
          ${CMAKE_SOURCE_DIR}/raft/storage.c
          ${CMAKE_SOURCE_DIR}/raft/log.c
          ${CMAKE_SOURCE_DIR}/lib/crc32c.c
          ${CMAKE_SOURCE_DIR}/lib/err.c
  LIBS Threads::Threads)
# The Raft wire codec: frames from the network (raft/wire.c). raft_msg_release
# lives in raft/log.c, CRC32C in lib/crc32c.c, st_set_err in lib/err.c.
strata_fuzz_target(fuzz_raft_wire
  SOURCES fuzz_raft_wire.c
          ${CMAKE_SOURCE_DIR}/raft/wire.c
          ${CMAKE_SOURCE_DIR}/raft/format.c
          ${CMAKE_SOURCE_DIR}/raft/log.c
          ${CMAKE_SOURCE_DIR}/lib/crc32c.c
          ${CMAKE_SOURCE_DIR}/lib/err.c
  LIBS Threads::Threads)
