/*
 * The Raft driver thread (docs/raft.md, "The master's driver"): the one
 * owner of the core, its storage and its transport. Each turn it takes
 * the ticks that elapsed, the messages raft_net delivered and every queued
 * proposal, then runs the ready loop: persist (one fsync for the whole
 * batch) -> send -> install a leader's snapshot -> apply committed entries
 * through ns_apply, completing each waiter with its own result -> advance.
 * After the loop: leadership loss fails pending waiters, the address book
 * is seeded, a snapshot is taken every snapshot_every entries.
 */
#include "daemon/master/journal.h"
#include "daemon/master/meta_int.h"

#include "lib/clock.h"
#include "lib/err.h"
#include "lib/log.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void meta_wake(struct meta *m)
{
	uint64_t one = 1;
	if (m->wake_fd >= 0 && write(m->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("raft driver: cannot wake: %s", strerror(errno));
}

void meta_waiter_complete(struct waiter *w, int rc, const char *err, uint64_t data_id)
{
	w->done = true;
	w->rc = rc;
	w->data_id = data_id;
	snprintf(w->err, sizeof(w->err), "%.*s", (int)sizeof(w->err) - 1, rc && err ? err : "");
	free(w->data);
	w->data = NULL;
	if (w->abandoned) {
		pthread_cond_destroy(&w->cond);
		free(w);
	} else {
		pthread_cond_signal(&w->cond);
	}
}

/* "master 2 is a follower; the leader is master 1 at http://..." */
static void not_leader_msg(struct meta *m, char *buf, size_t len)
{
	pthread_mutex_lock(&m->slock);
	uint64_t leader = raft_leader(m->r);
	const char *url = "";
	for (size_t i = 0; i < m->nbook; i++)
		if (m->book[i].m.id == leader)
			url = m->book[i].m.rest_url;
	if (leader && leader != m->id)
		snprintf(buf, len, "master %llu is a %s; the leader is master %llu%s%s",
			 (unsigned long long)m->id, raft_role_name(raft_role(m->r)),
			 (unsigned long long)leader, *url ? " at " : "", url);
	else
		snprintf(buf, len, "master %llu is a %s and knows no leader now; retry",
			 (unsigned long long)m->id, raft_role_name(raft_role(m->r)));
	pthread_mutex_unlock(&m->slock);
}

/* Fails every pending waiter (qlock held). */
static void fail_pending(struct meta *m, int rc, const char *why)
{
	while (m->pend_head) {
		struct waiter *w = m->pend_head;
		m->pend_head = w->next;
		meta_waiter_complete(w, rc, why, 0);
	}
	m->pend_tail = NULL;
}

/* ---- the address book and the transport's peer set ---- */

static int book_table_fn(void *arg, const struct ns_master *row)
{
	struct meta *m = arg;
	if (m->nbook >= sizeof(m->book) / sizeof(m->book[0]))
		return 0;
	struct book_entry *b = &m->book[m->nbook++];
	memset(b, 0, sizeof(*b));
	b->m.id = row->id;
	snprintf(b->m.raft_address, sizeof(b->m.raft_address), "%s", row->raft_address);
	snprintf(b->m.rest_url, sizeof(b->m.rest_url), "%s", row->rest_url);
	b->from_table = true;
	return 0;
}

static struct book_entry *book_find(struct meta *m, uint64_t id)
{
	for (size_t i = 0; i < m->nbook; i++)
		if (m->book[i].m.id == id)
			return &m->book[i];
	return NULL;
}

static void book_add(struct meta *m, uint64_t id, const char *raft, const char *rest)
{
	if (book_find(m, id) || m->nbook >= sizeof(m->book) / sizeof(m->book[0]))
		return;
	struct book_entry *b = &m->book[m->nbook++];
	memset(b, 0, sizeof(*b));
	b->m.id = id;
	snprintf(b->m.raft_address, sizeof(b->m.raft_address), "%s", raft);
	snprintf(b->m.rest_url, sizeof(b->m.rest_url), "%s", rest);
}

void meta_book_reload(struct meta *m)
{
	pthread_mutex_lock(&m->slock);
	m->nbook = 0;
	if (m->ns && ns_masters(m->ns, book_table_fn, m))
		log_warn("cannot read the masters table");
	for (size_t i = 0; i < m->npeers; i++)
		book_add(m, m->peers[i].id, m->peers[i].raft_address, m->peers[i].rest_url);
	book_add(m, m->id, m->self_raft, m->self_rest);
	m->book_dirty = true;
	pthread_mutex_unlock(&m->slock);
}

static void mark_dirty(struct meta *m)
{
	pthread_mutex_lock(&m->slock);
	m->book_dirty = true;
	pthread_mutex_unlock(&m->slock);
}

static int start_net(struct meta *m, char *err, size_t errlen);

/* raft_net's peers: every voter but us with a known address, plus book
 * entries that are not voters yet (a master being added). */
static void update_net_peers(struct meta *m)
{
	struct raft_config cfg;
	raft_get_config(m->r, &cfg);
	size_t n = 0;
	pthread_mutex_lock(&m->slock);
	for (size_t i = 0; i < m->nbook && n < RAFT_NET_MAX_PEERS; i++) {
		const struct book_entry *b = &m->book[i];
		if (b->m.id == m->id || !*b->m.raft_address)
			continue;
		snprintf(m->net_addrs[n], sizeof(m->net_addrs[n]), "%s", b->m.raft_address);
		m->net_peers[n].id = b->m.id;
		m->net_peers[n].addr = m->net_addrs[n];
		n++;
	}
	pthread_mutex_unlock(&m->slock);
	m->nnet_peers = n;
	bool others = cfg.nvoters > 1 || (cfg.nvoters == 1 && cfg.voters[0] != m->id) ||
		      cfg.nvoters == 0;
	if (!m->net && others && n)
		start_net(m, NULL, 0);
	if (!m->net)
		return;
	char err[256];
	if (raft_net_set_peers(m->net, m->net_peers, n, err, sizeof(err)))
		log_warn("raft transport: %s", err);
}

static void on_net_message(void *arg, const struct raft_msg *msg)
{
	struct meta *m = arg;
	struct inmsg *im = calloc(1, sizeof(*im));
	if (!im || raft_msg_clone(&im->msg, msg)) {
		free(im);
		return; /* Raft tolerates loss */
	}
	pthread_mutex_lock(&m->qlock);
	if (m->msg_tail)
		m->msg_tail->next = im;
	else
		m->msg_head = im;
	m->msg_tail = im;
	pthread_mutex_unlock(&m->qlock);
	meta_wake(m);
}

static int start_net(struct meta *m, char *err, size_t errlen)
{
	if (m->net)
		return 0;
	char why[256] = "";
	struct raft_net_options o = {
		.self_id = m->id,
		.bind_host = m->raft_bind,
		.port = m->raft_port,
		.peers = m->net_peers,
		.npeers = m->nnet_peers,
		/* A snapshot is one frame: leave room for a large namespace. */
		.max_queued_bytes = (size_t)1 << 30,
		.max_frame = m->raft_max_frame,
		.frame_timeout_ms = m->raft_frame_timeout_ms,
		.on_message = on_net_message,
		.arg = m,
		.tls = { .cert_file = m->raft_tls_cert, .key_file = m->raft_tls_key,
			 .ca_file = m->raft_tls_ca },
	};
	int rc = raft_net_start(&o, &m->net, why, sizeof(why));
	if (rc) {
		if (strcmp(m->net_error, why) != 0)
			log_error("raft transport on %s:%u: %s", m->raft_bind, m->raft_port, why);
		snprintf(m->net_error, sizeof(m->net_error), "%s", why);
		if (err)
			snprintf(err, errlen, "cannot start the Raft transport on %s:%u: %s",
				 m->raft_bind, m->raft_port, why);
		m->net = NULL;
		return rc;
	}
	*m->net_error = '\0';
	log_info("raft transport listening on %s:%u (%zu peers%s)", m->raft_bind,
		 raft_net_port(m->net), m->nnet_peers,
		 *m->raft_tls_cert ? ", mutual TLS" : ", plaintext");
	return 0;
}

/* ---- the ready loop ---- */

static void node_failed(struct meta *m, const char *what, int rc)
{
	log_error("raft: %s: %s; this master stops serving writes; restart it", what,
		  strerror(rc < 0 ? -rc : rc));
	m->failed = true;
	pthread_mutex_lock(&m->qlock);
	fail_pending(m, -EIO, "this master's Raft storage failed; restart it");
	pthread_mutex_unlock(&m->qlock);
}

/* Hands entry e's result to its waiter, if it has one (qlock held). */
static void resolve(struct meta *m, const struct raft_entry *e, int rc, const char *err,
		    uint64_t data_id)
{
	while (m->pend_head && m->pend_head->index <= e->index) {
		struct waiter *w = m->pend_head;
		m->pend_head = w->next;
		if (!m->pend_head)
			m->pend_tail = NULL;
		if (w->index == e->index && w->term == e->term) {
			meta_waiter_complete(w, rc, err, data_id);
		} else {
			char why[META_ERRLEN];
			snprintf(why, sizeof(why),
				 "entry %llu of term %llu was replaced by another leader's; retry",
				 (unsigned long long)w->index, (unsigned long long)w->term);
			meta_waiter_complete(w, ST_ENOTLEADER, why, 0);
		}
	}
}

static int apply_entries(struct meta *m, const struct raft_entry *ents, size_t n)
{
	int fatal = 0;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < n && !fatal; i++) {
		const struct raft_entry *e = &ents[i];
		uint64_t applied = ns_applied_index(m->ns);
		if (e->index <= applied)
			continue;
		char err[META_ERRLEN] = "";
		if (e->index != applied + 1) {
			log_error("raft: entry %llu delivered after %llu", (unsigned long long)e->index,
				  (unsigned long long)applied);
			fatal = -EIO;
			break;
		}
		struct ns_result res = { 0 };
		int rc;
		if (e->type == RAFT_ENTRY_NORMAL) {
			/*
			 * A committed entry this master cannot decode (a newer
			 * format, damage) must not be skipped: the others may
			 * apply it, and skipping would make this copy diverge.
			 * Stop applying here; the index does not move.
			 */
			struct journal_cmd *cmd = NULL;
			rc = journal_decode(e->data, e->len, &cmd, err, sizeof(err));
			if (rc == -ENOMEM) {
				log_error("raft: out of memory decoding entry %llu",
					  (unsigned long long)e->index);
				fatal = -ENOMEM;
				break;
			}
			if (rc) {
				log_error("raft: committed entry %llu (term %llu) cannot be decoded: "
					  "%s; this master stops applying (its applied index stays "
					  "%llu) rather than diverge from the others; a master that "
					  "reads this journal format must apply it",
					  (unsigned long long)e->index, (unsigned long long)e->term,
					  err, (unsigned long long)applied);
				fatal = -EBADMSG;
				break;
			}
			rc = ns_apply(m->ns, e->index, cmd, &res, err, sizeof(err));
			if (!rc && (cmd->op == JOURNAL_MASTER_SET || cmd->op == JOURNAL_MASTER_DEL))
				meta_book_reload(m);
			if (m->on_apply && rc != -EIO)
				m->on_apply(m->on_apply_arg, cmd, rc);
			journal_free(cmd);
		} else {
			rc = ns_skip(m->ns, e->index, err, sizeof(err));
			if (e->type == RAFT_ENTRY_CONFIG)
				mark_dirty(m);
		}
		/* A database failure is not part of the command's meaning: the
		 * other masters did not fail, so this one must not go on. */
		if (rc == -EIO) {
			log_error("raft: applying entry %llu: %s", (unsigned long long)e->index, err);
			fatal = -EIO;
			break;
		}
		pthread_mutex_lock(&m->qlock);
		resolve(m, e, rc, err, res.data_id);
		pthread_mutex_unlock(&m->qlock);
	}
	pthread_mutex_unlock(&m->lock);
	return fatal;
}

/* A leader's snapshot replaces namespace.db (already durable in raft/). */
static int install_snapshot(struct meta *m, const struct raft_snapshot *snap)
{
	char err[512];
	int64_t t0 = mono_us();
	pthread_mutex_lock(&m->lock);
	ns_close(m->ns);
	m->ns = NULL;
	int rc = ns_restore(m->db_path, snap->data, snap->len, err, sizeof(err));
	if (!rc)
		rc = ns_open(m->db_path, &m->ns, err, sizeof(err));
	if (!rc)
		meta_book_reload(m);
	pthread_mutex_unlock(&m->lock);
	if (rc) {
		log_error("raft: installing the leader's snapshot at %llu: %s",
			  (unsigned long long)snap->index, err);
		return rc;
	}
	m->snap_index = snap->index;
	pthread_mutex_lock(&m->slock);
	m->status.snapshots_installed++;
	pthread_mutex_unlock(&m->slock);
	log_info("installed the leader's snapshot at entry %llu (%zu bytes) in %lld ms",
		 (unsigned long long)snap->index, snap->len, (long long)(mono_us() - t0) / 1000);
	return 0;
}

static void run_readies(struct meta *m)
{
	while (!m->failed && raft_has_ready(m->r)) {
		struct raft_ready rd;
		int rc = raft_ready(m->r, &rd);
		if (rc) {
			node_failed(m, "ready", rc);
			return;
		}
		/*
		 * A leader's messages carry no promise of its own (appends,
		 * heartbeats, rejections), so they go out before its fsync and
		 * followers write in parallel with it (Raft thesis §10.2.1). The
		 * core counts the leader's copy only at raft_advance, so an
		 * entry still commits only once a majority has it on disk. Any
		 * other ready (a vote, a new term) is durable before it is sent.
		 */
		bool early = rd.role == RAFT_LEADER && !rd.hs_changed && !rd.snapshot;
		for (size_t i = 0; early && m->net && i < rd.nmsgs; i++)
			raft_net_send(m->net, &rd.msgs[i]);
		int64_t t0 = mono_us();
		rc = raft_storage_persist_ready(m->st, &rd);
		if (rc) {
			node_failed(m, "persisting the log", rc);
			return;
		}
		if (rd.nentries || rd.hs_changed || rd.snapshot) {
			uint64_t us = (uint64_t)(mono_us() - t0);
			pthread_mutex_lock(&m->slock);
			if (rd.nentries) {
				m->status.batches++;
				m->status.batch_entries += rd.nentries;
				if (rd.nentries > m->status.batch_max)
					m->status.batch_max = rd.nentries;
			}
			m->status.fsync_us_total += us;
			if (us > m->status.fsync_us_max)
				m->status.fsync_us_max = us;
			pthread_mutex_unlock(&m->slock);
		}
		for (size_t i = 0; i < rd.nentries; i++)
			if (rd.entries[i].type == RAFT_ENTRY_CONFIG)
				mark_dirty(m);
		for (size_t i = 0; !early && m->net && i < rd.nmsgs; i++)
			raft_net_send(m->net, &rd.msgs[i]);
		if (rd.snapshot) {
			rc = install_snapshot(m, rd.snapshot);
			if (rc) {
				node_failed(m, "installing a snapshot", rc);
				return;
			}
			mark_dirty(m);
		}
		rc = apply_entries(m, rd.committed, rd.ncommitted);
		if (rc) {
			node_failed(m, "applying committed entries", rc);
			return;
		}
		raft_advance(m->r, &rd);
	}
}

/* Every snapshot_every applied entries: the database image becomes the
 * Raft snapshot (durable first), then the core compacts behind it. */
static void maybe_snapshot(struct meta *m)
{
	uint64_t applied = raft_applied_index(m->r);
	if (!m->snapshot_every || applied < m->snap_index + m->snapshot_every)
		return;
	int64_t t0 = mono_us();
	char err[512] = "";
	uint8_t *blob = NULL;
	size_t len = 0;
	pthread_mutex_lock(&m->lock);
	int rc = ns_applied_index(m->ns) == applied ? 0 : -EIO;
	if (!rc)
		rc = ns_serialize(m->ns, &blob, &len, err, sizeof(err));
	pthread_mutex_unlock(&m->lock);
	struct raft_snapshot meta;
	if (!rc)
		rc = raft_snapshot_meta(m->r, applied, &meta);
	if (!rc) {
		meta.data = blob;
		meta.len = len;
		rc = raft_storage_save_snapshot(m->st, &meta, false);
		if (rc) {
			free(blob);
			node_failed(m, "saving a snapshot", rc);
			return;
		}
		rc = raft_compact(m->r, applied, blob, len);
	}
	free(blob);
	if (rc) {
		log_warn("snapshot at entry %llu failed: %s", (unsigned long long)applied,
			 *err ? err : strerror(-rc));
		m->snap_index = applied; /* retry after another snapshot_every */
		return;
	}
	m->snap_index = applied;
	uint64_t ms = (uint64_t)(mono_us() - t0) / 1000;
	pthread_mutex_lock(&m->slock);
	m->status.snapshots++;
	m->status.snapshot_ms_total += ms;
	m->status.snapshot_ms_last = ms;
	m->status.snapshot_bytes_last = len;
	pthread_mutex_unlock(&m->slock);
	log_info("snapshot at entry %llu (%zu bytes) in %llu ms; raft log compacted",
		 (unsigned long long)applied, len, (unsigned long long)ms);
}

/* A new leader records in the replicated book the voters it only knows
 * from master.peers (or itself), once per term, after its first commit. */
static void maybe_seed_book(struct meta *m)
{
	uint64_t term = raft_term(m->r), cterm = 0;
	if (raft_role(m->r) != RAFT_LEADER || m->seeded_term == term ||
	    raft_term_at(m->r, raft_commit_index(m->r), &cterm) || cterm != term)
		return;
	struct raft_config cfg;
	raft_get_config(m->r, &cfg);
	bool waiting = false;
	pthread_mutex_lock(&m->slock);
	for (uint32_t i = 0; i < cfg.nvoters; i++) {
		const struct book_entry *b = book_find(m, cfg.voters[i]);
		if (!b || b->from_table)
			continue;
		if (!*b->m.raft_address || !*b->m.rest_url) {
			waiting |= b->m.id == m->id; /* our REST URL is not known yet */
			continue;
		}
		struct journal_cmd *cmd = journal_new(JOURNAL_MASTER_SET);
		char *text = NULL, why[META_ERRLEN];
		size_t len = 0;
		if (cmd) {
			struct journal_master_set *ms = &cmd->u.master_set;
			ms->id = b->m.id;
			snprintf(ms->raft_address, sizeof(ms->raft_address), "%s",
				 b->m.raft_address);
			snprintf(ms->rest_url, sizeof(ms->rest_url), "%s", b->m.rest_url);
			if (journal_encode(cmd, &text, &len, why, sizeof(why)))
				log_warn("raft: master %llu stays out of the address book: %s",
					 (unsigned long long)b->m.id, why);
		}
		journal_free(cmd);
		if (text)
			raft_propose(m->r, text, len, NULL);
		free(text);
	}
	pthread_mutex_unlock(&m->slock);
	if (!waiting)
		m->seeded_term = term;
}

static void propose_one(struct meta *m, struct waiter *w)
{
	uint64_t index = 0;
	int rc;
	char err[META_ERRLEN] = "";
	if (m->failed) {
		rc = -EIO;
		snprintf(err, sizeof(err), "this master's Raft storage failed; restart it");
	} else if (w->kind == W_PROPOSE) {
		rc = raft_propose(m->r, w->data, w->len, &index);
	} else {
		rc = 0;
		if (w->conf_op == RAFT_CONF_ADD && !m->net) {
			update_net_peers(m);
			rc = start_net(m, err, sizeof(err));
		}
		if (!rc)
			rc = raft_propose_conf_change(m->r, w->conf_op, w->conf_node, &index);
	}
	if (rc == -EPERM) {
		rc = ST_ENOTLEADER;
		not_leader_msg(m, err, sizeof(err));
	} else if (rc == -EBUSY) {
		rc = w->kind == W_CONF ? ST_ECONFBUSY : -EAGAIN;
		snprintf(err, sizeof(err), w->kind == W_CONF
			 ? "another membership change (or a leadership transfer) is in progress; retry"
			 : "a leadership transfer is in progress; retry");
	} else if (rc == -EAGAIN) {
		snprintf(err, sizeof(err),
			 "the new leader has not committed an entry of its term yet; retry");
	} else if (rc == -EEXIST || rc == -ENOENT) {
		snprintf(err, sizeof(err), "master %llu is %s", (unsigned long long)w->conf_node,
			 rc == -EEXIST ? "already a member" : "not a member");
	} else if (rc == -ENOSPC) {
		rc = -EINVAL;
		snprintf(err, sizeof(err), "a group has at most %d masters", RAFT_MAX_VOTERS);
	} else if (rc == -EINVAL && w->kind == W_CONF) {
		snprintf(err, sizeof(err), "cannot remove the last master");
	} else if (rc == -EMSGSIZE) {
		rc = -EINVAL;
		snprintf(err, sizeof(err), "command of %zu bytes exceeds the Raft entry limit",
			 w->len);
	} else if (rc && !*err) {
		snprintf(err, sizeof(err), "raft: %s", strerror(-rc));
	}
	pthread_mutex_lock(&m->qlock);
	if (rc) {
		meta_waiter_complete(w, rc, err, 0);
	} else {
		w->index = index;
		w->term = raft_term(m->r);
		w->next = NULL;
		if (m->pend_tail)
			m->pend_tail->next = w;
		else
			m->pend_head = w;
		m->pend_tail = w;
	}
	pthread_mutex_unlock(&m->qlock);
	pthread_mutex_lock(&m->slock);
	if (rc)
		m->status.proposals_failed++;
	else
		m->status.proposals++;
	pthread_mutex_unlock(&m->slock);
}

static void publish_status(struct meta *m)
{
	struct raft_config cfg;
	raft_get_config(m->r, &cfg);
	pthread_mutex_lock(&m->slock);
	struct meta_status *s = &m->status;
	enum raft_role role = raft_role(m->r);
	s->role = role == RAFT_LEADER ? "leader"
		  : role == RAFT_FOLLOWER ? "follower"
					  : "candidate";
	s->leader = raft_leader(m->r);
	s->term = raft_term(m->r);
	s->commit_index = raft_commit_index(m->r);
	s->applied_index = raft_applied_index(m->r);
	s->last_index = raft_last_index(m->r);
	s->snapshot_index = raft_first_index(m->r) - 1;
	s->failed = m->failed;
	*s->leader_url = '\0';
	const struct book_entry *lb = s->leader ? book_find(m, s->leader) : NULL;
	if (lb)
		snprintf(s->leader_url, sizeof(s->leader_url), "%s", lb->m.rest_url);
	s->nmembers = 0;
	for (uint32_t i = 0; i < cfg.nvoters; i++) {
		struct meta_member *mm = &s->members[s->nmembers++];
		const struct book_entry *b = book_find(m, cfg.voters[i]);
		memset(mm, 0, sizeof(*mm));
		if (b)
			*mm = b->m;
		mm->id = cfg.voters[i];
		mm->voter = true;
	}
	for (size_t i = 0; i < m->nbook; i++) {
		if (raft_config_has(&cfg, m->book[i].m.id) ||
		    s->nmembers >= sizeof(s->members) / sizeof(s->members[0]))
			continue;
		s->members[s->nmembers] = m->book[i].m;
		s->members[s->nmembers++].voter = false;
	}
	pthread_cond_broadcast(&m->scond);
	pthread_mutex_unlock(&m->slock);
}

static void *driver_main(void *arg)
{
	struct meta *m = arg;
	struct pollfd pf[2] = { { .fd = m->wake_fd, .events = POLLIN },
				{ .fd = m->timer_fd, .events = POLLIN } };
	for (;;) {
		if (poll(pf, 2, -1) < 0 && errno != EINTR)
			log_warn("raft driver: poll: %s", strerror(errno));
		uint64_t v;
		if ((pf[0].revents & POLLIN) && read(m->wake_fd, &v, sizeof(v)) < 0)
			v = 0;
		uint64_t ticks = 0;
		if ((pf[1].revents & POLLIN) && read(m->timer_fd, &ticks, sizeof(ticks)) < 0)
			ticks = 0;
		pthread_mutex_lock(&m->qlock);
		bool stop = m->stop;
		struct inmsg *msgs = m->msg_head;
		struct waiter *props = m->in_head;
		m->msg_head = m->msg_tail = NULL;
		m->in_head = m->in_tail = NULL;
		pthread_mutex_unlock(&m->qlock);
		/* A late tick only moves timeouts; a burst of them after a stall
		 * must not expire an election at once. */
		for (uint64_t i = 0; i < ticks && i < 3 && !m->failed; i++)
			raft_tick(m->r);
		while (msgs) {
			struct inmsg *next = msgs->next;
			if (!m->failed && !stop)
				raft_step(m->r, &msgs->msg);
			raft_msg_release(&msgs->msg);
			free(msgs);
			msgs = next;
		}
		while (props) {
			struct waiter *next = props->next;
			pthread_mutex_lock(&m->qlock);
			bool gone = props->abandoned;
			if (gone || stop)
				meta_waiter_complete(props, -ESHUTDOWN, "the master is stopping", 0);
			pthread_mutex_unlock(&m->qlock);
			if (!gone && !stop)
				propose_one(m, props);
			props = next;
		}
		if (stop)
			break;
		run_readies(m);
		enum raft_role role = raft_role(m->r);
		if (role != RAFT_LEADER) {
			pthread_mutex_lock(&m->qlock);
			bool any = m->pend_head != NULL;
			pthread_mutex_unlock(&m->qlock);
			if (any) {
				char why[400], msg[META_ERRLEN];
				not_leader_msg(m, why, sizeof(why));
				snprintf(msg, sizeof(msg), "leadership lost before the entry committed "
					 "(it may still be applied): %s", why);
				pthread_mutex_lock(&m->qlock);
				fail_pending(m, ST_ENOTLEADER, msg);
				pthread_mutex_unlock(&m->qlock);
			}
		}
		if (role != m->last_role) {
			if (role == RAFT_LEADER) {
				pthread_mutex_lock(&m->slock);
				m->status.elections_won++;
				pthread_mutex_unlock(&m->slock);
			}
			log_info("raft: %s in term %llu (leader %llu)", raft_role_name(role),
				 (unsigned long long)raft_term(m->r),
				 (unsigned long long)raft_leader(m->r));
			m->last_role = role;
		}
		if (!m->failed) {
			maybe_seed_book(m);
			run_readies(m);
			maybe_snapshot(m);
		}
		pthread_mutex_lock(&m->slock);
		bool dirty = m->book_dirty;
		m->book_dirty = false;
		pthread_mutex_unlock(&m->slock);
		if (dirty)
			update_net_peers(m);
		publish_status(m);
	}
	return NULL;
}

int meta_driver_start(struct meta *m, char *err, size_t errlen)
{
	m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	m->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (m->wake_fd < 0 || m->timer_fd < 0) {
		snprintf(err, errlen, "raft driver: %s", strerror(errno));
		goto err_fds;
	}
	struct itimerspec its = {
		.it_interval = { m->tick_ms / 1000, (m->tick_ms % 1000) * 1000000 },
		.it_value = { m->tick_ms / 1000, (m->tick_ms % 1000) * 1000000 },
	};
	timerfd_settime(m->timer_fd, 0, &its, NULL);
	m->last_role = raft_role(m->r);
	update_net_peers(m);
	m->book_dirty = false;
	struct raft_config cfg;
	raft_get_config(m->r, &cfg);
	if (!m->net && (m->npeers > 1 || m->join || cfg.nvoters > 1)) {
		int rc = start_net(m, err, errlen);
		if (rc)
			goto err_fds;
	}
	publish_status(m);
	if (pthread_create(&m->thread, NULL, driver_main, m) != 0) {
		snprintf(err, errlen, "raft driver: cannot start its thread");
		goto err_net;
	}
	m->thread_started = true;
	meta_wake(m);
	return 0;

err_net:
	raft_net_stop(m->net);
	m->net = NULL;
err_fds:
	if (m->wake_fd >= 0)
		close(m->wake_fd);
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	m->wake_fd = m->timer_fd = -1;
	return -EIO;
}

void meta_driver_stop(struct meta *m)
{
	pthread_mutex_lock(&m->qlock);
	m->stop = true;
	pthread_mutex_unlock(&m->qlock);
	if (m->thread_started) {
		meta_wake(m);
		pthread_join(m->thread, NULL);
		m->thread_started = false;
	}
	raft_net_stop(m->net);
	m->net = NULL;
	pthread_mutex_lock(&m->qlock);
	fail_pending(m, -ESHUTDOWN, "the master is stopping");
	while (m->in_head) {
		struct waiter *w = m->in_head;
		m->in_head = w->next;
		meta_waiter_complete(w, -ESHUTDOWN, "the master is stopping", 0);
	}
	while (m->msg_head) {
		struct inmsg *im = m->msg_head;
		m->msg_head = im->next;
		raft_msg_release(&im->msg);
		free(im);
	}
	m->msg_tail = NULL;
	m->in_tail = NULL;
	pthread_mutex_unlock(&m->qlock);
	if (m->wake_fd >= 0)
		close(m->wake_fd);
	if (m->timer_fd >= 0)
		close(m->timer_fd);
	m->wake_fd = m->timer_fd = -1;
}
