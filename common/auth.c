/*
 * auth.c - key files (parsing, permission checks, generation), request
 * dating, and the bounded nonce set (format and rules in auth.h).
 *
 * Owns the key sets and nonce sets it allocates and nothing global.  Key
 * sets are read-only once loaded, so any thread may look keys up; a nonce
 * set belongs to one owner that serialises calls.  Every buffer that held
 * a secret (file text, lines, keys) is wiped before it is released.
 */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <xxhash.h>

struct auth_keys {
	size_t n;
	struct auth_key *v;	/* sorted by id */
};

const char *
auth_role_name(int role)
{
	return role == AUTH_ROLE_VIEWER ? "viewer" :
	    role == AUTH_ROLE_OPERATOR ? "operator" : "?";
}

int
auth_role_parse(const char *name)
{
	if (strcmp(name, "viewer") == 0)
		return AUTH_ROLE_VIEWER;
	if (strcmp(name, "operator") == 0)
		return AUTH_ROLE_OPERATOR;
	return AUTH_ROLE_NONE;
}

void
auth_key_wipe(struct auth_key *k)
{
	explicit_bzero(k, sizeof(*k));
}

int
auth_check_perms(int fd, const char *path, struct nudge_diag *d)
{
	struct stat st;

	if (fstat(fd, &st) != 0) {
		nudge_diag_set(d, 0, 0, "%s: %s", path, strerror(errno));
		return NUDGE_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		nudge_diag_set(d, 0, 0, "%s: not a regular file", path);
		return NUDGE_EPERM;
	}
	if (st.st_uid != geteuid()) {
		nudge_diag_set(d, 0, 0, "%s: owned by uid %u, not by this "
		    "user (uid %u); chown it", path, (unsigned)st.st_uid,
		    (unsigned)geteuid());
		return NUDGE_EPERM;
	}
	if ((st.st_mode & 077) != 0) {
		nudge_diag_set(d, 0, 0, "%s: mode %04o lets group or others "
		    "in; chmod 600 it", path, (unsigned)(st.st_mode & 07777));
		return NUDGE_EPERM;
	}
	return 0;
}

/* ---- parsing ------------------------------------------------------------ */

static bool
auth_id_ok(const char *s, size_t n)
{
	if (n == 0 || n > AUTH_ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("._-@", c) != NULL))
			return false;
	}
	return true;
}

static int
hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the secret; its digits are never echoed in a message. */
static int
auth_secret_parse(struct auth_key *k, const char *s, size_t n,
    struct nudge_diag *d, int line)
{
	if (n % 2 != 0 || n < 2 * AUTH_SECRET_MIN ||
	    n > 2 * AUTH_SECRET_MAX) {
		nudge_diag_set(d, line, 0, "secret of key '%s' is %zu hex "
		    "digits; expected an even number from %d to %d", k->id,
		    n, 2 * AUTH_SECRET_MIN, 2 * AUTH_SECRET_MAX);
		return NUDGE_ECONFIG;
	}
	for (size_t i = 0; i < n; i += 2) {
		int hi = hex_val(s[i]), lo = hex_val(s[i + 1]);
		if (hi < 0 || lo < 0) {
			nudge_diag_set(d, line, 0, "secret of key '%s' has a "
			    "character that is not a hex digit", k->id);
			return NUDGE_ECONFIG;
		}
		k->secret[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	k->secret_len = n / 2;
	return 0;
}

/* Splits line (NUL-terminated, modified) into at most 4 blank-separated
 * fields; returns how many it found. */
static int
auth_fields(char *line, char *f[4], size_t len[4])
{
	int n = 0;
	char *p = line;

	while (*p != '\0' && n < 4) {
		p += strspn(p, " \t\r");
		if (*p == '\0')
			break;
		len[n] = strcspn(p, " \t\r");
		f[n++] = p;
		p += len[n - 1];
	}
	p += strspn(p, " \t\r");
	return *p == '\0' ? n : 5;
}

/*
 * Parses one line.  need_role: the agent's file (3 fields); otherwise 2 or
 * 3.  Returns 1 and fills k, 0 for a blank or comment line, or an error.
 */
static int
auth_line(char *line, int lineno, bool need_role, struct auth_key *k,
    struct nudge_diag *d)
{
	char *f[4];
	size_t len[4];
	int n = auth_fields(line, f, len), role_at = n == 3 ? 1 : -1;

	if (n == 0 || f[0][0] == '#' || f[0][0] == ';')
		return 0;
	if (n < 2 || n > 3 || (need_role && n != 3)) {
		nudge_diag_set(d, lineno, 0, "expected %s", need_role ?
		    "KEY_ID ROLE SECRET_HEX" : "KEY_ID [ROLE] SECRET_HEX");
		return NUDGE_ECONFIG;
	}
	memset(k, 0, sizeof(*k));
	if (!auth_id_ok(f[0], len[0])) {
		nudge_diag_set(d, lineno, 0, "key id '%.64s' is not 1 to %d "
		    "of A-Z a-z 0-9 . _ - @", f[0], AUTH_ID_MAX);
		return NUDGE_ECONFIG;
	}
	memcpy(k->id, f[0], len[0]);
	k->role = AUTH_ROLE_NONE;
	if (role_at > 0) {
		f[1][len[1]] = '\0';
		if ((k->role = auth_role_parse(f[1])) == AUTH_ROLE_NONE) {
			nudge_diag_set(d, lineno, 0, "role '%.32s' of key "
			    "'%s' is not viewer or operator", f[1], k->id);
			return NUDGE_ECONFIG;
		}
	}
	return auth_secret_parse(k, f[n - 1], len[n - 1], d, lineno) == 0 ?
	    1 : NUDGE_ECONFIG;
}

static int
auth_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct auth_key *)a)->id,
	    ((const struct auth_key *)b)->id);
}

/* Calls fn for each key line of text; stops at the first error. */
static int
auth_each_line(const char *text, size_t len, bool need_role,
    int (*fn)(void *arg, const struct auth_key *k, int line,
    struct nudge_diag *d), void *arg, struct nudge_diag *d)
{
	char buf[AUTH_LINE_MAX + 1];
	struct auth_key k;
	int lineno = 0, rv = 0;

	for (size_t pos = 0; pos < len && rv >= 0;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		lineno++;
		if (n > AUTH_LINE_MAX || memchr(text + pos, '\0', n)) {
			nudge_diag_set(d, lineno, 0, n > AUTH_LINE_MAX ?
			    "line longer than %d bytes" : "NUL byte in line",
			    AUTH_LINE_MAX);
			rv = NUDGE_ECONFIG;
			break;
		}
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		pos += n + 1;
		rv = auth_line(buf, lineno, need_role, &k, d);
		if (rv == 1)
			rv = fn(arg, &k, lineno, d);
	}
	explicit_bzero(buf, sizeof(buf));
	auth_key_wipe(&k);
	return rv < 0 ? rv : 0;
}

static int
auth_add(void *arg, const struct auth_key *k, int line, struct nudge_diag *d)
{
	struct auth_keys *ks = arg;

	for (size_t i = 0; i < ks->n; i++)
		if (strcmp(ks->v[i].id, k->id) == 0) {
			nudge_diag_set(d, line, 0, "key id '%s' is given "
			    "twice", k->id);
			return NUDGE_EEXIST;
		}
	if (ks->n == AUTH_KEYS_MAX) {
		nudge_diag_set(d, line, 0, "more than %d keys",
		    AUTH_KEYS_MAX);
		return NUDGE_ETOOBIG;
	}
	ks->v[ks->n++] = *k;
	return 0;
}

int
auth_keys_parse(struct auth_keys **out, const char *name, const char *text,
    size_t len, struct nudge_diag *d)
{
	struct auth_keys *ks = calloc(1, sizeof(*ks));
	int rv;

	(void)name;
	if (ks == NULL ||
	    (ks->v = calloc(AUTH_KEYS_MAX, sizeof(*ks->v))) == NULL) {
		free(ks);
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	rv = auth_each_line(text, len, true, auth_add, ks, d);
	if (rv == 0 && ks->n == 0) {
		nudge_diag_set(d, 0, 0, "no key in the file: nobody could "
		    "use the control socket");
		rv = NUDGE_ECONFIG;
	}
	if (rv != 0) {
		auth_keys_free(ks);
		return rv;
	}
	qsort(ks->v, ks->n, sizeof(*ks->v), auth_key_cmp);
	*out = ks;
	return 0;
}

void
auth_keys_free(struct auth_keys *k)
{
	if (k == NULL)
		return;
	if (k->v != NULL)
		explicit_bzero(k->v, AUTH_KEYS_MAX * sizeof(*k->v));
	free(k->v);
	free(k);
}

const struct auth_key *
auth_keys_find(const struct auth_keys *k, const char *id)
{
	struct auth_key probe;

	if (k == NULL || strlen(id) > AUTH_ID_MAX)
		return NULL;
	snprintf(probe.id, sizeof(probe.id), "%s", id);
	return bsearch(&probe, k->v, k->n, sizeof(*k->v), auth_key_cmp);
}

size_t
auth_keys_count(const struct auth_keys *k)
{
	return k ? k->n : 0;
}

/* ---- files ------------------------------------------------------------- */

/* Reads a whole key file into a malloc'ed buffer (the caller wipes it). */
static int
auth_read(const char *path, char **buf, size_t *len, struct nudge_diag *d)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rv;
	char *b;
	size_t n = 0;
	ssize_t r;

	if (fd < 0) {
		nudge_diag_set(d, 0, 0, "%s: %s", path, strerror(errno));
		return NUDGE_EIO;
	}
	if ((rv = auth_check_perms(fd, path, d)) != 0) {
		close(fd);
		return rv;
	}
	if ((b = malloc(AUTH_FILE_MAX + 1)) == NULL) {
		close(fd);
		return NUDGE_ENOMEM;
	}
	while ((r = read(fd, b + n, AUTH_FILE_MAX + 1 - n)) > 0 &&
	    n + (size_t)r <= AUTH_FILE_MAX)
		n += (size_t)r;
	close(fd);
	if (r != 0) {
		explicit_bzero(b, AUTH_FILE_MAX + 1);
		free(b);
		nudge_diag_set(d, 0, 0, "%s: %s", path, r < 0 ?
		    strerror(errno) : "larger than 1 MiB");
		return r < 0 ? NUDGE_EIO : NUDGE_ETOOBIG;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* Puts "path:" (and the line) in front of a parser's message. */
static void
auth_prefix(struct nudge_diag *d, const char *path)
{
	char msg[NUDGE_DIAG_MSG];

	snprintf(msg, sizeof(msg), "%s", d->msg);
	if (d->line > 0)
		nudge_diag_set(d, d->line, 0, "%s:%d: %s", path, d->line,
		    msg);
	else if (strncmp(msg, path, strlen(path)) != 0)
		nudge_diag_set(d, 0, 0, "%s: %s", path, msg);
}

int
auth_keys_load(struct auth_keys **out, const char *path,
    struct nudge_diag *d)
{
	char *text;
	size_t len;
	int rv;

	if ((rv = auth_read(path, &text, &len, d)) != 0)
		return rv;
	rv = auth_keys_parse(out, path, text, len, d);
	explicit_bzero(text, len);
	free(text);
	if (rv != 0)
		auth_prefix(d, path);
	return rv;
}

static int
auth_take_one(void *arg, const struct auth_key *k, int line,
    struct nudge_diag *d)
{
	struct auth_key *dst = arg;

	if (dst->id[0] != '\0') {
		nudge_diag_set(d, line, 0, "a key file holds one key; "
		    "this is a second one");
		return NUDGE_ECONFIG;
	}
	*dst = *k;
	return 0;
}

int
auth_client_load(struct auth_key *out, const char *path,
    struct nudge_diag *d)
{
	struct auth_key k = {0};
	char *text;
	size_t len;
	int rv;

	if ((rv = auth_read(path, &text, &len, d)) != 0)
		return rv;
	rv = auth_each_line(text, len, false, auth_take_one, &k, d);
	explicit_bzero(text, len);
	free(text);
	if (rv == 0 && k.id[0] == '\0') {
		nudge_diag_set(d, 0, 0, "no key in the file");
		rv = NUDGE_ECONFIG;
	}
	if (rv != 0) {
		auth_key_wipe(&k);
		auth_prefix(d, path);
		return rv;
	}
	*out = k;
	auth_key_wipe(&k);
	return 0;
}

int
auth_key_new(struct auth_key *out, const char *id, int role,
    struct nudge_diag *d)
{
	struct auth_key k = {0};
	size_t got = 0;

	if (!auth_id_ok(id, strlen(id))) {
		nudge_diag_set(d, 0, 0, "key id '%.64s' is not 1 to %d of "
		    "A-Z a-z 0-9 . _ - @", id, AUTH_ID_MAX);
		return NUDGE_EINVAL;
	}
	if (role != AUTH_ROLE_VIEWER && role != AUTH_ROLE_OPERATOR) {
		nudge_diag_set(d, 0, 0, "role is viewer or operator");
		return NUDGE_EINVAL;
	}
	while (got < AUTH_SECRET_NEW) {
		ssize_t r = getrandom(k.secret + got, AUTH_SECRET_NEW - got,
		    0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			auth_key_wipe(&k);
			nudge_diag_set(d, 0, 0, "getrandom: %s",
			    strerror(errno));
			return NUDGE_EIO;
		}
		got += (size_t)r;
	}
	snprintf(k.id, sizeof(k.id), "%s", id);
	k.role = role;
	k.secret_len = AUTH_SECRET_NEW;
	*out = k;
	auth_key_wipe(&k);
	return 0;
}

int
auth_key_format(const struct auth_key *k, char *buf, size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	int n = snprintf(buf, cap, "%s %s ", k->id, auth_role_name(k->role));

	if (n < 0 || (size_t)n + 2 * k->secret_len + 2 > cap)
		return NUDGE_ETOOBIG;
	for (size_t i = 0; i < k->secret_len; i++) {
		buf[n++] = hex[k->secret[i] >> 4];
		buf[n++] = hex[k->secret[i] & 15];
	}
	buf[n++] = '\n';
	buf[n] = '\0';
	return n;
}

int
auth_key_write(const struct auth_key *k, const char *path,
    struct nudge_diag *d)
{
	char line[AUTH_LINE_MAX];
	int fd, n = auth_key_format(k, line, sizeof(line)), rv = 0;

	if (n < 0)
		return n;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		explicit_bzero(line, sizeof(line));
		nudge_diag_set(d, 0, 0, "%s: %s", path, strerror(errno));
		return errno == EEXIST ? NUDGE_EEXIST : NUDGE_EIO;
	}
	/* The umask may have taken bits away, never added: still set it. */
	if (fchmod(fd, 0600) != 0 || write(fd, line, (size_t)n) != n ||
	    fsync(fd) != 0) {
		nudge_diag_set(d, 0, 0, "%s: %s", path, strerror(errno));
		rv = NUDGE_EIO;
	}
	explicit_bzero(line, sizeof(line));
	if (close(fd) != 0 && rv == 0) {
		nudge_diag_set(d, 0, 0, "%s: %s", path, strerror(errno));
		rv = NUDGE_EIO;
	}
	if (rv != 0)
		unlink(path);
	return rv;
}

/* ---- dating ------------------------------------------------------------ */

int
auth_check_time(uint64_t ts_ms, uint64_t now_ms, uint64_t skew_ms,
    uint64_t not_before, struct nudge_diag *d)
{
	if (ts_ms + skew_ms < now_ms) {
		nudge_diag_set(d, 0, 0, "expired: the request is %llu ms old "
		    "(at most %llu; check the client's clock)",
		    (unsigned long long)(now_ms - ts_ms),
		    (unsigned long long)skew_ms);
		return NUDGE_EAUTH;
	}
	if (ts_ms > now_ms + skew_ms) {
		nudge_diag_set(d, 0, 0, "expired: the request is dated %llu "
		    "ms ahead of the agent's clock (at most %llu)",
		    (unsigned long long)(ts_ms - now_ms),
		    (unsigned long long)skew_ms);
		return NUDGE_EAUTH;
	}
	if (ts_ms < not_before) {
		nudge_diag_set(d, 0, 0, "expired: the request is dated "
		    "before the agent started");
		return NUDGE_EAUTH;
	}
	return 0;
}

/* ---- the nonce set ------------------------------------------------------ */

/*
 * Invariants: ring[head .. head+count) (mod cap) hold the live entries in
 * arrival order, so the oldest is at head and expiry pops from there;
 * every live entry is on exactly one bucket chain (bucket[] and next hold
 * ring index + 1, 0 ends a chain).
 */
struct seen_entry {
	uint8_t id[WIRE_ID_LEN];
	uint8_t fp[WIRE_MAC_LEN];
	uint64_t t_ms;
	uint32_t next;
};

struct auth_seen {
	uint32_t cap, head, count, mask;
	uint64_t window_ms;
	uint64_t seed;		/* random: ids come from the network */
	struct seen_entry *ring;
	uint32_t *bucket;
};

int
auth_seen_new(struct auth_seen **out, uint32_t cap, uint64_t window_ms)
{
	struct auth_seen *s = calloc(1, sizeof(*s));
	uint32_t nb = 1;

	if (cap == 0 || cap > (1u << 24))
		cap = AUTH_SEEN_CAP;
	while (nb < 2 * cap)
		nb <<= 1;
	if (s == NULL || (s->ring = calloc(cap, sizeof(*s->ring))) == NULL ||
	    (s->bucket = calloc(nb, sizeof(*s->bucket))) == NULL) {
		auth_seen_free(s);
		return NUDGE_ENOMEM;
	}
	if (getrandom(&s->seed, sizeof(s->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(s->seed))
		s->seed = (uint64_t)(uintptr_t)s ^ (uint64_t)getpid();
	s->cap = cap;
	s->mask = nb - 1;
	s->window_ms = window_ms;
	*out = s;
	return 0;
}

void
auth_seen_free(struct auth_seen *s)
{
	if (s == NULL)
		return;
	free(s->ring);
	free(s->bucket);
	free(s);
}

static uint32_t
seen_bucket(const struct auth_seen *s, const uint8_t *id)
{
	return (uint32_t)XXH3_64bits_withSeed(id, WIRE_ID_LEN, s->seed) &
	    s->mask;
}

static void
seen_expire(struct auth_seen *s, uint64_t now_ms)
{
	while (s->count > 0 &&
	    s->ring[s->head].t_ms + s->window_ms <= now_ms) {
		struct seen_entry *e = &s->ring[s->head];
		uint32_t *p = &s->bucket[seen_bucket(s, e->id)];
		while (*p != s->head + 1)
			p = &s->ring[*p - 1].next;
		*p = e->next;
		s->head = (s->head + 1) % s->cap;
		s->count--;
	}
}

int
auth_seen_check(struct auth_seen *s, const uint8_t id[WIRE_ID_LEN],
    const uint8_t fp[WIRE_MAC_LEN], uint64_t now_ms)
{
	uint32_t b, i;
	struct seen_entry *e;

	seen_expire(s, now_ms);
	b = seen_bucket(s, id);
	for (i = s->bucket[b]; i != 0; i = s->ring[i - 1].next) {
		e = &s->ring[i - 1];
		if (memcmp(e->id, id, WIRE_ID_LEN) == 0)
			return memcmp(e->fp, fp, WIRE_MAC_LEN) == 0 ?
			    AUTH_SEEN_SAME : AUTH_SEEN_CLASH;
	}
	if (s->count == s->cap)
		return AUTH_SEEN_FULL;
	i = (s->head + s->count) % s->cap;
	e = &s->ring[i];
	memcpy(e->id, id, WIRE_ID_LEN);
	memcpy(e->fp, fp, WIRE_MAC_LEN);
	e->t_ms = now_ms;
	e->next = s->bucket[b];
	s->bucket[b] = i + 1;
	s->count++;
	return AUTH_SEEN_NEW;
}

uint32_t
auth_seen_count(struct auth_seen *s, uint64_t now_ms)
{
	seen_expire(s, now_ms);
	return s->count;
}
