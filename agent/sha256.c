/* sha256.c - SHA-256 through OpenSSL's low-level functions (SHA256_Init/Update/Final).
 *
 * Not EVP: OpenSSL 3's first EVP digest initialises the library (reads openssl.cnf, loads the
 * default provider and its algorithm tables). In the agent that happened at every start, in
 * the inventory's first run, and it was ~2 MiB of its resident memory (libcrypto's code and
 * data touched, the provider's allocations): 1.8 MiB of libcrypto text resident instead of
 * 0.2 MiB (docs/performance.md, "Agent RSS"). The low-level functions run the same
 * CPU-specific code (SHA-NI, AVX2: chosen at the library's load) without any of that. They are
 * deprecated in OpenSSL 3, not removed; this file is the one place that uses them. TLS (the
 * collector sink, ship.c) still initialises OpenSSL when it is configured. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "agent/sha256.h"
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

struct hw_sha256 {
	SHA256_CTX c;
};

struct hw_sha256 *hw_sha256_new(void)
{
	return calloc(1, sizeof(struct hw_sha256));
}

void hw_sha256_free(struct hw_sha256 *c)
{
	free(c);
}

void hw_sha256_init(struct hw_sha256 *c)
{
	SHA256_Init(&c->c);
}

void hw_sha256_update(struct hw_sha256 *c, const void *p, size_t n)
{
	SHA256_Update(&c->c, p, n);
}

void hw_sha256_final(struct hw_sha256 *c, uint8_t md[32])
{
	SHA256_Final(md, &c->c);
}

void hw_sha256(const void *p, size_t n, uint8_t md[32])
{
	SHA256_CTX c;
	SHA256_Init(&c);
	SHA256_Update(&c, p, n);
	SHA256_Final(md, &c);
}
