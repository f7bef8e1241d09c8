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
	uint8_t *file = NULL;
	size_t len = 0;
	char err[1024];
	int64_t t0 = clock_mono_ms();
	int rc = backup_take(m->meta, clock_wall_ms(), &file, &len, err, sizeof(err));
	if (rc) {
		/* ST_ENOTLEADER becomes the redirect to the leader. */
		http_reply_rc(req, rc, err);
		return;
	}
	struct backup_header h = { 0 };
	(void)backup_decode_header(file, len, &h, err, sizeof(err)); /* ours: it decodes */
	char index[32], disp[96];
	snprintf(index, sizeof(index), "%" PRIu64, h.applied_index);
	snprintf(disp, sizeof(disp), "attachment; filename=\"strata-%" PRIu64 ".backup\"",
		 h.applied_index);
	const struct http_header extra[] = {
		{ "X-Strata-Backup-Index", index },
		{ "Content-Disposition", disp },
	};
	http_reply_start_headers(req, 200, "application/octet-stream", len, extra, 2);
	if (http_reply_write(req, file, len) != 0)
		http_abort(req);
	log_info("backup at entry %" PRIu64 " (%zu bytes) sent to %s in %lld ms",
		 h.applied_index, len, http_req_remote(req), (long long)(clock_mono_ms() - t0));
	free(file);
}
