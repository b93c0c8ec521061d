/*
 * fuzz_funnel.c - libFuzzer harness for the funnel parser and the glob: a
 * parsed funnel must be well formed and evaluable; a failure must carry a
 * position inside the text.  The glob is fed a pattern and a subject cut
 * from the same input, with the subject not NUL-terminated.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "funnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_funnel(const struct funnel *f)
{
	struct nudge_event ev;
	uint8_t r = 0;

	if (f->n < 1 || f->n > AGG_STEPS_MAX)
		abort();
	for (int i = 0; i < f->n; i++)
		if (memchr(f->step[i].label, '\0', sizeof(f->step[i].label)) ==
		        NULL ||
		    f->step[i].label[0] == '\0' ||
		    f->step[i].op > FUNNEL_EVENT_EQ)
			abort();
	event_init(&ev);
	ev.type = EVENT_PAGEVIEW;
	ev.page = (struct nudge_strv){"/product/1?x", 10};
	r = funnel_advance(f, r, &ev);
	if (r > f->n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct funnel f;
	struct nudge_diag d = {0};
	const uint8_t *cut;
	char *text, *pat, *subj;
	size_t plen;

	if (size > 1 << 14)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (funnel_parse(&f, "fuzz", text, &d) == NUDGE_OK)
		check_funnel(&f);
	else if (d.line < 1 || d.col < 1 || (size_t)d.line > size + 1)
		abort();
	free(text);

	/* glob: pattern before the first 0xff byte, subject after it */
	cut = memchr(data, 0xff, size);
	plen = cut ? (size_t)(cut - data) : size / 2;
	if ((pat = malloc(plen + 1)) == NULL)
		return 0;
	memcpy(pat, data, plen);
	pat[plen] = '\0';
	size -= plen + (cut != NULL);
	if ((subj = malloc(size ? size : 1)) != NULL) {
		memcpy(subj, data + plen + (cut != NULL), size);
		(void)funnel_glob(pat, subj, size);
		free(subj);
	}
	free(pat);
	return 0;
}
