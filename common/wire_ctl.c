/*
 * wire_ctl.c - the control path's envelopes: requests (with their
 * credential, nonce, expiry and HMAC-SHA256 signature) and replies (see
 * wire.h, "control requests and replies").
 *
 * Owns no state but the id counter of id_fallback; any thread.  Decoding
 * goes through the same precheck and envelope checks as the published
 * messages (wire_int.h).
 */
#include "wire.h"
#include "wire_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <mbedtls/md.h>
#include <xxhash.h>

#include "clock.h"

/* ---- control requests and replies -------------------------------------- */

/* Falls back on clock, pid and a counter: ids must be unique, not secret. */
static void
id_fallback(uint8_t *id, size_t n)
{
	static _Atomic uint64_t counter;
	uint64_t seed[3] = {clock_mono_us(), (uint64_t)getpid(), counter++};
	XXH128_hash_t hh = XXH3_128bits(seed, sizeof(seed));

	memcpy(id, &hh, n < sizeof(hh) ? n : sizeof(hh));
}

void
wire_new_id(uint8_t id[WIRE_ID_LEN])
{
	size_t got = 0;

	while (got < WIRE_ID_LEN) {
		ssize_t r = getrandom(id + got, WIRE_ID_LEN - got, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			id_fallback(id, WIRE_ID_LEN);
			return;
		}
		got += (size_t)r;
	}
}

void
wire_request_begin(msgpack_packer *pk, const char *cmd,
    const uint8_t id[WIRE_ID_LEN], uint64_t ts_ms)
{
	msgpack_pack_array(pk, 6);
	msgpack_pack_uint8(pk, WIRE_VERSION);
	wire_pack_cstr(pk, cmd ? cmd : "");
	msgpack_pack_bin_with_body(pk, id, WIRE_ID_LEN);
	msgpack_pack_uint64(pk, ts_ms);
}

static int
hmac(const uint8_t *key, size_t key_len, const void *buf, size_t len,
    uint8_t mac[WIRE_MAC_LEN])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(
	    MBEDTLS_MD_SHA256);

	if (md == NULL || mbedtls_md_hmac(md, key, key_len, buf, len,
	    mac) != 0)
		return NUDGE_EAUTH;
	return 0;
}

int
wire_request_end(msgpack_packer *pk, msgpack_sbuffer *sb,
    const char *key_id, const uint8_t *key, size_t key_len)
{
	uint8_t mac[WIRE_MAC_LEN];
	size_t idl;

	if (key == NULL)
		return msgpack_pack_nil(pk) != 0 ? NUDGE_ENOMEM : 0;
	idl = key_id ? strlen(key_id) : 0;
	if (idl == 0 || idl >= sizeof(((struct wire_request *)0)->key_id))
		return NUDGE_EINVAL;
	if (hmac(key, key_len, sb->data, sb->size, mac) != 0)
		return NUDGE_EAUTH;
	if (msgpack_pack_array(pk, 2) != 0 ||
	    msgpack_pack_str_with_body(pk, key_id, idl) != 0 ||
	    msgpack_pack_bin_with_body(pk, mac, WIRE_MAC_LEN) != 0)
		return NUDGE_ENOMEM;
	return 0;
}

static int
check_bin(const msgpack_object *o, uint32_t size, const void *buf,
    size_t len, size_t pos, const char *what, struct nudge_diag *d)
{
	if (o->type != MSGPACK_OBJECT_BIN)
		return wire_envelope_fail(d, buf, len, pos, NUDGE_ETYPE, what);
	if (o->via.bin.size != size)
		return wire_envelope_fail(d, buf, len, pos, NUDGE_EINVAL, what);
	return 0;
}

static int
request_auth(const msgpack_object *a, struct wire_request *rq,
    const void *buf, size_t len, struct nudge_diag *d)
{
	const msgpack_object *e;
	int rc;

	if (a->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != 2 ||
	    a->via.array.ptr[0].type != MSGPACK_OBJECT_STR)
		return wire_envelope_fail(d, buf, len, 5, NUDGE_ETYPE,
		    "auth is not nil or [key_id, mac]");
	e = a->via.array.ptr;
	if (e[0].via.str.size == 0 ||
	    e[0].via.str.size >= sizeof(rq->key_id))
		return wire_envelope_fail(d, buf, len, 5, NUDGE_EINVAL,
		    "key id is not 1..63 bytes");
	if ((rc = check_bin(&e[1], WIRE_MAC_LEN, buf, len, 5,
	    "mac is not a 32-byte bin", d)) != 0)
		return rc;
	memcpy(rq->key_id, e[0].via.str.ptr, e[0].via.str.size);
	rq->key_id[e[0].via.str.size] = '\0';
	memcpy(rq->mac, e[1].via.bin.ptr, WIRE_MAC_LEN);
	rq->signed_ = true;
	rq->signed_len = wire_elem_offset(buf, len, 5);
	return 0;
}

static int
request_check(struct wire_request *rq, const void *buf, size_t len,
    struct nudge_diag *d)
{
	const msgpack_object *e;
	int rc;

	if ((rc = wire_check_version(&rq->up.data, 6, buf, len, d)) != 0)
		return rc;
	e = rq->up.data.via.array.ptr;
	if (e[1].type != MSGPACK_OBJECT_STR)
		return wire_envelope_fail(d, buf, len, 1, NUDGE_ETYPE,
		    "cmd is not a string");
	if (e[1].via.str.size == 0 || e[1].via.str.size > WIRE_CMD_MAX)
		return wire_envelope_fail(d, buf, len, 1, NUDGE_ETOOBIG,
		    "cmd is not 1..32 bytes");
	if ((rc = check_bin(&e[2], WIRE_ID_LEN, buf, len, 2,
	    "id is not a 16-byte bin", d)) != 0)
		return rc;
	if (e[3].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return wire_envelope_fail(d, buf, len, 3, NUDGE_ETYPE,
		    "ts is not an unsigned integer");
	if (e[4].type != MSGPACK_OBJECT_MAP && e[4].type != MSGPACK_OBJECT_NIL)
		return wire_envelope_fail(d, buf, len, 4, NUDGE_ETYPE,
		    "args is not a map or nil");
	memcpy(rq->cmd, e[1].via.str.ptr, e[1].via.str.size);
	rq->cmd[e[1].via.str.size] = '\0';
	memcpy(rq->id, e[2].via.bin.ptr, WIRE_ID_LEN);
	rq->ts_ms = e[3].via.u64;
	rq->args = e[4].type == MSGPACK_OBJECT_MAP ? &e[4] : NULL;
	return request_auth(&e[5], rq, buf, len, d);
}

int
wire_request_parse(struct wire_request *rq, const void *buf, size_t len,
    const struct wire_limits *lim, struct nudge_diag *d)
{
	struct wire_request r;
	int rc;

	memset(&r, 0, sizeof(r));
	if ((rc = wire_unpack_top(&r.up, buf, len, lim, d)) != 0)
		return rc;
	if ((rc = request_check(&r, buf, len, d)) != 0) {
		msgpack_unpacked_destroy(&r.up);
		return rc;
	}
	*rq = r;
	return 0;
}

void
wire_request_fini(struct wire_request *rq)
{
	msgpack_unpacked_destroy(&rq->up);
	rq->args = NULL;
}

int
wire_request_verify(const struct wire_request *rq, const void *buf,
    const uint8_t *key, size_t key_len)
{
	uint8_t mac[WIRE_MAC_LEN];
	uint8_t diff = 0;

	if (!rq->signed_ || key == NULL ||
	    hmac(key, key_len, buf, rq->signed_len, mac) != 0)
		return NUDGE_EAUTH;
	/* Every byte is looked at: no early exit for a timing oracle. */
	for (size_t i = 0; i < WIRE_MAC_LEN; i++)
		diff |= (uint8_t)(mac[i] ^ rq->mac[i]);
	return diff == 0 ? 0 : NUDGE_EAUTH;
}

void
wire_reply_begin(msgpack_packer *pk, const uint8_t id[WIRE_ID_LEN],
    int status, const char *message)
{
	msgpack_pack_array(pk, 5);
	msgpack_pack_uint8(pk, WIRE_VERSION);
	msgpack_pack_bin_with_body(pk, id, WIRE_ID_LEN);
	msgpack_pack_int(pk, status);
	wire_pack_cstr(pk, message ? message : "");
}

static int
reply_check(struct wire_reply *rp, const void *buf, size_t len,
    struct nudge_diag *d)
{
	const msgpack_object *e;
	int64_t status;
	int rc;

	if ((rc = wire_check_version(&rp->up.data, 5, buf, len, d)) != 0)
		return rc;
	e = rp->up.data.via.array.ptr;
	if ((rc = check_bin(&e[1], WIRE_ID_LEN, buf, len, 1,
	    "id is not a 16-byte bin", d)) != 0)
		return rc;
	if ((rc = wire_obj_i64(&e[2], &status)) != 0)
		return wire_envelope_fail(d, buf, len, 2, NUDGE_ETYPE,
		    "status is not an integer");
	if (status > 0 || status < INT32_MIN)
		return wire_envelope_fail(d, buf, len, 2, NUDGE_ERANGE,
		    "status is not 0 or a negative error");
	if (e[3].type != MSGPACK_OBJECT_STR)
		return wire_envelope_fail(d, buf, len, 3, NUDGE_ETYPE,
		    "message is not a string");
	if ((rc = wire_obj_cstr(&e[3], rp->message, sizeof(rp->message))) != 0)
		return wire_envelope_fail(d, buf, len, 3, rc,
		    "message over 255 bytes");
	memcpy(rp->id, e[1].via.bin.ptr, WIRE_ID_LEN);
	rp->status = (int)status;
	rp->body = &e[4];
	return 0;
}

int
wire_reply_parse(struct wire_reply *rp, const void *buf, size_t len,
    const struct wire_limits *lim, struct nudge_diag *d)
{
	struct wire_reply r;
	int rc;

	memset(&r, 0, sizeof(r));
	if ((rc = wire_unpack_top(&r.up, buf, len, lim, d)) != 0)
		return rc;
	if ((rc = reply_check(&r, buf, len, d)) != 0) {
		msgpack_unpacked_destroy(&r.up);
		return rc;
	}
	*rp = r;
	return 0;
}

void
wire_reply_fini(struct wire_reply *rp)
{
	msgpack_unpacked_destroy(&rp->up);
	rp->body = NULL;
}
