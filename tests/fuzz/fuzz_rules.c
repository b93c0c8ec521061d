/*
 * fuzz_rules.c - libFuzzer harness for the rule compiler and evaluator.
 * A compile either succeeds, and then every rule evaluates on a few events
 * with facts, variants and caps answering, rendering NUL-terminated texts
 * of the length said; or it fails with 1..RULE_ERRORS_MAX errors, each
 * with a position inside the text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
fz_fact(void *arg, struct nudge_strv key, struct nudge_strv index,
    struct rule_value *out)
{
	(void)arg;
	if (key.len == 0)
		return false;
	if (index.len > 0 || key.ptr[0] < 'n') {
		out->type = RULE_V_STR;
		out->s = index.len ? index : key;
	} else {
		out->type = RULE_V_NUM;
		out->num = (double)key.len - 3;
	}
	return true;
}

static int
fz_variant(void *arg, unsigned camp)
{
	(void)arg;
	return (int)(camp % 3) - 1;
}

static bool
fz_cap(void *arg, unsigned rule, const struct rule_cap *cap)
{
	(void)arg;
	return rule % 5 != 0 || cap->count > 1;
}

static void
fz_eval(const struct rule_set *set, struct rule_out *out)
{
	static const char *const pages[] = {"/", "/product/1?x", "/checkout"};
	struct nudge_event ev;
	struct rule_subject sj;
	struct rule_ctx ctx = {.ev = &ev, .subj = &sj, .hour = 23,
	    .weekday = 6, .fact = fz_fact, .variant = fz_variant,
	    .cap_ok = fz_cap};

	memset(&sj, 0, sizeof(sj));
	sj.visitor = strv_of("fuzz-visitor");
	memcpy(sj.country, "DE", 3);
	sj.region = strv_of("alps");
	sj.cart_items = 2;
	sj.cart_cents = 4999;
	sj.days_since_last_visit = -1;
	for (int t = 0; t < EVENT_TYPE_COUNT; t++) {
		event_init(&ev);
		ev.type = (uint8_t)t;
		ev.name = strv_of("low_satisfaction");
		ev.page = strv_of(pages[t % 3]);
		ev.target = strv_of(".price");
		if (rule_eval(set, &ctx, out) != 0 || out->n > RULE_OUT_MAX ||
		    out->n_scored > RULE_SCORED_MAX)
			abort();
		for (unsigned i = 0; i < out->n; i++)
			if (strlen(out->act[i].text) != out->act[i].text_len ||
			    out->act[i].text_len > RULE_TEXT_MAX ||
			    rule_set_rule(set, out->act[i].rule) == NULL)
				abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rule_errors errs;
	static struct rule_out out;
	struct rule_set *set = NULL;
	size_t lines = 1;
	int rc;

	if (size > 1 << 16)
		return 0;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	rc = rule_compile((const char *)data, size, &set, &errs);
	if (rc == NUDGE_OK) {
		if (set == NULL || errs.n != 0)
			abort();
		fz_eval(set, &out);
		rule_set_free(set);
		return 0;
	}
	if (rc != NUDGE_ESYNTAX || set != NULL || errs.n < 1 ||
	    errs.n > RULE_ERRORS_MAX)
		abort();
	for (unsigned i = 0; i < errs.n; i++)
		if (errs.e[i].line < 1 || (size_t)errs.e[i].line > lines ||
		    errs.e[i].col < 1 || errs.e[i].msg[0] == '\0')
			abort();
	return 0;
}
