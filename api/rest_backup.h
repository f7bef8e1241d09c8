#ifndef STRATA_API_REST_BACKUP_H
#define STRATA_API_REST_BACKUP_H

#include "api/http.h"

/* GET /api/v1/admin/backup: a backup file (daemon/master/backup.h) of the
 * leader's metadata; a follower answers 307 to the leader. ctx is a
 * struct master *. */
void rest_backup_get(struct http_req *req, void *ctx);

#endif
