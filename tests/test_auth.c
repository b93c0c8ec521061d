/*
 * test_auth.c - credentials files (bad lines with their line numbers,
 * permissions), key generation, signing and verifying, expiry, the nonce
 * set's bounds, and the agent's access checks built on them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "auth.h"
#include "clock.h"
#include "wire.h"

#define HEX32 "00112233445566778899aabbccddeeff"
#define HEX64 HEX32 HEX32

static char dir[64];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/nudge-auth.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static const char *
write_file(const char *name, const char *text, mode_t mode)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static int
parse(const char *text, struct nudge_diag *d)
{
	struct auth_keys *k = NULL;
	int rv = auth_keys_parse(&k, "t", text, strlen(text), d);

	auth_keys_free(k);
	return rv;
}

static void
test_parse_ok(void **state)
{
	const char *text = "# keys\n\nops-alice operator " HEX64 "\n"
	    "  shop@viewer viewer " HEX32 "  \n";
	struct nudge_diag d = {0};
	struct auth_keys *k;
	const struct auth_key *a;

	(void)state;
	assert_int_equal(auth_keys_parse(&k, "t", text, strlen(text), &d), 0);
	assert_int_equal(auth_keys_count(k), 2);
	a = auth_keys_find(k, "ops-alice");
	assert_non_null(a);
	assert_int_equal(a->role, AUTH_ROLE_OPERATOR);
	assert_int_equal(a->secret_len, 32);
	assert_int_equal(a->secret[1], 0x11);
	a = auth_keys_find(k, "shop@viewer");
	assert_non_null(a);
	assert_int_equal(a->role, AUTH_ROLE_VIEWER);
	assert_null(auth_keys_find(k, "nobody"));
	auth_keys_free(k);
}

static void
test_parse_bad_lines(void **state)
{
	struct nudge_diag d = {0};

	(void)state;
	assert_int_equal(parse("a operator " HEX32 "\n\nb admin " HEX32
	    "\n", &d), NUDGE_ECONFIG);
	assert_int_equal(d.line, 3);
	assert_non_null(strstr(d.msg, "role 'admin'"));
	assert_int_equal(parse("a operator 0011\n", &d), NUDGE_ECONFIG);
	assert_int_equal(d.line, 1);
	assert_non_null(strstr(d.msg, "hex digits"));
	assert_int_equal(parse("#\na viewer " HEX32 "zz\n", &d),
	    NUDGE_ECONFIG);
	assert_int_equal(d.line, 2);
	assert_int_equal(parse("a viewer xx" HEX32 "\n", &d), NUDGE_ECONFIG);
	assert_non_null(strstr(d.msg, "not a hex digit"));
	/* the secret never appears in a message */
	assert_null(strstr(d.msg, HEX32));
	assert_int_equal(parse("a viewer " HEX32 "\nb viewer " HEX32
	    "\na operator " HEX32 "\n", &d), NUDGE_EEXIST);
	assert_int_equal(d.line, 3);
	assert_int_equal(parse("a " HEX32 "\n", &d), NUDGE_ECONFIG);
	assert_non_null(strstr(d.msg, "KEY_ID ROLE SECRET_HEX"));
	assert_int_equal(parse("bad/id viewer " HEX32 "\n", &d),
	    NUDGE_ECONFIG);
	assert_non_null(strstr(d.msg, "key id"));
	assert_int_equal(parse("a viewer " HEX32 " extra\n", &d),
	    NUDGE_ECONFIG);
	assert_int_equal(parse("# nothing here\n", &d), NUDGE_ECONFIG);
	assert_non_null(strstr(d.msg, "no key"));
}

static void
test_file_perms(void **state)
{
	const char *text = "a operator " HEX32 "\n";
	struct nudge_diag d = {0};
	struct auth_keys *k = NULL;
	const char *p;

	(void)state;
	p = write_file("open", text, 0644);
	assert_int_equal(auth_keys_load(&k, p, &d), NUDGE_EPERM);
	assert_non_null(strstr(d.msg, "chmod 600"));
	assert_non_null(strstr(d.msg, p));
	p = write_file("group", text, 0640);
	assert_int_equal(auth_keys_load(&k, p, &d), NUDGE_EPERM);
	p = write_file("ok", text, 0600);
	assert_int_equal(auth_keys_load(&k, p, &d), 0);
	auth_keys_free(k);
	assert_int_equal(auth_keys_load(&k, dir, &d), NUDGE_EPERM);
	assert_non_null(strstr(d.msg, "regular file"));
	assert_int_equal(auth_keys_load(&k, "/nonexistent/x", &d),
	    NUDGE_EIO);
	/* file:line in the message of a bad line */
	p = write_file("badline", "a operator " HEX32 "\nb boss " HEX32
	    "\n", 0600);
	assert_int_equal(auth_keys_load(&k, p, &d), NUDGE_ECONFIG);
	assert_int_equal(d.line, 2);
	{
		char want[160];
		snprintf(want, sizeof(want), "%s:2: ", p);
		assert_non_null(strstr(d.msg, want));
	}
}

static void
test_client_file(void **state)
{
	struct nudge_diag d = {0};
	struct auth_key k;
	const char *p;

	(void)state;
	p = write_file("c2", "alice " HEX32 "\n", 0600);
	assert_int_equal(auth_client_load(&k, p, &d), 0);
	assert_string_equal(k.id, "alice");
	assert_int_equal(k.role, AUTH_ROLE_NONE);
	p = write_file("c3", "bob viewer " HEX32 "\n", 0600);
	assert_int_equal(auth_client_load(&k, p, &d), 0);
	assert_int_equal(k.role, AUTH_ROLE_VIEWER);
	p = write_file("two", "a " HEX32 "\nb " HEX32 "\n", 0600);
	assert_int_equal(auth_client_load(&k, p, &d), NUDGE_ECONFIG);
	assert_int_equal(d.line, 2);
	p = write_file("c644", "a " HEX32 "\n", 0644);
	assert_int_equal(auth_client_load(&k, p, &d), NUDGE_EPERM);
}

static void
test_keygen(void **state)
{
	struct nudge_diag d = {0};
	struct auth_key k, back;
	struct stat st;
	char path[128];

	(void)state;
	assert_int_equal(auth_key_new(&k, "bad id", AUTH_ROLE_VIEWER, &d),
	    NUDGE_EINVAL);
	assert_int_equal(auth_key_new(&k, "ops", AUTH_ROLE_NONE, &d),
	    NUDGE_EINVAL);
	assert_int_equal(auth_key_new(&k, "ops", AUTH_ROLE_OPERATOR, &d), 0);
	assert_int_equal(k.secret_len, AUTH_SECRET_NEW);
	snprintf(path, sizeof(path), "%s/ops.key", dir);
	assert_int_equal(auth_key_write(&k, path, &d), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(auth_key_write(&k, path, &d), NUDGE_EEXIST);
	assert_int_equal(auth_client_load(&back, path, &d), 0);
	assert_string_equal(back.id, "ops");
	assert_int_equal(back.role, AUTH_ROLE_OPERATOR);
	assert_memory_equal(back.secret, k.secret, AUTH_SECRET_NEW);
	auth_key_wipe(&k);
	assert_int_equal(k.secret_len, 0);
}

static void
sign(msgpack_sbuffer *sb, const uint8_t id[WIRE_ID_LEN], uint64_t ts,
    const char *cmd, const struct auth_key *k)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	wire_request_begin(&pk, cmd, id, ts);
	msgpack_pack_nil(&pk);
	assert_int_equal(wire_request_end(&pk, sb, k ? k->id : NULL,
	    k ? k->secret : NULL, k ? k->secret_len : 0), 0);
}

static void
test_sign_verify(void **state)
{
	struct nudge_diag d = {0};
	struct auth_key k, other;
	struct wire_request rq;
	msgpack_sbuffer sb;
	uint8_t id[WIRE_ID_LEN];

	(void)state;
	msgpack_sbuffer_init(&sb);
	assert_int_equal(auth_key_new(&k, "a", AUTH_ROLE_VIEWER, &d), 0);
	assert_int_equal(auth_key_new(&other, "a", AUTH_ROLE_VIEWER, &d), 0);
	wire_new_id(id);
	sign(&sb, id, clock_wall_ms(), "state", &k);
	assert_int_equal(wire_request_parse(&rq, sb.data, sb.size,
	    &wire_limits_default, &d), 0);
	assert_true(rq.signed_);
	assert_string_equal(rq.key_id, "a");
	assert_int_equal(wire_request_verify(&rq, sb.data, k.secret,
	    k.secret_len), 0);
	assert_int_equal(wire_request_verify(&rq, sb.data, other.secret,
	    other.secret_len), NUDGE_EAUTH);
	wire_request_fini(&rq);
	/* one byte of the signed part changed: the mac no longer holds */
	sb.data[3] ^= 1;
	if (wire_request_parse(&rq, sb.data, sb.size, &wire_limits_default,
	    &d) == 0) {
		assert_int_equal(wire_request_verify(&rq, sb.data, k.secret,
		    k.secret_len), NUDGE_EAUTH);
		wire_request_fini(&rq);
	}
	msgpack_sbuffer_destroy(&sb);
}

static void
test_expiry(void **state)
{
	struct nudge_diag d = {0};
	uint64_t now = 1700000000000ull;

	(void)state;
	assert_int_equal(auth_check_time(now, now, AUTH_SKEW_MS, 0, &d), 0);
	assert_int_equal(auth_check_time(now - 59000, now, AUTH_SKEW_MS, 0,
	    &d), 0);
	assert_int_equal(auth_check_time(now + 59000, now, AUTH_SKEW_MS, 0,
	    &d), 0);
	assert_int_equal(auth_check_time(now - 61000, now, AUTH_SKEW_MS, 0,
	    &d), NUDGE_EAUTH);
	assert_non_null(strstr(d.msg, "expired"));
	assert_int_equal(auth_check_time(now + 61000, now, AUTH_SKEW_MS, 0,
	    &d), NUDGE_EAUTH);
	assert_non_null(strstr(d.msg, "ahead"));
	assert_int_equal(auth_check_time(0, now, AUTH_SKEW_MS, 0, &d),
	    NUDGE_EAUTH);
	assert_int_equal(auth_check_time(now - 1000, now, AUTH_SKEW_MS,
	    now - 500, &d), NUDGE_EAUTH);
	assert_non_null(strstr(d.msg, "before the agent started"));
}

static void
make_id(uint8_t id[WIRE_ID_LEN], uint32_t n)
{
	memset(id, 0, WIRE_ID_LEN);
	memcpy(id, &n, sizeof(n));
}

static void
test_seen_set(void **state)
{
	struct auth_seen *s;
	uint8_t id[WIRE_ID_LEN], fp[WIRE_MAC_LEN] = {1}, fp2[WIRE_MAC_LEN] =
	    {2};

	(void)state;
	assert_int_equal(auth_seen_new(&s, 64, 1000), 0);
	make_id(id, 7);
	assert_int_equal(auth_seen_check(s, id, fp, 10), AUTH_SEEN_NEW);
	assert_int_equal(auth_seen_check(s, id, fp, 11), AUTH_SEEN_SAME);
	assert_int_equal(auth_seen_check(s, id, fp2, 12), AUTH_SEEN_CLASH);
	for (uint32_t i = 100; i < 163; i++) {
		make_id(id, i);
		assert_int_equal(auth_seen_check(s, id, fp, 20),
		    AUTH_SEEN_NEW);
	}
	/* full: a new id is refused, none is evicted early */
	make_id(id, 999);
	assert_int_equal(auth_seen_check(s, id, fp, 500), AUTH_SEEN_FULL);
	make_id(id, 7);
	assert_int_equal(auth_seen_check(s, id, fp2, 500), AUTH_SEEN_CLASH);
	assert_int_equal(auth_seen_count(s, 500), 64);
	/* after the window the first one expires, then the rest */
	assert_int_equal(auth_seen_count(s, 1010), 63);
	make_id(id, 7);
	assert_int_equal(auth_seen_check(s, id, fp2, 1010), AUTH_SEEN_NEW);
	assert_int_equal(auth_seen_count(s, 1030), 1);
	for (uint32_t i = 0; i < 10000; i++) {
		make_id(id, 5000 + i);
		assert_int_not_equal(auth_seen_check(s, id, fp, 2000 + i * 20),
		    AUTH_SEEN_CLASH);
	}
	assert_true(auth_seen_count(s, 2000 + 10000 * 20) <= 64);
	auth_seen_free(s);
}

/* The agent's access module over a real credentials file. */
static void
test_access(void **state)
{
	struct conf_agent c;
	struct access *ax;
	struct access_verdict v;
	struct nudge_diag d = {0};
	struct auth_key op;
	struct wire_request rq;
	msgpack_sbuffer sb;
	uint8_t id[WIRE_ID_LEN];
	const char *p;

	(void)state;
	memset(&c, 0, sizeof(c));
	p = write_file("creds", "op operator " HEX32 "\nview viewer " HEX64
	    "\n", 0600);
	snprintf(c.credentials, sizeof(c.credentials), "%s", p);
	assert_int_equal(access_new(&ax, &c, NULL, clock_wall_ms() - 5000,
	    &d), 0);
	assert_true(access_enabled(ax));
	memset(&op, 0, sizeof(op));
	snprintf(op.id, sizeof(op.id), "op");
	op.secret_len = 16;
	memcpy(op.secret, "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb"
	    "\xcc\xdd\xee\xff", 16);
	msgpack_sbuffer_init(&sb);
	wire_new_id(id);
	sign(&sb, id, clock_wall_ms(), "ping", NULL);
	assert_int_equal(wire_request_parse(&rq, sb.data, sb.size,
	    &wire_limits_default, &d), 0);
	assert_int_equal(access_check(ax, &rq, sb.data, &v, &d),
	    NUDGE_EAUTH);
	wire_request_fini(&rq);
	sign(&sb, id, clock_wall_ms(), "ping", &op);
	assert_int_equal(wire_request_parse(&rq, sb.data, sb.size,
	    &wire_limits_default, &d), 0);
	assert_int_equal(access_check(ax, &rq, sb.data, &v, &d), 0);
	assert_int_equal(v.role, AUTH_ROLE_OPERATOR);
	assert_false(v.resend);
	assert_int_equal(access_check(ax, &rq, sb.data, &v, &d), 0);
	assert_true(v.resend);
	wire_request_fini(&rq);
	/* same id, other bytes: a replay */
	sign(&sb, id, clock_wall_ms(), "state", &op);
	assert_int_equal(wire_request_parse(&rq, sb.data, sb.size,
	    &wire_limits_default, &d), 0);
	assert_int_equal(access_check(ax, &rq, sb.data, &v, &d),
	    NUDGE_EAUTH);
	assert_non_null(strstr(d.msg, "replayed"));
	wire_request_fini(&rq);
	/* expired */
	wire_new_id(id);
	sign(&sb, id, clock_wall_ms() - 120000, "ping", &op);
	assert_int_equal(wire_request_parse(&rq, sb.data, sb.size,
	    &wire_limits_default, &d), 0);
	assert_int_equal(access_check(ax, &rq, sb.data, &v, &d),
	    NUDGE_EAUTH);
	assert_non_null(strstr(d.msg, "expired"));
	wire_request_fini(&rq);
	/* reload: a bad file keeps the keys in use */
	p = write_file("creds", "op boss " HEX32 "\n", 0600);
	assert_int_equal(access_reload(ax, p, &d), NUDGE_ECONFIG);
	assert_int_equal(d.line, 1);
	assert_true(access_enabled(ax));
	msgpack_sbuffer_destroy(&sb);
	access_free(ax);
}

static void
test_listener_policy(void **state)
{
	struct conf_agent c;
	struct nudge_diag d = {0};

	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(c.control, sizeof(c.control), "ipc:///tmp/x/c.sock");
	snprintf(c.pub, sizeof(c.pub), "tcp://127.0.0.1:7450");
	assert_int_equal(access_check_listeners(&c, &d), 0);
	snprintf(c.ingest, sizeof(c.ingest), "tcp://0.0.0.0:7451");
	assert_int_equal(access_check_listeners(&c, &d), NUDGE_ECONFIG);
	assert_non_null(strstr(d.msg, "credentials"));
	snprintf(c.credentials, sizeof(c.credentials), "/etc/x");
	assert_int_equal(access_check_listeners(&c, &d), 0);
	snprintf(c.control, sizeof(c.control), "tls+tcp://0.0.0.0:7452");
	assert_int_equal(access_check_listeners(&c, &d), NUDGE_ECONFIG);
	assert_non_null(strstr(d.msg, "tls_cert"));
	snprintf(c.tls_cert, sizeof(c.tls_cert), "/etc/cert.pem");
	assert_int_equal(access_check_listeners(&c, &d), 0);
	snprintf(c.push, sizeof(c.push), "tcp://0.0.0.0:7453");
	assert_int_equal(access_check_listeners(&c, &d), NUDGE_ECONFIG);
	assert_non_null(strstr(d.msg, "push"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_bad_lines),
		cmocka_unit_test(test_file_perms),
		cmocka_unit_test(test_client_file),
		cmocka_unit_test(test_keygen),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_seen_set),
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_listener_policy),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
