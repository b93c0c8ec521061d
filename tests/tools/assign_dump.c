/*
 * assign_dump.c - test tool: prints the C assignment of 100,000 visitor
 * ids (and a few odd or invalid ones) under several campaign plans, for
 * tests/browser/assign.mjs to recompute with the tag's JavaScript.
 *
 *   assign_dump            writes to stdout:
 *	config SALT GEN HOLDOUT_BP W0,W1,...     one line per plan
 *	ID_HEX BUCKET V0 V1 ...                  one line per id
 * ID_HEX is the id's bytes in hex ("-" for the empty id), BUCKET its
 * bucket under the first plan's variant seed, Vk its variant under plan k
 * (ASSIGN_HOLDOUT = -1; -2 when the id is refused).  The ids are those of
 * tests/test_assign.c: 16 hex digits from splitmix64 seeded 20240515.
 * Exit status: 0, or 1 if a plan cannot be built.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "assign.h"

#define N_IDS 100000

struct cfg {
	const char *salt;
	uint32_t gen;
	unsigned hold;
	unsigned n;
	uint8_t w[ASSIGN_VARIANTS_MAX];
};

static const struct cfg cfgs[] = {
	{"checkout", 0, 0, 2, {50, 50}},
	{"checkout", 0, 0, 2, {90, 10}},
	{"checkout", 1, 1000, 2, {50, 50}},
	{"banner_test", 7, 2500, 4, {25, 25, 25, 25}},
	{"x.y-z", 4294967295u, 9999, 3, {0, 33, 67}},
	{"promo", 12, 0, 8, {10, 10, 10, 10, 10, 10, 10, 30}},
};
#define N_CFG (sizeof(cfgs) / sizeof(cfgs[0]))

static const char *const odd[] = {
	"!~", "a", "visitor-42", "Z~!{}",
	"0123456789012345678901234567890123456789012345678901234567890123",
	"", "a b", "caf\xc3\xa9", "tab\t",
	"0123456789012345678901234567890123456789012345678901234567890123"
	"4",
};

static uint64_t
sm_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
dump(const struct assign_plan *p, const char *id)
{
	struct nudge_strv v = strv_of(id);
	unsigned b = 0;
	int k;

	if (*id == '\0')
		fputs("-", stdout);
	for (const char *c = id; *c; c++)
		printf("%02x", (unsigned char)*c);
	if (assign_bucket((struct nudge_strv){p[0].vseed, p[0].vseed_len}, v,
	    &b) != 0)
		printf(" -2");
	else
		printf(" %u", b);
	for (size_t i = 0; i < N_CFG; i++) {
		if (assign_visitor(&p[i], v, &k) != 0)
			k = -2;
		printf(" %d", k);
	}
	putchar('\n');
}

int
main(void)
{
	struct assign_plan p[N_CFG];
	uint64_t s = 20240515;
	char id[17];

	for (size_t i = 0; i < N_CFG; i++) {
		const struct cfg *c = &cfgs[i];

		if (assign_plan_init(&p[i], c->salt, c->gen, c->w, c->n,
		    c->hold) != 0) {
			fprintf(stderr, "assign_dump: bad plan %zu\n", i);
			return 1;
		}
		printf("config %s %" PRIu32 " %u ", c->salt, c->gen, c->hold);
		for (unsigned j = 0; j < c->n; j++)
			printf("%s%u", j ? "," : "", (unsigned)c->w[j]);
		putchar('\n');
	}
	for (int i = 0; i < N_IDS; i++) {
		snprintf(id, sizeof(id), "%016" PRIx64, sm_next(&s));
		dump(p, id);
	}
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		dump(p, odd[i]);
	return 0;
}
