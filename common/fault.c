/*
 * fault.c - the counters behind fault.h, in test builds only.
 */
#include "fault.h"

#ifdef NUDGE_FAULT_INJECTION
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

static atomic_ulong hits[FAULT_SITES];
static atomic_ulong nth[FAULT_SITES];	/* 0: disarmed */
static atomic_bool sticky[FAULT_SITES];
static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static const char *const names[FAULT_SITES] = {"alloc", "sql", "send"};

static void
arm(int site, unsigned long n, bool st)
{
	atomic_store(&nth[site], 0);
	atomic_store(&hits[site], 0);
	atomic_store(&sticky[site], st);
	atomic_store(&nth[site], n);
}

/* NUDGE_FAULT="alloc:3,sql:10+": read once, before the first hit. */
static void
fault_env(void)
{
	const char *env = getenv("NUDGE_FAULT");
	char buf[128];

	if (env == NULL || strlen(env) >= sizeof(buf))
		return;
	memcpy(buf, env, strlen(env) + 1);
	for (char *save, *tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(tok, ':');
		if (colon == NULL)
			continue;
		*colon = '\0';
		char *end;
		unsigned long n = strtoul(colon + 1, &end, 10);
		for (int s = 0; s < FAULT_SITES; s++)
			if (strcmp(tok, names[s]) == 0)
				arm(s, n, *end == '+');
	}
}

bool
fault_hit(int site)
{
	pthread_once(&env_once, fault_env);
	if (site < 0 || site >= FAULT_SITES)
		return false;
	unsigned long want = atomic_load(&nth[site]);
	if (want == 0)
		return false;
	unsigned long h = atomic_fetch_add(&hits[site], 1) + 1;
	return h == want || (h > want && atomic_load(&sticky[site]));
}

void
fault_arm(int site, unsigned long n, bool st)
{
	pthread_once(&env_once, fault_env);	/* env first: calls win */
	if (site >= 0 && site < FAULT_SITES)
		arm(site, n, st);
}

unsigned long
fault_count(int site)
{
	return site >= 0 && site < FAULT_SITES ? atomic_load(&hits[site]) : 0;
}
#else
/* ISO C wants something in a translation unit. */
typedef int fault_unused;
#endif
