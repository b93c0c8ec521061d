/*
 * tlsconf.c - TLS configuration for nng listeners and dialers (see
 * tlsconf.h for why it is process-wide).
 *
 * Owns the server nng_tls_config (built once) and the client's file
 * names (a client configuration is built per dial, because the server
 * name it verifies is per URL and nng freezes a configuration once an
 * endpoint uses it).  tlsconf_server/tlsconf_client/tlsconf_fini run on
 * the main thread before/after every other thread; listen and dial may be
 * called from any thread in between.
 */
#include "tlsconf.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/supplemental/tls/tls.h>

#include "auth.h"
#include "conf.h"

#define TLS_PEM_MAX (256u << 10)

static struct {
	nng_tls_config *server;
	char ca[CONF_PATH_MAX + 1];	/* client side */
	char cert[CONF_PATH_MAX + 1];
	char key[CONF_PATH_MAX + 1];
} tls;

bool
tlsconf_is_tls(const char *url)
{
	return strncmp(url, "tls+tcp://", 10) == 0;
}

/* Reads a PEM file into a NUL-terminated buffer; owner_only for keys. */
static char *
pem_read(const char *path, bool owner_only, struct nudge_diag *d)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *b;
	ssize_t r;
	size_t n = 0;

	if (fd < 0) {
		nudge_diag_set(d, 0, 0, "%s: cannot open it", path);
		return NULL;
	}
	if (owner_only && auth_check_perms(fd, path, d) != 0) {
		close(fd);
		return NULL;
	}
	if ((b = malloc(TLS_PEM_MAX + 1)) == NULL) {
		close(fd);
		nudge_diag_set(d, 0, 0, "out of memory");
		return NULL;
	}
	while ((r = read(fd, b + n, TLS_PEM_MAX - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (r < 0 || n == 0 || n == TLS_PEM_MAX) {
		explicit_bzero(b, TLS_PEM_MAX + 1);
		free(b);
		nudge_diag_set(d, 0, 0, "%s: cannot read a PEM file from it",
		    path);
		return NULL;
	}
	b[n] = '\0';
	return b;
}

static void
pem_free(char *b)
{
	if (b != NULL) {
		explicit_bzero(b, strlen(b));
		free(b);
	}
}

/* Loads our certificate and key into cfg. */
static int
own_cert(nng_tls_config *cfg, const char *cert, const char *key,
    struct nudge_diag *d)
{
	char *c = pem_read(cert, false, d), *k;
	int rv;

	if (c == NULL)
		return NUDGE_ECONFIG;
	if ((k = pem_read(key, true, d)) == NULL) {
		pem_free(c);
		return NUDGE_EPERM;
	}
	rv = nng_tls_config_own_cert(cfg, c, k, NULL);
	pem_free(c);
	pem_free(k);
	if (rv != 0) {
		nudge_diag_set(d, 0, 0, "%s, %s: not a certificate and its "
		    "key (%s)", cert, key, nng_strerror(rv));
		return NUDGE_ECONFIG;
	}
	return 0;
}

static int
ca_file(nng_tls_config *cfg, const char *ca, struct nudge_diag *d)
{
	int rv = nng_tls_config_ca_file(cfg, ca);

	if (rv != 0) {
		nudge_diag_set(d, 0, 0, "%s: not a PEM CA certificate (%s)",
		    ca, nng_strerror(rv));
		return NUDGE_ECONFIG;
	}
	return 0;
}

int
tlsconf_server(const char *cert, const char *key, const char *ca,
    bool verify_peer, struct nudge_diag *d)
{
	nng_tls_config *cfg;
	int rv;

	if (cert[0] == '\0')
		return 0;
	if (key[0] == '\0' || (verify_peer && ca[0] == '\0')) {
		nudge_diag_set(d, 0, 0, key[0] == '\0' ? "tls_cert needs "
		    "tls_key" : "tls_verify_peer needs tls_ca");
		return NUDGE_ECONFIG;
	}
	if (nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER) != 0) {
		nudge_diag_set(d, 0, 0, "TLS is not available in this nng");
		return NUDGE_ECONFIG;
	}
	rv = own_cert(cfg, cert, key, d);
	if (rv == 0 && ca[0] != '\0')
		rv = ca_file(cfg, ca, d);
	if (rv == 0 && nng_tls_config_auth_mode(cfg, verify_peer ?
	    NNG_TLS_AUTH_MODE_REQUIRED : NNG_TLS_AUTH_MODE_NONE) != 0)
		rv = NUDGE_ECONFIG;
	if (rv != 0) {
		nng_tls_config_free(cfg);
		return rv;
	}
	tls.server = cfg;
	return 0;
}

int
tlsconf_client(const char *ca, const char *cert, const char *key,
    struct nudge_diag *d)
{
	char *b;

	if ((cert[0] != '\0') != (key[0] != '\0')) {
		nudge_diag_set(d, 0, 0, "tls_cert and tls_key go together");
		return NUDGE_ECONFIG;
	}
	if (ca[0] == '\0')
		return 0;
	if ((b = pem_read(ca, false, d)) == NULL)
		return NUDGE_ECONFIG;
	pem_free(b);
	if (key[0] != '\0') {
		if ((b = pem_read(key, true, d)) == NULL)
			return NUDGE_EPERM;
		pem_free(b);
	}
	snprintf(tls.ca, sizeof(tls.ca), "%s", ca);
	snprintf(tls.cert, sizeof(tls.cert), "%s", cert);
	snprintf(tls.key, sizeof(tls.key), "%s", key);
	return 0;
}

int
tlsconf_listen(nng_socket s, const char *url)
{
	nng_listener l;
	int rv;

	if (!tlsconf_is_tls(url))
		return nng_listen(s, url, NULL, 0);
	if (tls.server == NULL)
		return NNG_ENOTSUP;
	if ((rv = nng_listener_create(&l, s, url)) != 0)
		return rv;
	if ((rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG,
	    tls.server)) != 0 || (rv = nng_listener_start(l, 0)) != 0)
		nng_listener_close(l);
	return rv;
}

/* "tls+tcp://host:port" -> host (brackets of an IPv6 address removed). */
static void
url_host(const char *url, char *host, size_t cap)
{
	const char *h = url + 10, *end;

	if (*h == '[') {
		h++;
		end = strchr(h, ']');
	} else {
		end = strrchr(h, ':');
	}
	if (end == NULL)
		end = h + strlen(h);
	snprintf(host, cap, "%.*s", (int)(end - h), h);
}

static int
client_config(nng_tls_config **out, const char *url)
{
	struct nudge_diag d = {0};
	nng_tls_config *cfg;
	char host[256];
	int rv;

	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0)
		return rv;
	url_host(url, host, sizeof(host));
	if ((rv = nng_tls_config_ca_file(cfg, tls.ca)) != 0 ||
	    (rv = nng_tls_config_server_name(cfg, host)) != 0 ||
	    (rv = nng_tls_config_auth_mode(cfg,
	    NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
	    (tls.cert[0] != '\0' &&
	    own_cert(cfg, tls.cert, tls.key, &d) != 0)) {
		nng_tls_config_free(cfg);
		return rv != 0 ? rv : NNG_ECRYPTO;
	}
	*out = cfg;
	return 0;
}

int
tlsconf_dial(nng_socket s, const char *url, int flags)
{
	nng_tls_config *cfg;
	nng_dialer dl;
	int rv;

	if (!tlsconf_is_tls(url))
		return nng_dial(s, url, NULL, flags);
	if (tls.ca[0] == '\0')
		return NNG_ENOTSUP;
	if ((rv = client_config(&cfg, url)) != 0)
		return rv;
	if ((rv = nng_dialer_create(&dl, s, url)) == 0) {
		/* the dialer takes its own hold on cfg */
		if ((rv = nng_dialer_set_ptr(dl, NNG_OPT_TLS_CONFIG,
		    cfg)) != 0 || (rv = nng_dialer_start(dl, flags)) != 0)
			nng_dialer_close(dl);
	}
	nng_tls_config_free(cfg);
	return rv;
}

void
tlsconf_fini(void)
{
	if (tls.server != NULL)
		nng_tls_config_free(tls.server);
	memset(&tls, 0, sizeof(tls));
}
