/*
 * err.h - the one error vocabulary of nudge, and parser diagnostics.
 *
 * Every fallible function in nudge returns 0 (NUDGE_OK) or one of the
 * negative codes below; results travel through out-parameters that are
 * written only on success.  Parsers (rules, log lines, config, msgpack)
 * also fill a caller-owned struct nudge_diag with a position and a message.
 * The numeric values are part of the control protocol (a reply's status) and
 * of the CLI's exit codes: never renumber, only append.
 */
#ifndef NUDGE_ERR_H
#define NUDGE_ERR_H

enum nudge_err {
	NUDGE_OK = 0,
	NUDGE_ENOMEM = -1,	/* allocation failed */
	NUDGE_EINVAL = -2,	/* an argument or field is invalid */
	NUDGE_ETRUNC = -3,	/* input ends before it is complete */
	NUDGE_ETOOBIG = -4,	/* a size, count or length is over its limit */
	NUDGE_EDEPTH = -5,	/* nesting deeper than allowed */
	NUDGE_ETYPE = -6,	/* a value has the wrong type */
	NUDGE_EVERSION = -7,	/* unknown protocol or schema version */
	NUDGE_EKIND = -8,	/* unknown message kind or command */
	NUDGE_EIO = -9,		/* operating system I/O error */
	NUDGE_ESTORE = -10,	/* the SQLite store failed */
	NUDGE_EBUSY = -11,	/* a resource is locked or busy */
	NUDGE_ENOTFOUND = -12,	/* no such visitor, key, rule, ... */
	NUDGE_EAUTH = -13,	/* missing or invalid credential */
	NUDGE_EPERM = -14,	/* the credential's role may not do this */
	NUDGE_ETIMEOUT = -15,	/* no answer in time */
	NUDGE_ECONN = -16,	/* cannot reach the peer */
	NUDGE_ECONFIG = -17,	/* bad configuration */
	NUDGE_ESYNTAX = -18,	/* a text does not parse */
	NUDGE_ERANGE = -19,	/* a number is out of range */
	NUDGE_EEXIST = -20,	/* already exists */
	NUDGE_ESTALE = -21,	/* a version is older than the current one */
	NUDGE_EFULL = -22,	/* a bounded queue or table is full */
	NUDGE_ERR_MIN = -22
};

/* Returns a static English phrase for an error code; never NULL. */
const char *nudge_strerror(int err);

/* Returns the code's name as a stable token ("EINVAL"), for --json output. */
const char *nudge_errname(int err);

#define NUDGE_DIAG_MSG 240

/*
 * Where and why a parse failed.  line and col are 1-based; 0 means "not
 * applicable" (msgpack offsets go in col, line stays 0).  The caller owns
 * the struct; parsers write it only when they fail.
 */
struct nudge_diag {
	int line;
	int col;
	char msg[NUDGE_DIAG_MSG];
};

/* Fills d (if not NULL) with a position and a printf-style message. */
void nudge_diag_set(struct nudge_diag *d, int line, int col, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

#endif
