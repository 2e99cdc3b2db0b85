extension TimelineScript {
    /// SHA-256 (FIPS 180-4) and the RFC 6962 tree, in plain JavaScript. WebCrypto's
    /// `subtle.digest` is asynchronous per call: a million promises for a million events is far
    /// slower than hashing in place, so the page carries its own hash over reused buffers.
    static let hashing = #"""
    'use strict';
    const Sha256 = (() => {
      const K = new Int32Array([
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
      const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
      const W = new Int32Array(64), H = new Int32Array(8), PAD = new Uint8Array(128);

      function block(m, o) {
        for (let t = 0; t < 16; t++, o += 4) W[t] = (m[o] << 24) | (m[o + 1] << 16) | (m[o + 2] << 8) | m[o + 3];
        for (let t = 16; t < 64; t++) {
          const x = W[t - 15], y = W[t - 2];
          const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
          const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
          W[t] = (W[t - 16] + s0 + W[t - 7] + s1) | 0;
        }
        let a = H[0], b = H[1], c = H[2], d = H[3], e = H[4], f = H[5], g = H[6], h = H[7];
        for (let t = 0; t < 64; t++) {
          const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
          const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[t] + W[t]) | 0;
          const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
          const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
          h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
        }
        H[0] = (H[0] + a) | 0; H[1] = (H[1] + b) | 0; H[2] = (H[2] + c) | 0; H[3] = (H[3] + d) | 0;
        H[4] = (H[4] + e) | 0; H[5] = (H[5] + f) | 0; H[6] = (H[6] + g) | 0; H[7] = (H[7] + h) | 0;
      }

      /** Digest of bytes[0..<length) written into out[at..<at+32]; nothing is allocated. */
      function into(bytes, length, out, at) {
        H.set(IV);
        const whole = length - (length & 63);
        for (let o = 0; o < whole; o += 64) block(bytes, o);
        const rest = length - whole;
        for (let i = 0; i < rest; i++) PAD[i] = bytes[whole + i];
        PAD[rest] = 0x80;
        const end = rest < 56 ? 64 : 128;
        for (let i = rest + 1; i < end - 8; i++) PAD[i] = 0;
        const high = Math.floor(length / 0x20000000), low = (length << 3) >>> 0;
        PAD[end - 8] = high >>> 24; PAD[end - 7] = high >>> 16; PAD[end - 6] = high >>> 8; PAD[end - 5] = high;
        PAD[end - 4] = low >>> 24; PAD[end - 3] = low >>> 16; PAD[end - 2] = low >>> 8; PAD[end - 1] = low;
        block(PAD, 0);
        if (end === 128) block(PAD, 64);
        for (let i = 0; i < 8; i++) {
          const v = H[i];
          out[at + 4 * i] = v >>> 24; out[at + 4 * i + 1] = v >>> 16; out[at + 4 * i + 2] = v >>> 8; out[at + 4 * i + 3] = v;
        }
      }

      function digest(bytes) { const out = new Uint8Array(32); into(bytes, bytes.length, out, 0); return out; }
      return { into, digest };
    })();

    /** RFC 6962 interior nodes and audit paths (Formats/history.md). */
    const Merkle = (() => {
      const buf = new Uint8Array(65);
      function node(left, right) {
        buf[0] = 1; buf.set(left, 1); buf.set(right, 33);
        const out = new Uint8Array(32); Sha256.into(buf, 65, out, 0); return out;
      }
      const emptyRoot = Sha256.digest(new Uint8Array(0));
      function split(n) { let k = 1; while (k * 2 < n) k *= 2; return k; }

      /** The root of leaves [lo, hi); `leaf(i)` gives a leaf, `known(lo, n)` a cached subtree or undefined. */
      function root(lo, hi, leaf, known) {
        const n = hi - lo;
        if (n === 0) return emptyRoot;
        if (n === 1) return leaf(lo);
        if ((n & (n - 1)) === 0) { const c = known(lo, n); if (c) return c; }
        const k = split(n);
        return node(root(lo, lo + k, leaf, known), root(lo + k, hi, leaf, known));
      }

      /** The audit path of leaf m in the tree of leaves [lo, hi), from the leaf up. */
      function path(m, lo, hi, leaf, known) {
        const n = hi - lo;
        if (n <= 1) return [];
        const k = split(n);
        if (m - lo < k) return path(m, lo, lo + k, leaf, known).concat([root(lo + k, hi, leaf, known)]);
        return path(m, lo + k, hi, leaf, known).concat([root(lo, lo + k, leaf, known)]);
      }

      /** RFC 9162 section 2.1.3.2: the root that a leaf and its path lead to, or null. */
      function rootFromPath(index, size, leafHash, hashes) {
        if (index >= size) return null;
        let fn = index, sn = size - 1, r = leafHash;
        for (const p of hashes) {
          if (sn === 0) return null;
          if ((fn & 1) === 1 || fn === sn) {
            r = node(p, r);
            if ((fn & 1) === 0) { do { fn >>>= 1; sn >>>= 1; } while ((fn & 1) === 0 && fn !== 0); }
          } else {
            r = node(r, p);
          }
          fn >>>= 1; sn >>>= 1;
        }
        return sn === 0 ? r : null;
      }
      return { node, emptyRoot, root, path, rootFromPath };
    })();

    const Hex = {
      of(bytes) { let s = ''; for (let i = 0; i < bytes.length; i++) s += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16); return s; },
      bytes(text) {
        if (typeof text !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(text)) return null;
        const out = new Uint8Array(text.length / 2);
        for (let i = 0; i < out.length; i++) out[i] = parseInt(text.substr(2 * i, 2), 16);
        return out;
      },
      equal(a, ao, b, bo) { for (let i = 0; i < 32; i++) if (a[ao + i] !== b[bo + i]) return false; return true; },
    };

    function base64Bytes(text) {
      // Native where the browser has it (Chromium 140+): the stored hashes are 64 bytes an event.
      if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(text);
      const bin = atob(text), out = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
      return out;
    }

    """#
}
