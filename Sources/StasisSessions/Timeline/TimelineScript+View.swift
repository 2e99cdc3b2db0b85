extension TimelineScript {
    /// The view: a virtual list (only the rows on screen exist in the document), a time axis
    /// drawn on a canvas, kind filters and search. Event data reaches the document only through
    /// `textContent`, never as markup; control characters are shown as their symbols.
    static let view = #"""
    const View = (() => {
      const $ = id => document.getElementById(id);
      const ROW = 24, OPEN = 264;
      const list = $('list'), spacer = $('spacer'), rows = $('rows');
      let visible = new Int32Array(0), kindOn = [], match = null, query = '';
      const open = new Set();          // positions expanded in place
      let openRows = [];               // indices into `visible` of the expanded ones, sorted
      let selected = -1;

      function el(tag, cls, text) {
        const e = document.createElement(tag);
        if (cls) e.className = cls;
        if (text !== undefined && text !== null) e.textContent = text;
        return e;
      }
      /** Control and bidirectional characters spelled out in ASCII (`\e[31m`, `\x07`), which any
       *  font shows: output is evidence, not a terminal. */
      function shown(text, oneLine) {
        let s = String(text).replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, c => c === '\u001b' ? '\\e' : '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0'));
        s = s.replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g, c => '\u27e6U+' + c.charCodeAt(0).toString(16).toUpperCase() + '\u27e7');
        if (oneLine) s = s.replace(/\t/g, ' ').replace(/\n/g, ' \u23ce ');
        return s;
      }
      function value(v) {
        if (v && typeof v === 'object' && typeof v.$blob === 'string') {
          if (!Data.blobs.has(v.$blob)) return `[blob ${v.$blob.slice(0, 12)}…, ${v.size} bytes, not in this export]`;
          if (Verify.state.blobs.get(v.$blob) !== true) return `[blob ${v.$blob.slice(0, 12)}… does not match its id: not shown]`;
          return new TextDecoder().decode(Data.blobs.get(v.$blob));
        }
        return typeof v === 'string' ? v : JSON.stringify(v);
      }
      function summary(i) {
        const e = Data.event(i);
        if (!e || typeof e.data !== 'object' || e.data === null) return Data.body(i);
        const d = e.data;
        switch (e.kind) {
          case 'command.started': return '$ ' + value(d.command) + (d.cwd ? `   (in ${value(d.cwd)})` : '');
          case 'output': return `[${value(d.stream)}] ` + value(d.data);
          case 'command.exited': return `exit ${value(d.code)}` + (d.duration_ms !== undefined ? ` after ${value(d.duration_ms)} ms` : '');
          case 'file.written': return value(d.path) + (d.size !== undefined ? `  ${value(d.size)} bytes` : '') + (d.sha256 ? `  sha256 ${value(d.sha256)}` : '');
          case 'tool.call': return value(d.name) + '(' + (d.arguments !== undefined ? value(d.arguments) : '') + ')';
          case 'tool.result': return value(d.name) + (d.is_error ? ' ERROR ' : ' → ') + (d.result !== undefined ? value(d.result) : '');
          case 'message': return value(d.role) + ': ' + value(d.content);
          case 'checkpoint': return 'checkpoint ' + value(d.checkpoint);
          case 'restore': return 'restore from ' + value(d.checkpoint) + (d.sandbox ? ` into sandbox ${value(d.sandbox)}` : '');
          case 'note': return value(d.text);
          default: return e.kind.startsWith('x-langgraph.') ? graphSummary(e.kind, d) : JSON.stringify(d);
        }
      }
      /** Steps of a LangGraph thread linked to the session (`StasisSaver(session=…)` writes them;
       *  Formats/langgraph.md): the thread and step or task, then what happened. */
      function graphSummary(kind, d) {
        const where = '[' + value(d.thread_id ?? '?') + (d.checkpoint_ns ? '/' + value(d.checkpoint_ns) : '') + '] ';
        const calls = Array.isArray(d.tool_calls) ? d.tool_calls.map(c => ' → ' + value(c && c.name) + '(' + (c && c.args !== undefined ? value(c.args) : '') + ')').join('') : '';
        switch (kind) {
          case 'x-langgraph.checkpoint':
            return where + 'step ' + value(d.step ?? '?') + ' checkpoint ' + value(d.checkpoint_id ?? '?') + (d.source ? ` (${value(d.source)})` : '');
          case 'x-langgraph.message': return where + value(d.type ?? 'message') + ': ' + value(d.content ?? '') + calls;
          case 'x-langgraph.tool-result':
            return where + value(d.name ?? 'tool') + (d.status === 'error' ? ' ERROR ' : ' → ') + value(d.content ?? '');
          case 'x-langgraph.interrupt': return where + 'interrupted: ' + value(d.value ?? '');
          case 'x-langgraph.error': return where + 'task failed: ' + value(d.error ?? '');
          default: return where + JSON.stringify(d);
        }
      }
      function full(i) {
        const e = Data.event(i);
        if (!e || typeof e.data !== 'object' || e.data === null) return Data.body(i);
        if (e.kind === 'output') return value(e.data.data);
        const d = {};
        for (const k of Object.keys(e.data)) d[k] = e.data[k] && typeof e.data[k] === 'object' && typeof e.data[k].$blob === 'string' ? value(e.data[k]) : e.data[k];
        return JSON.stringify(d, null, 2);
      }
      let t0 = 0;
      /** After more events were read: the origin of the clock column, the kind filters, the rows. */
      function reset() {
        t0 = Data.count ? Math.min(Data.times[0], Data.times[Data.count - 1]) : 0;
        kinds();
        recompute();
      }
      function clock(ms) {
        const neg = ms < 0; ms = Math.abs(ms);
        const h = Math.floor(ms / 3600000), m = Math.floor(ms / 60000) % 60, s = Math.floor(ms / 1000) % 60, f = Math.floor(ms % 1000);
        return (neg ? '-' : '') + String(h).padStart(2, '0') + ':' + String(m).padStart(2, '0') + ':' + String(s).padStart(2, '0') + '.' + String(f).padStart(3, '0');
      }
      function span(ms) {
        if (ms < 1000) return Math.round(ms) + ' ms';
        if (ms < 60000) return (ms / 1000).toFixed(1) + ' s';
        if (ms < 3600000) return Math.floor(ms / 60000) + ' min ' + Math.round(ms / 1000) % 60 + ' s';
        return Math.floor(ms / 3600000) + ' h ' + Math.floor(ms / 60000) % 60 + ' min';
      }
      const mark = { verified: '\u2713', unpinned: '\u2248', bad: '\u2717', unchecked: '?', pending: '\u2026' };
      const markTitle = { verified: 'verified with the pinned key', unpinned: 'consistent, but no key is pinned', bad: 'this event is where the history was changed', unchecked: 'not covered by a signature that checks out', pending: 'being verified' };

      // Row offsets: every row is ROW high, an expanded one OPEN more.
      function top(k) {
        let lo = 0, hi = openRows.length;
        while (lo < hi) { const mid = (lo + hi) >> 1; if (openRows[mid] < k) lo = mid + 1; else hi = mid; }
        return k * ROW + lo * OPEN;
      }
      function rowAt(y) {
        let lo = 0, hi = Math.max(0, visible.length - 1);
        while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (top(mid) <= y) lo = mid; else hi = mid - 1; }
        return lo;
      }
      function refreshOpen() {
        openRows = [];
        if (open.size) for (let k = 0; k < visible.length; k++) if (open.has(visible[k])) openRows.push(k);
        spacer.style.height = (top(visible.length)) + 'px';
      }

      function row(k) {
        const i = visible[k], state = Verify.eventState(i), kind = Data.kind(i);
        const r = el('div', 'row' + (i === selected ? ' selected' : ''));
        r.style.top = top(k) + 'px';
        r.dataset.seq = i; r.dataset.state = state;
        const gap = k > 0 ? Data.times[i] - Data.times[visible[k - 1]] : 0;
        if (gap >= 1000) { r.classList.add('gap'); r.title = span(gap) + ' after the row above'; }
        r.append(el('span', 'mark ' + state, mark[state]));
        r.lastChild.title = markTitle[state];
        r.append(el('button', 'toggle', open.has(i) ? '\u25be' : '\u25b8'));
        r.append(el('span', 'seq', String(i)));
        r.append(el('span', 'time', clock(Data.times[i] - t0)));
        r.append(el('span', 'gapnote', gap >= 1000 ? '+' + span(gap) : ''));
        r.append(el('span', 'kind k-' + kind.replace(/[^a-z0-9-]/gi, '-'), kind));
        r.append(el('span', 'text', shown(summary(i), true).slice(0, 400)));
        if (open.has(i)) r.append(el('pre', 'full', shown(full(i), false)));
        return r;
      }

      function render() {
        const y = list.scrollTop, height = list.clientHeight || 600;
        const frag = document.createDocumentFragment();
        if (visible.length) {
          const first = rowAt(y);
          for (let k = first; k < visible.length && top(k) < y + height; k++) frag.append(row(k));
        }
        rows.replaceChildren(frag);
        $('count').textContent = `${visible.length.toLocaleString('en')} of ${Data.count.toLocaleString('en')} events`;
        Axis.draw(visible.length ? [Data.times[visible[rowAt(y)]], Data.times[visible[rowAt(y + height - 1)]]] : null);
      }

      function recompute() {
        const out = new Int32Array(Data.count);
        let n = 0;
        const on = Uint8Array.from(kindOn, v => v ? 1 : 0), kinds = Data.kinds;
        if (match) { for (let i = 0; i < Data.count; i++) if (on[kinds[i]] && match[i]) out[n++] = i; }
        else { for (let i = 0; i < Data.count; i++) if (on[kinds[i]]) out[n++] = i; }
        visible = out.subarray(0, n);
        refreshOpen();
        render();
      }

      // Search runs over the events as embedded, in one pass over one string: a query is
      // matched as it is spelled inside a JSON string (and '<' as the writer spelled it),
      // case-insensitively; blob values are searched too.
      let blobUsers = null;
      const literal = q => q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      function blobIndex() {
        blobUsers = new Map();
        const re = /"\$blob":"([0-9a-f]{64})"/g;
        let m, k = 0;
        while ((m = re.exec(Data.text)) !== null) {
          while (Data.starts[k + 1] <= m.index) k++;
          if (!blobUsers.has(m[1])) blobUsers.set(m[1], []);
          blobUsers.get(m[1]).push(k);
        }
      }
      function search(q) {
        query = q;
        if (!q) { match = null; recompute(); return; }
        const hay = Data.text, starts = Data.starts;
        const re = new RegExp(literal(JSON.stringify(q).slice(1, -1).replace(/</g, '\\u003c')), 'gi');
        const hit = new Uint8Array(Data.count);
        let m, k = 0;
        while ((m = re.exec(hay)) !== null) {
          while (starts[k + 1] <= m.index) k++;
          hit[k] = 1;
          re.lastIndex = starts[k + 1];
          if (re.lastIndex >= hay.length) break;
        }
        if (Data.blobs.size) {
          if (blobUsers === null) blobIndex();
          const plain = new RegExp(literal(q), 'i');
          for (const [id, bytes] of Data.blobs) {
            if (Verify.state.blobs.get(id) === true && blobUsers.has(id) && plain.test(new TextDecoder().decode(bytes))) for (const i of blobUsers.get(id)) hit[i] = 1;
          }
        }
        match = hit;
        recompute();
      }

      function setKind(name, on) {
        const id = Data.kindNames.indexOf(name);
        if (id >= 0) { kindOn[id] = on; recompute(); }
      }
      function toggle(i) {
        if (open.has(i)) open.delete(i); else open.add(i);
        refreshOpen(); render();
      }
      /** Scrolls so that event i (or the first shown event after it) is on screen. */
      function reveal(i) {
        let lo = 0, hi = visible.length;
        while (lo < hi) { const mid = (lo + hi) >> 1; if (visible[mid] < i) lo = mid + 1; else hi = mid; }
        if (lo < visible.length) list.scrollTop = Math.max(0, top(lo) - ROW * 3);
        render();
      }
      function revealTime(ms) {
        let k = 0;
        while (k < visible.length && Data.times[visible[k]] < ms) k++;
        if (k < visible.length) reveal(visible[k]);
      }
      function select(i) { selected = i; Detail.show(i); render(); }

      list.addEventListener('scroll', () => requestAnimationFrame(render));
      window.addEventListener('resize', () => render());
      rows.addEventListener('click', ev => {
        const r = ev.target.closest('.row');
        if (!r) return;
        const i = Number(r.dataset.seq);
        if (ev.target.classList.contains('toggle')) toggle(i); else if (!ev.target.closest('pre')) select(i);
      });
      let pendingSearch = 0;
      $('search').addEventListener('input', ev => { clearTimeout(pendingSearch); pendingSearch = setTimeout(() => search(ev.target.value), 150); });
      $('search').addEventListener('keydown', ev => { if (ev.key === 'Enter') { clearTimeout(pendingSearch); search(ev.target.value); } });

      function kinds() {
        const box = $('kinds');
        Data.kindNames.forEach((name, id) => {
          if (id < kindOn.length) return;
          kindOn[id] = true;
          const label = el('label', 'kindfilter');
          const input = el('input'); input.type = 'checkbox'; input.checked = true; input.dataset.kind = name;
          input.addEventListener('change', () => { kindOn[id] = input.checked; recompute(); });
          label.append(input, el('span', 'kind k-' + name.replace(/[^a-z0-9-]/gi, '-'), name));
          box.append(label);
        });
      }
      return { el, shown, summary, full, clock, span, render, recompute, search, setKind, toggle, reveal, revealTime, select, reset,
               visibleCount: () => visible.length };
    })();

    """#
}
