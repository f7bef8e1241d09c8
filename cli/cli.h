#ifndef STRATA_CLI_CLI_H
#define STRATA_CLI_CLI_H

#include "lib/conf.h"

#include <stdbool.h>
#include <stdio.h>

struct cJSON;
struct httpc;
struct client;

/* What every `strata` command shares. */
struct cli {
	struct strata_conf conf;
	const char *master; /* --master overrides master.addresses */
	bool json;
	bool insecure;
	const char *token_file; /* --token-file */
	bool has_token;         /* a REST token goes with every request */
	struct httpc *http;
	struct client *masters; /* --master or master.addresses; follows the leader */
};

/*
 * The exit code for a typed call's result (client/client.h): 0 for 0;
 * otherwise prints "strata: <err>" (err says the path and the reason) to
 * stderr and returns 1.
 */
int cli_fail(int rc, const char *err);
/* Prints a JSON document (pretty) to stdout. */
void cli_print_json(const struct cJSON *doc);
void cli_fmt_bytes(double b, char *buf, size_t len);

/* `strata admin masters ...`; argv[0] is "masters". Returns the exit code. */
int cli_admin_masters(struct cli *cli, int argc, char **argv);
void cli_admin_masters_usage(FILE *f);

/* `strata apply ...`; argv[0] is "apply". Returns the exit code. */
int cli_apply(struct cli *cli, int argc, char **argv);
void cli_apply_usage(FILE *f);

/* `strata admin backup|restore ...`; argv[0] is "backup" or "restore". */
int cli_admin_backup(struct cli *cli, int argc, char **argv);
void cli_admin_backup_usage(FILE *f);

/* `strata admin token ...`; argv[0] is "token". Edits a local token file;
 * needs no daemon. Returns the exit code. */
int cli_admin_token(struct cli *cli, int argc, char **argv);
void cli_admin_token_usage(FILE *f);

/* `strata admin s3key ...`; argv[0] is "s3key". Needs no master. */
int cli_admin_s3key(struct cli *cli, int argc, char **argv);
void cli_admin_s3key_usage(FILE *f);

/* `strata fs ...`; argv[0] is the subcommand. Returns the exit code. */
int cli_fs(struct cli *cli, int argc, char **argv);
void cli_fs_usage(FILE *f);

/* `strata fs load|free ...` (argv[0] is "load" or "free") and `strata
 * admin jobs ...` (argv[0] is "jobs"): data jobs. Return the exit code. */
int cli_fs_job(struct cli *cli, int argc, char **argv);
int cli_admin_jobs(struct cli *cli, int argc, char **argv);
void cli_jobs_usage(FILE *f);

#endif
