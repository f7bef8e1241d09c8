# The backup file reader (daemon/master/backup_format.c): header, checksums
# and the payload's SQLite image, in memory.
strata_fuzz_target(fuzz_backup
  SOURCES fuzz_backup.c ${CMAKE_SOURCE_DIR}/daemon/master/backup_format.c
          ${CMAKE_SOURCE_DIR}/lib/crc32c.c
  LIBS SQLite::SQLite3 OpenSSL::Crypto)
