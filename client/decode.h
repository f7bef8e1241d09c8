#ifndef STRATA_CLIENT_DECODE_H
#define STRATA_CLIENT_DECODE_H

/* Private to client/: the decoders client/client.h does not export. Same
 * contract as client_inode_decode (the document is not kept). */
#include "client/client.h"

int client_listing_decode(const struct cJSON *doc, struct client_listing *out, char *err,
			  size_t errlen);
int client_mount_list_decode(const struct cJSON *doc, struct client_mount_list *out, char *err,
			     size_t errlen);
int client_cluster_decode(const struct cJSON *doc, struct client_cluster *out, char *err,
			  size_t errlen);
int client_masters_decode(const struct cJSON *doc, struct client_masters *out, char *err,
			  size_t errlen);

/* For a reply that is not 2xx (doc: its parsed body or NULL): its code
 * (the server's error code through st_rc_from_code; -EIO without one) and
 * err = "<about>: <reason>", or just the reason when about is NULL. */
int client_reply_error(long status, const struct cJSON *doc, const char *about, char *err,
		       size_t errlen);

#endif
