/* Backup files (daemon/master/backup_format.c). The first byte picks:
 *   even: the rest is a whole file for backup_decode; what decodes must
 *         point at its payload and re-encode to the same header;
 *   odd:  8 bytes of applied index (little-endian), then a payload,
 *         wrapped in a valid header (so the checks behind the checksums
 *         are reached) and given to the payload reader (SQLite, in
 *         memory); seeds carry the image's real index, so the namespace
 *         checks after the index comparison run too. */
#include "daemon/master/backup.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void whole_file(const uint8_t *buf, size_t len)
{
	struct backup_header h;
	const uint8_t *payload = NULL;
	char err[512];
	if (backup_decode(buf, len, &h, &payload, err, sizeof(err)) != 0) {
		if (!memchr(err, '\0', sizeof(err)) || !*err)
			abort(); /* a refusal always says why */
		return;
	}
	if (payload != buf + BACKUP_HEADER_SIZE || h.payload_len != len - BACKUP_HEADER_SIZE)
		abort();
	uint8_t again[BACKUP_HEADER_SIZE];
	backup_encode_header(&h, payload, again);
	if (memcmp(again, buf, BACKUP_HEADER_SIZE) != 0)
		abort();
}

static void payload_only(const uint8_t *data, size_t size)
{
	uint8_t *file = malloc(BACKUP_HEADER_SIZE + size);
	if (!file)
		return;
	memcpy(file + BACKUP_HEADER_SIZE, data, size);
	uint64_t index = 0;
	for (size_t i = 0; i < 8 && i < size; i++)
		index |= (uint64_t)data[i] << (8 * i);
	size_t skip = size < 8 ? size : 8;
	memmove(file + BACKUP_HEADER_SIZE, data + skip, size - skip);
	size -= skip;
	struct backup_header h = { .applied_index = index ? index : 1, .term = 1,
				   .payload_len = size };
	backup_encode_header(&h, file + BACKUP_HEADER_SIZE, file);
	struct backup_header d;
	const uint8_t *payload;
	char err[512];
	if (backup_decode(file, BACKUP_HEADER_SIZE + size, &d, &payload, err, sizeof(err)) == 0) {
		uint8_t *img = NULL;
		size_t len = 0;
		if (backup_payload_prepare(&d, payload, BACKUP_RESTORE_GAP, &img, &len, err,
					   sizeof(err)) == 0) {
			if (len < 100 || memcmp(img, "SQLite format 3", 16) != 0)
				abort();
			sqlite3_free(img);
		}
	}
	free(file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 17))
		return 0;
	if (data[0] & 1)
		payload_only(data + 1, size - 1);
	else
		whole_file(data + 1, size - 1);
	return 0;
}
