extension TimelineScript {
    /// The page's own check of what it shows (Formats/timeline.md): every leaf, the hash chain,
    /// the RFC 6962 root at each checkpoint, Ed25519 signatures of the history head and of every
    /// checkpoint record (WebCrypto), and blob values against their ids. Hashing runs in slices
    /// so that the page stays usable; signatures are checked again whenever a key is pinned.
    static let verification = #"""
    const Verify = (() => {
      const encoder = new TextEncoder();
      const chainDomain = encoder.encode('stasis-chain-v1');
      const PENDING = 0, CONSISTENT = 1, BAD = 2, AFTER_BAD = 3;
      const state = {
        phase: 'loading', hashed: 0, status: new Uint8Array(0), leaves: new Uint8Array(0), chains: new Uint8Array(0), roots: new Map(), subtrees: new Map(), problems: [], firstBadEvent: null,
        checkpoints: new Map(), blobs: new Map(), head: null, key: null, pinned: false, coveredUpTo: 0, outcome: 'running',
      };

      function problem(seq, text) {
        if (seq !== null && (state.firstBadEvent === null || seq < state.firstBadEvent)) state.firstBadEvent = seq;
        state.problems.push({ seq, text });
      }

      /** Blob values are checked before anything shows them: a value that is not its id is never displayed. */
      function checkBlobs() {
        for (const [id, bytes] of Data.blobs) {
          const ok = Hex.of(Sha256.digest(bytes)) === id;
          state.blobs.set(id, ok);
          if (!ok) problem(null, `blob ${id} does not hash to its id: its value was edited (it is not shown)`);
        }
      }

      function markFrom(seq) {
        for (let i = seq + 1; i < Data.count; i++) if (state.status[i] !== BAD) state.status[i] = AFTER_BAD;
      }

      // Yields to the page between slices through a message, not setTimeout (which waits at
      // least 4 ms once nested: a sixth of the time at 25 ms slices).
      const channel = new MessageChannel(), resumes = [];
      channel.port1.onmessage = () => resumes.shift()();
      const pause = () => new Promise(r => { resumes.push(r); channel.port2.postMessage(0); });

      /** Hashes every event in slices of about 40 ms; `progress` is called after each slice. */
      async function hashAll(progress) {
        const n = Data.count, stored = Data.storedHashes();
        state.phase = 'hashing';
        state.status = new Uint8Array(n); state.leaves = new Uint8Array(n * 32); state.chains = new Uint8Array(n * 32);
        if (stored.length !== n * 64) problem(null, `the export holds ${n} events but stored hashes for ${Math.floor(stored.length / 64)}`);
        // Nothing is allocated per event: the body is encoded into one reused buffer, the
        // chain input and Merkle nodes are filled by hand, and the peaks of the tree live in
        // flat arrays (allocation was a tenth of the time at a million events).
        let buf = new Uint8Array(4096), bufTail = buf.subarray(1);
        const chainInput = new Uint8Array(80), nodeInput = new Uint8Array(65);
        chainInput.set(chainDomain, 0);
        nodeInput[0] = 1;
        const leaves = state.leaves, chains = state.chains;
        // The complete subtrees so far, largest first: hashes, sizes and first leaves.
        const peakHash = new Uint8Array(64 * 32), peakSize = new Float64Array(64), peakStart = new Float64Array(64);
        let peaks = 0;
        const pendingSizes = new Set(Data.checkpoints.map(c => c.size));
        const recordRoot = (size) => {
          if (!pendingSizes.has(size)) return;
          if (size === 0) { state.roots.set(0, Merkle.emptyRoot); return; }
          let r = peakHash.slice((peaks - 1) * 32, peaks * 32);
          for (let j = peaks - 2; j >= 0; j--) r = Merkle.node(peakHash.subarray(j * 32, j * 32 + 32), r);
          state.roots.set(size, r);
        };
        recordRoot(0);
        let broken = false, i = 0;
        while (i < n) {
          const until = performance.now() + 40;
          for (; i < n && (i & 255 || performance.now() < until); i++) {
            const body = Data.body(i), at = i * 32;
            if (body.length * 3 + 1 > buf.length) { buf = new Uint8Array(body.length * 3 + 1); bufTail = buf.subarray(1); }
            buf[0] = 0;
            const written = encoder.encodeInto(body, bufTail).written;
            Sha256.into(buf, written + 1, leaves, at);
            if (i === 0) for (let j = 16; j < 48; j++) chainInput[j] = 0;
            else for (let j = 0; j < 32; j++) chainInput[16 + j] = chains[at - 32 + j];
            for (let j = 0; j < 32; j++) chainInput[48 + j] = leaves[at + j];
            Sha256.into(chainInput, 80, chains, at);
            let status = CONSISTENT;
            if (!broken) {
              const seq = Data.seq(i);
              if (seq === null) { problem(i, `event ${i} was edited: its body is not a canonical event`); status = BAD; }
              else if (seq !== i) {
                problem(i, seq > i ? `event ${i} is missing: the event at position ${i} is event ${seq} (events were dropped)`
                                   : `event ${i} holds the body of event ${seq} (events were reordered or inserted)`);
                status = BAD;
              } else if (stored.length >= i * 64 + 64 && !Hex.equal(leaves, at, stored, i * 64)) {
                problem(i, `event ${i} was edited: its body does not match its stored leaf hash`); status = BAD;
              } else if (stored.length >= i * 64 + 64 && !Hex.equal(chains, at, stored, i * 64 + 32)) {
                problem(i, `event ${i} does not follow event ${i - 1}: its stored chain hash differs (events were inserted, dropped or rewritten before it)`);
                status = BAD;
              }
              if (status === BAD) { broken = true; markFrom(i); }
            }
            if (state.status[i] === PENDING) state.status[i] = status;
            // The leaf joins the peaks; equal sizes merge. Aligned complete subtrees of 256
            // leaves or more are kept for inclusion proofs.
            let size = 1, start = i;
            for (let j = 0; j < 32; j++) peakHash[peaks * 32 + j] = leaves[at + j];
            while (peaks > 0 && peakSize[peaks - 1] === size) {
              const l = (peaks - 1) * 32, r = peaks * 32;
              for (let j = 0; j < 32; j++) { nodeInput[1 + j] = peakHash[l + j]; nodeInput[33 + j] = peakHash[r + j]; }
              Sha256.into(nodeInput, 65, peakHash, l);
              peaks--; start = peakStart[peaks]; size *= 2;
              if (size >= 256) state.subtrees.set(start + ':' + size, peakHash.slice(l, l + 32));
            }
            peakSize[peaks] = size; peakStart[peaks] = start; peaks++;
            recordRoot(i + 1);
          }
          state.hashed = i;
          progress();
          await pause();
        }
        state.phase = 'signatures';
      }

      function leaf(i) { return state.leaves.subarray(i * 32, i * 32 + 32); }
      function known(lo, n) { return n >= 256 ? state.subtrees.get(lo + ':' + n) : undefined; }
      function chainAt(size) { return size === 0 ? new Uint8Array(32) : state.chains.subarray(size * 32 - 32, size * 32); }

      async function ed25519(publicKeyHex, signatureHex, message) {
        const key = Hex.bytes(publicKeyHex), sig = Hex.bytes(signatureHex);
        if (!key || key.length !== 32 || !sig || sig.length !== 64) return false;
        const k = await crypto.subtle.importKey('raw', key, { name: 'Ed25519' }, false, ['verify']);
        return crypto.subtle.verify({ name: 'Ed25519' }, k, sig, encoder.encode(message));
      }

      /** Checks the head and every checkpoint record against `keyHex` (pinned) or the keys the file names. */
      async function checkSignatures(keyHex, pinned) {
        state.key = keyHex; state.pinned = pinned;
        const results = [];
        const signerProblem = (signer) => pinned && signer !== keyHex ? `it is signed by key ${signer}, not by the pinned key` : null;
        for (const c of Data.checkpoints) {
          const notes = [];
          if (c.id !== Hex.of(Sha256.digest(encoder.encode(c.recordText)))) notes.push('its record does not hash to its id (the record was edited)');
          if (!c.record) notes.push('its record is not a checkpoint record');
          else {
            if (c.record.session !== Data.session.id) notes.push(`its record belongs to session ${c.record.session}`);
            if (c.size > Data.count) notes.push(`it covers ${c.size} events but the export holds ${Data.count} (events were dropped)`);
            else {
              const root = state.roots.get(c.size);
              if (!root || Hex.of(root) !== c.record.history.root) notes.push(`the first ${c.size} events do not match its signed tree head (events before ${c.size} were rewritten)`);
              else if (Hex.of(chainAt(c.size)) !== c.record.history.chain) notes.push(`the chain hash of event ${c.size - 1} differs from the one it signed`);
            }
          }
          const other = signerProblem(c.signer);
          if (other) notes.push(other);
          let signed = false;
          try { signed = await ed25519(pinned ? keyHex : c.signer, c.signature, 'stasis-checkpoint-v1\n' + c.id); } catch (e) { notes.push('this browser cannot check Ed25519 signatures: ' + e.message); }
          if (!signed && !other) notes.push('its signature does not verify');
          results.push({ kind: 'checkpoint', id: c.id, size: c.size, ok: notes.length === 0, notes });
        }
        const h = Data.head, notes = [];
        if (h.size > Data.count) notes.push(`it signs ${h.size} events but the export holds ${Data.count} (events were dropped)`);
        else if (h.size < Data.count) notes.push(`it signs ${h.size} events but the export holds ${Data.count}: events from ${h.size} on were added outside stasis`);
        else if (Hex.of(chainAt(h.size)) !== h.chain) notes.push('the last event\'s chain hash differs from the signed head (the history was rewritten)');
        const other = signerProblem(h.signer);
        if (other) notes.push(other);
        let signed = false;
        const message = `stasis-history-head-v1\n${Data.session.id}\n${h.size}\n${h.chain}`;
        try { signed = await ed25519(pinned ? keyHex : h.signer, h.signature, message); } catch (e) { notes.push('this browser cannot check Ed25519 signatures: ' + e.message); }
        if (!signed && !other) notes.push('its signature does not verify');
        state.head = { ok: notes.length === 0, notes, size: h.size };
        state.checkpoints = new Map(results.map(r => [r.id, r]));

        // Events are verified up to the largest signed tree that checks out, never past the first bad one.
        let covered = 0;
        if (state.head.ok) covered = h.size;
        for (const r of results) if (r.ok) covered = Math.max(covered, r.size);
        if (state.firstBadEvent !== null) covered = Math.min(covered, state.firstBadEvent);
        state.coveredUpTo = covered;
        const recordProblems = results.filter(r => !r.ok).map(r => ({ seq: null, text: `checkpoint ${r.id}: ${r.notes.join('; ')}` }));
        if (!state.head.ok) recordProblems.push({ seq: null, text: `history head (${h.size} events): ${state.head.notes.join('; ')}` });
        state.recordProblems = recordProblems;
        const bad = state.problems.length + recordProblems.length > 0;
        state.outcome = bad ? 'tampered' : pinned ? 'verified' : 'unpinned';
        state.phase = 'done';
      }

      /** 'verified', 'unpinned' (consistent, but against the key inside the file), 'bad', 'unchecked' or 'pending'. */
      function eventState(i) {
        if (i >= state.status.length) return 'pending';
        const s = state.status[i];
        if (s === BAD) return 'bad';
        if (s === AFTER_BAD) return 'unchecked';
        if (s === PENDING || state.phase !== 'done') return 'pending';
        if (i >= state.coveredUpTo) return 'unchecked';
        return state.pinned ? 'verified' : 'unpinned';
      }

      /** The inclusion proof of event i against the smallest checkpoint that covers it, else the head. */
      function proof(i) {
        if (state.phase !== 'done' || state.status[i] !== CONSISTENT) return null;
        const signed = Data.checkpoints.filter(c => c.size > i && state.checkpoints.get(c.id)?.ok).sort((a, b) => a.size - b.size)[0];
        const size = signed ? signed.size : Data.count;
        const path = Merkle.path(i, 0, size, leaf, known);
        const root = Merkle.rootFromPath(i, size, leaf(i), path);
        const expected = signed ? signed.record.history.root : Hex.of(Merkle.root(0, size, leaf, known));
        return { seq: i, size, leaf: Hex.of(leaf(i)), path: path.map(Hex.of), root: root ? Hex.of(root) : null, checkpoint: signed ? signed.id : null,
                 ok: !!root && Hex.of(root) === expected };
      }

      return { state, checkBlobs, hashAll, checkSignatures, eventState, proof, chainAt };
    })();

    """#
}
