/*
 * geoip.h - country of a client address from a MaxMind-format database
 * (GeoLite2-Country, DB-IP lite, or any MMDB with country.iso_code).
 *
 * The database is memory-mapped read-only at open; lookups take no lock and
 * may run on any thread at once.  Only the two-letter country is read:
 * geolocation is never finer than country.
 */
#ifndef NUDGE_GEOIP_H
#define NUDGE_GEOIP_H

#include <stdbool.h>

#include "err.h"
#include "netaddr.h"

struct geoip;

/* Opens path.  Returns 0 and *out, or NUDGE_EIO with d->msg. */
int geoip_open(struct geoip **out, const char *path, struct nudge_diag *d);
void geoip_close(struct geoip *g);

/*
 * Looks a up: true and cc = "FR" (upper case, NUL-terminated) when the
 * database knows it; cc is written only then.
 */
bool geoip_country(struct geoip *g, const struct net_addr *a, char cc[3]);

#endif
