extension TimelineScript {
    /// The time axis, the event detail (hashes, inclusion proof), the session header, the
    /// checkpoint tree, the verification banner and the start-up sequence.
    static let panels = #"""
    const Axis = (() => {
      const canvas = document.getElementById('axis');
      let bins = null, width = 0, lo = 0, hi = 1, markers = [];
      function reset() {
        bins = null; markers = [];
        for (let i = 0; i < Data.count; i++) {
          const k = Data.kind(i);
          if (k === 'checkpoint' || k === 'restore') markers.push([i, k]);
        }
        for (const c of Data.checkpoints) if (c.size > 0 && c.size <= Data.count) markers.push([c.size - 1, 'checkpoint']);
      }
      function bounds() {
        lo = Infinity; hi = -Infinity;
        for (let i = 0; i < Data.count; i++) { const t = Data.times[i]; if (t < lo) lo = t; if (t > hi) hi = t; }
        if (!(hi > lo)) { lo = lo === Infinity ? 0 : lo; hi = lo + 1; }
      }
      function count() {
        width = Math.max(1, canvas.clientWidth);
        bins = new Uint32Array(width);
        const scale = (width - 1) / (hi - lo);
        for (let i = 0; i < Data.count; i++) bins[Math.floor((Data.times[i] - lo) * scale)]++;
      }
      function draw(range) {
        if (!bins || canvas.clientWidth !== width) { if (!bins) { bounds(); } count(); }
        const dpr = window.devicePixelRatio || 1, h = canvas.clientHeight || 56;
        canvas.width = width * dpr; canvas.height = h * dpr;
        const g = canvas.getContext('2d');
        g.scale(dpr, dpr);
        g.fillStyle = '#f4f4f0'; g.fillRect(0, 0, width, h);
        let max = 1;
        for (const b of bins) if (b > max) max = b;
        g.fillStyle = '#6b7f99';
        for (let x = 0; x < width; x++) if (bins[x]) { const bh = Math.max(3, (h - 14) * Math.log(1 + bins[x]) / Math.log(1 + max)); g.fillRect(x, h - 12 - bh, 2, bh); }
        const x = t => (t - lo) * (width - 1) / (hi - lo);
        for (const [i, k] of markers) { g.fillStyle = k === 'checkpoint' ? '#1f6fd1' : '#d9730d'; g.fillRect(Math.floor(x(Data.times[i])), 0, 2, h - 12); }
        for (const c of Data.related) {
          if (c.relation !== 'fork') continue;
          const cp = Data.checkpoints.find(p => p.id === c.checkpoint);
          if (cp && cp.size > 0 && cp.size <= Data.count) { g.fillStyle = '#8a3ffc'; g.fillRect(Math.floor(x(Data.times[cp.size - 1])), 0, 3, 8); }
        }
        if (range) { const a = x(range[0]), b = x(range[1]); g.fillStyle = 'rgba(200,30,30,0.12)'; g.fillRect(a, 0, Math.max(2, b - a), h - 12); g.strokeStyle = '#c81e1e'; g.strokeRect(a + 0.5, 0.5, Math.max(2, b - a), h - 13); }
        g.fillStyle = '#333'; g.font = '10px sans-serif';
        g.fillText(new Date(lo).toISOString(), 2, h - 2);
        const end = new Date(hi).toISOString(); g.fillText(end, width - g.measureText(end).width - 2, h - 2);
      }
      canvas.addEventListener('click', ev => {
        const r = canvas.getBoundingClientRect();
        View.revealTime(lo + (ev.clientX - r.left) / Math.max(1, width - 1) * (hi - lo));
      });
      return { draw, reset };
    })();

    const Detail = (() => {
      const box = document.getElementById('detail');
      const { el } = { el: (...a) => View.el(...a) };
      function line(label, text, cls) { const p = el('div', 'kv'); p.append(el('span', 'k', label), el('span', 'v' + (cls ? ' ' + cls : ''), text)); return p; }
      function show(i) {
        box.replaceChildren();
        if (i < 0) return;
        const state = Verify.eventState(i), body = Data.body(i);
        const time = body.slice(body.lastIndexOf(',"time":') + 8).replace(/[^0-9]+/g, ' ').trim().split(' ')[0];
        box.append(el('h2', null, `Event ${i}`));
        box.append(line('kind', Data.kind(i)), line('time', `${new Date(Data.times[i]).toISOString()} (${time} ns)`),
                   line('status', state, 'mark ' + state));
        box.append(line('leaf', Hex.of(Verify.state.leaves.subarray(i * 32, i * 32 + 32))), line('chain', Hex.of(Verify.chainAt(i + 1))));
        box.append(el('h3', null, 'Stored body (the bytes that were hashed)'), el('pre', 'body', View.shown(body, false)));
        const button = el('button', null, 'Show inclusion proof'); button.id = 'prove';
        const out = el('div'); out.id = 'proof';
        button.addEventListener('click', () => {
          const p = Verify.proof(i);
          out.replaceChildren();
          if (!p) { out.append(el('p', 'bad', 'No proof: this event did not verify (or verification is still running).')); return; }
          out.append(line('tree size', String(p.size)),
                     line('against', p.checkpoint ? `checkpoint ${p.checkpoint} (signed tree head)` : 'the tree of every event in the file (the head signs the chain, not this root)'),
                     line('leaf', p.leaf), line('root', p.root || '—'));
          const ol = el('ol', 'path');
          for (const h of p.path) ol.append(el('li', null, h));
          out.append(el('h3', null, `Audit path (${p.path.length} hashes, from the leaf up)`), ol);
          out.append(el('p', p.ok ? 'ok' : 'bad', p.ok ? 'The path leads from the leaf to the signed root: the event is in the tree.' : 'The path does not lead to the root.'));
        });
        box.append(button, out);
      }
      return { show };
    })();

    const Page = (() => {
      const $ = id => document.getElementById(id), el = (...a) => View.el(...a);
      function header() {
        const s = Data.session, box = $('session');
        box.replaceChildren(el('h1', null, 'Session ' + s.id));
        const facts = el('div', 'facts');
        facts.append(el('span', null, `created ${new Date(s.created * 1000).toISOString()}`), el('span', null, `${Data.count.toLocaleString('en')} events`),
                     el('span', null, `${Data.checkpoints.length} checkpoints`), el('span', null, 'state: ' + s.state),
                     el('span', null, `exported ${new Date(Data.exported / 1e6).toISOString()}`));
        box.append(facts);
        const labels = el('div', 'labels');
        for (const [k, v] of Object.entries(s.labels || {})) labels.append(el('span', 'label', `${k}=${View.shown(v, true)}`));
        labels.title = 'Session labels come from the catalog: they are not signed';
        box.append(labels);
      }
      function tree() {
        const box = $('tree');
        box.replaceChildren(el('h2', null, 'Checkpoints, restores and forks'));
        const byParent = new Map();
        for (const c of Data.checkpoints) {
          const p = c.record && c.record.parent && Data.checkpoints.some(x => x.id === c.record.parent) ? c.record.parent : null;
          if (!byParent.has(p)) byParent.set(p, []);
          byParent.get(p).push(c);
        }
        const parent = Data.related.find(r => r.relation === 'parent');
        const ul = el('ul', 'tree');
        if (parent) ul.append(el('li', 'related', `forked from session ${parent.id} at checkpoint ${parent.checkpoint} (catalog, not verified)`));
        const add = (into, c) => {
          const v = Verify.state.checkpoints.get(c.id), state = Verify.state.phase !== 'done' ? 'pending' : v && v.ok ? (Verify.state.pinned ? 'verified' : 'unpinned') : 'bad';
          const li = el('li', 'checkpoint');
          const a = el('a', null, `checkpoint ${c.id.slice(0, 16)}`); a.href = '#'; a.dataset.checkpoint = c.id;
          a.addEventListener('click', ev => { ev.preventDefault(); if (c.size > 0) View.reveal(c.size - 1); });
          const labels = c.record ? Object.entries(c.record.labels || {}).map(([k, x]) => `${k}=${x}`).join(' ') : '';
          li.append(el('span', 'mark ' + state, { verified: '\u2713', unpinned: '\u2248', bad: '\u2717', pending: '\u2026' }[state]), a,
                    el('span', null, ` after event ${c.size - 1}` + (c.record ? `, ${new Date(Number(c.record.created) / 1e6).toISOString()}` : '') + (labels ? `  ${View.shown(labels, true)}` : '')));
          if (v && !v.ok) li.append(el('div', 'bad', v.notes.join('; ')));
          const kids = el('ul');
          for (const r of Data.related) if (r.relation === 'fork' && r.checkpoint === c.id) kids.append(el('li', 'related', `fork: session ${r.id} ${Object.entries(r.labels || {}).map(([k, x]) => `${k}=${View.shown(x, true)}`).join(' ')} (catalog, not verified)`));
          for (const k of byParent.get(c.id) || []) add(kids, k);
          if (kids.childNodes.length) li.append(kids);
          into.append(li);
        };
        for (const c of byParent.get(null) || []) add(ul, c);
        box.append(ul);
      }
      function banner() {
        const v = Verify.state, b = $('banner');
        document.body.dataset.verify = v.outcome;
        b.className = v.outcome;
        if (v.phase === 'loading') { b.textContent = `Loading events… ${Data.count.toLocaleString('en')} read so far`; return; }
        if (v.phase !== 'done') { b.textContent = `Verifying… ${v.hashed.toLocaleString('en')} of ${Data.count.toLocaleString('en')} events hashed`; return; }
        const all = v.problems.concat(v.recordProblems || []);
        if (v.outcome === 'tampered') {
          const first = v.firstBadEvent !== null ? `the first bad event is ${v.firstBadEvent}` : `the first bad record: ${all[0].text}`;
          b.textContent = `TAMPERED — this export is not what stasis wrote: ${first}.`;
        } else if (v.outcome === 'verified') {
          b.textContent = `Verified with key ${v.key}: ${Data.count.toLocaleString('en')} events, the signed history head and ${Data.checkpoints.length} checkpoint records.`;
        } else {
          b.textContent = `Unpinned — the hashes agree and the signatures check against the key inside this file (${Data.publicKey}), which anyone could have replaced. Paste the store's key (\`stasis key show\`) to verify.`;
        }
        const list = $('problems');
        list.replaceChildren();
        if (all.length) { list.append(el('h2', null, 'Problems')); const ul = el('ul'); for (const p of all) ul.append(el('li', null, p.text)); list.append(ul); }
        $('keystate').textContent = v.pinned ? `pinned: ${v.key}` : 'unpinned';
      }
      async function pin(keyText) {
        const key = keyText.trim().toLowerCase();
        if (key && !/^[0-9a-f]{64}$/.test(key)) { $('keystate').textContent = 'a key is 64 hex digits (stasis key show)'; return; }
        if (Verify.state.phase === 'loading' || Verify.state.phase === 'hashing') { pendingKey = key; return; }
        await Verify.checkSignatures(key || Data.publicKey, !!key);
        banner(); tree(); View.render();
      }
      let pendingKey = null;
      // The first events are drawn as soon as they are parsed (the page's script follows them
      // in the file); the rest are read when the document is complete, then everything is checked.
      async function start() {
        header(); Axis.reset(); View.reset();
        performance.mark('stasis-first-screen');
        banner();
        if (document.readyState === 'loading') await new Promise(r => document.addEventListener('DOMContentLoaded', r, { once: true }));
        Data.load(true);
        Compare.init();
        header(); Axis.reset(); View.reset();
        performance.mark('stasis-loaded');
        Verify.checkBlobs();
        View.render();
        const fromURL = new URLSearchParams(location.hash.slice(1)).get('key');
        if (fromURL) { $('key').value = fromURL; pendingKey = fromURL.toLowerCase(); }
        await Verify.hashAll(() => banner());
        const key = pendingKey; pendingKey = null;
        if (key && /^[0-9a-f]{64}$/.test(key)) await Verify.checkSignatures(key, true);
        else { await Verify.checkSignatures(Data.publicKey, false); if (key) $('keystate').textContent = 'the key in the address is not 64 hex digits'; }
        performance.mark('stasis-verified');
        banner(); tree(); View.render();
      }
      $('pin').addEventListener('click', () => pin($('key').value));
      $('key').addEventListener('keydown', ev => { if (ev.key === 'Enter') pin($('key').value); });
      window.addEventListener('hashchange', () => { const k = new URLSearchParams(location.hash.slice(1)).get('key'); if (k) { $('key').value = k; pin(k); } });
      return { start, pin, banner };
    })();

    window.stasisTimeline = { Data, Verify, View, Page };
    Page.start().catch(e => { const b = document.getElementById('banner'); b.className = 'tampered'; document.body.dataset.verify = 'error'; b.textContent = 'The page could not check this export: ' + e.message; });

    """#
}
