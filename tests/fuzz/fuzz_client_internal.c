/* The worker's decoders of master replies (client/internal.c): an
 * InternalFile, the per-mount epochs of GET /api/v1/internal/epoch and a
 * registration reply (its "pin" list). Any bytes that parse as JSON go to
 * each; what decodes must be well formed
 * (strings set, every mount epoch with its path) and clear without leaks. */
#include "client/client.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
	if (!doc)
		return 0;
	char err[512];
	struct client_file_info fi;
	if (client_file_info_decode(doc, &fi, err, sizeof(err)) == 0) {
		if (!fi.ufs_path || !fi.mount_path || !fi.store.uri || fi.block_size < 1 ||
		    strnlen(fi.pin_medium, sizeof(fi.pin_medium)) == sizeof(fi.pin_medium))
			abort();
		client_file_info_clear(&fi);
	}
	struct client_mount_epochs me;
	if (client_mount_epochs_decode(doc, &me, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < me.n; i++)
			if (!me.paths[i])
				abort();
		client_mount_epochs_clear(&me);
	} else if (me.n || me.paths || me.epochs) {
		abort(); /* a refused reply leaves nothing behind */
	}
	uint64_t id = 0, *pins = NULL;
	size_t npins = 0;
	if (client_register_reply_decode(doc, &id, &pins, &npins, err, sizeof(err)) == 0) {
		if (id == 0 || (npins && !pins) || (!npins && pins))
			abort();
		free(pins);
	} else if (pins || npins || id) {
		abort();
	}
	cJSON_Delete(doc);
	return 0;
}
