// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * wire.c - encoder and strict decoder of the agent <-> collector frames.
 *
 * The stream (inside TLS) is a sequence of frames. All integers are big-endian.
 *
 * Frame header, 12 bytes:
 *   offset size field
 *        0    4 magic      0x48574652 ("HWFR")
 *        4    1 version    1 or 2 (HW_WIRE_VERSION_MIN .. HW_WIRE_VERSION); others are refused.
 *                          BATCH frames are written as version 2; ACK and REQUEST frames have
 *                          not changed since version 1 and are written as version 1, so an
 *                          agent of version 1 still works with this collector.
 *        5    1 type       1 = BATCH (agent -> collector), 2 = ACK (collector -> agent),
 *                          3 = REQUEST (collector -> agent, see below)
 *        6    2 flags      0; reserved, non-zero is refused
 *        8    4 length     payload bytes that follow; <= HW_WIRE_MAX_PAYLOAD (8 MiB)
 *
 * BATCH payload, version 2:
 *        0    8 batch_id   agent-chosen, increasing per spool; echoed in the ACK
 *        8    8 first_seq  seq of the first event in the batch
 *       16    4 count      events (lines) in the batch, 1 .. HW_WIRE_MAX_EVENTS (65536)
 *       20    4 raw_len    uncompressed size, 1 .. HW_WIRE_MAX_RAW (32 MiB)
 *       24    8 run_id     the agent run that produced the events (random, chosen at agent
 *                          start; 0 = unknown). Seqs count from 1 in every run, so a run is
 *                          what a seq is unique in. A batch keeps the run id it was sealed
 *                          with, also when a later run of the agent resends it from the spool.
 *       32    1 host_len   bytes of host id, 1 .. HW_WIRE_MAX_ID (128)
 *       33    1 boot_len   bytes of boot id, 1 .. HW_WIRE_MAX_ID (128)
 *       34    h host_id    (host_len bytes, no NUL)
 *     34+h    b boot_id    (boot_len bytes, no NUL)
 *   34+h+b    z zstd       one zstd frame; the rest of the payload (z >= 1). It decompresses to
 *                          exactly raw_len bytes: count JSON objects, each followed by '\n'.
 *                          Every object carries its own "seq"; the collector stores each
 *                          (certificate name, host id, boot id, run id, seq) once.
 * BATCH payload, version 1 (written by agents before run ids; still accepted): the same
 * without run_id (host_len at 24, boot_len at 25, host_id at 26); its run id reads as 0.
 *
 * ACK payload, 24 bytes (HW_WIRE_ACK_LEN), sent only after the batch is committed to storage:
 *        0    8 batch_id
 *        8    4 stored     events newly stored
 *       12    4 duplicates events that were already stored (a resend)
 *       16    4 rejected   lines that were not JSON objects with a seq (counted, not stored)
 *       20    4 status     0 = durable; the agent may delete the batch from its spool
 *
 * REQUEST payload (collector -> agent, on the agent's own connection), 6 .. 4 + 4000 bytes:
 *        0    4 id         collector-chosen request id; the agent reports it in its
 *                          agent.request event
 *        4    n args       the words of one control request (as for "herdwatch-agent ctl"),
 *                          each followed by a NUL; 1 <= n <= HW_WIRE_MAX_REQUEST (4000), the
 *                          last byte is a NUL. The agent refuses (disconnects on) a REQUEST
 *                          outside these bounds; it queues at most 8 (more are dropped and
 *                          counted, ship_stats.requests_dropped) and runs each like a
 *                          control-socket request. No reply frame: the answer is an event.
 *
 * A peer that sends a frame violating any of the above is disconnected and the reason counted
 * (enum hw_wire_err); the collector never allocates more than a checked length. So is a peer
 * whose batch holds an event of a host its certificate is not for (host_mismatch: the
 * certificate's CN must equal every event's host.name; see docs/collector.md).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/wire.h"

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, v >> 32);
	put32(p + 4, (uint32_t)v);
}

static void put_hdr(uint8_t *p, uint8_t type, uint32_t len)
{
	put32(p, HW_WIRE_MAGIC);
	p[4] = type == HW_FRAME_BATCH ? HW_WIRE_VERSION : 1; /* ACK: unchanged since version 1 */
	p[5] = type;
	p[6] = 0;
	p[7] = 0;
	put32(p + 8, len);
}

const char *hw_wire_strerror(int err)
{
	static const char *const names[HW_REFUSE_MAX] = {
		[HW_WIRE_OK] = "ok",
		[HW_WIRE_BAD_MAGIC] = "bad_magic",
		[HW_WIRE_BAD_VERSION] = "bad_version",
		[HW_WIRE_BAD_TYPE] = "bad_type",
		[HW_WIRE_BAD_FLAGS] = "bad_flags",
		[HW_WIRE_OVERSIZED] = "oversized",
		[HW_WIRE_MALFORMED] = "malformed",
		[HW_WIRE_DECOMPRESS] = "decompress",
		[HW_WIRE_BAD_COUNT] = "bad_count",
		[HW_WIRE_TRUNCATED] = "truncated",
		[HW_REFUSE_HOST_MISMATCH] = "host_mismatch",
		[HW_REFUSE_DUP_KEY] = "dup_key",
		[HW_REFUSE_BAD_UTF8] = "bad_utf8",
		[HW_REFUSE_NOT_INTEGER] = "not_integer",
		[HW_REFUSE_NUL] = "nul_in_identifier",
	};
	if (err < 0 || err >= HW_REFUSE_MAX)
		return "unknown";
	return names[err];
}

int hw_wire_parse_hdr(const uint8_t *p, struct hw_frame_hdr *h)
{
	if (get32(p) != HW_WIRE_MAGIC)
		return HW_WIRE_BAD_MAGIC;
	h->version = p[4];
	h->type = p[5];
	h->flags = (uint16_t)(p[6] << 8 | p[7]);
	h->len = get32(p + 8);
	if (h->version < HW_WIRE_VERSION_MIN || h->version > HW_WIRE_VERSION)
		return HW_WIRE_BAD_VERSION;
	if (h->type != HW_FRAME_BATCH && h->type != HW_FRAME_ACK && h->type != HW_FRAME_REQUEST)
		return HW_WIRE_BAD_TYPE;
	if (h->flags)
		return HW_WIRE_BAD_FLAGS;
	if (h->len > HW_WIRE_MAX_PAYLOAD)
		return HW_WIRE_OVERSIZED;
	return HW_WIRE_OK;
}

int hw_wire_parse_batch(int version, const uint8_t *p, size_t len, struct hw_batch *b)
{
	size_t fixed = version >= 2 ? HW_WIRE_BATCH_FIXED : HW_WIRE_BATCH_FIXED_V1;
	if (version < HW_WIRE_VERSION_MIN || version > HW_WIRE_VERSION)
		return HW_WIRE_BAD_VERSION;
	if (len < fixed + 3) /* at least 1-byte ids and 1 byte of zstd */
		return HW_WIRE_MALFORMED;
	b->batch_id = get64(p);
	b->first_seq = get64(p + 8);
	b->count = get32(p + 16);
	b->raw_len = get32(p + 20);
	b->run_id = version >= 2 ? get64(p + 24) : 0;
	b->host_len = p[fixed - 2];
	b->boot_len = p[fixed - 1];
	if (b->count > HW_WIRE_MAX_EVENTS || b->raw_len > HW_WIRE_MAX_RAW ||
	    b->host_len > HW_WIRE_MAX_ID || b->boot_len > HW_WIRE_MAX_ID)
		return HW_WIRE_OVERSIZED;
	if (b->count == 0 || b->raw_len == 0 || b->host_len == 0 || b->boot_len == 0)
		return HW_WIRE_MALFORMED;
	size_t ids = fixed + b->host_len + b->boot_len;
	if (ids >= len)
		return HW_WIRE_MALFORMED;
	b->host_id = (const char *)p + fixed;
	b->boot_id = b->host_id + b->host_len;
	b->zdata = p + ids;
	b->zlen = len - ids;
	return HW_WIRE_OK;
}

int hw_wire_batch_decompress(const struct hw_batch *b, struct ZSTD_DCtx_s *dctx, char *out,
			     size_t cap)
{
	if (cap < b->raw_len)
		return HW_WIRE_OVERSIZED;
	unsigned long long declared = ZSTD_getFrameContentSize(b->zdata, b->zlen);
	if (declared == ZSTD_CONTENTSIZE_ERROR || declared != b->raw_len)
		return HW_WIRE_DECOMPRESS;
	size_t n;
	if (dctx)
		n = ZSTD_decompressDCtx(dctx, out, b->raw_len, b->zdata, b->zlen);
	else
		n = ZSTD_decompress(out, b->raw_len, b->zdata, b->zlen);
	if (ZSTD_isError(n) || n != b->raw_len)
		return HW_WIRE_DECOMPRESS;
	if (out[n - 1] != '\n')
		return HW_WIRE_BAD_COUNT;
	uint32_t lines = 0;
	for (const char *q = out, *end = out + n; q < end; q++) {
		q = memchr(q, '\n', (size_t)(end - q));
		if (!q)
			break;
		lines++;
	}
	if (lines != b->count)
		return HW_WIRE_BAD_COUNT;
	return HW_WIRE_OK;
}

int hw_wire_batch_encode(struct ZSTD_CCtx_s *cctx, int level, uint64_t batch_id, uint64_t first_seq,
			 uint32_t count, uint64_t run_id, const char *host_id, const char *boot_id,
			 const char *raw, size_t raw_len, uint8_t **out, size_t *out_len)
{
	size_t hl = strlen(host_id), bl = strlen(boot_id);
	if (!count || count > HW_WIRE_MAX_EVENTS || !raw_len || raw_len > HW_WIRE_MAX_RAW || !hl ||
	    hl > HW_WIRE_MAX_ID || !bl || bl > HW_WIRE_MAX_ID)
		return -EINVAL;
	size_t fixed = HW_WIRE_HDR_LEN + HW_WIRE_BATCH_FIXED + hl + bl;
	size_t bound = ZSTD_compressBound(raw_len);
	uint8_t *buf = malloc(fixed + bound);
	if (!buf)
		return -ENOMEM;
	size_t z;
	if (cctx)
		z = ZSTD_compressCCtx(cctx, buf + fixed, bound, raw, raw_len, level);
	else
		z = ZSTD_compress(buf + fixed, bound, raw, raw_len, level);
	if (ZSTD_isError(z) || fixed - HW_WIRE_HDR_LEN + z > HW_WIRE_MAX_PAYLOAD) {
		free(buf);
		return -EINVAL;
	}
	uint8_t *p = buf + HW_WIRE_HDR_LEN;
	put_hdr(buf, HW_FRAME_BATCH, (uint32_t)(fixed - HW_WIRE_HDR_LEN + z));
	put64(p, batch_id);
	put64(p + 8, first_seq);
	put32(p + 16, count);
	put32(p + 20, (uint32_t)raw_len);
	put64(p + 24, run_id);
	p[32] = (uint8_t)hl;
	p[33] = (uint8_t)bl;
	memcpy(p + HW_WIRE_BATCH_FIXED, host_id, hl);
	memcpy(p + HW_WIRE_BATCH_FIXED + hl, boot_id, bl);
	*out = buf;
	*out_len = fixed + z;
	return 0;
}

void hw_wire_ack_encode(const struct hw_ack *a, uint8_t out[HW_WIRE_HDR_LEN + HW_WIRE_ACK_LEN])
{
	put_hdr(out, HW_FRAME_ACK, HW_WIRE_ACK_LEN);
	uint8_t *p = out + HW_WIRE_HDR_LEN;
	put64(p, a->batch_id);
	put32(p + 8, a->stored);
	put32(p + 12, a->duplicates);
	put32(p + 16, a->rejected);
	put32(p + 20, a->status);
}

int hw_wire_parse_ack(const uint8_t *p, size_t len, struct hw_ack *a)
{
	if (len != HW_WIRE_ACK_LEN)
		return HW_WIRE_MALFORMED;
	a->batch_id = get64(p);
	a->stored = get32(p + 8);
	a->duplicates = get32(p + 12);
	a->rejected = get32(p + 16);
	a->status = get32(p + 20);
	return HW_WIRE_OK;
}
