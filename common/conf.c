/*
 * conf.c - loading nudge's configuration: defaults, INI file, environment,
 * flags.
 *
 * Owns the table of keys (section, name, how to check and store the value),
 * which is the single place a key is defined: the INI handler, conf_set and
 * conf_apply_env all go through it, so a key accepted in the file is
 * accepted in the environment and on the command line with the same checks
 * and messages.  The INI file is read with inih through our own line
 * reader, which counts lines (Debian's inih does not pass line numbers to
 * the handler), refuses overlong lines instead of letting inih split them,
 * and tells continuation lines apart so `steps` may span several lines.
 *
 * Called from main (one thread) before any other thread starts; no globals
 * are written.
 */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "logline.h"
#include "netaddr.h"

#define CONF_STEPS_TEXT_MAX 4096 /* a funnel spread over lines, joined */
#define CONF_STEPS_SEGS_MAX 64   /* lines one steps value may span */

struct conf_key;

/*
 * A setter checks value and stores it in c.  On error it fills d: line and
 * col are 1-based within the value (1, 1 unless it knows better) and msg
 * starts with the key's name.
 */
typedef int (*conf_setter)(struct nudge_config *c, const struct conf_key *k,
    const char *value, struct nudge_diag *d);

struct conf_key {
	const char *section;
	const char *name;
	conf_setter set;
	size_t off;    /* field in struct nudge_config */
	uint32_t min;  /* integers; durations in ms */
	uint32_t max;  /* same; string kinds: max length */
	uint32_t unit; /* durations: ms per bare number */
	int empty_ok;  /* strings: "" allowed */
};

static int conf_bad(struct nudge_diag *d, const struct conf_key *k,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fails with "<key>: <message>" at the start of the value. */
static int
conf_bad(struct nudge_diag *d, const struct conf_key *k, const char *fmt, ...)
{
	char msg[NUDGE_DIAG_MSG];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	nudge_diag_set(d, 1, 1, "%s: %s", k->name, msg);
	return NUDGE_ECONFIG;
}

static void *
conf_field(struct nudge_config *c, const struct conf_key *k)
{
	return (char *)c + k->off;
}

/* ASCII only: the locale (the console sets one) must not matter. */
static bool
conf_is_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9');
}

static bool
conf_has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* Host-name-like tokens: [A-Za-z0-9._-]{1,max}. */
static int
conf_set_ident(struct nudge_config *c, const struct conf_key *k, const char *v,
    struct nudge_diag *d)
{
	size_t n = strlen(v);

	if (n == 0 || n > k->max)
		return conf_bad(d, k, "expected 1 to %u characters, got %zu",
		    (unsigned)k->max, n);
	for (size_t i = 0; i < n; i++)
		if (!conf_is_alnum(v[i]) && strchr("._-", v[i]) == NULL)
			return conf_bad(d, k,
			    "'%.64s' has a character outside A-Z a-z 0-9 . _ "
			    "-",
			    v);
	memcpy(conf_field(c, k), v, n + 1);
	return NUDGE_OK;
}

static bool
conf_url_ok(const char *v)
{
	static const char *const schemes[] = {
	    "tcp://", "ipc://", "tls+tcp://", "inproc://"};

	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		size_t n = strlen(schemes[i]);
		if (strncmp(v, schemes[i], n) == 0)
			return v[n] != '\0' && strpbrk(v, " \t") == NULL &&
			       !conf_has_ctl(v);
	}
	return false;
}

static int
conf_set_url(struct nudge_config *c, const struct conf_key *k, const char *v,
    struct nudge_diag *d)
{
	size_t n = strlen(v);

	if (n == 0 && k->empty_ok) {
		*(char *)conf_field(c, k) = '\0';
		return NUDGE_OK;
	}
	if (n > CONF_URL_MAX)
		return conf_bad(
		    d, k, "URL longer than %d characters", CONF_URL_MAX);
	if (!conf_url_ok(v))
		return conf_bad(d, k,
		    "'%.64s' is not a tcp://, ipc://, tls+tcp:// or inproc:// "
		    "URL",
		    v);
	memcpy(conf_field(c, k), v, n + 1);
	return NUDGE_OK;
}

static int
conf_set_path(struct nudge_config *c, const struct conf_key *k, const char *v,
    struct nudge_diag *d)
{
	size_t n = strlen(v);

	if (n == 0)
		return conf_bad(d, k, "expected a file name");
	if (n > CONF_PATH_MAX)
		return conf_bad(
		    d, k, "path longer than %d characters", CONF_PATH_MAX);
	if (conf_has_ctl(v))
		return conf_bad(d, k, "control character in path");
	memcpy(conf_field(c, k), v, n + 1);
	return NUDGE_OK;
}

static int
conf_set_uint(struct nudge_config *c, const struct conf_key *k, const char *v,
    struct nudge_diag *d)
{
	unsigned long long x = 0;
	const char *p = v;

	for (; *p >= '0' && *p <= '9' && x <= UINT32_MAX; p++)
		x = x * 10 + (unsigned)(*p - '0');
	if (p == v || *p != '\0' || x < k->min || x > k->max)
		return conf_bad(d, k, "expected %u..%u, got '%.32s'",
		    (unsigned)k->min, (unsigned)k->max, v);
	*(unsigned *)conf_field(c, k) = (unsigned)x;
	return NUDGE_OK;
}

/* Writes ms the short way a user would ("30m", "250ms"). */
static const char *
conf_fmt_ms(char *buf, size_t cap, uint32_t ms)
{
	static const struct {
		uint32_t ms;
		const char *unit;
	} units[] = {
	    {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ms != 0 && ms % units[i].ms == 0) {
			snprintf(buf, cap, "%u%s",
			    (unsigned)(ms / units[i].ms), units[i].unit);
			return buf;
		}
	snprintf(buf, cap, "%ums", (unsigned)ms);
	return buf;
}

static int
conf_set_duration(struct nudge_config *c, const struct conf_key *k,
    const char *v, struct nudge_diag *d)
{
	char lo[16], hi[16], got[16];
	uint32_t ms = 0;
	int rc = conf_parse_duration(v, k->unit, &ms);

	if (rc == NUDGE_EINVAL)
		return conf_bad(d, k,
		    "'%.32s' is not a duration (a number with ms, s, m, h "
		    "or d)",
		    v);
	conf_fmt_ms(lo, sizeof(lo), k->min);
	conf_fmt_ms(hi, sizeof(hi), k->max);
	if (rc != NUDGE_OK)
		return conf_bad(
		    d, k, "expected %s..%s, got '%.32s'", lo, hi, v);
	if (ms < k->min || ms > k->max)
		return conf_bad(d, k, "expected %s..%s, got %s", lo, hi,
		    conf_fmt_ms(got, sizeof(got), ms));
	*(uint32_t *)conf_field(c, k) = ms;
	return NUDGE_OK;
}

static int
conf_set_level(struct nudge_config *c, const struct conf_key *k, const char *v,
    struct nudge_diag *d)
{
	int level = log_level_from_name(v);

	if (level < 0)
		return conf_bad(
		    d, k, "'%.32s' is not one of error, warn, info, debug", v);
	*(int *)conf_field(c, k) = level;
	return NUDGE_OK;
}

/* [console] reconcile: manual (the operator's r) or auto. */
static int
conf_set_reconcile(struct nudge_config *c, const struct conf_key *k,
    const char *v, struct nudge_diag *d)
{
	if (strcmp(v, "manual") != 0 && strcmp(v, "auto") != 0)
		return conf_bad(d, k, "'%.32s' is not one of manual, auto", v);
	*(int *)conf_field(c, k) = strcmp(v, "auto") == 0;
	return NUDGE_OK;
}

static int
conf_set_steps(struct nudge_config *c, const struct conf_key *k, const char *v,
    struct nudge_diag *d)
{
	struct funnel f;
	struct nudge_diag fd = {0};
	int rc;

	(void)k;
	rc = funnel_parse(&f, c->funnel.name, v, &fd);
	if (rc != NUDGE_OK) {
		/* funnel's position is within the value: keep it */
		nudge_diag_set(d, fd.line > 0 ? fd.line : 1,
		    fd.col > 0 ? fd.col : 1, "steps (col %d): %s", fd.col,
		    fd.msg);
		return NUDGE_ECONFIG;
	}
	c->funnel = f;
	return NUDGE_OK;
}

/* Repeatable: each value appends; an empty value clears the list. */
static int
conf_set_agent(struct nudge_config *c, const struct conf_key *k, const char *v,
    struct nudge_diag *d)
{
	struct conf_console *con = &c->console;
	size_t n = strlen(v);

	if (n == 0) {
		con->n_agents = 0;
		return NUDGE_OK;
	}
	if (n > CONF_URL_MAX)
		return conf_bad(
		    d, k, "URL longer than %d characters", CONF_URL_MAX);
	if (!conf_url_ok(v))
		return conf_bad(d, k,
		    "'%.64s' is not a tcp://, ipc://, tls+tcp:// or inproc:// "
		    "URL",
		    v);
	if (con->n_agents >= CONF_AGENTS_MAX)
		return conf_bad(d, k, "more than %d agents", CONF_AGENTS_MAX);
	memcpy(con->agents[con->n_agents++], v, n + 1);
	return NUDGE_OK;
}

/* [relay] upstream: repeatable like [console] agent; "" clears. */
static int
conf_set_upstream(struct nudge_config *c, const struct conf_key *k,
    const char *v, struct nudge_diag *d)
{
	struct conf_relay *r = &c->relay;
	size_t n = strlen(v);
	char pub[CONF_URL_MAX + 1];

	if (n == 0) {
		r->n_upstreams = 0;
		return NUDGE_OK;
	}
	if (n > CONF_URL_MAX)
		return conf_bad(
		    d, k, "longer than %d characters", CONF_URL_MAX);
	/* PUBURL[,CTLURL]: both halves must be nng URLs */
	snprintf(pub, sizeof(pub), "%.*s", (int)strcspn(v, ","), v);
	if (!conf_url_ok(pub) ||
	    (strchr(v, ',') != NULL && !conf_url_ok(strchr(v, ',') + 1)))
		return conf_bad(d, k,
		    "'%.64s' is not PUBURL[,CTLURL] of tcp://, ipc://, "
		    "tls+tcp:// or inproc:// URLs",
		    v);
	if (r->n_upstreams >= CONF_AGENTS_MAX)
		return conf_bad(
		    d, k, "more than %d upstreams", CONF_AGENTS_MAX);
	memcpy(r->upstreams[r->n_upstreams++], v, n + 1);
	return NUDGE_OK;
}

/* [agent] tail: repeatable like [console] agent; "" clears the list. */
static int
conf_set_tail(struct nudge_config *c, const struct conf_key *k, const char *v,
    struct nudge_diag *d)
{
	struct conf_agent *a = &c->agent;
	size_t n = strlen(v);

	if (n == 0) {
		a->n_tails = 0;
		return NUDGE_OK;
	}
	if (n > CONF_PATH_MAX)
		return conf_bad(
		    d, k, "path longer than %d characters", CONF_PATH_MAX);
	if (conf_has_ctl(v))
		return conf_bad(d, k, "control character in path");
	if (a->n_tails >= CONF_TAILS_MAX)
		return conf_bad(d, k, "more than %d files", CONF_TAILS_MAX);
	memcpy(a->tails[a->n_tails++], v, n + 1);
	return NUDGE_OK;
}

/* combined, common or an nginx log_format string, compiled to check it. */
static int
conf_set_log_format(struct nudge_config *c, const struct conf_key *k,
    const char *v, struct nudge_diag *d)
{
	struct logline_format f;
	struct nudge_diag fd = {0};
	size_t n = strlen(v);

	if (n > CONF_LOG_FORMAT_MAX)
		return conf_bad(d, k, "longer than %d characters",
		    CONF_LOG_FORMAT_MAX);
	if (logline_format_compile(&f, v, &fd) != NUDGE_OK)
		return conf_bad(d, k, "column %d: %s", fd.col, fd.msg);
	memcpy(c->agent.log_format, v, n + 1);
	return NUDGE_OK;
}

/* Printable ASCII without blanks; "" means "random, kept in the store". */
static int
conf_set_salt(struct nudge_config *c, const struct conf_key *k, const char *v,
    struct nudge_diag *d)
{
	size_t n = strlen(v);

	if (n > CONF_SALT_MAX)
		return conf_bad(d, k, "longer than %d characters",
		    CONF_SALT_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] <= ' ' || (unsigned char)v[i] >= 0x7f)
			return conf_bad(d, k, "printable ASCII without "
			    "blanks expected");
	memcpy(c->agent.log_salt, v, n + 1);
	return NUDGE_OK;
}

static int
conf_set_bool(struct nudge_config *c, const struct conf_key *k, const char *v,
    struct nudge_diag *d)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
			*(int *)conf_field(c, k) = strcmp(v, yes[i]) == 0;
			return NUDGE_OK;
		}
	}
	return conf_bad(d, k, "expected true or false, got '%.32s'", v);
}

/* ---- [http] ---------------------------------------------------------- */

/* Any text up to k->max without control characters; "" allowed. */
static int
conf_set_text(struct nudge_config *c, const struct conf_key *k, const char *v,
    struct nudge_diag *d)
{
	size_t n = strlen(v);

	if (n > k->max)
		return conf_bad(d, k, "longer than %u characters",
		    (unsigned)k->max);
	if (conf_has_ctl(v))
		return conf_bad(d, k, "control character in value");
	memcpy(conf_field(c, k), v, n + 1);
	return NUDGE_OK;
}

/* An HTTP header name: letters, digits and '-'; "" allowed. */
static int
conf_set_header(struct nudge_config *c, const struct conf_key *k,
    const char *v, struct nudge_diag *d)
{
	for (const char *p = v; *p != '\0'; p++)
		if (!conf_is_alnum(*p) && *p != '-')
			return conf_bad(d, k, "'%.64s' is not a header name",
			    v);
	return conf_set_text(c, k, v, d);
}

/* "host:port" or "[v6]:port"; "" disables the listener. */
static int
conf_set_listen(struct nudge_config *c, const struct conf_key *k,
    const char *v, struct nudge_diag *d)
{
	const char *colon = strrchr(v, ':');
	unsigned long port = 0;
	const char *p;

	if (v[0] == '\0')
		return conf_set_text(c, k, v, d);
	if (colon == NULL || colon == v || colon[1] == '\0' ||
	    strpbrk(v, " \t/") != NULL || (v[0] == '[' && colon[-1] != ']'))
		return conf_bad(d, k, "'%.64s': expected ADDRESS:PORT, e.g. "
		    "127.0.0.1:7480", v);
	for (p = colon + 1; *p >= '0' && *p <= '9' && port <= 65535; p++)
		port = port * 10 + (unsigned long)(*p - '0');
	if (*p != '\0' || port > 65535)
		return conf_bad(d, k, "port: expected 0..65535 in '%.64s'", v);
	return conf_set_text(c, k, v, d);
}

/* Origins: "https://shop.example[:port]" entries; never "*". */
static int
conf_set_origins(struct nudge_config *c, const struct conf_key *k,
    const char *v, struct nudge_diag *d)
{
	const char *p = v;

	while (*p != '\0') {
		size_t n;
		const char *host;
		p += strspn(p, ", \t");
		if ((n = strcspn(p, ", \t")) == 0)
			break;
		host = strncmp(p, "https://", 8) == 0 ? p + 8 :
		    strncmp(p, "http://", 7) == 0 ? p + 7 : NULL;
		if (memchr(p, '*', n) != NULL)
			return conf_bad(d, k, "'*' is not allowed: list the "
			    "shop's origins");
		if (host == NULL || host == p + n ||
		    memchr(host, '/', (size_t)(p + n - host)) != NULL)
			return conf_bad(d, k, "'%.*s' is not an origin like "
			    "https://shop.example", n > 64 ? 64 : (int)n, p);
		p += n;
	}
	return conf_set_text(c, k, v, d);
}

static int
conf_set_cidrs(struct nudge_config *c, const struct conf_key *k,
    const char *v, struct nudge_diag *d)
{
	struct net_cidrs l;
	struct nudge_diag nd = {0};

	if (net_cidrs_parse(&l, v, &nd) != NUDGE_OK)
		return conf_bad(d, k, "%s", nd.msg);
	return conf_set_text(c, k, v, d);
}

#define CA(f) offsetof(struct nudge_config, agent.f)
#define SEC 1000u
#define DAY (86400u * SEC)

static const struct conf_key conf_keys[] = {
    {"relay", "enabled", conf_set_bool,
        offsetof(struct nudge_config, relay.enabled), 0, 0, 0, 0},
    {"relay", "upstream", conf_set_upstream, 0, 0, 0, 0, 0},
    {"agent", "name", conf_set_ident, CA(name), 0, 63, 0, 0},
    {"agent", "pub", conf_set_url, CA(pub), 0, 0, 0, 0},
    {"agent", "control", conf_set_url, CA(control), 0, 0, 0, 0},
    {"agent", "ingest", conf_set_url, CA(ingest), 0, 0, 0, 0},
    {"agent", "push", conf_set_url, CA(push), 0, 0, 0, 0},
    {"agent", "advertise", conf_set_url, CA(advertise), 0, 0, 0, 1},
    {"agent", "db", conf_set_path, CA(db), 0, 0, 0, 0},
    {"agent", "shards", conf_set_uint, CA(shards), 1, 256, 0, 0},
    {"agent", "session_timeout", conf_set_duration, CA(session_timeout_ms),
        SEC, 7 * DAY, SEC, 0},
    {"agent", "snapshot_ms", conf_set_duration, CA(snapshot_ms), 100, 1000, 1,
        0},
    {"agent", "delta_ms", conf_set_duration, CA(delta_ms), 20, 1000, 1, 0},
    {"agent", "sample_sessions", conf_set_uint, CA(sample_sessions), 0, 1000,
        0, 0},
    {"agent", "sample_events", conf_set_uint, CA(sample_events), 0, 100000, 0,
        0},
    {"agent", "log_level", conf_set_level, CA(log_level), 0, 0, 0, 0},
    {"agent", "tail", conf_set_tail, 0, 0, 0, 0, 0},
    {"agent", "log_format", conf_set_log_format, 0, 0, 0, 0, 0},
    {"agent", "log_salt", conf_set_salt, 0, 0, 0, 0, 0},
    {"agent", "tail_from_start", conf_set_bool, CA(tail_from_start), 0, 0, 0,
        0},
    {"agent", "credentials", conf_set_text, CA(credentials), 0, CONF_PATH_MAX,
        0, 1},
    {"agent", "tls_cert", conf_set_text, CA(tls_cert), 0, CONF_PATH_MAX, 0,
        1},
    {"agent", "tls_key", conf_set_text, CA(tls_key), 0, CONF_PATH_MAX, 0, 1},
    {"agent", "tls_ca", conf_set_text, CA(tls_ca), 0, CONF_PATH_MAX, 0, 1},
    {"agent", "tls_verify_peer", conf_set_bool, CA(tls_verify_peer), 0, 0, 0,
        0},
    /* PRIVACY.md: at most 13 months of ids, 25 months of data */
    {"agent", "retention_ids_days", conf_set_uint, CA(retention_ids_days), 1,
        395, 0, 0},
    {"agent", "retention_data_days", conf_set_uint, CA(retention_data_days),
        1, 760, 0, 0},
    {"funnel", "name", conf_set_ident,
        offsetof(struct nudge_config, funnel.name), 0, FUNNEL_NAME_MAX, 0, 0},
    {"funnel", "steps", conf_set_steps, 0, 0, 0, 0, 0},
    {"console", "agent", conf_set_agent, 0, 0, 0, 0, 0},
    {"console", "refresh_ms", conf_set_duration,
        offsetof(struct nudge_config, console.refresh_ms), 100, 60 * SEC, 1,
        0},
#define CC(f) offsetof(struct nudge_config, console.f)
    {"console", "key", conf_set_text, CC(key), 0, CONF_PATH_MAX, 0, 1},
    {"console", "tls_ca", conf_set_text, CC(tls_ca), 0, CONF_PATH_MAX, 0, 1},
    {"console", "tls_cert", conf_set_text, CC(tls_cert), 0, CONF_PATH_MAX, 0,
        1},
    {"console", "tls_key", conf_set_text, CC(tls_key), 0, CONF_PATH_MAX, 0,
        1},
    {"console", "reconcile", conf_set_reconcile, CC(reconcile_auto), 0, 0, 0,
        0},
#define CH(f) offsetof(struct nudge_config, http.f)
    {"http", "listen", conf_set_listen, CH(listen), 0, CONF_URL_MAX, 0, 1},
    {"http", "origins", conf_set_origins, CH(origins), 0, CONF_LIST_MAX, 0,
        1},
    {"http", "trusted_proxies", conf_set_cidrs, CH(trusted_proxies), 0,
        CONF_LIST_MAX, 0, 1},
    {"http", "country_header", conf_set_header, CH(country_header), 0, 63, 0,
        1},
    {"http", "geoip_db", conf_set_text, CH(geoip_db), 0, CONF_PATH_MAX, 0,
        1},
    {"http", "datacenter_ranges", conf_set_text, CH(datacenter_ranges), 0,
        CONF_PATH_MAX, 0, 1},
    {"http", "tag_path", conf_set_text, CH(tag_path), 0, CONF_PATH_MAX, 0,
        1},
    {"http", "shop_dir", conf_set_text, CH(shop_dir), 0, CONF_PATH_MAX, 0,
        1},
    {"http", "test_decisions", conf_set_text, CH(test_decisions), 0,
        CONF_PATH_MAX, 0, 1},
    {"http", "rate_per_visitor", conf_set_uint, CH(rate_per_visitor), 0,
        1000000, 0, 0},
    {"http", "rate_per_address", conf_set_uint, CH(rate_per_address), 0,
        1000000, 0, 0},
    {"http", "rate_burst", conf_set_uint, CH(rate_burst), 1, 1000000, 0, 0},
    {"http", "tarpit_ms", conf_set_duration, CH(tarpit_ms), 0, 60000, 1, 0},
    {"http", "tarpit_after", conf_set_uint, CH(tarpit_after), 1, 1000000, 0,
        0},
    {"http", "bot_pageviews_per_s", conf_set_uint, CH(bot_pageviews_per_s),
        0, 1000, 0, 0},
    {"http", "max_body", conf_set_uint, CH(max_body), 256, 65536, 0, 0},
    {"http", "max_events", conf_set_uint, CH(max_events), 1, 100, 0, 0},
    {"http", "threads", conf_set_uint, CH(threads), 1, 64, 0, 0},
    {"http", "consent_required", conf_set_bool, CH(consent_required), 0, 0, 0,
        0},
};

#define CONF_NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

/* Finds a key; on failure says whether the section or the key is wrong. */
static const struct conf_key *
conf_find(const char *section, const char *key, struct nudge_diag *d)
{
	bool section_known = false;

	for (size_t i = 0; i < CONF_NKEYS; i++) {
		if (strcmp(conf_keys[i].section, section) != 0)
			continue;
		section_known = true;
		if (strcmp(conf_keys[i].name, key) == 0)
			return &conf_keys[i];
	}
	if (section[0] == '\0')
		nudge_diag_set(
		    d, 1, 1, "key '%.64s' outside any section", key);
	else if (!section_known)
		nudge_diag_set(d, 1, 1, "unknown section [%.64s]", section);
	else
		nudge_diag_set(
		    d, 1, 1, "unknown key '%.64s' in [%s]", key, section);
	return NULL;
}

int
conf_set(struct nudge_config *c, const char *section, const char *key,
    const char *value, struct nudge_diag *d)
{
	const struct conf_key *k;
	struct nudge_diag kd = {0};
	int rc;

	if (section == NULL || key == NULL || value == NULL) {
		nudge_diag_set(d, 0, 0, "missing section, key or value");
		return NUDGE_ECONFIG;
	}
	if ((k = conf_find(section, key, &kd)) == NULL) {
		nudge_diag_set(d, 0, 0, "%s", kd.msg);
		return NUDGE_ECONFIG;
	}
	if ((rc = k->set(c, k, value, &kd)) != NUDGE_OK)
		nudge_diag_set(d, 0, 0, "%s", kd.msg);
	return rc;
}

int
conf_parse_duration(const char *s, uint32_t unit_ms, uint32_t *out_ms)
{
	static const struct {
		const char *suffix;
		uint32_t ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000},
	    {"d", 86400000}, {"", 0}};
	uint64_t x = 0;
	const char *p = s;
	size_t i;

	if (s == NULL)
		return NUDGE_EINVAL;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((x = x * 10 + (uint64_t)(*p - '0')) > UINT32_MAX)
			x = (uint64_t)UINT32_MAX + 1; /* stays too big */
	if (p == s)
		return NUDGE_EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(p, units[i].suffix) == 0)
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		return NUDGE_EINVAL;
	x *= units[i].ms ? units[i].ms : unit_ms;
	if (x > UINT32_MAX)
		return NUDGE_ERANGE;
	*out_ms = (uint32_t)x;
	return NUDGE_OK;
}

/* ---- defaults ------------------------------------------------------- */

/* The host name with anything outside [A-Za-z0-9._-] turned into '-'. */
static void
conf_default_name(char *dst, size_t cap)
{
	char host[256] = "";

	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "nudged");
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p != '\0'; p++)
		if (!conf_is_alnum(*p) && strchr("._-", *p) == NULL)
			*p = '-';
	snprintf(dst, cap, "%.63s", host);
}

/* Where the sockets go: /run/nudge for root, else the user's runtime dir. */
static void
conf_runtime_dir(char *dst, size_t cap)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (getuid() == 0)
		snprintf(dst, cap, "/run/nudge");
	else if (xdg != NULL && xdg[0] == '/' && strlen(xdg) < 160)
		snprintf(dst, cap, "%s/nudge", xdg);
	else
		snprintf(dst, cap, "/tmp/nudge-%u", (unsigned)getuid());
}

static void
conf_default_db(char *dst, size_t cap)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (getuid() == 0) {
		snprintf(dst, cap, "/var/lib/nudge/nudged.db");
		return;
	}
	if ((home == NULL || home[0] != '/') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home != NULL && home[0] == '/' && strlen(home) < cap - 40)
		snprintf(dst, cap, "%s/.local/state/nudge/nudged.db", home);
	else
		snprintf(
		    dst, cap, "/tmp/nudge-%u/nudged.db", (unsigned)getuid());
}

void
conf_defaults(struct nudge_config *c)
{
	struct conf_agent *a = &c->agent;
	char run[200];

	memset(c, 0, sizeof(*c));
	conf_default_name(a->name, sizeof(a->name));
	conf_runtime_dir(run, sizeof(run));
	snprintf(a->pub, sizeof(a->pub), "tcp://127.0.0.1:7450");
	snprintf(a->control, sizeof(a->control), "ipc://%s/control.sock", run);
	snprintf(a->ingest, sizeof(a->ingest), "ipc://%s/ingest.sock", run);
	snprintf(a->push, sizeof(a->push), "ipc://%s/push.sock", run);
	conf_default_db(a->db, sizeof(a->db));
	a->shards = 8;
	a->session_timeout_ms = 30u * 60u * 1000u;
	a->snapshot_ms = 1000;
	a->delta_ms = 100;
	a->sample_sessions = 50;
	a->sample_events = 200;
	a->retention_ids_days = 395;
	a->retention_data_days = 760;
	a->log_level = LOG_LEVEL_INFO;
	snprintf(a->log_format, sizeof(a->log_format), "combined");
	funnel_default(&c->funnel);
	c->console.refresh_ms = 1000;
	snprintf(c->http.listen, sizeof(c->http.listen), "127.0.0.1:7480");
	c->http.rate_per_visitor = 20;
	c->http.rate_per_address = 200;
	c->http.rate_burst = 40;
	c->http.tarpit_ms = 1000;
	c->http.tarpit_after = 100;
	c->http.bot_pageviews_per_s = 4;
	c->http.max_body = 65536;
	c->http.max_events = 100;
	c->http.threads = 2;
}

/* ---- the INI file ---------------------------------------------------- */

/* Where lines come from: a FILE or a NUL-terminated string. */
struct conf_src {
	FILE *f;
	const char *s;
};

/* A steps value being collected over continuation lines. */
struct conf_steps {
	bool active;
	size_t len;
	int nseg;
	int seg_line[CONF_STEPS_SEGS_MAX];
	int seg_col[CONF_STEPS_SEGS_MAX];
	char text[CONF_STEPS_TEXT_MAX];
};

struct conf_ini {
	struct nudge_config *c;
	struct conf_src src;
	const char *buf;  /* the line buffer inih gave the reader */
	size_t buf_len;   /* its length before inih cut it up */
	int lineno;       /* lines handed to inih so far */
	bool prev_key;    /* inih's prev_name is set */
	bool cont;        /* this line continues the previous value */
	bool agents_seen; /* the file's first agent replaces the list */
	int err;
	struct nudge_diag diag; /* the first error */
	struct conf_steps steps;
};

static void
conf_ini_fail(struct conf_ini *st, int line, int col, const char *msg)
{
	if (st->err != NUDGE_OK && st->diag.line <= line)
		return;
	st->err = NUDGE_ECONFIG;
	nudge_diag_set(&st->diag, line, col, "%s", msg);
}

static int
conf_src_getc(struct conf_src *src)
{
	if (src->f != NULL)
		return getc(src->f);
	if (*src->s == '\0')
		return EOF;
	return (unsigned char)*src->s++;
}

/*
 * Mirrors inih's classification of the line just read, to know whether
 * inih will treat it as the continuation of the previous value.
 */
static void
conf_ini_classify(struct conf_ini *st, const char *line)
{
	const char *p = line;

	if (st->lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (isspace((unsigned char)*p))
		p++;
	st->cont = false;
	if (*p == '\0' || strchr(ini_start_comment_prefixes, *p) != NULL)
		return;
	if (ini_allow_multiline && st->prev_key && p > line) {
		st->cont = true;
		return;
	}
	st->prev_key = *p != '[';
}

/* inih's fgets-like reader: whole lines only, counted. */
static char *
conf_ini_reader(char *str, int num, void *arg)
{
	struct conf_ini *st = arg;
	int ch, n = 0;
	char msg[64];

	if (st->err != NUDGE_OK || num < 3)
		return NULL;
	while ((ch = conf_src_getc(&st->src)) != EOF) {
		if (ch == '\0') {
			conf_ini_fail(
			    st, st->lineno + 1, n + 1, "NUL byte in line");
			return NULL;
		}
		if (n == num - 2 && ch != '\n') {
			snprintf(msg, sizeof(msg),
			    "line longer than %d characters", num - 2);
			conf_ini_fail(st, st->lineno + 1, n + 1, msg);
			return NULL;
		}
		str[n++] = (char)ch;
		if (ch == '\n')
			break;
	}
	if (n == 0)
		return NULL;
	str[n] = '\0';
	st->buf = str;
	st->buf_len = (size_t)n;
	st->lineno++;
	conf_ini_classify(st, str);
	return str;
}

/* Column of value within the current line, when inih points into it. */
static int
conf_ini_col(const struct conf_ini *st, const char *value)
{
	if (st->buf != NULL && value >= st->buf &&
	    value < st->buf + st->buf_len)
		return (int)(value - st->buf) + 1;
	return 1;
}

static void
conf_steps_add(struct conf_ini *st, const char *value, int col)
{
	struct conf_steps *s = &st->steps;
	size_t n = strlen(value);

	if (s->nseg == CONF_STEPS_SEGS_MAX ||
	    s->len + n + 2 > sizeof(s->text)) {
		conf_ini_fail(st, st->lineno, col, "steps: value too long");
		s->active = false;
		return;
	}
	if (s->nseg > 0)
		s->text[s->len++] = '\n';
	memcpy(s->text + s->len, value, n + 1);
	s->len += n;
	s->seg_line[s->nseg] = st->lineno;
	s->seg_col[s->nseg] = col;
	s->nseg++;
}

/* Parses a collected steps value; errors point into the right line. */
static void
conf_steps_flush(struct conf_ini *st)
{
	struct conf_steps *s = &st->steps;
	const struct conf_key *k;
	struct nudge_diag d = {0};
	int seg;

	if (!s->active)
		return;
	s->active = false;
	k = conf_find("funnel", "steps", &d);
	if (k->set(st->c, k, s->text, &d) == NUDGE_OK)
		return;
	seg = d.line >= 1 && d.line <= s->nseg ? d.line - 1 : 0;
	conf_ini_fail(
	    st, s->seg_line[seg], s->seg_col[seg] + d.col - 1, d.msg);
}

static int
conf_ini_value(struct conf_ini *st, const char *section, const char *name,
    const char *value, int col)
{
	const struct conf_key *k;
	struct nudge_diag d = {0};

	if ((k = conf_find(section, name, &d)) == NULL) {
		conf_ini_fail(st, st->lineno, 1, d.msg);
		return 0;
	}
	if (k->set == conf_set_steps) {
		memset(&st->steps, 0, offsetof(struct conf_steps, text));
		st->steps.active = true;
		conf_steps_add(st, value, col);
		return st->err == NUDGE_OK;
	}
	if (k->set == conf_set_agent && !st->agents_seen) {
		st->agents_seen = true;
		st->c->console.n_agents = 0;
	}
	if (k->set(st->c, k, value, &d) != NUDGE_OK) {
		conf_ini_fail(st, st->lineno, col + d.col - 1, d.msg);
		return 0;
	}
	return 1;
}

/*
 * inih cuts " ; comment" off ordinary values but not off continuation
 * lines; do the same to those, by inih's rule (a prefix after a blank).
 */
static void
conf_strip_comment(char *v)
{
	size_t n;

	if (!ini_allow_inline_comments || ini_inline_comment_prefixes == NULL)
		return;
	for (char *p = v + 1; *p != '\0'; p++)
		if (strchr(ini_inline_comment_prefixes, *p) != NULL &&
		    isspace((unsigned char)p[-1])) {
			*p = '\0';
			break;
		}
	for (n = strlen(v); n > 0 && isspace((unsigned char)v[n - 1]); n--)
		v[n - 1] = '\0';
}

static int
conf_ini_handler(
    void *arg, const char *section, const char *name, const char *value)
{
	struct conf_ini *st = arg;
	int col = conf_ini_col(st, value);

	if (st->err != NUDGE_OK)
		return 0;
	if (st->cont) {
		if (st->steps.active) {
			char line[CONF_STEPS_TEXT_MAX];
			snprintf(line, sizeof(line), "%s", value);
			conf_strip_comment(line);
			conf_steps_add(st, line, col);
			return st->err == NUDGE_OK;
		}
		conf_ini_fail(st, st->lineno, col,
		    "unexpected indented line (only steps may continue on "
		    "the next line)");
		return 0;
	}
	conf_steps_flush(st);
	if (st->err != NUDGE_OK)
		return 0;
	return conf_ini_value(st, section, name, value, col);
}

/* Runs inih over src; the first error, wherever it came from, wins. */
static int
conf_ini_run(struct nudge_config *c, struct conf_src src, struct nudge_diag *d)
{
	struct conf_ini *st;
	int rc, line;

	/* the steps buffer makes this too big for a small thread stack */
	if ((st = calloc(1, sizeof(*st))) == NULL) {
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	st->c = c;
	st->src = src;
	line = ini_parse_stream(conf_ini_reader, st, conf_ini_handler, st);
	if (line == -2) {
		free(st);
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	conf_steps_flush(st);
	if (line > 0 && (st->err == NUDGE_OK || line < st->diag.line))
		conf_ini_fail(st, line, 1,
		    "syntax error: expected 'key = value' or '[section]'");
	rc = st->err;
	if (rc != NUDGE_OK && d != NULL)
		*d = st->diag;
	free(st);
	return rc;
}

int
conf_load(struct nudge_config *c, const char *path, struct nudge_diag *d)
{
	struct conf_src src = {0};
	int rc;

	if ((src.f = fopen(path, "r")) == NULL) {
		nudge_diag_set(
		    d, 0, 0, "cannot open %s: %s", path, strerror(errno));
		return NUDGE_EIO;
	}
	snprintf(c->path, sizeof(c->path), "%s", path);
	rc = conf_ini_run(c, src, d);
	if (rc == NUDGE_OK && ferror(src.f)) {
		nudge_diag_set(d, 0, 0, "cannot read %s", path);
		rc = NUDGE_EIO;
	}
	fclose(src.f);
	return rc;
}

int
conf_load_string(struct nudge_config *c, const char *name, const char *text,
    struct nudge_diag *d)
{
	struct conf_src src = {.s = text ? text : ""};

	(void)name;
	return conf_ini_run(c, src, d);
}

/* ---- environment ----------------------------------------------------- */

/* NUDGE_CONSOLE_AGENT holds a list: commas or blanks between URLs. */
static int
conf_env_agents(
    struct nudge_config *c, const char *value, struct nudge_diag *d)
{
	char url[CONF_URL_MAX + 2];
	const char *p = value;

	c->console.n_agents = 0;
	while (*p != '\0') {
		size_t n = strcspn(p, ", \t");
		if (n > 0) {
			snprintf(url, sizeof(url), "%.*s",
			    n > CONF_URL_MAX ? CONF_URL_MAX + 1 : (int)n, p);
			if (conf_set(c, "console", "agent", url, d) != 0)
				return NUDGE_ECONFIG;
		}
		p += n;
		p += strspn(p, ", \t");
	}
	return NUDGE_OK;
}

int
conf_apply_env(struct nudge_config *c, struct nudge_diag *d)
{
	char var[64];
	struct nudge_diag kd = {0};
	size_t n;
	int rc;

	for (size_t i = 0; i < CONF_NKEYS; i++) {
		const struct conf_key *k = &conf_keys[i];
		const char *value;

		snprintf(var, sizeof(var), "NUDGE_%s_%s", k->section, k->name);
		for (n = 0; var[n] != '\0'; n++)
			var[n] = (char)toupper((unsigned char)var[n]);
		if ((value = getenv(var)) == NULL)
			continue;
		if (k->set == conf_set_agent)
			rc = conf_env_agents(c, value, &kd);
		else
			rc = conf_set(c, k->section, k->name, value, &kd);
		if (rc != NUDGE_OK) {
			nudge_diag_set(d, 0, 0, "%s: %s", var, kd.msg);
			return NUDGE_ECONFIG;
		}
	}
	return NUDGE_OK;
}
