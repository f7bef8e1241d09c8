#ifndef STRATA_LIB_LOG_H
#define STRATA_LIB_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

/*
 * Logging to stderr, one line per message, thread-safe. Each line carries a
 * UTC timestamp, the level and the component; under journald (JOURNAL_STREAM
 * set) lines instead start with a syslog priority "<N>" and no timestamp,
 * since journald stamps them itself.
 */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "debug|info|warn|error"; returns 0 or -EINVAL. */
int log_parse_level(const char *s, enum log_level *out);
void log_set_component(const char *component); /* e.g. "master"; copied */

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap);

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)

#endif
