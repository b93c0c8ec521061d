/*
 * geoip.c - libmaxminddb lookups of country.iso_code.
 *
 * Owns the MMDB handle (mmap'd, read-only after geoip_open); lookups from
 * any thread.  IPv4 addresses are looked up as IPv4 so that IPv4-only
 * databases work, and the answer is checked to be two ASCII letters.
 */
#include "geoip.h"

#include <maxminddb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct geoip {
	MMDB_s db;
};

int
geoip_open(struct geoip **out, const char *path, struct nudge_diag *d)
{
	struct geoip *g = calloc(1, sizeof(*g));
	int rv;

	if (g == NULL)
		return NUDGE_ENOMEM;
	if ((rv = MMDB_open(path, MMDB_MODE_MMAP, &g->db)) != MMDB_SUCCESS) {
		nudge_diag_set(d, 0, 0, "geoip_db %s: %s", path,
		    MMDB_strerror(rv));
		free(g);
		return NUDGE_EIO;
	}
	*out = g;
	return 0;
}

void
geoip_close(struct geoip *g)
{
	if (g == NULL)
		return;
	MMDB_close(&g->db);
	free(g);
}

static void
to_sockaddr(const struct net_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (net_addr_is_v4(a)) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, a->b + 12, 4);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, a->b, 16);
	}
}

bool
geoip_country(struct geoip *g, const struct net_addr *a, char cc[3])
{
	struct sockaddr_storage ss;
	MMDB_lookup_result_s res;
	MMDB_entry_data_s v;
	char tmp[3];
	int err = 0;

	if (g == NULL)
		return false;
	to_sockaddr(a, &ss);
	res = MMDB_lookup_sockaddr(&g->db, (struct sockaddr *)&ss, &err);
	if (err != MMDB_SUCCESS || !res.found_entry)
		return false;
	if (MMDB_get_value(&res.entry, &v, "country", "iso_code", NULL) !=
	    MMDB_SUCCESS || !v.has_data || v.type != MMDB_DATA_TYPE_UTF8_STRING ||
	    v.data_size != 2)
		return false;
	for (int i = 0; i < 2; i++) {
		char c = v.utf8_string[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c < 'A' || c > 'Z')
			return false;
		tmp[i] = c;
	}
	tmp[2] = '\0';
	memcpy(cc, tmp, sizeof(tmp));
	return true;
}
