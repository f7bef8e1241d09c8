#ifndef STRATA_MASTER_MASTER_H
#define STRATA_MASTER_MASTER_H

#include "daemon/master/blockmap.h"
#include "daemon/master/fs.h"
#include "daemon/master/history.h"
#include "daemon/master/meta.h"
#include "daemon/master/registry.h"
#include "lib/conf.h"

#include <stdint.h>

struct reval;
struct repl;

/* What the master's request handlers share. Owned by strata-master's main. */
struct master {
	const struct strata_conf *conf;
	struct registry *registry;
	struct meta *meta;
	struct blockmap *blocks;
	struct fs *fs;
	struct reval *reval;      /* background revalidation (revalidate.h) */
	struct history *history;  /* GET /api/v1/metrics/history; may be NULL */
	int64_t history_interval_ms;
	struct events *events;   /* GET /api/v1/events */
	struct datajobs *datajobs; /* /api/v1/jobs */
	struct ttlcheck *ttl;      /* the TTL checker's counters; may be NULL */
	struct repl *repl;         /* replication and decommission (replicate.h) */
	char state_dir[1024];
	char address[300];       /* host:port others reach this master at */
	int64_t started_mono_ms;
	int64_t started_wall_ms;
};

#endif
