/*
 * fault.h - fault injection for test builds: make the Nth allocation of
 * the rule compiler, the Nth SQLite write of the store, or the Nth publish
 * send fail, to prove every such failure is survived without a crash, a
 * leak (LeakSanitizer) or a half-applied change.
 *
 * Compiled in only with -DNUDGE_FAULT_INJECTION (the sanitized tree of
 * `make SANITIZE=...`, which `make test` builds); everywhere else the hooks
 * are inline no-ops and cost nothing.  Armed by fault_arm() in unit tests,
 * or for a whole process by NUDGE_FAULT="alloc:N,sql:N,send:N" (each site
 * optional; N counts from 1, and "site:N+" fails the Nth and every later
 * one).  Counters are atomic: any thread may hit a site.
 */
#ifndef NUDGE_FAULT_H
#define NUDGE_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

enum fault_site {
	FAULT_ALLOC = 0,	/* rule compiler allocations */
	FAULT_SQL,		/* store statement steps that write */
	FAULT_SEND,		/* publisher sends */
	FAULT_SITES
};

#ifdef NUDGE_FAULT_INJECTION
/* true: make this operation fail (the site's count reached its N). */
bool fault_hit(int site);
/* Fail the nth hit from now (1 = the next), and later ones if sticky;
 * nth 0 disarms.  Resets the site's count. */
void fault_arm(int site, unsigned long nth, bool sticky);
/* Hits of site since it was last armed. */
unsigned long fault_count(int site);
#define FAULT_INJECTION 1
#else
static inline bool
fault_hit(int site)
{
	(void)site;
	return false;
}

static inline void
fault_arm(int site, unsigned long nth, bool sticky)
{
	(void)site;
	(void)nth;
	(void)sticky;
}

static inline unsigned long
fault_count(int site)
{
	(void)site;
	return 0;
}
#define FAULT_INJECTION 0
#endif

/* The rule compiler's allocators: libc's, failing on FAULT_ALLOC hits. */
static inline void *
fault_malloc(size_t n)
{
	return fault_hit(FAULT_ALLOC) ? NULL : malloc(n);
}

static inline void *
fault_calloc(size_t n, size_t sz)
{
	return fault_hit(FAULT_ALLOC) ? NULL : calloc(n, sz);
}

static inline void *
fault_realloc(void *p, size_t n)
{
	return fault_hit(FAULT_ALLOC) ? NULL : realloc(p, n);
}

#endif
