/* GET /api/v1/admin/backup (docs/operations.md, "Backup and restore"). */
#include "api/rest_backup.h"

#include "daemon/master/backup.h"
#include "daemon/master/master.h"
#include "lib/clock.h"
#include "lib/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

void rest_backup_get(struct http_req *req, void *ctx)
{
	struct master *m = ctx;
	uint8_t header[BACKUP_HEADER_SIZE];
	uint8_t *payload = NULL;
	size_t len = 0;
	char err[1024];
	int64_t t0 = clock_mono_ms();
	int rc = backup_take(m->meta, clock_wall_ms(), header, &payload, &len, err, sizeof(err));
	if (rc) {
		/* ST_ENOTLEADER becomes the redirect to the leader. */
		http_reply_rc(req, rc, err);
		return;
	}
	struct backup_header h = { 0 };
	(void)backup_decode_header(header, sizeof(header), &h, err, sizeof(err)); /* ours */
	char index[32], disp[96];
	snprintf(index, sizeof(index), "%" PRIu64, h.applied_index);
	snprintf(disp, sizeof(disp), "attachment; filename=\"strata-%" PRIu64 ".backup\"",
		 h.applied_index);
	const struct http_header extra[] = {
		{ "X-Strata-Backup-Index", index },
		{ "Content-Disposition", disp },
	};
	http_reply_start_headers(req, 200, "application/octet-stream", BACKUP_HEADER_SIZE + len,
				 extra, 2);
	if (http_reply_write(req, header, sizeof(header)) != 0 ||
	    http_reply_write(req, payload, len) != 0)
		http_abort(req);
	log_info("backup at entry %" PRIu64 " (%zu bytes) sent to %s in %lld ms",
		 h.applied_index, BACKUP_HEADER_SIZE + len, http_req_remote(req),
		 (long long)(clock_mono_ms() - t0));
	free(payload);
}
