/*
 * main.c - nudged: the per-web-server agent.
 *
 * Reads the configuration (defaults < file < environment < flags), builds
 * the shared state, starts the archiver and publisher threads and the
 * control, ingest and push sockets, then waits for signals on the main
 * thread: SIGTERM/SIGINT stop gracefully (sockets closed, a last snapshot
 * published, counters and live sessions saved), SIGHUP re-reads the
 * configuration file for what can change live (log level).  Under systemd
 * (Type=notify) it reports READY=1 once every socket listens, RELOADING=1
 * then READY=1 around a SIGHUP, and STOPPING=1 when a stop begins.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "agent.h"
#include "archive.h"
#include "clock.h"
#include "command.h"
#include "http.h"
#include "ingest.h"
#include "lguard.h"
#include "log.h"
#include "publish.h"
#include "reaper.h"
#include "relay.h"
#include "rep.h"
#include "tail.h"
#include "tlsconf.h"

/* The file read when no --config is given (and it exists). */
#ifndef NUDGE_SYSCONFDIR
#define NUDGE_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG NUDGE_SYSCONFDIR "/nudge/nudged.conf"

#define FLAGS_MAX 64

/* key: "section.key", or a bare [agent] key; flag: as typed, for errors */
struct flag_set {
	const char *key[FLAGS_MAX];
	const char *value[FLAGS_MAX];
	const char *flag[FLAGS_MAX];
	int n;
};

struct options {
	const char *config;
	bool check_config;
	int verbosity;
	struct flag_set flags;
};

static const char *const ingest_offers[] = {"ping", "emit", NULL};

static void
usage(FILE *out)
{
	fputs("usage: nudged [options]\n"
	      "  -c, --config FILE       configuration file (INI); default:\n"
	      "                          " DEFAULT_CONFIG ", if it exists\n"
	      "      --name NAME         agent name shown in consoles\n"
	      "      --pub URL           publish aggregates here (PUB)\n"
	      "      --control URL       control requests (REP)\n"
	      "      --ingest URL        acknowledged `nudge emit` (REP)\n"
	      "      --push URL          fire-and-forget events (PULL)\n"
	      "      --advertise URL     control URL told to consoles\n"
	      "      --db PATH           SQLite database file\n"
	      "      --shards N          session table shards (1-256)\n"
	      "      --session-timeout D inactivity closing a session "
	      "(30m)\n"
	      "      --snapshot-ms MS    snapshot period\n"
	      "      --delta-ms MS       delta period\n"
	      "      --funnel STEPS      funnel, e.g. 'visit -> event == "
	      "\"purchase\"'\n"
	      "      --tail FILE         follow an access log (repeatable;"
	      " replaces [agent] tail)\n"
	      "      --tail-from-start   read tailed files from their start\n"
	      "      --log-format F      combined, common or an nginx "
	      "log_format\n"
	      "      --log-salt S        salt of the log visitor hash\n"
	      "      --credentials FILE  keys allowed on the control path\n"
	      "      --tls-cert FILE     certificate for tls+tcp:// (PEM)\n"
	      "      --tls-key FILE      its private key (owner-only)\n"
	      "      --tls-ca FILE       CA of client certificates\n"
	      "      --http ADDR:PORT    beacon endpoint and tag ([http] "
	      "listen; '' off)\n"
	      "      --relay             follow agents and republish them "
	      "merged\n"
	      "      --upstream URL      agent or relay to follow (PUB[,CTL]; "
	      "repeatable)\n"
	      "      --check-config      validate the configuration, exit\n"
	      "  -v, --verbose           more log output (repeatable)\n"
	      "  -q, --quiet             errors only\n"
	      "  -V, --version           print the version\n"
	      "  -h, --help              this help\n"
	      "Environment: NUDGE_AGENT_<KEY> (e.g. NUDGE_AGENT_SHARDS=4).\n"
	      "Exit status: 0 clean stop, 1 runtime failure, 2 usage,\n"
	      "78 configuration error.\n",
	    out);
}

static const struct option long_opts[] = {
	{"config", required_argument, NULL, 'c'},
	{"name", required_argument, NULL, 1},
	{"pub", required_argument, NULL, 1},
	{"control", required_argument, NULL, 1},
	{"ingest", required_argument, NULL, 1},
	{"push", required_argument, NULL, 1},
	{"advertise", required_argument, NULL, 1},
	{"db", required_argument, NULL, 1},
	{"shards", required_argument, NULL, 1},
	{"session-timeout", required_argument, NULL, 1},
	{"snapshot-ms", required_argument, NULL, 1},
	{"delta-ms", required_argument, NULL, 1},
	{"funnel", required_argument, NULL, 2},
	{"tail", required_argument, NULL, 1},
	{"log-format", required_argument, NULL, 1},
	{"log-salt", required_argument, NULL, 1},
	{"credentials", required_argument, NULL, 1},
	{"tls-cert", required_argument, NULL, 1},
	{"tls-key", required_argument, NULL, 1},
	{"tls-ca", required_argument, NULL, 1},
	{"tail-from-start", no_argument, NULL, 4},
	{"relay", no_argument, NULL, 5},
	{"upstream", required_argument, NULL, 6},
	{"http", required_argument, NULL, 7},
	{"check-config", no_argument, NULL, 3},
	{"verbose", no_argument, NULL, 'v'},
	{"quiet", no_argument, NULL, 'q'},
	{"version", no_argument, NULL, 'V'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* "session-timeout" -> "session_timeout", the INI key. */
static const char *
flag_key(const char *name)
{
	static char keys[FLAGS_MAX][32];
	static int next;
	char *k = keys[next++ % FLAGS_MAX];

	snprintf(k, 32, "%s", name);
	for (char *p = k; *p; p++)
		if (*p == '-')
			*p = '_';
	return k;
}

/* The config key a flag sets (see struct flag_set); c: its getopt code. */
static const char *
flag_to_key(int c, const char *name)
{
	switch (c) {
	case 2: return "funnel.steps";
	case 4: return "tail_from_start";
	case 5: return "relay.enabled";
	case 6: return "relay.upstream";
	case 7: return "http.listen";
	default: return flag_key(name);
	}
}

static int
parse_args(int argc, char **argv, struct options *o)
{
	int c, idx;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "c:vqVh", long_opts, &idx)) != -1) {
		switch (c) {
		case 'c': o->config = optarg; break;
		case 'v': o->verbosity++; break;
		case 'q': o->verbosity = -1; break;
		case 'V': printf("nudged %s\n", NUDGE_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		case 3: o->check_config = true; break;
		case 1:
		case 2:
		case 4:
		case 5:
		case 6:
		case 7:
			if (o->flags.n == FLAGS_MAX)
				return -1;
			o->flags.flag[o->flags.n] = long_opts[idx].name;
			o->flags.key[o->flags.n] = flag_to_key(c,
			    long_opts[idx].name);
			o->flags.value[o->flags.n++] =
			    c == 4 || c == 5 ? "true" : optarg;
			break;
		default: return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "nudged: unexpected argument '%s'\n",
		    argv[optind]);
		return -1;
	}
	return 0;
}

/*
 * Under systemd, RuntimeDirectory= and StateDirectory= name the service's
 * directories ($RUNTIME_DIRECTORY, $STATE_DIRECTORY): they replace the
 * built-in default socket and database paths (which depend on the user).
 * This is a layer of defaults: the file, environment and flags still win.
 */
static void
systemd_defaults(struct nudge_config *cfg)
{
	const char *run = getenv("RUNTIME_DIRECTORY");
	const char *state = getenv("STATE_DIRECTORY");
	static const char *const socks[] = {"control", "ingest", "push"};
	struct nudge_diag d = {0};
	char v[256];

	/* a list (several directories, ':'-separated) keeps the defaults */
	if (run != NULL && run[0] == '/' && strchr(run, ':') == NULL &&
	    strlen(run) < 200)
		for (int i = 0; i < 3; i++) {
			snprintf(v, sizeof(v), "ipc://%s/%s.sock", run,
			    socks[i]);
			conf_set(cfg, "agent", socks[i], v, &d);
		}
	if (state != NULL && state[0] == '/' && strchr(state, ':') == NULL &&
	    strlen(state) < 200) {
		snprintf(v, sizeof(v), "%s/nudged.db", state);
		conf_set(cfg, "agent", "db", v, &d);
	}
}

static int
load_config(struct nudge_config *cfg, const struct options *o)
{
	struct nudge_diag d = {0};
	int rv = 0;

	conf_defaults(cfg);
	systemd_defaults(cfg);
	if (o->config != NULL && (rv = conf_load(cfg, o->config, &d)) != 0) {
		if (d.line > 0)
			fprintf(stderr, "%s:%d: %s\n", o->config, d.line, d.msg);
		else
			fprintf(stderr, "%s: %s\n", o->config, d.msg);
		return rv;
	}
	if ((rv = conf_apply_env(cfg, &d)) != 0) {
		fprintf(stderr, "nudged: environment: %s\n", d.msg);
		return rv;
	}
	/* --tail flags replace the file's list rather than add to it */
	for (int i = 0; i < o->flags.n; i++)
		if (strcmp(o->flags.key[i], "tail") == 0) {
			conf_set(cfg, "agent", "tail", "", &d);
			break;
		}
	for (int i = 0; i < o->flags.n; i++)
		if (strcmp(o->flags.key[i], "relay.upstream") == 0) {
			conf_set(cfg, "relay", "upstream", "", &d);
			break;
		}
	for (int i = 0; i < o->flags.n; i++) {
		const char *k = o->flags.key[i], *dot = strchr(k, '.');
		char section[16] = "agent";
		if (dot != NULL)
			snprintf(section, sizeof(section), "%.*s",
			    (int)(dot - k), k);
		rv = conf_set(cfg, section, dot ? dot + 1 : k,
		    o->flags.value[i], &d);
		if (rv != 0) {
			fprintf(stderr, "nudged: --%s: %s\n", o->flags.flag[i],
			    d.msg);
			return rv;
		}
	}
	if (o->verbosity < 0)
		cfg->agent.log_level = LOG_LEVEL_ERROR;
	else if (o->verbosity > 0)
		cfg->agent.log_level = o->verbosity > 1 ? LOG_LEVEL_DEBUG :
		    LOG_LEVEL_INFO + 1;
	return 0;
}

struct sockets {
	struct rep_server *control;
	struct rep_server *ingest;
	struct ingest_pull *pull;
	struct http_server *http;
	struct cmd_endpoint control_ep;
	struct cmd_endpoint ingest_ep;
};

static int
sockets_start(struct sockets *s, struct agent *a, struct nudge_diag *d)
{
	const struct conf_agent *c = &a->cfg->agent;
	size_t max = wire_limits_default.max_bytes;
	int rv;

	s->control_ep = (struct cmd_endpoint){a, "control", NULL};
	s->ingest_ep = (struct cmd_endpoint){a, "ingest", ingest_offers};
	rv = rep_start(&s->control, c->control, 2, max, cmd_handle,
	    &s->control_ep, d);
	if (rv == 0 && c->ingest[0])
		rv = rep_start(&s->ingest, c->ingest, 4, max, cmd_handle,
		    &s->ingest_ep, d);
	if (rv == 0 && c->push[0])
		rv = ingest_pull_start(&s->pull, a, c->push, d);
	if (rv == 0)
		rv = http_start(&s->http, a, d);
	return rv;
}

static void
sockets_stop(struct sockets *s)
{
	http_stop(s->http);
	ingest_pull_stop(s->pull);
	rep_stop(s->ingest);
	rep_stop(s->control);
}

/* Waits for a stopping signal; SIGHUP re-reads what may change live. */
/* SIGHUP: the credentials file is read again; errors keep the old keys. */
static void
reload_credentials(struct access *ax, const struct nudge_config *fresh)
{
	struct nudge_diag d = {0};

	if (access_reload(ax, fresh->agent.credentials, &d) != 0)
		log_error("credentials not re-read: %s", d.msg);
	else if (access_enabled(ax))
		log_info("credentials re-read from %s",
		    fresh->agent.credentials);
}

/* SIGHUP: [http] datacenter_ranges is read again; errors keep the old. */
static void
reload_ranges(struct http_server *http, const struct nudge_config *fresh)
{
	struct nudge_diag d = {0};

	if (http_reload_ranges(http, fresh->http.datacenter_ranges, &d) != 0)
		log_error("datacenter ranges not re-read: %s", d.msg);
}

static void
wait_for_stop(const sigset_t *set, const struct options *o,
    struct access *ax, struct http_server *http)
{
	for (;;) {
		int sig;
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig != SIGHUP) {
			log_info("stopping on signal %d", sig);
			sd_notify(0, "STOPPING=1");
			return;
		}
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
		    (unsigned long long)now.tv_sec * 1000000ull +
		    (unsigned long long)now.tv_nsec / 1000u);
		struct nudge_config fresh;
		if (load_config(&fresh, o) == 0) {
			log_set_level(fresh.agent.log_level);
			reload_credentials(ax, &fresh);
			reload_ranges(http, &fresh);
			log_info("configuration re-read (log level; other "
			    "changes take effect at restart)");
		} else {
			log_error("configuration not re-read: it has errors");
		}
		sd_notify(0, "READY=1");
	}
}

/*
 * Debian's nng 1.5.2 can deadlock in nng_close (#1543).  Everything is
 * saved before any socket is closed, so if closing hangs past the grace
 * period this exits anyway, losing nothing.
 */
#define STOP_GRACE_S 5

static void *
stop_watchdog(void *arg)
{
	(void)arg;
	sleep(STOP_GRACE_S);
	log_error("closing sockets did not finish within %d s (nng "
	    "deadlock); everything was saved, exiting", STOP_GRACE_S);
	_exit(0);
	return NULL;
}

struct running {
	struct agent a;
	struct archiver *ar;
	struct publisher *pub;
	struct sockets socks;
	struct tail_set *tails;
};

/* Refuse new events, save everything, then close the sockets. */
static void
stop_all(struct running *r)
{
	pthread_t dog;

	atomic_store(&r->a.stopping, true);
	tail_stop(r->tails);
	archive_stop(r->ar);
	agent_save(&r->a);
	if (pthread_create(&dog, NULL, stop_watchdog, NULL) == 0)
		pthread_detach(dog);
	lguard_stop();
	sockets_stop(&r->socks);
	publish_stop(r->pub);
	access_free(r->a.access);
	r->a.access = NULL;
	agent_fini(&r->a);
}

/*
 * Before anything listens: no remote socket without credentials, TLS
 * files usable (a bad key file stops the start with its path).
 */
static int
access_policy(const struct nudge_config *cfg, struct nudge_diag *d)
{
	const struct conf_agent *c = &cfg->agent;

	if (access_check_listeners(c, d) != 0)
		return NUDGE_ECONFIG;
	return tlsconf_server(c->tls_cert, c->tls_key, c->tls_ca,
	    c->tls_verify_peer != 0, d);
}

static int
run(const struct nudge_config *cfg, const struct options *o)
{
	static struct running r;
	struct nudge_diag d = {0};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (access_policy(cfg, &d) != 0) {
		log_error("%s", d.msg);
		return 78;
	}
	if (agent_init(&r.a, cfg, &d) != 0) {
		log_error("%s", d.msg);
		return 1;
	}
	if (access_new(&r.a.access, &cfg->agent, r.a.store, clock_wall_ms(),
	    &d) != 0) {
		log_error("%s", d.msg);
		agent_fini(&r.a);
		return 78;
	}
	if (archive_start(&r.ar, &r.a, &d) != 0 ||
	    publish_start(&r.pub, &r.a, &d) != 0 ||
	    sockets_start(&r.socks, &r.a, &d) != 0 ||
	    tail_start(&r.tails, &r.a, &d) != 0) {
		log_error("%s", d.msg);
		stop_all(&r);
		return 1;
	}
	log_info("ready: agent %s, pub %s, control %s, ingest %s, push %s",
	    cfg->agent.name, cfg->agent.pub, cfg->agent.control,
	    cfg->agent.ingest, cfg->agent.push);
	/* every socket listens now: tell systemd (Type=notify), if it asked */
	sd_notify(0, "READY=1\nSTATUS=running");
	wait_for_stop(&set, o, r.a.access, r.socks.http);
	stop_all(&r);
	log_info("stopped");
	return 0;
}

static volatile sig_atomic_t relay_stop;

static void
relay_on_signal(int sig)
{
	(void)sig;
	relay_stop = 1;
}

/* --relay: no store, no ingest; SIGTERM/SIGINT stop it (relay.h). */
static int
run_relay(const struct nudge_config *cfg)
{
	struct sigaction sa = {0};
	struct nudge_diag d = {0};
	int rv;

	sa.sa_handler = relay_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	if (tlsconf_server(cfg->agent.tls_cert, cfg->agent.tls_key,
	    cfg->agent.tls_ca, cfg->agent.tls_verify_peer != 0, &d) != 0) {
		log_error("%s", d.msg);
		return 78;
	}
	sd_notify(0, "READY=1\nSTATUS=relaying");
	rv = relay_run(cfg, &relay_stop, &d);
	if (rv != 0)
		log_error("%s", d.msg);
	rv = rv == 0 ? 0 : rv == NUDGE_ECONFIG ? 78 : 1;
	/*
	 * A link's socket closed while its dial retried can hang in nng 1.5.2
	 * (reaper.h), and nng's exit-time teardown would then wait for it
	 * forever: the relay holds nothing to flush, so leave at once.
	 */
	for (int i = 0; i < 50 && reaper_pending() > 0; i++)
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	if (reaper_pending() > 0) {
		log_warn("relay: an nng close is stuck; exiting without it");
		fflush(NULL);
		_exit(rv);
	}
	return rv;
}

int
main(int argc, char **argv)
{
	static struct nudge_config cfg;
	struct options o;

	log_init("nudged", LOG_LEVEL_INFO);
	if (parse_args(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	if (o.config == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		o.config = DEFAULT_CONFIG;
	if (load_config(&cfg, &o) != 0)
		return 78;
	log_set_level(cfg.agent.log_level);
	if (o.check_config) {
		printf("%s: configuration ok\n", o.config ? o.config :
		    "(defaults)");
		return 0;
	}
	if (cfg.relay.enabled)
		return run_relay(&cfg);
	return run(&cfg, &o);
}
