extension TimelineScript {
    /// The checkpoint diff view: choose two checkpoints, see the bytes changed per image (a bar
    /// each), the files added, removed and modified on ext4 disks, a modified file's line diff,
    /// and (served) any listed file as it was at a checkpoint. Served, everything is asked of
    /// the server (/api/diff, /api/filediff, /api/checkpoints/ID/file); offline, the export's
    /// precomputed diffs of consecutive checkpoints are shown. Diffs come from the catalog and
    /// the chunk store, not from the signed history: the panel says so. File contents are only
    /// ever text (textContent), never markup.
    static let compare = #"""
    const Compare = (() => {
      const el = (...a) => View.el(...a), $ = id => document.getElementById(id);
      const served = location.protocol === 'http:' || location.protocol === 'https:';
      let pre = { pairs: [] };
      const size = n => n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : n < 1073741824 ? `${(n / 1048576).toFixed(1)} MiB` : `${(n / 1073741824).toFixed(2)} GiB`;
      const name = c => `${c.id.slice(0, 12)} (after event ${c.size - 1})`;

      async function ask(path) {
        const r = await fetch(path, { credentials: 'same-origin' });
        const body = await r.json().catch(() => ({ error: `the server answered ${r.status} without JSON` }));
        if (!r.ok) throw new Error(body.error || `the server answered ${r.status}`);
        return body;
      }
      const q = encodeURIComponent;

      async function diffOf(a, b) {
        if (served) return ask(`/api/diff?from=${q(a)}&to=${q(b)}`);
        const p = pre.pairs.find(x => x.from === a && x.to === b);
        if (!p) throw new Error('this export holds the diffs of consecutive checkpoints only' + (pre.truncated ? ' (and not all of them: it was bounded)' : '') + ': serve the store (stasis serve --http) to compare any two');
        if (p.error) throw new Error(p.error);
        return p.diff;
      }
      async function fileDiffOf(a, b, disk, path) {
        if (served) return ask(`/api/filediff?from=${q(a)}&to=${q(b)}&disk=${q(disk)}&path=${q(path)}`);
        const p = pre.pairs.find(x => x.from === a && x.to === b), f = p && p.files && p.files[disk + ':' + path];
        if (!f) throw new Error('this file\'s diff is not in the export (it holds a bounded number): serve the store to see it');
        return f;
      }

      function init() {
        const box = $('compare');
        const json = $('stasis-diffs');
        try { if (json) pre = JSON.parse(json.textContent); } catch (e) { pre = { pairs: [] }; }
        box.replaceChildren(el('h2', null, 'Compare checkpoints'));
        const usable = Data.checkpoints.filter(c => c.record);
        if (usable.length < 2) { box.append(el('p', 'hint', 'Two checkpoints are needed.')); return; }
        const from = el('select'), to = el('select');
        from.id = 'compare-from'; to.id = 'compare-to';
        for (const c of usable) { const o = el('option', null, name(c)); o.value = c.id; from.append(o); to.append(o.cloneNode(true)); }
        from.value = usable[usable.length - 2].id; to.value = usable[usable.length - 1].id;
        const go = el('button', null, 'Compare'); go.id = 'compare-go';
        const out = el('div'); out.id = 'compare-out';
        go.addEventListener('click', () => show(from.value, to.value, out));
        box.append(from, el('span', null, ' \u2192 '), to, el('span', null, ' '), go, out);
      }

      async function show(a, b, out) {
        out.replaceChildren(el('p', 'hint', 'Comparing…'));
        let d;
        try { d = await diffOf(a, b); } catch (e) { out.replaceChildren(el('p', 'bad', e.message)); return; }
        out.replaceChildren(el('p', 'hint', `${d.eventsBetween} events between them. From the catalog and the chunk store, not from the signed history.`));
        const chart = el('div', 'chart'); chart.id = 'compare-chart';
        for (const image of d.images) {
          const row = el('div', 'bar');
          const total = Math.max(1, image.size || 0), part = Math.min(1, (image.changedBytes || 0) / total);
          const fill = el('span', 'fill'); fill.style.width = (part * 100).toFixed(2) + '%';
          const track = el('span', 'track'); track.append(fill);
          row.append(el('span', 'name', image.name), track,
                     el('span', 'what', `${image.changedChunks} of ${Math.ceil(total / (image.chunkSize || 1))} chunks, ${size(image.changedBytes || 0)} of ${size(image.size || 0)}`));
          chart.append(row);
        }
        out.append(chart);
        for (const image of d.images) {
          if (!image.files) continue;
          const disk = image.name.replace(/^disk:/, '');
          const section = el('div', 'files');
          section.append(el('h3', null, `Files on ${image.name}`));
          for (const [label, items, at] of [['added', image.files.added, b], ['removed', image.files.removed, a], ['modified', image.files.modified, b]]) {
            const ul = el('ul', 'filelist ' + label);
            for (const item of items) {
              const li = el('li', label);
              const link = el('a', null, `${label === 'added' ? '+' : label === 'removed' ? '-' : '~'} ${View.shown(item.path, true)}`);
              link.href = '#'; link.dataset.path = item.path; link.dataset.change = label;
              link.addEventListener('click', ev => { ev.preventDefault(); label === 'modified' && item.kind === 'file' ? fileDiff(a, b, disk, item.path, out) : openFile(at, disk, item.path, out); });
              li.append(link, el('span', 'hint', ` ${item.kind}` + (item.sizeAfter !== undefined && item.sizeAfter !== null ? `, ${size(item.sizeAfter)}` : '')));
              ul.append(li);
            }
            if (items.length) section.append(ul);
          }
          if (!image.files.added.length && !image.files.removed.length && !image.files.modified.length) section.append(el('p', 'hint', 'No file changed.'));
          out.append(section);
        }
        const view = el('div'); view.id = 'compare-file'; out.append(view);
      }

      async function fileDiff(a, b, disk, path, out) {
        const view = $('compare-file');
        view.replaceChildren(el('h3', null, `${View.shown(path, true)}: ${a.slice(0, 8)} \u2192 ${b.slice(0, 8)}`));
        let f;
        try { f = await fileDiffOf(a, b, disk, path); } catch (e) { view.append(el('p', 'bad', e.message)); return; }
        if (!f.lines) { view.append(el('p', 'hint', f.note || 'no line diff')); return; }
        const pre = el('pre', 'linediff');
        for (const l of f.lines) {
          const line = el('div', 'l-' + l.change, (l.change === 'added' ? '+ ' : l.change === 'removed' ? '- ' : '  ') + View.shown(l.text, false));
          pre.append(line);
        }
        view.append(pre);
        if (served) {
          const open = el('a', null, 'open as it was before'); open.href = '#';
          open.addEventListener('click', ev => { ev.preventDefault(); openFile(a, disk, path, out); });
          view.append(open);
        }
      }

      async function openFile(c, disk, path, out) {
        const view = $('compare-file');
        view.replaceChildren(el('h3', null, `${View.shown(path, true)} at checkpoint ${c.slice(0, 12)}`));
        if (!served) { view.append(el('p', 'hint', 'Reading a file as it was needs the store: serve it (stasis serve --http) or run `stasis checkpoint cat`.')); return; }
        let f;
        try { f = await ask(`/api/checkpoints/${q(c)}/file?disk=${q(disk)}&path=${q(path)}`); } catch (e) { view.append(el('p', 'bad', e.message)); return; }
        view.append(el('div', 'kv', `${f.size} bytes, mode ${f.mode}, sha256 ${f.sha256}`));
        view.append(el('pre', 'filetext', typeof f.text === 'string' ? View.shown(f.text, false) : `(binary: ${f.size} bytes; raw=1 downloads it)`));
      }

      return { init, show, served };
    })();

    """#
}
