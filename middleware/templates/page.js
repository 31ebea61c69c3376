// memdiag's page is complete without this script. With it, the page follows the Monitor's ticks
// over /events: the figures in the header change and the plots grow; each plot has a read-out
// under the pointer, the live updates can be paused, and the time range zoomed (buttons, or a
// drag across any plot). Layout numbers, series keys and formats mirror page_charts.go.
(() => {
  'use strict';
  const L = { left: 78, right: 990, top: 10, bottom: 196, w: 1000, h: 220 };
  const SVGNS = 'http://www.w3.org/2000/svg';
  const data = JSON.parse(document.getElementById('md-history').textContent);
  const cols = data.columns, maxRows = data.max, charts = data.charts;
  let rows = data.rows, pauses = data.pauses;
  const col = {};
  cols.forEach((c, i) => { col[c] = i + 1; });
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

  // The theme: the system's preference (auto), or light or dark chosen with the header's button
  // and remembered in this browser. page.css holds both palettes.
  const themeBtn = document.getElementById('theme');
  if (themeBtn) {
    const themes = ['auto', 'light', 'dark'];
    let theme = 'auto';
    try { theme = localStorage.getItem('memdiag-theme') || 'auto'; } catch (e) { /* storage off */ }
    if (themes.indexOf(theme) < 0) theme = 'auto';
    const applyTheme = () => {
      if (theme === 'auto') delete document.documentElement.dataset.theme; else document.documentElement.dataset.theme = theme;
      themeBtn.textContent = 'theme: ' + theme;
    };
    applyTheme();
    themeBtn.hidden = false;
    themeBtn.addEventListener('click', () => {
      theme = themes[(themes.indexOf(theme) + 1) % themes.length];
      try { localStorage.setItem('memdiag-theme', theme); } catch (e) { /* storage off */ }
      applyTheme();
    });
  }

  function fmtBytes(b) {
    if (b === null || !isFinite(b)) return '–';
    let neg = '';
    if (b < 0) { neg = '-'; b = -b; }
    let i = 0;
    while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
    return i === 0 ? neg + Math.round(b) + ' B' : neg + b.toFixed(1) + ' ' + units[i];
  }
  function float3(f) {
    if (f >= 100) return String(Math.round(f));
    if (f >= 10) return String(Math.round(f * 10) / 10);
    return String(Math.round(f * 100) / 100);
  }
  function fmtDuration(s) {
    if (s === 0) return '0';
    if (s < 1e-6) return float3(s * 1e9) + ' ns';
    if (s < 1e-3) return float3(s * 1e6) + ' µs';
    if (s < 1) return float3(s * 1e3) + ' ms';
    return float3(s) + ' s';
  }
  function fmtCount(f) {
    if (f >= 1e9) return (f / 1e9).toFixed(2) + 'G';
    if (f >= 1e6) return (f / 1e6).toFixed(2) + 'M';
    if (f >= 1e4) return (f / 1e3).toFixed(1) + 'k';
    return float3(f);
  }
  function fmtUnit(v, unit) {
    if (v === null || v === undefined || isNaN(v)) return '–';
    switch (unit) {
      case 'bytes': return fmtBytes(v);
      case 'bytes/s': return fmtBytes(v) + '/s';
      case 'percent': return v.toFixed(v < 10 ? 2 : 1) + '%';
      case 'seconds': return fmtDuration(v);
      case 'count': return fmtCount(v);
      case 'count/s': return fmtCount(v) + '/s';
      case 'seconds/s': return fmtDuration(v) + '/s';
    }
    return String(v);
  }
  function groupDigits(n) { return Math.round(n).toLocaleString('en-US'); }
  function niceCeil(v, unit) {
    if (!(v > 0)) return (unit === 'bytes' || unit === 'bytes/s') ? 1048576 : (unit === 'seconds' || unit === 'seconds/s') ? 1e-3 : 1;
    v *= 1.05;
    let base = 1;
    if (unit === 'bytes' || unit === 'bytes/s') while (base * 1024 <= v) base *= 1024;
    const x = v / base, p = Math.pow(10, Math.floor(Math.log10(x)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p * base;
    return 10 * p * base;
  }
  const steps = [1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 21600e3, 43200e3, 86400e3];
  function timeTicks(t0, t1) {
    let step = steps[steps.length - 1];
    for (const s of steps) if (Math.floor((t1 - t0) / s) < 7) { step = s; break; }
    const out = [];
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      const iso = new Date(t).toISOString();
      out.push([t, step >= 60e3 ? iso.substring(11, 16) : iso.substring(11, 19)]);
    }
    return out;
  }
  function clock(ms) { return new Date(ms).toISOString().substring(11, 19); }
  function num(v) { return v === null || v === undefined ? NaN : v; }

  // value is a series' value at row i of rs: a column, or a counter's rate or CPU share between
  // rows i-1 and i.
  function value(rs, key, i) {
    const cut = key.indexOf(':');
    if (cut < 0) return num(rs[i][col[key]]);
    const kind = key.substring(0, cut), c = col[key.substring(cut + 1)];
    if (i === 0 || rs[i][0] <= rs[i - 1][0]) return NaN;
    const a = num(rs[i - 1][c]), b = num(rs[i][c]);
    if (isNaN(a) || isNaN(b)) return NaN;
    const d = Math.max(b - a, 0);
    if (kind === 'rate') return d / ((rs[i][0] - rs[i - 1][0]) / 1000);
    const av = col.cpu_available_seconds_total;
    const cpu = num(rs[i][av]) - num(rs[i - 1][av]);
    return cpu > 0 ? 100 * d / cpu : NaN;
  }

  // The view: paused or live; the range either follows the newest point (span ms, 0 for all of
  // it) or is fixed (t0, t1) after a drag.
  const view = { paused: false, span: 0, fixed: null };
  let pending = [], pendingPauses = [];

  function range() {
    if (!rows.length) return [0, 0];
    if (view.fixed) return view.fixed;
    const t1 = rows[rows.length - 1][0];
    const first = Math.min(rows[0][0], pauses.length ? pauses[0][0] : Infinity);
    return [view.span > 0 ? Math.max(first, t1 - view.span) : first, t1];
  }

  function el(name, attrs, text) {
    const e = document.createElementNS(SVGNS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // draw rebuilds one plot over the view's range and remembers what it drew for the read-out.
  function draw(spec) {
    const svg = document.getElementById(spec.id);
    if (!svg) return;
    const [t0, t1] = range();
    const x = t => L.left + (t1 > t0 ? (L.right - L.left) * (t - t0) / (t1 - t0) : 0);
    // The rows in range, with one on each side so that lines reach the edges.
    let lo = 0, hi = rows.length;
    while (lo < rows.length && rows[lo][0] < t0) lo++;
    while (hi > 0 && rows[hi - 1][0] > t1) hi--;
    const from = Math.max(lo - 1, 0), to = Math.min(hi + 1, rows.length);
    const idx = [];
    for (let i = from; i < to; i++) idx.push(i);
    const series = spec.series.map(s => ({ s, vals: idx.map(i => value(rows, s.key, i)) }));
    let ymax = 0;
    const stacked = spec.kind === 'stack';
    let acc = null;
    if (stacked) {
      acc = idx.map(() => 0);
      series.forEach(sr => {
        if (sr.s.line) return;
        sr.bottom = acc.slice();
        sr.vals.forEach((v, k) => { if (!isNaN(v)) acc[k] += v; });
        sr.top = acc.slice();
      });
      idx.forEach((i, k) => { if (rows[i][0] >= t0 && rows[i][0] <= t1) ymax = Math.max(ymax, acc[k]); });
    }
    let pts = [];
    if (spec.kind === 'points') {
      pts = pauses.filter(p => p[0] >= t0 && p[0] <= t1);
      pts.forEach(p => { ymax = Math.max(ymax, p[1]); });
    }
    series.forEach(sr => {
      if (stacked && !sr.s.line) return;
      sr.vals.forEach((v, k) => { const t = rows[idx[k]][0]; if (!isNaN(v) && t >= t0 && t <= t1) ymax = Math.max(ymax, v); });
    });
    ymax = stacked && spec.unit === 'percent' ? 100 : niceCeil(ymax, spec.unit);
    const y = v => L.bottom - (L.bottom - L.top) * v / ymax;

    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const defs = el('defs', {});
    const clip = el('clipPath', { id: spec.id + '-clip' });
    clip.appendChild(el('rect', { x: L.left, y: 0, width: L.right - L.left, height: L.h }));
    defs.appendChild(clip);
    svg.appendChild(defs);
    for (let k = 0; k <= 4; k++) {
      const v = ymax * k / 4, yy = y(v);
      svg.appendChild(el('line', { x1: L.left, x2: L.right, y1: yy, y2: yy, class: 'grid' }));
      svg.appendChild(el('text', { x: L.left - 6, y: yy + 4, class: 'ylab', 'text-anchor': 'end' }, fmtUnit(v, spec.unit)));
    }
    if (t1 > t0) {
      timeTicks(t0, t1).forEach(([t, label]) => {
        const xx = x(t);
        svg.appendChild(el('line', { x1: xx, x2: xx, y1: L.top, y2: L.bottom, class: 'grid' }));
        svg.appendChild(el('text', { x: xx, y: 214, class: 'xlab', 'text-anchor': 'middle', 'data-xtick': t }, label));
      });
    }
    const g = el('g', { 'clip-path': 'url(#' + spec.id + '-clip)' });
    svg.appendChild(g);
    if (spec.kind === 'points') {
      const s = spec.series[0];
      const pg = el('g', { 'data-series': s.key, fill: s.colour });
      pts.forEach(p => pg.appendChild(el('circle', { cx: x(p[0]).toFixed(2), cy: y(p[1]).toFixed(2), r: 3 })));
      g.appendChild(pg);
    } else {
      series.forEach(sr => {
        let d = '';
        if (stacked && !sr.s.line) {
          for (let a = 0; a < idx.length;) {
            if (isNaN(sr.vals[a])) { a++; continue; }
            let b = a;
            while (b < idx.length && !isNaN(sr.vals[b])) b++;
            for (let k = a; k < b; k++) d += (k === a ? 'M' : ' L') + x(rows[idx[k]][0]).toFixed(2) + ',' + y(sr.top[k]).toFixed(2);
            for (let k = b - 1; k >= a; k--) d += ' L' + x(rows[idx[k]][0]).toFixed(2) + ',' + y(sr.bottom[k]).toFixed(2);
            d += 'Z';
            a = b;
          }
          const p = el('path', { d: d, fill: sr.s.colour, 'fill-opacity': '0.85', stroke: 'none', 'data-series': sr.s.key });
          p.appendChild(el('title', {}, sr.s.label));
          g.appendChild(p);
          return;
        }
        let move = true;
        sr.vals.forEach((v, k) => {
          if (isNaN(v)) { move = true; return; }
          d += (d ? ' ' : '') + (move ? 'M' : 'L') + x(rows[idx[k]][0]).toFixed(2) + ',' + y(v).toFixed(2);
          move = false;
        });
        const attrs = { d: d, fill: 'none', stroke: sr.s.colour, 'stroke-width': 2, 'data-series': sr.s.key };
        if (sr.s.dash) attrs['stroke-dasharray'] = '6 4';
        const p = el('path', attrs);
        p.appendChild(el('title', {}, sr.s.label));
        g.appendChild(p);
      });
    }
    const empty = spec.kind === 'points' ? pts.length === 0 : idx.length < 2;
    if (empty) {
      svg.appendChild(el('text', { x: 500, y: 110, 'text-anchor': 'middle', class: 'empty' },
        spec.kind === 'points' ? 'no GC pause in this range' : 'collecting points…'));
    }
    const guide = el('line', { x1: 0, x2: 0, y1: L.top, y2: L.bottom, class: 'guide', visibility: 'hidden' });
    const sel = el('rect', { x: 0, y: L.top, width: 0, height: L.bottom - L.top, class: 'sel', visibility: 'hidden' });
    svg.appendChild(guide);
    svg.appendChild(sel);
    svg.dataset.t0 = t0;
    svg.dataset.t1 = t1;
    svg.mdDrawn = { spec, t0, t1, x, idx, series, pts, guide, sel };
    // The legend's figures: the newest value of each series.
    spec.series.forEach(s => {
      const lab = document.querySelector('[data-chart="' + spec.id + '"] [data-last="' + s.key + '"]');
      if (!lab) return;
      let last = NaN;
      if (s.key === 'gc_pauses') { if (pauses.length) last = pauses[pauses.length - 1][1]; } else {
        for (let i = rows.length - 1; i >= 0 && isNaN(last); i--) last = value(rows, s.key, i);
      }
      if (!isNaN(last)) { lab.textContent = fmtUnit(last, spec.unit); lab.title = last + ' ' + spec.unit; }
    });
  }

  function drawAll() {
    charts.forEach(draw);
    const r = document.getElementById('range');
    if (r) {
      const [t0, t1] = range();
      r.textContent = rows.length ? 'showing ' + clock(t0) + ' – ' + clock(t1) + ' UTC' + (view.paused ? ' (paused)' : '') : '';
      r.dataset.t0 = t0;
      r.dataset.t1 = t1;
    }
  }

  // viewX maps a pointer event to the plot's x in viewBox units.
  function viewX(svg, e) {
    const b = svg.getBoundingClientRect();
    return (e.clientX - b.left) / b.width * L.w;
  }
  function timeAt(d, vx) {
    return d.t0 + (d.t1 - d.t0) * (vx - L.left) / (L.right - L.left);
  }

  function readout(svg, e) {
    const d = svg.mdDrawn, out = document.querySelector('[data-readout="' + svg.id + '"]');
    if (!d || !out) return;
    const vx = viewX(svg, e);
    if (vx < L.left || vx > L.right || d.t1 <= d.t0) { d.guide.setAttribute('visibility', 'hidden'); return; }
    const t = timeAt(d, vx);
    let text;
    if (d.spec.kind === 'points') {
      let best = null;
      d.pts.forEach(p => { if (!best || Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p; });
      if (!best) { out.textContent = clock(t) + ' UTC: no pause'; return; }
      d.guide.setAttribute('x1', d.x(best[0])); d.guide.setAttribute('x2', d.x(best[0]));
      text = new Date(best[0]).toISOString().substring(11, 23) + ' UTC: pause of ' + fmtDuration(best[1]);
    } else {
      let best = -1;
      d.idx.forEach((i, k) => { if (best < 0 || Math.abs(rows[i][0] - t) < Math.abs(rows[d.idx[best]][0] - t)) best = k; });
      if (best < 0) return;
      const at = rows[d.idx[best]][0];
      d.guide.setAttribute('x1', d.x(at)); d.guide.setAttribute('x2', d.x(at));
      text = clock(at) + ' UTC: ' + d.series.map(sr => sr.s.label + ' ' + fmtUnit(sr.vals[best], d.spec.unit)).join(' · ');
    }
    d.guide.setAttribute('visibility', 'visible');
    out.textContent = text;
  }

  function setLive(p) {
    document.querySelectorAll('[data-live]').forEach(e => {
      const k = e.dataset.live;
      if (k === 'time') { e.textContent = clock(Date.parse(p.time)); e.setAttribute('datetime', p.time); return; }
      const v = p[k];
      if (v === undefined || v === null) return;
      if (k.endsWith('_bytes')) { e.textContent = fmtBytes(v); e.title = groupDigits(v) + ' bytes'; } else { e.textContent = groupDigits(v); }
    });
  }

  function pointRow(p) {
    return [Date.parse(p.time)].concat(cols.map(c => {
      const dot = c.indexOf('.');
      if (dot < 0) return p[c] === undefined ? null : p[c];
      const arr = p[c.substring(0, dot)];
      return arr ? arr[Number(c.substring(dot + 1))] : null;
    }));
  }

  function append(rs, ps) {
    rs.forEach(r => { if (!rows.length || r[0] > rows[rows.length - 1][0]) rows.push(r); });
    ps.forEach(p => { if (!pauses.length || p[0] > pauses[pauses.length - 1][0]) pauses.push(p); });
    if (rows.length > maxRows) rows = rows.slice(rows.length - maxRows);
    if (rows.length && pauses.length) {
      let cut = 0;
      while (cut < pauses.length && pauses[cut][0] < rows[0][0]) cut++;
      if (cut) pauses = pauses.slice(cut);
    }
  }

  // Controls: shown only with the script, which is what makes them work.
  const controls = document.getElementById('controls');
  if (controls) {
    controls.hidden = false;
    controls.querySelectorAll('[data-range]').forEach(b => b.addEventListener('click', () => {
      view.span = Number(b.dataset.range);
      view.fixed = null;
      controls.querySelectorAll('[data-range]').forEach(o => o.classList.toggle('on', o === b));
      drawAll();
    }));
    const toggle = document.getElementById('live-toggle');
    toggle.addEventListener('click', () => {
      view.paused = !view.paused;
      toggle.textContent = view.paused ? 'resume' : 'pause';
      toggle.setAttribute('aria-pressed', String(view.paused));
      if (!view.paused) { append(pending, pendingPauses); pending = []; pendingPauses = []; }
      drawAll();
    });
  }
  let drag = null;
  document.querySelectorAll('svg.ts').forEach(svg => {
    svg.addEventListener('mousemove', e => {
      readout(svg, e);
      if (drag && drag.svg === svg && svg.mdDrawn) {
        const a = Math.max(Math.min(drag.x, viewX(svg, e)), L.left), b = Math.min(Math.max(drag.x, viewX(svg, e)), L.right);
        const s = svg.mdDrawn.sel;
        s.setAttribute('x', a); s.setAttribute('width', Math.max(b - a, 0)); s.setAttribute('visibility', 'visible');
      }
    });
    svg.addEventListener('mouseleave', () => { if (svg.mdDrawn) svg.mdDrawn.guide.setAttribute('visibility', 'hidden'); });
    svg.addEventListener('mousedown', e => { drag = { svg, x: viewX(svg, e) }; e.preventDefault(); });
    svg.addEventListener('mouseup', e => {
      if (!drag || drag.svg !== svg || !svg.mdDrawn) { drag = null; return; }
      const a = Math.min(drag.x, viewX(svg, e)), b = Math.max(drag.x, viewX(svg, e));
      drag = null;
      svg.mdDrawn.sel.setAttribute('visibility', 'hidden');
      if (b - a < 5) return;
      const d = svg.mdDrawn;
      const t0 = timeAt(d, Math.max(a, L.left)), t1 = timeAt(d, Math.min(b, L.right));
      if (t1 - t0 < 1000) return;
      view.fixed = [t0, t1];
      if (controls) controls.querySelectorAll('[data-range]').forEach(o => o.classList.remove('on'));
      drawAll();
    });
    svg.addEventListener('dblclick', () => {
      view.fixed = null; view.span = 0;
      if (controls) controls.querySelectorAll('[data-range]').forEach(o => o.classList.toggle('on', o.dataset.range === '0'));
      drawAll();
    });
  });
  // A drag released outside the plot it began on zooms nowhere.
  document.addEventListener('mouseup', () => {
    if (drag && drag.svg.mdDrawn) drag.svg.mdDrawn.sel.setAttribute('visibility', 'hidden');
    drag = null;
  });
  drawAll();

  // A capture over HTTP: POST {prefix}captures. A tree without it answers 405, said plainly.
  const capture = document.getElementById('capture');
  if (capture && window.fetch) {
    capture.hidden = false;
    const btn = document.getElementById('capture-take'), st = document.getElementById('capture-status');
    btn.addEventListener('click', () => {
      btn.disabled = true;
      st.textContent = 'taking a capture…';
      fetch('captures', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}', credentials: 'same-origin' })
        .then(r => {
          if (r.status === 405) { st.textContent = 'this server does not take captures over HTTP (405); captures come from its triggers'; return; }
          if (r.status === 429) { st.textContent = 'a capture is being taken already, or one was taken moments ago (429); try again later'; return; }
          st.textContent = r.ok ? 'capture taken' : 'the capture failed: HTTP ' + r.status;
        })
        .catch(err => { st.textContent = 'the capture failed: ' + err; })
        .finally(() => { btn.disabled = false; });
    });
  }

  const status = document.getElementById('stream');
  if (!window.EventSource || !status) return;
  const es = new EventSource('events');
  es.onopen = () => { status.textContent = 'live'; status.className = 'stream on'; };
  es.onerror = () => { status.textContent = 'reconnecting'; status.className = 'stream off'; };
  es.onmessage = e => {
    const p = JSON.parse(e.data);
    setLive(p);
    const r = pointRow(p);
    const ps = (p.gc_pauses || []).map(q => [Date.parse(q.end), q.duration_seconds]).sort((a, b) => a[0] - b[0]);
    if (view.paused) { pending.push(r); pendingPauses = pendingPauses.concat(ps); return; }
    append([r], ps);
    drawAll();
  };
})();
