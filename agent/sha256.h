/* sha256.h - SHA-256 for the agent's fingerprints: executed files (binhash.c), inventory
 * contents and SSH keys (inventory.c, inventory_scan.c). See sha256.c for why not EVP. */
#ifndef HW_AGENT_SHA256_H
#define HW_AGENT_SHA256_H
#include <stddef.h>
#include <stdint.h>

struct hw_sha256; /* one running digest */

struct hw_sha256 *hw_sha256_new(void); /* NULL: out of memory */
void hw_sha256_free(struct hw_sha256 *c);
void hw_sha256_init(struct hw_sha256 *c);
void hw_sha256_update(struct hw_sha256 *c, const void *p, size_t n);
void hw_sha256_final(struct hw_sha256 *c, uint8_t md[32]);

/* the digest of one buffer */
void hw_sha256(const void *p, size_t n, uint8_t md[32]);

#endif
