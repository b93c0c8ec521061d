/*
 * log.h - leveled logging to stderr, in the journal's style.
 *
 * Lines are "<N>nudged: message" prefixes when stderr is the journal
 * (JOURNAL_STREAM set) so journald keeps the level and adds the time;
 * otherwise "2026-12-01T21:30:00Z warn: message".  Thread-safe (one
 * fprintf per line).  log_init is called once by main.
 */
#ifndef NUDGE_LOG_H
#define NUDGE_LOG_H

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

void log_init(const char *program, int level);
void log_set_level(int level);
int log_get_level(void);
/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int log_level_from_name(const char *name);

void log_msg(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
