#ifndef STRATA_API_HTTP_INT_H
#define STRATA_API_HTTP_INT_H

/* Between api/http.c (struct http_req) and api/http_fd.c (its socket
 * backend). Not for other modules. */

#include "api/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_fdr;

const char *http_fdr_method(const struct http_fdr *r);
const char *http_fdr_path(const struct http_fdr *r);
const char *http_fdr_query(const struct http_fdr *r);
const char *http_fdr_header(const struct http_fdr *r, const char *name);
long http_fdr_read(struct http_fdr *r, void *buf, size_t len);
/* The reply head; no_store adds Cache-Control: no-store (as the CivetWeb
 * backend does for whole replies). */
void http_fdr_reply_start(struct http_fdr *r, int status, const char *content_type,
			  uint64_t content_length, const struct http_header *extra, size_t nextra,
			  bool no_store);
/* 0 or -EPIPE; nothing for HEAD. */
int http_fdr_write(struct http_fdr *r, const void *data, size_t len);
void http_fdr_abort(struct http_fdr *r);

/* In http.c: runs fn on a request of this backend (500 if it does not
 * reply). */
void http_req_run_fd(struct http_fdr *r, http_handler_fn fn, void *ctx);

#endif
