/* `strata admin backup FILE` and `strata admin restore FILE`: metadata
 * backups (daemon/master/backup.h, docs/operations.md "Backup and
 * restore"). */
#include "cli/cli.h"

#include "client/client.h"
#include "daemon/common.h"
#include "daemon/master/backup.h"
#include "daemon/master/peers.h"
#include "lib/err.h"
#include "lib/httpc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void cli_admin_backup_usage(FILE *f)
{
	fprintf(f,
		"  admin backup FILE\n"
		"                    a consistent copy of the master metadata, taken on the\n"
		"                    leader, written to FILE (0600) and verified\n"
		"  admin restore FILE [--state-dir DIR] [--id ID] [--force]\n"
		"                    lay a backup down in a STOPPED master's state dir\n"
		"                    (default master.state_dir); the master started there is\n"
		"                    a new group of master.peers' ids, or of --id/master.id\n");
}

struct backup_call {
	struct httpc *hc;
	FILE *out;
	struct httpc_resp resp;
};

/* One GET of the backup into c->out (emptied first: a redirect or a 503
 * may come before the answer). */
static int backup_attempt(void *arg, const char *url, long *status, const char **location,
			  char *err, size_t errlen)
{
	struct backup_call *c = arg;
	httpc_resp_free(&c->resp);
	if (fflush(c->out) != 0 || ftruncate(fileno(c->out), 0) != 0 ||
	    fseeko(c->out, 0, SEEK_SET) != 0) {
		snprintf(err, errlen, "cannot rewrite the temporary file: %s", strerror(errno));
		return -EIO;
	}
	int rc = httpc_stream(c->hc, "GET", url, NULL, -1, c->out, &c->resp, err, errlen);
	if (rc)
		return rc;
	*status = c->resp.status;
	*location = c->resp.location;
	if (c->resp.status == 503) {
		cJSON *body = cJSON_Parse(c->resp.body);
		bool no_leader = client_is_no_leader(c->resp.status, body);
		cJSON_Delete(body);
		if (no_leader)
			return -EAGAIN;
	}
	return 0;
}

/* The server's error message of a non-2xx reply, or the status. */
static void reply_error(const struct httpc_resp *r, char *err, size_t errlen)
{
	cJSON *body = cJSON_Parse(r->body);
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(body, "error");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
	if (cJSON_IsString(msg))
		snprintf(err, errlen, "backup: HTTP %ld: %s", r->status, msg->valuestring);
	else
		snprintf(err, errlen, "backup: HTTP %ld from the master", r->status);
	cJSON_Delete(body);
}

/* Reads a whole file into *out (caller frees). */
static int read_whole(const char *path, uint8_t **out, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		int rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	size_t size = (size_t)sb.st_size, got = 0;
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int rc = n < 0 ? -errno : -EIO;
			snprintf(err, errlen, "%s: read: %s", path, n < 0 ? strerror(errno) :
				 "file shrank while reading");
			free(buf);
			close(fd);
			return rc;
		}
		got += (size_t)n;
	}
	close(fd);
	*out = buf;
	*len = size;
	return 0;
}

static int fsync_dir_of(const char *path)
{
	char copy[4096];
	snprintf(copy, sizeof(copy), "%s", path);
	int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	int rc = fsync(dfd) ? -errno : 0;
	close(dfd);
	return rc;
}

static void print_header(const char *what, const char *file, const struct backup_header *h,
			 size_t len)
{
	char size[32];
	cli_fmt_bytes((double)len, size, sizeof(size));
	char when[64] = "?";
	time_t t = (time_t)(h->created_ms / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%s %s: metadata at Raft entry %" PRIu64 " (term %" PRIu64 ", master %" PRIu64
	       ", taken %s), %s, format %u, sha256 ", what, file, h->applied_index, h->term,
	       h->master_id, when, size, h->version);
	for (int i = 0; i < 32; i++)
		printf("%02x", h->sha256[i]);
	printf("\n");
}

static int cmd_backup(struct cli *cli, const char *file)
{
	char err[1024] = "";
	char tmp[900];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", file) >= (int)sizeof(tmp))
		return cli_fail(-ENAMETOOLONG, "backup: file name too long");
	int fd = mkstemp(tmp); /* 0600 */
	if (fd < 0) {
		snprintf(err, sizeof(err), "%s: %s", file, strerror(errno));
		return cli_fail(-EIO, err);
	}
	struct backup_call c = { .hc = cli->http, .out = fdopen(fd, "w+") };
	if (!c.out) {
		close(fd);
		unlink(tmp);
		return cli_fail(-ENOMEM, "");
	}
	long status = 0;
	int rc = client_call(cli->masters, "/api/v1/admin/backup", backup_attempt, &c, &status,
			     err, sizeof(err));
	if (rc == -EAGAIN) {
		snprintf(err, sizeof(err), "backup: no master knows a leader now; retry");
		rc = ST_ENOLEADER;
	} else if (!rc && status != 200) {
		reply_error(&c.resp, err, sizeof(err));
		rc = ST_EHTTP;
	}
	if (!rc && (fflush(c.out) != 0 || fsync(fileno(c.out)) != 0)) {
		rc = -errno;
		snprintf(err, sizeof(err), "%s: %s", tmp, strerror(errno));
	}
	httpc_resp_free(&c.resp);
	fclose(c.out);
	/* Verify what landed on disk before giving it the final name. */
	uint8_t *buf = NULL;
	size_t len = 0;
	struct backup_header h;
	const uint8_t *payload;
	if (!rc)
		rc = read_whole(tmp, &buf, &len, err, sizeof(err));
	if (!rc)
		rc = backup_decode(buf, len, &h, &payload, err, sizeof(err));
	free(buf);
	if (!rc && rename(tmp, file) != 0) {
		rc = -errno;
		snprintf(err, sizeof(err), "rename to %s: %s", file, strerror(errno));
	}
	if (rc) {
		unlink(tmp);
		return cli_fail(rc, err);
	}
	if ((rc = fsync_dir_of(file)) != 0) {
		snprintf(err, sizeof(err), "%s: fsync of its directory: %s", file, strerror(-rc));
		return cli_fail(rc, err);
	}
	if (cli->json) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "file", file);
		char num[32];
		snprintf(num, sizeof(num), "%" PRIu64, h.applied_index);
		cJSON_AddStringToObject(o, "applied_index", num);
		snprintf(num, sizeof(num), "%" PRIu64, h.term);
		cJSON_AddStringToObject(o, "term", num);
		cJSON_AddNumberToObject(o, "bytes", (double)len);
		cli_print_json(o);
		cJSON_Delete(o);
	} else {
		print_header("backup", file, &h, len);
	}
	return EXIT_OK;
}

/* The new group: master.peers' ids, else --id or master.id. */
static int restore_voters(struct cli *cli, uint64_t id, uint64_t *voters, size_t *n,
			  char *err, size_t errlen)
{
	if (id) {
		voters[0] = id;
		*n = 1;
		return 0;
	}
	if (!cli->conf.master_peers.n) {
		voters[0] = (uint64_t)cli->conf.master_id;
		*n = 1;
		return 0;
	}
	struct peer peers[PEERS_MAX];
	size_t np = 0;
	int rc = peers_parse(cli->conf.master_peers.items, cli->conf.master_peers.n,
			     (uint64_t)cli->conf.master_id, peers, &np, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < np; i++)
		voters[i] = peers[i].id;
	*n = np;
	return 0;
}

static int cmd_restore(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 'd' },
		{ "id", required_argument, NULL, 'i' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = *cli->conf.master_state_dir ? cli->conf.master_state_dir : NULL;
	uint64_t id = 0;
	bool force = false;
	int c;
	optind = 0; /* GNU: a full reset, so options may follow FILE */
	while ((c = getopt_long(argc, argv, "d:i:f", opts, NULL)) != -1) {
		char *end = NULL;
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'i':
			errno = 0;
			id = strtoull(optarg, &end, 10);
			if (errno || !end || *end || id == 0 || *optarg == '-') {
				fprintf(stderr, "strata: admin restore: --id '%s' is not a master id "
					"(a number >= 1)\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'f':
			force = true;
			break;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "strata: admin restore: expected one FILE\n");
		return EXIT_USAGE;
	}
	if (!dir) {
		fprintf(stderr, "strata: admin restore: name the stopped master's state dir with "
			"--state-dir DIR (master.state_dir is not set)\n");
		return EXIT_USAGE;
	}
	const char *file = argv[optind];
	char err[1024] = "";
	uint64_t voters[PEERS_MAX];
	struct backup_restore_opts ro = { .state_dir = dir, .voters = voters, .force = force };
	int rc = restore_voters(cli, id, voters, &ro.nvoters, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "strata: admin restore: %s\n", err);
		return EXIT_USAGE;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	rc = read_whole(file, &buf, &len, err, sizeof(err));
	if (!rc)
		rc = backup_restore(buf, len, &ro, err, sizeof(err));
	struct backup_header h;
	const uint8_t *payload;
	if (!rc)
		backup_decode(buf, len, &h, &payload, err, sizeof(err));
	free(buf);
	if (rc)
		return cli_fail(rc, err);
	print_header("restored", file, &h, len);
	printf("into %s as a new group of master", dir);
	for (size_t i = 0; i < ro.nvoters; i++)
		printf("%s%" PRIu64, i ? "," : " ", voters[i]);
	printf("; start strata-master there (workers re-report their blocks)\n");
	return EXIT_OK;
}

int cli_admin_backup(struct cli *cli, int argc, char **argv)
{
	if (strcmp(argv[0], "restore") == 0)
		return cmd_restore(cli, argc, argv);
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "strata: admin backup: expected one FILE\n");
		return EXIT_USAGE;
	}
	return cmd_backup(cli, argv[1]);
}
