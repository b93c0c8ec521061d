/*
 * auth.h - credentials for the control path: key files, key generation,
 * request dating and the nonce set that stops a captured request from
 * being replayed.
 *
 * A key is a key id, a role and a shared secret (16..64 random bytes).
 * Requests are signed with HMAC-SHA256 under the secret (wire.h,
 * wire_request_end / wire_request_verify); the agent knows every key, a
 * client knows its own.  Both keep keys in text files, one key a line:
 *
 *	# comment
 *	KEY_ID ROLE SECRET_HEX
 *
 * KEY_ID is 1..63 of A-Z a-z 0-9 . _ - @, ROLE is viewer or operator,
 * SECRET_HEX is 32..128 hex digits.  The agent's credentials file holds
 * any number of such lines (AUTH_KEYS_MAX); a client's key file holds
 * exactly one, and may leave ROLE out (KEY_ID SECRET_HEX): the role there
 * only tells the console what to offer, the agent decides.  Both files
 * must be regular files owned by the user reading them and neither
 * readable nor writable by group or others; anything else is refused with
 * "path:line: message" (line 0 for the file as a whole).
 *
 * Secrets never appear in a message or a log; every struct that held one
 * is wiped (explicit_bzero) when freed.
 *
 * No module state: each function works on what it is given.  struct
 * auth_keys is read-only after loading (share it between threads);
 * struct auth_seen is not thread-safe (its owner locks).
 */
#ifndef NUDGE_AUTH_H
#define NUDGE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "wire.h"

#define AUTH_ID_MAX 63
#define AUTH_SECRET_MIN 16	/* bytes */
#define AUTH_SECRET_MAX 64
#define AUTH_SECRET_NEW 32	/* bytes of a generated secret */
#define AUTH_KEYS_MAX 4096	/* lines of a credentials file */
#define AUTH_FILE_MAX (1u << 20) /* bytes of a key file */
#define AUTH_LINE_MAX 512

/* Same values as the agent's enum cmd_role. */
enum auth_role {
	AUTH_ROLE_NONE = -1,	/* a client file without a role */
	AUTH_ROLE_VIEWER = 0,
	AUTH_ROLE_OPERATOR = 1
};

/* "viewer", "operator", or "?" for anything else. */
const char *auth_role_name(int role);
/* AUTH_ROLE_VIEWER / AUTH_ROLE_OPERATOR, or AUTH_ROLE_NONE if unknown. */
int auth_role_parse(const char *name);

struct auth_key {
	char id[AUTH_ID_MAX + 1];
	int role;		/* enum auth_role */
	size_t secret_len;
	uint8_t secret[AUTH_SECRET_MAX];
};

/* Wipes the secret (and the rest) of k. */
void auth_key_wipe(struct auth_key *k);

/*
 * Checks that the open file fd (named path, for messages) is a regular
 * file owned by the effective user with no group/other permission bits.
 * Returns 0 or NUDGE_EPERM / NUDGE_EIO with "path: ..." in d (line 0).
 */
int auth_check_perms(int fd, const char *path, struct nudge_diag *d);

/* ---- the agent's credentials file ------------------------------------- */

struct auth_keys;

/*
 * Parses credentials text (name is for messages only) into a new set.
 * Returns 0 and *out, or NUDGE_ECONFIG with d->line and d->msg ("line 3:
 * role 'admin' is not viewer or operator"), NUDGE_EEXIST for a key id
 * given twice, NUDGE_ETOOBIG past AUTH_KEYS_MAX, NUDGE_ENOMEM.  A file
 * without any key is NUDGE_ECONFIG: credentials that let nobody in are a
 * mistake, not a configuration.
 */
int auth_keys_parse(struct auth_keys **out, const char *name,
    const char *text, size_t len, struct nudge_diag *d);

/*
 * Opens path, checks its permissions (auth_check_perms), reads it (at
 * most AUTH_FILE_MAX bytes) and parses it.  Errors as auth_keys_parse,
 * plus NUDGE_EIO and NUDGE_EPERM; d->msg starts with the path.
 */
int auth_keys_load(struct auth_keys **out, const char *path,
    struct nudge_diag *d);

/* Wipes and frees; NULL is fine. */
void auth_keys_free(struct auth_keys *k);

/* The key named id (borrowed from k), or NULL. */
const struct auth_key *auth_keys_find(const struct auth_keys *k,
    const char *id);
size_t auth_keys_count(const struct auth_keys *k);

/* ---- a client's key file ---------------------------------------------- */

/*
 * Loads a client key file (one line, KEY_ID [ROLE] SECRET_HEX) into *out
 * (written only on success), with the same permission check.  Errors as
 * auth_keys_load.
 */
int auth_client_load(struct auth_key *out, const char *path,
    struct nudge_diag *d);

/*
 * Makes a new key: id checked as in the files, role viewer or operator,
 * AUTH_SECRET_NEW bytes from getrandom.  Returns 0, NUDGE_EINVAL (bad id
 * or role, message in d) or NUDGE_EIO (no randomness).
 */
int auth_key_new(struct auth_key *out, const char *id, int role,
    struct nudge_diag *d);

/*
 * Writes "ID ROLE HEX\n" (the line both files use) into buf.  Returns the
 * length, or NUDGE_ETOOBIG when cap is too small.  The caller wipes buf.
 */
int auth_key_format(const struct auth_key *k, char *buf, size_t cap);

/*
 * Creates path (which must not exist: O_EXCL, no symlink followed) with
 * mode 0600 and writes k's line into it.  Returns 0, NUDGE_EEXIST or
 * NUDGE_EIO with d filled.
 */
int auth_key_write(const struct auth_key *k, const char *path,
    struct nudge_diag *d);

/* ---- dating and nonces ------------------------------------------------- */

#define AUTH_SKEW_MS 60000	/* ts may differ this much from our clock */
#define AUTH_SEEN_WINDOW_MS (2 * AUTH_SKEW_MS)
#define AUTH_SEEN_CAP 65536	/* signed requests per window */

/*
 * A signed request's ts must be within skew_ms of now (both wall clock,
 * ms) and not before not_before (the agent's start: nonces seen before a
 * restart are forgotten, so older requests are refused).  Returns 0 or
 * NUDGE_EAUTH with "expired: ..." in d.
 */
int auth_check_time(uint64_t ts_ms, uint64_t now_ms, uint64_t skew_ms,
    uint64_t not_before, struct nudge_diag *d);

/*
 * The nonce set: request ids of verified signed requests, with a
 * fingerprint of their bytes (their mac), kept window_ms on the caller's
 * monotonic clock.  Bounded: at most cap ids; oldest expire first, none
 * is evicted early (that would reopen the replay it guards against).
 */
struct auth_seen;

enum auth_seen_result {
	AUTH_SEEN_NEW = 0,	/* first time: now recorded */
	AUTH_SEEN_SAME,		/* same id, same bytes: a REQ resend */
	AUTH_SEEN_CLASH,	/* same id, other bytes: a replay attack */
	AUTH_SEEN_FULL		/* cap ids within the window: refuse */
};

int auth_seen_new(struct auth_seen **out, uint32_t cap, uint64_t window_ms);
void auth_seen_free(struct auth_seen *s);
/* One of enum auth_seen_result. */
int auth_seen_check(struct auth_seen *s, const uint8_t id[WIRE_ID_LEN],
    const uint8_t fp[WIRE_MAC_LEN], uint64_t now_ms);
/* Ids held (after expiring those older than now_ms - window). */
uint32_t auth_seen_count(struct auth_seen *s, uint64_t now_ms);

#endif
