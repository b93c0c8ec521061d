/*
 * qfilter.h - the session filter language of the console's `/` prompt and
 * of the `sessions` command's q argument, parsed the same way on both
 * sides so that what the agent filters and what the console filters agree.
 *
 * A filter is words separated by blanks:
 *
 *	country:FR  cc:FR      country code (case-insensitive, exact)
 *	source:email src:email traffic source by name (exact)
 *	device:mobile dev:...  device class by name (exact)
 *	page:/product          substring of the last page
 *	score>N score>=N score<N score<=N   score bounds (integers)
 *	anything else          free text: a substring of the visitor, country,
 *	                       last page, campaign, source or device name
 *
 * A q holding no structured word is taken whole as the free text, blanks
 * included, exactly as before the language existed; with structured words
 * the remaining words, joined by one blank, are the free text.  Every
 * condition must hold.
 */
#ifndef NUDGE_QFILTER_H
#define NUDGE_QFILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "session.h"

#define QFILTER_TEXT_MAX 128 /* bytes of the free text and page, with NUL */

struct qfilter {
	char country[3]; /* "" = any */
	int source;      /* enum event_source, -1 = any */
	int device;      /* enum event_device, -1 = any */
	char page[QFILTER_TEXT_MAX];
	bool has_min, has_max;
	int32_t score_min, score_max; /* inclusive */
	char text[QFILTER_TEXT_MAX];
};

/* What a filter is matched against (the agent's live rows and the console's
 * summaries both fill one); strings are borrowed, NULL reads as "". */
struct qfilter_subject {
	const char *visitor, *country, *page, *campaign;
	int source, device;
	int32_t score;
};

/* The filter that matches everything. */
void qfilter_init(struct qfilter *f);

/*
 * Parses q (NULL or "" match everything) into *f, written only on success.
 * Returns 0, or NUDGE_EINVAL with the offending word in d->msg and its byte
 * offset in d->col (a bad number, an unknown source or device, a country
 * that is not two letters); NUDGE_ETOOBIG for text over QFILTER_TEXT_MAX.
 */
int qfilter_parse(struct qfilter *f, const char *q, struct nudge_diag *d);

/* Whether every condition of f holds for s. */
bool qfilter_match(const struct qfilter *f, const struct qfilter_subject *s);
bool qfilter_match_summary(
    const struct qfilter *f, const struct session_summary *s);

/* Whether f matches everything (nothing to filter). */
bool qfilter_is_empty(const struct qfilter *f);

#endif
