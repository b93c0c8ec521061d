/*
 * fuzz_netrange.c - libFuzzer harness for the datacenter ranges parser
 * (agent/netrange.c): a parsed set must be sorted, disjoint and hold each
 * range it was built from; a refused text must name a line inside it.
 * run.sh compiles common/ only, so the module is included whole.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/netrange.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_set(const struct netrange *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct net_addr lo, hi;
		if (memcmp(t->iv[i].lo, t->iv[i].hi, 16) > 0)
			abort();
		if (i > 0 && memcmp(t->iv[i - 1].hi, t->iv[i].lo, 16) >= 0)
			abort();
		memcpy(lo.b, t->iv[i].lo, 16);
		memcpy(hi.b, t->iv[i].hi, 16);
		if (!netrange_has(t, &lo) || !netrange_has(t, &hi))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netrange *t = NULL;
	struct nudge_diag d = {0};
	int lines = 1;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (netrange_parse(&t, (const char *)data, size, "fuzz", &d) == 0) {
		check_set(t);
		netrange_free(t);
	} else if (t != NULL || d.line < 1 || d.line > lines) {
		abort();
	}
	return 0;
}
