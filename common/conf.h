/*
 * conf.h - nudge's configuration: one INI file (parsed with inih), then
 * environment, then command-line flags, each overriding the one before.
 *
 * Sections and keys (every key is documented in packaging/nudged.conf):
 *
 *	[agent]   name, pub, control, ingest, push, advertise, db, shards,
 *	          session_timeout, snapshot_ms, delta_ms, sample_sessions,
 *	          sample_events, log_level, tail (repeatable), log_format,
 *	          log_salt, tail_from_start, credentials, tls_cert, tls_key,
 *	          tls_ca, tls_verify_peer, retention_ids_days,
 *	          retention_data_days
 *	[funnel]  name, steps
 *	[console] agent (repeatable), refresh_ms, key, tls_ca, tls_cert,
 *	          tls_key, reconcile
 *	[relay]   enabled, upstream (repeatable; agent/relay.h)
 *	[http]    listen, origins, trusted_proxies, country_header, geoip_db,
 *	          rate_per_visitor, rate_per_address, rate_burst, tarpit_ms,
 *	          tarpit_after, max_body, max_events, consent_required,
 *	          tag_path, shop_dir, threads,
 *	          bot_pageviews_per_s, datacenter_ranges, test_decisions
 *	          (agent/http.h)
 *
 * Durations accept a unit: "30m", "90s", "250ms", "2h" (bare numbers are in
 * the key's own unit).  A bad key or value is an error with file:line, never
 * silently ignored.  The struct is plain data: copy it, pass it as const.
 */
#ifndef NUDGE_CONF_H
#define NUDGE_CONF_H

#include <stdint.h>

#include "err.h"
#include "funnel.h"

#define CONF_URL_MAX 255
#define CONF_PATH_MAX 511
#define CONF_AGENTS_MAX 256
#define CONF_TAILS_MAX 16
#define CONF_LOG_FORMAT_MAX 1023
#define CONF_SALT_MAX 127

struct conf_agent {
	char name[64];		/* default: the host name */
	char pub[CONF_URL_MAX + 1];	/* PUB listen URL */
	char control[CONF_URL_MAX + 1];	/* control REP listen URL */
	char ingest[CONF_URL_MAX + 1];	/* acknowledged emit REP listen URL */
	char push[CONF_URL_MAX + 1];	/* fire-and-forget PULL listen URL */
	char advertise[CONF_URL_MAX + 1]; /* control URL told to consoles */
	char db[CONF_PATH_MAX + 1];	/* SQLite file */
	unsigned shards;		/* session table shards, 1..256 */
	uint32_t session_timeout_ms;	/* inactivity closing a session */
	uint32_t snapshot_ms;		/* snapshot period, 100..1000 */
	uint32_t delta_ms;		/* delta period, 20..1000 */
	unsigned sample_sessions;	/* sessions per SESSION message */
	unsigned sample_events;		/* events per second on EVENT */
	int log_level;			/* enum log_level */
	/* access logs (agent/tail.h): tail is repeatable, "" clears */
	unsigned n_tails;
	char tails[CONF_TAILS_MAX][CONF_PATH_MAX + 1];
	char log_format[CONF_LOG_FORMAT_MAX + 1]; /* combined|common|nginx */
	char log_salt[CONF_SALT_MAX + 1]; /* "" = random, kept in the store */
	int tail_from_start;		/* 1: read files from their start */
	/* access (common/auth.h, common/tlsconf.h): "" = not set */
	char credentials[CONF_PATH_MAX + 1]; /* key file; "" = local only */
	char tls_cert[CONF_PATH_MAX + 1];	/* PEM, for tls+tcp:// */
	char tls_key[CONF_PATH_MAX + 1];	/* PEM, owner-only */
	char tls_ca[CONF_PATH_MAX + 1];	/* CA of client certificates */
	int tls_verify_peer;		/* 1: mutual TLS */
	/* retention (PRIVACY.md): visitor ids, per-visitor data, in days */
	unsigned retention_ids_days;	/* 1..395 (13 months), default 395 */
	unsigned retention_data_days;	/* 1..760 (25 months), default 760 */
};

struct conf_console {
	unsigned n_agents;
	char agents[CONF_AGENTS_MAX][CONF_URL_MAX + 1];
	uint32_t refresh_ms;
	char key[CONF_PATH_MAX + 1];	/* client key file; "" = unsigned */
	char tls_ca[CONF_PATH_MAX + 1];	/* CA of the agents' certificates */
	char tls_cert[CONF_PATH_MAX + 1];	/* ours, for mutual TLS */
	char tls_key[CONF_PATH_MAX + 1];
	int reconcile_auto;		/* 1: push drift fixes (reconcile.h) */
};

#define CONF_LIST_MAX 1023

/* [http]: the beacon endpoint and the tag (agent/http.h). */
struct conf_http {
	char listen[CONF_URL_MAX + 1];	/* "127.0.0.1:7480"; "" disables */
	char origins[CONF_LIST_MAX + 1];	/* extra CORS origins */
	char trusted_proxies[CONF_LIST_MAX + 1]; /* CIDR list */
	char country_header[64];	/* e.g. X-Country-Code; "" none */
	char geoip_db[CONF_PATH_MAX + 1];	/* MMDB file; "" none */
	char datacenter_ranges[CONF_PATH_MAX + 1]; /* CIDR file; "" none */
	char tag_path[CONF_PATH_MAX + 1];	/* overrides the built-in tag */
	char shop_dir[CONF_PATH_MAX + 1];	/* served under /shop/ */
	char test_decisions[CONF_PATH_MAX + 1]; /* testing aid */
	unsigned rate_per_visitor;	/* beacons/s per visitor, 0 = off */
	unsigned rate_per_address;	/* beacons/s per client address */
	unsigned rate_burst;		/* per-visitor bucket size */
	uint32_t tarpit_ms;		/* 429s held this long; 0 = never */
	unsigned tarpit_after;		/* ... once a client had this many */
	unsigned bot_pageviews_per_s;	/* faster, sustained: a bot; 0 off */
	unsigned max_body;		/* bytes */
	unsigned max_events;		/* events per beacon */
	unsigned threads;		/* HTTP worker threads */
	int consent_required;		/* beacons without consent: audience */
};

/*
 * [relay]: nudged --relay follows these agents (or relays) and publishes
 * their merged aggregates under [agent] name on [agent] pub (agent/relay.h).
 * An upstream is "PUBURL" or "PUBURL,CTLURL" like [console] agent.
 */
struct conf_relay {
	int enabled;			/* 1: run as a relay, not an agent */
	unsigned n_upstreams;
	char upstreams[CONF_AGENTS_MAX][CONF_URL_MAX + 1];
};

struct nudge_config {
	char path[CONF_PATH_MAX + 1];	/* file it was loaded from, or "" */
	struct conf_agent agent;
	struct conf_relay relay;
	struct funnel funnel;
	struct conf_console console;
	struct conf_http http;
};

/*
 * Defaults: pub tcp://127.0.0.1:7450, control ipc:///run/nudge/control.sock
 * (or $XDG_RUNTIME_DIR/nudge/... when not root), ingest .../ingest.sock,
 * push .../push.sock, db /var/lib/nudge/nudged.db, 8 shards, 30 min
 * timeout, snapshot 1000 ms, delta 100 ms, funnel_default().
 */
void conf_defaults(struct nudge_config *c);

/*
 * Reads an INI file over c.  Returns 0, NUDGE_EIO (cannot open: d->msg says
 * why, line 0) or NUDGE_ECONFIG with d->line and d->msg ("unknown key
 * 'x' in [agent]", "shards: expected 1..256").  On error c may be partly
 * updated; callers treat the whole load as failed.
 */
int conf_load(struct nudge_config *c, const char *path, struct nudge_diag *d);

/*
 * Same as conf_load, reading INI text from a NUL-terminated string (tests,
 * fuzzing, text received over a socket).  name is for the caller's
 * messages only; c->path is left alone.  Lines are limited to inih's 198
 * characters; `steps` may continue on indented lines.
 */
int conf_load_string(struct nudge_config *c, const char *name,
    const char *text, struct nudge_diag *d);

/*
 * Sets one key, as the file would; used for flags and the environment.
 * Returns 0 or NUDGE_ECONFIG with d->msg (d->line 0).  [console] agent is
 * repeatable: each call appends, an empty value clears the list (a caller
 * layering --agent flags over the file clears first).
 */
int conf_set(struct nudge_config *c, const char *section, const char *key,
    const char *value, struct nudge_diag *d);

/*
 * Applies NUDGE_<SECTION>_<KEY> variables (e.g. NUDGE_AGENT_SHARDS=4).
 * NUDGE_CONSOLE_AGENT is a list (commas or blanks) that replaces the file's.
 * Returns 0 or NUDGE_ECONFIG naming the variable in d->msg.
 */
int conf_apply_env(struct nudge_config *c, struct nudge_diag *d);

/* Parses "30m"-style durations into ms; unit_ms for bare numbers. */
int conf_parse_duration(const char *s, uint32_t unit_ms, uint32_t *out_ms);

#endif
