/* `strata admin masters`: the Raft group of masters (docs/raft.md). */
#include "cli/cli.h"

#include "daemon/common.h"
#include "lib/httpc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_admin_masters_usage(FILE *f)
{
	fprintf(f,
		"  admin masters [list]\n"
		"                    each master: role, term, commit/applied index, lag\n"
		"  admin masters add ID RAFT_HOST:PORT REST_HOST:PORT\n"
		"                    add a master (start it first with master.join=true and\n"
		"                    master.peers listing the group and itself)\n"
		"  admin masters remove ID\n"
		"                    remove a master from the group\n");
}

static int64_t num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

static const char *str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : "-";
}

static void print_masters(const cJSON *doc)
{
	printf("Leader: %" PRId64 "   term %" PRId64 "\n\n", num(doc, "leader"), num(doc, "term"));
	printf("  %-4s %-10s %-24s %-28s %6s %10s %10s %6s\n", "ID", "ROLE", "RAFT", "REST",
	       "TERM", "COMMIT", "APPLIED", "LAG");
	const cJSON *m;
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, "masters"))
	{
		char term[24] = "-", commit[24] = "-", applied[24] = "-", lag[24] = "-";
		if (num(m, "term") >= 0)
			snprintf(term, sizeof(term), "%" PRId64, num(m, "term"));
		if (num(m, "commit_index") >= 0)
			snprintf(commit, sizeof(commit), "%" PRId64, num(m, "commit_index"));
		if (num(m, "applied_index") >= 0)
			snprintf(applied, sizeof(applied), "%" PRId64, num(m, "applied_index"));
		if (num(m, "lag") >= 0)
			snprintf(lag, sizeof(lag), "%" PRId64, num(m, "lag"));
		const cJSON *self = cJSON_GetObjectItemCaseSensitive(m, "self");
		printf("  %-4" PRId64 " %-10s %-24s %-28s %6s %10s %10s %6s%s\n", num(m, "id"),
		       str(m, "role"), str(m, "raft_address"), str(m, "rest_url"), term, commit,
		       applied, lag, cJSON_IsTrue(self) ? "  (answered)" : "");
	}
}

/* A positive master id, or 0 with a message. */
static uint64_t parse_id(const char *s)
{
	char *end = NULL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || !end || *end || end == s || v == 0 || *s == '-') {
		fprintf(stderr, "strata: admin masters: '%s' is not a master id (a number >= 1)\n",
			s);
		return 0;
	}
	return v;
}

/* Prints the membership a call returned (reply is consumed). */
static int finish(struct cli *cli, int rc, cJSON *reply)
{
	if (rc == EXIT_OK) {
		if (cli->json)
			cli_print_json(reply);
		else
			print_masters(reply);
	}
	cJSON_Delete(reply);
	return rc;
}

int cli_admin_masters(struct cli *cli, int argc, char **argv)
{
	/* Positional words; --json may come anywhere. */
	char *words[8];
	int n = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			cli->json = true;
		else if (n < 8)
			words[n++] = argv[i];
	}
	cJSON *reply = NULL;
	if (n == 0 || (n == 1 && strcmp(words[0], "list") == 0)) {
		int rc = cli_call(cli, "GET", "/api/v1/masters", NULL, &reply);
		return finish(cli, rc, reply);
	}
	if (strcmp(words[0], "add") == 0) {
		if (n != 4) {
			fprintf(stderr, "strata: usage: strata admin masters add ID RAFT_HOST:PORT "
					"REST_HOST:PORT\n");
			return EXIT_USAGE;
		}
		uint64_t id = parse_id(words[1]);
		if (!id)
			return EXIT_USAGE;
		cJSON *req = cJSON_CreateObject();
		cJSON_AddNumberToObject(req, "id", (double)id);
		cJSON_AddStringToObject(req, "raft_address", words[2]);
		cJSON_AddStringToObject(req, "rest_url", words[3]);
		int rc = cli_call(cli, "POST", "/api/v1/masters", req, &reply);
		cJSON_Delete(req);
		return finish(cli, rc, reply);
	}
	if (strcmp(words[0], "remove") == 0) {
		if (n != 2) {
			fprintf(stderr, "strata: usage: strata admin masters remove ID\n");
			return EXIT_USAGE;
		}
		uint64_t id = parse_id(words[1]);
		if (!id)
			return EXIT_USAGE;
		char path[64];
		snprintf(path, sizeof(path), "/api/v1/masters/%" PRIu64, id);
		int rc = cli_call(cli, "DELETE", path, NULL, &reply);
		return finish(cli, rc, reply);
	}
	fprintf(stderr, "strata: unknown command 'admin masters %s'\n", words[0]);
	cli_admin_masters_usage(stderr);
	return EXIT_USAGE;
}
