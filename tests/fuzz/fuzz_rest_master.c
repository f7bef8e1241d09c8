/*
 * Fuzzes every REST route of the master as a client reaches it: a real
 * master (tests/fuzz/rest_env.h: one-member Raft group, namespace under
 * /dev/shm) serves its real route table on 127.0.0.1 from the real HTTP
 * server, and each input becomes one request. That covers the JSON bodies
 * of every route (the workers' registration and heartbeat block lists
 * included), query and path parameters, mount bodies and options, and the
 * access and size checks in front of them. Contract: rest_env.h.
 *
 * Not sent: Raft membership changes (POST/DELETE /api/v1/masters: the
 * group would lose its quorum and every later write would wait) and
 * backups (a copy of the whole database per call, and no parser).
 */
#include "tests/fuzz/rest_env.h"

#include "lib/conf.h"
#include "lib/log.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct strata_conf g_conf;
static int g_port;

static int skip(const char *method, const char *target)
{
	return (strcmp(method, "GET") && !strncmp(target, "/api/v1/masters", 15)) ||
	       !strncmp(target, "/api/v1/admin/backup", 20);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_LVL_ERROR);
	log_set_component("master");
	conf_init(&g_conf);
	g_conf.http_request_timeout = 2000;
	g_conf.http_max_json_body = 65536;
	g_port = rest_env_master(&g_conf);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rest_env_run("fuzz_rest_master", g_port, data, size, skip);
	return 0;
}
