# Metadata backups: the file format, taking one and the offline restore
# (daemon/master/backup.c, backup_format.c).
strata_unit_test(test_master_backup SOURCES test_master_backup.c LIBS strata_master_core
                 SQLite::SQLite3 Threads::Threads)
