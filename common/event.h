/*
 * event.h - the one event model that every ingest path produces.
 *
 * Beacons from the tag, access-log lines and `nudge emit` batches all become
 * a struct nudge_event before the session engine sees them.  An event does
 * not own its strings: every struct nudge_strv points into the buffer it was
 * decoded from (a msgpack message, a log line, an HTTP body) and is valid
 * only as long as that buffer.  Lengths are bounded by the EVENT_*_MAX
 * limits; event_validate() checks them before an event is accepted.
 */
#ifndef NUDGE_EVENT_H
#define NUDGE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A borrowed, not NUL-terminated string. */
struct nudge_strv {
	const char *ptr;
	uint32_t len;
};

#define STRV_LIT(s) ((struct nudge_strv){(s), sizeof(s) - 1})

/* Makes a view of a NUL-terminated string (NULL gives the empty view). */
struct nudge_strv strv_of(const char *s);
bool strv_eq(struct nudge_strv a, const char *s);
/* Copies v into dst (size cap), truncating; always NUL-terminates. */
void strv_copy(char *dst, size_t cap, struct nudge_strv v);

/* Never renumber: the values travel on the wire and sit in SQLite. */
enum event_type {
	EVENT_PAGEVIEW = 0,
	EVENT_CLICK,
	EVENT_SCROLL,
	EVENT_HOVER,
	EVENT_VISIBLE,
	EVENT_EXIT_INTENT,
	EVENT_ADD_TO_CART,
	EVENT_REMOVE_FROM_CART,
	EVENT_CHECKOUT,
	EVENT_PURCHASE,
	EVENT_REFUND,
	EVENT_LOGIN,
	EVENT_EMAIL,
	EVENT_CUSTOM, /* any other name; the name is in ev->name */
	EVENT_TYPE_COUNT
};

enum event_device {
	DEVICE_UNKNOWN = 0,
	DEVICE_DESKTOP,
	DEVICE_MOBILE,
	DEVICE_TABLET,
	DEVICE_BOT,
	DEVICE_COUNT
};

/* Referrer class of a session, decided on its first event. */
enum event_source {
	SOURCE_DIRECT = 0,
	SOURCE_SEARCH,
	SOURCE_SOCIAL,
	SOURCE_COUPON,
	SOURCE_EMAIL,
	SOURCE_PAID,
	SOURCE_REFERRAL,
	SOURCE_COUNT
};

#define EVENT_VISITOR_MAX 64	/* ASCII, printable, no spaces */
#define EVENT_NAME_MAX 32	/* custom event names */
#define EVENT_PAGE_MAX 512	/* path (and query if any) */
#define EVENT_TEXT_MAX 256	/* referrer, utm_*, target, sku, field values */
#define EVENT_FIELDS_MAX 8	/* extra key/value pairs */
#define EVENT_VALUE_MAX_CENTS 100000000000LL /* one billion currency units */

struct event_field {
	struct nudge_strv key;
	struct nudge_strv val;
};

struct nudge_event {
	uint8_t type;		/* enum event_type */
	uint8_t device;		/* enum event_device, DEVICE_UNKNOWN if not said */
	char country[3];	/* ISO 3166-1 alpha-2 upper case, "" unknown */
	struct nudge_strv name;	/* custom event name (EVENT_CUSTOM only) */
	struct nudge_strv visitor;
	uint64_t ts_ms;		/* source wall clock, ms since epoch; 0 = now */
	struct nudge_strv page;
	struct nudge_strv referrer;
	struct nudge_strv utm_source;
	struct nudge_strv utm_medium;
	struct nudge_strv utm_campaign;
	struct nudge_strv target; /* element selector (click, hover, visible) */
	struct nudge_strv sku;
	int64_t value_cents;	/* price or order value; refunds positive too */
	uint32_t quantity;
	uint16_t x_permille;	/* click position, share of page width */
	uint16_t y_permille;	/* click position, share of page height */
	uint16_t scroll_permille; /* deepest scroll, share of page height */
	uint8_t n_fields;
	struct event_field fields[EVENT_FIELDS_MAX];
};

/* Zeroes an event (all views empty). */
void event_init(struct nudge_event *ev);

/* Canonical names: "pageview", "click", ..., "custom". */
const char *event_type_name(int type);
/* Maps a name to its type; an unknown valid name gives EVENT_CUSTOM. */
int event_type_from_name(struct nudge_strv name);

const char *event_device_name(int device);
int event_device_from_name(struct nudge_strv name); /* unknown: DEVICE_UNKNOWN */
const char *event_source_name(int source);

/* Guesses the device class from a User-Agent header (bots included). */
int event_device_from_ua(struct nudge_strv ua);

/*
 * Decides the source class from the event's utm_* and referrer:
 * paid (utm_medium cpc/ppc/paid*), email, coupon (coupon/voucher/deal/promo
 * sites or campaigns), search engines, social networks, other referrers,
 * else direct.
 */
int event_classify_source(const struct nudge_event *ev);

/*
 * Checks an event before it is accepted: visitor id present, ASCII
 * printable without spaces and at most EVENT_VISITOR_MAX; every string within
 * its limit; country empty or two upper-case letters; value within
 * [0, EVENT_VALUE_MAX_CENTS]; permilles <= 1000.  Returns 0 or NUDGE_EINVAL /
 * NUDGE_ETOOBIG with a message in d (col = field index, line 0).
 */
struct nudge_diag;
int event_validate(const struct nudge_event *ev, struct nudge_diag *d);

/* Parses "59.90" / "12" / "0.5" into cents; rejects junk and > 2 decimals. */
int event_parse_money(const char *s, int64_t *cents_out);

#endif
