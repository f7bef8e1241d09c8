/* The metadata service's API: open/close, blocking submission through the
 * Raft driver (meta_driver.c), reads, status and membership. */
#include "daemon/master/journal.h"
#include "daemon/master/meta_int.h"

#include "lib/err.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The database is at least as new as the stored snapshot, and the log
 * reaches the database's applied index; otherwise repair or refuse. */
static int reconcile(struct meta *m, struct raft_storage_boot *sb, char *err, size_t errlen)
{
	uint64_t applied = ns_applied_index(m->ns);
	if (sb->snapshot.index > applied) {
		log_info("namespace.db is at entry %llu, the Raft snapshot at %llu: restoring it",
			 (unsigned long long)applied, (unsigned long long)sb->snapshot.index);
		ns_close(m->ns);
		m->ns = NULL;
		int rc = ns_restore(m->db_path, sb->snapshot.data, sb->snapshot.len, err, errlen);
		if (!rc)
			rc = ns_open(m->db_path, &m->ns, err, errlen);
		if (rc)
			return rc;
		applied = ns_applied_index(m->ns);
	}
	uint64_t last = sb->nentries ? sb->entries[sb->nentries - 1].index : sb->snapshot.index;
	if (applied > last) {
		snprintf(err, errlen,
			 "namespace.db holds entries up to %llu but the Raft log in %s ends at %llu: "
			 "the Raft directory was lost or belongs to other state; remove "
			 "namespace.db too (a follower then copies the leader's snapshot)",
			 (unsigned long long)applied, m->raft_dir, (unsigned long long)last);
		return -EIO;
	}
	return 0;
}

int meta_lock_state_dir(const char *state_dir, int *fd_out, char *err, size_t errlen)
{
	char path[1100];
	snprintf(path, sizeof(path), "%s/lock", state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int rc = -errno;
		if (rc == -EWOULDBLOCK) {
			char pid[32] = "";
			ssize_t n = pread(fd, pid, sizeof(pid) - 1, 0);
			pid[n > 0 ? n : 0] = '\0';
			pid[strcspn(pid, "\n")] = '\0';
			snprintf(err, errlen, "a strata-master (pid %s) is running on %s: it holds %s",
				 *pid ? pid : "?", state_dir, path);
			rc = -EBUSY;
		} else {
			snprintf(err, errlen, "%s: lock: %s", path, strerror(-rc));
		}
		close(fd);
		return rc;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		log_warn("%s: cannot record the pid: %s", path, strerror(errno));
	*fd_out = fd;
	return 0;
}

static int copy_opts(struct meta *m, const struct meta_opts *o, char *err, size_t errlen)
{
	m->id = o->id ? o->id : 1;
	m->snapshot_every = o->snapshot_every;
	m->tick_ms = o->tick_ms > 0 ? o->tick_ms : 100;
	m->election_ticks = o->election_ticks ? o->election_ticks : 8;
	m->heartbeat_ticks = o->heartbeat_ticks ? o->heartbeat_ticks : 1;
	m->raft_max_frame = o->raft_max_frame;
	m->raft_frame_timeout_ms = o->raft_frame_timeout_ms;
	m->submit_timeout_ms = o->submit_timeout_ms > 0 ? o->submit_timeout_ms : 30000;
	m->on_apply = o->on_apply;
	m->on_apply_arg = o->on_apply_arg;
	m->join = o->join;
	if (m->heartbeat_ticks >= m->election_ticks) {
		snprintf(err, errlen, "the heartbeat (%u ticks) must be shorter than the election "
			 "timeout (%u ticks)", m->heartbeat_ticks, m->election_ticks);
		return -EINVAL;
	}
	if (o->npeers > PEERS_MAX)
		return -EINVAL;
	if (o->npeers)
		memcpy(m->peers, o->peers, o->npeers * sizeof(*o->peers));
	m->npeers = o->npeers;
	snprintf(m->raft_bind, sizeof(m->raft_bind), "%s", o->raft_bind ? o->raft_bind : "127.0.0.1");
	m->raft_port = o->raft_port;
	if (o->raft_tls_cert && *o->raft_tls_cert) {
		if (!o->raft_tls_key || !o->raft_tls_ca)
			return -EINVAL;
		int n1 = snprintf(m->raft_tls_cert, sizeof(m->raft_tls_cert), "%s", o->raft_tls_cert);
		int n2 = snprintf(m->raft_tls_key, sizeof(m->raft_tls_key), "%s", o->raft_tls_key);
		int n3 = snprintf(m->raft_tls_ca, sizeof(m->raft_tls_ca), "%s", o->raft_tls_ca);
		if ((size_t)n1 >= sizeof(m->raft_tls_cert) || (size_t)n2 >= sizeof(m->raft_tls_key) ||
		    (size_t)n3 >= sizeof(m->raft_tls_ca)) {
			snprintf(err, errlen, "a TLS file path of the Raft transport is longer than "
				 "%zu bytes", sizeof(m->raft_tls_cert) - 1);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < m->npeers; i++)
		if (m->peers[i].id == m->id)
			snprintf(m->self_raft, sizeof(m->self_raft), "%s", m->peers[i].raft_address);
	if (!*m->self_raft && o->raft_advertise)
		snprintf(m->self_raft, sizeof(m->self_raft), "%s", o->raft_advertise);
	snprintf(m->db_path, sizeof(m->db_path), "%s/namespace.db", o->state_dir);
	snprintf(m->raft_dir, sizeof(m->raft_dir), "%s/raft", o->state_dir);
	return 0;
}

static struct meta *meta_alloc(void)
{
	struct meta *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	pthread_mutex_init(&m->qlock, NULL);
	pthread_mutex_init(&m->slock, NULL);
	clock_mono_cond_init(&m->scond);
	m->wake_fd = m->timer_fd = m->lock_fd = -1;
	return m;
}

static void meta_free(struct meta *m)
{
	raft_destroy(m->r);
	raft_storage_close(m->st);
	ns_close(m->ns);
	pthread_cond_destroy(&m->scond);
	pthread_mutex_destroy(&m->slock);
	pthread_mutex_destroy(&m->qlock);
	pthread_mutex_destroy(&m->lock);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	free(m);
}

/* A group of one elects itself at once; wait for that, and for the log it
 * had to be applied, so the caller reads and writes the state as it was. */
static void wait_single_leader(struct meta *m, uint64_t boot_last)
{
	struct timespec ts;
	clock_mono_deadline(&ts, 5000);
	pthread_mutex_lock(&m->slock);
	while ((strcmp(m->status.role, "leader") != 0 || m->status.applied_index < boot_last ||
		m->status.applied_index < m->status.last_index) &&
	       !m->status.failed)
		if (pthread_cond_timedwait(&m->scond, &m->slock, &ts) != 0)
			break;
	pthread_mutex_unlock(&m->slock);
}

int meta_open(const struct meta_opts *opts, struct meta **out, char *err, size_t errlen)
{
	struct meta *m = meta_alloc();
	if (!m)
		return -ENOMEM;
	int rc = copy_opts(m, opts, err, errlen);
	if (rc)
		goto err_free;
	m->status.role = "follower";
	m->status.id = m->id;
	rc = meta_lock_state_dir(opts->state_dir, &m->lock_fd, err, errlen);
	if (rc)
		goto err_free;
	struct raft_storage_boot sb;
	rc = raft_storage_open(m->raft_dir, NULL, &m->st, &sb, err, errlen);
	if (rc)
		goto err_free;
	if (sb.truncated_bytes)
		log_warn("raft log: dropped %llu bytes at its end that fail their checksum (a "
			 "write torn by a crash, or damage); nothing after them is applied",
			 (unsigned long long)sb.truncated_bytes);
	rc = ns_open(m->db_path, &m->ns, err, errlen);
	if (!rc)
		rc = reconcile(m, &sb, err, errlen);
	if (rc)
		goto err_boot;
	struct raft_boot boot;
	raft_storage_boot_to_raft(&sb, &boot);
	if (!m->join) {
		/* A fresh group: master.peers, or just this master. Ignored
		 * once the log or a snapshot carries a configuration. */
		if (m->npeers)
			for (size_t i = 0; i < m->npeers; i++)
				boot.initial_config.voters[boot.initial_config.nvoters++] =
					m->peers[i].id;
		else
			boot.initial_config.voters[boot.initial_config.nvoters++] = m->id;
	}
	boot.applied = ns_applied_index(m->ns);
	m->snap_index = sb.snapshot.index;
	uint64_t last = sb.nentries ? sb.entries[sb.nentries - 1].index : sb.snapshot.index;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct raft_options ro = {
		.id = m->id,
		.election_ticks = m->election_ticks,
		.heartbeat_ticks = m->heartbeat_ticks,
		.seed = (uint64_t)now.tv_nsec ^ ((uint64_t)getpid() << 32),
		.pre_vote = true,
		.check_quorum = true,
	};
	rc = raft_create(&ro, &boot, &m->r);
	raft_storage_boot_free(&sb);
	if (rc) {
		snprintf(err, errlen, "raft: cannot start from %s: %s", m->raft_dir,
			 strerror(-rc));
		goto err_free;
	}
	log_info("namespace: %lld inodes at entry %llu; raft log in %s holds entries up to "
		 "%llu (snapshot at %llu), so %llu to replay; term %llu",
		 (long long)ns_inode_count(m->ns), (unsigned long long)boot.applied, m->raft_dir,
		 (unsigned long long)last, (unsigned long long)m->snap_index,
		 (unsigned long long)(last - boot.applied), (unsigned long long)raft_term(m->r));
	struct raft_config cfg;
	raft_get_config(m->r, &cfg);
	bool alone = cfg.nvoters == 1 && cfg.voters[0] == m->id;
	if (alone && raft_campaign(m->r) != 0)
		log_warn("raft: a group of one could not elect itself");
	pthread_mutex_lock(&m->lock);
	meta_book_reload(m);
	pthread_mutex_unlock(&m->lock);
	rc = meta_driver_start(m, err, errlen);
	if (rc)
		goto err_free;
	if (alone)
		wait_single_leader(m, last);
	*out = m;
	return 0;

err_boot:
	raft_storage_boot_free(&sb);
err_free:
	meta_free(m);
	return rc;
}

void meta_close(struct meta *m)
{
	if (!m)
		return;
	meta_driver_stop(m);
	char err[512];
	if (m->ns && ns_checkpoint(m->ns, NULL, err, sizeof(err)))
		log_warn("%s", err);
	meta_free(m);
}

void meta_set_rest_url(struct meta *m, const char *url)
{
	pthread_mutex_lock(&m->slock);
	snprintf(m->self_rest, sizeof(m->self_rest), "%s", url);
	pthread_mutex_unlock(&m->slock);
	pthread_mutex_lock(&m->lock);
	meta_book_reload(m);
	pthread_mutex_unlock(&m->lock);
	meta_wake(m);
}

/* Queues w and waits for its result; consumes w. */
static int submit_wait(struct meta *m, struct waiter *w, uint64_t *data_id, char *err,
		       size_t errlen)
{
	clock_mono_cond_init(&w->cond);
	struct timespec ts;
	clock_mono_deadline(&ts, m->submit_timeout_ms);
	pthread_mutex_lock(&m->qlock);
	if (m->stop) {
		pthread_mutex_unlock(&m->qlock);
		pthread_cond_destroy(&w->cond);
		free(w->data);
		free(w);
		snprintf(err, errlen, "the master is stopping");
		return -ESHUTDOWN;
	}
	if (m->in_tail)
		m->in_tail->next = w;
	else
		m->in_head = w;
	m->in_tail = w;
	pthread_mutex_unlock(&m->qlock);
	meta_wake(m);
	pthread_mutex_lock(&m->qlock);
	while (!w->done) {
		if (pthread_cond_timedwait(&w->cond, &m->qlock, &ts) == ETIMEDOUT && !w->done) {
			w->abandoned = true; /* the driver frees it */
			pthread_mutex_unlock(&m->qlock);
			snprintf(err, errlen,
				 "no result within %lld ms (http.request_timeout); the command "
				 "may still be applied",
				 (long long)m->submit_timeout_ms);
			return -ETIMEDOUT;
		}
	}
	pthread_mutex_unlock(&m->qlock);
	int rc = w->rc;
	if (rc)
		snprintf(err, errlen, "%s", w->err);
	if (data_id)
		*data_id = w->data_id;
	pthread_cond_destroy(&w->cond);
	free(w);
	return rc;
}

/* Encodes cmd (refusing what a follower could not decode) and waits for
 * its result. */
static int submit_cmd(struct meta *m, const struct journal_cmd *cmd, uint64_t *data_id,
		      char *err, size_t errlen)
{
	char *text;
	size_t len;
	int rc = journal_encode(cmd, &text, &len, err, errlen);
	if (rc) {
		char why[META_ERRLEN];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "refused a malformed '%s' command: %s",
			 journal_op_name(cmd->op) ? journal_op_name(cmd->op) : "?", why);
		return rc;
	}
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w) {
		free(text);
		return -ENOMEM;
	}
	w->kind = W_PROPOSE;
	w->data = text;
	w->len = len;
	return submit_wait(m, w, data_id, err, errlen);
}

int meta_submit(struct meta *m, const struct journal_cmd *cmd, char *err, size_t errlen)
{
	return submit_cmd(m, cmd, NULL, err, errlen);
}

int meta_submit_id(struct meta *m, const struct journal_cmd *cmd, uint64_t *id, char *err,
		   size_t errlen)
{
	return submit_cmd(m, cmd, id, err, errlen);
}

int meta_alloc_data_id(struct meta *m, uint64_t *id, char *err, size_t errlen)
{
	struct journal_cmd *cmd = journal_new(JOURNAL_ALLOC_DATA_ID);
	if (!cmd)
		return -ENOMEM;
	uint64_t got = 0;
	int rc = submit_cmd(m, cmd, &got, err, errlen);
	journal_free(cmd);
	if (!rc)
		*id = got;
	return rc;
}

struct ns *meta_read_lock(struct meta *m)
{
	pthread_mutex_lock(&m->lock);
	return m->ns;
}

void meta_read_unlock(struct meta *m)
{
	pthread_mutex_unlock(&m->lock);
}

uint64_t meta_applied_index(struct meta *m)
{
	pthread_mutex_lock(&m->lock);
	uint64_t v = ns_applied_index(m->ns);
	pthread_mutex_unlock(&m->lock);
	return v;
}

void meta_status(struct meta *m, struct meta_status *out)
{
	pthread_mutex_lock(&m->slock);
	*out = m->status;
	pthread_mutex_unlock(&m->slock);
}

static int conf_change(struct meta *m, enum raft_conf_op op, uint64_t id, char *err,
		       size_t errlen)
{
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->kind = W_CONF;
	w->conf_op = op;
	w->conf_node = id;
	return submit_wait(m, w, NULL, err, errlen);
}

static bool is_voter(struct meta *m, uint64_t id)
{
	struct meta_status s;
	meta_status(m, &s);
	for (size_t i = 0; i < s.nmembers; i++)
		if (s.members[i].id == id && s.members[i].voter)
			return true;
	return false;
}

int meta_add_master(struct meta *m, const struct peer *p, char *err, size_t errlen)
{
	if (is_voter(m, p->id)) {
		snprintf(err, errlen, "master %llu is already a member", (unsigned long long)p->id);
		return -EEXIST;
	}
	struct journal_cmd *cmd = journal_new(JOURNAL_MASTER_SET);
	if (!cmd)
		return -ENOMEM;
	cmd->u.master_set.id = p->id;
	snprintf(cmd->u.master_set.raft_address, sizeof(cmd->u.master_set.raft_address), "%s",
		 p->raft_address);
	snprintf(cmd->u.master_set.rest_url, sizeof(cmd->u.master_set.rest_url), "%s",
		 p->rest_url);
	int rc = meta_submit(m, cmd, err, errlen);
	journal_free(cmd);
	if (rc)
		return rc;
	return conf_change(m, RAFT_CONF_ADD, p->id, err, errlen);
}

int meta_remove_master(struct meta *m, uint64_t id, char *err, size_t errlen)
{
	if (!is_voter(m, id)) {
		snprintf(err, errlen, "master %llu is not a member", (unsigned long long)id);
		return -ENOENT;
	}
	int rc = conf_change(m, RAFT_CONF_REMOVE, id, err, errlen);
	if (rc)
		return rc;
	struct journal_cmd *cmd = journal_new(JOURNAL_MASTER_DEL);
	if (!cmd)
		return 0; /* the address stays in the book, as below */
	cmd->u.master_del.id = id;
	char why[META_ERRLEN];
	/* A leader that removed itself has stepped down: the entry stays in
	 * the book, harmless (members are the configuration's voters). */
	if (meta_submit(m, cmd, why, sizeof(why)))
		log_info("master %llu removed; its address stays in the book: %s",
			 (unsigned long long)id, why);
	journal_free(cmd);
	return 0;
}
