/*
 * rule_field.h - the fields a condition can read (event, session,
 * visitor, clock), their static types and the values their string
 * constants may take.  Internal to rules*.c.
 */
#ifndef NUDGE_RULE_FIELD_H
#define NUDGE_RULE_FIELD_H

#include <stddef.h>
#include <stdint.h>

enum rfield {
	RF_EVENT = 0, RF_PAGE, RF_TARGET, RF_SKU, RF_VALUE,
	RF_COUNTRY, RF_DEVICE, RF_SOURCE, RF_SOURCE_CAMPAIGN,
	RF_UTM_SOURCE, RF_UTM_MEDIUM, RF_UTM_CAMPAIGN, RF_REGION,
	RF_STEP, RF_SESSION_STEP, RF_PAGES, RF_EVENTS, RF_SECONDS,
	RF_EMAIL, RF_CART_ITEMS, RF_CART_VALUE, RF_SCORE,
	RF_ORDERS, RF_SESSIONS, RF_DAYS_SINCE, RF_HOUR, RF_WEEKDAY,
	RF_COUNT
};

/* The field named by n bytes at p, or -1. */
int rfield_find(const char *p, size_t n);

/* Its static type (enum rule_vtype). */
uint8_t rfield_type(int f);

/*
 * Checks a string constant compared with field f: NULL if it can be one
 * of the field's values, else a message naming the values it can take.
 */
const char *rfield_check(int f, const char *s, size_t n);

#endif
