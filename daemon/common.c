#include "daemon/common.h"

#include "lib/log.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_CONFIG "/etc/strata/strata.conf"

static void print_help(const struct daemon_info *info)
{
	printf("Usage: %s [--config PATH] [--set KEY=VALUE]...\n"
	       "%s\n\n"
	       "Options:\n"
	       "  -c, --config PATH     configuration file (default: $STRATA_CONFIG, else\n"
	       "                        " DEFAULT_CONFIG " when it exists)\n"
	       "  -s, --set KEY=VALUE   override one key; wins over file and environment\n"
	       "  -h, --help            show this help and exit\n"
	       "  -V, --version         show the version and exit\n\n"
	       "Every key can also be set as STRATA_<KEY> (dots as underscores, upper case).\n"
	       "Keys (default):\n",
	       info->prog, info->summary);
	size_t n;
	const struct conf_key *keys = conf_keys(&n);
	for (size_t i = 0; i < n; i++)
		printf("  %-28s %-9s (%s)\n", keys[i].name, conf_type_name(keys[i].type),
		       *keys[i].def ? keys[i].def : "empty");
	printf("\nSee docs/configuration.md for what each key means.\n");
}

bool daemon_setup(const struct daemon_info *info, int argc, char **argv,
		  struct strata_conf *conf, int *exit_code)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "set", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	char **sets = calloc((size_t)argc + 1, sizeof(*sets));
	size_t nsets = 0;
	char err[1024];
	bool ok = false;
	*exit_code = EXIT_USAGE;
	conf_init(conf);
	if (!sets) {
		fprintf(stderr, "%s: out of memory\n", info->prog);
		return false;
	}

	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "c:s:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 's':
			sets[nsets++] = optarg;
			break;
		case 'h':
			print_help(info);
			*exit_code = EXIT_OK;
			goto out;
		case 'V':
			printf("%s %s\n", info->prog, STRATA_VERSION);
			*exit_code = EXIT_OK;
			goto out;
		default:
			fprintf(stderr, "Try '%s --help'.\n", info->prog);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\nTry '%s --help'.\n", info->prog,
			argv[optind], info->prog);
		goto out;
	}

	if (!config)
		config = getenv("STRATA_CONFIG");
	if (!config && access(DEFAULT_CONFIG, F_OK) == 0)
		config = DEFAULT_CONFIG;
	if (config && conf_load_file(conf, config, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", info->prog, err);
		goto out;
	}
	if (conf_load_env(conf, environ, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", info->prog, err);
		goto out;
	}
	for (size_t i = 0; i < nsets; i++) {
		char *eq = strchr(sets[i], '=');
		if (!eq) {
			fprintf(stderr, "%s: --set '%s': expected KEY=VALUE\n", info->prog, sets[i]);
			goto out;
		}
		*eq = '\0';
		int rc = conf_set(conf, sets[i], eq + 1, "--set", err, sizeof(err));
		*eq = '=';
		if (rc) {
			fprintf(stderr, "%s: %s\n", info->prog, err);
			goto out;
		}
	}
	enum log_level lvl;
	log_parse_level(conf->log_level, &lvl);
	log_set_level(lvl);
	if (config)
		log_info("configuration from %s", config);
	ok = true;
	*exit_code = EXIT_OK;
out:
	free(sets);
	if (!ok)
		conf_free(conf);
	return ok;
}

void daemon_block_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int daemon_wait_signal(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	int sig = 0;
	while (sigwait(&set, &sig) != 0)
		;
	return sig;
}

int daemon_mkdirs(const char *path)
{
	char buf[4096];
	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) != 0 && errno != EEXIST)
		return -errno;
	struct stat st;
	if (stat(buf, &st) != 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (access(buf, W_OK | X_OK) != 0)
		return -errno;
	return 0;
}

static bool is_service_user(void)
{
	struct passwd *pw = getpwuid(geteuid());
	return pw && strcmp(pw->pw_name, "strata") == 0;
}

int daemon_pick_dir(const char *configured, const char *service, const char *env_var,
		    const char *fallback_rel, const char *leaf, char *out, size_t len, char *err,
		    size_t errlen)
{
	int n;
	if (configured && *configured) {
		n = snprintf(out, len, "%s", configured);
	} else if (is_service_user()) {
		n = snprintf(out, len, "%s", service);
	} else {
		const char *base = getenv(env_var);
		if (base && *base == '/') {
			n = snprintf(out, len, "%s/strata/%s", base, leaf);
		} else {
			const char *home = getenv("HOME");
			if (!home || !*home) {
				struct passwd *pw = getpwuid(geteuid());
				home = pw ? pw->pw_dir : "/tmp";
			}
			n = snprintf(out, len, "%s/%s/strata/%s", home, fallback_rel, leaf);
		}
	}
	if (n < 0 || (size_t)n >= len) {
		snprintf(err, errlen, "directory path too long");
		return -ENAMETOOLONG;
	}
	int rc = daemon_mkdirs(out);
	if (rc)
		snprintf(err, errlen, "directory '%s': %s", out, strerror(-rc));
	return rc;
}

int daemon_worker_data_dir(const struct strata_conf *c, char *out, size_t len, char *err,
			   size_t errlen)
{
	char leaf[32];
	snprintf(leaf, sizeof(leaf), "worker-%lld", (long long)c->worker_port);
	return daemon_pick_dir(c->worker_data_dir, "/var/cache/strata/worker", "XDG_CACHE_HOME",
			       ".cache", leaf, out, len, err, errlen);
}

int daemon_s3_key_file(const struct strata_conf *c, char *out, size_t len, char *err,
		       size_t errlen)
{
	if (*c->worker_s3_key_file) {
		if ((size_t)snprintf(out, len, "%s", c->worker_s3_key_file) >= len) {
			snprintf(err, errlen, "worker.s3.key_file: path too long");
			return -ENAMETOOLONG;
		}
		return 0;
	}
	char dir[1024];
	int rc = daemon_worker_data_dir(c, dir, sizeof(dir), err, errlen);
	if (rc)
		return rc;
	if ((size_t)snprintf(out, len, "%s/s3-keys", dir) >= len) {
		snprintf(err, errlen, "worker.s3.key_file: path too long");
		return -ENAMETOOLONG;
	}
	return 0;
}
