#ifndef STRATA_CONSOLE_WEB_CONSOLE_ASSETS_H
#define STRATA_CONSOLE_WEB_CONSOLE_ASSETS_H

#include <stddef.h>

/* One file of console/web/static, embedded at build time (embed.cmake). */
struct console_asset {
	const char *path;         /* relative to static/: "index.html", "js/app.js" */
	const char *content_type;
	const char *etag;         /* quoted, from the content's SHA-256 */
	const unsigned char *data; /* followed by a NUL not counted in len */
	size_t len;
};

extern const struct console_asset console_assets[];
extern const size_t console_assets_count;

/* The asset at path (no leading '/'), or NULL. Static; never freed. */
const struct console_asset *console_asset_find(const char *path);

#endif
