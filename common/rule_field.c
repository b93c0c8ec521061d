/*
 * rule_field.c - the table of fields of the rule language: name, static
 * type, and a check of the constants compared with enum-like fields
 * (device, source, weekday, country), so a typo is a compile error rather
 * than a rule that never fires.  Constant tables; any thread.
 */
#include "rule_field.h"

#include <string.h>

#include "event.h"
#include "rules.h"

typedef const char *(*rf_check_fn)(const char *s, size_t n);

struct rf_def {
	const char *name;
	uint8_t type;
	rf_check_fn check; /* validates a string constant compared to it */
};

static bool
in_names(const char *s, size_t n, const char *(*name)(int), int count)
{
	for (int i = 0; i < count; i++)
		if (strlen(name(i)) == n && memcmp(name(i), s, n) == 0)
			return true;
	return false;
}

static const char *
chk_country(const char *s, size_t n)
{
	if (n == 0 || (n == 2 && s[0] >= 'A' && s[0] <= 'Z' &&
	    s[1] >= 'A' && s[1] <= 'Z'))
		return NULL;
	return "a country is two upper-case letters, like \"FR\" (\"\" unknown)";
}

static const char *
chk_device(const char *s, size_t n)
{
	if (in_names(s, n, event_device_name, DEVICE_COUNT))
		return NULL;
	return "unknown device (desktop, mobile, tablet, bot, unknown)";
}

static const char *
chk_source(const char *s, size_t n)
{
	if (in_names(s, n, event_source_name, SOURCE_COUNT))
		return NULL;
	return "unknown source (direct, search, social, coupon, email, "
	       "paid, referral)";
}

static const char *const weekdays[] = {
	"mon", "tue", "wed", "thu", "fri", "sat", "sun",
};

static const char *
weekday_name(int i)
{
	return weekdays[i];
}

static const char *
chk_weekday(const char *s, size_t n)
{
	if (in_names(s, n, weekday_name, 7))
		return NULL;
	return "unknown weekday (mon, tue, wed, thu, fri, sat, sun)";
}

static const struct rf_def rf_defs[RF_COUNT] = {
	[RF_EVENT] = {"event", RULE_V_STR, NULL},
	[RF_PAGE] = {"page", RULE_V_STR, NULL},
	[RF_TARGET] = {"target", RULE_V_STR, NULL},
	[RF_SKU] = {"sku", RULE_V_STR, NULL},
	[RF_VALUE] = {"value", RULE_V_NUM, NULL},
	[RF_COUNTRY] = {"country", RULE_V_STR, chk_country},
	[RF_DEVICE] = {"device", RULE_V_STR, chk_device},
	[RF_SOURCE] = {"source", RULE_V_STR, chk_source},
	[RF_SOURCE_CAMPAIGN] = {"source.campaign", RULE_V_STR, NULL},
	[RF_UTM_SOURCE] = {"utm.source", RULE_V_STR, NULL},
	[RF_UTM_MEDIUM] = {"utm.medium", RULE_V_STR, NULL},
	[RF_UTM_CAMPAIGN] = {"utm.campaign", RULE_V_STR, NULL},
	[RF_REGION] = {"region", RULE_V_STR, NULL},
	[RF_STEP] = {"step", RULE_V_STR, NULL},
	[RF_SESSION_STEP] = {"session.step", RULE_V_NUM, NULL},
	[RF_PAGES] = {"session.pages", RULE_V_NUM, NULL},
	[RF_EVENTS] = {"session.events", RULE_V_NUM, NULL},
	[RF_SECONDS] = {"session.seconds", RULE_V_NUM, NULL},
	[RF_EMAIL] = {"session.email", RULE_V_BOOL, NULL},
	[RF_CART_ITEMS] = {"cart.items", RULE_V_NUM, NULL},
	[RF_CART_VALUE] = {"cart.value", RULE_V_NUM, NULL},
	[RF_SCORE] = {"score", RULE_V_NUM, NULL},
	[RF_ORDERS] = {"visitor.orders", RULE_V_NUM, NULL},
	[RF_SESSIONS] = {"visitor.sessions", RULE_V_NUM, NULL},
	[RF_DAYS_SINCE] = {"visitor.days_since_last_visit", RULE_V_NUM, NULL},
	[RF_HOUR] = {"hour", RULE_V_NUM, NULL},
	[RF_WEEKDAY] = {"weekday", RULE_V_STR, chk_weekday},
};

int
rfield_find(const char *p, size_t n)
{
	for (int f = 0; f < RF_COUNT; f++)
		if (strlen(rf_defs[f].name) == n &&
		    memcmp(rf_defs[f].name, p, n) == 0)
			return f;
	return -1;
}

uint8_t
rfield_type(int f)
{
	return rf_defs[f].type;
}

const char *
rfield_check(int f, const char *s, size_t n)
{
	return rf_defs[f].check ? rf_defs[f].check(s, n) : NULL;
}
