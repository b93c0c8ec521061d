/*
 * event.c - the event model's vocabulary: string views, the names of types,
 * devices and sources, User-Agent and referrer classification, validation
 * and money parsing.
 *
 * Owns nothing but constant tables and a small per-thread cache of
 * classified User-Agents; every function gives the same answer for the same
 * input and may be called from any thread.  Classification works on
 * bounded, lower-cased stack copies so that a hostile header costs a fixed
 * amount of work.
 */
#include "event.h"

#include <string.h>

#include <xxhash.h>

#include "err.h"

/*
 * ASCII-only character classes: the console calls setlocale(), and a
 * visitor id or country code must not change meaning with the locale.
 */
static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool
is_alnum(unsigned char c)
{
	return is_digit(c) || is_upper(c) || (c >= 'a' && c <= 'z');
}

static char
to_lower(unsigned char c)
{
	return (char)(is_upper(c) ? c - 'A' + 'a' : c);
}

/* Only this much of a User-Agent or referrer is looked at. */
#define SCAN_MAX 512

static const char *const type_names[EVENT_TYPE_COUNT] = {
	"pageview", "click", "scroll", "hover", "visible", "exit_intent",
	"add_to_cart", "remove_from_cart", "checkout", "purchase", "refund",
	"login", "email", "custom",
};

static const char *const device_names[DEVICE_COUNT] = {
	"unknown", "desktop", "mobile", "tablet", "bot",
};

static const char *const source_names[SOURCE_COUNT] = {
	"direct", "search", "social", "coupon", "email", "paid", "referral",
};

struct nudge_strv
strv_of(const char *s)
{
	struct nudge_strv v = {"", 0};

	if (s != NULL) {
		v.ptr = s;
		v.len = (uint32_t)strlen(s);
	}
	return v;
}

bool
strv_eq(struct nudge_strv a, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return a.len == n && (n == 0 || memcmp(a.ptr, s, n) == 0);
}

void
strv_copy(char *dst, size_t cap, struct nudge_strv v)
{
	size_t n = v.len;

	if (cap == 0)
		return;
	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, v.ptr, n);
	dst[n] = '\0';
}

void
event_init(struct nudge_event *ev)
{
	memset(ev, 0, sizeof(*ev));
}

const char *
event_type_name(int type)
{
	if (type < 0 || type >= EVENT_TYPE_COUNT)
		return "custom";
	return type_names[type];
}

/* Custom names are short identifiers: [A-Za-z0-9_.-], 1..EVENT_NAME_MAX. */
static bool
name_is_valid(struct nudge_strv name)
{
	if (name.len == 0 || name.len > EVENT_NAME_MAX)
		return false;
	for (uint32_t i = 0; i < name.len; i++) {
		unsigned char c = (unsigned char)name.ptr[i];
		if (!is_alnum(c) && c != '_' && c != '.' && c != '-')
			return false;
	}
	return true;
}

int
event_type_from_name(struct nudge_strv name)
{
	for (int i = 0; i < EVENT_TYPE_COUNT; i++)
		if (strv_eq(name, type_names[i]))
			return i;
	return name_is_valid(name) ? EVENT_CUSTOM : -1;
}

const char *
event_device_name(int device)
{
	if (device < 0 || device >= DEVICE_COUNT)
		return "unknown";
	return device_names[device];
}

int
event_device_from_name(struct nudge_strv name)
{
	for (int i = 0; i < DEVICE_COUNT; i++)
		if (strv_eq(name, device_names[i]))
			return i;
	return DEVICE_UNKNOWN;
}

const char *
event_source_name(int source)
{
	if (source < 0 || source >= SOURCE_COUNT)
		return "direct";
	return source_names[source];
}

/* Lower-cases at most SCAN_MAX bytes of v into buf (NUL-terminated). */
static size_t
lower_copy(char buf[SCAN_MAX + 1], struct nudge_strv v)
{
	size_t n = v.len < SCAN_MAX ? v.len : SCAN_MAX;

	for (size_t i = 0; i < n; i++)
		buf[i] = to_lower((unsigned char)v.ptr[i]);
	buf[n] = '\0';
	return n;
}

/* Whether the NUL-terminated s contains any of the NULL-ended words. */
static bool
has_any(const char *s, const char *const *words)
{
	for (; *words != NULL; words++)
		if (strstr(s, *words) != NULL)
			return true;
	return false;
}

static const char *const ua_bots[] = {
	"bot", "crawl", "spider", "slurp", "curl/", "wget", "python-requests",
	"python-urllib", "aiohttp", "httpclient", "go-http-client", "java/",
	"libwww", "scrapy", "headlesschrome", "phantomjs", "lighthouse",
	"facebookexternalhit", "mediapartners", "preview", "monitor",
	"pingdom", "uptime", NULL,
};
static const char *const ua_tablets[] = {
	"ipad", "tablet", "kindle", "silk/", "playbook", NULL,
};
static const char *const ua_mobiles[] = {
	"mobile", "iphone", "ipod", "android", "windows phone", "opera mini",
	"blackberry", NULL,
};
static const char *const ua_desktops[] = {
	"mozilla/", "windows nt", "macintosh", "x11", "opera/", NULL,
};

static int
device_scan(struct nudge_strv ua)
{
	char s[SCAN_MAX + 1];

	if (lower_copy(s, ua) == 0)
		return DEVICE_UNKNOWN;
	if (has_any(s, ua_bots))
		return DEVICE_BOT;
	/* Android tablets are the Android browsers that do not say Mobile. */
	if (has_any(s, ua_tablets) ||
	    (strstr(s, "android") != NULL && strstr(s, "mobile") == NULL))
		return DEVICE_TABLET;
	if (has_any(s, ua_mobiles))
		return DEVICE_MOBILE;
	if (has_any(s, ua_desktops))
		return DEVICE_DESKTOP;
	return DEVICE_UNKNOWN;
}

/*
 * The last User-Agents each thread classified, direct-mapped by hash: a
 * shop's visitors send few distinct ones, and the beacon endpoint and the
 * log tail classify one per request or line (about 30 substring scans
 * each).  Only a header short enough to be kept whole is cached, and a hit
 * compares all its bytes, so a hit answers exactly what the scan would.
 */
#define UA_CACHE_SLOTS 32	/* a power of 2 */
#define UA_CACHE_LEN 254

struct ua_cached {
	uint8_t len;		/* 0: empty (an empty header is never cached) */
	uint8_t device;
	char s[UA_CACHE_LEN];
};

static _Thread_local struct ua_cached ua_cache[UA_CACHE_SLOTS];

int
event_device_from_ua(struct nudge_strv ua)
{
	struct ua_cached *c;

	if (ua.len == 0 || ua.len > UA_CACHE_LEN)
		return device_scan(ua);
	c = &ua_cache[XXH3_64bits(ua.ptr, ua.len) & (UA_CACHE_SLOTS - 1)];
	if (c->len != ua.len || memcmp(c->s, ua.ptr, ua.len) != 0) {
		c->device = (uint8_t)device_scan(ua);
		memcpy(c->s, ua.ptr, ua.len);
		c->len = (uint8_t)ua.len;
	}
	return c->device;
}

/*
 * Extracts the lower-cased host of a URL (scheme, user info, port, path
 * dropped; a leading "www." too) into buf; returns its length.
 */
static size_t
url_host(char buf[SCAN_MAX + 1], struct nudge_strv url)
{
	char s[SCAN_MAX + 1];
	const char *p, *at;
	size_t n = 0;

	lower_copy(s, url);
	p = strstr(s, "://");
	p = p ? p + 3 : (s[0] == '/' && s[1] == '/' ? s + 2 : s);
	at = p + strcspn(p, "/?#");
	if (memchr(p, '@', (size_t)(at - p)) != NULL)
		p = (const char *)memchr(p, '@', (size_t)(at - p)) + 1;
	if (strncmp(p, "www.", 4) == 0)
		p += 4;
	while (p[n] != '\0' && strchr(":/?#", p[n]) == NULL)
		n++;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return n;
}

/*
 * Whether host matches one of the patterns: "name." matches that label
 * followed by any suffix ("google." matches google.co.uk and
 * news.google.com); "domain.tld" matches itself or any subdomain.
 */
static bool
host_matches(const char *host, const char *const *pats)
{
	size_t hl = strlen(host);

	for (; *pats != NULL; pats++) {
		const char *pat = *pats;
		size_t pl = strlen(pat);
		const char *hit;

		if (pat[pl - 1] == '.') {
			for (hit = strstr(host, pat); hit != NULL;
			    hit = strstr(hit + 1, pat))
				if (hit == host || hit[-1] == '.')
					return true;
		} else if (hl >= pl && strcmp(host + hl - pl, pat) == 0 &&
		    (hl == pl || host[hl - pl - 1] == '.'))
			return true;
	}
	return false;
}

static const char *const search_hosts[] = {
	"google.", "bing.", "yahoo.", "duckduckgo.", "yandex.", "baidu.",
	"ecosia.", "qwant.", "startpage.", "naver.", "seznam.",
	"search.brave.com", NULL,
};
static const char *const social_hosts[] = {
	"facebook.", "fb.com", "instagram.", "twitter.", "x.com", "t.co",
	"linkedin.", "lnkd.in", "pinterest.", "reddit.", "tiktok.",
	"youtube.", "youtu.be", "vk.com", "snapchat.", "threads.net",
	"mastodon.social", "tumblr.", NULL,
};
static const char *const mail_hosts[] = {
	"mail.google.com", "outlook.live.com", "outlook.office.com",
	"mail.yahoo.com", "mail.proton.me", "webmail.", "mail.", NULL,
};
static const char *const coupon_words[] = {
	"coupon", "voucher", "deal", "promo", "retailmenot", "cashback", NULL,
};
static const char *const email_words[] = {
	"email", "e-mail", "newsletter", "mailing", NULL,
};
static const char *const paid_words[] = {
	"cpc", "ppc", "cpm", "paid", "display", NULL,
};

/* Lower-cased copy of a utm value, for whole-word or prefix tests. */
static bool
utm_is(struct nudge_strv v, const char *const *words)
{
	char s[SCAN_MAX + 1];

	return lower_copy(s, v) > 0 && has_any(s, words);
}

/* What the campaign tags alone say; -1 when they do not decide. */
static int
classify_utm(const struct nudge_event *ev)
{
	char med[SCAN_MAX + 1], src[SCAN_MAX + 1];

	lower_copy(med, ev->utm_medium);
	lower_copy(src, ev->utm_source);
	if (has_any(med, paid_words))
		return SOURCE_PAID;
	if (has_any(med, email_words) || has_any(src, email_words))
		return SOURCE_EMAIL;
	if (utm_is(ev->utm_campaign, coupon_words) ||
	    has_any(med, coupon_words) || has_any(src, coupon_words))
		return SOURCE_COUPON;
	if (strstr(med, "social") != NULL)
		return SOURCE_SOCIAL;
	if (strstr(med, "organic") != NULL || strstr(med, "search") != NULL)
		return SOURCE_SEARCH;
	if (med[0] != '\0' || src[0] != '\0')
		return SOURCE_REFERRAL;
	return -1;
}

int
event_classify_source(const struct nudge_event *ev)
{
	char host[SCAN_MAX + 1], page[SCAN_MAX + 1];
	int utm;

	/* Ad click ids in the landing page mean paid even without utm_*. */
	lower_copy(page, ev->page);
	if (strstr(page, "gclid=") != NULL || strstr(page, "msclkid=") != NULL)
		return SOURCE_PAID;
	utm = classify_utm(ev);
	if (utm >= 0 && utm != SOURCE_REFERRAL)
		return utm;
	if (url_host(host, ev->referrer) > 0) {
		if (host_matches(host, mail_hosts))
			return SOURCE_EMAIL;
		if (has_any(host, coupon_words))
			return SOURCE_COUPON;
		if (host_matches(host, search_hosts))
			return SOURCE_SEARCH;
		if (host_matches(host, social_hosts))
			return SOURCE_SOCIAL;
		return SOURCE_REFERRAL;
	}
	return utm >= 0 ? utm : SOURCE_DIRECT;
}

/* Field numbers reported in d->col by event_validate (1-based). */
enum {
	F_TYPE = 1, F_DEVICE, F_COUNTRY, F_NAME, F_VISITOR, F_PAGE,
	F_REFERRER, F_UTM_SOURCE, F_UTM_MEDIUM, F_UTM_CAMPAIGN, F_TARGET,
	F_SKU, F_VALUE, F_X, F_Y, F_SCROLL, F_FIELDS
};

static int
check_len(struct nudge_strv v, uint32_t max, int field, const char *what,
    struct nudge_diag *d)
{
	if (v.len <= max)
		return 0;
	nudge_diag_set(d, 0, field, "%s: %u bytes, at most %u", what,
	    (unsigned)v.len, (unsigned)max);
	return NUDGE_ETOOBIG;
}

static int
check_visitor(struct nudge_strv v, struct nudge_diag *d)
{
	if (v.len == 0) {
		nudge_diag_set(d, 0, F_VISITOR, "visitor: missing");
		return NUDGE_EINVAL;
	}
	if (check_len(v, EVENT_VISITOR_MAX, F_VISITOR, "visitor", d) != 0)
		return NUDGE_ETOOBIG;
	for (uint32_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.ptr[i];
		if (c <= ' ' || c > '~') {
			nudge_diag_set(d, 0, F_VISITOR,
			    "visitor: byte %u is not printable ASCII",
			    (unsigned)i);
			return NUDGE_EINVAL;
		}
	}
	return 0;
}

static int
check_texts(const struct nudge_event *ev, struct nudge_diag *d)
{
	static const struct {
		size_t off;
		uint32_t max;
		int field;
		const char *what;
	} tab[] = {
		{offsetof(struct nudge_event, name), EVENT_NAME_MAX, F_NAME,
		    "name"},
		{offsetof(struct nudge_event, page), EVENT_PAGE_MAX, F_PAGE,
		    "page"},
#define TEXT(m, f) {offsetof(struct nudge_event, m), EVENT_TEXT_MAX, f, #m}
		TEXT(referrer, F_REFERRER), TEXT(utm_source, F_UTM_SOURCE),
		TEXT(utm_medium, F_UTM_MEDIUM),
		TEXT(utm_campaign, F_UTM_CAMPAIGN), TEXT(target, F_TARGET),
		TEXT(sku, F_SKU),
#undef TEXT
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		const struct nudge_strv *v = (const struct nudge_strv *)(
		    (const char *)ev + tab[i].off);
		if (check_len(*v, tab[i].max, tab[i].field, tab[i].what, d))
			return NUDGE_ETOOBIG;
	}
	if (ev->n_fields > EVENT_FIELDS_MAX) {
		nudge_diag_set(d, 0, F_FIELDS, "fields: %u, at most %d",
		    (unsigned)ev->n_fields, EVENT_FIELDS_MAX);
		return NUDGE_ETOOBIG;
	}
	for (unsigned i = 0; i < ev->n_fields; i++)
		if (check_len(ev->fields[i].key, EVENT_TEXT_MAX, F_FIELDS,
		    "field key", d) ||
		    check_len(ev->fields[i].val, EVENT_TEXT_MAX, F_FIELDS,
		    "field value", d))
			return NUDGE_ETOOBIG;
	return 0;
}

static int
check_numbers(const struct nudge_event *ev, struct nudge_diag *d)
{
	const uint16_t pm[3] = {ev->x_permille, ev->y_permille,
	    ev->scroll_permille};
	static const char *const pm_names[3] = {"x", "y", "scroll"};

	if (ev->value_cents < 0 || ev->value_cents > EVENT_VALUE_MAX_CENTS) {
		nudge_diag_set(d, 0, F_VALUE, "value: %lld cents out of range",
		    (long long)ev->value_cents);
		return NUDGE_EINVAL;
	}
	for (int i = 0; i < 3; i++)
		if (pm[i] > 1000) {
			nudge_diag_set(d, 0, F_X + i, "%s: %u permille > 1000",
			    pm_names[i], (unsigned)pm[i]);
			return NUDGE_EINVAL;
		}
	return 0;
}

static int
check_kind(const struct nudge_event *ev, struct nudge_diag *d)
{
	const char *cc = ev->country;

	if (ev->type >= EVENT_TYPE_COUNT) {
		nudge_diag_set(d, 0, F_TYPE, "type: %u unknown",
		    (unsigned)ev->type);
		return NUDGE_EINVAL;
	}
	if (ev->device >= DEVICE_COUNT) {
		nudge_diag_set(d, 0, F_DEVICE, "device: %u unknown",
		    (unsigned)ev->device);
		return NUDGE_EINVAL;
	}
	if (ev->type == EVENT_CUSTOM && !name_is_valid(ev->name)) {
		nudge_diag_set(d, 0, F_NAME,
		    "name: custom events need a name of [A-Za-z0-9_.-]");
		return ev->name.len > EVENT_NAME_MAX ? NUDGE_ETOOBIG :
		    NUDGE_EINVAL;
	}
	if (cc[0] != '\0' && !(is_upper((unsigned char)cc[0]) &&
	    is_upper((unsigned char)cc[1]) && cc[2] == '\0')) {
		nudge_diag_set(d, 0, F_COUNTRY,
		    "country: expected two upper-case letters");
		return NUDGE_EINVAL;
	}
	return 0;
}

int
event_validate(const struct nudge_event *ev, struct nudge_diag *d)
{
	int rc;

	if ((rc = check_kind(ev, d)) != 0 ||
	    (rc = check_visitor(ev->visitor, d)) != 0 ||
	    (rc = check_texts(ev, d)) != 0 ||
	    (rc = check_numbers(ev, d)) != 0)
		return rc;
	return 0;
}

int
event_parse_money(const char *s, int64_t *cents_out)
{
	int64_t units = 0, cents = 0;
	int decimals = 0;
	const char *p = s;

	if (p == NULL || !is_digit((unsigned char)*p))
		return NUDGE_EINVAL;
	for (; is_digit((unsigned char)*p); p++) {
		units = units * 10 + (*p - '0');
		if (units > EVENT_VALUE_MAX_CENTS / 100)
			return NUDGE_ERANGE;
	}
	if (*p == '.') {
		for (p++; is_digit((unsigned char)*p); p++) {
			if (++decimals > 2)
				return NUDGE_EINVAL;
			cents = cents * 10 + (*p - '0');
		}
		if (decimals == 0)
			return NUDGE_EINVAL;
		if (decimals == 1)
			cents *= 10;
	}
	if (*p != '\0')
		return NUDGE_EINVAL;
	if (units * 100 + cents > EVENT_VALUE_MAX_CENTS)
		return NUDGE_ERANGE;
	*cents_out = units * 100 + cents;
	return 0;
}
