/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * wire.h - the agent -> collector frame format (see wire.c for the byte-by-byte layout).
 *
 * A connection is a TLS stream of frames. The agent sends BATCH frames (a batch of JSON-line
 * events of one agent run, zstd-compressed), the collector answers each stored batch with an
 * ACK frame. Every
 * length read from the network is checked against the HW_WIRE_MAX_* bounds below before use.
 */
#ifndef HW_WIRE_H
#define HW_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define HW_WIRE_MAGIC 0x48574652u /* "HWFR" */
#define HW_WIRE_VERSION 2         /* BATCH frames are written in this version (run id) */
#define HW_WIRE_VERSION_MIN 1     /* oldest accepted: BATCH v1 has no run id (read as 0) */
#define HW_WIRE_HDR_LEN 12

enum hw_frame_type {
	HW_FRAME_BATCH = 1,   /* agent -> collector */
	HW_FRAME_ACK = 2,     /* collector -> agent */
	HW_FRAME_REQUEST = 3, /* collector -> agent: a control request (see below) */
};

/* REQUEST payload: request id (4 bytes), then the request's arguments, each NUL-terminated,
 * exactly as "herdwatch-agent ctl" sends them (e.g. "enable\0file\0--for\0600\0"). At most
 * HW_WIRE_MAX_REQUEST bytes of arguments. The agent runs it like a control-socket request and
 * reports the outcome in an agent.request event. */
#define HW_WIRE_MAX_REQUEST 4000u

/* Documented maxima: anything larger is rejected before it is allocated or read. */
#define HW_WIRE_MAX_PAYLOAD (8u << 20) /* bytes after the header, compressed */
#define HW_WIRE_MAX_RAW (32u << 20)    /* uncompressed bytes of one batch */
#define HW_WIRE_MAX_EVENTS 65536u      /* events in one batch */
#define HW_WIRE_MAX_ID 128u            /* bytes of host id / boot id */
#define HW_WIRE_BATCH_FIXED 34u        /* fixed part of a version 2 BATCH payload */
#define HW_WIRE_BATCH_FIXED_V1 26u     /* fixed part of a version 1 BATCH payload */
#define HW_WIRE_ACK_LEN 24u            /* ACK payload */

/* Reasons a frame is refused; also the collector's counter names (hw_wire_strerror, which also
 * names HW_REFUSE_HOST_MISMATCH below). */
enum hw_wire_err {
	HW_WIRE_OK = 0,
	HW_WIRE_BAD_MAGIC = 1,
	HW_WIRE_BAD_VERSION = 2,
	HW_WIRE_BAD_TYPE = 3,
	HW_WIRE_BAD_FLAGS = 4,
	HW_WIRE_OVERSIZED = 5,  /* a length above its documented maximum */
	HW_WIRE_MALFORMED = 6,  /* inner lengths inconsistent with the payload */
	HW_WIRE_DECOMPRESS = 7, /* zstd error or size differs from raw_len */
	HW_WIRE_BAD_COUNT = 8,  /* number of lines differs from count */
	HW_WIRE_TRUNCATED = 9,  /* connection closed inside a frame */
	HW_WIRE_ERR_MAX = 10,
};

/* Reasons the collector refuses a connection that are not frame-format errors (counted in
 * /api/stats "rejected" after the hw_wire_err names). */
#define HW_REFUSE_HOST_MISMATCH HW_WIRE_ERR_MAX /* event of a host the certificate is not for */
/* an event breaks the strict JSON the collector takes (docs/collector.md, "Strict JSON") */
#define HW_REFUSE_DUP_KEY (HW_WIRE_ERR_MAX + 1)     /* an object with two equal keys */
#define HW_REFUSE_BAD_UTF8 (HW_WIRE_ERR_MAX + 2)    /* a string not valid UTF-8 */
#define HW_REFUSE_NOT_INTEGER (HW_WIRE_ERR_MAX + 3) /* seq, a pid, uid or port not an integer */
#define HW_REFUSE_NUL (HW_WIRE_ERR_MAX + 4)         /* \u0000 in an identifier */
#define HW_REFUSE_MAX (HW_WIRE_ERR_MAX + 5)

struct hw_frame_hdr {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t len; /* payload bytes following the header */
};

struct hw_batch {
	uint64_t batch_id;
	uint64_t first_seq;
	uint32_t count;
	uint32_t raw_len;
	uint64_t run_id; /* the agent run that produced the batch; 0: unknown (a version 1 frame) */
	const char *host_id; /* not NUL-terminated */
	size_t host_len;
	const char *boot_id; /* not NUL-terminated */
	size_t boot_len;
	const uint8_t *zdata; /* zstd frame */
	size_t zlen;
};

struct hw_ack {
	uint64_t batch_id;
	uint32_t stored;     /* events newly stored */
	uint32_t duplicates; /* events already stored earlier (resends) */
	uint32_t rejected;   /* events that were not valid JSON objects with a seq */
	uint32_t status;     /* 0 = stored; the batch may be deleted from the spool */
};

const char *hw_wire_strerror(int err);

/* Parse the 12 header bytes at p; 0 or an hw_wire_err. Versions HW_WIRE_VERSION_MIN ..
 * HW_WIRE_VERSION are accepted (h->version says which). */
int hw_wire_parse_hdr(const uint8_t *p, struct hw_frame_hdr *h);

/* Parse a BATCH payload of len bytes of frame version `version` (pointers into payload);
 * 0 or an hw_wire_err. */
int hw_wire_parse_batch(int version, const uint8_t *payload, size_t len, struct hw_batch *b);

/* Decompress b into out (capacity cap >= b->raw_len) and check the line count.
 * dctx may be NULL (a temporary one is used). 0 or an hw_wire_err. */
struct ZSTD_DCtx_s;
int hw_wire_batch_decompress(const struct hw_batch *b, struct ZSTD_DCtx_s *dctx, char *out,
			     size_t cap);

/* Build a whole BATCH frame (header included) from raw = count JSON lines, each ending in '\n'.
 * *out is malloc'd. cctx may be NULL. 0 or -errno (-EINVAL when a bound is exceeded). */
struct ZSTD_CCtx_s;
int hw_wire_batch_encode(struct ZSTD_CCtx_s *cctx, int level, uint64_t batch_id, uint64_t first_seq,
			 uint32_t count, uint64_t run_id, const char *host_id, const char *boot_id,
			 const char *raw, size_t raw_len, uint8_t **out, size_t *out_len);

/* Write a whole ACK frame (HW_WIRE_HDR_LEN + HW_WIRE_ACK_LEN bytes) into out. */
void hw_wire_ack_encode(const struct hw_ack *a, uint8_t out[HW_WIRE_HDR_LEN + HW_WIRE_ACK_LEN]);
/* Parse an ACK payload; 0 or an hw_wire_err. */
int hw_wire_parse_ack(const uint8_t *payload, size_t len, struct hw_ack *a);

#endif
