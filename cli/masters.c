/* `strata admin masters`: the Raft group of masters (docs/raft.md). */
#include "cli/cli.h"

#include "client/client.h"
#include "daemon/common.h"

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

static const char *dash(const char *s)
{
	return s && *s ? s : "-";
}

static void print_masters(const struct client_masters *g)
{
	printf("Leader: %" PRIu64 "   term %" PRId64 "\n\n", g->leader, g->term);
	printf("  %-4s %-10s %-24s %-28s %6s %10s %10s %6s\n", "ID", "ROLE", "RAFT", "REST",
	       "TERM", "COMMIT", "APPLIED", "LAG");
	for (size_t i = 0; i < g->n; i++) {
		const struct client_master *m = &g->masters[i];
		char term[24] = "-", commit[24] = "-", applied[24] = "-", lag[24] = "-";
		if (m->term >= 0)
			snprintf(term, sizeof(term), "%" PRId64, m->term);
		if (m->commit_index >= 0)
			snprintf(commit, sizeof(commit), "%" PRId64, m->commit_index);
		if (m->applied_index >= 0)
			snprintf(applied, sizeof(applied), "%" PRId64, m->applied_index);
		if (m->lag >= 0)
			snprintf(lag, sizeof(lag), "%" PRId64, m->lag);
		printf("  %-4" PRIu64 " %-10s %-24s %-28s %6s %10s %10s %6s%s\n", m->id,
		       dash(m->role), dash(m->raft_address), dash(m->rest_url), term, commit,
		       applied, lag, m->self ? "  (answered)" : "");
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

/* Prints the membership a call returned (and clears it). */
static int finish(struct cli *cli, int rc, struct client_masters *g, const char *err)
{
	if (rc == 0) {
		if (cli->json)
			cli_print_json(g->json);
		else
			print_masters(g);
		client_masters_clear(g);
	}
	return cli_fail(rc, err);
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
	struct client_masters g;
	char err[1024] = "";
	if (n == 0 || (n == 1 && strcmp(words[0], "list") == 0)) {
		int rc = client_masters_list(cli->masters, cli->http, &g, err, sizeof(err));
		return finish(cli, rc, &g, err);
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
		int rc = client_master_add(cli->masters, cli->http, id, words[2], words[3], &g, err,
					   sizeof(err));
		return finish(cli, rc, &g, err);
	}
	if (strcmp(words[0], "remove") == 0) {
		if (n != 2) {
			fprintf(stderr, "strata: usage: strata admin masters remove ID\n");
			return EXIT_USAGE;
		}
		uint64_t id = parse_id(words[1]);
		if (!id)
			return EXIT_USAGE;
		int rc = client_master_remove(cli->masters, cli->http, id, &g, err, sizeof(err));
		return finish(cli, rc, &g, err);
	}
	fprintf(stderr, "strata: unknown command 'admin masters %s'\n", words[0]);
	cli_admin_masters_usage(stderr);
	return EXIT_USAGE;
}
