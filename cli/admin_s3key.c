/* `strata admin s3key create|list|revoke`: the S3 access key file
 * (lib/s3keys.h) on this machine. Every worker reads its own copy
 * (worker.s3.key_file); putting the same file on every worker is the
 * admin's job (docs/s3-gateway.md). */
#include "cli/cli.h"
#include "daemon/common.h"
#include "lib/s3keys.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

void cli_admin_s3key_usage(FILE *f)
{
	fprintf(f,
		"  admin s3key create [--role admin|readonly] [--buckets B1,B2] [--file PATH]\n"
		"                    new S3 access key; prints its id and secret once\n"
		"  admin s3key list [--file PATH]\n"
		"                    keys: id, role, buckets, created (never secrets)\n"
		"  admin s3key revoke ID [--file PATH]\n"
		"                    removes a key (workers stop accepting it within ~1 s)\n"
		"                    (--file default: worker.s3.key_file, else\n"
		"                    <worker.data_dir>/s3-keys)\n");
}

/* Serializes writers of the same key file (a lost update would resurrect
 * a revoked key or drop a new one). -1 on failure with err set. */
static int lock_file(const char *path, char *err, size_t errlen)
{
	char lock[1300];
	snprintf(lock, sizeof(lock), "%s.lock", path);
	int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == ENOENT) {
		/* No directory yet: s3keys_save creates it (0700); locking
		 * can wait until it exists. */
		struct s3keys none = { 0 };
		struct s3keys_stamp st;
		if (s3keys_stat(path, &st) == 0 && !st.exists &&
		    s3keys_save(path, &none, err, errlen) == 0)
			fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	if (fd < 0 || flock(fd, LOCK_EX)) {
		snprintf(err, errlen, "cannot lock '%s': %s", lock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void print_buckets(const char *buckets, cJSON *arr)
{
	for (const char *p = buckets; *p;) {
		size_t len = strcspn(p, ",");
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int)len, p);
		cJSON_AddItemToArray(arr, cJSON_CreateString(name));
		p += len + (p[len] ? 1 : 0);
	}
}

static cJSON *key_json(const struct s3key *k, bool with_secret)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", k->id);
	if (with_secret)
		cJSON_AddStringToObject(o, "secret", k->secret);
	cJSON_AddStringToObject(o, "role", s3key_role_name(k->role));
	cJSON *b = cJSON_AddArrayToObject(o, "buckets");
	print_buckets(k->buckets[0] ? k->buckets : "*", b);
	cJSON_AddNumberToObject(o, "created", (double)k->created);
	return o;
}

static void fmt_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "%lld", (long long)t);
}

static int cmd_create(struct cli *cli, const char *path, const char *role, const char *buckets)
{
	struct s3key k = { 0 };
	struct s3keys keys = { 0 };
	struct s3keys_stamp st;
	char err[1600];
	int fd = -1, code = EXIT_ERROR;
	if (s3key_role_parse(role ? role : "admin", &k.role)) {
		fprintf(stderr, "strata: --role must be admin or readonly, not '%s'\n", role);
		return EXIT_USAGE;
	}
	if (s3key_buckets_parse(buckets, k.buckets, err, sizeof(err))) {
		fprintf(stderr, "strata: --buckets: %s\n", err);
		return EXIT_USAGE;
	}
	k.created = (int64_t)time(NULL);
	if (s3key_generate(&k)) {
		fprintf(stderr, "strata: no random bytes for a new key\n");
		goto out;
	}
	if ((fd = lock_file(path, err, sizeof(err))) < 0 ||
	    s3keys_load(path, &keys, &st, err, sizeof(err)) || s3keys_add(&keys, &k) ||
	    s3keys_save(path, &keys, err, sizeof(err))) {
		fprintf(stderr, "strata: %s\n", err);
		goto out;
	}
	if (cli->json) {
		cJSON *o = key_json(&k, true);
		cJSON_AddStringToObject(o, "file", path);
		char *text = cJSON_Print(o);
		if (text) {
			printf("%s\n", text);
			OPENSSL_cleanse(text, strlen(text));
		}
		free(text);
		cJSON_Delete(o);
	} else {
		printf("access key id:     %s\n"
		       "secret access key: %s\n"
		       "role:              %s\n"
		       "buckets:           %s\n"
		       "key file:          %s\n"
		       "The secret is shown only now. Copy the key file to every worker "
		       "(mode 0600).\n",
		       k.id, k.secret, s3key_role_name(k.role), k.buckets[0] ? k.buckets : "*", path);
	}
	code = EXIT_OK;
out:
	if (fd >= 0)
		close(fd);
	s3keys_free(&keys);
	OPENSSL_cleanse(&k, sizeof(k));
	return code;
}

static int cmd_list(struct cli *cli, const char *path)
{
	struct s3keys keys = { 0 };
	struct s3keys_stamp st;
	char err[1600];
	if (s3keys_load(path, &keys, &st, err, sizeof(err))) {
		fprintf(stderr, "strata: %s\n", err);
		return EXIT_ERROR;
	}
	if (cli->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "file", path);
		cJSON *arr = cJSON_AddArrayToObject(o, "keys");
		for (size_t i = 0; i < keys.n; i++)
			cJSON_AddItemToArray(arr, key_json(&keys.keys[i], false));
		cli_print_json(o);
		cJSON_Delete(o);
	} else {
		printf("  %-22s %-9s %-21s %s\n", "ID", "ROLE", "CREATED", "BUCKETS");
		for (size_t i = 0; i < keys.n; i++) {
			const struct s3key *k = &keys.keys[i];
			char when[32];
			fmt_time(k->created, when, sizeof(when));
			printf("  %-22s %-9s %-21s %s\n", k->id, s3key_role_name(k->role), when,
			       k->buckets[0] ? k->buckets : "*");
		}
		if (!keys.n)
			printf("  (no keys in %s: the S3 gateway accepts every request)\n", path);
	}
	s3keys_free(&keys);
	return EXIT_OK;
}

static int cmd_revoke(const char *path, const char *id)
{
	struct s3keys keys = { 0 };
	struct s3keys_stamp st;
	char err[1600];
	int code = EXIT_ERROR;
	int fd = lock_file(path, err, sizeof(err));
	if (fd < 0 || s3keys_load(path, &keys, &st, err, sizeof(err))) {
		fprintf(stderr, "strata: %s\n", err);
		goto out;
	}
	if (s3keys_remove(&keys, id)) {
		fprintf(stderr, "strata: no S3 access key '%s' in %s\n", id, path);
		goto out;
	}
	if (s3keys_save(path, &keys, err, sizeof(err))) {
		fprintf(stderr, "strata: %s\n", err);
		goto out;
	}
	printf("revoked %s (%zu key%s left in %s)\n", id, keys.n, keys.n == 1 ? "" : "s", path);
	code = EXIT_OK;
out:
	if (fd >= 0)
		close(fd);
	s3keys_free(&keys);
	return code;
}

int cli_admin_s3key(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "buckets", required_argument, NULL, 'b' },
		{ "file", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *role = NULL, *buckets = NULL, *file = NULL;
	if (argc < 2) {
		fprintf(stderr, "strata: admin s3key: create, list or revoke?\n");
		return EXIT_USAGE;
	}
	const char *cmd = argv[1];
	bool create = !strcmp(cmd, "create"), list = !strcmp(cmd, "list"),
	     revoke = !strcmp(cmd, "revoke");
	if (!create && !list && !revoke) {
		fprintf(stderr, "strata: unknown command 'admin s3key %s'\n", cmd);
		return EXIT_USAGE;
	}
	/* Options go anywhere after the subcommand (argv + 1: "create" ...). */
	int sargc = argc - 1;
	char **sargv = argv + 1;
	optind = 0;
	int c;
	while ((c = getopt_long(sargc, sargv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			role = optarg;
			break;
		case 'b':
			buckets = optarg;
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
	int rest = sargc - optind;
	if ((revoke && rest != 1) || (!revoke && rest != 0) || (!create && (role || buckets))) {
		fprintf(stderr, "strata: admin s3key %s: unexpected arguments (see --help)\n", cmd);
		return EXIT_USAGE;
	}
	char path[1200], err[1400];
	if (file) {
		snprintf(path, sizeof(path), "%s", file);
	} else if (daemon_s3_key_file(&cli->conf, path, sizeof(path), err, sizeof(err))) {
		fprintf(stderr, "strata: %s\n", err);
		return EXIT_ERROR;
	}
	if (create)
		return cmd_create(cli, path, role, buckets);
	if (list)
		return cmd_list(cli, path);
	return cmd_revoke(path, sargv[optind]);
}
