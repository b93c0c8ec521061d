/*
 * log.c - leveled stderr logging; journald-aware.  Any thread: each line is
 * formatted into a local buffer and written with one call.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *log_program = "nudge";
static int log_level = LOG_LEVEL_INFO;
static int log_journal;

static const char *const log_names[] = {"error", "warn", "info", "debug"};
/* syslog priorities journald reads from a "<N>" prefix */
static const int log_prio[] = {3, 4, 6, 7};

/*
 * stderr is the journal only if JOURNAL_STREAM ("device:inode") names the
 * very file stderr is: a child whose stderr was redirected inherits the
 * variable but must not write "<N>" prefixes into a file.
 */
static int
log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) != 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *program, int level)
{
	log_program = program;
	log_level = level;
	log_journal = log_stderr_is_journal();
}

void
log_set_level(int level)
{
	log_level = level;
}

int
log_get_level(void)
{
	return log_level;
}

int
log_level_from_name(const char *name)
{
	for (int i = 0; i <= LOG_LEVEL_DEBUG; i++)
		if (strcmp(name, log_names[i]) == 0)
			return i;
	return -1;
}

void
log_msg(int level, const char *fmt, ...)
{
	char line[1024];
	size_t n;
	va_list ap;

	if (level > log_level || level < 0)
		return;
	if (log_journal) {
		n = (size_t)snprintf(line, sizeof(line), "<%d>",
		    log_prio[level]);
	} else {
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
		n = (size_t)snprintf(line, sizeof(line), "%s %s %s: ", stamp,
		    log_program, log_names[level]);
	}
	va_start(ap, fmt);
	if (n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	n = strlen(line);
	if (n + 1 < sizeof(line)) {
		line[n++] = '\n';
		line[n] = '\0';
	} else {
		line[sizeof(line) - 2] = '\n';
		n = sizeof(line) - 1;
	}
	fwrite(line, 1, n, stderr);
}
