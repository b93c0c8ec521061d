/*
 * rules_eval.c - rule evaluation cost per event with 10, 100 and 1,000
 * rules (issue 8's goal: 1,000 rules in <= 10 us per event).
 *
 * The generated rules look like real ones: most test an event type
 * (spread over the types the tag sends), then a page pattern, the
 * country, the cart or a context fact; one in eight has no event test
 * and is evaluated on every event.  Each event cycles through the types
 * and pages.  A baseline loop that only reads the event's fields gives the
 * floor.  Times are thread CPU time, so a busy machine does not inflate
 * them.  Prints one line per size: "rules_eval N rules: X ns/event".
 * Rules that test the same things share the work of testing them (see
 * common/rule_code.h), so a last line runs 1,000 rules whose constants
 * are all different ("rules_eval 1000 distinct rules: ..."), the case
 * where nothing is shared.  Single-threaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rules.h"

static const char *const ev_names[] = {
	"pageview", "click", "hover", "visible", "add_to_cart",
	"exit_intent", "scroll", "low_satisfaction",
};
static const int ev_types[] = {
	EVENT_PAGEVIEW, EVENT_CLICK, EVENT_HOVER, EVENT_VISIBLE,
	EVENT_ADD_TO_CART, EVENT_EXIT_INTENT, EVENT_SCROLL, EVENT_CUSTOM,
};
#define N_EV 8

static const char *const pages[] = {
	"/", "/product/boots-12", "/product/hat-3?color=red", "/cart",
	"/checkout", "/blog/snow",
};
#define N_PAGES 6

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A code for rule i, never the visitor's "DE". */
static const char *
country_of(unsigned i, char cc[3])
{
	cc[0] = (char)('A' + i % 26);
	cc[1] = (char)('A' + (i / 26) % 26);
	cc[2] = '\0';
	return strcmp(cc, "DE") == 0 ? "FR" : cc;
}

/*
 * distinct: every test differs from rule to rule, but holds for the
 * same events as in the plain set ("*-1**" matches what "*-1*" does,
 * cart.items >= 1.0003 where the plain rule has >= 1 ...), so both sets
 * fire the same actions.
 */
static char *
gen_rules(unsigned n, bool distinct)
{
	static const char stars[] = "**************************************"
	                            "************";
	size_t cap = (size_t)n * 400 + 1, at = 0;
	char *t = malloc(cap), cc[3];

	for (unsigned i = 0; t != NULL && i < n; i++) {
		const char *ev = ev_names[i % N_EV];
		if (i % 8 == 7 && distinct)
			at += (size_t)snprintf(t + at, cap - at,
			    "rule r%u:\n  when context.weather[region] == "
			    "\"snow%u\" and cart.value > %u.%04u\n",
			    i, i % 5 == 1 ? 1 : i, i % 50, i);
		else if (distinct)
			at += (size_t)snprintf(t + at, cap - at,
			    "rule r%u:\n  when event == \"%s\" and page ~ "
			    "\"/product/*-%u*%.*s\" and country != \"%s\" "
			    "and cart.items >= %u.%04u\n",
			    i, ev, i % 20, (int)(i / 20), stars,
			    country_of(i, cc), i % 3 ? i % 3 - 1 : 0, i);
		else if (i % 8 == 7) /* no event test: on every event */
			at += (size_t)snprintf(t + at, cap - at,
			    "rule r%u:\n  when context.weather[region] == "
			    "\"snow%u\" and cart.value > %u\n",
			    i, i % 5, i % 50);
		else
			at += (size_t)snprintf(t + at, cap - at,
			    "rule r%u:\n  when event == \"%s\" and page ~ "
			    "\"/product/*-%u*\" and country != \"FR\" and "
			    "cart.items >= %u\n",
			    i, ev, i % 20, i % 3);
		at += (size_t)snprintf(t + at, cap - at,
		    "  show banner \"Hello {country}, %u more\"\n"
		    "  at most 3 per session\n",
		    i);
	}
	return t;
}

static bool
bench_fact(void *arg, struct nudge_strv key, struct nudge_strv index,
    struct rule_value *out)
{
	(void)arg;
	(void)key;
	if (!strv_eq(index, "alps"))
		return false;
	out->type = RULE_V_STR;
	out->s = strv_of("snow1");
	return true;
}

static bool
bench_cap(void *arg, unsigned rule, const struct rule_cap *cap)
{
	(void)arg;
	(void)cap;
	return rule % 2 == 0;
}

static void
make_event(struct nudge_event *ev, unsigned i)
{
	event_init(ev);
	ev->type = (uint8_t)ev_types[i % N_EV];
	ev->name = strv_of("low_satisfaction");
	ev->page = strv_of(pages[(i / N_EV) % N_PAGES]);
	ev->target = strv_of(".price");
	ev->visitor = strv_of("v-123456");
}

/* The floor: touch what a rule would read, nothing else. */
static double
baseline(unsigned iters, struct nudge_event *evs, unsigned n_ev)
{
	volatile uint64_t sink = 0;
	double t0 = now_ns();

	for (unsigned i = 0; i < iters; i++) {
		const struct nudge_event *ev = &evs[i % n_ev];
		sink += ev->type + ev->page.len + (uint8_t)ev->page.ptr[0] +
		        ev->target.len + (uint64_t)ev->value_cents;
	}
	return (now_ns() - t0) / iters;
}

static int
bench(unsigned n_rules, unsigned iters, bool distinct)
{
	struct rule_errors errs;
	struct rule_set *set;
	struct nudge_event evs[96];
	struct rule_subject sj;
	struct rule_out *out = malloc(sizeof(*out));
	struct rule_ctx ctx = {.subj = &sj, .hour = 18, .weekday = 5,
	    .fact = bench_fact, .cap_ok = bench_cap};
	char *text = gen_rules(n_rules, distinct);
	unsigned long fired = 0;
	double t0, ns;

	if (text == NULL || out == NULL ||
	    rule_compile(text, strlen(text), &set, &errs) != 0) {
		rule_errors_print(stderr, "bench", &errs);
		return 1;
	}
	memset(&sj, 0, sizeof(sj));
	sj.visitor = strv_of("v-123456");
	memcpy(sj.country, "DE", 3);
	sj.region = strv_of("alps");
	sj.cart_items = 2;
	sj.cart_cents = 8900;
	for (unsigned i = 0; i < 96; i++)
		make_event(&evs[i], i);
	t0 = now_ns();
	for (unsigned i = 0; i < iters; i++) {
		ctx.ev = &evs[i % 96];
		rule_eval(set, &ctx, out);
		fired += out->n;
	}
	ns = (now_ns() - t0) / iters;
	printf("rules_eval %u %srules: %.0f ns/event (%.1f actions/event; "
	       "baseline field reads %.1f ns/event)\n",
	    n_rules, distinct ? "distinct " : "", ns, (double)fired / iters,
	    baseline(iters, evs, 96));
	rule_set_free(set);
	free(text);
	free(out);
	return 0;
}

int
main(int argc, char **argv)
{
	unsigned iters = argc > 1 ? (unsigned)atoi(argv[1]) : 200000;

	if (iters == 0)
		iters = 200000;
	return bench(10, iters, false) | bench(100, iters, false) |
	       bench(1000, iters / 4, false) | bench(1000, iters / 4, true);
}
