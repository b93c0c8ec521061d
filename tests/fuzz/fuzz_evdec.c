/*
 * fuzz_evdec.c - libFuzzer harness for common/evdec.c, differential: each
 * input is decoded as an ev array alone and as a whole emit request, by
 * evdec and by the msgpack-c path (wire_precheck, msgpack_unpack_next,
 * wire_unpack_event, wire_request_parse); any disagreement (code, message,
 * event, or evdec taking a request the ingest path would refuse) aborts.
 * Seeds: tests/fuzz/corpus/evdec/ (written by test_evdec,
 * NUDGE_WRITE_CORPUS=dir).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../evdec_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *why;

	if ((why = evdiff_array(data, size)) != NULL ||
	    (why = evdiff_emit(data, size)) != NULL) {
		fprintf(stderr, "evdec differs: %s\n", why);
		abort();
	}
	return 0;
}
