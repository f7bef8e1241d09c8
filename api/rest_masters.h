#ifndef STRATA_API_REST_MASTERS_H
#define STRATA_API_REST_MASTERS_H

#include "api/http.h"

#include <stdbool.h>

struct cJSON;
struct master;

/*
 * The Raft group over REST (handlers take a struct master * as ctx).
 *
 * rest_masters_before (http_server_opts.before): on a master that does not
 * lead, any request other than GET/HEAD under /api/v1/ is answered before
 * routing with 307 Temporary Redirect, Location = the leader's REST base +
 * this path and query, X-Strata-Leader = that base, error code
 * "not_leader"; with no known leader 503 "no_leader" and Retry-After: 1.
 * rest_masters_reply_rc (http_server_opts.reply_rc) gives ST_ENOTLEADER
 * from meta_submit (a GET that needed a write) the same reply.
 */
bool rest_masters_before(struct http_req *req, void *ctx);
bool rest_masters_reply_rc(struct http_req *req, int rc, const char *msg, void *ctx);

void rest_masters_get(struct http_req *req, void *ctx);      /* GET /api/v1/masters */
void rest_masters_get_self(struct http_req *req, void *ctx); /* GET /api/v1/masters/self */
void rest_masters_post(struct http_req *req, void *ctx);     /* POST /api/v1/masters */
void rest_masters_delete(struct http_req *req, void *ctx);   /* DELETE /api/v1/masters/{id} */

/* Adds "raft": {id, role, leader, leader_url, term, commit_index,
 * applied_index, failed} to a health or cluster reply. */
void rest_masters_add_status(struct master *m, struct cJSON *o);

#endif
