/*
 * rule_arena.h - the compiled form of a rule set: expression nodes, text
 * segments and strings, all in one arena.  Internal to rules*.c.
 *
 * All nodes of a rule set live in one array and refer to each other by
 * index; index 0 is a dummy so that 0 means "none".  Strings live in fixed
 * chunks that never move, so nodes and rules point at them directly.
 * Every node carries its static type: the checker has already proved that
 * operands fit, so evaluation only handles missing values.  Built by one
 * compile, read-only afterwards.
 */
#ifndef NUDGE_RULE_ARENA_H
#define NUDGE_RULE_ARENA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"

/* Static types: enum rule_vtype plus "fact" (string or number) and error. */
#define RT_TANY 4
#define RT_TERR 5

enum rop {
	ROP_NONE = 0,
	ROP_CONST,	/* k: the value */
	ROP_FIELD,	/* a: enum rfield */
	ROP_FACT,	/* k.s: key; a: index node or 0 */
	ROP_VARIANT,	/* k.s: campaign name; a: campaign index */
	ROP_EVENT_IS,	/* a: event type; k.s: custom name if any */
	ROP_AND,
	ROP_OR,
	ROP_NOT,
	ROP_EQ,
	ROP_NE,
	ROP_LT,
	ROP_LE,
	ROP_GT,
	ROP_GE,
	ROP_MATCH,	/* a: operand; k.s: pattern; flag: glob */
	ROP_IN,		/* a: operand; b: first item node; c: items */
	ROP_NOT_IN,
	ROP_ADD,
	ROP_SUB,
	ROP_MUL,
	ROP_DIV,
	ROP_NEG,
	ROP_COUNT
};

struct rnode {
	uint8_t op;	/* enum rop */
	uint8_t type;	/* static type */
	uint8_t flag;
	uint8_t h;	/* height of the subtree */
	uint32_t a;
	uint32_t b;
	uint32_t c;
	struct rule_value k;
};

/* A text: segments [seg, seg + n) of the arena; a segment is literal
 * bytes (node 0) or a hole (node != 0). */
struct rseg {
	const char *lit;
	uint32_t len;
	uint32_t node;
};

struct rtext {
	uint32_t seg;
	uint32_t n;	/* 0: no text */
};

/* A check that needs names declared later in the file. */
enum rdefer_kind {
	RD_CAMPAIGN,	/* node is ROP_VARIANT: resolve its campaign */
	RD_VARIANT_NAME,/* node is a string constant: a variant of ref's */
	RD_STEP_LABEL	/* node is a string constant: some funnel's label */
};

struct rdefer {
	uint8_t kind;
	uint32_t node;
	uint32_t ref;
	int line;
	int col;
};

#define RPOOL_CHUNK 65536
#define RULE_FACT_KEYS_MAX 256	/* distinct fact keys interned */

struct rpool_chunk {
	struct rpool_chunk *next;
	size_t used;
	char b[RPOOL_CHUNK];
};

struct rarena {
	struct rnode *nodes;
	uint32_t n_nodes, cap_nodes;
	struct rseg *segs;
	uint32_t n_segs, cap_segs;
	struct rdefer *defer;
	uint32_t n_defer, cap_defer;
	struct rpool_chunk *pool;
	const char *fact_keys[RULE_FACT_KEYS_MAX]; /* interned */
	unsigned n_fact_keys;
	bool oom;	/* an allocation failed: the compile fails */
};

void rarena_init(struct rarena *ar);
/* Makes room for one more item of size sz in *v (n used, *cap slots). */
bool rarena_grow(struct rarena *ar, void **v, uint32_t n, uint32_t *cap,
    size_t sz);
void rarena_fini(struct rarena *ar);
/* Copies n bytes and a NUL; returns a stable pointer ("" when oom). */
const char *rarena_str(struct rarena *ar, const char *s, size_t n);
/* The same, but equal strings get the same pointer (fact keys). */
const char *rarena_intern(struct rarena *ar, const char *s, size_t n);

#endif
