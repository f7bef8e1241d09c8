/* What a pin would take from the workers' tiers (ns.h, ns_pin_room). */
#include "daemon/master/ns.h"
#include "daemon/master/ns_int.h"

#include <errno.h>
#include <string.h>

#define SUBTREE                                                                            \
	"WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL SELECT i.id FROM inodes i JOIN sub" \
	" ON i.parent = sub.id) "

static int medium_index(const char *medium)
{
	static const char *const names[] = { "MEM", "SSD", "HDD" };
	for (int i = 0; i < 3; i++)
		if (medium && strcmp(medium, names[i]) == 0)
			return i;
	return NS_PIN_ANY;
}

/* Sums of file lengths of the query (?1 id, ?2 recursive) grouped by
 * pin_medium into by[] (when by is not NULL), or the single sum into
 * *total. */
static int sums(struct ns *ns, const char *sql, uint64_t id, bool recursive, int64_t *by,
		int64_t *total)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(ns->db, sql, -1, &s, NULL) != SQLITE_OK) {
		sqlite3_finalize(s);
		return -EIO;
	}
	if (sqlite3_bind_parameter_count(s) == 2) {
		sqlite3_bind_int64(s, 1, (int64_t)id);
		sqlite3_bind_int(s, 2, recursive);
	}
	int step;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (by)
			by[medium_index((const char *)sqlite3_column_text(s, 1))] +=
				sqlite3_column_int64(s, 0);
		else
			*total += sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	return step == SQLITE_DONE ? 0 : -EIO;
}

int ns_pin_room(struct ns *ns, uint64_t id, bool recursive, struct ns_pin_room *out)
{
	memset(out, 0, sizeof(*out));
	int rc = sums(ns, SUBTREE "SELECT coalesce(sum(length), 0) FROM inodes WHERE is_dir = 0"
			  " AND (id = ?1 OR (?2 AND id IN sub))",
		      id, recursive, NULL, &out->target_bytes);
	if (!rc)
		rc = sums(ns, "SELECT sum(length), pin_medium FROM inodes WHERE pinned = 1 AND"
			      " is_dir = 0 GROUP BY pin_medium",
			  id, recursive, out->pinned_bytes, NULL);
	if (!rc)
		rc = sums(ns, SUBTREE "SELECT sum(length), pin_medium FROM inodes WHERE pinned = 1"
				  " AND is_dir = 0 AND (id = ?1 OR (?2 AND id IN sub))"
				  " GROUP BY pin_medium",
			  id, recursive, out->target_pinned_bytes, NULL);
	return rc;
}
