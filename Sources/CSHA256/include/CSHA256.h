#ifndef STASIS_CSHA256_H
#define STASIS_CSHA256_H
// SHA-256 for the history verifier's hot loop, through libcrypto's low-level interface: a
// context on the stack, no allocation, the CPU's SHA extensions where it has them. (Through
// swift-crypto each hash allocated and freed a context and checked its CPU features again:
// two thirds of the cost of a 100-byte hash.)
#include <stddef.h>
#include <stdint.h>

/// SHA-256 of a ‖ b ‖ c (a length may be 0, its pointer then ignored), written to out[0..<32].
void stasis_sha256_parts(const void *a, size_t a_length, const void *b, size_t b_length,
                         const void *c, size_t c_length, uint8_t *out);

/// The RFC 6962 root of `count` leaf hashes (count a power of two), computed in place:
/// `hashes` holds count × 32 bytes; each level's node is SHA-256(0x01 ‖ left ‖ right);
/// on return hashes[0..<32] is the root.
void stasis_merkle_perfect_root(uint8_t *hashes, size_t count);
#endif
