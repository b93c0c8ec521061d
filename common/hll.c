/*
 * hll.c - HyperLogLog with 2^12 one-byte registers over XXH3-64 hashes.
 *
 * The struct is plain data owned by the caller, who locks it; these
 * functions keep no state of their own and may run on any thread.  With a
 * 64-bit hash no large-range correction is needed; small cardinalities use
 * linear counting, as in Flajolet et al. (2007).
 */
#include "hll.h"

#include <math.h>
#include <string.h>

#include <xxhash.h>

void
hll_init(struct hll *h)
{
	memset(h->reg, 0, sizeof(h->reg));
}

void
hll_add_hash(struct hll *h, uint64_t hash)
{
	uint32_t idx = (uint32_t)(hash >> (64 - HLL_P));
	uint64_t rest = hash << HLL_P;
	uint8_t rank;

	/* The sentinel bit caps the rank when every remaining bit is 0. */
	rest |= (uint64_t)1 << (HLL_P - 1);
	rank = (uint8_t)(__builtin_clzll(rest) + 1);
	if (rank > h->reg[idx])
		h->reg[idx] = rank;
}

void
hll_add(struct hll *h, const void *key, size_t len)
{
	hll_add_hash(h, XXH3_64bits(key, len));
}

void
hll_merge(struct hll *dst, const struct hll *src)
{
	for (uint32_t i = 0; i < HLL_REGISTERS; i++)
		if (src->reg[i] > dst->reg[i])
			dst->reg[i] = src->reg[i];
}

uint64_t
hll_count(const struct hll *h)
{
	const double m = HLL_REGISTERS;
	const double alpha = 0.7213 / (1.0 + 1.079 / m);
	double sum = 0.0, est;
	uint32_t zeros = 0;

	for (uint32_t i = 0; i < HLL_REGISTERS; i++) {
		sum += ldexp(1.0, -(int)h->reg[i]);
		zeros += h->reg[i] == 0;
	}
	est = alpha * m * m / sum;
	if (est <= 2.5 * m && zeros > 0)
		est = m * log(m / zeros);
	return (uint64_t)(est + 0.5);
}
