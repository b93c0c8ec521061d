/*
 * rule_code.h - conditions lowered to flat test programs, and their
 * evaluation on one event.  Internal to rules*.c.
 *
 * A program is a run of leaf tests (a field or a context fact against a
 * constant, an event name, or any other subtree, which rule_vm evaluates),
 * each naming the instruction to go to when it holds and when it does
 * not: and/or/not become those two jumps, so a whole condition runs as one
 * loop with no recursion and no values built for the logic.  Terminal
 * targets are RCODE_ACCEPT and RCODE_REJECT.
 *
 * A program is lowered for one event type: rule_eval's index already
 * guarantees the type, so event tests fold to constants and vanish (a
 * custom event's name test stays).  The operands of each and/or chain are
 * ordered by estimated cost and selectivity.  This keeps the semantics of
 * rules.h: in a condition every comparison involving a missing value is
 * false and and/or/not are plain boolean logic on those results, so
 * reordering cannot change a result; only the caller's fact and variant
 * callbacks may be asked fewer times or in another order (they are
 * lookups).
 *
 * Invariants:
 * 1. t and f of an instruction are RCODE_ACCEPT, RCODE_REJECT or the index
 *    of a later instruction of the same program (programs only go
 *    forward, so they always end).
 * 2. A leaf's operand is a field (src < RCODE_SRC_SLOT) or a fact slot
 *    (src - RCODE_SRC_SLOT < n_slots); a slot is a ROP_FACT node whose
 *    index is absent, a string constant or a field, so its value depends
 *    on the event only, and one evaluation asks it at most once.
 * 3. Leaves are interned: two instructions that test the same thing (the
 *    same operand, operator and constant) share one leaf, so that one
 *    evaluation computes each leaf at most once (the frame remembers the
 *    results of up to RCODE_MEMO leaves that several rules test)
 *    however many rules test it.
 * Built by one compile; read-only afterwards, any number of threads.
 */
#ifndef NUDGE_RULE_CODE_H
#define NUDGE_RULE_CODE_H

#include <stdbool.h>
#include <stdint.h>

#include "rule_arena.h"
#include "rule_field.h"
#include "rule_vm.h"
#include "rules.h"

#define RCODE_ACCEPT UINT32_MAX
#define RCODE_REJECT (UINT32_MAX - 1)
#define RCODE_SRC_SLOT 32 /* src >= this: a fact slot */
#define RCODE_SLOTS 64    /* fact slots per set; more use rule_vm */
#define RCODE_MEMO 4096   /* leaves whose results a frame keeps */
#define RCODE_SHARED UINT32_MAX

enum rins_kind {
	RI_NODE = 0, /* n: any boolean node, through rvm_test() */
	RI_EVNAME,   /* custom event named k.s (n bytes) */
	RI_BOOL,     /* operand is true */
	RI_EQ,       /* operand == constant (type ktype) */
	RI_NE,
	RI_LT, /* operand < k.num */
	RI_LE,
	RI_GT,
	RI_GE,
	RI_SUB,  /* operand contains k.s (n bytes) */
	RI_GLOB, /* funnel_glob(k.s): at least n bytes, pfx literal */
	RI_IN,   /* operand is one of n items at k.off (type ktype) */
	RI_NOT_IN,
	RI_COUNT
};

/* A leaf test; equal leaves of a set are stored once (invariant 3). */
struct rleaf {
	uint8_t kind;  /* enum rins_kind */
	uint8_t src;   /* operand: enum rfield or RCODE_SRC_SLOT + slot */
	uint8_t pfx;   /* RI_GLOB: bytes of the literal prefix */
	uint8_t ktype; /* RI_EQ, RI_NE, RI_IN, RI_NOT_IN: enum rule_vtype */
	uint32_t n;
	union {
		double num;
		bool b;
		const char *s;
		uint64_t off; /* RI_IN: first item in strs[] or nums[] */
	} k;
};

/* An instruction: test leaf, then go to t if it holds, else to f. */
struct rins {
	uint32_t leaf;
	uint32_t t, f;
};

/* One rule of an event type's list: its id and its program's entry. */
struct rcode_entry {
	uint32_t id;
	uint32_t pc; /* or RCODE_ACCEPT */
};

/* An operand of an and/or chain being ordered (lowering only). */
struct rcode_op {
	uint32_t node;
	uint32_t pos; /* in the chain: ties keep the written order */
	float rank;
};

/* Every program of a set, the items of their lists, the fact slots. */
struct rcode {
	const struct rnode *nodes; /* the arena's, borrowed */
	struct rins *ins;
	uint32_t n_ins, cap_ins;
	struct rleaf *leaves; /* [0, n_memo): tested by 2+ rules */
	uint32_t n_leaves, cap_leaves, n_memo;
	uint32_t *hash; /* lowering: leaf id + 1, 0 = empty */
	uint32_t hash_mask;
	uint32_t *owner; /* lowering: the rule testing each
	                  * leaf, or RCODE_SHARED */
	uint32_t cap_owner, rule;
	struct nudge_strv *strs;
	uint32_t n_strs, cap_strs;
	double *nums;
	uint32_t n_nums, cap_nums;
	uint32_t slot_node[RCODE_SLOTS];
	unsigned n_slots;
	struct rcode_op *scratch; /* lowering's stack of chains */
	uint32_t n_scratch, cap_scratch;
	bool oom;
};

void rcode_init(struct rcode *c, const struct rnode *nodes);
void rcode_fini(struct rcode *c);

/* Whether the condition tests the event type (its program then depends
 * on the list it is lowered for). */
bool rcode_tests_event(const struct rnode *nodes, uint32_t cond);

/*
 * Lowers condition cond of rule id rule for events of type t (-1: any, only
 * when the condition has no event test).  Returns the program's entry: an
 * instruction, RCODE_ACCEPT or RCODE_REJECT (a condition that is always
 * true or always false for that type).  On allocation failure sets
 * c->oom and returns RCODE_REJECT.
 */
uint32_t rcode_lower(struct rcode *c, uint32_t rule, uint32_t cond, int t);

/* Once every program is lowered: frees what only lowering needs and
 * puts the shared leaves first.  False (and c->oom) if out of memory. */
bool rcode_seal(struct rcode *c);

/* What one evaluation has loaded so far: fields, fact slots, leaves. */
struct rcode_frame {
	const struct rvm *vm;
	uint32_t have;                   /* fld[f] loaded, bit per field */
	uint64_t have_slot;              /* slot[s] loaded */
	uint64_t known[RCODE_MEMO / 64]; /* leaf results computed ... */
	uint64_t val[RCODE_MEMO / 64];   /* ... and those that hold */
	struct rule_value fld[RF_COUNT];
	struct rule_value slot[RCODE_SLOTS];
};

void rcode_frame_init(
    struct rcode_frame *fr, const struct rcode *c, const struct rvm *vm);

/*
 * The first k in [from, to) whose entry's program accepts, or to: the
 * scan of one event type's list, without a call per rule.
 */
uint32_t rcode_next(const struct rcode *c, struct rcode_frame *fr,
    const struct rcode_entry *e, uint32_t from, uint32_t to);

#endif
