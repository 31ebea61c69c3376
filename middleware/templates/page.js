// memdiag's page is complete without this script. With it, the page follows the Monitor's ticks
// over /events: the figures in the header change and the time series grow. The layout numbers
// and formats mirror page_svg.go and page.go, so that a redrawn chart matches the server's.
(() => {
  'use strict';
  const L = { left: 78, right: 990, top: 10, bottom: 196 };
  const data = JSON.parse(document.getElementById('md-history').textContent);
  const cols = data.columns, rows = data.rows, maxRows = data.max;
  const col = {};
  cols.forEach((c, i) => { col[c] = i + 1; });
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

  function fmtBytes(b) {
    if (!isFinite(b)) return '–';
    let neg = '';
    if (b < 0) { neg = '−'; b = -b; }
    let i = 0;
    while (b >= 1024 && i < units.length - 1) { b /= 1024; i++; }
    return i === 0 ? neg + Math.round(b) + ' B' : neg + b.toFixed(1) + ' ' + units[i];
  }
  function fmtUnit(v, unit) {
    switch (unit) {
      case 'bytes': return fmtBytes(v);
      case 'bytes/s': return fmtBytes(v) + '/s';
      case 'percent': return v.toFixed(v < 10 ? 2 : 1) + '%';
    }
    return String(v);
  }
  function groupDigits(n) { return Math.round(n).toLocaleString('en-US'); }
  function niceCeil(v, unit) {
    if (!(v > 0)) return unit === 'percent' ? 1 : 1048576;
    v *= 1.05;
    let base = 1;
    if (unit === 'bytes' || unit === 'bytes/s') while (base * 1024 <= v) base *= 1024;
    const x = v / base, p = Math.pow(10, Math.floor(Math.log10(x)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p * base;
    return 10 * p * base;
  }
  function clock(ms) { return new Date(ms).toISOString().substring(11, 19); }

  // value is a series' value at row i: a column, or a rate between rows i-1 and i.
  function value(key, i) {
    const r = rows[i];
    if (key !== 'alloc_rate' && key !== 'gc_cpu_percent') return r[col[key]];
    if (i === 0 || r[0] <= rows[i - 1][0]) return NaN;
    const p = rows[i - 1];
    if (key === 'alloc_rate') {
      return Math.max(r[col.alloc_bytes_total] - p[col.alloc_bytes_total], 0) / ((r[0] - p[0]) / 1000);
    }
    const cpu = r[col.cpu_available_seconds_total] - p[col.cpu_available_seconds_total];
    if (cpu <= 0) return NaN;
    return 100 * Math.max(r[col.gc_cpu_seconds_total] - p[col.gc_cpu_seconds_total], 0) / cpu;
  }

  function redraw(svg) {
    const unit = svg.dataset.unit;
    const lines = Array.from(svg.querySelectorAll('polyline[data-series]'));
    const vals = lines.map(l => rows.map((_, i) => value(l.dataset.series, i)));
    let ymax = 0;
    vals.forEach(vs => vs.forEach(v => { if (!isNaN(v)) ymax = Math.max(ymax, v); }));
    ymax = niceCeil(ymax, unit);
    const t0 = rows.length ? rows[0][0] : 0, t1 = rows.length ? rows[rows.length - 1][0] : 0, span = t1 - t0;
    lines.forEach((l, k) => {
      const pts = [];
      let last;
      vals[k].forEach((v, i) => {
        if (isNaN(v)) return;
        last = v;
        const x = L.left + (span > 0 ? (L.right - L.left) * (rows[i][0] - t0) / span : 0);
        const y = L.bottom - (L.bottom - L.top) * v / ymax;
        pts.push(x.toFixed(2) + ',' + y.toFixed(2));
      });
      l.setAttribute('points', pts.join(' '));
      const lab = document.querySelector('[data-last="' + l.dataset.series + '"]');
      if (lab && last !== undefined) { lab.textContent = fmtUnit(last, unit); lab.title = last + ' ' + unit; }
    });
    svg.querySelectorAll('[data-ytick]').forEach(t => { t.textContent = fmtUnit(ymax * Number(t.dataset.ytick) / 4, unit); });
    const xl = svg.querySelectorAll('[data-xlab]');
    if (xl.length === 2 && rows.length) { xl[0].textContent = clock(t0); xl[1].textContent = clock(t1); }
    const empty = svg.querySelector('.empty');
    if (empty && rows.length >= 2) empty.remove();
  }

  function setLive(p) {
    document.querySelectorAll('[data-live]').forEach(el => {
      const k = el.dataset.live;
      if (k === 'time') { el.textContent = clock(Date.parse(p.time)); el.setAttribute('datetime', p.time); return; }
      const v = p[k];
      if (v === undefined) return;
      if (k.endsWith('_bytes')) { el.textContent = fmtBytes(v); el.title = groupDigits(v) + ' bytes'; } else { el.textContent = groupDigits(v); }
    });
  }

  const status = document.getElementById('stream');
  if (!window.EventSource || !status) return;
  const es = new EventSource('events');
  es.onopen = () => { status.textContent = 'live'; status.className = 'stream on'; };
  es.onerror = () => { status.textContent = 'reconnecting'; status.className = 'stream off'; };
  es.onmessage = e => {
    const p = JSON.parse(e.data);
    const t = Date.parse(p.time);
    setLive(p);
    if (rows.length && t <= rows[rows.length - 1][0]) return;
    rows.push([t].concat(cols.map(c => p[c])));
    while (rows.length > maxRows) rows.shift();
    document.querySelectorAll('svg.ts').forEach(redraw);
  };
})();
