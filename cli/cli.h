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
	struct httpc *http;
	struct client *masters; /* --master or master.addresses; follows the leader */
};

/*
 * Calls the leading master (following redirects from followers, waiting
 * out an election; client/client.h): method on path_query (already
 * URL-encoded), JSON body `req` (may be NULL). On 2xx stores the reply in
 * *out (may be NULL) and returns 0; otherwise prints "strata: <reason>" to
 * stderr and returns 1 (the exit code).
 */
int cli_call(struct cli *cli, const char *method, const char *path_query,
	     const struct cJSON *req, struct cJSON **out);
/* Prints a JSON document (pretty) to stdout. */
void cli_print_json(const struct cJSON *doc);
void cli_fmt_bytes(double b, char *buf, size_t len);

/* `strata admin masters ...`; argv[0] is "masters". Returns the exit code. */
int cli_admin_masters(struct cli *cli, int argc, char **argv);
void cli_admin_masters_usage(FILE *f);

/* `strata fs ...`; argv[0] is the subcommand. Returns the exit code. */
int cli_fs(struct cli *cli, int argc, char **argv);
void cli_fs_usage(FILE *f);

#endif
