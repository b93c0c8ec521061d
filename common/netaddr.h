/*
 * netaddr.h - client addresses: IPv4/IPv6 parsing, CIDR lists, and the one
 * rule for trusting X-Forwarded-For.
 *
 * An address is kept as 16 bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d),
 * so one comparison covers both families and "10.0.0.0/8" matches a peer
 * that a dual-stack socket reports as ::ffff:10.1.2.3.  Addresses are used
 * for rate limiting and country lookup only; nothing here stores them.
 * Pure functions over caller-owned structs; any thread.
 */
#ifndef NUDGE_NETADDR_H
#define NUDGE_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct sockaddr;

struct net_addr {
	uint8_t b[16];	/* network order; IPv4 mapped into ::ffff:0:0/96 */
};

struct net_cidr {
	struct net_addr a;	/* masked */
	uint8_t bits;		/* prefix length out of 128 */
};

#define NET_CIDRS_MAX 32
#define NET_XFF_HOPS_MAX 16	/* X-Forwarded-For entries looked at */

struct net_cidrs {
	unsigned n;
	struct net_cidr c[NET_CIDRS_MAX];
};

/* Parses "192.0.2.1", "2001:db8::1" or "[2001:db8::1]" (len bytes). */
int net_addr_parse(struct net_addr *out, const char *s, size_t len);
/* From an AF_INET / AF_INET6 socket address; NUDGE_EINVAL otherwise. */
int net_addr_from_sockaddr(struct net_addr *out, const struct sockaddr *sa);
bool net_addr_is_v4(const struct net_addr *a);
/* "192.0.2.1" or "2001:db8::1" into buf (>= 46 bytes). */
void net_addr_format(const struct net_addr *a, char *buf, size_t cap);

/* "10.0.0.0/8", "2001:db8::/32" or a bare address (full length). */
int net_cidr_parse(struct net_cidr *out, const char *s, size_t len);
bool net_cidr_match(const struct net_cidr *c, const struct net_addr *a);

/*
 * Parses a list separated by commas and/or blanks ("" is the empty list).
 * Returns 0, or NUDGE_EINVAL / NUDGE_ETOOBIG with the bad entry in d->msg.
 */
int net_cidrs_parse(struct net_cidrs *out, const char *list,
    struct nudge_diag *d);
bool net_cidrs_match(const struct net_cidrs *l, const struct net_addr *a);

/*
 * The client of a request that came from peer with header xff (NULL if
 * absent): peer itself unless peer is in trusted; then X-Forwarded-For is
 * walked from its right end, skipping trusted proxies, and the first
 * address not trusted is the client (what each trusted hop appended).  A
 * malformed entry stops the walk at the last good address.  Writes *out
 * always; returns true when the address came from the header.
 */
bool net_client_addr(const struct net_addr *peer, const char *xff,
    const struct net_cidrs *trusted, struct net_addr *out);

#endif
