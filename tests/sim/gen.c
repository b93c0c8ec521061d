/*
 * gen.c - the shop traffic model behind nudge-sim.
 *
 * Draws one visitor session at a time from (seed, visitor index): where the
 * visitor comes from (search 35%, direct 25%, social 15%, coupon sites 8%,
 * email 7%, paid 10%), device (desktop 55 / mobile 38 / tablet 7), country,
 * and how far it goes (a tier: browse, product 45%, cart 10%, checkout 5%,
 * purchase 2.5%), then lays out a realistic path for that tier with think
 * times in the timestamps.  The tiers are drawn first and the path built to
 * fit, so the shop's proportions hold exactly in expectation; a few
 * "quick add" sessions add to cart from a category page without seeing a
 * product, so the funnel truth is not simply the tier.
 *
 * Everything is a pure function of (seed, index): no globals, no clock, no
 * allocation.  The catalog in struct gen is read-only after gen_init, so
 * threads may share one gen.
 */
#include "gen.h"

#include <stdio.h>
#include <string.h>

#define S(x)                                                                  \
	{                                                                     \
		(x), sizeof(x) - 1                                            \
	}
#define Z                                                                     \
	{                                                                     \
		"", 0                                                         \
	}
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- PRNG -------------------------------------------------------------- */

uint64_t
gen_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

void
gen_rng_seed(struct gen_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ gen_mix64(stream + 0x632be59bd9b4e019ULL);

	for (int k = 0; k < 4; k++) {
		x += 0x9e3779b97f4a7c15ULL;
		r->s[k] = gen_mix64(x);
	}
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t
gen_rng_next(struct gen_rng *r)
{
	uint64_t *s = r->s;
	uint64_t out = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return out;
}

uint32_t
gen_rng_below(struct gen_rng *r, uint32_t n)
{
	return (uint32_t)(((gen_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Index into a table of permille weights summing to 1000. */
static unsigned
pick_permille(struct gen_rng *r, const uint16_t *w, unsigned n)
{
	unsigned u = gen_rng_below(r, 1000);
	unsigned acc = 0;

	for (unsigned k = 0; k + 1 < n; k++) {
		acc += w[k];
		if (u < acc)
			return k;
	}
	return n - 1;
}

static bool
chance(struct gen_rng *r, unsigned percent)
{
	return gen_rng_below(r, 100) < percent;
}

/* ---- tables ------------------------------------------------------------ */

static const char *const cat_name[GEN_CATEGORIES] = {
    "shoes", "boots", "jackets", "bags", "accessories", "kids", "sale", "new"};
static const struct nudge_strv cat_page[GEN_CATEGORIES] = {
    S("/category/shoes"), S("/category/boots"), S("/category/jackets"),
    S("/category/bags"), S("/category/accessories"), S("/category/kids"),
    S("/category/sale"), S("/category/new")};
static const char cat_code[GEN_CATEGORIES][3] = {
    "SH", "BT", "JK", "BG", "AC", "KD", "SL", "NW"};
/* Price bands in cents: lowest price and spread, per category. */
static const int64_t cat_price_lo[GEN_CATEGORIES] = {
    4990, 7990, 8990, 3990, 2490, 2990, 2490, 4990};
static const int64_t cat_price_span[GEN_CATEGORIES] = {
    8000, 10000, 9000, 9000, 3000, 4000, 6000, 9000};
#define PRODUCTS_PER_CAT (GEN_PRODUCTS / GEN_CATEGORIES)

struct origin {
	struct nudge_strv ref, us, um, uc;
};

static const struct origin origin_search[] = {
    {S("https://www.google.com/"), Z, Z, Z},
    {S("https://www.google.fr/"), Z, Z, Z},
    {S("https://www.bing.com/"), Z, Z, Z},
    {S("https://duckduckgo.com/"), Z, Z, Z},
    {S("https://www.qwant.com/"), Z, Z, Z},
    {S("https://www.ecosia.org/"), Z, Z, Z}};
static const struct origin origin_direct[] = {{Z, Z, Z, Z}};
static const struct origin origin_social[] = {
    {S("https://www.facebook.com/"), Z, Z, Z},
    {S("https://l.instagram.com/"), Z, Z, Z}, {S("https://t.co/"), Z, Z, Z},
    {S("https://www.pinterest.com/"), Z, Z, Z},
    {S("https://www.facebook.com/"), S("facebook"), S("social"),
        S("winter-looks")}};
static const struct origin origin_coupon[] = {
    {S("https://www.dealabs.com/bons-plans/"), S("dealabs"), S("affiliate"),
        S("coupon-winter10")},
    {S("https://coupons.example/shop"), S("coupons.example"), S("affiliate"),
        S("coupon-free-shipping")},
    {S("https://www.vouchercodes.co.uk/"), S("vouchercodes"), S("affiliate"),
        S("spring-coupon")}};
static const struct origin origin_email[] = {
    {Z, S("newsletter"), S("email"), S("weekly-48")},
    {Z, S("newsletter"), S("email"), S("winter-sale")},
    {S("https://mail.google.com/"), S("crm"), S("email"), S("cart-reminder")}};
static const struct origin origin_paid[] = {
    {S("https://www.google.com/"), S("google"), S("cpc"), S("brand-fr")},
    {S("https://www.google.com/"), S("google"), S("cpc"), S("shoes-generic")},
    {S("https://www.bing.com/"), S("bing"), S("cpc"), S("brand")},
    {S("https://www.facebook.com/"), S("facebook"), S("cpc"),
        S("retargeting")}};

struct source_mix {
	uint8_t source;
	const struct origin *o;
	unsigned n;
};

static const struct source_mix source_mix[] = {
    {SOURCE_SEARCH, origin_search, N(origin_search)},
    {SOURCE_DIRECT, origin_direct, N(origin_direct)},
    {SOURCE_SOCIAL, origin_social, N(origin_social)},
    {SOURCE_COUPON, origin_coupon, N(origin_coupon)},
    {SOURCE_EMAIL, origin_email, N(origin_email)},
    {SOURCE_PAID, origin_paid, N(origin_paid)}};
static const uint16_t source_w[] = {350, 250, 150, 80, 70, 100};

static const uint8_t device_v[] = {
    DEVICE_DESKTOP, DEVICE_MOBILE, DEVICE_TABLET};
static const uint16_t device_w[] = {550, 380, 70};

static const char country_v[][3] = {
    "FR", "DE", "GB", "US", "ES", "IT", "BE", "CH"};
static const uint16_t country_w[] = {400, 150, 120, 100, 80, 80, 40, 30};

/* Tier thresholds per 100000 visits, cumulative from the deepest. */
#define T_PURCHASE 2500u
#define T_CHECKOUT 5000u
#define T_CART 10000u
/* 45% see a product; quick adds (5% of cart-only) see none: +0.25. */
#define T_PRODUCT 45250u
#define QUICK_ADD_PERCENT 5

enum page_kind {
	PK_HOME = 0,
	PK_CATEGORY,
	PK_PRODUCT,
	PK_CART,
	PK_CHECKOUT,
	PK_OTHER,
	PK_COUNT
};

struct spot {
	struct nudge_strv target;
	uint16_t x, y; /* where the element sits, permille */
};

/* Clickable elements per kind of page: heatmaps cluster around these. */
static const struct spot spot_home[] = {{S(".hero-banner"), 500, 180},
    {S(".nav-link"), 300, 40}, {S("#search"), 800, 40},
    {S(".product-card"), 450, 600}};
static const struct spot spot_category[] = {{S(".product-card"), 400, 450},
    {S(".filter"), 120, 300}, {S(".sort"), 850, 150},
    {S(".pagination"), 500, 950}};
static const struct spot spot_product[] = {{S(".price"), 700, 300},
    {S("#product-image"), 300, 350}, {S(".size-selector"), 720, 400},
    {S(".reviews"), 500, 800}};
static const struct spot spot_cart[] = {{S("#checkout-button"), 780, 600},
    {S(".quantity"), 600, 300}, {S("#promo-code"), 700, 500}};
static const struct spot spot_checkout[] = {
    {S("#shipping-form"), 400, 400}, {S("#pay-button"), 500, 850}};
static const struct spot spot_other[] = {
    {S(".nav-link"), 300, 40}, {S("footer a"), 500, 970}};

static const struct {
	const struct spot *v;
	unsigned n;
} spots[PK_COUNT] = {[PK_HOME] = {spot_home, N(spot_home)},
    [PK_CATEGORY] = {spot_category, N(spot_category)},
    [PK_PRODUCT] = {spot_product, N(spot_product)},
    [PK_CART] = {spot_cart, N(spot_cart)},
    [PK_CHECKOUT] = {spot_checkout, N(spot_checkout)},
    [PK_OTHER] = {spot_other, N(spot_other)}};

static const struct spot spot_add = {S("#add-to-cart"), 720, 460};
static const struct spot spot_quick_add = {S(".quick-add"), 420, 520};
static const struct spot spot_price = {S(".price"), 700, 300};

static const struct nudge_strv page_home = S("/");
static const struct nudge_strv page_cart = S("/cart");
static const struct nudge_strv page_checkout = S("/checkout");
static const struct nudge_strv page_confirm = S("/checkout/confirmation");
static const struct nudge_strv page_other[] = {S("/search?q=boots"),
    S("/about"), S("/help/shipping"), S("/stores"), S("/blog/winter-style")};

/* ---- catalog and identities --------------------------------------------- */

void
gen_init(struct gen *g, uint64_t seed)
{
	memset(g, 0, sizeof(*g));
	g->seed = seed;
	for (unsigned k = 0; k < GEN_PRODUCTS; k++) {
		struct gen_product *p = &g->product[k];
		unsigned c = k / PRODUCTS_PER_CAT;
		uint64_t h = gen_mix64(k + 1);

		p->category = (uint8_t)c;
		snprintf(
		    p->sku, sizeof(p->sku), "%s-%04u", cat_code[c], 1000 + k);
		snprintf(p->page, sizeof(p->page), "/product/%s", p->sku);
		p->sku_v = strv_of(p->sku);
		p->page_v = strv_of(p->page);
		/* Prices end in .90, as shops like them. */
		p->price_cents =
		    cat_price_lo[c] +
		    (int64_t)(h % (uint64_t)(cat_price_span[c] / 100 + 1)) *
		        100;
	}
}

const char *
gen_category_name(unsigned c)
{
	return c < GEN_CATEGORIES ? cat_name[c] : "";
}

void
gen_visitor_id(
    const struct gen *g, uint64_t index, char out[GEN_VISITOR_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	/* index * odd + c, then a bijection: distinct indexes, distinct ids.
	 */
	uint64_t v =
	    gen_mix64(gen_mix64(g->seed) + index * 0x9e3779b97f4a7c15ULL);

	out[0] = 'v';
	for (int k = 0; k < 16; k++)
		out[1 + k] = hex[(v >> (60 - 4 * k)) & 0xf];
	out[GEN_VISITOR_LEN] = '\0';
}

/* A bijection on 31-bit values (odd multipliers and xorshifts mod 2^31). */
static uint32_t
mix31(uint32_t x)
{
	const uint32_t m = 0x7fffffffu;

	x &= m;
	x ^= x >> 15;
	x = (x * 0x2c1b3c6du) & m;
	x ^= x >> 12;
	x = (x * 0x297a2d39u) & m;
	x ^= x >> 15;
	return x;
}

/* First octet: publicly routed /8s only (skips 10, 100, 127, 169, 172...). */
static unsigned
ip_first_octet(unsigned k)
{
	static const uint8_t skip[] = {10, 100, 127, 169, 172, 192, 198, 203};
	unsigned o = 11;

	for (;;) {
		bool bad = false;

		for (unsigned j = 0; j < N(skip); j++)
			bad |= skip[j] == o;
		if (!bad && k-- == 0)
			return o;
		o++;
	}
}

void
gen_ip(const struct gen *g, uint64_t index, char out[GEN_IP_MAX])
{
	uint32_t v = mix31((uint32_t)(index + gen_mix64(g->seed)));

	snprintf(out, GEN_IP_MAX, "%u.%u.%u.%u", ip_first_octet(v >> 24),
	    (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff);
}

static const char *const ua_desktop[] = {
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 "
    "Firefox/120.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/119.0.0.0 Safari/537.36 Edg/119.0.0.0"};
static const char *const ua_mobile[] = {
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) "
    "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 "
    "Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/119.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, "
    "like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile "
    "Safari/537.36"};
static const char *const ua_tablet[] = {
    "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/119.0.0.0 Safari/537.36"};

const char *
gen_user_agent(const struct gen_session *s)
{
	uint64_t h = gen_mix64(s->index ^ 0x5851f42d4c957f2dULL);

	switch (s->device) {
	case DEVICE_MOBILE:
		return ua_mobile[h % N(ua_mobile)];
	case DEVICE_TABLET:
		return ua_tablet[h % N(ua_tablet)];
	default:
		return ua_desktop[h % N(ua_desktop)];
	}
}

/* ---- sessions ------------------------------------------------------------
 */

/*
 * Session under construction.  Time: a page is entered at `enter`, left at
 * `leave`; events on it happen at `cur`, moving forward within the stay.
 */
struct build {
	const struct gen *g;
	struct gen_session *s;
	struct gen_rng r;
	uint64_t enter, leave, cur;
	struct nudge_strv page;
	const struct gen_product *prod; /* product on screen, or NULL */
	unsigned cat;                   /* category last browsed */
	int64_t cart_cents;
	uint16_t cart_items;
};

/* Appends an event at time cur on the current page (NULL when full). */
static struct gen_event *
push(struct build *b, int type)
{
	struct gen_event *e;

	if (b->s->n >= GEN_EVENTS_MAX)
		return NULL;
	e = &b->s->ev[b->s->n++];
	memset(e, 0, sizeof(*e));
	e->type = (uint8_t)type;
	e->ts_ms = b->cur;
	e->page = b->page;
	/* Empty views point at "", never NULL: memcmp/memcpy callers. */
	e->target.ptr = e->sku.ptr = "";
	return e;
}

/* Moves cur forward by a think time that stays within the page's stay. */
static void
think(struct build *b)
{
	uint64_t room = b->leave > b->cur ? (b->leave - b->cur) / 2 : 0;

	b->cur += 300 + gen_rng_below(&b->r, (uint32_t)room + 1);
}

static uint16_t
jitter(struct build *b, uint16_t at, unsigned spread)
{
	int v =
	    (int)at + (int)gen_rng_below(&b->r, 2 * spread + 1) - (int)spread;

	return (uint16_t)(v < 0 ? 0 : v > 1000 ? 1000 : v);
}

static void
click(struct build *b, const struct spot *sp)
{
	struct gen_event *e;

	think(b);
	if ((e = push(b, EVENT_CLICK)) == NULL)
		return;
	e->target = sp->target;
	e->x = jitter(b, sp->x, 60);
	e->y = jitter(b, sp->y, 40);
}

/* Scrolls, a click and a hover, as people do on the kind of page. */
static void
page_activity(struct build *b, enum page_kind kind)
{
	struct gen_event *e;
	unsigned depth = 0;
	unsigned scrolls = chance(&b->r, 70) ? 1 + gen_rng_below(&b->r, 2) : 0;

	for (unsigned k = 0; k < scrolls; k++) {
		depth += 250 + gen_rng_below(&b->r, 400);
		think(b);
		if ((e = push(b, EVENT_SCROLL)) != NULL)
			e->scroll = (uint16_t)(depth > 1000 ? 1000 : depth);
	}
	if (kind == PK_PRODUCT && b->s->device == DEVICE_DESKTOP &&
	    chance(&b->r, 35)) {
		think(b);
		if ((e = push(b, EVENT_HOVER)) != NULL) {
			e->target = spot_price.target;
			e->x = jitter(b, spot_price.x, 30);
			e->y = jitter(b, spot_price.y, 20);
		}
	}
	if (chance(&b->r, 40))
		click(b, &spots[kind].v[gen_rng_below(&b->r, spots[kind].n)]);
}

/* Enters a page: a pageview when the previous page's stay is over. */
static void
page(struct build *b, struct nudge_strv path, enum page_kind kind)
{
	uint64_t at = b->cur + 400;

	if (b->s->n == 0)
		at = b->s->start_ms;
	else if (b->leave > at)
		at = b->leave;
	/* Stays of 2-42 s, triangular: most people read a little. */
	b->enter = b->cur = at;
	b->leave = at + 2000 + gen_rng_below(&b->r, 20001) +
	           gen_rng_below(&b->r, 20001);
	b->page = path;
	b->prod = NULL;
	push(b, EVENT_PAGEVIEW);
	page_activity(b, kind);
}

static void
category(struct build *b, unsigned c)
{
	b->cat = c;
	page(b, cat_page[c], PK_CATEGORY);
}

/* Popular products are picked more often (product of two uniforms). */
static const struct gen_product *
pick_product(struct build *b, unsigned c)
{
	unsigned k = gen_rng_below(&b->r, PRODUCTS_PER_CAT) *
	             gen_rng_below(&b->r, PRODUCTS_PER_CAT) / PRODUCTS_PER_CAT;

	return &b->g->product[c * PRODUCTS_PER_CAT + k];
}

static void
product(struct build *b, const struct gen_product *p)
{
	b->cat = p->category;
	page(b, p->page_v, PK_PRODUCT);
	b->prod = p;
}

/* add_to_cart of p after a click on sp; quantity 2 only if it fits. */
static void
add(struct build *b, const struct gen_product *p, const struct spot *sp)
{
	struct gen_event *e;
	uint16_t q = 1;

	if (b->cart_cents + p->price_cents > 20000)
		return; /* keeps every order within 20-200 EUR */
	if (chance(&b->r, 10) && b->cart_cents + 2 * p->price_cents <= 20000)
		q = 2;
	click(b, sp);
	b->cur += 100 + gen_rng_below(&b->r, 700);
	if ((e = push(b, EVENT_ADD_TO_CART)) == NULL)
		return;
	e->sku = p->sku_v;
	e->quantity = q;
	e->value_cents = p->price_cents * q;
	b->cart_cents += e->value_cents;
	b->cart_items += q;
}

static void
landing(struct build *b, bool product_first)
{
	unsigned u = gen_rng_below(&b->r, 100);

	if (product_first)
		product(
		    b, pick_product(b, gen_rng_below(&b->r, GEN_CATEGORIES)));
	else if (u < 50)
		page(b, page_home, PK_HOME);
	else if (u < 88)
		category(b, gen_rng_below(&b->r, GEN_CATEGORIES));
	else
		page(b, page_other[gen_rng_below(&b->r, N(page_other))],
		    PK_OTHER);
}

/* A visit that never opens a product page: 40% bounce. */
static void
browse(struct build *b)
{
	unsigned more = chance(&b->r, 40) ? 0 : 1 + gen_rng_below(&b->r, 5);

	landing(b, false);
	for (unsigned k = 0; k < more; k++) {
		unsigned u = gen_rng_below(&b->r, 100);

		if (u < 55)
			category(b, gen_rng_below(&b->r, GEN_CATEGORIES));
		else if (u < 75)
			page(b, page_home, PK_HOME);
		else
			page(b,
			    page_other[gen_rng_below(&b->r, N(page_other))],
			    PK_OTHER);
	}
}

/* Landing, some categories, 1-4 product pages. */
static void
shop(struct build *b)
{
	bool direct = chance(&b->r, 30);
	unsigned cats = direct ? 0 : gen_rng_below(&b->r, 3);
	unsigned prods = 1 + gen_rng_below(&b->r, 4);

	/* Products come from the last category seen, else from anywhere. */
	b->cat = gen_rng_below(&b->r, GEN_CATEGORIES);
	landing(b, direct);
	if (direct)
		prods--;
	for (unsigned k = 0; k < cats; k++)
		category(b, gen_rng_below(&b->r, GEN_CATEGORIES));
	for (unsigned k = 0; k < prods; k++)
		product(b, pick_product(b, b->cat));
}

static void
cart_and_beyond(struct build *b)
{
	struct gen_event *e;

	add(b, b->prod, &spot_add);
	if (chance(&b->r, 25)) {
		product(b, pick_product(b, b->cat));
		add(b, b->prod, &spot_add);
	}
	page(b, page_cart, PK_CART);
	if (b->s->tier < GEN_TIER_CHECKOUT)
		return;
	page(b, page_checkout, PK_CHECKOUT);
	if (b->s->tier < GEN_TIER_PURCHASE)
		return;
	think(b);
	if ((e = push(b, EVENT_PURCHASE)) != NULL) {
		e->value_cents = b->cart_cents;
		e->quantity = b->cart_items;
	}
	page(b, page_confirm, PK_OTHER);
}

/* Mouse towards the tab bar: desktops mostly, carts left behind more. */
static void
leave(struct build *b)
{
	unsigned p = b->s->device != DEVICE_DESKTOP ? 2
	             : b->s->tier >= GEN_TIER_CART  ? 25
	                                            : 8;

	if (b->s->tier == GEN_TIER_PURCHASE || !chance(&b->r, p))
		return;
	think(b);
	push(b, EVENT_EXIT_INTENT);
}

static void
origin(struct build *b)
{
	struct gen_session *s = b->s;
	const struct source_mix *m =
	    &source_mix[pick_permille(&b->r, source_w, N(source_w))];
	const struct origin *o = &m->o[gen_rng_below(&b->r, m->n)];

	s->source = m->source;
	s->referrer = o->ref;
	s->utm_source = o->us;
	s->utm_medium = o->um;
	s->utm_campaign = o->uc;
	s->device = device_v[pick_permille(&b->r, device_w, N(device_w))];
	memcpy(s->country,
	    country_v[pick_permille(&b->r, country_w, N(country_w))], 3);
}

static uint8_t
pick_tier(struct build *b, int buy)
{
	uint32_t u = gen_rng_below(&b->r, 100000);

	if (buy == GEN_BUY_YES)
		return GEN_TIER_PURCHASE;
	/* The same draw conditioned on "no purchase": exact proportions. */
	if (buy == GEN_BUY_NO && u < T_PURCHASE)
		u = T_PURCHASE + gen_rng_below(&b->r, 100000 - T_PURCHASE);

	if (u < T_PURCHASE)
		return GEN_TIER_PURCHASE;
	if (u < T_CHECKOUT)
		return GEN_TIER_CHECKOUT;
	if (u < T_CART)
		return GEN_TIER_CART;
	return u < T_PRODUCT ? GEN_TIER_PRODUCT : GEN_TIER_BROWSE;
}

void
gen_session(const struct gen *g, uint64_t index, uint64_t start_ms,
    struct gen_session *s)
{
	gen_session_as(g, index, start_ms, GEN_BUY_DEFAULT, s);
}

void
gen_session_as(const struct gen *g, uint64_t index, uint64_t start_ms, int buy,
    struct gen_session *s)
{
	struct build b = {.g = g, .s = s};

	s->index = index;
	s->start_ms = start_ms;
	s->n = 0;
	gen_visitor_id(g, index, s->visitor);
	gen_rng_seed(&b.r, g->seed, index);
	b.cur = start_ms;
	origin(&b);
	s->tier = pick_tier(&b, buy);
	s->quick_add =
	    s->tier == GEN_TIER_CART && chance(&b.r, QUICK_ADD_PERCENT);
	if (s->tier == GEN_TIER_BROWSE) {
		browse(&b);
	} else if (s->quick_add) {
		landing(&b, false);
		category(&b, gen_rng_below(&b.r, GEN_CATEGORIES));
		add(&b, pick_product(&b, b.cat), &spot_quick_add);
		page(&b, page_cart, PK_CART);
	} else {
		shop(&b);
		if (s->tier >= GEN_TIER_CART)
			cart_and_beyond(&b);
	}
	leave(&b);
}

uint32_t
gen_purchase_index(const struct gen_session *s)
{
	uint32_t i = 0;

	while (i < s->n && s->ev[i].type != EVENT_PURCHASE)
		i++;
	return i;
}

bool
gen_add_purchase(const struct gen *g, struct gen_session *s)
{
	struct build b = {.g = g, .s = s};
	const struct gen_event *last;
	int64_t cart = 0;
	uint16_t items = 0;
	struct gen_event *e;

	if (s->n == 0 || s->n + 3 > GEN_EVENTS_MAX ||
	    gen_purchase_index(s) < s->n)
		return false;
	for (uint32_t i = 0; i < s->n; i++)
		if (s->ev[i].type == EVENT_ADD_TO_CART) {
			cart += s->ev[i].value_cents;
			items += s->ev[i].quantity;
		}
	if (cart == 0) {
		cart =
		    g->product[gen_mix64(s->index) % GEN_PRODUCTS].price_cents;
		items = 1;
	}
	gen_rng_seed(&b.r, g->seed ^ 0x7075726368617365ULL, s->index);
	last = &s->ev[s->n - 1];
	b.cur = b.leave = last->ts_ms + 1000;
	b.page = gen_prev_page(s, s->n);
	if (b.page.len != page_checkout.len ||
	    memcmp(b.page.ptr, page_checkout.ptr, b.page.len) != 0) {
		b.cur = b.leave =
		    last->ts_ms + 2000 + gen_rng_below(&b.r, 8000);
		b.page = page_checkout;
		push(&b, EVENT_PAGEVIEW);
	}
	b.cur += 3000 + gen_rng_below(&b.r, 20000);
	if ((e = push(&b, EVENT_PURCHASE)) != NULL) {
		e->value_cents = cart;
		e->quantity = items;
	}
	b.cur += 1000 + gen_rng_below(&b.r, 2000);
	b.page = page_confirm;
	push(&b, EVENT_PAGEVIEW);
	s->tier = GEN_TIER_PURCHASE;
	return true;
}

void
gen_event_fill(const struct gen_session *s, uint32_t i, struct nudge_event *ev)
{
	const struct gen_event *e = &s->ev[i];
	static const struct nudge_strv none = Z;
	bool first = i == 0;

	ev->type = e->type;
	ev->device = s->device;
	memcpy(ev->country, s->country, 3);
	ev->name = none;
	ev->visitor = (struct nudge_strv){s->visitor, GEN_VISITOR_LEN};
	ev->ts_ms = e->ts_ms;
	ev->page = e->page;
	ev->referrer = first ? s->referrer : none;
	ev->utm_source = first ? s->utm_source : none;
	ev->utm_medium = first ? s->utm_medium : none;
	ev->utm_campaign = first ? s->utm_campaign : none;
	ev->target = e->target;
	ev->sku = e->sku;
	ev->value_cents = e->value_cents;
	ev->quantity = e->quantity;
	ev->x_permille = e->x;
	ev->y_permille = e->y;
	ev->scroll_permille = e->scroll;
	ev->n_fields = 0;
}

struct nudge_strv
gen_prev_page(const struct gen_session *s, uint32_t i)
{
	static const struct nudge_strv none = Z;

	while (i-- > 0)
		if (s->ev[i].type == EVENT_PAGEVIEW)
			return s->ev[i].page;
	return none;
}
