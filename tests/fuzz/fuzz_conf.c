/*
 * fuzz_conf.c - libFuzzer harness for the INI configuration: any bytes
 * given to conf_load_string either load or fail with a positioned message;
 * nothing crashes, reads out of bounds, or leaves a non-terminated field.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

static struct nudge_config conf, defaults;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nudge_diag d = {0};
	char *text;
	int rc;

	if (size > 1 << 16)
		return 0;
	if (defaults.agent.shards == 0)
		conf_defaults(&defaults);
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	conf = defaults;
	rc = conf_load_string(&conf, "fuzz", text, &d);
	if (rc != NUDGE_OK) {
		if (rc != NUDGE_ECONFIG || d.line < 1 ||
		    memchr(d.msg, '\0', sizeof(d.msg)) == NULL)
			abort();
	} else {
		if (conf.agent.shards < 1 || conf.agent.shards > 256 ||
		    conf.funnel.n < 1 || conf.funnel.n > AGG_STEPS_MAX ||
		    conf.console.n_agents > CONF_AGENTS_MAX ||
		    strlen(conf.agent.name) > 63)
			abort();
	}
	free(text);
	return 0;
}
