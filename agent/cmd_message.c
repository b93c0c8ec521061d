/*
 * cmd_message.c - the `message` control command: an operator's one-off
 * banner, message, popup or coupon field for one visitor who is on the
 * site now (agent/oneoff.h delivers it with their next beacon answer).
 *
 *   message {vid: str, kind: str, text: str, sel: str} ->
 *           {replaced: bool, pending: uint}
 *
 * kind is banner or message (text required), popup (sel = popup name,
 * text optional), coupon, shake, show or hide (sel = a CSS selector).
 * Only a visitor with a live session here can be sent one: the console
 * asks the agent that holds the session.  Operator role, replayable,
 * audited with the visitor id hashed (the audit outlives the retention of
 * visitor ids).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "clock.h"
#include "command.h"
#include "oneoff.h"

static const struct {
	const char *name;
	uint8_t kind;
	bool text, sel;	/* required */
} msg_kinds[] = {
	{"banner", RULE_ACT_BANNER, true, false},
	{"message", RULE_ACT_MESSAGE, true, false},
	{"popup", RULE_ACT_POPUP, false, true},
	{"coupon", RULE_ACT_COUPON, false, true},
	{"shake", RULE_ACT_SHAKE, false, true},
	{"show", RULE_ACT_SHOW, false, true},
	{"hide", RULE_ACT_HIDE, false, true},
};

/* Text and selectors are shown as text by the tag; no control bytes. */
static bool
msg_plain(struct nudge_strv v)
{
	for (size_t i = 0; i < v.len; i++)
		if ((unsigned char)v.ptr[i] < 0x20 || v.ptr[i] == 0x7f)
			return false;
	return true;
}

static int
msg_field(const struct wire_request *rq, const char *key, bool required,
    char *dst, size_t cap, struct nudge_diag *d)
{
	struct nudge_strv v = {"", 0};
	int rv = wire_get_strv(rq->args, key, &v);

	if (rv == NUDGE_ENOTFOUND && !required)
		v = (struct nudge_strv){"", 0};
	else if (rv != 0 || (required && v.len == 0)) {
		nudge_diag_set(d, 0, 0, "%s: a non-empty string is required",
		    key);
		return NUDGE_EINVAL;
	}
	if (v.len >= cap || !msg_plain(v)) {
		nudge_diag_set(d, 0, 0, "%s: at most %zu bytes, no control "
		    "characters", key, cap - 1);
		return NUDGE_EINVAL;
	}
	memcpy(dst, v.ptr, v.len);
	dst[v.len] = '\0';
	return 0;
}

static int
msg_parse(const struct wire_request *rq, struct rrt_decision *dec,
    char vid[EVENT_VISITOR_MAX + 1], struct nudge_diag *d)
{
	char kind[16];
	int rv;

	memset(dec, 0, sizeof(*dec));
	if (rq->args == NULL) {
		nudge_diag_set(d, 0, 0, "vid, kind and text are required");
		return NUDGE_EINVAL;
	}
	if ((rv = msg_field(rq, "vid", true, vid, EVENT_VISITOR_MAX + 1,
	    d)) != 0 ||
	    (rv = msg_field(rq, "kind", true, kind, sizeof(kind), d)) != 0)
		return rv;
	for (size_t i = 0; i < sizeof(msg_kinds) / sizeof(msg_kinds[0]); i++) {
		if (strcmp(kind, msg_kinds[i].name) != 0)
			continue;
		dec->kind = msg_kinds[i].kind;	/* the id: oneoff_put's */
		if ((rv = msg_field(rq, "text", msg_kinds[i].text, dec->text,
		    sizeof(dec->text), d)) != 0)
			return rv;
		return msg_field(rq, "sel", msg_kinds[i].sel, dec->sel,
		    sizeof(dec->sel), d);
	}
	nudge_diag_set(d, 0, 0, "kind: one of banner, message, popup, "
	    "coupon, shake, show, hide");
	return NUDGE_EINVAL;
}

static int
message_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	struct rrt_decision dec;
	struct session_summary s;
	char vid[EVENT_VISITOR_MAX + 1];
	size_t n;
	bool replaced = false;
	uint64_t now = clock_mono_ms();
	int rv = msg_parse(rq, &dec, vid, d);

	if (rv == 0) {
		struct nudge_strv v = {vid, strlen(vid)};
		if (sesstab_visitor(a->sessions, v, &s, NULL, 0, &n) != 0) {
			nudge_diag_set(d, 0, 0, "no live session of this "
			    "visitor on this agent");
			rv = NUDGE_ENOTFOUND;
		} else if ((rv = oneoff_put(a->oneoff, v, &dec, now,
		    &replaced)) == NUDGE_EFULL) {
			nudge_diag_set(d, 0, 0, "%d messages are waiting "
			    "already; try again later", ONEOFF_MAX);
		}
	}
	if (rv != 0) {
		cmd_audit(a, rq, rv, "refused: %s", d->msg);
		return rv;
	}
	cmd_audit(a, rq, 0, "%s for visitor #%016" PRIx64 " (%zu bytes)%s",
	    rule_act_name(dec.kind), (uint64_t)XXH3_64bits(vid, strlen(vid)),
	    strlen(dec.text), replaced ? ", replacing the one pending" : "");
	msgpack_pack_map(pk, 2);
	wire_pack_cstr(pk, "replaced");
	if (replaced)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	wire_pack_cstr(pk, "pending");
	msgpack_pack_uint64(pk, oneoff_pending(a->oneoff, now));
	return 0;
}

const struct cmd_ops cmd_message = {
	.name = "message",
	.role = ROLE_OPERATOR,
	.replayable = true,
	.run = message_run,
};
