/*
 * qfilter.c - the session filter parser and matcher (see qfilter.h).  Pure
 * functions on caller-owned structs; any thread.
 */
#include "qfilter.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "event.h"

#define QF_WORD_MAX QFILTER_TEXT_MAX

void
qfilter_init(struct qfilter *f)
{
	memset(f, 0, sizeof(*f));
	f->source = -1;
	f->device = -1;
}

static int
qf_name_index(const char *v, const char *(*name)(int), int count)
{
	for (int i = 0; i < count; i++)
		if (name(i) != NULL && strcasecmp(v, name(i)) == 0)
			return i;
	return -1;
}

static int
qf_int(const char *v, int32_t *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < INT32_MIN ||
	    n > INT32_MAX)
		return NUDGE_EINVAL;
	*out = (int32_t)n;
	return 0;
}

/* score>N, score>=N, score<N, score<=N; 1 if w is not a score word. */
static int
qf_score(struct qfilter *f, const char *w)
{
	const char *p = w + 5;
	bool ge = false, le = false, strict;
	int32_t n;

	if (strncasecmp(w, "score", 5) != 0 || (*p != '>' && *p != '<'))
		return 1;
	ge = *p == '>';
	le = *p == '<';
	p++;
	strict = *p != '=';
	if (!strict)
		p++;
	if (qf_int(p, &n) != 0)
		return NUDGE_EINVAL;
	if (ge) {
		if (strict && n == INT32_MAX)
			return NUDGE_EINVAL;
		f->has_min = true;
		f->score_min = strict ? n + 1 : n;
	} else if (le) {
		if (strict && n == INT32_MIN)
			return NUDGE_EINVAL;
		f->has_max = true;
		f->score_max = strict ? n - 1 : n;
	}
	return 0;
}

static int
qf_country(struct qfilter *f, const char *v)
{
	if (strlen(v) != 2 || !isalpha((unsigned char)v[0]) ||
	    !isalpha((unsigned char)v[1]))
		return NUDGE_EINVAL;
	f->country[0] = (char)toupper((unsigned char)v[0]);
	f->country[1] = (char)toupper((unsigned char)v[1]);
	f->country[2] = '\0';
	return 0;
}

/* One key:value word; 1 if w is not one. */
static int
qf_keyed(struct qfilter *f, const char *w)
{
	const char *colon = strchr(w, ':');
	const char *v = colon != NULL ? colon + 1 : NULL;
	size_t klen = colon != NULL ? (size_t)(colon - w) : 0;

#define QF_KEY(name) (klen == strlen(name) && strncasecmp(w, name, klen) == 0)
	if (v == NULL)
		return 1;
	if (QF_KEY("country") || QF_KEY("cc"))
		return qf_country(f, v);
	if (QF_KEY("source") || QF_KEY("src"))
		return (f->source = qf_name_index(
		            v, event_source_name, SOURCE_COUNT)) < 0
		           ? NUDGE_EINVAL
		           : 0;
	if (QF_KEY("device") || QF_KEY("dev"))
		return (f->device = qf_name_index(
		            v, event_device_name, DEVICE_COUNT)) < 0
		           ? NUDGE_EINVAL
		           : 0;
	if (QF_KEY("page")) {
		if (*v == '\0')
			return NUDGE_EINVAL;
		snprintf(f->page, sizeof(f->page), "%s", v);
		return 0;
	}
#undef QF_KEY
	return 1;
}

/* Appends a free-text word to f->text, one blank between words. */
static int
qf_text(struct qfilter *f, const char *w)
{
	size_t have = strlen(f->text), add = strlen(w);

	if (have + (have > 0) + add + 1 > sizeof(f->text))
		return NUDGE_ETOOBIG;
	if (have > 0)
		f->text[have++] = ' ';
	memcpy(f->text + have, w, add + 1);
	return 0;
}

/* Splits q into words; calls the word parsers.  *structured says if any
 * word was one of the language's. */
static int
qf_words(
    struct qfilter *f, const char *q, bool *structured, struct nudge_diag *d)
{
	const char *p = q;
	char w[QF_WORD_MAX];

	while (*p != '\0') {
		size_t n;
		int rv;

		while (*p == ' ' || *p == '\t')
			p++;
		n = strcspn(p, " \t");
		if (n == 0)
			break;
		if (n >= sizeof(w)) {
			nudge_diag_set(d, 0, (int)(p - q), "word too long");
			return NUDGE_ETOOBIG;
		}
		memcpy(w, p, n);
		w[n] = '\0';
		if ((rv = qf_score(f, w)) == 1)
			rv = qf_keyed(f, w);
		if (rv == 1)
			rv = qf_text(f, w);
		else if (rv == 0)
			*structured = true;
		if (rv != 0) {
			nudge_diag_set(
			    d, 0, (int)(p - q), "bad filter '%s'", w);
			return rv;
		}
		p += n;
	}
	return 0;
}

int
qfilter_parse(struct qfilter *f, const char *q, struct nudge_diag *d)
{
	struct qfilter t;
	bool structured = false;
	int rv;

	qfilter_init(&t);
	if (q == NULL || q[0] == '\0') {
		*f = t;
		return 0;
	}
	if ((rv = qf_words(&t, q, &structured, d)) != 0)
		return rv;
	if (!structured) {
		if (strlen(q) >= sizeof(t.text)) {
			nudge_diag_set(d, 0, 0, "filter too long");
			return NUDGE_ETOOBIG;
		}
		snprintf(t.text, sizeof(t.text), "%s", q);
	}
	*f = t;
	return 0;
}

static bool
qf_has(const char *hay, const char *needle)
{
	return strstr(hay != NULL ? hay : "", needle) != NULL;
}

bool
qfilter_match(const struct qfilter *f, const struct qfilter_subject *s)
{
	const char *src = event_source_name(s->source);
	const char *dev = event_device_name(s->device);

	if (f->country[0] != '\0' &&
	    (s->country == NULL || strcasecmp(s->country, f->country) != 0))
		return false;
	if ((f->source >= 0 && s->source != f->source) ||
	    (f->device >= 0 && s->device != f->device))
		return false;
	if ((f->has_min && s->score < f->score_min) ||
	    (f->has_max && s->score > f->score_max))
		return false;
	if (f->page[0] != '\0' && !qf_has(s->page, f->page))
		return false;
	if (f->text[0] == '\0')
		return true;
	return qf_has(s->visitor, f->text) || qf_has(s->country, f->text) ||
	       qf_has(s->page, f->text) || qf_has(s->campaign, f->text) ||
	       qf_has(src, f->text) || qf_has(dev, f->text);
}

bool
qfilter_match_summary(const struct qfilter *f, const struct session_summary *s)
{
	struct qfilter_subject sub = {
	    .visitor = s->visitor,
	    .country = s->country,
	    .page = s->last_page,
	    .campaign = s->utm_campaign,
	    .source = s->source,
	    .device = s->device,
	    .score = s->score,
	};

	return qfilter_match(f, &sub);
}

bool
qfilter_is_empty(const struct qfilter *f)
{
	return f->country[0] == '\0' && f->source < 0 && f->device < 0 &&
	       f->page[0] == '\0' && !f->has_min && !f->has_max &&
	       f->text[0] == '\0';
}
