/*
 * Deterministic cluster simulation for the Raft core (see raft_sim.h).
 * The only randomness is s->rng, seeded from the run's seed, and the
 * simulation never iterates over anything in an address-dependent order,
 * so a seed replays bit for bit.
 */
#include "raft_sim.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* (index, term) -> digest of the entry and term of its predecessor: two
 * logs that share an (index, term) must agree there and, through the
 * predecessor's term, on everything before (Log Matching by induction). */
struct sim_lm {
	uint64_t index, term, digest, prev_term;
	bool used;
};

struct sim_kv {
	struct sim_lm *lm;
	size_t lm_cap, lm_n;
	uint64_t *applied_term, *applied_digest; /* by index; term 0: none */
	size_t applied_cap;
	uint64_t *val_op, *val_pos; /* by written value: op index + 1, log index */
	size_t val_cap;
};

static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t sim_rand(struct sim *s, uint64_t bound)
{
	return bound ? rng_next(&s->rng) % bound : 0;
}

static bool chance(struct sim *s, uint32_t num, uint32_t den)
{
	return num && sim_rand(s, den) < num;
}

void sim_fail(struct sim *s, const char *fmt, ...)
{
	if (s->failed)
		return;
	s->failed = true;
	int off = snprintf(s->failure, sizeof(s->failure), "seed=%llu step=%llu: ",
			   (unsigned long long)s->seed, (unsigned long long)s->now);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->failure + off, sizeof(s->failure) - (size_t)off, fmt, ap);
	va_end(ap);
}

static void trace(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void trace(struct sim *s, const char *fmt, ...)
{
	if (!s->trace)
		return;
	va_list ap;
	printf("t=%llu ", (unsigned long long)s->now);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void trace_msg(struct sim *s, const char *what, const struct raft_msg *m)
{
	trace(s, "%s %s %llu->%llu term=%llu idx=%llu/%llu commit=%llu n=%zu%s%s", what,
	      raft_msg_type_name(m->type), (unsigned long long)m->from,
	      (unsigned long long)m->to, (unsigned long long)m->term,
	      (unsigned long long)m->log_index, (unsigned long long)m->log_term,
	      (unsigned long long)m->commit, m->nentries, m->reject ? " reject" : "",
	      m->type == RAFT_MSG_SNAPSHOT ? " (snapshot)" : "");
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		fprintf(stderr, "raft_sim: out of memory\n");
		abort();
	}
	return q;
}

static void grow_one(uint64_t **arr, size_t old_cap, size_t ncap)
{
	*arr = xrealloc(*arr, ncap * sizeof(**arr));
	memset(*arr + old_cap, 0, (ncap - old_cap) * sizeof(**arr));
}

/* Grows zero-filled uint64 arrays (b may be NULL) sharing one capacity so
 * that index i is valid in both. */
static void grow_u64(uint64_t **a, uint64_t **b, size_t *cap, size_t i)
{
	if (i < *cap)
		return;
	size_t ncap = *cap ? *cap : 64;
	while (ncap <= i)
		ncap *= 2;
	grow_one(a, *cap, ncap);
	if (b)
		grow_one(b, *cap, ncap);
	*cap = ncap;
}

static uint64_t digest(const struct raft_entry *e)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)e->type;
	for (size_t i = 0; i < e->len; i++)
		h = (h ^ e->data[i]) * 1099511628211ULL;
	return h ^ (e->term * 0x9e3779b97f4a7c15ULL);
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

struct sim_node *sim_node(struct sim *s, uint64_t id)
{
	return id >= 1 && id <= s->n ? &s->nodes[id - 1] : NULL;
}

static void lm_insert(struct sim_kv *kv, struct sim_lm *item);

static void lm_grow(struct sim_kv *kv)
{
	struct sim_lm *old = kv->lm;
	size_t old_cap = kv->lm_cap;
	kv->lm_cap = old_cap ? old_cap * 2 : 1024;
	kv->lm = calloc(kv->lm_cap, sizeof(*kv->lm));
	if (!kv->lm)
		abort();
	kv->lm_n = 0;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].used)
			lm_insert(kv, &old[i]);
	free(old);
}

static struct sim_lm *lm_slot(struct sim_kv *kv, uint64_t index, uint64_t term)
{
	size_t mask = kv->lm_cap - 1;
	size_t h = (size_t)((index * 0x9e3779b97f4a7c15ULL) ^ (term * 0xc2b2ae3d27d4eb4fULL));
	for (size_t i = h & mask;; i = (i + 1) & mask)
		if (!kv->lm[i].used || (kv->lm[i].index == index && kv->lm[i].term == term))
			return &kv->lm[i];
}

static void lm_insert(struct sim_kv *kv, struct sim_lm *item)
{
	if ((kv->lm_n + 1) * 2 > kv->lm_cap)
		lm_grow(kv);
	struct sim_lm *slot = lm_slot(kv, item->index, item->term);
	if (!slot->used)
		kv->lm_n++;
	*slot = *item;
	slot->used = true;
}

static void check_log_matching(struct sim *s, uint64_t id, const struct raft_entry *e,
			       uint64_t prev_term)
{
	struct sim_kv *kv = s->kv;
	if (!kv->lm_cap)
		lm_grow(kv);
	struct sim_lm *slot = lm_slot(kv, e->index, e->term);
	uint64_t d = digest(e);
	if (slot->used) {
		if (slot->digest != d || slot->prev_term != prev_term)
			sim_fail(s, "log matching: node %llu entry %llu/t%llu differs from "
				 "another log (prev term %llu vs %llu)",
				 (unsigned long long)id, (unsigned long long)e->index,
				 (unsigned long long)e->term, (unsigned long long)prev_term,
				 (unsigned long long)slot->prev_term);
		return;
	}
	struct sim_lm item = { .index = e->index, .term = e->term, .digest = d,
			       .prev_term = prev_term };
	lm_insert(kv, &item);
}

static void check_election_safety(struct sim *s, struct sim_node *nd)
{
	if (!nd->r || raft_role(nd->r) != RAFT_LEADER)
		return;
	uint64_t term = raft_term(nd->r);
	if (term >= s->leader_terms) {
		grow_u64(&s->leader_of_term, NULL, &s->leader_terms, (size_t)term);
	}
	if (s->leader_of_term[term] == nd->id)
		return;
	if (s->leader_of_term[term]) {
		sim_fail(s, "election safety: nodes %llu and %llu both leaders in term %llu",
			 (unsigned long long)s->leader_of_term[term],
			 (unsigned long long)nd->id, (unsigned long long)term);
		return;
	}
	s->leader_of_term[term] = nd->id;
	s->leader_changes++;
	/* Leader completeness, at the moment it takes office: it holds every
	 * entry anyone has applied. */
	for (uint64_t i = raft_first_index(nd->r); i <= s->max_applied; i++) {
		uint64_t t = 0;
		if (raft_term_at(nd->r, i, &t) || t != s->kv->applied_term[i]) {
			sim_fail(s, "leader completeness: new leader %llu (term %llu) lacks "
				 "committed entry %llu/t%llu",
				 (unsigned long long)nd->id, (unsigned long long)term,
				 (unsigned long long)i,
				 (unsigned long long)s->kv->applied_term[i]);
			return;
		}
	}
}

static void net_send(struct sim *s, const struct raft_msg *m)
{
	int copies = 1;
	if (chance(s, s->faults.drop_pct, 100)) {
		s->dropped++;
		trace_msg(s, "lose", m);
		return;
	}
	if (chance(s, s->faults.dup_pct, 100))
		copies = 2;
	for (int c = 0; c < copies; c++) {
		if (s->nnet == s->net_cap) {
			s->net_cap = s->net_cap ? s->net_cap * 2 : 256;
			s->net = xrealloc(s->net, s->net_cap * sizeof(*s->net));
		}
		struct sim_msg *sm = &s->net[s->nnet];
		if (raft_msg_clone(&sm->m, m))
			abort();
		sm->deliver_at = s->now + 1 + sim_rand(s, (uint64_t)s->faults.max_delay + 1);
		s->nnet++;
	}
}

static void durable_truncate(struct sim_node *nd, uint64_t from)
{
	while (nd->nlog && nd->log[nd->nlog - 1].index >= from) {
		free(nd->log[nd->nlog - 1].data);
		nd->nlog--;
	}
}

static void durable_compact(struct sim_node *nd, uint64_t upto)
{
	size_t drop = 0;
	while (drop < nd->nlog && nd->log[drop].index <= upto)
		free(nd->log[drop++].data);
	memmove(nd->log, nd->log + drop, (nd->nlog - drop) * sizeof(*nd->log));
	nd->nlog -= drop;
}

static void durable_append(struct sim *s, struct sim_node *nd, const struct raft_entry *e)
{
	durable_truncate(nd, e->index);
	uint64_t expect = nd->nlog ? nd->log[nd->nlog - 1].index + 1 : nd->snap.index + 1;
	if (e->index != expect) {
		sim_fail(s, "node %llu persisted entry %llu after %llu (gap)",
			 (unsigned long long)nd->id, (unsigned long long)e->index,
			 (unsigned long long)expect - 1);
		return;
	}
	if (nd->nlog == nd->log_cap) {
		nd->log_cap = nd->log_cap ? nd->log_cap * 2 : 64;
		nd->log = xrealloc(nd->log, nd->log_cap * sizeof(*nd->log));
	}
	struct raft_entry *d = &nd->log[nd->nlog++];
	*d = *e;
	d->data = NULL;
	if (e->len) {
		d->data = xrealloc(NULL, e->len);
		memcpy(d->data, e->data, e->len);
	}
}

static void durable_snapshot(struct sim_node *nd, const struct raft_snapshot *snap,
			     bool discard_log)
{
	free(nd->snap.data);
	nd->snap = *snap;
	nd->snap.data = NULL;
	if (snap->len) {
		nd->snap.data = xrealloc(NULL, snap->len);
		memcpy(nd->snap.data, snap->data, snap->len);
	}
	if (discard_log)
		durable_truncate(nd, 0);
	else
		durable_compact(nd, snap->index);
}

static void persist_entries(struct sim *s, struct sim_node *nd, const struct raft_ready *rd,
			    size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct raft_entry *e = &rd->entries[i];
		uint64_t prev_term = 0;
		if (raft_term_at(nd->r, e->index - 1, &prev_term))
			sim_fail(s, "node %llu: no term for %llu before a persisted entry",
				 (unsigned long long)nd->id, (unsigned long long)e->index - 1);
		check_log_matching(s, nd->id, e, prev_term);
		if (!nd->st) /* real storage keeps its own */
			durable_append(s, nd, e);
	}
}

static void apply_entry(struct sim *s, struct sim_node *nd, const struct raft_entry *e)
{
	struct sim_kv *kv = s->kv;
	if (e->index != nd->applied + 1) {
		sim_fail(s, "node %llu applies %llu after %llu", (unsigned long long)nd->id,
			 (unsigned long long)e->index, (unsigned long long)nd->applied);
		return;
	}
	grow_u64(&kv->applied_term, &kv->applied_digest, &kv->applied_cap, (size_t)e->index);
	uint64_t d = digest(e);
	if (kv->applied_term[e->index]) {
		if (kv->applied_term[e->index] != e->term || kv->applied_digest[e->index] != d)
			sim_fail(s, "state machine safety: node %llu applies %llu/t%llu, "
				 "another node applied t%llu there",
				 (unsigned long long)nd->id, (unsigned long long)e->index,
				 (unsigned long long)e->term,
				 (unsigned long long)kv->applied_term[e->index]);
	} else {
		kv->applied_term[e->index] = e->term;
		kv->applied_digest[e->index] = d;
		if (e->index > s->max_applied)
			s->max_applied = e->index;
		s->commits_seen++;
		if (e->type == RAFT_ENTRY_CONFIG)
			s->confs_applied++;
	}
	nd->applied = e->index;
	if (e->type != RAFT_ENTRY_NORMAL || e->len != 8)
		return;
	uint64_t v = get_u64(e->data);
	nd->value = v;
	grow_u64(&kv->val_pos, &kv->val_op, &kv->val_cap, (size_t)v);
	kv->val_pos[v] = e->index;
	uint64_t opi = kv->val_op[v];
	if (opi) {
		struct sim_op *op = &s->ops[opi - 1];
		if (!op->complete && op->node == nd->id && op->incarnation == nd->incarnation &&
		    op->index == e->index && op->term == e->term) {
			op->complete = s->now;
			s->writes_done++;
		}
	}
}

static void serve_reads(struct sim *s, struct sim_node *nd)
{
	size_t kept = 0;
	for (size_t i = 0; i < nd->nwait; i++) {
		if (nd->wait_index[i] <= nd->applied) {
			struct sim_op *op = &s->ops[nd->wait_op[i]];
			op->value = nd->value;
			op->complete = s->now;
			s->reads_done++;
			trace(s, "client read #%llu on %llu returns %llu",
			      (unsigned long long)nd->wait_op[i], (unsigned long long)nd->id,
			      (unsigned long long)op->value);
		} else {
			nd->wait_op[kept] = nd->wait_op[i];
			nd->wait_index[kept] = nd->wait_index[i];
			kept++;
		}
	}
	nd->nwait = kept;
}

static void add_wait(struct sim *s, struct sim_node *nd, uint64_t op, uint64_t index)
{
	if (op >= s->nops || s->ops[op].kind != SIM_OP_READ || s->ops[op].node != nd->id ||
	    s->ops[op].incarnation != nd->incarnation) {
		sim_fail(s, "node %llu returned a read for unknown ctx %llu",
			 (unsigned long long)nd->id, (unsigned long long)op);
		return;
	}
	if (nd->nwait == nd->wait_cap) {
		nd->wait_cap = nd->wait_cap ? nd->wait_cap * 2 : 16;
		nd->wait_op = xrealloc(nd->wait_op, nd->wait_cap * sizeof(uint64_t));
		nd->wait_index = xrealloc(nd->wait_index, nd->wait_cap * sizeof(uint64_t));
	}
	nd->wait_op[nd->nwait] = op;
	nd->wait_index[nd->nwait] = index;
	nd->nwait++;
}

void sim_crash(struct sim *s, uint64_t id)
{
	struct sim_node *nd = sim_node(s, id);
	if (!nd || !nd->r)
		return;
	raft_destroy(nd->r);
	nd->r = NULL;
	raft_storage_close(nd->st);
	nd->st = NULL;
	nd->nwait = 0;
	nd->incarnation++;
	s->crashes++;
	trace(s, "crash node %llu", (unsigned long long)id);
}

static void node_dir(struct sim *s, uint64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/n%llu", s->storage_root, (unsigned long long)id);
}

/* Name and size of the newest segment file of a node; size -1 if none. */
static off_t newest_segment(struct sim *s, uint64_t id, char *path, size_t len)
{
	char dir[192], best[256] = "";
	node_dir(s, id, dir, sizeof(dir));
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "log-", 4) && strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof(best), "%s", de->d_name);
	closedir(d);
	if (!best[0])
		return -1;
	snprintf(path, len, "%s/%s", dir, best);
	struct stat stbuf;
	return stat(path, &stbuf) == 0 ? stbuf.st_size : -1;
}

/* Real storage: persist the ready, then, if torn, lose a random part of
 * the bytes this append added to the newest segment (fsynced bytes of
 * earlier appends are never touched). */
static void storage_persist(struct sim *s, struct sim_node *nd, const struct raft_ready *rd,
			    bool torn)
{
	char before_path[320] = "", after_path[320] = "";
	off_t before = torn ? newest_segment(s, nd->id, before_path, sizeof(before_path)) : -1;
	int rc = raft_storage_persist_ready(nd->st, rd);
	if (rc) {
		sim_fail(s, "node %llu: raft_storage_persist_ready: %d",
			 (unsigned long long)nd->id, rc);
		return;
	}
	if (!torn || !rd->nentries)
		return;
	off_t after = newest_segment(s, nd->id, after_path, sizeof(after_path));
	off_t from = strcmp(before_path, after_path) ? RAFT_STORAGE_SEGMENT_HEADER_SIZE : before;
	if (after <= from)
		return;
	off_t cut = from + (off_t)sim_rand(s, (uint64_t)(after - from) + 1);
	if (truncate(after_path, cut) != 0)
		sim_fail(s, "truncate %s: %s", after_path, strerror(errno));
}

/* A crash while persisting: the snapshot (atomic) may or may not have
 * landed, then a prefix of the entries, then maybe the hard state. Nothing
 * was sent or applied, so losing the rest is allowed. */
static void torn_persist(struct sim *s, struct sim_node *nd, const struct raft_ready *rd)
{
	s->torn++;
	nd->torn_pending = true;
	trace(s, "torn crash of node %llu while persisting %zu entries",
	      (unsigned long long)nd->id, rd->nentries);
	if (nd->st) {
		storage_persist(s, nd, rd, true);
		raft_advance(nd->r, rd);
		sim_crash(s, nd->id);
		return;
	}
	if (rd->snapshot) {
		if (sim_rand(s, 2))
			goto crash;
		durable_snapshot(nd, rd->snapshot, true);
	}
	size_t n = (size_t)sim_rand(s, rd->nentries + 1);
	persist_entries(s, nd, rd, n);
	if (n == rd->nentries && rd->hs_changed && sim_rand(s, 2))
		nd->hs = rd->hs;
crash:
	raft_advance(nd->r, rd);
	sim_crash(s, nd->id);
}

static void maybe_compact(struct sim *s, struct sim_node *nd)
{
	uint32_t every = s->faults.snapshot_every;
	if (!every || nd->applied < raft_first_index(nd->r) - 1 + every)
		return;
	struct raft_snapshot meta;
	uint8_t data[16];
	memcpy(data, &nd->value, 8);
	memcpy(data + 8, &nd->applied, 8);
	if (raft_snapshot_meta(nd->r, nd->applied, &meta)) {
		sim_fail(s, "node %llu: raft_snapshot_meta(%llu) failed",
			 (unsigned long long)nd->id, (unsigned long long)nd->applied);
		return;
	}
	meta.data = data;
	meta.len = sizeof(data);
	if (!nd->st)
		durable_snapshot(nd, &meta, false);
	else if (raft_storage_save_snapshot(nd->st, &meta, false))
		sim_fail(s, "node %llu: raft_storage_save_snapshot failed",
			 (unsigned long long)nd->id);
	if (raft_compact(nd->r, meta.index, data, sizeof(data)))
		sim_fail(s, "node %llu: raft_compact failed", (unsigned long long)nd->id);
	s->snapshots++;
}

void sim_process(struct sim *s, uint64_t id)
{
	struct sim_node *nd = sim_node(s, id);
	struct raft_ready rd;

	while (nd && nd->r && !s->failed && raft_has_ready(nd->r)) {
		if (raft_ready(nd->r, &rd)) {
			sim_fail(s, "node %llu: raft_ready failed", (unsigned long long)id);
			return;
		}
		check_election_safety(s, nd);
		if (s->trace && (rd.role != nd->last_role || rd.term != nd->last_term))
			trace(s, "node %llu is %s in term %llu (leader %llu)",
			      (unsigned long long)id, raft_role_name(rd.role),
			      (unsigned long long)rd.term, (unsigned long long)rd.leader);
		/* A transfer completed: the node told to campaign won the very
		 * next term. */
		if (rd.role == RAFT_LEADER && nd->timeout_now_term &&
		    rd.term == nd->timeout_now_term + 1) {
			s->transfers_done++;
			nd->timeout_now_term = 0;
		}
		nd->last_role = rd.role;
		nd->last_term = rd.term;
		/* As the master's driver does: a leader's messages go out before
		 * its own fsync, which a torn crash may then lose. */
		bool early = rd.role == RAFT_LEADER && !rd.hs_changed && !rd.snapshot;
		for (size_t i = 0; early && i < rd.nmsgs; i++)
			net_send(s, &rd.msgs[i]);
		if ((rd.nentries || rd.hs_changed || rd.snapshot) &&
		    chance(s, s->faults.torn_pct, 100)) {
			torn_persist(s, nd, &rd);
			return;
		}
		if (nd->st)
			storage_persist(s, nd, &rd, false);
		else if (rd.snapshot)
			durable_snapshot(nd, rd.snapshot, true);
		persist_entries(s, nd, &rd, rd.nentries);
		if (rd.hs_changed)
			nd->hs = rd.hs;
		for (size_t i = 0; !early && i < rd.nmsgs; i++)
			net_send(s, &rd.msgs[i]);
		if (rd.snapshot) {
			if (rd.snapshot->len != 16) {
				sim_fail(s, "node %llu: snapshot of %zu bytes",
					 (unsigned long long)id, rd.snapshot->len);
			} else {
				nd->value = get_u64(rd.snapshot->data);
				nd->applied = rd.snapshot->index;
			}
			nd->saw_snapshot_install = true;
			s->installs++;
		}
		for (size_t i = 0; i < rd.ncommitted; i++)
			apply_entry(s, nd, &rd.committed[i]);
		for (size_t i = 0; i < rd.nreads; i++)
			add_wait(s, nd, rd.reads[i].ctx, rd.reads[i].index);
		serve_reads(s, nd);
		/* The contract: a read's index is covered by committed entries
		 * already delivered, so it can be served at once. */
		if (nd->nwait)
			sim_fail(s, "node %llu: read at index %llu > applied %llu",
				 (unsigned long long)id, (unsigned long long)nd->wait_index[0],
				 (unsigned long long)nd->applied);
		raft_advance(nd->r, &rd);
		maybe_compact(s, nd);
	}
}

static void boot_node(struct sim *s, struct sim_node *nd)
{
	struct raft_options opts = s->opts;
	opts.id = nd->id;
	opts.seed = s->seed * 31 + nd->incarnation;
	struct raft_boot boot = {
		.hs = nd->hs,
		.snapshot = nd->snap.index ? &nd->snap : NULL,
		.entries = nd->log,
		.nentries = nd->nlog,
	};
	struct raft_storage_boot sb;
	bool from_storage = s->storage_root[0];
	if (from_storage) {
		char dir[192], err[256] = "";
		node_dir(s, nd->id, dir, sizeof(dir));
		int rc = raft_storage_open(dir, NULL, &nd->st, &sb, err, sizeof(err));
		if (rc) {
			sim_fail(s, "node %llu: raft_storage_open: %d %s",
				 (unsigned long long)nd->id, rc, err);
			return;
		}
		raft_storage_boot_to_raft(&sb, &boot);
		if (sb.truncated_bytes > 0)
			s->torn_tails_cut++;
	}
	if (raft_config_has(&s->initial, nd->id))
		boot.initial_config = s->initial;
	int rc = raft_create(&opts, &boot, &nd->r);
	if (rc) {
		sim_fail(s, "node %llu: raft_create: %d", (unsigned long long)nd->id, rc);
		nd->r = NULL;
	} else if (boot.snapshot && boot.snapshot->len == 16) {
		nd->value = get_u64(boot.snapshot->data);
		nd->applied = boot.snapshot->index;
	} else {
		nd->value = 0;
		nd->applied = boot.snapshot ? boot.snapshot->index : 0;
	}
	if (from_storage)
		raft_storage_boot_free(&sb);
}

void sim_restart(struct sim *s, uint64_t id)
{
	struct sim_node *nd = sim_node(s, id);
	if (!nd || nd->r)
		return;
	boot_node(s, nd);
	s->restarts++;
	nd->timeout_now_term = 0;
	if (nd->r && nd->torn_pending) {
		s->torn_recovered++;
		nd->torn_pending = false;
	}
	if (nd->r)
		trace(s, "restart node %llu: term %llu, log (%llu, %llu]",
		      (unsigned long long)id, (unsigned long long)raft_term(nd->r),
		      (unsigned long long)raft_first_index(nd->r) - 1,
		      (unsigned long long)raft_last_index(nd->r));
}

static int sim_setup(struct sim *s, uint64_t seed, size_t nnodes, size_t nvoters,
		     const struct raft_options *base, const struct sim_faults *faults,
		     const char *storage_root)
{
	if (nnodes > SIM_MAX_NODES || nvoters > nnodes || nvoters == 0)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	if (storage_root)
		snprintf(s->storage_root, sizeof(s->storage_root), "%s", storage_root);
	s->seed = seed;
	s->rng = seed;
	s->n = nnodes;
	s->opts = *base;
	if (faults)
		s->faults = *faults;
	s->kv = calloc(1, sizeof(*s->kv));
	if (!s->kv)
		return -ENOMEM;
	for (size_t i = 0; i < nvoters; i++)
		s->initial.voters[s->initial.nvoters++] = i + 1;
	s->next_value = 1;
	for (size_t i = 0; i < nnodes; i++) {
		s->nodes[i].id = i + 1;
		boot_node(s, &s->nodes[i]);
	}
	return s->failed ? -EINVAL : 0;
}

int sim_init(struct sim *s, uint64_t seed, size_t nnodes, size_t nvoters,
	     const struct raft_options *base, const struct sim_faults *faults)
{
	return sim_setup(s, seed, nnodes, nvoters, base, faults, NULL);
}

int sim_init_storage(struct sim *s, uint64_t seed, size_t nnodes, size_t nvoters,
		     const struct raft_options *base, const struct sim_faults *faults,
		     const char *storage_root)
{
	return sim_setup(s, seed, nnodes, nvoters, base, faults, storage_root);
}

void sim_free(struct sim *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct sim_node *nd = &s->nodes[i];
		raft_destroy(nd->r);
		raft_storage_close(nd->st);
		durable_truncate(nd, 0);
		free(nd->log);
		free(nd->snap.data);
		free(nd->wait_op);
		free(nd->wait_index);
	}
	for (size_t i = 0; i < s->nnet; i++)
		raft_msg_release(&s->net[i].m);
	free(s->net);
	free(s->ops);
	free(s->leader_of_term);
	if (s->kv) {
		free(s->kv->lm);
		free(s->kv->applied_term);
		free(s->kv->applied_digest);
		free(s->kv->val_op);
		free(s->kv->val_pos);
		free(s->kv);
	}
	memset(s, 0, sizeof(*s));
}

static bool link_up(const struct sim *s, uint64_t from, uint64_t to)
{
	return s->group[from - 1] == s->group[to - 1] && !s->cut[from - 1][to - 1];
}

static void deliver(struct sim *s, struct raft_msg *m)
{
	struct sim_node *nd = sim_node(s, m->to);
	if (nd && nd->r && link_up(s, m->from, m->to)) {
		trace_msg(s, "deliver", m);
		if (m->type == RAFT_MSG_SNAPSHOT)
			s->snapshot_msgs++;
		if (m->type == RAFT_MSG_TIMEOUT_NOW)
			nd->timeout_now_term = raft_term(nd->r);
		int rc = raft_step(nd->r, m);
		if (rc)
			sim_fail(s, "node %llu: raft_step(%s): %d", (unsigned long long)m->to,
				 raft_msg_type_name(m->type), rc);
		s->delivered++;
		sim_process(s, m->to);
	} else {
		s->dropped++;
	}
	raft_msg_release(m);
}

void sim_deliver_all(struct sim *s)
{
	/* FIFO, ignoring delays: for focused tests that want determinism
	 * without thinking about time. Bounded so a livelock fails loudly. */
	for (int rounds = 0; s->nnet && rounds < 100000 && !s->failed; rounds++) {
		struct raft_msg m = s->net[0].m;
		memmove(s->net, s->net + 1, (s->nnet - 1) * sizeof(*s->net));
		s->nnet--;
		deliver(s, &m);
	}
}

static void deliver_due(struct sim *s)
{
	size_t ndue = 0;
	struct sim_msg *due = NULL;
	size_t kept = 0;
	for (size_t i = 0; i < s->nnet; i++) {
		if (s->net[i].deliver_at <= s->now) {
			due = xrealloc(due, (ndue + 1) * sizeof(*due));
			due[ndue++] = s->net[i];
		} else {
			s->net[kept++] = s->net[i];
		}
	}
	s->nnet = kept;
	for (size_t i = ndue; i > 1; i--) { /* Fisher-Yates: reordering */
		size_t j = (size_t)sim_rand(s, i);
		struct sim_msg t = due[i - 1];
		due[i - 1] = due[j];
		due[j] = t;
	}
	for (size_t i = 0; i < ndue; i++) {
		if (s->failed)
			raft_msg_release(&due[i].m);
		else
			deliver(s, &due[i].m);
	}
	free(due);
}

void sim_tick(struct sim *s, uint64_t id)
{
	struct sim_node *nd = sim_node(s, id);
	if (!nd || !nd->r)
		return;
	int rc = raft_tick(nd->r);
	if (rc)
		sim_fail(s, "node %llu: raft_tick: %d", (unsigned long long)id, rc);
	sim_process(s, id);
}

void sim_tick_all(struct sim *s, uint32_t ticks)
{
	for (uint32_t t = 0; t < ticks && !s->failed; t++) {
		s->now++;
		for (size_t i = 0; i < s->n; i++)
			sim_tick(s, i + 1);
		sim_deliver_all(s);
	}
}

void sim_isolate(struct sim *s, uint64_t id, bool isolated)
{
	for (size_t i = 0; i < s->n; i++) {
		if (i + 1 == id)
			continue;
		s->cut[id - 1][i] = isolated;
		s->cut[i][id - 1] = isolated;
	}
}

void sim_cut(struct sim *s, uint64_t a, uint64_t b, bool cut)
{
	s->cut[a - 1][b - 1] = cut;
	s->cut[b - 1][a - 1] = cut;
}

uint64_t sim_leader(struct sim *s)
{
	uint64_t best = 0, best_term = 0;
	for (size_t i = 0; i < s->n; i++) {
		struct raft *r = s->nodes[i].r;
		if (r && raft_role(r) == RAFT_LEADER && raft_term(r) >= best_term) {
			best = s->nodes[i].id;
			best_term = raft_term(r);
		}
	}
	return best;
}

static struct sim_op *new_op(struct sim *s, enum sim_op_kind kind, struct sim_node *nd)
{
	if (s->nops == s->ops_cap) {
		s->ops_cap = s->ops_cap ? s->ops_cap * 2 : 64;
		s->ops = xrealloc(s->ops, s->ops_cap * sizeof(*s->ops));
	}
	struct sim_op *op = &s->ops[s->nops++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->invoke = s->now;
	op->node = nd->id;
	op->incarnation = nd->incarnation;
	return op;
}

int sim_write(struct sim *s, uint64_t id, uint64_t value)
{
	struct sim_node *nd = sim_node(s, id);
	if (!nd || !nd->r)
		return -ENOENT;
	uint8_t buf[8];
	memcpy(buf, &value, 8);
	uint64_t index = 0;
	int rc = raft_propose(nd->r, buf, sizeof(buf), &index);
	if (rc)
		return rc;
	trace(s, "client write %llu via %llu at index %llu", (unsigned long long)value,
	      (unsigned long long)id, (unsigned long long)index);
	struct sim_op *op = new_op(s, SIM_OP_WRITE, nd);
	op->value = value;
	op->index = index;
	op->term = raft_term(nd->r);
	struct sim_kv *kv = s->kv;
	grow_u64(&kv->val_pos, &kv->val_op, &kv->val_cap, (size_t)value);
	kv->val_op[value] = s->nops; /* op index + 1 */
	sim_process(s, id);
	return 0;
}

int sim_read(struct sim *s, uint64_t id)
{
	struct sim_node *nd = sim_node(s, id);
	if (!nd || !nd->r)
		return -ENOENT;
	int rc = raft_read_index(nd->r, s->nops);
	if (rc)
		return rc;
	new_op(s, SIM_OP_READ, nd);
	sim_process(s, id);
	return 0;
}

static void random_partition(struct sim *s)
{
	for (size_t i = 0; i < s->n; i++)
		s->group[i] = (int)sim_rand(s, 2);
	if (s->trace) {
		char buf[64] = "";
		for (size_t i = 0; i < s->n; i++)
			buf[i] = (char)('a' + s->group[i]);
		trace(s, "partition: groups %s", buf);
	}
}

static void random_conf_change(struct sim *s, struct sim_node *nd)
{
	struct raft_config cfg;
	raft_get_config(nd->r, &cfg);
	uint64_t target = 1 + sim_rand(s, s->n);
	int rc;
	if (raft_config_has(&cfg, target)) {
		if (cfg.nvoters < 3)
			return;
		rc = raft_propose_conf_change(nd->r, RAFT_CONF_REMOVE, target, NULL);
	} else {
		rc = raft_propose_conf_change(nd->r, RAFT_CONF_ADD, target, NULL);
	}
	if (rc == 0)
		s->conf_changes++;
	else if (rc != -EBUSY && rc != -EAGAIN)
		sim_fail(s, "conf change on leader %llu: %d", (unsigned long long)nd->id, rc);
	sim_process(s, nd->id);
}

static void random_events(struct sim *s)
{
	struct sim_faults *f = &s->faults;
	struct sim_node *nd = &s->nodes[sim_rand(s, s->n)];

	if (chance(s, f->crash_permille, 1000))
		sim_crash(s, nd->id);
	nd = &s->nodes[sim_rand(s, s->n)];
	if (!nd->r && chance(s, f->restart_pct, 100))
		sim_restart(s, nd->id);
	if (chance(s, f->partition_permille, 1000))
		random_partition(s);
	if (chance(s, f->heal_pct, 100)) {
		memset(s->group, 0, sizeof(s->group));
		trace(s, "heal");
	}

	/* Clients talk to a random node and only the leader accepts. */
	nd = &s->nodes[sim_rand(s, s->n)];
	if (!nd->r || raft_role(nd->r) != RAFT_LEADER)
		return;
	if (chance(s, f->write_pct, 100)) {
		int rc = sim_write(s, nd->id, s->next_value);
		if (rc == 0)
			s->next_value++;
		else if (rc != -EBUSY)
			sim_fail(s, "propose on leader %llu: %d", (unsigned long long)nd->id, rc);
	}
	if (nd->r && raft_role(nd->r) == RAFT_LEADER && chance(s, f->read_pct, 100)) {
		int rc = sim_read(s, nd->id);
		if (rc)
			sim_fail(s, "read_index on leader %llu: %d", (unsigned long long)nd->id, rc);
	}
	if (nd->r && raft_role(nd->r) == RAFT_LEADER && chance(s, f->conf_permille, 1000))
		random_conf_change(s, nd);
	if (nd->r && raft_role(nd->r) == RAFT_LEADER && chance(s, f->transfer_permille, 1000)) {
		uint64_t to = 1 + sim_rand(s, s->n);
		int rc = raft_transfer_leadership(nd->r, to);
		if (rc == 0)
			s->transfers++;
		sim_process(s, nd->id);
	}
}

void sim_step(struct sim *s)
{
	if (s->failed)
		return;
	s->now++;
	random_events(s);
	for (size_t i = 0; i < s->n && !s->failed; i++)
		sim_tick(s, i + 1);
	deliver_due(s);
}

void sim_run(struct sim *s, uint64_t steps)
{
	for (uint64_t i = 0; i < steps && !s->failed; i++)
		sim_step(s);
}

static uint64_t value_pos(struct sim *s, uint64_t v)
{
	if (v == 0)
		return 0;
	return v < s->kv->val_cap ? s->kv->val_pos[v] : 0;
}

/*
 * Linearizability of one register whose writes carry unique values. The
 * log fixes the order of writes, so each operation gets a key: a write at
 * log index P is 2P, a read that returned the value written at P (0 for
 * the initial value) is 2P+1. Sorting by key, reads of one position by
 * invocation time, is a legal register order; the history is linearizable
 * iff that order respects real time: whenever a completed before b was
 * invoked, key(a) <= key(b). Unanswered reads and writes that never
 * reached the log are left out (they may not have happened).
 */
static bool op_key(struct sim *s, const struct sim_op *op, uint64_t *key)
{
	uint64_t pos = value_pos(s, op->value);
	if (op->kind == SIM_OP_WRITE) {
		*key = 2 * pos;
		return pos != 0;
	}
	*key = 2 * pos + 1;
	return op->complete != 0;
}

void sim_check_history(struct sim *s)
{
	for (size_t i = 0; i < s->nops && !s->failed; i++) {
		struct sim_op *a = &s->ops[i];
		uint64_t ka, kb;
		if (a->kind == SIM_OP_WRITE && a->complete && value_pos(s, a->value) != a->index) {
			sim_fail(s, "history: write %llu acknowledged at %llu but applied at %llu",
				 (unsigned long long)a->value, (unsigned long long)a->index,
				 (unsigned long long)value_pos(s, a->value));
			return;
		}
		if (a->kind == SIM_OP_READ && a->complete && a->value && !value_pos(s, a->value)) {
			sim_fail(s, "history: read returned %llu, which was never applied",
				 (unsigned long long)a->value);
			return;
		}
		if (!a->complete || !op_key(s, a, &ka))
			continue;
		for (size_t j = 0; j < s->nops; j++) {
			struct sim_op *b = &s->ops[j];
			if (j == i || !op_key(s, b, &kb) || a->complete >= b->invoke)
				continue;
			if (ka > kb) {
				sim_fail(s, "history not linearizable: %s #%zu (key %llu, done "
					 "t=%llu) precedes %s #%zu (key %llu, invoked t=%llu)",
					 a->kind == SIM_OP_WRITE ? "write" : "read", i,
					 (unsigned long long)ka, (unsigned long long)a->complete,
					 b->kind == SIM_OP_WRITE ? "write" : "read", j,
					 (unsigned long long)kb, (unsigned long long)b->invoke);
				return;
			}
		}
	}
}
