#ifndef STRATA_FUZZ_REST_ENV_H
#define STRATA_FUZZ_REST_ENV_H

/*
 * What the REST fuzz targets share: a real in-process master (one-member
 * Raft group, state under /dev/shm, removed at exit and, after a crash,
 * at the next start), and the driver that turns one input into one
 * request on a new loopback connection and checks the reply.
 *
 * Input format: "METHOD TARGET" on the first line (TARGET: path and
 * query), the body after it. Bytes a request line cannot carry are
 * percent-encoded, so every input is a well-formed request. Inputs that
 * name a store ("://") are skipped: the fuzzer must not touch the
 * machine's files or the network.
 *
 * Contract checked on every reply: one complete HTTP reply, a status in
 * 200..499 or 503, every refusal in the error envelope
 * {"error":{"code","message"}} with both set. Anything else traps; so
 * does a request that gets no answer within 10 s twice (sent again once
 * on a new connection; with STRATA_FUZZ_GDB set in the environment every
 * thread's stack is printed before the trap).
 */

#include <stddef.h>
#include <stdint.h>

struct strata_conf;

/* Exits with the reason (set-up failures, not findings). */
void rest_env_die(const char *what);
/* A fresh directory for this process's state (removed at exit). */
const char *rest_env_dir(void);
/* Starts the master with conf (borrowed for the process's life) and
 * waits until it leads; returns its REST port. */
int rest_env_master(struct strata_conf *conf);
/* Sends the input to 127.0.0.1:port and checks the reply (above). skip
 * (may be NULL) returns nonzero for method/target pairs not to send. */
void rest_env_run(const char *who, int port, const uint8_t *data, size_t size,
		  int (*skip)(const char *method, const char *target));

#endif
