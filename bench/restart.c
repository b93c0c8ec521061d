/*
 * restart.c - agent restart to serving: a database holding many archived
 * sessions and a large rule set, and the time from exec to answering.
 *
 *   restart fill DB SESSIONS RULES LIVE
 *	Creates DB through the store API (common/store.h) the way the agent
 *	would have left it: SESSIONS closed sessions archived with
 *	store_archive_sessions (what agent/archive.c calls), in
 *	transactions of 10,000; an active rule set of RULES rules (the
 *	shape bench/rules_eval.c generates) stored with store_put_rules, as
 *	a `nudge rules push` would have; LIVE live sessions saved with
 *	store_save_live, as a graceful stop does.  Prints the time taken.
 *
 *   restart time NUDGED DB CTLURL PUBURL [ARGS...]
 *	Forks and execs NUDGED --db DB --control CTLURL --pub PUBURL ARGS,
 *	and measures from just before the fork until a `ping` on CTLURL is
 *	answered, and until a SUB dialed to PUBURL (reconnecting every 1 ms)
 *	has received a snapshot; also the agent's own uptime in that
 *	snapshot, and the CPU time the agent used until the ping was
 *	answered (less noisy than wall time on a shared machine).  Then
 *	stops the agent with SIGTERM.  Prints one line of key=value figures
 *	in milliseconds.
 *
 * Main thread only.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <xxhash.h>

#include "clock.h"
#include "ctlreq.h"
#include "err.h"
#include "model.h"
#include "store.h"
#include "wire.h"

#define RS_TXN 10000

static const char *const rs_pages[] = {
	"/", "/product/boots-12", "/product/hat-3", "/cart", "/checkout",
	"/blog/snow", "/search", "/account",
};

static void
rs_session(struct session_summary *s, uint64_t i, uint64_t now, bool live)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->visitor, sizeof(s->visitor), "%s%010" PRIu64,
	    live ? "l" : "v", i);
	s->started_ms = now - (live ? 60000 : 86400000ull * 30) +
	    (live ? i % 60000 : i * 2591);
	s->last_ms = s->started_ms + 1000 * (i % 900);
	s->pages = 1 + (uint32_t)(i % 12);
	s->events = s->pages * 3;
	s->step = (uint8_t)(i % 4);
	s->source = (uint8_t)(i % 4);
	s->device = (uint8_t)(i % 3);
	s->closed = !live;
	memcpy(s->country, (i % 3) ? "DE" : "FR", 3);
	s->purchases = i % 17 == 0;
	s->revenue_cents = s->purchases ? 5990 : 0;
	s->score = (int32_t)(i % 100);
	snprintf(s->last_page, sizeof(s->last_page), "%s",
	    rs_pages[i % (sizeof(rs_pages) / sizeof(rs_pages[0]))]);
	if (i % 5 == 0)
		snprintf(s->utm_campaign, sizeof(s->utm_campaign),
		    "winter-%u", (unsigned)(i % 7));
}

/* The plain rule set of bench/rules_eval.c (gen_rules, not distinct). */
static char *
rs_rules(unsigned n, size_t *len)
{
	static const char *const ev[] = {"pageview", "click", "hover",
	    "visible", "add_to_cart", "exit_intent", "scroll",
	    "low_satisfaction"};
	size_t cap = (size_t)n * 260 + 1, at = 0;
	char *t = malloc(cap);

	for (unsigned i = 0; t != NULL && i < n; i++) {
		if (i % 8 == 7)
			at += (size_t)snprintf(t + at, cap - at,
			    "rule r%u:\n  when context.weather[region] == "
			    "\"snow%u\" and cart.value > %u\n",
			    i, i % 5, i % 50);
		else
			at += (size_t)snprintf(t + at, cap - at,
			    "rule r%u:\n  when event == \"%s\" and page ~ "
			    "\"/product/*-%u*\" and country != \"FR\" and "
			    "cart.items >= %u\n",
			    i, ev[i % 8], i % 20, i % 3);
		at += (size_t)snprintf(t + at, cap - at,
		    "  show banner \"Hello {country}, %u more\"\n"
		    "  at most 3 per session\n",
		    i);
	}
	*len = at;
	return t;
}

static int
rs_fill(const char *db, uint64_t n, unsigned n_rules, uint64_t n_live)
{
	struct session_summary *v = calloc(RS_TXN, sizeof(*v));
	struct nudge_diag d = {0};
	struct store_rules r = {0};
	struct store *st;
	uint64_t now = clock_wall_ms(), t0 = clock_mono_ms();
	int rv;

	if (v == NULL)
		return NUDGE_ENOMEM;
	if ((rv = store_open(&st, db, &d)) != 0) {
		fprintf(stderr, "restart: %s\n", d.msg);
		free(v);
		return rv;
	}
	for (uint64_t i = 0; i < n && rv == 0;) {
		size_t k = 0;
		for (; k < RS_TXN && i < n; k++, i++)
			rs_session(&v[k], i, now, false);
		rv = store_archive_sessions(st, v, k);
	}
	if (rv == 0 && n_rules > 0) {
		r.kind = STORE_RULES_ACTIVE;
		r.version = 1;
		r.ts_ms = now;
		snprintf(r.who, sizeof(r.who), "bench");
		r.text = rs_rules(n_rules, &r.len);
		if (r.text != NULL) /* as agent/rules_rt.c hashes it */
			snprintf(r.hash, sizeof(r.hash), "%016" PRIx64,
			    (uint64_t)XXH3_64bits(r.text, r.len));
		rv = r.text != NULL ? store_put_rules(st, &r) : NUDGE_ENOMEM;
		free(r.text);
	}
	if (rv == 0 && n_live > 0) {
		struct session_summary *lv = calloc(n_live, sizeof(*lv));
		for (uint64_t i = 0; lv != NULL && i < n_live; i++)
			rs_session(&lv[i], i, now, true);
		rv = lv != NULL ? store_save_live(st, lv, n_live) :
		    NUDGE_ENOMEM;
		free(lv);
	}
	if (rv != 0)
		fprintf(stderr, "restart: fill: %s: %s\n", nudge_strerror(rv),
		    store_last_error(st));
	store_close(st);
	free(v);
	printf("restart fill sessions=%" PRIu64 " rules=%u live=%" PRIu64
	    " fill_ms=%" PRIu64 "\n", n, n_rules, n_live,
	    clock_mono_ms() - t0);
	return rv;
}

/*
 * Pings url: one REQ socket dialed without blocking and redialing every
 * 2 ms, so the request goes out as soon as the agent listens (a loop of
 * blocking dials would compete with the agent for the CPU).  0 when
 * answered.
 */
static int
rs_ping(const char *url, int timeout_ms)
{
	struct ctlreq_client c = {.open = true};
	struct nudge_diag d = {0};
	msgpack_sbuffer sb;
	uint8_t id[WIRE_ID_LEN];
	struct wire_reply rp;
	nng_msg *msg;
	int rv;

	snprintf(c.url, sizeof(c.url), "%s", url);
	if (nng_req0_open(&c.sock) != 0)
		return NUDGE_ECONN;
	nng_socket_set_ms(c.sock, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(c.sock, NNG_OPT_SENDTIMEO, timeout_ms);
	nng_socket_set_ms(c.sock, NNG_OPT_RECONNMINT, 2);
	nng_socket_set_ms(c.sock, NNG_OPT_RECONNMAXT, 2);
	if (nng_dial(c.sock, url, NULL, NNG_FLAG_NONBLOCK) != 0) {
		nng_close(c.sock);
		return NUDGE_ECONN;
	}
	msgpack_sbuffer_init(&sb);
	rv = ctlreq_build(&sb, "ping", NULL, NULL, id);
	if (rv == 0)
		rv = ctlreq_call(&c, &sb, &msg, &rp, &d);
	msgpack_sbuffer_destroy(&sb);
	if (rv == 0) {
		rv = rp.status;
		wire_reply_fini(&rp);
		nng_msg_free(msg);
	}
	nng_close(c.sock);
	return rv;
}

/* Waits for the first snapshot on s; its uptime_ms in *uptime. */
static int
rs_snapshot(nng_socket s, struct model *m, uint64_t deadline,
    uint64_t *uptime)
{
	while (clock_mono_ms() < deadline) {
		nng_msg *msg;
		if (nng_recvmsg(s, &msg, 0) != 0)
			continue;
		unsigned f = model_feed(m, 0, nng_msg_body(msg),
		    nng_msg_len(msg), clock_mono_ms());
		nng_msg_free(msg);
		if (f & MODEL_F_SNAPSHOT) {
			*uptime = m->agents[0].snap.uptime_ms;
			return 0;
		}
	}
	return NUDGE_ETIMEOUT;
}

static int
rs_sub(nng_socket *s, const char *url)
{
	int rv = nng_sub0_open(s);

	if (rv == 0)
		rv = nng_socket_set(*s, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	if (rv == 0)
		rv = nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, 100);
	if (rv == 0)
		rv = nng_socket_set_ms(*s, NNG_OPT_RECONNMINT, 1);
	if (rv == 0)
		rv = nng_socket_set_ms(*s, NNG_OPT_RECONNMAXT, 1);
	if (rv == 0)
		rv = nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, 4u << 20);
	if (rv == 0)
		rv = nng_dial(*s, url, NULL, NNG_FLAG_NONBLOCK);
	return rv;
}

/* CPU time (user + system) pid has used, in ms; 0 if unknown. */
static uint64_t
rs_cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long ut = 0, st = 0;
	const char *p;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* after "pid (comm) ": state is field 3, utime 14, stime 15 */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
	    "%llu", &ut, &st) != 2)
		return 0;
	return (ut + st) * 1000u / (uint64_t)sysconf(_SC_CLK_TCK);
}

static int
rs_time(int argc, char **argv)
{
	const char *nudged = argv[2], *ctl = argv[4], *pub = argv[5];
	char **args = calloc((size_t)argc + 8, sizeof(*args));
	struct model m;
	nng_socket sub;
	uint64_t t0, t_ping = 0, t_snap = 0, uptime = 0, deadline, cpu;
	int n = 0, status, rv_ping, rv_snap;
	pid_t pid;

	if (args == NULL || model_init(&m, 1) != 0 || rs_sub(&sub, pub) != 0)
		return 1;
	args[n++] = argv[2];
	args[n++] = "--db";
	args[n++] = argv[3];
	args[n++] = "--control";
	args[n++] = argv[4];
	args[n++] = "--pub";
	args[n++] = argv[5];
	for (int i = 6; i < argc; i++)
		args[n++] = argv[i];
	t0 = clock_mono_us();
	if ((pid = fork()) == 0) {
		execv(nudged, args);
		_exit(127);
	}
	if (pid < 0)
		return 1;
	deadline = clock_mono_ms() + 15000;
	rv_ping = rs_ping(ctl, 15000);
	t_ping = clock_mono_us() - t0;
	cpu = rs_cpu_ms(pid);
	rv_snap = rs_snapshot(sub, &m, deadline, &uptime);
	t_snap = clock_mono_us() - t0;
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	nng_close(sub);
	model_fini(&m);
	free(args);
	if (rv_ping != 0 || rv_snap != 0) {
		fprintf(stderr, "restart: the agent did not answer (%s)\n",
		    nudge_strerror(rv_ping ? rv_ping : rv_snap));
		return 1;
	}
	printf("restart exec_to_ping_ms=%.1f exec_to_snapshot_ms=%.1f "
	    "snapshot_uptime_ms=%" PRIu64 " cpu_to_ping_ms=%" PRIu64 "\n",
	    (double)t_ping / 1000.0, (double)t_snap / 1000.0, uptime, cpu);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc >= 6 && strcmp(argv[1], "fill") == 0)
		return rs_fill(argv[2], strtoull(argv[3], NULL, 10),
		    (unsigned)strtoul(argv[4], NULL, 10),
		    strtoull(argv[5], NULL, 10)) != 0;
	if (argc >= 6 && strcmp(argv[1], "time") == 0)
		return rs_time(argc, argv);
	fprintf(stderr, "usage: restart fill DB SESSIONS RULES LIVE\n"
	    "       restart time NUDGED DB CTLURL PUBURL [ARGS...]\n");
	return 2;
}
