/*
 * test_console_emit.c - `nudge emit` input parsing: JSON lines and flags
 * into struct nudge_event (types, money, permilles, fields, bad lines).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../console/emit_event.h"

static int
parse(const char *text, struct nudge_event *ev, json_t **keep, char *err)
{
	json_error_t je;

	*keep = json_loads(text, 0, &je);
	assert_non_null(*keep);
	return emit_event_from_json(*keep, ev, err, 160);
}

static void
test_full_line(void **state)
{
	struct nudge_event ev;
	char err[160];
	json_t *o;

	(void)state;
	assert_int_equal(
	    parse("{\"type\":\"purchase\",\"visitor\":\"v1\","
	          "\"value\":59.9,\"page\":\"/checkout\",\"country\":\"FR\","
	          "\"device\":\"mobile\",\"quantity\":2,\"x\":0.25,\"y\":300,"
	          "\"ts\":1700000000000,\"utm_source\":\"news\","
	          "\"fields\":{\"order\":\"A1\"}}",
	        &ev, &o, err),
	    0);
	assert_int_equal(ev.type, EVENT_PURCHASE);
	assert_true(strv_eq(ev.visitor, "v1"));
	assert_true(strv_eq(ev.page, "/checkout"));
	assert_true(strv_eq(ev.utm_source, "news"));
	assert_int_equal(ev.value_cents, 5990);
	assert_string_equal(ev.country, "FR");
	assert_int_equal(ev.device, DEVICE_MOBILE);
	assert_int_equal(ev.quantity, 2);
	assert_int_equal(ev.x_permille, 250);
	assert_int_equal(ev.y_permille, 300);
	assert_int_equal(ev.ts_ms, 1700000000000ull);
	assert_int_equal(ev.n_fields, 1);
	assert_true(strv_eq(ev.fields[0].key, "order"));
	assert_true(strv_eq(ev.fields[0].val, "A1"));
	json_decref(o);
}

static void
test_money_and_custom(void **state)
{
	struct nudge_event ev;
	char err[160];
	json_t *o;

	(void)state;
	assert_int_equal(parse("{\"type\":\"signup\",\"visitor\":\"v\","
	                       "\"value\":\"12.50\"}",
	                     &ev, &o, err),
	    0);
	assert_int_equal(ev.type, EVENT_CUSTOM);
	assert_true(strv_eq(ev.name, "signup"));
	assert_int_equal(ev.value_cents, 1250);
	json_decref(o);
	assert_int_equal(parse("{\"type\":\"visit\",\"visitor\":\"v\","
	                       "\"value\":12}",
	                     &ev, &o, err),
	    0);
	assert_int_equal(ev.value_cents, 1200);
	json_decref(o);
}

static void
test_bad_lines(void **state)
{
	static const char *const bad[] = {
	    "{\"visitor\":\"v\"}",
	    "{\"type\":\"pageview\"}",
	    "{\"type\":\"pageview\",\"visitor\":\"v\",\"colour\":\"red\"}",
	    "{\"type\":\"pageview\",\"visitor\":\"v\",\"page\":3}",
	    "{\"type\":\"pageview\",\"visitor\":\"v\",\"x\":2000}",
	    "{\"type\":\"pageview\",\"visitor\":\"v\",\"value\":\"abc\"}",
	    "{\"type\":\"pageview\",\"visitor\":\"v\",\"country\":\"FRA\"}",
	    "{\"type\":\"pageview\",\"visitor\":\"v\",\"fields\":{\"a\":1}}",
	    "[1,2]",
	};
	struct nudge_event ev;
	char err[160];
	json_t *o;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(parse(bad[i], &ev, &o, err), -1);
		assert_true(err[0] != '\0');
		json_decref(o);
	}
}

static void
test_flags(void **state)
{
	struct nudge_event ev;
	char err[160];

	(void)state;
	event_init(&ev);
	assert_int_equal(
	    emit_event_set(&ev, "type", "add_to_cart", 11, err, sizeof(err)),
	    0);
	assert_int_equal(ev.type, EVENT_ADD_TO_CART);
	assert_int_equal(
	    emit_event_set(&ev, "value", "59.90", 5, err, sizeof(err)), 0);
	assert_int_equal(ev.value_cents, 5990);
	assert_int_equal(
	    emit_event_field(&ev, "color=red", err, sizeof(err)), 0);
	assert_true(strv_eq(ev.fields[0].key, "color"));
	assert_true(strv_eq(ev.fields[0].val, "red"));
	assert_int_equal(emit_event_field(&ev, "=x", err, sizeof(err)), -1);
	assert_int_equal(
	    emit_event_set(&ev, "quantity", "-1", 2, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_line),
	    cmocka_unit_test(test_money_and_custom),
	    cmocka_unit_test(test_bad_lines),
	    cmocka_unit_test(test_flags),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
