/*
 * netrange.c - datacenter address ranges (see netrange.h).
 *
 * Owns one sorted array of disjoint [lo, hi] intervals of 16-byte
 * addresses (IPv4 mapped into IPv6, as netaddr keeps them), so that a
 * lookup is one binary search over memcmp order whatever the family.
 * Built by whichever thread loads the file, read by any thread after.
 */
#include "netrange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The file is read whole: bounded well past NETRANGE_MAX short lines. */
#define NETRANGE_FILE_MAX (32u << 20)

struct netrange_iv {
	uint8_t lo[16], hi[16];
};

struct netrange {
	size_t n, cap;
	struct netrange_iv *iv;
};

static void
iv_of_cidr(struct netrange_iv *iv, const struct net_cidr *c)
{
	memcpy(iv->lo, c->a.b, 16);
	memcpy(iv->hi, c->a.b, 16);
	for (unsigned bit = c->bits; bit < 128; bit++)
		iv->hi[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
}

static int
iv_cmp(const void *x, const void *y)
{
	return memcmp(((const struct netrange_iv *)x)->lo,
	    ((const struct netrange_iv *)y)->lo, 16);
}

/* b starts at most one past a's end (a.hi + 1, without overflow). */
static bool
iv_touches(const struct netrange_iv *a, const struct netrange_iv *b)
{
	uint8_t next[16];
	int i;

	if (memcmp(b->lo, a->hi, 16) <= 0)
		return true;
	memcpy(next, a->hi, 16);
	for (i = 15; i >= 0 && ++next[i] == 0; i--)
		;
	return i >= 0 && memcmp(b->lo, next, 16) == 0;
}

/* Sorts and merges in place: what makes the binary search correct. */
static void
netrange_merge(struct netrange *t)
{
	size_t w = 0;

	if (t->n == 0)
		return;
	qsort(t->iv, t->n, sizeof(t->iv[0]), iv_cmp);
	for (size_t i = 1; i < t->n; i++) {
		struct netrange_iv *cur = &t->iv[w];
		if (iv_touches(cur, &t->iv[i])) {
			if (memcmp(t->iv[i].hi, cur->hi, 16) > 0)
				memcpy(cur->hi, t->iv[i].hi, 16);
		} else {
			t->iv[++w] = t->iv[i];
		}
	}
	t->n = w + 1;
}

static int
netrange_add(struct netrange *t, const struct net_cidr *c)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct netrange_iv *iv;
		if (cap > NETRANGE_MAX)
			cap = NETRANGE_MAX;
		if (t->n == cap)
			return NUDGE_ETOOBIG;
		if ((iv = realloc(t->iv, cap * sizeof(*iv))) == NULL)
			return NUDGE_ENOMEM;
		t->iv = iv;
		t->cap = cap;
	}
	iv_of_cidr(&t->iv[t->n++], c);
	return 0;
}

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r';
}

/* One line, comment stripped: blank, or exactly one CIDR. */
static int
netrange_line(struct netrange *t, const char *p, size_t len)
{
	const char *hash = memchr(p, '#', len);
	struct net_cidr c;
	size_t n;

	if (hash != NULL)
		len = (size_t)(hash - p);
	while (len > 0 && is_space(*p))
		p++, len--;
	while (len > 0 && is_space(p[len - 1]))
		len--;
	if (len == 0)
		return 0;
	for (n = 0; n < len && !is_space(p[n]); n++)
		;
	if (n != len || net_cidr_parse(&c, p, len) != 0)
		return NUDGE_ESYNTAX;
	return netrange_add(t, &c);
}

static const char *
netrange_why(int rv)
{
	switch (rv) {
	case NUDGE_ESYNTAX:
		return "not an address or CIDR range";
	case NUDGE_ETOOBIG:
		return "over the ranges or line length allowed";
	default:
		return "out of memory";
	}
}

int
netrange_parse(struct netrange **out, const char *text, size_t len,
    const char *name, struct nudge_diag *d)
{
	struct netrange *t = calloc(1, sizeof(*t));
	const char *p = text, *end = text + len;
	int line = 0, rv = 0;

	if (t == NULL)
		return NUDGE_ENOMEM;
	while (p < end && rv == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		line++;
		rv = n > NETRANGE_LINE_MAX ? NUDGE_ETOOBIG :
		    netrange_line(t, p, n);
		p += n + (nl != NULL);
	}
	if (rv != 0) {
		nudge_diag_set(d, line, 1, "%s:%d: %s", name, line,
		    netrange_why(rv));
		netrange_free(t);
		return rv;
	}
	netrange_merge(t);
	*out = t;
	return 0;
}

/* Reads the file whole (bounded by NETRANGE_FILE_MAX) into *buf. */
static int
netrange_read(const char *path, char **buf, size_t *len,
    struct nudge_diag *d)
{
	FILE *f = fopen(path, "rb");
	char *b;
	size_t n;

	if (f == NULL) {
		nudge_diag_set(d, 0, 0, "%s: cannot be read", path);
		return NUDGE_EIO;
	}
	if ((b = malloc(NETRANGE_FILE_MAX + 1)) == NULL) {
		fclose(f);
		return NUDGE_ENOMEM;
	}
	n = fread(b, 1, NETRANGE_FILE_MAX + 1, f);
	bool bad = ferror(f) != 0;
	fclose(f);
	if (bad || n > NETRANGE_FILE_MAX) {
		nudge_diag_set(d, 0, 0, "%s: %s", path, bad ?
		    "read error" : "over 32 MiB");
		free(b);
		return bad ? NUDGE_EIO : NUDGE_ETOOBIG;
	}
	*buf = b;
	*len = n;
	return 0;
}

int
netrange_load(struct netrange **out, const char *path, struct nudge_diag *d)
{
	char *buf;
	size_t len;
	int rv = netrange_read(path, &buf, &len, d);

	if (rv != 0)
		return rv;
	rv = netrange_parse(out, buf, len, path, d);
	free(buf);
	return rv;
}

void
netrange_free(struct netrange *t)
{
	if (t == NULL)
		return;
	free(t->iv);
	free(t);
}

bool
netrange_has(const struct netrange *t, const struct net_addr *a)
{
	size_t lo = 0, hi;

	if (t == NULL)
		return false;
	hi = t->n;
	/* the first interval starting after a; the one before may hold it */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(t->iv[mid].lo, a->b, 16) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 && memcmp(a->b, t->iv[lo - 1].hi, 16) <= 0;
}

size_t
netrange_count(const struct netrange *t)
{
	return t ? t->n : 0;
}

void
netrange_ref_init(struct netrange_ref *r)
{
	pthread_rwlock_init(&r->lock, NULL);
	r->set = NULL;
}

void
netrange_ref_fini(struct netrange_ref *r)
{
	netrange_free(r->set);
	r->set = NULL;
	pthread_rwlock_destroy(&r->lock);
}

void
netrange_ref_swap(struct netrange_ref *r, struct netrange *t)
{
	struct netrange *old;

	pthread_rwlock_wrlock(&r->lock);
	old = r->set;
	r->set = t;
	pthread_rwlock_unlock(&r->lock);
	netrange_free(old);
}

bool
netrange_ref_has(struct netrange_ref *r, const struct net_addr *a)
{
	bool in;

	pthread_rwlock_rdlock(&r->lock);
	in = netrange_has(r->set, a);
	pthread_rwlock_unlock(&r->lock);
	return in;
}

size_t
netrange_ref_count(struct netrange_ref *r)
{
	size_t n;

	pthread_rwlock_rdlock(&r->lock);
	n = netrange_count(r->set);
	pthread_rwlock_unlock(&r->lock);
	return n;
}
