/*
 * tail.h - following web-server access logs (`nudged --tail FILE`).
 *
 * Each configured file gets a tailer: a thread that follows it like
 * `tail -F` (appended data in 1 MiB reads; rename + new file, truncation,
 * and a file missing then appearing all handled) and turns its lines into
 * page-view events for the session table.  Requests that are not page views
 * (other methods, 4xx/5xx, assets, /nudge/ paths) are skipped; bots are
 * counted apart by the session table and never make sessions; malformed
 * lines are counted as rejected and summarised in the log at most every
 * 10 s, never fatal.
 *
 * Visitors are "h" + 16 hex digits of a salted 64-bit hash of address and
 * user agent.  The address itself is never stored or copied: it is hashed
 * where it lies in the read buffer.  The salt is [agent] log_salt, or a
 * random one kept in the store's meta table ("log_salt") so that a visitor
 * hashes the same across restarts.
 *
 * Where each file was left at a graceful stop (device, inode, offset of
 * the last complete line applied) is kept in the meta table ("tail_pos:"
 * + path): a restart resumes there when it is still the same file, so
 * lines written while the agent was down count once.  Otherwise the first
 * open starts at the end (or the start, with tail_from_start); a file
 * that appears or replaces another later is read from its start.
 *
 * Lifecycle: tail_start() on the main thread after agent_init(), and
 * tail_stop() before agent_fini(); tail_stats() from any thread.
 */
#ifndef NUDGE_TAIL_H
#define NUDGE_TAIL_H

#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "err.h"
#include "event.h"
#include "logline.h"

struct tail_set;

/*
 * Starts one tailer per [agent] tail entry (none: *out = NULL, returns 0).
 * Compiles log_format and settles the salt first, so a bad format fails
 * here with d->msg.  Returns 0, NUDGE_ECONFIG, NUDGE_ESTORE or
 * NUDGE_ENOMEM.
 */
int tail_start(struct tail_set **out, struct agent *a, struct nudge_diag *d);

/* Stops and joins every tailer and frees the set; NULL is fine. */
void tail_stop(struct tail_set *s);

struct tail_stats {
	uint64_t lines;       /* complete lines read */
	uint64_t pageviews;   /* events applied, bots excluded */
	uint64_t bots;        /* page views by bots (counted, no session) */
	uint64_t skipped;     /* assets, other methods or statuses */
	uint64_t malformed;   /* lines that did not parse, or too big */
	uint64_t rotations;   /* new file at the path */
	uint64_t truncations; /* file shrank under the read offset */
	char last_error[160]; /* "LINE:COL: message" or "" */
};

/* Number of tailers in s (0 for NULL). */
unsigned tail_count(const struct tail_set *s);
/* Copies tailer i's counters; returns its path, or NULL past the end. */
const char *tail_stats(struct tail_set *s, unsigned i, struct tail_stats *out);

/* ---- line conversion (exposed for tests and the benchmark) ------------ */

#define TAIL_VISITOR_LEN 17 /* "h" + 16 hex digits */
#define TAIL_UA_CACHE 1024  /* user agents whose device is remembered */

/* What one line became. */
enum tail_kind {
	TAIL_PAGEVIEW = 0, /* ev filled, a page view */
	TAIL_BOT,          /* ev filled, device DEVICE_BOT */
	TAIL_SKIP          /* not a page view: nothing to apply */
};

/* Per-thread conversion state: format, hash seed, user-agent cache. */
struct tail_conv {
	const struct logline_format *fmt; /* borrowed */
	uint64_t seed;
	struct {
		uint64_t hash;
		uint8_t device;
		uint8_t used;
	} ua_cache[TAIL_UA_CACHE];
};

/* Sets up c for format fmt (borrowed) and a salt (copied into a seed). */
void tail_conv_init(
    struct tail_conv *c, const struct logline_format *fmt, const char *salt);

/*
 * Converts one line (no newline).  Returns TAIL_PAGEVIEW or TAIL_BOT with
 * *ev filled (views into line and into vis, which must outlive ev),
 * TAIL_SKIP, or a negative logline_parse() error with d filled (also
 * NUDGE_ETOOBIG for a path over EVENT_PAGE_MAX).
 */
int tail_conv_line(struct tail_conv *c, const char *line, size_t len,
    struct nudge_event *ev, char vis[TAIL_VISITOR_LEN + 1],
    struct nudge_diag *d);

/* Whether a path is a static asset or the agent's own /nudge/ path. */
bool tail_is_asset(struct nudge_strv path);

#endif
