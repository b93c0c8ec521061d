/*
 * netrange.h - a set of address ranges (datacenter networks) loaded from a
 * file of CIDRs, looked up by binary search.
 *
 * The file: one CIDR a line ("192.0.2.0/24", "2001:db8::/32", or a bare
 * address), IPv4 and IPv6 mixed; '#' starts a comment; blank lines are
 * skipped.  At most NETRANGE_MAX ranges.  A line that does not parse makes
 * the whole file refused with "path:line: message" in the diagnostic, as a
 * bad value in nudged.conf is: the caller keeps what it had (nothing at
 * start, so the agent does not start; the previous set on SIGHUP).
 *
 * A loaded set is immutable: any thread may look up in it.  struct
 * netrange_ref lets one thread replace the set (SIGHUP) while others look
 * up (the HTTP workers).
 */
#ifndef NUDGE_NETRANGE_H
#define NUDGE_NETRANGE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "netaddr.h"

#define NETRANGE_MAX 262144	/* ranges per file: ~8 MiB of table */
#define NETRANGE_LINE_MAX 256	/* longer lines are refused */

struct netrange;

/*
 * Parses text (len bytes; name is what diagnostics call it).  On success
 * *out is a new set (overlapping and adjacent ranges merged) the caller
 * frees; on failure returns NUDGE_ESYNTAX (a bad line: d->line is its
 * number), NUDGE_ETOOBIG (over NETRANGE_MAX ranges or a line over
 * NETRANGE_LINE_MAX) or NUDGE_ENOMEM, and *out is untouched.
 */
int netrange_parse(struct netrange **out, const char *text, size_t len,
    const char *name, struct nudge_diag *d);
/* Reads and parses the file at path; NUDGE_EIO if it cannot be read. */
int netrange_load(struct netrange **out, const char *path,
    struct nudge_diag *d);
void netrange_free(struct netrange *t);

/* True when a is in one of t's ranges (false for t == NULL). */
bool netrange_has(const struct netrange *t, const struct net_addr *a);
/* How many disjoint ranges t holds after merging. */
size_t netrange_count(const struct netrange *t);

/*
 * A set that can be replaced while other threads look up in it: lookups
 * take a read lock for one binary search; a swap takes the write lock for
 * a pointer assignment, so neither waits on the other for long.
 */
struct netrange_ref {
	pthread_rwlock_t lock;
	struct netrange *set;	/* owned; NULL: no set */
};

void netrange_ref_init(struct netrange_ref *r);
/* Frees the set held. */
void netrange_ref_fini(struct netrange_ref *r);
/* Takes ownership of t (may be NULL) and frees the set it replaces. */
void netrange_ref_swap(struct netrange_ref *r, struct netrange *t);
bool netrange_ref_has(struct netrange_ref *r, const struct net_addr *a);
/* The current set's range count (0: none). */
size_t netrange_ref_count(struct netrange_ref *r);

#endif
