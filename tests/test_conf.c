/*
 * test_conf.c - configuration: defaults, a full file, the line and message
 * of every kind of mistake, environment and flag precedence, and the
 * packaged packaging/nudged.conf (as shipped and with every default
 * uncommented).  Run from the source tree, or set NUDGE_SRCDIR.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "log.h"

static struct nudge_config *
conf_new(void)
{
	struct nudge_config *c = malloc(sizeof(*c));

	assert_non_null(c);
	conf_defaults(c);
	return c;
}

static void
test_defaults(void **state)
{
	struct nudge_config *c = conf_new();
	const char *run = getuid() == 0 ? "ipc:///run/nudge/" : "ipc:///";

	(void)state;
	assert_string_equal(c->path, "");
	assert_true(strlen(c->agent.name) > 0 && strlen(c->agent.name) < 64);
	assert_int_equal(
	    strspn(c->agent.name, "abcdefghijklmnopqrstuvwxyz"
	                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"),
	    strlen(c->agent.name));
	assert_string_equal(c->agent.pub, "tcp://127.0.0.1:7450");
	assert_true(strncmp(c->agent.control, run, strlen(run)) == 0);
	assert_non_null(strstr(c->agent.control, "/nudge"));
	assert_non_null(strstr(c->agent.control, "/control.sock"));
	assert_non_null(strstr(c->agent.ingest, "/ingest.sock"));
	assert_non_null(strstr(c->agent.push, "/push.sock"));
	assert_string_equal(c->agent.advertise, "");
	if (getuid() == 0)
		assert_string_equal(c->agent.db, "/var/lib/nudge/nudged.db");
	else
		assert_non_null(strstr(c->agent.db, "/nudged.db"));
	assert_int_equal(c->agent.shards, 8);
	assert_int_equal(c->agent.session_timeout_ms, 30 * 60 * 1000);
	assert_int_equal(c->agent.snapshot_ms, 1000);
	assert_int_equal(c->agent.delta_ms, 100);
	assert_int_equal(c->agent.sample_sessions, 50);
	assert_int_equal(c->agent.sample_events, 200);
	assert_int_equal(c->agent.log_level, LOG_LEVEL_INFO);
	assert_string_equal(c->funnel.name, "shop");
	assert_int_equal(c->funnel.n, 5);
	assert_int_equal(c->console.n_agents, 0);
	assert_int_equal(c->console.refresh_ms, 1000);
	assert_int_equal(c->console.reconcile_auto, 0);
	free(c);
}

static void
test_durations(void **state)
{
	uint32_t ms = 7;

	(void)state;
	assert_int_equal(conf_parse_duration("30m", 1000, &ms), 0);
	assert_int_equal(ms, 1800000);
	assert_int_equal(conf_parse_duration("250ms", 1000, &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(conf_parse_duration("90s", 1, &ms), 0);
	assert_int_equal(ms, 90000);
	assert_int_equal(conf_parse_duration("2h", 1, &ms), 0);
	assert_int_equal(ms, 7200000);
	assert_int_equal(conf_parse_duration("1d", 1, &ms), 0);
	assert_int_equal(ms, 86400000);
	assert_int_equal(conf_parse_duration("90", 1000, &ms), 0);
	assert_int_equal(ms, 90000);
	ms = 7;
	assert_int_equal(conf_parse_duration("", 1, &ms), NUDGE_EINVAL);
	assert_int_equal(conf_parse_duration("5x", 1, &ms), NUDGE_EINVAL);
	assert_int_equal(conf_parse_duration("-1", 1, &ms), NUDGE_EINVAL);
	assert_int_equal(conf_parse_duration("1 s", 1, &ms), NUDGE_EINVAL);
	assert_int_equal(conf_parse_duration("m", 1, &ms), NUDGE_EINVAL);
	assert_int_equal(
	    conf_parse_duration("4294967296ms", 1, &ms), NUDGE_ERANGE);
	assert_int_equal(conf_parse_duration("50d", 1, &ms), NUDGE_ERANGE);
	assert_int_equal(
	    conf_parse_duration("99999999999999999999999s", 1, &ms),
	    NUDGE_ERANGE);
	assert_int_equal(ms, 7);
}

static const char full_file[] =
    "; every key, none at its default\n"
    "[agent]\n"
    "name = shop-web.2_a\n"
    "pub = tls+tcp://0.0.0.0:7451\n"
    "control = tcp://127.0.0.1:7452\n"
    "ingest = ipc:///tmp/n/ingest.sock\n"
    "push = inproc://push\n"
    "advertise = tcp://10.0.0.2:7452\n"
    "db = /tmp/n/test.db\n"
    "shards = 16\n"
    "session_timeout = 45m\n"
    "snapshot_ms = 500\n"
    "delta_ms = 50ms\n"
    "sample_sessions = 0\n"
    "sample_events = 100000\n"
    "log_level = debug\n"
    "\n"
    "[funnel]\n"
    "name = checkout_flow\n"
    "steps = visit\n"
    "    -> basket: event == \"add_to_cart\"   ; inline comment\n"
    "\n"
    "    # a comment inside the value\n"
    "    -> done: event == \"purchase\"\n"
    "[console]\n"
    "agent = tcp://a:7450\n"
    "agent = tcp://b:7450\n"
    "refresh_ms = 2s\n"
    "reconcile = auto\n";

static void
check_full(const struct nudge_config *c)
{
	assert_string_equal(c->agent.name, "shop-web.2_a");
	assert_string_equal(c->agent.pub, "tls+tcp://0.0.0.0:7451");
	assert_string_equal(c->agent.control, "tcp://127.0.0.1:7452");
	assert_string_equal(c->agent.ingest, "ipc:///tmp/n/ingest.sock");
	assert_string_equal(c->agent.push, "inproc://push");
	assert_string_equal(c->agent.advertise, "tcp://10.0.0.2:7452");
	assert_string_equal(c->agent.db, "/tmp/n/test.db");
	assert_int_equal(c->agent.shards, 16);
	assert_int_equal(c->agent.session_timeout_ms, 45 * 60000);
	assert_int_equal(c->agent.snapshot_ms, 500);
	assert_int_equal(c->agent.delta_ms, 50);
	assert_int_equal(c->agent.sample_sessions, 0);
	assert_int_equal(c->agent.sample_events, 100000);
	assert_int_equal(c->agent.log_level, LOG_LEVEL_DEBUG);
	assert_string_equal(c->funnel.name, "checkout_flow");
	assert_int_equal(c->funnel.n, 3);
	assert_string_equal(c->funnel.step[1].label, "basket");
	assert_string_equal(c->funnel.step[2].label, "done");
	assert_int_equal(c->console.n_agents, 2);
	assert_string_equal(c->console.agents[0], "tcp://a:7450");
	assert_string_equal(c->console.agents[1], "tcp://b:7450");
	assert_int_equal(c->console.refresh_ms, 2000);
	assert_int_equal(c->console.reconcile_auto, 1);
}

static void
test_full_file(void **state)
{
	struct nudge_config *c = conf_new();
	struct nudge_diag d = {0};
	char path[] = "/tmp/nudge-conf-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;

	(void)state;
	assert_int_equal(conf_load_string(c, "full", full_file, &d), 0);
	check_full(c);
	assert_string_equal(c->path, "");

	assert_true(fd >= 0);
	assert_non_null(f = fdopen(fd, "w"));
	fputs(full_file, f);
	fclose(f);
	conf_defaults(c);
	assert_int_equal(conf_load(c, path, &d), 0);
	check_full(c);
	assert_string_equal(c->path, path);

	/* a NUL byte in a file is refused, not taken as the line's end */
	assert_non_null(f = fopen(path, "w"));
	fwrite("[agent]\nname = a\0b\n", 1, 20, f);
	fclose(f);
	assert_int_equal(conf_load(c, path, &d), NUDGE_ECONFIG);
	assert_int_equal(d.line, 2);
	assert_int_equal(d.col, 9);
	assert_string_equal(d.msg, "NUL byte in line");
	unlink(path);

	memset(&d, 0, sizeof(d));
	assert_int_equal(
	    conf_load(c, "/nonexistent/nudged.conf", &d), NUDGE_EIO);
	assert_int_equal(d.line, 0);
	assert_non_null(strstr(d.msg, "/nonexistent/nudged.conf"));
	free(c);
}

struct bad_case {
	const char *text;
	int line;
	int col;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
    {"[agent]\nbogus = 1\n", 2, 1, "unknown key 'bogus' in [agent]"},
    {"[nope]\nx = 1\n", 2, 1, "unknown section [nope]"},
    {"x = 1\n", 1, 1, "key 'x' outside any section"},
    {"[agent]\nshards = 0\n", 2, 10, "shards: expected 1..256, got '0'"},
    {"[agent]\nshards = 257\n", 2, 10, "shards: expected 1..256, got '257'"},
    {"[agent]\nshards = 4x\n", 2, 10, "shards: expected 1..256, got '4x'"},
    {"[agent]\npub = http://x\n", 2, 7,
        "pub: 'http://x' is not a tcp://, ipc://, tls+tcp:// or inproc:// "
        "URL"},
    {"[agent]\ncontrol = tcp://\n", 2, 11,
        "control: 'tcp://' is not a tcp://, ipc://, tls+tcp:// or "
        "inproc:// URL"},
    {"[agent]\nlog_level = loud\n", 2, 13,
        "log_level: 'loud' is not one of error, warn, info, debug"},
    {"[agent]\nsession_timeout = 10x\n", 2, 19,
        "session_timeout: '10x' is not a duration (a number with ms, s, "
        "m, h or d)"},
    {"[agent]\nsession_timeout = 8d\n", 2, 19,
        "session_timeout: expected 1s..7d, got 8d"},
    {"[agent]\nsnapshot_ms = 5s\n", 2, 15,
        "snapshot_ms: expected 100ms..1s, got 5s"},
    {"[agent]\ndelta_ms = 10\n", 2, 12,
        "delta_ms: expected 20ms..1s, got 10ms"},
    {"[agent]\nsample_sessions = 1001\n", 2, 19,
        "sample_sessions: expected 0..1000, got '1001'"},
    {"[agent]\nsample_events = 100001\n", 2, 17,
        "sample_events: expected 0..100000, got '100001'"},
    {"[agent]\nname = bad name!\n", 2, 8,
        "name: 'bad name!' has a character outside A-Z a-z 0-9 . _ -"},
    {"[agent]\ndb =\n", 2, 5, "db: expected a file name"},
    {"[funnel]\nsteps = visit -> bogus\n", 2, 18,
        "steps (col 10): unknown predicate 'bogus' (expected visit, page "
        "or event)"},
    {"[funnel]\nsteps = visit\n  -> pag ~ \"/x\"\n", 3, 6,
        "steps (col 4): unknown predicate 'pag' (expected visit, page or "
        "event)"},
    {"[funnel]\nname = a/b\n", 2, 8,
        "name: 'a/b' has a character outside A-Z a-z 0-9 . _ -"},
    {"[console]\nrefresh_ms = 10ms\n", 2, 14,
        "refresh_ms: expected 100ms..1m, got 10ms"},
    {"[console]\nreconcile = sometimes\n", 2, 13,
        "reconcile: 'sometimes' is not one of manual, auto"},
    {"[console]\nagent = udp://x\n", 2, 9,
        "agent: 'udp://x' is not a tcp://, ipc://, tls+tcp:// or "
        "inproc:// URL"},
    {"[agent]\nthis is not a pair\n", 2, 1,
        "syntax error: expected 'key = value' or '[section]'"},
    {"[agent\n", 1, 1, "syntax error: expected 'key = value' or '[section]'"},
    {"[agent]\nshards = 4\n  5\n", 3, 3,
        "unexpected indented line (only steps may continue on the next "
        "line)"},
    /* the first error wins, whichever kind it is */
    {"[agent]\nshards = 0\nbogus = 1\n", 2, 10,
        "shards: expected 1..256, got '0'"},
    {"[agent]\ngarbage\nshards = 0\n", 2, 1,
        "syntax error: expected 'key = value' or '[section]'"},
    {"[funnel]\nsteps = bad\n[agent]\nnope = 1\n", 2, 9,
        "steps (col 1): unknown predicate 'bad' (expected visit, page or "
        "event)"},
};

static void
test_bad(void **state)
{
	struct nudge_config *c = conf_new();
	struct nudge_diag d;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		memset(&d, 0, sizeof(d));
		conf_defaults(c);
		print_message("case %zu\n", i);
		assert_int_equal(
		    conf_load_string(c, "t", bad_cases[i].text, &d),
		    NUDGE_ECONFIG);
		print_message("  %d:%d: %s\n", d.line, d.col, d.msg);
		assert_int_equal(d.line, bad_cases[i].line);
		assert_int_equal(d.col, bad_cases[i].col);
		assert_string_equal(d.msg, bad_cases[i].msg);
	}
	free(c);
}

static void
test_long_lines(void **state)
{
	struct nudge_config *c = conf_new();
	struct nudge_diag d = {0};
	char text[600];
	int n;

	(void)state;
	/* 198 characters is the most inih takes; one more is refused */
	n = snprintf(text, sizeof(text), "[agent]\ndb = /");
	memset(text + n, 'x', 198 - 6);
	snprintf(
	    text + n + 192, sizeof(text) - (size_t)n - 192, "\nshards = 3\n");
	assert_int_equal(conf_load_string(c, "t", text, &d), 0);
	assert_int_equal(strlen(c->agent.db), 193);
	assert_int_equal(c->agent.shards, 3);
	n = snprintf(text, sizeof(text), "[agent]\n\ndb = /");
	memset(text + n, 'x', 198 - 5);
	snprintf(text + n + 193, sizeof(text) - (size_t)n - 193, "\n");
	assert_int_equal(conf_load_string(c, "t", text, &d), NUDGE_ECONFIG);
	assert_int_equal(d.line, 3);
	assert_string_equal(d.msg, "line longer than 198 characters");

	/* 257 agents */
	conf_defaults(c);
	n = snprintf(text, sizeof(text), "[console]\nagent = tcp://a:1\n");
	for (int i = 0; i < CONF_AGENTS_MAX; i++)
		assert_int_equal(
		    conf_set(c, "console", "agent", "tcp://x:1", &d), 0);
	assert_int_equal(
	    conf_set(c, "console", "agent", "tcp://x:1", &d), NUDGE_ECONFIG);
	assert_string_equal(d.msg, "agent: more than 256 agents");
	/* the file's first agent replaces the list it had */
	assert_int_equal(conf_load_string(c, "t", text, &d), 0);
	assert_int_equal(c->console.n_agents, 1);
	assert_int_equal(conf_set(c, "console", "agent", "", &d), 0);
	assert_int_equal(c->console.n_agents, 0);
	free(c);
}

static void
test_env_and_flags(void **state)
{
	struct nudge_config *c = conf_new();
	struct nudge_diag d = {0};

	(void)state;
	assert_int_equal(
	    conf_load_string(c, "t",
	        "[agent]\nshards = 2\nlog_level = warn\n[console]\n"
	        "agent = tcp://file:1\n",
	        &d),
	    0);
	setenv("NUDGE_AGENT_SHARDS", "4", 1);
	setenv("NUDGE_AGENT_SESSION_TIMEOUT", "1h", 1);
	setenv("NUDGE_FUNNEL_STEPS", "visit -> event == \"purchase\"", 1);
	setenv("NUDGE_FUNNEL_NAME", "envfunnel", 1);
	setenv("NUDGE_CONSOLE_AGENT", "tcp://a:1, tcp://b:2", 1);
	assert_int_equal(conf_apply_env(c, &d), 0);
	assert_int_equal(c->agent.shards, 4);
	assert_int_equal(c->agent.session_timeout_ms, 3600000);
	assert_int_equal(c->agent.log_level, LOG_LEVEL_WARN);
	assert_string_equal(c->funnel.name, "envfunnel");
	assert_int_equal(c->funnel.n, 2);
	assert_int_equal(c->console.n_agents, 2);
	assert_string_equal(c->console.agents[1], "tcp://b:2");
	/* flags come last and win */
	assert_int_equal(conf_set(c, "agent", "shards", "16", &d), 0);
	assert_int_equal(c->agent.shards, 16);
	assert_int_equal(
	    conf_set(c, "agent", "shards", "0", &d), NUDGE_ECONFIG);
	assert_int_equal(d.line, 0);
	assert_string_equal(d.msg, "shards: expected 1..256, got '0'");
	assert_int_equal(conf_set(c, "agent", "nope", "0", &d), NUDGE_ECONFIG);
	assert_string_equal(d.msg, "unknown key 'nope' in [agent]");
	assert_int_equal(
	    conf_set(c, "funnel", "steps", "visit ->", &d), NUDGE_ECONFIG);
	assert_string_equal(d.msg, "steps (col 9): empty step");

	setenv("NUDGE_AGENT_SHARDS", "999", 1);
	assert_int_equal(conf_apply_env(c, &d), NUDGE_ECONFIG);
	assert_string_equal(
	    d.msg, "NUDGE_AGENT_SHARDS: shards: expected 1..256, got '999'");
	unsetenv("NUDGE_AGENT_SHARDS");
	unsetenv("NUDGE_AGENT_SESSION_TIMEOUT");
	unsetenv("NUDGE_FUNNEL_STEPS");
	unsetenv("NUDGE_FUNNEL_NAME");
	setenv("NUDGE_CONSOLE_AGENT", "tcp://ok:1,ftp://bad", 1);
	assert_int_equal(conf_apply_env(c, &d), NUDGE_ECONFIG);
	assert_string_equal(d.msg,
	    "NUDGE_CONSOLE_AGENT: agent: 'ftp://bad' "
	    "is not a tcp://, ipc://, tls+tcp:// or inproc:// URL");
	unsetenv("NUDGE_CONSOLE_AGENT");
	free(c);
}

static char *
read_packaged(char *path, size_t cap)
{
	const char *src = getenv("NUDGE_SRCDIR");
	FILE *f;
	char *text;
	long n;

	snprintf(path, cap, "%s/packaging/nudged.conf", src ? src : ".");
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(path, cap, "../packaging/nudged.conf");
		f = fopen(path, "r");
	}
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	assert_non_null(text = calloc(1, (size_t)n + 1));
	assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return text;
}

/* Turns every "#key = value" line into "key = value". */
static void
uncomment_defaults(char *text)
{
	char *line = text, *w = text;

	while (*line != '\0') {
		size_t n =
		    strcspn(line, "\n") + (line[strcspn(line, "\n")] ? 1 : 0);
		bool setting = line[0] == '#' && line[1] >= 'a' &&
		               line[1] <= 'z' && strstr(line, " =") != NULL &&
		               strstr(line, " =") < line + n;
		if (setting) {
			line++;
			n--;
		}
		memmove(w, line, n);
		w += n;
		line += n;
	}
	*w = '\0';
}

static void
test_packaged(void **state)
{
	struct nudge_config *c = conf_new(), *def = conf_new();
	struct nudge_diag d = {0};
	char path[512];
	char *text = read_packaged(path, sizeof(path));

	(void)state;
	assert_int_equal(conf_load(c, path, &d), 0);
	/* every key is there, commented out: nothing changed */
	assert_memory_equal(&c->agent, &def->agent, sizeof(c->agent));
	uncomment_defaults(text);
	assert_non_null(strstr(text, "\nshards = 8\n"));
	memset(&d, 0, sizeof(d));
	if (conf_load_string(c, path, text, &d) != 0)
		fail_msg("%s:%d: %s", path, d.line, d.msg);
	/* the documented defaults are the real ones */
	assert_int_equal(c->agent.shards, def->agent.shards);
	assert_int_equal(
	    c->agent.session_timeout_ms, def->agent.session_timeout_ms);
	assert_int_equal(c->agent.snapshot_ms, def->agent.snapshot_ms);
	assert_int_equal(c->agent.delta_ms, def->agent.delta_ms);
	assert_int_equal(c->agent.sample_sessions, def->agent.sample_sessions);
	assert_int_equal(c->agent.sample_events, def->agent.sample_events);
	assert_int_equal(c->agent.log_level, def->agent.log_level);
	assert_string_equal(c->agent.pub, def->agent.pub);
	assert_memory_equal(&c->funnel, &def->funnel, sizeof(c->funnel));
	assert_int_equal(c->console.refresh_ms, def->console.refresh_ms);
	free(text);
	free(c);
	free(def);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_durations),
	    cmocka_unit_test(test_full_file),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_long_lines),
	    cmocka_unit_test(test_env_and_flags),
	    cmocka_unit_test(test_packaged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
