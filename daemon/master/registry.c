#include "daemon/master/registry.h"

#include "lib/clock.h"
#include "lib/json.h"
#include "lib/log.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct worker {
	uint64_t id;
	char host[256];
	int data_port, s3_port;
	char version[32];
	int64_t capacity_bytes, used_bytes;
	int64_t registered_wall_ms;
	int64_t last_seen_ms; /* monotonic */
	enum worker_state state;
	enum worker_admin admin;
	cJSON *counters; /* last heartbeat's, owned */
};

/* An administrative state by address (registry_set_admin). */
struct admin_entry {
	char address[300];
	enum worker_admin admin;
};

struct registry {
	pthread_mutex_t lock;
	int64_t timeout_ms;
	uint64_t next_id;
	struct worker *workers;
	size_t n, cap;
	struct admin_entry *admins;
	size_t nadmins;
};

struct registry *registry_new(int64_t timeout_ms)
{
	struct registry *reg = calloc(1, sizeof(*reg));
	if (!reg)
		return NULL;
	pthread_mutex_init(&reg->lock, NULL);
	reg->timeout_ms = timeout_ms;
	reg->next_id = 1;
	return reg;
}

void registry_free(struct registry *reg)
{
	if (!reg)
		return;
	pthread_mutex_destroy(&reg->lock);
	for (size_t i = 0; i < reg->n; i++)
		cJSON_Delete(reg->workers[i].counters);
	free(reg->workers);
	free(reg->admins);
	free(reg);
}

void registry_set_timeout(struct registry *reg, int64_t timeout_ms)
{
	pthread_mutex_lock(&reg->lock);
	reg->timeout_ms = timeout_ms;
	pthread_mutex_unlock(&reg->lock);
}

static struct worker *find_by_addr(struct registry *reg, const char *host, int port)
{
	for (size_t i = 0; i < reg->n; i++)
		if (reg->workers[i].data_port == port && strcmp(reg->workers[i].host, host) == 0)
			return &reg->workers[i];
	return NULL;
}

static struct worker *find_by_id(struct registry *reg, uint64_t id)
{
	for (size_t i = 0; i < reg->n; i++)
		if (reg->workers[i].id == id)
			return &reg->workers[i];
	return NULL;
}

static void addr_of(const struct worker *w, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%d", w->host, w->data_port);
}

static enum worker_admin admin_of(struct registry *reg, const struct worker *w)
{
	char addr[300];
	addr_of(w, addr, sizeof(addr));
	for (size_t i = 0; i < reg->nadmins; i++)
		if (strcmp(reg->admins[i].address, addr) == 0)
			return reg->admins[i].admin;
	return WORKER_ACTIVE;
}

int registry_register(struct registry *reg, const struct worker_report *rep, int64_t now_ms,
		      uint64_t *id)
{
	if (!rep->host || !*rep->host || strlen(rep->host) >= sizeof(((struct worker *)0)->host))
		return -EINVAL;
	pthread_mutex_lock(&reg->lock);
	struct worker *w = find_by_addr(reg, rep->host, rep->data_port);
	bool fresh = !w;
	if (!w) {
		if (reg->n == reg->cap) {
			size_t cap = reg->cap ? reg->cap * 2 : 8;
			struct worker *grown = realloc(reg->workers, cap * sizeof(*grown));
			if (!grown) {
				pthread_mutex_unlock(&reg->lock);
				return -ENOMEM;
			}
			reg->workers = grown;
			reg->cap = cap;
		}
		w = &reg->workers[reg->n++];
		memset(w, 0, sizeof(*w));
		w->id = reg->next_id++;
		snprintf(w->host, sizeof(w->host), "%s", rep->host);
		w->data_port = rep->data_port;
	}
	w->s3_port = rep->s3_port;
	snprintf(w->version, sizeof(w->version), "%s", rep->version ? rep->version : "");
	w->capacity_bytes = rep->capacity_bytes;
	w->used_bytes = rep->used_bytes;
	w->registered_wall_ms = clock_wall_ms();
	w->last_seen_ms = now_ms;
	w->state = WORKER_LIVE;
	w->admin = admin_of(reg, w);
	*id = w->id;
	log_info("worker %llu %s at %s:%d", (unsigned long long)w->id,
		 fresh ? "registered" : "re-registered", w->host, w->data_port);
	pthread_mutex_unlock(&reg->lock);
	return 0;
}

int registry_heartbeat(struct registry *reg, uint64_t id, int64_t capacity_bytes,
		       int64_t used_bytes, int64_t now_ms)
{
	pthread_mutex_lock(&reg->lock);
	struct worker *w = find_by_id(reg, id);
	if (!w) {
		pthread_mutex_unlock(&reg->lock);
		return -ENOENT;
	}
	if (w->state == WORKER_LOST)
		log_info("worker %llu at %s:%d is back", (unsigned long long)id, w->host,
			 w->data_port);
	w->capacity_bytes = capacity_bytes;
	w->used_bytes = used_bytes;
	w->last_seen_ms = now_ms;
	w->state = WORKER_LIVE;
	pthread_mutex_unlock(&reg->lock);
	return 0;
}

int registry_check(struct registry *reg, int64_t now_ms,
		   void (*on_lost)(void *arg, uint64_t id), void *arg)
{
	int lost = 0;
	uint64_t ids[64];
	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->n; i++) {
		struct worker *w = &reg->workers[i];
		if (w->state == WORKER_LIVE && now_ms - w->last_seen_ms > reg->timeout_ms) {
			w->state = WORKER_LOST;
			if (lost < 64)
				ids[lost] = w->id;
			lost++;
			log_warn("worker %llu at %s:%d lost: no heartbeat for %lld ms",
				 (unsigned long long)w->id, w->host, w->data_port,
				 (long long)(now_ms - w->last_seen_ms));
		}
	}
	pthread_mutex_unlock(&reg->lock);
	for (int i = 0; on_lost && i < lost && i < 64; i++)
		on_lost(arg, ids[i]);
	return lost;
}

int registry_address(struct registry *reg, uint64_t id, char *buf, size_t len)
{
	pthread_mutex_lock(&reg->lock);
	struct worker *w = find_by_id(reg, id);
	if (w)
		snprintf(buf, len, "%s:%d", w->host, w->data_port);
	pthread_mutex_unlock(&reg->lock);
	return w ? 0 : -ENOENT;
}

cJSON *registry_live_json(struct registry *reg)
{
	cJSON *arr = cJSON_CreateArray();
	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; arr && i < reg->n; i++) {
		const struct worker *w = &reg->workers[i];
		if (w->state != WORKER_LIVE || w->admin == WORKER_DECOMMISSIONED)
			continue;
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			cJSON_Delete(arr);
			arr = NULL;
			break;
		}
		json_add_u64(o, "id", w->id);
		cJSON_AddStringToObject(o, "host", w->host);
		cJSON_AddNumberToObject(o, "data_port", w->data_port);
	}
	pthread_mutex_unlock(&reg->lock);
	return arr;
}

size_t registry_live(struct registry *reg, struct registry_live_worker *out, size_t max)
{
	size_t n = 0;
	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->n && n < max; i++) {
		const struct worker *w = &reg->workers[i];
		if (w->state != WORKER_LIVE || w->admin == WORKER_DECOMMISSIONED)
			continue;
		out[n].id = w->id;
		snprintf(out[n].host, sizeof(out[n].host), "%s", w->host);
		out[n].data_port = w->data_port;
		n++;
	}
	pthread_mutex_unlock(&reg->lock);
	return n;
}

void registry_totals(struct registry *reg, struct registry_totals *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->n; i++) {
		const struct worker *w = &reg->workers[i];
		if (w->state == WORKER_LOST) {
			out->lost++;
			continue;
		}
		out->live++;
		out->capacity_bytes += w->capacity_bytes;
		out->used_bytes += w->used_bytes;
	}
	pthread_mutex_unlock(&reg->lock);
}

cJSON *registry_to_json(struct registry *reg, int64_t now_ms)
{
	cJSON *arr = cJSON_CreateArray();
	if (!arr)
		return NULL;
	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->n; i++) {
		const struct worker *w = &reg->workers[i];
		cJSON *o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			goto err_unlock;
		}
		char addr[300];
		snprintf(addr, sizeof(addr), "%s:%d", w->host, w->data_port);
		json_add_u64(o, "id", w->id);
		cJSON_AddStringToObject(o, "address", addr);
		cJSON_AddStringToObject(o, "host", w->host);
		cJSON_AddNumberToObject(o, "data_port", (double)w->data_port);
		cJSON_AddNumberToObject(o, "s3_port", w->s3_port);
		cJSON_AddStringToObject(o, "state", registry_state_name(w->state, w->admin));
		cJSON_AddStringToObject(o, "version", w->version);
		cJSON_AddNumberToObject(o, "capacity_bytes", (double)w->capacity_bytes);
		cJSON_AddNumberToObject(o, "used_bytes", (double)w->used_bytes);
		cJSON_AddNumberToObject(o, "registered_at_ms", (double)w->registered_wall_ms);
		if (!cJSON_AddNumberToObject(o, "last_heartbeat_ms_ago",
					     (double)(now_ms - w->last_seen_ms)))
			goto err_unlock;
	}
	pthread_mutex_unlock(&reg->lock);
	return arr;

err_unlock:
	pthread_mutex_unlock(&reg->lock);
	cJSON_Delete(arr);
	return NULL;
}

int registry_set_metrics(struct registry *reg, uint64_t id, const cJSON *counters)
{
	if (!cJSON_IsObject(counters))
		return 0;
	cJSON *copy = cJSON_Duplicate(counters, 1);
	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&reg->lock);
	struct worker *w = find_by_id(reg, id);
	if (w) {
		cJSON_Delete(w->counters);
		w->counters = copy;
		copy = NULL;
	}
	pthread_mutex_unlock(&reg->lock);
	cJSON_Delete(copy);
	return w ? 0 : -ENOENT;
}

cJSON *registry_metrics_json(struct registry *reg)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *sum = cJSON_AddObjectToObject(root, "cluster");
	cJSON *arr = cJSON_AddArrayToObject(root, "workers");
	if (!arr) {
		cJSON_Delete(root);
		return NULL;
	}
	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->n; i++) {
		const struct worker *w = &reg->workers[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToArray(arr, o);
		char addr[300];
		snprintf(addr, sizeof(addr), "%s:%d", w->host, w->data_port);
		json_add_u64(o, "id", w->id);
		cJSON_AddStringToObject(o, "address", addr);
		cJSON_AddStringToObject(o, "state", registry_state_name(w->state, w->admin));
		cJSON_AddItemToObject(o, "counters", w->counters ? cJSON_Duplicate(w->counters, 1)
								 : cJSON_CreateObject());
		if (w->state != WORKER_LIVE || !w->counters)
			continue;
		const cJSON *c;
		cJSON_ArrayForEach(c, w->counters)
		{
			if (!cJSON_IsNumber(c))
				continue;
			cJSON *acc = cJSON_GetObjectItemCaseSensitive(sum, c->string);
			if (acc)
				cJSON_SetNumberValue(acc, acc->valuedouble + c->valuedouble);
			else
				cJSON_AddNumberToObject(sum, c->string, c->valuedouble);
		}
	}
	pthread_mutex_unlock(&reg->lock);
	return root;
}

const char *registry_state_name(enum worker_state state, enum worker_admin admin)
{
	if (state != WORKER_LIVE)
		return "lost";
	return admin == WORKER_DECOMMISSIONING  ? "decommissioning"
	       : admin == WORKER_DECOMMISSIONED ? "decommissioned"
						: "live";
}

int registry_set_admin(struct registry *reg, const char *address, enum worker_admin admin)
{
	int rc = 0;
	pthread_mutex_lock(&reg->lock);
	size_t i = 0;
	while (i < reg->nadmins && strcmp(reg->admins[i].address, address) != 0)
		i++;
	if (admin == WORKER_ACTIVE) {
		if (i < reg->nadmins)
			reg->admins[i] = reg->admins[--reg->nadmins];
	} else if (i < reg->nadmins) {
		reg->admins[i].admin = admin;
	} else {
		struct admin_entry *grown =
			realloc(reg->admins, (reg->nadmins + 1) * sizeof(*grown));
		if (!grown) {
			rc = -ENOMEM;
			goto out;
		}
		reg->admins = grown;
		snprintf(grown[reg->nadmins].address, sizeof(grown[0].address), "%s", address);
		grown[reg->nadmins++].admin = admin;
	}
	for (size_t k = 0; k < reg->n; k++)
		reg->workers[k].admin = admin_of(reg, &reg->workers[k]);
out:
	pthread_mutex_unlock(&reg->lock);
	return rc;
}

void registry_clear_admin(struct registry *reg)
{
	pthread_mutex_lock(&reg->lock);
	free(reg->admins);
	reg->admins = NULL;
	reg->nadmins = 0;
	for (size_t k = 0; k < reg->n; k++)
		reg->workers[k].admin = WORKER_ACTIVE;
	pthread_mutex_unlock(&reg->lock);
}

static void fill_entry(const struct worker *w, struct registry_entry *e)
{
	e->id = w->id;
	addr_of(w, e->address, sizeof(e->address));
	e->live = w->state == WORKER_LIVE;
	e->admin = w->admin;
}

size_t registry_list(struct registry *reg, struct registry_entry *out, size_t max)
{
	pthread_mutex_lock(&reg->lock);
	size_t n = 0;
	for (; n < reg->n && n < max; n++)
		fill_entry(&reg->workers[n], &out[n]);
	pthread_mutex_unlock(&reg->lock);
	return n;
}

int registry_get(struct registry *reg, uint64_t id, struct registry_entry *out)
{
	pthread_mutex_lock(&reg->lock);
	struct worker *w = find_by_id(reg, id);
	if (w)
		fill_entry(w, out);
	pthread_mutex_unlock(&reg->lock);
	return w ? 0 : -ENOENT;
}
