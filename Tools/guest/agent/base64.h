/* Standard base64 (RFC 4648, `=` padding, no line breaks): every payload on
 * the agent port is carried in it, so any bytes survive a line protocol. */
#ifndef STASIS_AGENT_BASE64_H
#define STASIS_AGENT_BASE64_H
#include <stddef.h>

/* Characters b64_encode writes for `len` bytes. */
#define B64_ENCODED_LEN(len) ((((len) + 2) / 3) * 4)

/* Encodes `len` bytes into `out` (B64_ENCODED_LEN(len) bytes); returns that length. */
size_t b64_encode(const unsigned char *in, size_t len, char *out);

/* Decodes in place; returns the length, or -1 for anything that is not
 * padded standard base64 (the agent refuses such input rather than guess). */
long b64_decode(char *s, size_t len);

#endif
