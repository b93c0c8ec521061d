/*
 * netaddr.c - address and CIDR parsing and matching, X-Forwarded-For.
 *
 * Owns nothing; pure functions, any thread.  Header text from the network
 * is only ever copied into bounded stack buffers before inet_pton sees it.
 */
#include "netaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v4_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
    0xff};

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

int
net_addr_parse(struct net_addr *out, const char *s, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct net_addr a;

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return NUDGE_EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, a.b + 12) == 1) {
		memcpy(a.b, v4_prefix, sizeof(v4_prefix));
	} else if (inet_pton(AF_INET6, buf, a.b) != 1) {
		return NUDGE_EINVAL;
	}
	*out = a;
	return 0;
}

int
net_addr_from_sockaddr(struct net_addr *out, const struct sockaddr *sa)
{
	if (sa != NULL && sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		memcpy(out->b, v4_prefix, sizeof(v4_prefix));
		memcpy(out->b + 12, &in->sin_addr, 4);
		return 0;
	}
	if (sa != NULL && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		memcpy(out->b, &in6->sin6_addr, 16);
		return 0;
	}
	return NUDGE_EINVAL;
}

bool
net_addr_is_v4(const struct net_addr *a)
{
	return memcmp(a->b, v4_prefix, sizeof(v4_prefix)) == 0;
}

void
net_addr_format(const struct net_addr *a, char *buf, size_t cap)
{
	if (net_addr_is_v4(a))
		inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)cap);
	else
		inet_ntop(AF_INET6, a->b, buf, (socklen_t)cap);
}

static void
mask(struct net_addr *a, unsigned bits)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = bits >= 8 * (i + 1) ? 8 :
		    bits > 8 * i ? bits - 8 * i : 0;
		a->b[i] &= (uint8_t)(0xff00u >> keep);
	}
}

int
net_cidr_parse(struct net_cidr *out, const char *s, size_t len)
{
	const char *slash = memchr(s, '/', len);
	struct net_cidr c;
	unsigned bits = 0, max;
	size_t alen = slash ? (size_t)(slash - s) : len;

	if (net_addr_parse(&c.a, s, alen) != 0)
		return NUDGE_EINVAL;
	max = net_addr_is_v4(&c.a) ? 32 : 128;
	if (slash == NULL) {
		bits = max;
	} else {
		const char *p = slash + 1, *end = s + len;
		if (p == end || end - p > 3)
			return NUDGE_EINVAL;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return NUDGE_EINVAL;
			bits = bits * 10 + (unsigned)(*p - '0');
		}
		if (bits > max)
			return NUDGE_EINVAL;
	}
	c.bits = (uint8_t)(bits + (max == 32 ? 96 : 0));
	mask(&c.a, c.bits);
	*out = c;
	return 0;
}

bool
net_cidr_match(const struct net_cidr *c, const struct net_addr *a)
{
	struct net_addr m = *a;

	mask(&m, c->bits);
	return memcmp(m.b, c->a.b, 16) == 0;
}

int
net_cidrs_parse(struct net_cidrs *out, const char *list,
    struct nudge_diag *d)
{
	struct net_cidrs l = {0};
	const char *p = list ? list : "";

	while (*p != '\0') {
		size_t n;
		while (*p == ',' || is_blank(*p))
			p++;
		if ((n = strcspn(p, ", \t")) == 0)
			break;
		if (l.n == NET_CIDRS_MAX) {
			nudge_diag_set(d, 0, 0, "more than %d entries",
			    NET_CIDRS_MAX);
			return NUDGE_ETOOBIG;
		}
		if (net_cidr_parse(&l.c[l.n], p, n) != 0) {
			nudge_diag_set(d, 0, 0, "'%.*s' is not an address or "
			    "CIDR block", n > 64 ? 64 : (int)n, p);
			return NUDGE_EINVAL;
		}
		l.n++;
		p += n;
	}
	*out = l;
	return 0;
}

bool
net_cidrs_match(const struct net_cidrs *l, const struct net_addr *a)
{
	for (unsigned i = 0; i < l->n; i++)
		if (net_cidr_match(&l->c[i], a))
			return true;
	return false;
}

/*
 * The entry ending just before end in xff, trimmed: its start in *start,
 * and in *seg where its segment begins (just after a comma, or xff).
 */
static size_t
xff_prev(const char *xff, const char *end, const char **start,
    const char **seg)
{
	const char *e = end, *b;

	while (e > xff && is_blank(e[-1]))
		e--;
	b = e;
	while (b > xff && b[-1] != ',')
		b--;
	*seg = b;
	while (b < e && is_blank(*b))
		b++;
	*start = b;
	return (size_t)(e - b);
}

bool
net_client_addr(const struct net_addr *peer, const char *xff,
    const struct net_cidrs *trusted, struct net_addr *out)
{
	struct net_addr cur = *peer, next;
	const char *end, *start, *seg;
	bool from_xff = false;

	if (xff != NULL && net_cidrs_match(trusted, peer)) {
		end = xff + strnlen(xff, 4096);
		for (int hop = 0; hop < NET_XFF_HOPS_MAX && end > xff; hop++) {
			size_t n = xff_prev(xff, end, &start, &seg);
			if (n == 0 || net_addr_parse(&next, start, n) != 0)
				break;
			cur = next;
			from_xff = true;
			if (!net_cidrs_match(trusted, &cur) || seg == xff)
				break;
			end = seg - 1; /* the comma before this entry */
		}
	}
	*out = cur;
	return from_xff;
}
