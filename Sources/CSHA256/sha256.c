// The low-level SHA256_* calls are deprecated in OpenSSL 3 in favour of EVP, whose one-shot form
// looks the algorithm up at every call; for millions of 100-byte inputs that lookup is the cost.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
#include "CSHA256.h"

void stasis_sha256_parts(const void *a, size_t a_length, const void *b, size_t b_length,
                         const void *c, size_t c_length, uint8_t *out) {
    SHA256_CTX context;
    SHA256_Init(&context);
    if (a_length) SHA256_Update(&context, a, a_length);
    if (b_length) SHA256_Update(&context, b, b_length);
    if (c_length) SHA256_Update(&context, c, c_length);
    SHA256_Final(out, &context);
}

void stasis_merkle_perfect_root(uint8_t *hashes, size_t count) {
    static const uint8_t node_prefix = 0x01;
    for (size_t n = count; n > 1; n /= 2) {
        for (size_t i = 0; i < n / 2; i++) {
            // Node i of the level above is written over hash i, which was read (as part of
            // pair i/2 or earlier) before: inputs at 64i, output at 32i <= 64i.
            uint8_t node[32];
            stasis_sha256_parts(&node_prefix, 1, hashes + 64 * i, 64, NULL, 0, node);
            for (int k = 0; k < 32; k++) hashes[32 * i + k] = node[k];
        }
    }
}
