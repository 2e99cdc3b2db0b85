extension TimelineScript {
    /// Reads the embedded export (Formats/timeline.md). Events stay the strings that are
    /// hashed; position, kind and time come from the end of each body (Formats/history.md: keys
    /// are sorted, so a body ends in `,"kind":K,"seq":S,"time":T}`, or `…,"time":"T","v":2}` in
    /// format 2), and fields are parsed from
    /// the same string when a row is drawn — there is no second copy to disagree with what was
    /// verified.
    static let data = #"""
    const Data = (() => {
      const raw = JSON.parse(document.getElementById('stasis-export').textContent);
      if (raw.format !== 'stasis-timeline' || raw.version !== 1) throw new Error('not a stasis timeline export of version 1');
      const D = {
        session: raw.session, head: raw.head, publicKey: raw.publicKey, related: raw.related || [], exported: raw.exported,
        complete: false, count: 0, kindNames: [], kinds: new Uint16Array(0), times: new Float64Array(0), blobs: new Map(),
        text: '', starts: new Float64Array(1),
      };
      D.checkpoints = (raw.checkpoints || []).map(c => {
        let record = null;
        try { record = JSON.parse(c.record); } catch (e) { record = null; }
        const ok = record && record.history && typeof record.history.size === 'number';
        return { id: c.id, recordText: c.record, record: ok ? record : null, size: ok ? record.history.size : Infinity,
                 signature: c.signature, signer: c.signer };
      });

      // One body a line; the writer spelled '<', LF and CR as \u003c, \u000a, \u000d (which
      // canonical JSON never writes), so that no event can end the element.
      let lines = [], seqs = new Float64Array(0);
      const special = /\\(\\|u003c|u000a|u000d)/g, unescape = { '\\': '\\\\', u003c: '<', u000a: '\n', u000d: '\r' };
      D.body = i => { const line = lines[i]; return line.indexOf('\\u00') < 0 ? line : line.replace(special, (m, g) => unescape[g]); };
      D.seq = i => seqs[i] < 0 ? null : seqs[i];
      D.kind = i => D.kindNames[D.kinds[i]];
      /** The event's object, parsed from the verified body when it is drawn. */
      D.event = i => { try { return JSON.parse(D.body(i)); } catch (e) { return null; } };
      D.storedHashes = () => base64Bytes(document.getElementById('stasis-hashes').textContent.trim());

      // The tail is read backwards, character by character, and kinds are interned by a small
      // integer key checked with startsWith: no string is made per event.
      let tailKind = 0, tailSeq = 0, tailTime = 0, numberStart = 0;
      const byKey = new Map(), kindIds = new Map();
      function intern(b, from, to) {
        const key = ((to - from) << 16) ^ (b.charCodeAt(from) << 8) ^ b.charCodeAt(to - 1) ^ (b.charCodeAt((from + to) >> 1) << 21);
        const ids = byKey.get(key);
        if (ids) for (const id of ids) if (D.kindNames[id].length === to - from && b.startsWith(D.kindNames[id], from)) return id;
        return named(b.slice(from, to), key);
      }
      function named(name, key) {
        let id = kindIds.get(name);
        if (id !== undefined) return id;
        id = D.kindNames.length;
        D.kindNames.push(name); kindIds.set(name, id);
        if (key !== undefined) { if (byKey.has(key)) byKey.get(key).push(id); else byKey.set(key, [id]); }
        return id;
      }
      function number(b, end) {        // the digits (and sign) that end before `end`; sets numberStart
        let j = end - 1, v = 0, scale = 1;
        while (j >= 0) { const c = b.charCodeAt(j) - 48; if (c < 0 || c > 9) break; v += c * scale; scale *= 10; j--; }
        if (j === end - 1 || end - 1 - j > 19) return NaN;
        if (b.charCodeAt(j) === 45) { v = -v; j--; }
        numberStart = j + 1;
        return v;
      }
      const at = (b, j, lit) => j >= 0 && b.startsWith(lit, j);
      function tail(b) {
        const n = b.length;
        if (b.charCodeAt(n - 1) !== 125) return false;
        // Format 2 ends in `,"time":"T","v":2}`: the time is a string of digits.
        const quoted = b.endsWith(',"v":2}');
        const timeEnd = quoted ? n - 8 : n - 1;
        if (quoted && b.charCodeAt(timeEnd) !== 34) return false;
        tailTime = number(b, timeEnd);
        const timeKey = quoted ? numberStart - 9 : numberStart - 8;
        if (Number.isNaN(tailTime) || (quoted && b.charCodeAt(numberStart - 1) !== 34) || !at(b, timeKey, ',"time":')) return false;
        tailSeq = number(b, timeKey);
        if (!(tailSeq >= 0) || !at(b, numberStart - 8, '","seq":')) return false;
        const end = numberStart - 8;
        let j = end - 1;
        while (j >= 0 && b.charCodeAt(j) !== 34) j--;
        if (j <= 0 || !at(b, j - 8, ',"kind":"') || j + 1 >= end) return false;
        tailKind = intern(b, j + 1, end);
        return true;
      }

      /** (Re)reads the event elements parsed so far; `complete` once the document is. */
      D.load = (complete) => {
        const text = Array.from(document.querySelectorAll('script[data-stasis="events"]'), e => e.textContent).join('');
        lines = text.length ? text.split('\n') : [];
        if (lines.length && lines[lines.length - 1] === '') lines.pop();
        const count = lines.length;
        const starts = new Float64Array(count + 1);
        for (let i = 0, p = 0; i <= count; i++) { starts[i] = p; if (i < count) p += lines[i].length + 1; }
        const kinds = new Uint16Array(count), times = new Float64Array(count);
        seqs = new Float64Array(count);
        for (let i = 0; i < count; i++) {
          const ok = tail(lines[i]);    // the tail holds no escaped character
          kinds[i] = ok ? tailKind : named('(unreadable)');
          times[i] = ok ? tailTime / 1e6 : (i ? times[i - 1] : 0); seqs[i] = ok ? tailSeq : -1;
        }
        Object.assign(D, { text, starts, count, kinds, times, complete });
        const blobJSON = document.getElementById('stasis-blobs');
        if (complete && blobJSON) D.blobs = new Map(Object.entries(JSON.parse(blobJSON.textContent)).map(([id, b64]) => [id, base64Bytes(b64)]));
      };
      D.load(false);
      performance.mark('stasis-parsed');
      return D;
    })();

    """#
}
