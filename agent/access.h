/*
 * access.h - who may talk to the agent: credentials, signed requests,
 * roles, and the audit of every refusal.
 *
 * Without [agent] credentials the agent listens for control and ingest on
 * local sockets only (ipc://, whose file permissions are the access
 * control) and every unsigned request acts as operator.  With credentials
 * every request on every socket must be signed by a known key
 * (access_check):
 *
 *	unsigned / unknown key / bad mac    -> NUDGE_EAUTH, who "unknown"
 *	ts off by > AUTH_SKEW_MS, or dated
 *	before the agent started            -> NUDGE_EAUTH "expired"
 *	id seen in the last 120 s with
 *	other bytes (a replay)              -> NUDGE_EAUTH "replayed"
 *	id seen with the same bytes         -> accepted as a REQ resend
 *	                                       (v->resend; the replay cache
 *	                                       answers changes)
 *	role below the command's            -> NUDGE_EPERM (cmd_handle)
 *
 * Every refusal is written to the store's audit table (who = the key id
 * once the mac is verified, else "unknown"; what = the command; detail =
 * the reason), at most ACCESS_AUDIT_BURST rows per second: under a flood
 * the rest are counted and one summary row per second says how many.
 *
 * Thread-safety: access_check and access_refused run on nng worker
 * threads concurrently (a rwlock guards the key set, a mutex the nonce
 * set and the audit counters); access_reload and access_tick run on the
 * main thread.
 */
#ifndef NUDGE_ACCESS_H
#define NUDGE_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "conf.h"
#include "store.h"
#include "wire.h"

#define ACCESS_AUDIT_BURST 10	/* audit rows per second before summing */

struct access;

struct access_verdict {
	int role;			/* enum auth_role */
	bool resend;			/* same id and bytes seen before */
	char who[AUTH_ID_MAX + 1];	/* key id, or "local" */
};

/*
 * Refuses listeners that would expose an unauthenticated socket: control
 * or ingest on anything but ipc:// / inproc:// without credentials, push
 * (never authenticated) on anything but ipc:// / inproc://, and tls+tcp://
 * without tls_cert.  Returns 0 or NUDGE_ECONFIG with the reason in d.
 */
int access_check_listeners(const struct conf_agent *c, struct nudge_diag *d);

/*
 * Loads c->credentials when set (auth_keys_load: file:line messages,
 * permission check).  st receives audit rows; boot_wall_ms is the agent's
 * start (older requests are refused).  Returns 0 or an error with d.
 */
int access_new(struct access **out, const struct conf_agent *c,
    struct store *st, uint64_t boot_wall_ms, struct nudge_diag *d);
void access_free(struct access *ax);

/* True when credentials are configured. */
bool access_enabled(struct access *ax);

/*
 * Re-reads the credentials file at path (SIGHUP).  On error the keys in
 * use stay and d says why.  path "" while credentials are in use is an
 * error too: dropping to unauthenticated access needs a restart.
 */
int access_reload(struct access *ax, const char *path, struct nudge_diag *d);

/*
 * Authenticates rq (buf: its bytes).  0 with *v filled, or NUDGE_EAUTH /
 * NUDGE_EBUSY with d->msg; a refusal is audited before returning.
 */
int access_check(struct access *ax, const struct wire_request *rq,
    const void *buf, struct access_verdict *v, struct nudge_diag *d);

/* Audits a refusal decided elsewhere (role checks), rate-limited. */
void access_refused(struct access *ax, const char *who, const char *what,
    const char *detail, int status);

/* Writes the flood summary of the last second, if any (the module's own
 * ticker thread calls it every second). */
void access_tick(struct access *ax);

#endif
