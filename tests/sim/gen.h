/*
 * gen.h - the deterministic half of nudge-sim: a shop catalog and visitor
 * sessions generated from (seed, visitor index).
 *
 * Visitor i of seed S is always the same session, whatever the rate, the
 * output or the order in which sessions are generated: each session gets
 * its own PRNG state derived from (S, i), never rand().  A session is a
 * whole browsing path decided up front (origin, device, country, pages,
 * clicks, cart, purchase) with think times folded into the event
 * timestamps; the caller decides when to send each event.
 *
 * Ownership: a struct gen owns the catalog strings; every nudge_strv in a
 * gen_session points either into static tables, into the gen, or into the
 * session itself (the visitor id), so a session is valid as long as its
 * gen is and must not be moved while events made from it are in use.
 * Nothing here allocates; any thread may use its own gen_session.
 */
#ifndef NUDGE_SIM_GEN_H
#define NUDGE_SIM_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define GEN_VISITOR_LEN 17 /* "v" + 16 hex digits */
#define GEN_EVENTS_MAX 96  /* events of one session, never reached */
#define GEN_SESSION_MAX_MS (25u * 60u * 1000u) /* < the 30 min timeout */
#define GEN_CATEGORIES 8
#define GEN_PRODUCTS 480
#define GEN_SKU_MAX 12
#define GEN_PAGE_MAX 32
#define GEN_IP_MAX 16 /* "255.255.255.255" + NUL */

/* A small fast PRNG (xoshiro256**); one per session. */
struct gen_rng {
	uint64_t s[4];
};

/* Seeds r from (seed, stream): distinct streams give unrelated sequences. */
void gen_rng_seed(struct gen_rng *r, uint64_t seed, uint64_t stream);
uint64_t gen_rng_next(struct gen_rng *r);
/* Uniform in [0, n), n > 0 (multiply-shift; bias below 2^-32). */
uint32_t gen_rng_below(struct gen_rng *r, uint32_t n);

/* splitmix64's finalizer: a bijection on 64-bit values. */
uint64_t gen_mix64(uint64_t x);

struct gen_product {
	char sku[GEN_SKU_MAX];
	char page[GEN_PAGE_MAX]; /* "/product/<sku>" */
	struct nudge_strv sku_v; /* views of the two above */
	struct nudge_strv page_v;
	uint8_t category;
	int64_t price_cents; /* 19.90 .. 179.90 EUR */
};

struct gen {
	uint64_t seed;
	struct gen_product product[GEN_PRODUCTS];
};

/*
 * What a session was drawn to do, for tests and summaries.  Tiers nest:
 * a purchase session also checks out, carts and (normally) sees products.
 */
enum gen_tier {
	GEN_TIER_BROWSE = 0, /* no product page */
	GEN_TIER_PRODUCT,    /* product pages, nothing added */
	GEN_TIER_CART,       /* add_to_cart, no checkout */
	GEN_TIER_CHECKOUT,   /* reaches /checkout, no purchase */
	GEN_TIER_PURCHASE
};

/*
 * One event of a session in compact form; gen_event_fill() expands it into
 * a struct nudge_event.  ts_ms is absolute (session start + think time).
 */
struct gen_event {
	uint64_t ts_ms;
	struct nudge_strv page;
	struct nudge_strv target;
	struct nudge_strv sku;
	int64_t value_cents;
	uint16_t quantity;
	uint16_t x, y;   /* permille, clicks */
	uint16_t scroll; /* permille, scroll events */
	uint8_t type;    /* enum event_type */
};

struct gen_session {
	uint64_t index;
	char visitor[GEN_VISITOR_LEN + 1];
	uint8_t source; /* enum event_source the origin was drawn as */
	uint8_t device; /* enum event_device */
	uint8_t tier;   /* enum gen_tier */
	bool quick_add; /* added to cart from a category page */
	char country[3];
	struct nudge_strv referrer; /* sent on the first event only */
	struct nudge_strv utm_source;
	struct nudge_strv utm_medium;
	struct nudge_strv utm_campaign;
	uint64_t start_ms;
	uint32_t n;
	struct gen_event ev[GEN_EVENTS_MAX];
};

/* Builds the catalog of seed-independent products; g->seed = seed. */
void gen_init(struct gen *g, uint64_t seed);

/* Writes the visitor id of index i ("v" + 16 hex digits, NUL) into out. */
void gen_visitor_id(
    const struct gen *g, uint64_t index, char out[GEN_VISITOR_LEN + 1]);

/*
 * Generates visitor index's whole session starting at start_ms into s.
 * Events are in timestamp order and span less than GEN_SESSION_MAX_MS.
 */
void gen_session(const struct gen *g, uint64_t index, uint64_t start_ms,
    struct gen_session *s);

/* Whether a session buys: the shop's own odds, or decided by the caller. */
enum gen_buy {
	GEN_BUY_DEFAULT = -1, /* the tier draw decides (2.5% buy) */
	GEN_BUY_NO = 0,       /* never the purchase tier */
	GEN_BUY_YES = 1       /* always the purchase tier */
};

/*
 * gen_session with the purchase decided by buy.  GEN_BUY_DEFAULT is
 * gen_session exactly.  GEN_BUY_YES makes the session a purchase session;
 * GEN_BUY_NO redraws a purchase tier among the others in the shop's
 * proportions (product, cart, checkout keep their relative weights), so
 * the funnel above the purchase looks the same either way.  A session of
 * (seed, index, buy) is always the same.
 */
void gen_session_as(const struct gen *g, uint64_t index, uint64_t start_ms,
    int buy, struct gen_session *s);

/* The index of the session's purchase event, or s->n when it has none. */
uint32_t gen_purchase_index(const struct gen_session *s);

/*
 * Appends a purchase to s, which has none (a visitor who changed their
 * mind after seeing something): a /checkout page view unless the last
 * page is /checkout already, the purchase (the cart's value, or one
 * product's price for an empty cart) and the confirmation page, a few
 * seconds apart after the last event; the tier becomes GEN_TIER_PURCHASE.
 * Returns false, s unchanged, if it has a purchase or no room left.
 */
bool gen_add_purchase(const struct gen *g, struct gen_session *s);

/*
 * Expands event i of s into ev (every field written; n_fields = 0).  The
 * first event carries the session's referrer and utm_*; every event
 * carries visitor, country and device.  ev borrows from s and the gen.
 */
void gen_event_fill(
    const struct gen_session *s, uint32_t i, struct nudge_event *ev);

/* The page of the last pageview before event i, or an empty view. */
struct nudge_strv gen_prev_page(const struct gen_session *s, uint32_t i);

/*
 * A public IPv4 address for the visitor (distinct for distinct indexes
 * below 2^31) and a realistic User-Agent for its device.
 */
void gen_ip(const struct gen *g, uint64_t index, char out[GEN_IP_MAX]);
const char *gen_user_agent(const struct gen_session *s);

/* Category names ("shoes", ...) and their "/category/<c>" pages. */
const char *gen_category_name(unsigned c);

#endif
