/*
 * tlsconf.h - nng's TLS transport (tls+tcp://, mbedtls) for every nudge
 * listener and dialer.
 *
 * A process is either a server of TLS (the agent: its certificate and
 * key, and for mutual TLS the CA its clients' certificates must chain to)
 * or a client (the console: the CA the agents' certificates must chain
 * to, and for mutual TLS its own certificate and key).  main() calls
 * tlsconf_server() or tlsconf_client() once, before any socket exists;
 * then tlsconf_listen() / tlsconf_dial() replace nng_listen() / nng_dial()
 * everywhere: a tls+tcp:// URL gets the TLS configuration, other URLs go
 * to nng unchanged.  This is the one piece of process-wide state in the
 * library, because nng's URL-based listen and dial have nowhere to carry
 * a configuration and every socket of a process shares the same one.  It
 * is written once before other threads start and read-only afterwards.
 *
 * Clients always verify the agent's certificate (a tls+tcp:// URL without
 * a CA is refused) against the URL's host name: the certificate's CN (or
 * a DNS subjectAltName) must be that name; mbedtls 2.28 does not match IP
 * subjectAltNames, so an address in the URL must be the certificate's CN.
 * Private key files get the same owner-only check as key files (auth.h).
 */
#ifndef NUDGE_TLSCONF_H
#define NUDGE_TLSCONF_H

#include <stdbool.h>

#include <nng/nng.h>

#include "err.h"

/* True for "tls+tcp://..." URLs. */
bool tlsconf_is_tls(const char *url);

/*
 * The agent's side.  cert and key: PEM files (key owner-only); ca: PEM
 * file of the CA clients must present a certificate from, "" for none;
 * verify_peer: require a client certificate from ca (mutual TLS).
 * Empty cert means "no TLS": tls+tcp:// listeners are then refused.
 * Returns 0, NUDGE_ECONFIG or NUDGE_EPERM with "path: why" in d.
 */
int tlsconf_server(const char *cert, const char *key, const char *ca,
    bool verify_peer, struct nudge_diag *d);

/*
 * The console's side.  ca: the CA agents' certificates chain to ("" = no
 * TLS); cert and key: our certificate for agents that verify peers ("" =
 * none).  The files are checked here and read again at each dial.
 */
int tlsconf_client(const char *ca, const char *cert, const char *key,
    struct nudge_diag *d);

/*
 * nng_listen / nng_dial with the configuration above for tls+tcp://.
 * Return 0 or an nng error (NNG_ENOTSUP for tls+tcp:// when no
 * configuration was set up, NNG_ECRYPTO when the files cannot be used).
 */
int tlsconf_listen(nng_socket s, const char *url);
int tlsconf_dial(nng_socket s, const char *url, int flags);

/* Releases the configuration (end of main). */
void tlsconf_fini(void);

#endif
