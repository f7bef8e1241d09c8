#ifndef STRATA_DAEMON_COMMON_H
#define STRATA_DAEMON_COMMON_H

#include "lib/conf.h"

#include <stdbool.h>
#include <stddef.h>

/* Exit codes shared by every strata program. */
enum { EXIT_OK = 0, EXIT_ERROR = 1, EXIT_USAGE = 2 };

struct daemon_info {
	const char *prog;    /* "strata-master" */
	const char *summary; /* one line for --help */
};

/*
 * Parses --config PATH, --set key=value (repeatable), --help, --version and
 * loads configuration: defaults, then the file (--config, else $STRATA_CONFIG,
 * else /etc/strata/strata.conf when it exists), then STRATA_* variables, then
 * --set. Returns true to go on; false with *exit_code set when the program
 * should exit now (help/version printed: 0; usage or config error: 2).
 */
bool daemon_setup(const struct daemon_info *info, int argc, char **argv,
		  struct strata_conf *conf, int *exit_code);

/* Blocks SIGINT/SIGTERM (for daemon_wait_signal) and ignores SIGPIPE. Call
 * before starting threads so they inherit the mask. */
void daemon_block_signals(void);
/* Waits for SIGINT or SIGTERM; returns the signal number. */
int daemon_wait_signal(void);

/*
 * Picks a default directory when the configured one is empty: the packaged
 * path (`service`, e.g. /var/lib/strata/master) when running as the `strata`
 * service user, else `$env_var` (XDG_STATE_HOME / XDG_CACHE_HOME) or
 * `$HOME/fallback_rel`, joined with `leaf`. Creates it (and parents) with
 * mode 0700. Returns 0 or a negative errno with the path in err.
 */
int daemon_pick_dir(const char *configured, const char *service, const char *env_var,
		    const char *fallback_rel, const char *leaf, char *out, size_t len, char *err,
		    size_t errlen);
/* The worker's data directory (worker.data_dir, or its default), created
 * when missing. 0 or a negative errno with the path in err. */
int daemon_worker_data_dir(const struct strata_conf *c, char *out, size_t len, char *err,
			   size_t errlen);
/* The S3 access key file: worker.s3.key_file, else <data dir>/s3-keys (the
 * worker and `strata admin s3key` agree through this). 0 or -errno. */
int daemon_s3_key_file(const struct strata_conf *c, char *out, size_t len, char *err,
		       size_t errlen);
/* mkdir -p with mode 0700 for the created directories. */
int daemon_mkdirs(const char *path);

#endif
