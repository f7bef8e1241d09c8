#include "lib/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static enum log_level g_level = LOG_LVL_INFO;
static char g_component[32] = "strata";
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "debug", "info", "warn", "error" };
static const int level_syslog[] = { 7, 6, 4, 3 };

void log_set_level(enum log_level level)
{
	g_level = level;
}

enum log_level log_get_level(void)
{
	return g_level;
}

int log_parse_level(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_set_component(const char *component)
{
	snprintf(g_component, sizeof(g_component), "%s", component);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if (level < g_level)
		return;
	char msg[2048];
	vsnprintf(msg, sizeof(msg), fmt, ap);

	char line[2200];
	if (getenv("JOURNAL_STREAM")) {
		snprintf(line, sizeof(line), "<%d>%s %s: %s\n", level_syslog[level],
			 level_names[level], g_component, msg);
	} else {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		char stamp[32];
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(line, sizeof(line), "%s.%03ldZ %-5s %s: %s\n", stamp,
			 ts.tv_nsec / 1000000, level_names[level], g_component, msg);
	}
	pthread_mutex_lock(&g_lock);
	fputs(line, stderr);
	fflush(stderr);
	pthread_mutex_unlock(&g_lock);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
