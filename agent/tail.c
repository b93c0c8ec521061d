/*
 * tail.c - access-log tailers: follow files, turn lines into page views.
 *
 * Owns one thread per followed file and everything that thread touches:
 * the file descriptors (current, and rotated-away), a 1 MiB read buffer, the
 *conversion state (format, hash seed, user-agent cache) and a batch of events.
 *Other threads only read the counters (atomics) and the last error (under
 *err_lock).
 *
 * Why a thread per file: the work is CPU-bound parsing that never waits
 * for anything but the file; separate threads let several busy vhost logs
 * use several cores, keep each follower a plain blocking loop, and cost
 * nothing when idle (a 250 ms timed wait).  Up to 16 files, so up to 16
 * threads.
 *
 * Following (the states of one tailer):
 *
 *	   (open fails) +---------+  (path appears)
 *	   +----------> | MISSING | ----------------+
 *	   |            +---------+                 v
 *	   |                               +----------------+
 *	   +------------------------------ |    READING     | <-+ data
 *	   (old fd drained, new path gone) +----------------+ --+
 *	                                   | every 250 ms:  |
 *	                                   | size < offset -> seek 0
 *	                                   | inode changed -> drain old fd
 *	                                   |   to EOF, open new from 0,
 *	                                   |   keep reading the old fd for
 *	                                   |   5 s (nginx writes there until
 *	                                   |   it reopens its logs)
 *
 * A batch of lines is parsed into events first and applied to the session
 * table afterwards, so the parser's loop stays hot; event views point into
 * the read buffer, which is not moved until the batch is applied.
 */
#include "tail.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <xxhash.h>

#include "clock.h"
#include "log.h"

#define TAIL_READ (1u << 20) /* bytes per read() */
#define TAIL_BUF (TAIL_READ + LOGLINE_MAX + 2)
#define TAIL_BATCH 1024      /* events applied together */
#define TAIL_CHECK_MS 250    /* stat() of the path */
#define TAIL_ERRLOG_MS 10000 /* malformed-line summary period */
#define TAIL_OLD_MS 5000     /* a rotated-away file is still read */
#define TAIL_OLD_READ 65536
#define TAIL_OLD_BUF (TAIL_OLD_READ + LOGLINE_MAX + 2)
#define TAIL_NO_OFF UINT64_MAX /* an event from the rotated-away file */
#define TAIL_SALT_KEY "log_salt"
#define TAIL_POS_KEY "tail_pos:" /* + path: "dev inode offset" */

struct tailer {
	pthread_t thread;
	bool started;
	struct agent *a;
	char path[CONF_PATH_MAX + 1];
	bool from_end;  /* first open: seek to the end */
	bool has_saved; /* where the last graceful stop left the file */
	dev_t saved_dev;
	ino_t saved_ino;
	uint64_t saved_off;
	bool halted;       /* the agent refused an event: it is stopping */
	uint64_t halt_off; /* start of the first line not applied */
	/* owned by the tailer thread */
	int fd;
	dev_t dev;
	ino_t ino;
	uint64_t offset;  /* bytes of the file consumed */
	uint64_t line_no; /* lines of the current file */
	size_t have;      /* bytes in buf */
	bool discarding;  /* inside an overlong line */
	uint64_t last_check;
	uint64_t last_errlog;
	uint64_t logged_malformed;
	uint64_t started_ms;
	bool caught_up_logged;
	char *buf;
	int old_fd; /* the file rotated away, read for TAIL_OLD_MS more */
	uint64_t old_until;
	size_t old_have;
	char *old_buf;
	struct nudge_event *ev;
	uint64_t *ev_off; /* file offset of each event's line */
	char (*vis)[TAIL_VISITOR_LEN + 1];
	size_t n_ev;
	struct tail_conv conv;
	/* read by any thread */
	atomic_uint_fast64_t lines, pageviews, bots, skipped, malformed;
	atomic_uint_fast64_t rotations, truncations;
	pthread_mutex_t err_lock;
	char last_error[160];
};

struct tail_set {
	unsigned n;
	struct logline_format fmt;
	atomic_bool stopping;
	pthread_mutex_t lock; /* guards the sleep below */
	pthread_cond_t wake;
	struct tailer *t;
};

/* ---- line conversion ---------------------------------------------------- */

void
tail_conv_init(
    struct tail_conv *c, const struct logline_format *fmt, const char *salt)
{
	memset(c, 0, sizeof(*c));
	c->fmt = fmt;
	c->seed = XXH3_64bits(salt, strlen(salt));
}

/* An extension of up to 5 letters packed in a word, for one compare. */
#define EXT(a, b, c, d, e)                                                    \
	((uint64_t)(a) | (uint64_t)(b) << 8 | (uint64_t)(c) << 16 |           \
	    (uint64_t)(d) << 24 | (uint64_t)(e) << 32)

static bool
ext_is_asset(const char *e, size_t n)
{
	static const uint64_t exts[] = {EXT('c', 's', 's', 0, 0),
	    EXT('j', 's', 0, 0, 0), EXT('p', 'n', 'g', 0, 0),
	    EXT('j', 'p', 'g', 0, 0), EXT('j', 'p', 'e', 'g', 0),
	    EXT('g', 'i', 'f', 0, 0), EXT('s', 'v', 'g', 0, 0),
	    EXT('i', 'c', 'o', 0, 0), EXT('w', 'o', 'f', 'f', 0),
	    EXT('w', 'o', 'f', 'f', '2'), EXT('t', 't', 'f', 0, 0),
	    EXT('m', 'a', 'p', 0, 0), EXT('w', 'e', 'b', 'p', 0),
	    EXT('a', 'v', 'i', 'f', 0), EXT('m', 'p', '4', 0, 0),
	    EXT('j', 's', 'o', 'n', 0), EXT('x', 'm', 'l', 0, 0),
	    EXT('t', 'x', 't', 0, 0)};
	uint64_t k = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)e[i];
		if (c == 0)
			return false;
		k |= (uint64_t)(c >= 'A' && c <= 'Z' ? c + 32 : c) << (8 * i);
	}
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (exts[i] == k)
			return true;
	return false;
}

bool
tail_is_asset(struct nudge_strv path)
{
	const char *end = path.ptr + path.len, *p = end;

	if (path.len >= 7 && memcmp(path.ptr, "/nudge/", 7) == 0)
		return true;
	while (p > path.ptr && p[-1] != '/' && p[-1] != '.')
		p--;
	if (p == path.ptr || p[-1] != '.')
		return false;
	return ext_is_asset(p, (size_t)(end - p));
}

/* Device of a user agent, remembered: UA matching is the costly part. */
static uint8_t
conv_device(struct tail_conv *c, struct nudge_strv ua, uint64_t h)
{
	unsigned i = (unsigned)(h % TAIL_UA_CACHE);

	if (c->ua_cache[i].used && c->ua_cache[i].hash == h)
		return c->ua_cache[i].device;
	c->ua_cache[i].hash = h;
	c->ua_cache[i].device = (uint8_t)event_device_from_ua(ua);
	c->ua_cache[i].used = 1;
	return c->ua_cache[i].device;
}

static void
put_hex(char *out, uint64_t v)
{
	static const char hex[] = "0123456789abcdef";

	out[0] = 'h';
	for (int i = 16; i >= 1; i--, v >>= 4)
		out[i] = hex[v & 15];
	out[TAIL_VISITOR_LEN] = '\0';
}

/* Bounded text view: classification needs the start, not every byte. */
static struct nudge_strv
cap_text(struct nudge_strv v)
{
	if (v.len > EVENT_TEXT_MAX)
		v.len = EVENT_TEXT_MAX;
	return v;
}

static bool
is_page_request(const struct logline *l)
{
	bool get =
	    (l->method.len == 3 && memcmp(l->method.ptr, "GET", 3) == 0) ||
	    (l->method.len == 4 && memcmp(l->method.ptr, "HEAD", 4) == 0);

	return get && l->status >= 200 && l->status < 400 && l->path.len > 0 &&
	       l->path.ptr[0] == '/' && !tail_is_asset(l->path);
}

int
tail_conv_line(struct tail_conv *c, const char *line, size_t len,
    struct nudge_event *ev, char vis[TAIL_VISITOR_LEN + 1],
    struct nudge_diag *d)
{
	struct logline l;
	uint64_t uah;
	int rc;

	if ((rc = logline_parse(c->fmt, line, len, &l, d)) != 0)
		return rc;
	if (!is_page_request(&l))
		return TAIL_SKIP;
	if (l.path.len > EVENT_PAGE_MAX) {
		nudge_diag_set(d, 0, (int)(l.path.ptr - line) + 1,
		    "path longer than %d bytes", EVENT_PAGE_MAX);
		return NUDGE_ETOOBIG;
	}
	uah = XXH3_64bits(l.ua.ptr, l.ua.len);
	/* the address is hashed in place and never kept */
	put_hex(
	    vis, XXH3_64bits_withSeed(l.addr.ptr, l.addr.len, c->seed ^ uah));
	event_init(ev);
	ev->type = EVENT_PAGEVIEW;
	ev->device = conv_device(c, l.ua, uah);
	ev->visitor = (struct nudge_strv){vis, TAIL_VISITOR_LEN};
	ev->ts_ms = l.ts_ms;
	ev->page = l.path;
	ev->referrer = cap_text(l.referrer);
	if (l.query.len > 0) {
		ev->utm_source =
		    cap_text(logline_query_param(l.query, "utm_source"));
		ev->utm_medium =
		    cap_text(logline_query_param(l.query, "utm_medium"));
		ev->utm_campaign =
		    cap_text(logline_query_param(l.query, "utm_campaign"));
	}
	return ev->device == DEVICE_BOT ? TAIL_BOT : TAIL_PAGEVIEW;
}

/* ---- batches ------------------------------------------------------------ */

static void
tail_apply(struct tailer *t)
{
	uint64_t mono = clock_mono_ms(), wall = clock_wall_ms();
	uint64_t pv = 0, bots = 0;

	for (size_t i = 0; i < t->n_ev; i++) {
		const struct nudge_event *ev = &t->ev[i];
		int rv = agent_apply(t->a, ev, mono, wall);
		if (rv == NUDGE_EBUSY) {
			/* stopping: the position saved is this line's */
			t->halted = true;
			t->halt_off = t->ev_off[i] != TAIL_NO_OFF
			                  ? t->ev_off[i]
			                  : t->offset - t->have;
			break;
		}
		if (rv != 0)
			continue; /* ENOMEM: counted as rejected by the table
			           */
		if (ev->device == DEVICE_BOT)
			bots++;
		else
			pv++;
	}
	atomic_fetch_add(&t->pageviews, pv);
	atomic_fetch_add(&t->bots, bots);
	t->n_ev = 0;
}

static void
tail_note_malformed(struct tailer *t, const struct nudge_diag *d)
{
	atomic_fetch_add(&t->malformed, 1);
	pthread_mutex_lock(&t->err_lock);
	snprintf(t->last_error, sizeof(t->last_error),
	    "%" PRIu64 ":%d: %.120s", t->line_no, d->col, d->msg);
	pthread_mutex_unlock(&t->err_lock);
}

/* One complete line; malformed ones count as rejected rows. */
static void
tail_line(struct tailer *t, const char *line, size_t len, uint64_t off,
    uint64_t *bad)
{
	struct nudge_diag d = {0};
	int rc;

	if (t->halted)
		return;
	t->line_no++;
	rc = tail_conv_line(
	    &t->conv, line, len, &t->ev[t->n_ev], t->vis[t->n_ev], &d);
	if (rc == TAIL_PAGEVIEW || rc == TAIL_BOT) {
		t->ev_off[t->n_ev] = off;
		if (++t->n_ev == TAIL_BATCH)
			tail_apply(t);
	} else if (rc == TAIL_SKIP) {
		atomic_fetch_add(&t->skipped, 1);
	} else {
		tail_note_malformed(t, &d);
		(*bad)++;
	}
}

/* An overlong line: one malformed line, the rest dropped to its newline. */
static void
tail_overlong(struct tailer *t, uint64_t *bad)
{
	struct nudge_diag d = {0};

	t->line_no++;
	nudge_diag_set(
	    &d, 0, LOGLINE_MAX + 1, "line longer than %d bytes", LOGLINE_MAX);
	tail_note_malformed(t, &d);
	(*bad)++;
	t->discarding = true;
}

/*
 * Splits buf[0..have) into lines and converts them; keeps the last partial
 * line at the front of buf.  final: the file ends here (rotation), so a
 * last line without its newline counts too.
 */
static void
tail_consume(struct tailer *t, bool final)
{
	char *p = t->buf, *end = t->buf + t->have, *nl;
	uint64_t lines = 0, bad = 0, base = t->offset - t->have;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (!t->discarding) {
			tail_line(t, p, (size_t)(nl - p),
			    base + (uint64_t)(p - t->buf), &bad);
			lines++;
		}
		t->discarding = false;
		p = nl + 1;
	}
	if (p < end && !t->discarding &&
	    (final || (size_t)(end - p) > LOGLINE_MAX)) {
		if (final)
			tail_line(t, p, (size_t)(end - p),
			    base + (uint64_t)(p - t->buf), &bad);
		else
			tail_overlong(t, &bad);
		lines++;
		p = end;
	}
	if (t->discarding || final)
		p = end;
	tail_apply(t);
	if (bad)
		sesstab_count_rejected(t->a->sessions, bad);
	atomic_fetch_add(&t->lines, lines);
	t->have = (size_t)(end - p);
	memmove(t->buf, p, t->have);
}

/* ---- the file ----------------------------------------------------------- */

static void
tail_close(struct tailer *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->have = 0;
	t->discarding = false;
}

/*
 * Where to start in a file just opened: on the first open, where the last
 * graceful stop left this very file (same device and inode, not shorter),
 * else its end (or start, with tail_from_start); a file that appears or
 * replaces another later is new: its start.
 */
static uint64_t
tail_start_at(const struct tailer *t, const struct stat *st, bool first,
    const char **why)
{
	if (first && t->has_saved && st->st_dev == t->saved_dev &&
	    st->st_ino == t->saved_ino &&
	    t->saved_off <= (uint64_t)st->st_size) {
		*why = "where the last run stopped";
		return t->saved_off;
	}
	*why = first && t->from_end ? "the end" : "the start";
	return first && t->from_end ? (uint64_t)st->st_size : 0;
}

static bool
tail_open(struct tailer *t, bool first)
{
	struct stat st;
	const char *why;
	int fd = open(t->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return false;
	}
	t->fd = fd;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	t->offset = tail_start_at(t, &st, first, &why);
	t->line_no = 0;
	t->have = 0;
	t->discarding = false;
	if (t->offset > 0 && lseek(fd, (off_t)t->offset, SEEK_SET) < 0)
		t->offset = 0;
	log_info("tail %s: following from %s (byte %" PRIu64 ")", t->path, why,
	    t->offset);
	return true;
}

/* Reads once; returns bytes read (0 at EOF or on error). */
static size_t
tail_read(struct tailer *t)
{
	ssize_t n;

	do
		n = read(t->fd, t->buf + t->have, TAIL_READ);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;
	t->have += (size_t)n;
	t->offset += (uint64_t)n;
	tail_consume(t, false);
	return (size_t)n;
}

/*
 * Lines of the file rotated away.  nginx writes to it until it reopens its
 * logs (logrotate's postrotate), so it is read for TAIL_OLD_MS after the
 * switch; end: the time is up, a last unterminated line counts too.  Its
 * lines are rare, so an overlong one is simply dropped as malformed.
 */
static void
tail_old_poll(struct tailer *t, bool end)
{
	uint64_t lines = 0, bad = 0;
	ssize_t n;

	while ((n = read(t->old_fd, t->old_buf + t->old_have, TAIL_OLD_READ)) >
	           0 ||
	       (n == 0 && end && t->old_have > 0)) {
		char *p = t->old_buf, *e = p + t->old_have + (size_t)n, *nl;
		while ((nl = memchr(p, '\n', (size_t)(e - p))) != NULL) {
			tail_line(t, p, (size_t)(nl - p), TAIL_NO_OFF, &bad);
			lines++;
			p = nl + 1;
		}
		if (p < e && (end || (size_t)(e - p) > LOGLINE_MAX)) {
			tail_line(t, p, (size_t)(e - p), TAIL_NO_OFF, &bad);
			lines++;
			p = e;
		}
		t->old_have = (size_t)(e - p);
		memmove(t->old_buf, p, t->old_have);
		tail_apply(t);
		if (n == 0)
			break;
	}
	if (bad)
		sesstab_count_rejected(t->a->sessions, bad);
	atomic_fetch_add(&t->lines, lines);
}

static void
tail_old_close(struct tailer *t, bool read_rest)
{
	if (t->old_fd < 0)
		return;
	if (read_rest)
		tail_old_poll(t, true);
	close(t->old_fd);
	t->old_fd = -1;
	t->old_have = 0;
}

/* Keeps the current file as the old one, to be read a while longer. */
static void
tail_keep_old(struct tailer *t)
{
	while (tail_read(t) > 0)
		;
	tail_old_close(t, true);
	t->old_fd = t->fd;
	t->old_until = clock_mono_ms() + TAIL_OLD_MS;
	t->old_have = t->discarding ? 0 : t->have;
	memcpy(t->old_buf, t->buf, t->old_have);
	t->fd = -1;
	t->have = 0;
	t->discarding = false;
}

/* The 250 ms check: truncation of our file, a new file at the path. */
static void
tail_check(struct tailer *t)
{
	struct stat st;

	if (fstat(t->fd, &st) == 0 && (uint64_t)st.st_size < t->offset) {
		log_info("tail %s: truncated (%" PRIu64 " -> %jd bytes), "
		         "reading from the start",
		    t->path, t->offset, (intmax_t)st.st_size);
		atomic_fetch_add(&t->truncations, 1);
		lseek(t->fd, 0, SEEK_SET);
		t->offset = 0;
		t->line_no = 0;
		t->have = 0;
		t->discarding = false;
		return;
	}
	if (stat(t->path, &st) == 0
	        ? st.st_dev == t->dev && st.st_ino == t->ino
	        : errno != ENOENT)
		return; /* same file, or cannot tell (keep reading it) */
	/* renamed or removed: the new file from its start, the old a while */
	tail_keep_old(t);
	atomic_fetch_add(&t->rotations, 1);
	log_info("tail %s: rotated, switching to the new file", t->path);
	tail_open(t, false);
}

/* ---- the thread --------------------------------------------------------- */

static void
tail_report(struct tailer *t, uint64_t now)
{
	uint64_t bad = atomic_load(&t->malformed);
	char err[sizeof(t->last_error)];

	if (bad == t->logged_malformed ||
	    now - t->last_errlog < TAIL_ERRLOG_MS)
		return;
	pthread_mutex_lock(&t->err_lock);
	memcpy(err, t->last_error, sizeof(err));
	pthread_mutex_unlock(&t->err_lock);
	log_warn("tail %s: %" PRIu64 " malformed lines (%" PRIu64 " new); "
	         "last at %s",
	    t->path, bad, bad - t->logged_malformed, err);
	t->logged_malformed = bad;
	t->last_errlog = now;
}

/* First time the tailer reaches the end: how fast the backlog went. */
static void
tail_caught_up(struct tailer *t, uint64_t now)
{
	uint64_t n = atomic_load(&t->lines);
	uint64_t ms = now > t->started_ms ? now - t->started_ms : 1;

	if (t->caught_up_logged)
		return;
	t->caught_up_logged = true;
	log_info("tail %s: caught up: %" PRIu64 " lines in %" PRIu64 " ms "
	         "(%" PRIu64 " lines/s): %" PRIu64 " page views, %" PRIu64
	         " bots, %" PRIu64 " skipped, %" PRIu64 " malformed",
	    t->path, n, ms, n * 1000 / ms, atomic_load(&t->pageviews),
	    atomic_load(&t->bots), atomic_load(&t->skipped),
	    atomic_load(&t->malformed));
}

static void
tail_sleep(struct tail_set *s, uint32_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&s->lock);
	if (!atomic_load(&s->stopping))
		pthread_cond_timedwait(&s->wake, &s->lock, &ts);
	pthread_mutex_unlock(&s->lock);
}

struct tail_arg {
	struct tail_set *s;
	struct tailer *t;
};

static void
tail_loop(struct tail_set *s, struct tailer *t)
{
	bool first = true;

	while (!atomic_load(&s->stopping)) {
		uint64_t now = clock_mono_ms();
		size_t got = 0;
		if (t->old_fd >= 0 && now >= t->old_until)
			tail_old_close(t, true);
		else if (t->old_fd >= 0)
			tail_old_poll(t, false);
		if (t->fd < 0 && !tail_open(t, first)) {
			if (first)
				log_warn("tail %s: %s; waiting for it",
				    t->path, strerror(errno));
			first = false;
			tail_sleep(s, TAIL_CHECK_MS);
			continue;
		}
		first = false;
		got = tail_read(t);
		now = clock_mono_ms();
		if (now - t->last_check >= TAIL_CHECK_MS) {
			t->last_check = now;
			tail_check(t);
			tail_report(t, now);
		}
		if (got == 0) {
			tail_caught_up(t, now);
			tail_sleep(s, TAIL_CHECK_MS);
		}
	}
}

static void
tail_pos_key(const struct tailer *t, char *key, size_t cap)
{
	snprintf(key, cap, TAIL_POS_KEY "%s", t->path);
}

/*
 * Keeps where this file was left (complete lines only, or the first line
 * the stopping agent refused), so a restart neither loses nor repeats.
 */
static void
tail_save_pos(struct tailer *t)
{
	char key[sizeof(TAIL_POS_KEY) + CONF_PATH_MAX], val[80];
	uint64_t off = t->halted ? t->halt_off : t->offset - t->have;

	if (t->fd < 0)
		return;
	tail_pos_key(t, key, sizeof(key));
	snprintf(val, sizeof(val), "%ju %ju %" PRIu64, (uintmax_t)t->dev,
	    (uintmax_t)t->ino, off);
	if (store_meta_put(t->a->store, key, val) != 0)
		log_warn("tail %s: cannot keep the position: %s", t->path,
		    store_last_error(t->a->store));
}

static void
tail_load_pos(struct tailer *t)
{
	char key[sizeof(TAIL_POS_KEY) + CONF_PATH_MAX], val[80];
	uintmax_t dev, ino, off;

	tail_pos_key(t, key, sizeof(key));
	if (store_meta_get(t->a->store, key, val, sizeof(val)) != 0 ||
	    sscanf(val, "%ju %ju %ju", &dev, &ino, &off) != 3)
		return;
	t->has_saved = true;
	t->saved_dev = (dev_t)dev;
	t->saved_ino = (ino_t)ino;
	t->saved_off = off;
}

static void *
tail_main(void *arg)
{
	struct tail_arg *ta = arg;
	struct tail_set *s = ta->s;
	struct tailer *t = ta->t;

	free(ta);
	t->started_ms = clock_mono_ms();
	tail_loop(s, t);
	tail_save_pos(t);
	tail_old_close(t, false);
	tail_close(t);
	return NULL;
}

/* ---- start and stop ----------------------------------------------------- */

/* The configured salt, else the stored one, else a new random one. */
static int
tail_salt(struct agent *a, char *salt, size_t cap, struct nudge_diag *d)
{
	uint8_t r[16];
	int rv;

	if (a->cfg->agent.log_salt[0] != '\0') {
		snprintf(salt, cap, "%s", a->cfg->agent.log_salt);
		return 0;
	}
	rv = store_meta_get(a->store, TAIL_SALT_KEY, salt, cap);
	if (rv == 0 && salt[0] != '\0')
		return 0;
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		nudge_diag_set(
		    d, 0, 0, "log salt: no random bytes: %s", strerror(errno));
		return NUDGE_EIO;
	}
	for (size_t i = 0; i < sizeof(r) && 2 * i + 2 < cap; i++)
		snprintf(salt + 2 * i, 3, "%02x", r[i]);
	if ((rv = store_meta_put(a->store, TAIL_SALT_KEY, salt)) != 0) {
		nudge_diag_set(d, 0, 0, "log salt: cannot store it: %s",
		    store_last_error(a->store));
		return rv;
	}
	log_info("tail: made a new visitor-hash salt (kept in the store)");
	return 0;
}

static int
tailer_init(struct tailer *t, struct agent *a, const char *path,
    const struct logline_format *fmt, const char *salt)
{
	const struct conf_agent *c = &a->cfg->agent;

	t->a = a;
	t->fd = -1;
	t->old_fd = -1;
	snprintf(t->path, sizeof(t->path), "%s", path);
	t->from_end = !c->tail_from_start;
	pthread_mutex_init(&t->err_lock, NULL);
	tail_conv_init(&t->conv, fmt, salt);
	t->buf = malloc(TAIL_BUF);
	t->old_buf = malloc(TAIL_OLD_BUF);
	t->ev = calloc(TAIL_BATCH, sizeof(*t->ev));
	t->vis = calloc(TAIL_BATCH, sizeof(*t->vis));
	t->ev_off = calloc(TAIL_BATCH, sizeof(*t->ev_off));
	if (t->buf == NULL || t->old_buf == NULL || t->ev == NULL ||
	    t->vis == NULL || t->ev_off == NULL)
		return NUDGE_ENOMEM;
	tail_load_pos(t);
	return 0;
}

static int
tail_spawn(struct tail_set *s, struct tailer *t, struct nudge_diag *d)
{
	struct tail_arg *ta = malloc(sizeof(*ta));
	int rv;

	if (ta == NULL) {
		nudge_diag_set(d, 0, 0, "tail: out of memory");
		return NUDGE_ENOMEM;
	}
	*ta = (struct tail_arg){s, t};
	if ((rv = pthread_create(&t->thread, NULL, tail_main, ta)) != 0) {
		free(ta);
		nudge_diag_set(d, 0, 0, "tail %s: cannot start a thread: %s",
		    t->path, strerror(rv));
		return NUDGE_ENOMEM;
	}
	t->started = true;
	return 0;
}

static int
tail_set_new(struct tail_set **out, struct agent *a, struct nudge_diag *d)
{
	const struct conf_agent *c = &a->cfg->agent;
	struct tail_set *s = calloc(1, sizeof(*s));
	struct nudge_diag fd = {0};
	pthread_condattr_t ca;

	if (s == NULL || (s->t = calloc(c->n_tails, sizeof(*s->t))) == NULL) {
		free(s);
		nudge_diag_set(d, 0, 0, "tail: out of memory");
		return NUDGE_ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	*out = s;
	if (logline_format_compile(&s->fmt, c->log_format, &fd) != 0) {
		nudge_diag_set(
		    d, 0, 0, "log_format: column %d: %s", fd.col, fd.msg);
		return NUDGE_ECONFIG;
	}
	return 0;
}

int
tail_start(struct tail_set **out, struct agent *a, struct nudge_diag *d)
{
	const struct conf_agent *c = &a->cfg->agent;
	struct tail_set *s = NULL;
	char salt[CONF_SALT_MAX + 1];
	int rv;

	if (c->n_tails == 0) {
		*out = NULL;
		return 0;
	}
	if ((rv = tail_set_new(&s, a, d)) != 0 ||
	    (rv = tail_salt(a, salt, sizeof(salt), d)) != 0)
		goto fail;
	while (s->n < c->n_tails) {
		rv =
		    tailer_init(&s->t[s->n], a, c->tails[s->n], &s->fmt, salt);
		s->n++; /* partly set up counts too: tail_stop frees it */
		if (rv != 0) {
			nudge_diag_set(d, 0, 0, "tail: out of memory");
			goto fail;
		}
	}
	for (unsigned i = 0; i < s->n; i++)
		if ((rv = tail_spawn(s, &s->t[i], d)) != 0)
			goto fail;
	*out = s;
	return 0;
fail:
	tail_stop(s);
	return rv;
}

void
tail_stop(struct tail_set *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->stopping, true);
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; s->t != NULL && i < s->n; i++) {
		struct tailer *t = &s->t[i];
		if (t->started)
			pthread_join(t->thread, NULL);
		free(t->buf);
		free(t->old_buf);
		free(t->ev);
		free(t->vis);
		free(t->ev_off);
		pthread_mutex_destroy(&t->err_lock);
	}
	free(s->t);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

unsigned
tail_count(const struct tail_set *s)
{
	return s ? s->n : 0;
}

const char *
tail_stats(struct tail_set *s, unsigned i, struct tail_stats *out)
{
	struct tailer *t;

	if (s == NULL || i >= s->n)
		return NULL;
	t = &s->t[i];
	out->lines = atomic_load(&t->lines);
	out->pageviews = atomic_load(&t->pageviews);
	out->bots = atomic_load(&t->bots);
	out->skipped = atomic_load(&t->skipped);
	out->malformed = atomic_load(&t->malformed);
	out->rotations = atomic_load(&t->rotations);
	out->truncations = atomic_load(&t->truncations);
	pthread_mutex_lock(&t->err_lock);
	memcpy(out->last_error, t->last_error, sizeof(out->last_error));
	pthread_mutex_unlock(&t->err_lock);
	return t->path;
}
