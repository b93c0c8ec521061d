/*
 * main.c - nudge-sim: shop traffic for the demo, the tests and the
 * benchmarks.
 *
 * Parses the flags, then runs one of two loops over visitor sessions made
 * by gen.c.  The paced loop starts visitor i at i/rate seconds (or at once
 * with --rate 0) and sends its whole session back to back: think times
 * exist only in the timestamps.  The realtime loop keeps every live session
 * in a min-heap keyed by its next event's time and sends each event when
 * the wall clock reaches it, so concurrent visitors interleave as they
 * would on a real shop.  Every sent event is counted by truth.c; the
 * truth file and the summary line describe exactly what left.  With
 * --campaign, --drop-variant and --rule-lift (ab.c) each visitor's
 * variants are computed as the agent computes them before the session is
 * generated, and decide whether it buys or is sent at all.  --beacon
 * sends whole visits through the output's visit op (out_beacon.c), paced
 * only.  One thread; SIGINT and SIGTERM end the run cleanly (the truth is
 * still written).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "ab.h"
#include "clock.h"
#include "gen.h"
#include "out.h"
#include "truth.h"
#include "wire.h"

#define EXIT_USAGE 2

struct opts {
	double rate;
	uint64_t visitors;
	bool visitors_set;
	double duration;
	uint64_t seed;
	bool seed_set;
	uint64_t start_ms;
	bool realtime;
	const struct out_ops *ops;
	struct out_config cfg;
	const char *truth;
	bool quiet;
	struct ab ab; /* campaigns, drops, rule lifts */
};

/* A session being sent: generated events, where we are, its truth. */
struct slot {
	struct gen_session s;
	uint32_t next;
	struct truth_session ts;
	struct ab_visitor av; /* valid when ts.abv is set */
};

struct sim {
	const struct opts *o;
	struct gen gen;
	struct out out;
	struct truth truth;
	struct nudge_event ev; /* reused for every event sent */
	uint64_t t0_us;        /* monotonic start */
	uint64_t base_ms;      /* simulated time of visitor 0 */
};

static volatile sig_atomic_t stop_requested;

static void
on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* clang-format off: the help text is laid out as it prints. */
static void
usage(FILE *fp)
{
	fputs(
	    "usage: nudge-sim OUTPUT [options]\n"
	    "Simulates shop visitors and sends their events to a nudge "
	    "agent.\n"
	    "\n"
	    "Output (exactly one):\n"
	    "  --push URL       nng PUSH emit batches to URL "
	    "(fire-and-forget)\n"
	    "  --ingest URL     nng REQ emit batches to URL; each batch "
	    "acknowledged,\n"
	    "                   accepted/rejected counted; exit 1 on a "
	    "refused batch\n"
	    "  --jsonl          one JSON object per event on stdout, the "
	    "format of\n"
	    "                   `nudge emit --stdin`\n"
	    "  --log            nginx combined access-log lines on stdout "
	    "(page views)\n"
	    "  --null           build the emit batches and drop them "
	    "(benchmark)\n"
	    "  --beacon URL     POST each visit to the agent's beacon "
	    "endpoint as the\n"
	    "                   browser tag does (URL "
	    "http://HOST:PORT/nudge/e; plain\n"
	    "                   HTTP/1.1, one keep-alive connection), one "
	    "request per\n"
	    "                   page, reading each answer's decisions; 429 "
	    "answers are\n"
	    "                   retried after 1 s; not with --realtime\n"
	    "\n"
	    "Traffic:\n"
	    "  --rate N         visitors per second, decimals allowed; 0 = as "
	    "fast as\n"
	    "                   possible (default 0)\n"
	    "  --visitors N     visitors in total; 0 = unlimited (default "
	    "1000, or\n"
	    "                   unlimited with --duration or --realtime: "
	    "until\n"
	    "                   SIGINT/SIGTERM, which still write the truth)\n"
	    "  --duration SEC   stop after SEC seconds of wall time (0 = no "
	    "limit)\n"
	    "  --seed S         makes the sessions deterministic (default: "
	    "random,\n"
	    "                   printed on stderr)\n"
	    "  --start MS       simulated time of the first visitor, ms since "
	    "the\n"
	    "                   epoch (default now); with --seed, fixes every "
	    "byte\n"
	    "  --realtime       send each event at its simulated time, "
	    "visitors\n"
	    "                   interleaved (needs --rate > 0); otherwise a "
	    "visitor's\n"
	    "                   events go out back to back\n"
	    "\n"
	    "A/B truth (the agent's own assignment: salt NAME, FNV-1a "
	    "buckets):\n"
	    "  --campaign NAME:W1,W2,...:R1,R2,...[:HOLDOUT%]\n"
	    "                   a campaign split by weights W (percent, sum "
	    "100) with\n"
	    "                   an optional holdout; a visitor in variant i "
	    "buys with\n"
	    "                   probability Ri per visit (0.045 or 4.5%) "
	    "instead of the\n"
	    "                   shop's 2.5%; the first campaign holding a "
	    "visitor in a\n"
	    "                   variant decides; held-out visitors keep the "
	    "shop's odds.\n"
	    "                   Repeatable (64 at most)\n"
	    "  --campaign-generation NAME:G\n"
	    "                   campaign NAME's seed generation (default 0; "
	    "bumped by\n"
	    "                   a reshuffle)\n"
	    "  --drop-variant NAME:I:FRACTION\n"
	    "                   that fraction of variant I's visitors (0 = "
	    "control)\n"
	    "                   sends nothing at all: a broken split\n"
	    "  --rule-lift RULE:RATE\n"
	    "                   --beacon: a visitor whose answers carried a "
	    "decision of\n"
	    "                   RULE before the purchase buys with "
	    "probability RATE\n"
	    "\n"
	    "Output options:\n"
	    "  --batch N        events per emit request, 1..10000 (default "
	    "500)\n"
	    "  --timeout MS     send/reply timeout for --push, --ingest and "
	    "--beacon\n"
	    "                   (default 10000)\n"
	    "  --linger MS      --push: wait before closing so queued batches "
	    "leave\n"
	    "                   (nng 1.x drops them on close; default 1000)\n"
	    "  --log-noise      --log: add asset requests and bot/scanner "
	    "lines\n"
	    "  --wire-pack      pack events with wire_pack_event only (the "
	    "reference\n"
	    "                   encoder; by default a byte-identical fast "
	    "encoder is\n"
	    "                   used and checked against it on the first "
	    "10000 events)\n"
	    "  --truth FILE     at the end, write what was sent as JSON:\n"
	    "                   visitors, events, by_type, funnel (visit, "
	    "product,\n"
	    "                   cart, checkout, purchase: the agent's default "
	    "funnel),\n"
	    "                   purchases, revenue_cents, by_source, "
	    "by_device;\n"
	    "                   campaigns (per variant and holdout: "
	    "visitors,\n"
	    "                   purchases, dropped), rule_lift (shown, "
	    "not_shown:\n"
	    "                   visitors, purchases), beacon (posts, "
	    "retries,\n"
	    "                   decisions: answers, visitors, first_ms, "
	    "last_ms)\n"
	    "  --quiet          no summary on stderr\n"
	    "  --help           this text\n"
	    "\n"
	    "The last stderr line is \"sent N events from M visitors in T s "
	    "(R "
	    "events/s)\".\n"
	    "Exit status: 0 ok, 1 send/ingest/write failure, 2 usage error.\n",
	    fp);
}
/* clang-format on */

static int
bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "nudge-sim: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'nudge-sim --help'.\n");
	return EXIT_USAGE;
}

static bool
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static bool
parse_real(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < 0)
		return false;
	*out = v;
	return true;
}

enum {
	OPT_RATE = 256,
	OPT_VISITORS,
	OPT_DURATION,
	OPT_SEED,
	OPT_START,
	OPT_REALTIME,
	OPT_PUSH,
	OPT_INGEST,
	OPT_JSONL,
	OPT_LOG,
	OPT_NULL,
	OPT_BATCH,
	OPT_TIMEOUT,
	OPT_LINGER,
	OPT_NOISE,
	OPT_WIRE_PACK,
	OPT_TRUTH,
	OPT_QUIET,
	OPT_HELP,
	OPT_BEACON,
	OPT_CAMPAIGN,
	OPT_CAMPAIGN_GEN,
	OPT_DROP,
	OPT_LIFT
};

static const struct option long_opts[] = {
    {"rate", required_argument, NULL, OPT_RATE},
    {"visitors", required_argument, NULL, OPT_VISITORS},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"seed", required_argument, NULL, OPT_SEED},
    {"start", required_argument, NULL, OPT_START},
    {"realtime", no_argument, NULL, OPT_REALTIME},
    {"push", required_argument, NULL, OPT_PUSH},
    {"ingest", required_argument, NULL, OPT_INGEST},
    {"jsonl", no_argument, NULL, OPT_JSONL},
    {"log", no_argument, NULL, OPT_LOG}, {"null", no_argument, NULL, OPT_NULL},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"linger", required_argument, NULL, OPT_LINGER},
    {"log-noise", no_argument, NULL, OPT_NOISE},
    {"wire-pack", no_argument, NULL, OPT_WIRE_PACK},
    {"truth", required_argument, NULL, OPT_TRUTH},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"help", no_argument, NULL, OPT_HELP},
    {"beacon", required_argument, NULL, OPT_BEACON},
    {"campaign", required_argument, NULL, OPT_CAMPAIGN},
    {"campaign-generation", required_argument, NULL, OPT_CAMPAIGN_GEN},
    {"drop-variant", required_argument, NULL, OPT_DROP},
    {"rule-lift", required_argument, NULL, OPT_LIFT}, {NULL, 0, NULL, 0}};

/* Picks the output; a second one is a usage error. */
static int
set_output(struct opts *o, const struct out_ops *ops, const char *url)
{
	if (o->ops != NULL)
		return bad_usage("only one output at a time (%s)",
		    "--push, --ingest, --beacon, --jsonl, --log or --null");
	if (url != NULL && url[0] == '\0')
		return bad_usage("%s: empty URL", ops->name);
	o->ops = ops;
	o->cfg.url = url;
	return 0;
}

/* The options with a bounded integer argument. */
static int
parse_bounded(struct opts *o, int c, const char *arg)
{
	uint64_t v;

	switch (c) {
	case OPT_BATCH:
		if (!parse_u64(arg, WIRE_EMIT_MAX, &v) || v == 0)
			return bad_usage("--batch: 1..10000, not '%s'", arg);
		o->cfg.batch = (uint32_t)v;
		return 0;
	case OPT_TIMEOUT:
		if (!parse_u64(arg, 3600000, &v) || v == 0)
			return bad_usage("--timeout: ms, not '%s'", arg);
		o->cfg.timeout_ms = (uint32_t)v;
		return 0;
	case OPT_LINGER:
		if (!parse_u64(arg, 600000, &v))
			return bad_usage("--linger: ms, not '%s'", arg);
		o->cfg.linger_ms = (uint32_t)v;
		return 0;
	case OPT_START:
		if (!parse_u64(arg, UINT64_MAX / 2, &o->start_ms) ||
		    o->start_ms == 0)
			return bad_usage("--start: not ms since the epoch: "
			                 "'%s'",
			    arg);
		return 0;
	case OPT_VISITORS:
		o->visitors_set = true;
		return parse_u64(arg, UINT64_MAX, &o->visitors)
		           ? 0
		           : bad_usage("--visitors: not a count: '%s'", arg);
	default:
		o->seed_set = true;
		return parse_u64(arg, UINT64_MAX, &o->seed)
		           ? 0
		           : bad_usage("--seed: not a number: '%s'", arg);
	}
}

/* The A/B truth options. */
static int
parse_ab(struct opts *o, int c, const char *arg)
{
	static const struct {
		const char *flag;
		int (*add)(struct ab *, const char *, char *, size_t);
	} t[] = {
	    [OPT_CAMPAIGN - OPT_CAMPAIGN] = {"--campaign", ab_add_campaign},
	    [OPT_CAMPAIGN_GEN -
	        OPT_CAMPAIGN] = {"--campaign-generation", ab_add_generation},
	    [OPT_DROP - OPT_CAMPAIGN] = {"--drop-variant", ab_add_drop},
	    [OPT_LIFT - OPT_CAMPAIGN] = {"--rule-lift", ab_add_lift},
	};
	char err[200];

	if (t[c - OPT_CAMPAIGN].add(&o->ab, arg, err, sizeof(err)) != 0)
		return bad_usage("%s: %s", t[c - OPT_CAMPAIGN].flag, err);
	return 0;
}

/* Handles one option; 0 or an exit status (usage error, -1 for --help). */
static int
parse_one(struct opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_CAMPAIGN:
	case OPT_CAMPAIGN_GEN:
	case OPT_DROP:
	case OPT_LIFT:
		return parse_ab(o, c, arg);
	case OPT_BEACON:
		return set_output(o, &out_beacon, arg);
	case OPT_RATE:
		return parse_real(arg, &o->rate)
		           ? 0
		           : bad_usage("--rate: not a rate: '%s'", arg);
	case OPT_DURATION:
		return parse_real(arg, &o->duration)
		           ? 0
		           : bad_usage("--duration: not seconds: '%s'", arg);
	case OPT_VISITORS:
	case OPT_SEED:
	case OPT_START:
	case OPT_BATCH:
	case OPT_TIMEOUT:
	case OPT_LINGER:
		return parse_bounded(o, c, arg);
	case OPT_PUSH:
		return set_output(o, &out_push, arg);
	case OPT_INGEST:
		return set_output(o, &out_ingest, arg);
	case OPT_JSONL:
		return set_output(o, &out_jsonl, NULL);
	case OPT_LOG:
		return set_output(o, &out_log, NULL);
	case OPT_NULL:
		return set_output(o, &out_null, NULL);
	case OPT_REALTIME:
		o->realtime = true;
		return 0;
	case OPT_NOISE:
		o->cfg.log_noise = true;
		return 0;
	case OPT_WIRE_PACK:
		o->cfg.wire_pack = true;
		return 0;
	case OPT_TRUTH:
		o->truth = arg;
		return 0;
	case OPT_QUIET:
		o->quiet = true;
		return 0;
	case OPT_HELP:
		usage(stdout);
		return -1;
	default:
		return bad_usage("%s", "unknown option");
	}
}

/* Cross-flag checks and defaults, once every flag is known. */
static int
check_opts(struct opts *o)
{
	char err[200];

	if (o->ops == NULL)
		return bad_usage("choose an output: %s",
		    "--push URL, --ingest URL, --beacon URL, --jsonl, --log "
		    "or "
		    "--null");
	if (o->realtime && o->ops == &out_beacon)
		return bad_usage("%s", "--beacon sends whole visits: not with "
		                       "--realtime");
	if (o->ab.n_lift > 0 && o->ops != &out_beacon)
		return bad_usage("%s", "--rule-lift reads beacon answers: it "
		                       "needs --beacon");
	if (o->realtime && o->rate <= 0)
		return bad_usage("%s", "--realtime needs --rate > 0");
	if (o->cfg.log_noise && o->ops != &out_log)
		return bad_usage("%s", "--log-noise goes with --log");
	/* A live demo (--realtime) or a timed run goes on until stopped. */
	if (!o->visitors_set)
		o->visitors = o->duration > 0 || o->realtime ? 0 : 1000;
	if (!o->seed_set && getrandom(&o->seed, sizeof(o->seed), 0) !=
	                        (ssize_t)sizeof(o->seed))
		o->seed = clock_wall_ms() ^ clock_mono_us();
	if (o->start_ms == 0)
		o->start_ms = clock_wall_ms();
	if (ab_finish(&o->ab, o->seed, err, sizeof(err)) != 0)
		return bad_usage("%s", err);
	return 0;
}

static int
parse_opts(struct opts *o, int argc, char **argv)
{
	int c, rc;

	memset(o, 0, sizeof(*o));
	o->cfg.batch = 500;
	o->cfg.timeout_ms = 10000;
	o->cfg.linger_ms = 1000;
	o->cfg.fp = stdout;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if (c == '?')
			return bad_usage(
			    "bad or incomplete option '%s'", argv[optind - 1]);
		if ((rc = parse_one(o, c, optarg)) != 0)
			return rc;
	}
	if (optind < argc)
		return bad_usage("unexpected argument '%s'", argv[optind]);
	return check_opts(o);
}

/* ---- running ---------------------------------------------------------- */

static uint64_t
elapsed_us(const struct sim *sim)
{
	return clock_mono_us() - sim->t0_us;
}

static bool
time_is_up(const struct sim *sim)
{
	return sim->o->duration > 0 &&
	       (double)elapsed_us(sim) >= sim->o->duration * 1e6;
}

/* Offset of visitor i's arrival from visitor 0's, in microseconds. */
static uint64_t
arrival_us(const struct sim *sim, uint64_t i)
{
	return sim->o->rate > 0 ? (uint64_t)((double)i * 1e6 / sim->o->rate)
	                        : 0;
}

static int
emit(struct sim *sim, struct slot *sl, uint32_t i)
{
	if (sim->out.ops->pageviews_only && sl->s.ev[i].type != EVENT_PAGEVIEW)
		return 0;
	gen_event_fill(&sl->s, i, &sim->ev);
	truth_add(&sim->truth, &sl->ts, &sim->ev);
	return sim->out.ops->event(&sim->out, &sl->s, i, &sim->ev);
}

/*
 * Generates visitor i's session into sl, its campaigns first (they decide
 * whether it buys).  Returns false for a visit --drop-variant never sends
 * (counted as dropped in the truth).
 */
static bool
start_slot(struct sim *sim, struct slot *sl, uint64_t i)
{
	const struct ab *ab = &sim->o->ab;
	int buy = GEN_BUY_DEFAULT;

	sl->next = 0;
	sl->ts = (struct truth_session){0};
	if (ab_active(ab)) {
		char id[GEN_VISITOR_LEN + 1];

		gen_visitor_id(&sim->gen, i, id);
		ab_visitor(
		    ab, i, (struct nudge_strv){id, GEN_VISITOR_LEN}, &sl->av);
		sl->ts.abv = &sl->av;
		buy = sl->av.buy;
		if (sl->av.dropped) {
			truth_dropped(&sim->truth, &sl->av);
			sl->s.n = 0;
			return false;
		}
	}
	gen_session_as(&sim->gen, i, sim->base_ms + arrival_us(sim, i) / 1000,
	    buy, &sl->s);
	return true;
}

/* Sends visitor i's whole session, back to back. */
static int
send_slot(struct sim *sim, struct slot *sl)
{
	int rc = 0;

	if (sim->out.ops->visit != NULL) {
		struct out_visit v = {
		    &sl->s, sl->ts.abv, &sim->truth, &sl->ts, &sim->ev};

		return sim->out.ops->visit(&sim->out, &v);
	}
	for (uint32_t k = 0; rc == 0 && k < sl->s.n; k++)
		rc = emit(sim, sl, k);
	return rc;
}

/*
 * Waits until the monotonic time t0 + us; sends what is queued first when
 * the wait is long enough to matter, so the agent sees events promptly.
 */
static int
wait_until(struct sim *sim, uint64_t us)
{
	uint64_t now = elapsed_us(sim);
	struct timespec ts;
	int rc;

	if (us <= now + 200)
		return 0;
	if ((rc = sim->out.ops->flush(&sim->out)) != 0)
		return rc;
	/* At most 100 ms at a time, so a signal or --duration ends us. */
	us = us - now > 100000 ? 100000 : us - now;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(us * 1000);
	nanosleep(&ts, NULL);
	return 0;
}

/* Visitor i at i/rate s, its session sent back to back. */
static int
run_paced(struct sim *sim)
{
	struct slot *sl = malloc(sizeof(*sl));
	int rc = 0;

	if (sl == NULL)
		return NUDGE_ENOMEM;
	for (uint64_t i = 0; rc == 0; i++) {
		if (sim->o->visitors != 0 && i >= sim->o->visitors)
			break;
		while (rc == 0 && !stop_requested && !time_is_up(sim) &&
		       elapsed_us(sim) + 200 < arrival_us(sim, i))
			rc = wait_until(sim, arrival_us(sim, i));
		if (stop_requested || time_is_up(sim))
			break;
		if (start_slot(sim, sl, i))
			rc = send_slot(sim, sl);
	}
	free(sl);
	return rc;
}

/* ---- realtime: a min-heap of live sessions by next event time ---------- */

struct heap {
	struct slot **v;
	size_t n, cap;
};

static uint64_t
due_ms(const struct slot *sl)
{
	return sl->s.ev[sl->next].ts_ms;
}

static int
heap_push(struct heap *h, struct slot *sl)
{
	size_t k;

	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 256;
		struct slot **v = realloc(h->v, cap * sizeof(*v));

		if (v == NULL)
			return NUDGE_ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	for (k = h->n++; k > 0 && due_ms(h->v[(k - 1) / 2]) > due_ms(sl);
	     k = (k - 1) / 2)
		h->v[k] = h->v[(k - 1) / 2];
	h->v[k] = sl;
	return 0;
}

static struct slot *
heap_pop(struct heap *h)
{
	struct slot *top = h->v[0], *last = h->v[--h->n];
	size_t k = 0;

	for (;;) {
		size_t c = 2 * k + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && due_ms(h->v[c + 1]) < due_ms(h->v[c]))
			c++;
		if (due_ms(h->v[c]) >= due_ms(last))
			break;
		h->v[k] = h->v[c];
		k = c;
	}
	if (h->n > 0)
		h->v[k] = last;
	return top;
}

/* Starts visitor i's session and queues it. */
static int
arrive(struct sim *sim, struct heap *h, uint64_t i)
{
	struct slot *sl = malloc(sizeof(*sl));
	int rc = 0;

	if (sl == NULL)
		return NUDGE_ENOMEM;
	/* The heap holds the slot: its truth_session points into it. */
	if (!start_slot(sim, sl, i) || sl->s.n == 0 ||
	    (rc = heap_push(h, sl)) != 0)
		free(sl);
	return rc;
}

/* Sends the earliest due event; the session goes back or is done. */
static int
step(struct sim *sim, struct heap *h)
{
	struct slot *sl = heap_pop(h);
	int rc = emit(sim, sl, sl->next++);

	if (rc != 0 || sl->next >= sl->s.n) {
		free(sl);
		return rc;
	}
	return heap_push(h, sl);
}

/* Every event at its simulated time; ends early on signal or duration. */
static int
run_realtime(struct sim *sim)
{
	struct heap h = {0};
	uint64_t i = 0;
	int rc = 0;

	while (rc == 0 && !stop_requested && !time_is_up(sim)) {
		bool more = sim->o->visitors == 0 || i < sim->o->visitors;
		uint64_t arr = more ? arrival_us(sim, i) : UINT64_MAX;
		uint64_t due = h.n > 0 ? (due_ms(h.v[0]) - sim->base_ms) * 1000
		                       : UINT64_MAX;
		uint64_t next = arr < due ? arr : due;

		if (next == UINT64_MAX)
			break;
		if (elapsed_us(sim) + 200 < next)
			rc = wait_until(sim, next);
		else if (arr <= due)
			rc = arrive(sim, &h, i++);
		else
			rc = step(sim, &h);
	}
	while (h.n > 0)
		free(heap_pop(&h));
	free(h.v);
	return rc;
}

/* ---- main -----------------------------------------------------------------
 */

static void
summary(const struct sim *sim, double secs)
{
	const struct out *o = &sim->out;

	if (o->ops == &out_ingest)
		fprintf(stderr,
		    "nudge-sim: agent accepted %" PRIu64 ", rejected %" PRIu64
		    " in %" PRIu64 " batches\n",
		    o->acc, o->rej, o->messages);
	else if (o->ops == &out_beacon)
		fprintf(stderr,
		    "nudge-sim: agent answered %" PRIu64 " beacons (%" PRIu64
		    " retried after 429)\n",
		    o->messages, o->retries);
	else if (o->ops == &out_log && o->noise > 0)
		fprintf(
		    stderr, "nudge-sim: %" PRIu64 " noise lines\n", o->noise);
	fprintf(stderr,
	    "sent %" PRIu64 " events from %" PRIu64
	    " visitors in %.2f s (%.0f events/s)\n",
	    sim->truth.events, sim->truth.visitors, secs,
	    secs > 0 ? (double)sim->truth.events / secs : 0.0);
}

static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a sleeping loop wakes up and sees the flag. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int
run(struct sim *sim)
{
	const struct opts *o = sim->o;
	int rc, crc;
	double secs;

	if ((rc = sim->out.ops->open(&sim->out)) != 0) {
		fprintf(stderr, "nudge-sim: %s\n", sim->out.err);
		sim->out.ops->close(&sim->out);
		return 1;
	}
	sim->t0_us = clock_mono_us();
	rc = o->realtime ? run_realtime(sim) : run_paced(sim);
	if (rc == 0)
		rc = sim->out.ops->flush(&sim->out);
	secs = (double)elapsed_us(sim) / 1e6;
	if (rc != 0)
		fprintf(stderr, "nudge-sim: %s\n",
		    rc == NUDGE_ENOMEM ? "out of memory" : sim->out.err);
	crc = sim->out.ops->close(&sim->out);
	if (crc != 0 && rc == 0)
		fprintf(stderr, "nudge-sim: %s\n", sim->out.err);
	if (o->truth != NULL && truth_write(&sim->truth, o->truth) != 0) {
		fprintf(
		    stderr, "nudge-sim: %s: %s\n", o->truth, strerror(errno));
		crc = NUDGE_EIO;
	}
	if (!o->quiet)
		summary(sim, secs);
	return rc != 0 || crc != 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct sim *sim;
	int rc = parse_opts(&o, argc, argv);

	if (rc != 0)
		return rc < 0 ? 0 : rc;
	if ((sim = calloc(1, sizeof(*sim))) == NULL) {
		fprintf(stderr, "nudge-sim: out of memory\n");
		return 1;
	}
	catch_signals();
	sim->o = &o;
	gen_init(&sim->gen, o.seed);
	o.cfg.gen = &sim->gen;
	o.cfg.ab = &o.ab;
	out_init(&sim->out, o.ops, &o.cfg);
	truth_init(&sim->truth, &o.ab);
	sim->truth.beacon = o.ops == &out_beacon;
	event_init(&sim->ev);
	sim->base_ms = o.start_ms;
	if (!o.seed_set && !o.quiet)
		fprintf(stderr, "nudge-sim: seed %" PRIu64 "\n", o.seed);
	rc = run(sim);
	free(sim);
	return rc;
}
