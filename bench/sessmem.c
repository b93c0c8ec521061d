/*
 * sessmem.c - bytes per live session in the agent's session table, at
 * 100k and 1M sessions: what the table accounts for, and what the process
 * RSS grew by, against the size of the session struct itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "funnel.h"
#include "sesstab.h"

static size_t
rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t kb = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtoul(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

static void
fill(size_t n)
{
	struct funnel fun;
	struct sesstab *t;
	struct sesstab_config c = {.shards = 8, .timeout_ms = 1800000};
	char vid[24], page[40];
	size_t before = rss_kb(), sessions, bytes;

	funnel_default(&fun);
	c.funnel = &fun;
	if (sesstab_new(&t, &c) != 0)
		exit(1);
	for (size_t i = 0; i < n; i++) {
		struct nudge_event ev;
		event_init(&ev);
		snprintf(vid, sizeof(vid), "v%016zx", i * 2654435761u);
		snprintf(page, sizeof(page), "/product/%zu", i % 5000);
		ev.visitor = strv_of(vid);
		ev.page = strv_of(page);
		for (int k = 0; k < 3; k++)
			sesstab_apply(t, &ev, 1, 1700000000000ull);
	}
	sesstab_memory(t, &sessions, &bytes);
	size_t after = rss_kb();
	printf("sessions=%zu table_bytes_per_session=%.0f "
	    "rss_bytes_per_session=%.0f struct_bytes=%zu\n", sessions,
	    (double)bytes / (double)sessions,
	    (double)(after - before) * 1024.0 / (double)sessions,
	    sesstab_struct_size());
	sesstab_free(t);
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;

	fill(n);
	return 0;
}
