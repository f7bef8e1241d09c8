/* strata-fuse: the strata namespace as a local POSIX mount (fuse/fz.h,
 * docs/fuse.md). Parses its own options out of the command line, hands the
 * rest (the mount point, -f, -d, -o allow_other, ...) to libfuse, and runs
 * libfuse's multithreaded loop, which unmounts on SIGTERM, SIGINT and
 * SIGHUP and ends when `fusermount3 -u` unmounts. */
#include "fuse/fz.h"

#include "client/client.h"
#include "lib/conf.h"
#include "lib/err.h"
#include "lib/log.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

enum { EXIT_ERR = 1, EXIT_USAGE_ERR = 2 };
enum { KEY_HELP, KEY_VERSION };

static struct fz g_fz;
/* The first two arguments that are not options: MOUNTPOINT, or SOURCE
 * MOUNTPOINT as mount.fuse3 (an /etc/fstab line) passes them. */
static char *g_nonopt[2];
static int g_nnonopt;

struct fz *fz_get(void)
{
	return &g_fz;
}

static void free_http(void *hc)
{
	httpc_free(hc);
}

struct httpc *fz_http(struct fz *fz)
{
	struct httpc *hc = pthread_getspecific(fz->hc_key);
	if (!hc) {
		hc = httpc_new(&fz->hopts);
		if (hc && pthread_setspecific(fz->hc_key, hc)) {
			httpc_free(hc);
			hc = NULL;
		}
	}
	return hc;
}

#define FZ_OPT(t, field) { t, offsetof(struct fz_opts, field), 1 }

static const struct fuse_opt fz_spec[] = {
	FZ_OPT("--master=%s", masters),
	FZ_OPT("--master %s", masters),
	FZ_OPT("-m %s", masters),
	FZ_OPT("write_type=%s", write_type),
	FZ_OPT("spool_dir=%s", spool_dir),
	FZ_OPT("token_file=%s", token_file),
	FZ_OPT("config=%s", config),
	FZ_OPT("attr_timeout=%lf", attr_timeout),
	FZ_OPT("entry_timeout=%lf", entry_timeout),
	FZ_OPT("negative_timeout=%lf", negative_timeout),
	FZ_OPT("dir_timeout=%lf", dir_timeout),
	FZ_OPT("timeout=%lf", timeout),
	FZ_OPT("master_timeout=%lf", master_timeout),
	FZ_OPT("readahead=%d", readahead),
	FZ_OPT("readahead_threads=%d", readahead_threads),
	FZ_OPT("max_rewrite=%ld", max_rewrite_mib),
	FZ_OPT("noauto_cache", no_auto_cache),
	FZ_OPT("direct_io", direct_io),
	FZ_OPT("local_socket=%s", local_socket),
	FZ_OPT("kernel_readahead=%d", kernel_readahead_kib),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END,
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: strata-fuse MOUNTPOINT [--master HOST:PORT[,HOST:PORT...]] [-f] [-o OPTIONS]\n"
		"The strata namespace as a local POSIX mount (libfuse3).\n"
		"       strata-fuse SOURCE MOUNTPOINT [-o OPTIONS]   (mount.fuse3, /etc/fstab)\n"
		"\n"
		"Reads go through the workers' block cache (whole blocks from the worker that\n"
		"owns them, read ahead for sequential readers); new files and rewrites are\n"
		"stored on close through a worker with the write type. Unmount with\n"
		"`fusermount3 -u MOUNTPOINT` or SIGTERM. Semantics: docs/fuse.md.\n"
		"\n"
		"SOURCE, the device field of an fstab line (type fuse.strata-fuse), names the\n"
		"masters (HOST:PORT[,HOST:PORT...]), or is \"strata\" for master.addresses.\n"
		"\n"
		"Options:\n"
		"  -m, --master ADDRS     masters (host:port, comma-separated); default: the\n"
		"                         configuration's master.addresses\n"
		"  -f                     stay in the foreground (logs to stderr)\n"
		"  -o write_type=T        THROUGH, CACHE_THROUGH, ASYNC_THROUGH or MUST_CACHE\n"
		"                         (default: the path's policy, else the worker's)\n"
		"  -o attr_timeout=S      seconds attributes are cached (default 1)\n"
		"  -o entry_timeout=S     seconds names are cached (default 1)\n"
		"  -o negative_timeout=S  seconds an absent name is cached (default 1)\n"
		"  -o dir_timeout=S       seconds a directory listing is cached (default 1)\n"
		"  -o timeout=S           bound of one request to a worker (default 30)\n"
		"  -o master_timeout=S    how long a call looks for the master leader\n"
		"                         before failing with EIO (default 5)\n"
		"  -o readahead=N         blocks read ahead of a sequential reader, 0-16\n"
		"                         (default 2)\n"
		"  -o readahead_threads=N threads fetching read-ahead blocks, 1-16 (default 2)\n"
		"  -o max_rewrite=MIB     largest existing file opened for writing without\n"
		"                         O_TRUNC (copied, then stored whole; default 1024)\n"
		"  -o spool_dir=DIR       where written bytes wait for close (default $TMPDIR\n"
		"                         or /tmp)\n"
		"  -o token_file=PATH     REST token file (default $STRATA_TOKEN, then\n"
		"                         $STRATA_TOKEN_FILE)\n"
		"  -o config=PATH         strata.conf (default /etc/strata/strata.conf if it\n"
		"                         exists; STRATA_* variables apply on top)\n"
		"  -o noauto_cache        do not keep the kernel's page cache of a file across\n"
		"                         opens even when its size and mtime are unchanged\n"
		"  -o direct_io           no kernel page cache: each read goes to strata and\n"
		"                         its bytes are copied once, into the reader's buffer\n"
		"                         (faster for one-pass streaming; shared mmap of a file\n"
		"                         fails with ENODEV; see docs/fuse.md)\n"
		"  -o kernel_readahead=KIB  the kernel's read-ahead for this mount (its bdi's\n"
		"                         read_ahead_kb; root only); requests then go up to\n"
		"                         512 KiB (max_read). 0: the kernel's (default)\n"
		"  -o local_socket=PATH   the socket of the worker on this host (short-circuit\n"
		"                         reads of the blocks it caches); empty: off (default:\n"
		"                         the configuration's worker.local_socket, inside\n"
		"                         worker.data_dir, else /var/cache/strata/worker)\n"
		"  -h, --help             this help, then libfuse's options\n"
		"  -V, --version          the version\n"
		"\n"
		"Exit status: 0 after a clean unmount, 1 on a mount or runtime error, 2 on bad\n"
		"usage.\n\n");
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	if (key == KEY_HELP) {
		usage(stdout);
		printf("libfuse options:\n");
		fflush(stdout);
		fuse_cmdline_help();
		fuse_lib_help(outargs);
		exit(0);
	}
	if (key == KEY_VERSION) {
		printf("strata-fuse %s\nlibfuse %s\n", STRATA_VERSION, fuse_pkgversion());
		exit(0);
	}
	if (key == FUSE_OPT_KEY_NONOPT) {
		if (g_nnonopt == 2) {
			fprintf(stderr, "strata-fuse: unexpected argument '%s' (see --help)\n", arg);
			return -1;
		}
		g_nonopt[g_nnonopt] = strdup(arg);
		return g_nonopt[g_nnonopt++] ? 0 : -1;
	}
	return 1; /* for libfuse */
}

/* MOUNTPOINT, or SOURCE MOUNTPOINT: the source names the masters
 * ("host:port[,host:port]") unless it is "strata" or "none" (then
 * --master or master.addresses). The mount point goes back to libfuse. */
static int take_nonopts(struct fz *fz, struct fuse_args *args, char *err, size_t errlen)
{
	if (g_nnonopt == 0)
		return 0; /* libfuse says there is no mount point */
	const char *mnt = g_nonopt[g_nnonopt - 1];
	if (g_nnonopt == 2 && strcmp(g_nonopt[0], "strata") != 0 &&
	    strcmp(g_nonopt[0], "none") != 0) {
		if (fz->opts.masters) {
			snprintf(err, errlen, "masters given twice: source '%s' and --master '%s'",
				 g_nonopt[0], fz->opts.masters);
			return -EINVAL;
		}
		fz->opts.masters = strdup(g_nonopt[0]);
		if (!fz->opts.masters)
			return -ENOMEM;
	}
	return fuse_opt_add_arg(args, mnt) ? -ENOMEM : 0;
}

/* The device of the mount at mnt (an absolute path) from the mount table,
 * without a call into the mount itself (it cannot answer before the
 * loop runs). */
static void find_mount_dev(struct fz *fz, const char *mnt)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];
	while (f && fgets(line, sizeof(line), f)) {
		/* id parent major:minor root mountpoint ...; octal escapes */
		unsigned major, minor;
		char point[4096];
		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &major, &minor, point) != 3)
			continue;
		char *w = point;
		for (const char *r = point; *r; w++) {
			if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
			    r[3] >= '0' && r[3] <= '7') {
				*w = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
				r += 4;
			} else {
				*w = *r++;
			}
		}
		*w = '\0';
		if (strcmp(point, mnt) == 0) {
			/* The last one: ours, if something was mounted there before. */
			fz->dev_major = major;
			fz->dev_minor = minor;
			fz->dev_known = true;
		}
	}
	if (f)
		fclose(f);
}

/*
 * Mounts and runs libfuse's multithreaded loop until an unmount
 * (fusermount3 -u: the loop ends with 0) or SIGTERM, SIGINT, SIGHUP (it
 * ends with the signal's number; libfuse then unmounts). Both are clean
 * ends: 0. Returns the exit code.
 */
static int run_mount(struct fz *fz, struct fuse_args *args)
{
	struct fuse_cmdline_opts co;
	if (fuse_parse_cmdline(args, &co))
		return EXIT_USAGE_ERR;
	int code = EXIT_USAGE_ERR;
	if (!co.mountpoint) {
		fprintf(stderr, "strata-fuse: no mountpoint given (see --help)\n");
		goto out;
	}
	struct fuse *f = fuse_new(args, &fz_operations, sizeof(fz_operations), fz);
	if (!f)
		goto out; /* libfuse said which option it does not know */
	code = EXIT_ERR;
	if (fuse_mount(f, co.mountpoint))
		goto out_destroy;
	find_mount_dev(fz, co.mountpoint);
	struct fuse_session *se = fuse_get_session(f);
	if (fuse_daemonize(co.foreground) || fuse_set_signal_handlers(se))
		goto out_unmount;
	int rc;
	if (co.singlethread) {
		rc = fuse_loop(f);
	} else {
		struct fuse_loop_config *lc = fuse_loop_cfg_create();
		if (!lc) {
			fuse_remove_signal_handlers(se);
			goto out_unmount;
		}
		fuse_loop_cfg_set_clone_fd(lc, (unsigned)co.clone_fd);
		if (co.max_idle_threads != UINT_MAX)
			fuse_loop_cfg_set_idle_threads(lc, co.max_idle_threads);
		fuse_loop_cfg_set_max_threads(lc, co.max_threads);
		rc = fuse_loop_mt(f, lc);
		fuse_loop_cfg_destroy(lc);
	}
	fuse_remove_signal_handlers(se);
	if (rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP)
		code = 0;
	else
		log_error("the FUSE loop ended with %d", rc);
out_unmount:
	fuse_unmount(f);
out_destroy:
	fuse_destroy(f);
out:
	free(co.mountpoint);
	return code;
}

static int check_opts(const struct fz_opts *o, char *err, size_t errlen)
{
	static const char *const types[] = { "THROUGH", "CACHE_THROUGH", "ASYNC_THROUGH",
					     "MUST_CACHE" };
	if (o->write_type) {
		bool ok = false;
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			ok |= strcmp(o->write_type, types[i]) == 0;
		if (!ok) {
			snprintf(err, errlen, "option 'write_type': '%s' is not THROUGH, "
				 "CACHE_THROUGH, ASYNC_THROUGH or MUST_CACHE", o->write_type);
			return -EINVAL;
		}
	}
	struct {
		const char *name;
		double v, lo, hi;
	} nums[] = {
		{ "attr_timeout", o->attr_timeout, 0, 86400 },
		{ "entry_timeout", o->entry_timeout, 0, 86400 },
		{ "negative_timeout", o->negative_timeout, 0, 86400 },
		{ "dir_timeout", o->dir_timeout, 0, 86400 },
		{ "timeout", o->timeout, 0.1, 3600 },
		{ "master_timeout", o->master_timeout, 0.1, 3600 },
		{ "readahead", o->readahead, 0, 16 },
		{ "readahead_threads", o->readahead_threads, 1, 16 },
		{ "max_rewrite", (double)o->max_rewrite_mib, 0, 1 << 20 },
		{ "kernel_readahead", o->kernel_readahead_kib, 0, 65536 },
	};
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		if (!(nums[i].v >= nums[i].lo && nums[i].v <= nums[i].hi)) {
			snprintf(err, errlen, "option '%s': %g is not in %g..%g", nums[i].name,
				 nums[i].v, nums[i].lo, nums[i].hi);
			return -EINVAL;
		}
	}
	if (access(o->spool_dir, W_OK | X_OK)) {
		snprintf(err, errlen, "option 'spool_dir': %s: %s", o->spool_dir, strerror(errno));
		return -EINVAL;
	}
	return 0;
}

/* With a kernel read-ahead above 1 MiB the kernel asks for 1 MiB at a
 * time, which libfuse cannot splice (FZ_SPLICE_MAX_READ): cap the requests
 * with max_read, unless the command line sets it. Either way INIT must
 * repeat the value (libfuse refuses the mount otherwise). */
static int add_max_read(struct fz *fz, struct fuse_args *args)
{
	for (int i = 0; i < args->argc; i++) {
		const char *m = strstr(args->argv[i], "max_read=");
		if (m) {
			fz->opts.max_read = (unsigned)strtoul(m + strlen("max_read="), NULL, 10);
			return 0;
		}
	}
	if (fz->opts.kernel_readahead_kib <= 0)
		return 0;
	char opt[64];
	snprintf(opt, sizeof(opt), "-omax_read=%u", FZ_SPLICE_MAX_READ);
	fz->opts.max_read = FZ_SPLICE_MAX_READ;
	return fuse_opt_add_arg(args, opt) ? -ENOMEM : 0;
}

/* The local worker's socket: -o local_socket, else worker.local_socket of
 * the configuration (relative: inside worker.data_dir, or the packaged
 * worker's /var/cache/strata/worker). "" turns short-circuit reads off. */
static int pick_local_socket(struct fz *fz, const struct strata_conf *conf, char *err,
			     size_t errlen)
{
	const char *p = fz->opts.local_socket ? fz->opts.local_socket : conf->worker_local_socket;
	int n;
	if (!*p || *p == '/')
		n = snprintf(fz->local_path, sizeof(fz->local_path), "%s", p);
	else
		n = snprintf(fz->local_path, sizeof(fz->local_path), "%s/%s",
			     *conf->worker_data_dir ? conf->worker_data_dir : "/var/cache/strata/worker",
			     p);
	if (n >= 0 && (size_t)n < sizeof(fz->local_path))
		return 0;
	*fz->local_path = '\0';
	if (!fz->opts.local_socket) {
		/* The worker warns of it too and runs without. */
		log_warn("worker.local_socket: '%s' is longer than a Unix socket path may be; "
			 "short-circuit reads are off", p);
		return 0;
	}
	snprintf(err, errlen, "option 'local_socket': '%s' is longer than a Unix socket path may be",
		 p);
	return -EINVAL;
}

/* The master group from --master or master.addresses. */
static int make_client(struct fz *fz, const struct strata_conf *conf, char *err, size_t errlen)
{
	struct client_opts mo = {
		.tls = *conf->http_tls_cert || *conf->http_tls_ca,
		.follow_ms = (int64_t)(fz->opts.master_timeout * 1000),
	};
	if (!fz->opts.masters)
		return client_new((const char *const *)conf->master_addresses.items,
				  conf->master_addresses.n, &mo, &fz->mc, err, errlen);
	char *copy = strdup(fz->opts.masters);
	if (!copy)
		return -ENOMEM;
	const char *addrs[CLIENT_MAX_MASTERS + 1];
	size_t n = 0;
	char *save = NULL;
	for (char *a = strtok_r(copy, ",", &save); a && n <= CLIENT_MAX_MASTERS;
	     a = strtok_r(NULL, ",", &save)) {
		while (*a == ' ')
			a++;
		addrs[n++] = a;
	}
	int rc = n ? client_new(addrs, n, &mo, &fz->mc, err, errlen) : -EINVAL;
	if (!n)
		snprintf(err, errlen, "option '--master': no address");
	free(copy);
	return rc;
}

int main(int argc, char **argv)
{
	struct fz *fz = &g_fz;
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct strata_conf conf;
	char err[1024] = "";
	int code = EXIT_USAGE_ERR;

	log_set_component("fuse");
	fz->opts = (struct fz_opts){
		.attr_timeout = 1, .entry_timeout = 1, .negative_timeout = 1, .dir_timeout = 1,
		.timeout = 30, .master_timeout = 5, .readahead = 2, .readahead_threads = 2,
		.max_rewrite_mib = 1024,
	};
	conf_init(&conf);
	if (fuse_opt_parse(&args, &fz->opts, fz_spec, opt_proc)) {
		fprintf(stderr, "strata-fuse: bad options (see --help)\n");
		goto out;
	}
	if (!fz->opts.spool_dir) {
		const char *tmp = getenv("TMPDIR");
		fz->opts.spool_dir = strdup(tmp && *tmp ? tmp : "/tmp");
	}
	int rc = take_nonopts(fz, &args, err, sizeof(err));
	if (!rc)
		rc = check_opts(&fz->opts, err, sizeof(err));
	if (!rc)
		rc = add_max_read(fz, &args);
	if (!rc && fz->opts.config)
		rc = conf_load_file(&conf, fz->opts.config, err, sizeof(err));
	else if (!rc && access("/etc/strata/strata.conf", F_OK) == 0)
		rc = conf_load_file(&conf, "/etc/strata/strata.conf", err, sizeof(err));
	if (!rc)
		rc = conf_load_env(&conf, environ, err, sizeof(err));
	if (!rc)
		rc = client_token_header(fz->opts.token_file, fz->auth, sizeof(fz->auth), err,
					 sizeof(err));
	if (!rc)
		rc = pick_local_socket(fz, &conf, err, sizeof(err));
	if (!rc)
		rc = make_client(fz, &conf, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "strata-fuse: %s\n", rc == -ENOMEM ? "out of memory" : err);
		goto out;
	}
	code = EXIT_ERR;
	char leader[CLIENT_URL_MAX];
	client_leader(fz->mc, leader, sizeof(leader));
	snprintf(fz->scheme, sizeof(fz->scheme), "%s",
		 strncmp(leader, "https://", 8) == 0 ? "https" : "http");
	int64_t timeout_ms = (int64_t)(fz->opts.timeout * 1000);
	fz->hopts = (struct httpc_opts){
		.timeout_ms = timeout_ms,
		.connect_timeout_ms = timeout_ms < 2000 ? timeout_ms : 2000,
		.ca_file = conf_tls_ca(&conf),
		.client_cert = conf_tls_client_cert(&conf),
		.client_key = conf_tls_client_key(&conf),
		.extra_header = *fz->auth ? fz->auth : NULL,
	};
	pthread_mutex_init(&fz->workers_lock, NULL);
	pthread_mutex_init(&fz->files_lock, NULL);
	fz->cache = fz_cache_new(fz->opts.attr_timeout, fz->opts.dir_timeout);
	if (!fz->cache || pthread_key_create(&fz->hc_key, free_http) || fz_local_init(fz)) {
		fprintf(stderr, "strata-fuse: out of memory\n");
		goto out;
	}
	code = run_mount(fz, &args);
	fz_cache_free(fz->cache);
	free(fz->workers);
out:
	client_free(fz->mc);
	conf_free(&conf);
	fuse_opt_free_args(&args);
	free(g_nonopt[0]);
	free(g_nonopt[1]);
	explicit_bzero(fz->auth, sizeof(fz->auth));
	return code;
}
