/*
 * test_facts.c - unit tests of agent/facts.c: checks, merges (set, replace,
 * delete, the last of duplicates wins), lookups by (key, index), order,
 * and a set that outlives the one it was made from; loading from a real
 * SQLite store.
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

#include "facts.h"

static struct store_fact
num(const char *key, const char *idx, double v)
{
	return (struct store_fact){key, idx, STORE_FACT_NUM, v, NULL};
}

static struct store_fact
str(const char *key, const char *idx, const char *v)
{
	return (struct store_fact){key, idx, STORE_FACT_STR, 0, v};
}

static struct store_fact
del(const char *key, const char *idx)
{
	return (struct store_fact){key, idx, STORE_FACT_DEL, 0, NULL};
}

static bool
get(const struct facts *f, const char *key, const char *idx,
    struct rule_value *v)
{
	return facts_get(f, strv_of(key), strv_of(idx), v);
}

static void
test_check(void **state)
{
	struct nudge_diag d = {0};
	char long_str[FACTS_STR_MAX + 2];
	struct store_fact ok[] = {num("snow", "north", 3), str("w.x-y_1", "",
	    "sunny")};
	struct store_fact bad_key = num("has space", "", 1);
	struct store_fact bad_idx = num("snow", "a/b", 1);
	struct store_fact no_key = num("", "", 1);
	struct store_fact too_long;

	(void)state;
	memset(long_str, 'a', sizeof(long_str) - 1);
	long_str[sizeof(long_str) - 1] = '\0';
	too_long = str("k", "", long_str);
	assert_int_equal(facts_check(ok, 2, &d), 0);
	assert_int_equal(facts_check(&bad_key, 1, &d), NUDGE_EINVAL);
	assert_non_null(strstr(d.msg, "fact 0"));
	assert_int_equal(facts_check(&bad_idx, 1, &d), NUDGE_EINVAL);
	assert_int_equal(facts_check(&no_key, 1, &d), NUDGE_EINVAL);
	assert_int_equal(facts_check(&too_long, 1, &d), NUDGE_ETOOBIG);
	long_str[FACTS_STR_MAX] = '\0';
	too_long = str("k", "", long_str);
	assert_int_equal(facts_check(&too_long, 1, &d), 0);
}

static void
collect(void *arg, const struct store_fact *sf)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s[%s]=%s;", sf->key, sf->idx,
	    sf->type == STORE_FACT_NUM ? "num" : sf->str);
}

static void
test_merge_and_get(void **state)
{
	struct facts *a, *b;
	struct rule_value v;
	char order[256] = "";
	struct store_fact first[] = {str("weather", "south", "sunny"),
	    num("snow", "north", 3), str("weather", "north", "snow")};
	struct store_fact second[] = {del("weather", "south"),
	    num("snow", "north", 5), num("snow", "north", 7),
	    num("stock", "", 12), del("absent", "")};

	(void)state;
	assert_non_null(a = facts_merge(NULL, first, 3));
	assert_int_equal(facts_count(a), 3);
	assert_true(get(a, "weather", "north", &v));
	assert_int_equal(v.type, RULE_V_STR);
	assert_int_equal(v.s.len, 4);
	assert_memory_equal(v.s.ptr, "snow", 4);
	assert_true(get(a, "snow", "north", &v));
	assert_true(v.num == 3);
	assert_false(get(a, "snow", "south", &v));
	assert_false(get(a, "snow", "", &v));
	assert_false(get(NULL, "snow", "north", &v));

	assert_non_null(b = facts_merge(a, second, 5));
	/* a is unchanged: readers holding it see what they saw */
	assert_int_equal(facts_count(a), 3);
	assert_true(get(a, "weather", "south", &v));
	facts_release(a);
	/* b outlives a, strings included */
	assert_int_equal(facts_count(b), 3);
	assert_false(get(b, "weather", "south", &v));
	assert_true(get(b, "snow", "north", &v));
	assert_true(v.num == 7);	/* the last of duplicates wins */
	assert_true(get(b, "stock", "", &v));
	assert_true(v.num == 12);
	assert_true(get(b, "weather", "north", &v));
	assert_memory_equal(v.s.ptr, "snow", 4);
	assert_int_equal(facts_each(b, collect, order), 3);
	assert_string_equal(order,
	    "snow[north]=num;stock[]=num;weather[north]=snow;");
	facts_hold(b);
	facts_release(b);
	facts_release(b);
	facts_release(NULL);
}

static void
test_load(void **state)
{
	char dir[] = "/tmp/test_facts.XXXXXX", path[64];
	struct nudge_diag d = {0};
	struct store *st;
	struct facts *f;
	struct rule_value v;
	bool bad = true;
	struct store_fact v1[] = {num("snow", "north", 2), str("w", "", "x")};

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/n.db", dir);
	assert_int_equal(store_open(&st, path, &d), 0);
	assert_int_equal(store_put_facts(st, v1, 2), 0);
	assert_non_null(f = facts_load(st, &bad));
	assert_false(bad);
	assert_int_equal(facts_count(f), 2);
	assert_true(get(f, "snow", "north", &v));
	assert_true(v.num == 2);
	assert_true(get(f, "w", "", &v));
	assert_memory_equal(v.s.ptr, "x", 1);
	facts_release(f);
	store_close(st);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_merge_and_get),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
