/* `strata admin token create|list|revoke`: edits a REST token file
 * (lib/tokens.h) on this machine; no daemon is involved, which is also how
 * the first admin token comes to be. Daemons re-read the file within a
 * second. The secret is printed once, by create, and stored nowhere. */
#include "cli/cli.h"

#include "daemon/common.h"
#include "lib/tokens.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void cli_admin_token_usage(FILE *f)
{
	fprintf(f,
		"  admin token create --role admin|readonly [--name NAME] [--file PATH]\n"
		"                    add a REST token; prints it once (store it then)\n"
		"  admin token list [--file PATH]\n"
		"                    id, role, name, creation time (never secrets)\n"
		"  admin token revoke ID [--file PATH]\n"
		"                    remove a token; daemons refuse it within a second\n"
		"                    (--file: default http.token_file, else\n"
		"                    <master.state_dir>/tokens)\n");
}

/* The file: --file, else http.token_file, else the master's default. */
static int token_path(struct cli *cli, const char *flag, char *out, size_t len)
{
	if (flag) {
		snprintf(out, len, "%s", flag);
		return 0;
	}
	if (*cli->conf.http_token_file) {
		snprintf(out, len, "%s", cli->conf.http_token_file);
		return 0;
	}
	char dir[1024], leaf[32], err[1200];
	snprintf(leaf, sizeof(leaf), "master-%lld", (long long)cli->conf.master_port);
	if (daemon_pick_dir(cli->conf.master_state_dir, "/var/lib/strata/master", "XDG_STATE_HOME",
			    ".local/state", leaf, dir, sizeof(dir), err, sizeof(err))) {
		fprintf(stderr, "strata: admin token: master.state_dir: %s\n", err);
		return -1;
	}
	snprintf(out, len, "%s/tokens", dir);
	return 0;
}

/* Serializes writers of one file (two creates at once must not lose one). */
static int lock_file(const char *path)
{
	char lock[4200];
	snprintf(lock, sizeof(lock), "%s", path);
	char *slash = strrchr(lock, '/');
	if (slash && slash != lock) {
		*slash = '\0';
		int rc = daemon_mkdirs(lock); /* mode 0700, as tokens_save would */
		if (rc) {
			fprintf(stderr, "strata: admin token: cannot create '%s': %s\n", lock,
				strerror(-rc));
			return -1;
		}
	}
	snprintf(lock, sizeof(lock), "%s.lock", path);
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) != 0) {
		fprintf(stderr, "strata: admin token: cannot lock '%s': %s\n", lock,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int load(const char *path, struct tokens_set *s)
{
	char err[1024];
	int rc = tokens_load(path, s, err, sizeof(err));
	if (rc == -ENOENT)
		return 0;
	if (rc)
		fprintf(stderr, "strata: admin token: %s\n", err);
	return rc;
}

static void fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%lld", (long long)t);
}

static cJSON *entry_json(const struct tokens_entry *e)
{
	cJSON *o = cJSON_CreateObject();
	char when[40];
	fmt_time(e->created, when, sizeof(when));
	cJSON_AddStringToObject(o, "id", e->id);
	cJSON_AddStringToObject(o, "role", tokens_role_name(e->role));
	cJSON_AddStringToObject(o, "name", e->name);
	cJSON_AddNumberToObject(o, "created", (double)e->created);
	cJSON_AddStringToObject(o, "created_utc", when);
	return o;
}

static int cmd_create(struct cli *cli, const char *path, const char *role_s, const char *name)
{
	enum tokens_role role;
	if (!role_s || tokens_role_parse(role_s, &role)) {
		fprintf(stderr, "strata: admin token create: --role must be admin or readonly%s%s\n",
			role_s ? ", not " : "", role_s ? role_s : "");
		return EXIT_USAGE;
	}
	int lock = lock_file(path);
	if (lock < 0)
		return EXIT_ERROR;
	struct tokens_set s = { 0 };
	char token[TOKENS_TOKEN_LEN + 1], err[1024];
	int code = EXIT_ERROR, rc;
	if (load(path, &s))
		goto out;
	do {
		unsigned char rnd[TOKENS_RANDOM_LEN];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			fprintf(stderr, "strata: admin token create: no random bytes: %s\n",
				strerror(errno));
			goto out;
		}
		rc = tokens_create(&s, role, name, (int64_t)time(NULL), rnd, token, sizeof(token),
				   err, sizeof(err));
		explicit_bzero(rnd, sizeof(rnd));
	} while (rc == -EEXIST);
	if (rc) {
		fprintf(stderr, "strata: admin token create: %s\n", err);
		code = rc == -EINVAL ? EXIT_USAGE : EXIT_ERROR;
		goto out;
	}
	if (tokens_save(path, &s, err, sizeof(err))) {
		fprintf(stderr, "strata: admin token create: %s\n", err);
		goto out;
	}
	const struct tokens_entry *e = &s.v[s.n - 1];
	if (cli->json) {
		cJSON *o = entry_json(e);
		cJSON_AddStringToObject(o, "token", token);
		cJSON_AddStringToObject(o, "file", path);
		cli_print_json(o);
		cJSON_Delete(o);
	} else {
		printf("%s\n", token);
		fprintf(stderr,
			"Created token %s (role %s) in %s.\n"
			"This is the only time the token is shown: store it now, e.g. in a file\n"
			"of mode 0600 for STRATA_TOKEN_FILE or --token-file, or in STRATA_TOKEN.\n"
			"Daemons reading %s accept it within a second; copy the file to\n"
			"every master (and to workers that share it) yourself.\n",
			e->id, tokens_role_name(e->role), path, path);
	}
	code = EXIT_OK;
out:
	explicit_bzero(token, sizeof(token));
	tokens_set_free(&s);
	close(lock);
	return code;
}

static int cmd_list(struct cli *cli, const char *path)
{
	struct tokens_set s = { 0 };
	if (load(path, &s))
		return EXIT_ERROR;
	if (cli->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "file", path);
		cJSON *a = cJSON_AddArrayToObject(o, "tokens");
		for (size_t i = 0; i < s.n; i++)
			cJSON_AddItemToArray(a, entry_json(&s.v[i]));
		cli_print_json(o);
		cJSON_Delete(o);
	} else {
		printf("%-12s  %-8s  %-20s  %s\n", "ID", "ROLE", "CREATED (UTC)", "NAME");
		for (size_t i = 0; i < s.n; i++) {
			char when[40];
			fmt_time(s.v[i].created, when, sizeof(when));
			printf("%-12s  %-8s  %-20s  %s\n", s.v[i].id, tokens_role_name(s.v[i].role),
			       when, s.v[i].name);
		}
		if (s.n == 0)
			printf("(no tokens in %s: REST auth is off on loopback-only daemons)\n", path);
	}
	tokens_set_free(&s);
	return EXIT_OK;
}

static int cmd_revoke(struct cli *cli, const char *path, const char *id)
{
	int lock = lock_file(path);
	if (lock < 0)
		return EXIT_ERROR;
	struct tokens_set s = { 0 };
	char err[1024];
	int code = EXIT_ERROR;
	if (load(path, &s))
		goto out;
	if (tokens_revoke(&s, id)) {
		fprintf(stderr, "strata: admin token revoke: no token with id '%s' in %s\n", id,
			path);
		goto out;
	}
	if (tokens_save(path, &s, err, sizeof(err))) {
		fprintf(stderr, "strata: admin token revoke: %s\n", err);
		goto out;
	}
	if (cli->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "revoked", id);
		cJSON_AddStringToObject(o, "file", path);
		cli_print_json(o);
		cJSON_Delete(o);
	} else {
		printf("Revoked token %s in %s; daemons reading it refuse it within a second.\n",
		       id, path);
	}
	code = EXIT_OK;
out:
	tokens_set_free(&s);
	close(lock);
	return code;
}

int cli_admin_token(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "file", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	if (argc < 2) {
		fprintf(stderr, "strata: admin token: want create, list or revoke\n");
		return EXIT_USAGE;
	}
	const char *verb = argv[1], *role = NULL, *name = NULL, *file = NULL;
	bool create = strcmp(verb, "create") == 0, list = strcmp(verb, "list") == 0,
	     revoke = strcmp(verb, "revoke") == 0;
	if (!create && !list && !revoke) {
		fprintf(stderr, "strata: admin token: unknown command '%s' (create, list, revoke)\n",
			verb);
		return EXIT_USAGE;
	}
	optind = 0; /* 0, not 1: a full reset (main's scan used '+' ordering) */
	opterr = 1;
	int c;
	while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			role = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'j':
			cli->json = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	int nargs = argc - 1 - optind;
	char **args = argv + 1 + optind;
	if ((revoke && nargs != 1) || (!revoke && nargs != 0) || (!create && (role || name))) {
		fprintf(stderr, "strata: admin token %s: unexpected arguments; usage:\n", verb);
		cli_admin_token_usage(stderr);
		return EXIT_USAGE;
	}
	char path[4200];
	if (token_path(cli, file, path, sizeof(path)))
		return EXIT_ERROR;
	if (create)
		return cmd_create(cli, path, role, name);
	if (list)
		return cmd_list(cli, path);
	return cmd_revoke(cli, path, args[0]);
}
