/*
 * access.c - request authentication, listener policy and the rate-limited
 * audit of refusals (rules in access.h).
 *
 * Owns the key set in use (swapped whole on SIGHUP under the write lock),
 * the nonce set and the audit counters (under mu).  access_check and
 * access_refused run on nng worker threads; access_reload and access_tick
 * on the main thread; a ticker thread of its own writes flood summaries.
 * Audit rows are written after every lock is
 * released: a store write (synchronous=FULL) must not stall other
 * workers' checks.
 */
#include "access.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "tlsconf.h"

struct access {
	pthread_rwlock_t keys_lock;
	struct auth_keys *keys;		/* NULL: no credentials */
	pthread_mutex_t mu;
	struct auth_seen *seen;
	struct store *store;
	uint64_t boot_wall_ms;
	uint64_t audit_sec;		/* wall second being counted */
	unsigned audit_rows;		/* rows written in it */
	uint64_t suppressed;		/* refusals counted, not written */
	pthread_t ticker;		/* writes flood summaries each 1 s */
	pthread_cond_t stop_cv;		/* with mu */
	bool stop, ticking;
};

static void *access_ticker(void *arg);

static bool
url_local(const char *url)
{
	return strncmp(url, "ipc://", 6) == 0 ||
	    strncmp(url, "inproc://", 9) == 0;
}

int
access_check_listeners(const struct conf_agent *c, struct nudge_diag *d)
{
	const char *const name[] = {"control", "ingest", "pub", "push"};
	const char *const url[] = {c->control, c->ingest, c->pub, c->push};

	for (int i = 0; i < 4; i++) {
		if (url[i][0] == '\0')
			continue;
		if (tlsconf_is_tls(url[i]) && c->tls_cert[0] == '\0') {
			nudge_diag_set(d, 0, 0, "%s %s: tls+tcp:// needs "
			    "[agent] tls_cert and tls_key", name[i], url[i]);
			return NUDGE_ECONFIG;
		}
		if (i < 2 && !url_local(url[i]) && c->credentials[0] == '\0') {
			nudge_diag_set(d, 0, 0, "%s %s: refusing a remote %s "
			    "socket without credentials; set [agent] "
			    "credentials (README, Security) or listen on "
			    "ipc://", name[i], url[i], name[i]);
			return NUDGE_ECONFIG;
		}
		if (i == 3 && !url_local(url[i])) {
			nudge_diag_set(d, 0, 0, "push %s: the push socket is "
			    "never authenticated, so it listens on ipc:// "
			    "only; send remote events with signed `nudge "
			    "emit` on the ingest socket", url[i]);
			return NUDGE_ECONFIG;
		}
	}
	return 0;
}

int
access_new(struct access **out, const struct conf_agent *c,
    struct store *st, uint64_t boot_wall_ms, struct nudge_diag *d)
{
	struct access *ax = calloc(1, sizeof(*ax));
	int rv;

	if (ax == NULL)
		return NUDGE_ENOMEM;
	if (c->credentials[0] != '\0' &&
	    (rv = auth_keys_load(&ax->keys, c->credentials, d)) != 0) {
		free(ax);
		return rv;
	}
	if ((rv = auth_seen_new(&ax->seen, AUTH_SEEN_CAP,
	    AUTH_SEEN_WINDOW_MS)) != 0) {
		auth_keys_free(ax->keys);
		free(ax);
		return rv;
	}
	pthread_rwlock_init(&ax->keys_lock, NULL);
	pthread_mutex_init(&ax->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ax->stop_cv, &ca);
	pthread_condattr_destroy(&ca);
	ax->store = st;
	ax->boot_wall_ms = boot_wall_ms;
	ax->ticking = pthread_create(&ax->ticker, NULL, access_ticker,
	    ax) == 0;
	*out = ax;
	return 0;
}

void
access_free(struct access *ax)
{
	if (ax == NULL)
		return;
	pthread_mutex_lock(&ax->mu);
	ax->stop = true;
	pthread_cond_signal(&ax->stop_cv);
	pthread_mutex_unlock(&ax->mu);
	if (ax->ticking)
		pthread_join(ax->ticker, NULL);
	access_tick(ax);
	pthread_cond_destroy(&ax->stop_cv);
	auth_keys_free(ax->keys);
	auth_seen_free(ax->seen);
	pthread_rwlock_destroy(&ax->keys_lock);
	pthread_mutex_destroy(&ax->mu);
	free(ax);
}

bool
access_enabled(struct access *ax)
{
	bool on;

	pthread_rwlock_rdlock(&ax->keys_lock);
	on = ax->keys != NULL;
	pthread_rwlock_unlock(&ax->keys_lock);
	return on;
}

int
access_reload(struct access *ax, const char *path, struct nudge_diag *d)
{
	struct auth_keys *fresh = NULL, *old;
	int rv;

	if (path[0] == '\0') {
		if (!access_enabled(ax))
			return 0;
		nudge_diag_set(d, 0, 0, "credentials removed from the "
		    "configuration: keeping the keys in use until a restart");
		return NUDGE_ECONFIG;
	}
	if (!access_enabled(ax)) {
		nudge_diag_set(d, 0, 0, "credentials added: they take effect "
		    "at the next restart");
		return NUDGE_ECONFIG;
	}
	if ((rv = auth_keys_load(&fresh, path, d)) != 0)
		return rv;
	pthread_rwlock_wrlock(&ax->keys_lock);
	old = ax->keys;
	ax->keys = fresh;
	pthread_rwlock_unlock(&ax->keys_lock);
	auth_keys_free(old);
	return 0;
}

/* ---- audit ------------------------------------------------------------ */

/* Network text in the audit table and the log: printable ASCII only. */
static void
clean(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	for (; src[i] != '\0' && i + 1 < cap; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

static void
audit_write(struct access *ax, const char *who, const char *what,
    const char *detail, int status)
{
	if (ax->store == NULL)	/* unit tests */
		return;
	if (store_audit(ax->store, clock_wall_ms(), who, what, detail,
	    status) != 0)
		log_error("audit: cannot write the refusal of %s by %s", what,
		    who);
}

/* Under mu: starts a new second; returns the last one's uncounted. */
static uint64_t
audit_roll(struct access *ax, uint64_t sec)
{
	uint64_t n = 0;

	if (sec != ax->audit_sec) {
		n = ax->suppressed;
		ax->suppressed = 0;
		ax->audit_rows = 0;
		ax->audit_sec = sec;
	}
	return n;
}

static void
audit_summary(struct access *ax, uint64_t n)
{
	char detail[128];

	if (n == 0)
		return;
	snprintf(detail, sizeof(detail), "%llu more refusals in one second "
	    "(flood: not written one by one)", (unsigned long long)n);
	log_warn("refused: %s", detail);
	audit_write(ax, "*", "refused", detail, NUDGE_EAUTH);
}

void
access_refused(struct access *ax, const char *who, const char *what,
    const char *detail, int status)
{
	char w[AUTH_ID_MAX + 1], c[WIRE_CMD_MAX + 1], msg[NUDGE_DIAG_MSG];
	uint64_t n;
	bool write;

	pthread_mutex_lock(&ax->mu);
	n = audit_roll(ax, clock_wall_ms() / 1000);
	write = ax->audit_rows < ACCESS_AUDIT_BURST;
	if (write)
		ax->audit_rows++;
	else
		ax->suppressed++;
	pthread_mutex_unlock(&ax->mu);
	audit_summary(ax, n);
	if (!write)
		return;
	clean(w, sizeof(w), who);
	clean(c, sizeof(c), what);
	clean(msg, sizeof(msg), detail);
	log_warn("refused %s from %s: %s", c, w, msg);
	audit_write(ax, w, c, msg, status);
}

void
access_tick(struct access *ax)
{
	uint64_t n;

	pthread_mutex_lock(&ax->mu);
	n = audit_roll(ax, clock_wall_ms() / 1000);
	pthread_mutex_unlock(&ax->mu);
	audit_summary(ax, n);
}

/*
 * Its own thread, so that the summary of a flood that has ended is
 * written within a second even if no request comes after it.
 */
static void *
access_ticker(void *arg)
{
	struct access *ax = arg;
	struct timespec until;

	pthread_mutex_lock(&ax->mu);
	while (!ax->stop) {
		/* monotonic: a wall clock set back must not stall the ticker */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&ax->stop_cv, &ax->mu, &until);
		pthread_mutex_unlock(&ax->mu);
		access_tick(ax);
		pthread_mutex_lock(&ax->mu);
	}
	pthread_mutex_unlock(&ax->mu);
	return NULL;
}

/* ---- checking ---------------------------------------------------------- */

/* Under the read lock: key, mac and date.  who is set once verified. */
static int
check_signature(struct access *ax, const struct wire_request *rq,
    const void *buf, struct access_verdict *v, struct nudge_diag *d)
{
	const struct auth_key *k = auth_keys_find(ax->keys, rq->key_id);
	char id[AUTH_ID_MAX + 1];

	if (!rq->signed_) {
		nudge_diag_set(d, 0, 0, "unsigned request: this agent needs "
		    "a key (--key FILE)");
		return NUDGE_EAUTH;
	}
	clean(id, sizeof(id), rq->key_id);
	if (k == NULL) {
		nudge_diag_set(d, 0, 0, "unknown key '%s'", id);
		return NUDGE_EAUTH;
	}
	if (wire_request_verify(rq, buf, k->secret, k->secret_len) != 0) {
		nudge_diag_set(d, 0, 0, "bad signature for key '%s'", id);
		return NUDGE_EAUTH;
	}
	snprintf(v->who, sizeof(v->who), "%s", k->id);
	v->role = k->role;
	return auth_check_time(rq->ts_ms, clock_wall_ms(), AUTH_SKEW_MS,
	    ax->boot_wall_ms, d);
}

static int
check_nonce(struct access *ax, const struct wire_request *rq,
    struct access_verdict *v, struct nudge_diag *d)
{
	int r;

	pthread_mutex_lock(&ax->mu);
	r = auth_seen_check(ax->seen, rq->id, rq->mac, clock_mono_ms());
	pthread_mutex_unlock(&ax->mu);
	switch (r) {
	case AUTH_SEEN_NEW:
		return 0;
	case AUTH_SEEN_SAME:
		v->resend = true;
		return 0;
	case AUTH_SEEN_CLASH:
		nudge_diag_set(d, 0, 0, "replayed: this request id was used "
		    "for another request");
		return NUDGE_EAUTH;
	default:
		nudge_diag_set(d, 0, 0, "too many signed requests in %d s; "
		    "retry", AUTH_SEEN_WINDOW_MS / 1000);
		return NUDGE_EBUSY;
	}
}

int
access_check(struct access *ax, const struct wire_request *rq,
    const void *buf, struct access_verdict *v, struct nudge_diag *d)
{
	struct access_verdict r = {.role = AUTH_ROLE_OPERATOR};
	int rv;

	snprintf(r.who, sizeof(r.who), "unknown");
	pthread_rwlock_rdlock(&ax->keys_lock);
	if (ax->keys == NULL) {
		pthread_rwlock_unlock(&ax->keys_lock);
		if (rq->signed_) {
			nudge_diag_set(d, 0, 0, "no credentials are "
			    "configured on this agent; send the request "
			    "unsigned");
			access_refused(ax, r.who, rq->cmd, d->msg,
			    NUDGE_EAUTH);
			return NUDGE_EAUTH;
		}
		snprintf(r.who, sizeof(r.who), "local");
		*v = r;
		return 0;
	}
	rv = check_signature(ax, rq, buf, &r, d);
	pthread_rwlock_unlock(&ax->keys_lock);
	if (rv == 0)
		rv = check_nonce(ax, rq, &r, d);
	if (rv != 0) {
		access_refused(ax, r.who, rq->cmd, d->msg, rv);
		return rv;
	}
	*v = r;
	return 0;
}
