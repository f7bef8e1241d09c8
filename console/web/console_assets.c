#include "console/web/console_assets.h"

#include <string.h>

const struct console_asset *console_asset_find(const char *path)
{
	for (size_t i = 0; i < console_assets_count; i++)
		if (strcmp(console_assets[i].path, path) == 0)
			return &console_assets[i];
	return NULL;
}
