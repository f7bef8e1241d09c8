#ifndef STRATA_LIB_NOTIFY_H
#define STRATA_LIB_NOTIFY_H

/*
 * sd_notify-style readiness: sends `state` ("READY=1", "STOPPING=1", ...) as
 * one datagram to the unix socket named by $NOTIFY_SOCKET ('@' prefix: the
 * abstract namespace). Without $NOTIFY_SOCKET it does nothing and returns 0.
 * Returns 0 or a negative errno.
 */
int notify_send(const char *state);

#endif
