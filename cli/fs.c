/* `strata fs ...`: the namespace from the command line. */
#include "cli/cli.h"

#include "client/client.h"
#include "daemon/common.h"
#include "lib/conf.h"
#include "lib/placement.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

void cli_fs_usage(FILE *f)
{
	fprintf(f,
		"  fs mount [--readonly] [--option K=V]... PATH URI\n"
		"                    mount a store (file:///dir, s3://bucket/prefix) at PATH;\n"
		"                    options: s3.endpoint s3.region s3.access_key s3.secret_key\n"
		"                    s3.path_style block_size sync_interval ttl ttl_action\n"
		"  fs remount [--option K=V]... [--unset K]... PATH\n"
		"                    change a mount's options live: sync_interval ttl\n"
		"                    ttl_action s3.access_key s3.secret_key (--unset: back\n"
		"                    to the default)\n"
		"  fs unmount PATH   remove a mount (the store is untouched)\n"
		"  fs mounts         list mounts\n"
		"  fs ls [-R] [-l] PATH\n"
		"                    list a directory (-R: recursively; -l: with policies)\n"
		"  fs stat PATH      one file or directory\n"
		"  fs mkdir [-p] PATH\n"
		"  fs rm [-r] PATH   delete (also from the store)\n"
		"  fs mv SRC DST     rename within one mount\n"
		"  fs put [--write-type TYPE] LOCAL PATH\n"
		"                    upload a local file ('-': standard input) through a\n"
		"                    worker; TYPE: THROUGH (store only), CACHE_THROUGH (store\n"
		"                    and cache), ASYNC_THROUGH (cache now, store by a persist\n"
		"                    job), MUST_CACHE (cache only); default: PATH's policy\n"
		"  fs writetype [-R] PATH TYPE|default\n"
		"                    default write type of files written under PATH\n"
		"  fs cat PATH       write a file to standard output (read through a worker's\n"
		"                    cache)\n"
		"  fs pin [-R] [--medium MEM|SSD|HDD] PATH\n"
		"  fs unpin [-R] PATH\n"
		"                    keep a path's blocks cached (-R: also what is below)\n"
		"  fs ttl [-R] [--action free|delete] PATH DURATION\n"
		"  fs unttl [-R] PATH\n"
		"                    time to live (e.g. 1h): then free its cache or delete it\n"
		"                    from strata and the store (default delete)\n"
		"  fs replication [-R] [--min N] [--max N|unbounded] PATH\n"
		"                    cached copies to keep (default min 0, max unbounded;\n"
		"                    -1 also means unbounded)\n"
		"  fs persist [-R] [--no-wait] PATH\n"
		"                    write what only the caches hold (ASYNC_THROUGH,\n"
		"                    MUST_CACHE) to the store (a job)\n"
		"  a directory's policy is inherited by what is created or loaded under it;\n"
		"  the mount options ttl=DURATION and ttl_action=free|delete set a default\n");
}

/* "pin:MEM ttl:3600s/delete repl:1..3", or "-" without policies. */
static void fmt_policies(const struct client_inode *e, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	if (e->pinned)
		off += (size_t)snprintf(buf + off, len - off, "pin:%s ",
					*e->pin_medium ? e->pin_medium : "any");
	if (e->ttl_ms > 0 && off < len)
		off += (size_t)snprintf(buf + off, len - off, "ttl:%gs/%s ",
					(double)e->ttl_ms / 1000, e->ttl_action);
	if (e->write_type && *e->write_type && off < len)
		off += (size_t)snprintf(buf + off, len - off, "wt:%s ", e->write_type);
	if ((e->repl_min > 0 || e->repl_max >= 0) && off < len) {
		if (e->repl_max >= 0)
			off += (size_t)snprintf(buf + off, len - off, "repl:%" PRId64 "..%" PRId64 " ",
						e->repl_min, e->repl_max);
		else
			off += (size_t)snprintf(buf + off, len - off, "repl:%" PRId64 ".. ",
						e->repl_min);
	}
	if (off == 0)
		snprintf(buf, len, "-");
	else if (off < len)
		buf[off - 1] = '\0';
}

static void print_entry(const struct client_inode *e, bool long_format)
{
	if (long_format) {
		char pol[160];
		fmt_policies(e, pol, sizeof(pol));
		printf("%-32s %-13s ", pol,
		       e->persistence && *e->persistence ? e->persistence : "-");
	}
	char when[32] = "-";
	time_t t = (time_t)(e->mtime_ms / 1000);
	struct tm tm;
	if (t > 0 && localtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%s %14" PRIu64 "  %s  %s%s\n", e->is_dir ? "d" : "-", e->length, when, e->path,
	       e->mount_point ? "  (mount)" : "");
}

/* Parses the subcommand's flags; `flags` is a getopt short-option string
 * and its one boolean flag (-R, -r or -p) sets *flag; --option K=V go to
 * kv. Returns the index of the first operand, or -1 on a usage error. */
static int sub_opts(struct cli *cli, int argc, char **argv, const char *flags, bool *flag,
		    char ***kv, size_t *nkv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "readonly", no_argument, NULL, 'R' },
		{ "option", required_argument, NULL, 'o' },
		{ "recursive", no_argument, NULL, 'r' },
		{ "parents", no_argument, NULL, 'p' },
		{ "unset", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	optind = 0;
	opterr = 1;
	int c;
	while ((c = getopt_long(argc, argv, flags, longs, NULL)) != -1) {
		if (c == 'j') {
			cli->json = true;
		} else if ((c == 'o' || (c == 'u' && strchr(flags, 'u'))) && kv) {
			/* With --unset K (a bare K), --option must carry its '='. */
			if (strchr(flags, 'u') && (c == 'u') == (strchr(optarg, '=') != NULL)) {
				fprintf(stderr, "strata: --%s '%s': expected %s\n",
					c == 'u' ? "unset" : "option", optarg,
					c == 'u' ? "KEY" : "KEY=VALUE");
				return -1;
			}
			char **grown = realloc(*kv, (*nkv + 1) * sizeof(*grown));
			if (!grown)
				return -1;
			*kv = grown;
			grown[(*nkv)++] = optarg;
		} else if (flag && (c == 'R' || c == 'r' || c == 'p') && strchr(flags, c)) {
			*flag = true;
		} else {
			return -1;
		}
	}
	return optind;
}

static int usage_err(const char *cmd, const char *fmt)
{
	fprintf(stderr, "strata: usage: strata fs %s %s\n", cmd, fmt);
	return EXIT_USAGE;
}

/* --json of mount: what the master answers (MountReply). */
static void print_mounted(const char *path, const char *uri, bool readonly)
{
	cJSON *doc = cJSON_CreateObject();
	if (doc && cJSON_AddStringToObject(doc, "path", path) &&
	    cJSON_AddStringToObject(doc, "uri", uri) &&
	    cJSON_AddBoolToObject(doc, "readonly", readonly))
		cli_print_json(doc);
	cJSON_Delete(doc);
}

static int cmd_mount(struct cli *cli, int argc, char **argv)
{
	bool readonly = false;
	char **kv = NULL;
	size_t nkv = 0;
	int i = sub_opts(cli, argc, argv, "+Ro:j", &readonly, &kv, &nkv);
	if (i < 0 || argc - i != 2) {
		free(kv);
		return usage_err("mount", "[--readonly] [--option K=V]... PATH URI");
	}
	for (size_t k = 0; k < nkv; k++) {
		char *eq = strchr(kv[k], '=');
		if (!eq || eq == kv[k]) {
			fprintf(stderr, "strata: --option '%s': expected KEY=VALUE\n", kv[k]);
			free(kv);
			return EXIT_USAGE;
		}
	}
	char err[1024] = "";
	int rc = client_mount_add(cli->masters, cli->http, argv[i], argv[i + 1], readonly,
				  (const char *const *)kv, nkv, err, sizeof(err));
	free(kv);
	if (!rc) {
		if (cli->json)
			print_mounted(argv[i], argv[i + 1], readonly);
		else
			printf("mounted %s at %s%s\n", argv[i + 1], argv[i],
			       readonly ? " (read-only)" : "");
	}
	return cli_fail(rc, err);
}

/* --unset K goes to the client as a bare "K" (remove), --option K=V as is. */
static int cmd_remount(struct cli *cli, int argc, char **argv)
{
	char **kv = NULL;
	size_t nkv = 0;
	int i = sub_opts(cli, argc, argv, "+o:u:j", NULL, &kv, &nkv);
	if (i < 0 || argc - i != 1 || nkv == 0) {
		free(kv);
		return usage_err("remount", "[--option K=V]... [--unset K]... PATH");
	}
	for (size_t k = 0; k < nkv; k++) {
		if (kv[k][0] == '\0' || kv[k][0] == '=') {
			fprintf(stderr, "strata: '%s': the option has no name\n", kv[k]);
			free(kv);
			return EXIT_USAGE;
		}
	}
	char err[1024] = "";
	bool changed = false;
	int rc = client_mount_update(cli->masters, cli->http, argv[i], (const char *const *)kv,
				     nkv, &changed, err, sizeof(err));
	free(kv);
	if (!rc && cli->json) {
		cJSON *doc = cJSON_CreateObject();
		if (doc && cJSON_AddStringToObject(doc, "path", argv[i]) &&
		    cJSON_AddBoolToObject(doc, "changed", changed))
			cli_print_json(doc);
		cJSON_Delete(doc);
	} else if (!rc) {
		printf(changed ? "updated the options of %s\n" : "%s: options unchanged\n",
		       argv[i]);
	}
	return cli_fail(rc, err);
}

static int cmd_unmount(struct cli *cli, int argc, char **argv)
{
	int i = sub_opts(cli, argc, argv, "+j", NULL, NULL, NULL);
	if (i < 0 || argc - i != 1)
		return usage_err("unmount", "PATH");
	char err[1024] = "";
	int rc = client_mount_remove(cli->masters, cli->http, argv[i], err, sizeof(err));
	if (!rc && cli->json) {
		cJSON *doc = cJSON_CreateObject();
		if (doc && cJSON_AddStringToObject(doc, "unmounted", argv[i]))
			cli_print_json(doc);
		cJSON_Delete(doc);
	} else if (!rc) {
		printf("unmounted %s\n", argv[i]);
	}
	return cli_fail(rc, err);
}

static int cmd_mounts(struct cli *cli, int argc, char **argv)
{
	int i = sub_opts(cli, argc, argv, "+j", NULL, NULL, NULL);
	if (i < 0 || argc != i)
		return usage_err("mounts", "");
	struct client_mount_list l;
	char err[1024] = "";
	int rc = client_mount_list(cli->masters, cli->http, &l, err, sizeof(err));
	if (rc)
		return cli_fail(rc, err);
	if (cli->json) {
		cli_print_json(l.json);
		client_mount_list_clear(&l);
		return EXIT_OK;
	}
	printf("%-24s %-40s %-4s %10s %s\n", "PATH", "URI", "MODE", "BLOCK", "SYNC");
	for (size_t k = 0; k < l.n; k++) {
		const struct client_mount *m = &l.mounts[k];
		char bs[32], sync[32];
		cli_fmt_bytes((double)m->block_size, bs, sizeof(bs));
		if (m->sync_interval_ms < 0)
			snprintf(sync, sizeof(sync), "never");
		else if (m->sync_interval_ms == 0)
			snprintf(sync, sizeof(sync), "always");
		else
			snprintf(sync, sizeof(sync), "%.0fs", (double)m->sync_interval_ms / 1000);
		printf("%-24s %-40s %-4s %10s %s\n", m->path, m->uri, m->readonly ? "ro" : "rw", bs,
		       sync);
	}
	client_mount_list_clear(&l);
	return EXIT_OK;
}

/* Lists one directory page by page (printing, or collecting each entry's
 * JSON into all); recurses into subdirectories. */
static int list_dir(struct cli *cli, const char *path, bool recursive, bool long_format,
		    cJSON *all, char *err, size_t errlen)
{
	char *after = NULL;
	int rc = 0;
	for (;;) {
		struct client_listing l;
		rc = client_fs_list(cli->masters, cli->http, path, after, 1000, &l, err, errlen);
		free(after);
		after = NULL;
		if (rc)
			break;
		const cJSON *e;
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(l.json, "entries"))
			if (all && !cJSON_AddItemToArray(all, cJSON_Duplicate(e, 1)))
				rc = -ENOMEM;
		for (size_t k = 0; !all && k < l.nentries; k++)
			print_entry(&l.entries[k], long_format);
		if (l.next_after && !(after = strdup(l.next_after)))
			rc = -ENOMEM;
		for (size_t k = 0; !rc && recursive && k < l.nentries; k++) {
			const struct client_inode *n = &l.entries[k];
			if (n->is_dir && strcmp(n->path, path) != 0)
				rc = list_dir(cli, n->path, true, long_format, all, err, errlen);
		}
		client_listing_clear(&l);
		if (rc || !after)
			break;
	}
	free(after);
	return rc;
}

static int cmd_ls(struct cli *cli, int argc, char **argv)
{
	bool recursive = false, long_format = false;
	optind = 0;
	opterr = 1;
	int c;
	static const struct option longs[] = { { "json", no_argument, NULL, 'j' },
					       { NULL, 0, NULL, 0 } };
	while ((c = getopt_long(argc, argv, "+Rlj", longs, NULL)) != -1) {
		if (c == 'j')
			cli->json = true;
		else if (c == 'R')
			recursive = true;
		else if (c == 'l')
			long_format = true;
		else
			return usage_err("ls", "[-R] [-l] [PATH]");
	}
	int i = optind;
	if (argc - i > 1)
		return usage_err("ls", "[-R] [-l] [PATH]");
	const char *path = argc - i == 1 ? argv[i] : "/";
	cJSON *all = cli->json ? cJSON_CreateArray() : NULL;
	char err[1024] = "";
	int rc = cli->json && !all ? -ENOMEM
				   : list_dir(cli, path, recursive, long_format, all, err, sizeof(err));
	if (!rc && all) {
		cJSON *doc = cJSON_CreateObject();
		cJSON_AddStringToObject(doc, "path", path);
		cJSON_AddItemToObject(doc, "entries", all);
		cli_print_json(doc);
		cJSON_Delete(doc);
	} else {
		cJSON_Delete(all);
	}
	return cli_fail(rc, err);
}

static int cmd_stat(struct cli *cli, int argc, char **argv)
{
	int i = sub_opts(cli, argc, argv, "+j", NULL, NULL, NULL);
	if (i < 0 || argc - i != 1)
		return usage_err("stat", "PATH");
	struct client_inode n;
	char err[1024] = "";
	int rc = client_fs_stat(cli->masters, cli->http, argv[i], &n, err, sizeof(err));
	if (rc)
		return cli_fail(rc, err);
	if (cli->json) {
		cli_print_json(n.json);
		client_inode_clear(&n);
		return EXIT_OK;
	}
	char size[32];
	cli_fmt_bytes((double)n.length, size, sizeof(size));
	printf("path         %s\n", n.path);
	printf("type         %s%s\n", n.is_dir ? "directory" : "file",
	       n.mount_point ? " (mount point)" : "");
	printf("length       %" PRIu64 " (%s)\n", n.length, size);
	printf("mtime_ms     %" PRId64 "\n", n.mtime_ms);
	if (*n.fingerprint)
		printf("fingerprint  %s\n", n.fingerprint);
	printf("id           %" PRIu64 "\n", n.id);
	if (n.cached_percent >= 0)
		printf("cached       %.1f%% of %zu blocks\n", n.cached_percent, n.nblocks);
	printf("pinned       %s%s%s\n", n.pinned ? "yes" : "no", *n.pin_medium ? " on " : "",
	       n.pin_medium);
	if (n.ttl_ms > 0) {
		printf("ttl          %gs, then %s\n", (double)n.ttl_ms / 1000, n.ttl_action);
		if (n.ttl_expiry_ms > 0) {
			char when[32] = "-";
			time_t t = (time_t)(n.ttl_expiry_ms / 1000);
			struct tm tm;
			if (localtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
			printf("ttl_expiry   %s (%" PRId64 ")\n", when, n.ttl_expiry_ms);
		}
	} else {
		printf("ttl          none\n");
	}
	if (n.repl_max >= 0)
		printf("replication  min %" PRId64 ", max %" PRId64 "\n", n.repl_min, n.repl_max);
	else
		printf("replication  min %" PRId64 ", max unbounded\n", n.repl_min);
	printf("write_type   %s\n", n.write_type && *n.write_type ? n.write_type
								: "(none: CACHE_THROUGH)");
	if (n.persistence && *n.persistence)
		printf("persistence  %s\n", n.persistence);
	client_inode_clear(&n);
	return EXIT_OK;
}

static int cmd_mkdir(struct cli *cli, int argc, char **argv)
{
	bool parents = false;
	int i = sub_opts(cli, argc, argv, "+pj", &parents, NULL, NULL);
	if (i < 0 || argc - i < 1)
		return usage_err("mkdir", "[-p] PATH...");
	int rc = 0;
	char err[1024] = "";
	for (; !rc && i < argc; i++)
		rc = client_mkdir(cli->masters, cli->http, argv[i], parents, NULL, err, sizeof(err));
	return cli_fail(rc, err);
}

static int cmd_rm(struct cli *cli, int argc, char **argv)
{
	bool recursive = false;
	int i = sub_opts(cli, argc, argv, "+rRj", &recursive, NULL, NULL);
	if (i < 0 || argc - i < 1)
		return usage_err("rm", "[-r] PATH...");
	int rc = 0;
	char err[1024] = "";
	for (; !rc && i < argc; i++)
		rc = client_delete(cli->masters, cli->http, argv[i], recursive, err, sizeof(err));
	return cli_fail(rc, err);
}

static int cmd_mv(struct cli *cli, int argc, char **argv)
{
	int i = sub_opts(cli, argc, argv, "+j", NULL, NULL, NULL);
	if (i < 0 || argc - i != 2)
		return usage_err("mv", "SRC DST");
	char err[1024] = "";
	int rc = client_rename(cli->masters, cli->http, argv[i], argv[i + 1], NULL, err,
			       sizeof(err));
	return cli_fail(rc, err);
}

/* "THROUGH", ... from a user's spelling (any case) into buf; false when it
 * is none of them. */
static bool write_type_arg(const char *arg, char *buf, size_t len)
{
	static const char *const types[] = { "THROUGH", "CACHE_THROUGH", "ASYNC_THROUGH",
					     "MUST_CACHE" };
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++) {
		if (strcasecmp(arg, types[k]) == 0) {
			snprintf(buf, len, "%s", types[k]);
			return true;
		}
	}
	return false;
}

/* put and cat stream through a worker (its cache and write types), never
 * through a master: client_data_put / client_data_get. */
static int cmd_put(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "write-type", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	const char *write_type = NULL;
	char wt[16];
	optind = 0;
	opterr = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+jw:", longs, NULL)) != -1) {
		if (c == 'j') {
			cli->json = true;
		} else if (c == 'w' && write_type_arg(optarg, wt, sizeof(wt))) {
			write_type = wt;
		} else if (c == 'w') {
			fprintf(stderr, "strata: --write-type '%s' is not THROUGH, CACHE_THROUGH, "
				"ASYNC_THROUGH or MUST_CACHE\n", optarg);
			return EXIT_USAGE;
		} else {
			return usage_err("put", "[--write-type TYPE] LOCAL_FILE PATH");
		}
	}
	int i = optind;
	if (argc - i != 2)
		return usage_err("put", "[--write-type TYPE] LOCAL_FILE PATH");
	bool std = strcmp(argv[i], "-") == 0;
	FILE *in = std ? stdin : fopen(argv[i], "rb");
	if (!in) {
		fprintf(stderr, "strata: %s: %s\n", argv[i], strerror(errno));
		return EXIT_ERROR;
	}
	struct stat st;
	int64_t size = !std && fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
	char err[1024] = "";
	int rc = client_data_put(cli->masters, cli->http, argv[i + 1], in, size, write_type, NULL,
				 err, sizeof(err));
	if (!std)
		fclose(in);
	return cli_fail(rc, err);
}

static int cmd_cat(struct cli *cli, int argc, char **argv)
{
	int i = sub_opts(cli, argc, argv, "+", NULL, NULL, NULL);
	if (i < 0 || argc - i != 1)
		return usage_err("cat", "PATH");
	/* The version the master has now, so a worker that knows an older
	 * one (changed elsewhere within worker.metadata_ttl) asks again. */
	char err[1024] = "";
	struct client_inode n = { 0 };
	int rc = client_fs_stat(cli->masters, cli->http, argv[i], &n, err, sizeof(err));
	bool dir = !rc && n.is_dir;
	uint64_t data_id = !rc && n.nblocks ? n.blocks[0].id >> PLACEMENT_INDEX_BITS : 0;
	client_inode_clear(&n);
	if (dir) {
		snprintf(err, sizeof(err), "%s: is a directory", argv[i]);
		rc = -EISDIR;
	}
	if (!rc)
		rc = client_data_get_version(cli->masters, cli->http, argv[i], data_id, stdout, err,
					     sizeof(err));
	fflush(stdout);
	return cli_fail(rc, err);
}

/* pin, unpin, ttl, unttl, replication: one policy request each. */
static int policy_done(struct cli *cli, int rc, const char *err, const char *path,
		       const char *what, bool changed, struct client_inode *n)
{
	if (rc)
		return cli_fail(rc, err);
	if (cli->json) {
		cJSON *doc = cJSON_CreateObject();
		if (doc && cJSON_AddBoolToObject(doc, "changed", changed) &&
		    cJSON_AddItemToObject(doc, "inode", n->json))
			n->json = NULL;
		cli_print_json(doc);
		cJSON_Delete(doc);
	} else {
		char pol[160];
		fmt_policies(n, pol, sizeof(pol));
		printf("%s %s: %s (%s)\n", changed ? what : "unchanged", path, pol,
		       changed ? "set" : "already so");
	}
	client_inode_clear(n);
	return EXIT_OK;
}

/* fs writetype [-R] PATH TYPE|default */
static int cmd_writetype(struct cli *cli, int argc, char **argv)
{
	bool recursive = false;
	int i = sub_opts(cli, argc, argv, "+Rrj", &recursive, NULL, NULL);
	if (i < 0 || argc - i != 2)
		return usage_err("writetype", "[-R] PATH THROUGH|CACHE_THROUGH|ASYNC_THROUGH|"
					      "MUST_CACHE|default");
	char wt[16];
	bool clear = strcasecmp(argv[i + 1], "default") == 0;
	if (!clear && !write_type_arg(argv[i + 1], wt, sizeof(wt))) {
		fprintf(stderr, "strata: fs writetype: '%s' is not THROUGH, CACHE_THROUGH, "
			"ASYNC_THROUGH, MUST_CACHE or default\n", argv[i + 1]);
		return EXIT_USAGE;
	}
	struct client_policy_req r = { .kind = CLIENT_POLICY_WRITE_TYPE, .recursive = recursive,
				       .write_type = wt, .max = -1 };
	struct client_inode n;
	bool changed = false;
	char err[1024] = "";
	int rc = clear ? client_policy_clear(cli->masters, cli->http, CLIENT_POLICY_WRITE_TYPE,
					     argv[i], recursive, &changed, &n, err, sizeof(err))
		       : client_policy_set(cli->masters, cli->http, argv[i], &r, &changed, &n,
					   err, sizeof(err));
	return policy_done(cli, rc, err, argv[i], clear ? "cleared" : "writetype", changed, &n);
}

static int cmd_policy(struct cli *cli, int argc, char **argv)
{
	static const struct option longs[] = {
		{ "json", no_argument, NULL, 'j' },     { "recursive", no_argument, NULL, 'R' },
		{ "medium", required_argument, NULL, 'm' }, { "action", required_argument, NULL, 'a' },
		{ "min", required_argument, NULL, 'n' }, { "max", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = argv[0];
	bool set = strcmp(cmd, "unpin") != 0 && strcmp(cmd, "unttl") != 0;
	struct client_policy_req r = { .max = -1 };
	r.kind = strstr(cmd, "pin") ? CLIENT_POLICY_PIN
		 : strstr(cmd, "ttl") ? CLIENT_POLICY_TTL : CLIENT_POLICY_REPLICATION;
	static const char *const usage[] = {
		[CLIENT_POLICY_PIN] = "[-R] [--medium MEM|SSD|HDD] PATH",
		[CLIENT_POLICY_TTL] = "[-R] [--action free|delete] PATH DURATION",
		[CLIENT_POLICY_REPLICATION] = "[-R] [--min N] [--max N|unbounded] PATH",
	};
	const char *use = set ? usage[r.kind] : "[-R] PATH";
	char medium[8] = "";
	optind = 0;
	opterr = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+Rrj", longs, NULL)) != -1) {
		if (c == 'j') {
			cli->json = true;
		} else if (c == 'R' || c == 'r') {
			r.recursive = true;
		} else if (c == 'm' && set && r.kind == CLIENT_POLICY_PIN && strlen(optarg) < 8) {
			for (size_t k = 0; optarg[k]; k++)
				medium[k] = (char)(optarg[k] >= 'a' && optarg[k] <= 'z'
							   ? optarg[k] - 'a' + 'A'
							   : optarg[k]);
			r.medium = medium;
		} else if (c == 'a' && set && r.kind == CLIENT_POLICY_TTL) {
			r.action = optarg;
		} else if ((c == 'n' || c == 'x') && set && r.kind == CLIENT_POLICY_REPLICATION) {
			if (c == 'x' && strcasecmp(optarg, "unbounded") == 0)
				r.max = -1;
			else if (conf_parse_int(optarg, c == 'n' ? &r.min : &r.max)) {
				fprintf(stderr, "strata: --%s '%s' is not an integer\n",
					c == 'n' ? "min" : "max", optarg);
				return EXIT_USAGE;
			}
		} else {
			return usage_err(cmd, use);
		}
	}
	int i = optind;
	int want = set && r.kind == CLIENT_POLICY_TTL ? 2 : 1;
	if (argc - i != want)
		return usage_err(cmd, use);
	if (want == 2 && (conf_parse_duration(argv[i + 1], &r.ttl_ms) || r.ttl_ms <= 0)) {
		fprintf(stderr, "strata: fs ttl: '%s' is not a duration above 0 (e.g. 90s, 1h)\n",
			argv[i + 1]);
		return EXIT_USAGE;
	}
	struct client_inode n;
	bool changed = false;
	char err[1024] = "";
	int rc = set ? client_policy_set(cli->masters, cli->http, argv[i], &r, &changed, &n, err,
					 sizeof(err))
		     : client_policy_clear(cli->masters, cli->http, r.kind, argv[i], r.recursive,
					   &changed, &n, err, sizeof(err));
	return policy_done(cli, rc, err, argv[i], set ? cmd : "cleared", changed, &n);
}

int cli_fs(struct cli *cli, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli *cli, int argc, char **argv);
	} cmds[] = {
		{ "mount", cmd_mount }, { "unmount", cmd_unmount },
		{ "remount", cmd_remount }, { "mounts", cmd_mounts },
		{ "ls", cmd_ls },       { "stat", cmd_stat },       { "mkdir", cmd_mkdir },
		{ "rm", cmd_rm },       { "mv", cmd_mv },           { "put", cmd_put },
		{ "cat", cmd_cat },     { "pin", cmd_policy },      { "unpin", cmd_policy },
		{ "ttl", cmd_policy },  { "unttl", cmd_policy },    { "replication", cmd_policy },
		{ "load", cli_fs_job }, { "free", cli_fs_job },
		{ "persist", cli_fs_job }, { "writetype", cmd_writetype },
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[0], cmds[i].name) == 0)
			return cmds[i].fn(cli, argc, argv);
	fprintf(stderr, "strata: unknown command 'fs %s'\n", argv[0]);
	return EXIT_USAGE;
}
