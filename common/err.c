/*
 * err.c - names and phrases of nudge's error codes, and diagnostics.
 * Pure functions; any thread.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

struct err_text {
	const char *name;
	const char *phrase;
};

/* Indexed by -code. */
static const struct err_text err_texts[] = {
	{"OK", "success"},
	{"ENOMEM", "out of memory"},
	{"EINVAL", "invalid argument"},
	{"ETRUNC", "input truncated"},
	{"ETOOBIG", "input too large"},
	{"EDEPTH", "nesting too deep"},
	{"ETYPE", "wrong type"},
	{"EVERSION", "unsupported version"},
	{"EKIND", "unknown kind or command"},
	{"EIO", "I/O error"},
	{"ESTORE", "storage error"},
	{"EBUSY", "resource busy"},
	{"ENOTFOUND", "not found"},
	{"EAUTH", "authentication failed"},
	{"EPERM", "permission denied"},
	{"ETIMEOUT", "timed out"},
	{"ECONN", "cannot connect"},
	{"ECONFIG", "configuration error"},
	{"ESYNTAX", "syntax error"},
	{"ERANGE", "value out of range"},
	{"EEXIST", "already exists"},
	{"ESTALE", "version is not newer"},
	{"EFULL", "queue or table full"},
};

static const struct err_text *
err_lookup(int err)
{
	if (err > 0 || err < NUDGE_ERR_MIN)
		return NULL;
	return &err_texts[-err];
}

const char *
nudge_strerror(int err)
{
	const struct err_text *t = err_lookup(err);
	return t ? t->phrase : "unknown error";
}

const char *
nudge_errname(int err)
{
	const struct err_text *t = err_lookup(err);
	return t ? t->name : "EUNKNOWN";
}

void
nudge_diag_set(struct nudge_diag *d, int line, int col, const char *fmt, ...)
{
	va_list ap;

	if (d == NULL)
		return;
	d->line = line;
	d->col = col;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
}
