#ifndef STRATA_MASTER_ROOTMOUNT_H
#define STRATA_MASTER_ROOTMOUNT_H

#include "daemon/master/jobs.h"

struct fs;
struct meta;

/*
 * master.root_ufs: mounts a store at / unless something is mounted there.
 * Only a leader that applied everything it knows committed decides (a
 * follower's, or a new leader's, copy may not yet hold the mount the log
 * has): elsewhere ST_ENOTLEADER. A different store already at / is kept
 * (logged). 0, or fs_mount's error (logged).
 */
int rootmount_apply(struct fs *fs, struct meta *meta, const char *uri);

/*
 * The same as a one-shot job (jobs.h) for a master that could not mount at
 * start: retried every period_ms while this master leads until a leader
 * decided. *job must outlive the job.
 */
struct rootmount_job {
	struct fs *fs;
	struct meta *meta;
	const char *uri;
};
void rootmount_job_spec(struct rootmount_job *job, int64_t period_ms, struct jobs_spec *out);

#endif
