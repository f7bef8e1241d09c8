#ifndef STRATA_LIB_PRIVFILE_H
#define STRATA_LIB_PRIVFILE_H

#include <stddef.h>
#include <sys/stat.h>

/*
 * Files that hold secrets (the REST token file, the S3 key file): read
 * only when no group or other permission bit is set, written atomically
 * with mode 0600. `what` names the file in errors ("token file", "S3 key
 * file"), which also name the path.
 */

/* Reads path whole (at most max bytes; oflags are added to open's, e.g.
 * O_NOFOLLOW). 0 with *text (NUL-terminated; privfile_free it) and *len,
 * *st its stat (may be NULL). -ENOENT and other open errors, -EINVAL not a
 * regular file, -EACCES group or others may access it (the message says
 * the mode and the chmod), -EFBIG over max, -EAGAIN it grew while read. */
int privfile_read(const char *what, const char *path, size_t max, int oflags, char **text,
		  size_t *len, struct stat *st, char *err, size_t errlen);
/* Wipes and frees what privfile_read returned (NULL is fine). */
void privfile_free(char *text, size_t len);

/* Writes text as path: missing directories are created 0700, then a
 * temporary file 0600 beside it is written, synced and renamed over path,
 * and the directory synced. 0 or -errno with the reason in err. */
int privfile_write(const char *what, const char *path, const char *text, size_t len,
		   char *err, size_t errlen);

#endif
