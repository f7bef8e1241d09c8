#include "daemon/master/rootmount.h"

#include "daemon/master/fs.h"
#include "daemon/master/meta.h"
#include "lib/err.h"
#include "lib/log.h"

#include <string.h>

int rootmount_apply(struct fs *fs, struct meta *meta, const char *uri)
{
	char err[1024] = "";
	struct meta_status st;
	meta_status(meta, &st);
	if (strcmp(st.role, "leader") != 0 || st.applied_index < st.commit_index)
		return ST_ENOTLEADER;
	struct ns_mount mnt;
	struct ns *ns = meta_read_lock(meta);
	int rc = ns_resolve_mount(ns, "/", &mnt, NULL, 0);
	meta_read_unlock(meta);
	if (rc == 0 && strcmp(mnt.path, "/") == 0) {
		if (strcmp(mnt.uri, uri) != 0)
			log_warn("master.root_ufs is %s but / is mounted from %s; keeping the "
				 "existing mount",
				 uri, mnt.uri);
		return 0;
	}
	rc = fs_mount(fs, "/", uri, false, NULL, err, sizeof(err));
	if (rc == ST_ENOTLEADER)
		log_info("master.root_ufs: %s; the leader mounts it", err);
	else if (rc)
		log_error("master.root_ufs: cannot mount %s at /: %s", uri, err);
	return rc;
}

static int job_step(void *arg, int64_t now_ms, char *err, size_t errlen)
{
	struct rootmount_job *job = arg;
	return rootmount_apply(job->fs, job->meta, job->uri) == ST_ENOTLEADER ? JOBS_AGAIN
									      : JOBS_DONE;
}

void rootmount_job_spec(struct rootmount_job *job, int64_t period_ms, struct jobs_spec *out)
{
	*out = (struct jobs_spec){
		.name = "master.root_ufs mount",
		.kind = JOBS_ONESHOT,
		.period_ms = period_ms,
		.step = job_step,
		.arg = job,
	};
}
