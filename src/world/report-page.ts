// The HTML report's page: its style, skeleton and script. The report writer (report.ts) puts
// the head first, then the rows in JSON chunks as the run goes, then the summary and the tail;
// the script reads the chunks when the page opens. One file, nothing fetched: it opens from disk.
//
// Row fields, in order (arrays keep a large page small):
//   exit:   n, vmid, vcpu, guest PC, reason, category, entered, icount, resumed,
//           EL2 insns, host insns, MSR/MRS, by register, ESR, PE
//   load/put: type, vcpu, flag, PC, icount, EL2 insns, host insns, MSR/MRS, where (symbol and line), PE
//   hazard: kind, vcpu, register, PC, icount, where, message, PE
// (icounts are the PE's own instruction counts.)
import type { ExitCategory } from './reason.js';

export const CATEGORY_COLOURS: Record<ExitCategory, string> = {
  hvc: '#4c78a8',
  smc: '#9467bd',
  sysreg: '#f58518',
  dabort: '#e45756',
  iabort: '#b279a2',
  wfi: '#72b7b2',
  wfe: '#54a24b',
  fp: '#88d27a',
  irq: '#eeca3b',
  fiq: '#ff9da6',
  serror: '#9d755d',
  other: '#bab0ac',
};

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.2em 1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .4em}h2{font-size:1.1em;margin:1.3em 0 .4em}
#status{color:#555;margin:.2em 0}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em;margin:.5em 0}dt{color:#555}dd{margin:0}
.note{background:#fff6d6;border:1px solid #e8d48a;padding:4px 8px;margin:.5em 0}
.bar{display:flex;flex-wrap:wrap;gap:.4em 1em;align-items:center;margin:.3em 0}
.bar button{min-width:2.2em}
#legend{margin:.3em 0}.key{margin-right:1em;white-space:nowrap;display:inline-flex;align-items:center;gap:.3em}
.tl{border:1px solid #ddd;user-select:none}
#tl{display:block;width:100%;height:150px;cursor:grab;touch-action:none}
.band{fill:#f4f4f4}.g{fill:#8fbf8f}.load{fill:#1a9850}.put{fill:#d73027}
.hz{stroke:#d00;stroke-width:2;stroke-dasharray:3 2}
.sel{fill:none;stroke:#000;stroke-width:2}
.lbl{font-size:12px;fill:#333}.sub{font-size:10px;fill:#777}.tick{stroke:#999}.ax{font-size:11px;fill:#555}
.hint{color:#777;font-size:12px;margin:.2em 0}
.tbl{position:relative;height:60vh;overflow:auto;border:1px solid #ddd}
.tbl table{border-collapse:collapse;table-layout:fixed;font-size:13px}
#thead{position:sticky;top:0;z-index:1;background:#fafafa}
#tbody{position:absolute;left:0}
td,th{padding:0 8px;height:21px;border-bottom:1px solid #eee;text-align:left;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
th{border-bottom:1px solid #ccc;font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}td.regs{color:#555;font-size:12px}
tr.on td{background:#ffe9a8}#tbody tr{cursor:pointer}#tbody tr:hover td{background:#f0f6ff}
.dot{display:inline-block;width:.75em;height:.75em;margin-right:.35em;vertical-align:-1px}
#hz ul{margin:.3em 0;padding-left:1.2em;max-height:40vh;overflow:auto}
`;

// Plain ES5 in a string: no template literals, so it can sit in this file as it is.
const SCRIPT = String.raw`
(function () {
  'use strict';
  var COLOURS = /*COLOURS*/ {};
  var RH = 22, LW = 130, PR = 14, HOST_Y = 22, GUEST_Y = 74, BAND = 30, AXIS_Y = 118, SVG_H = 150;
  var X = [], L = [], H = [], F = new Int32Array(0), LF = [], HF = [];
  var end = null, head = null, cols = [], split = false, selected = -1;
  var view = { a: 0, b: 1 }, full = { a: 0, b: 1 }, W = 1000, drag = null, pending = false;
  var vcpuVmid = {};

  function el(id) { return document.getElementById(id); }
  function esc(s) {
    return String(s).replace(/[&<>"]/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c];
    });
  }
  function num(n) {
    return n === null || n === undefined ? '\u2014' : String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }
  function f1(n) { return n === null || n === undefined ? '\u2014' : (Math.round(n * 10) / 10).toFixed(1); }
  function endOf(r) { return r[8] !== null ? r[8] : r[7] + 1; }

  function read() {
    head = JSON.parse(el('hyp-head').textContent);
    var chunks = document.querySelectorAll('script.hyp-rows');
    for (var i = 0; i < chunks.length; i++) {
      var d;
      try {
        d = JSON.parse(chunks[i].textContent);
      } catch (e) {
        break; // cut short: the run stopped while writing it
      }
      Array.prototype.push.apply(X, d.x);
      Array.prototype.push.apply(L, d.l);
      Array.prototype.push.apply(H, d.h);
    }
    var e = el('hyp-end');
    end = e ? JSON.parse(e.textContent) : null;
    for (var k = 0; k < X.length; k++) {
      var r = X[k];
      if (r[2] !== null && !(r[2] in vcpuVmid)) vcpuVmid[r[2]] = r[1];
      if (r[10] !== null && r[10] !== r[9]) split = true;
    }
  }

  function summary() {
    var s = end && end.summary, rows = [];
    function add(k, v) { rows.push('<dt>' + k + '</dt><dd>' + v + '</dd>'); }
    if (!end) {
      el('notes').innerHTML = '<p class="note">This report is incomplete: the run ended before its summary was written. ' +
        'The rows below are those written until then.</p>';
      return;
    }
    add('guest', esc(end.guestResult));
    add('instructions', num(end.icount));
    add('exits / entries', num(s.exits) + ' / ' + num(s.entries));
    add('per exit (mean)', f1(s.perExit.el2Insns) + ' EL2 instructions, ' + f1(s.perExit.hostInsns - s.perExit.el2Insns) +
      ' host EL1 instructions, ' + f1(s.perExit.sysregs) + ' MSR/MRS');
    add('HVC round trip (mean)', s.hvcRoundTrip === null ? '\u2014' : f1(s.hvcRoundTrip) + ' instructions');
    if (head.layout) {
      add('loads / puts', num(s.loads) + ' / ' + num(s.puts) + (s.loads + s.puts === 0 ? '' : ' (mean ' +
        f1(s.perLoad.hostInsns) + ' / ' + f1(s.perPut.hostInsns) + ' instructions, ' + f1(s.perLoad.sysregs) + ' / ' +
        f1(s.perPut.sysregs) + ' MSR/MRS)'));
      add('residency hazards', num(s.hazards) + (s.hazards ? ' (' + num(s.distinctHazards) + ' distinct)' : ''));
    } else add('loads / puts', '\u2014 (needs --vcpu-layout)');
    el('summary').innerHTML = rows.join('');
    var t = end.rows.total, kept = end.rows.kept, notes = [];
    if (t.exits > kept.exits) notes.push('the first ' + num(kept.exits) + ' of ' + num(t.exits) + ' exits');
    if (t.loadPut > kept.loadPut) notes.push('the first ' + num(kept.loadPut) + ' of ' + num(t.loadPut) + ' loads and puts');
    if (t.hazards > kept.hazards) notes.push('the first ' + num(kept.hazards) + ' of ' + num(t.hazards) + ' hazards');
    if (notes.length) el('notes').innerHTML = '<p class="note">This page holds ' + notes.join(', ') +
      '; the summary covers them all, and <code>--report run.json</code> writes every row.</p>';
  }

  function options(id, values, label) {
    var s = el(id), html = '<option value="*">all</option>';
    values.forEach(function (v) { html += '<option value="' + esc(v) + '">' + esc(label ? label(v) : v) + '</option>'; });
    s.innerHTML = html;
  }

  function filters() {
    var vc = {}, vm = {}, ca = {};
    X.forEach(function (r) { vc[String(r[2])] = 1; vm[r[1]] = 1; ca[r[5]] = (ca[r[5]] || 0) + 1; });
    options('f-vcpu', Object.keys(vc).sort(), function (v) { return v === 'null' ? '(unknown)' : v; });
    options('f-vmid', Object.keys(vm).map(Number).sort(function (a, b) { return a - b; }).map(String));
    options('f-cat', Object.keys(COLOURS).filter(function (c) { return ca[c]; }), function (c) { return c + ' (' + num(ca[c]) + ')'; });
    var legend = '';
    Object.keys(COLOURS).forEach(function (c) {
      if (!ca[c]) return;
      legend += '<span class="key"><svg width="12" height="12"><rect width="12" height="12" fill="' + COLOURS[c] +
        '"/></svg>' + c + '</span>';
    });
    legend += '<span class="key"><svg width="12" height="12"><rect class="g" width="12" height="12"/></svg>guest running</span>' +
      '<span class="key"><svg width="12" height="10"><polygon class="load" points="0,10 12,10 6,0"/></svg>vcpu load</span>' +
      '<span class="key"><svg width="12" height="10"><polygon class="put" points="0,0 12,0 6,10"/></svg>vcpu put</span>' +
      '<span class="key"><svg width="12" height="12"><line class="hz" x1="6" x2="6" y1="0" y2="12"/></svg>hazard</span>';
    el('legend').innerHTML = legend;
  }

  function apply() {
    var v = el('f-vcpu').value, m = el('f-vmid').value, c = el('f-cat').value, t = el('f-text').value.toLowerCase();
    var out = new Int32Array(X.length), k = 0;
    for (var i = 0; i < X.length; i++) {
      var r = X[i];
      if (v !== '*' && String(r[2]) !== v) continue;
      if (m !== '*' && String(r[1]) !== m) continue;
      if (c !== '*' && r[5] !== c) continue;
      if (t && r[4].toLowerCase().indexOf(t) < 0) continue;
      out[k++] = i;
    }
    F = out.subarray(0, k);
    function ok(vcpu) {
      return (v === '*' || vcpu === v) && (m === '*' || String(vcpuVmid[vcpu]) === m);
    }
    LF = L.filter(function (r) { return ok(r[1]); });
    HF = H.filter(function (r) { return ok(r[1]); });
    el('count').textContent = F.length === X.length ? '(' + num(X.length) + ')' : '(' + num(F.length) + ' of ' + num(X.length) + ')';
    el('spacer').style.height = F.length * RH + 'px';
    rows();
    hazards();
    draw();
  }

  // --- the table: only the rows in sight are in the document ---
  function columns() {
    cols = [
      { h: '#', w: 70, n: 1, f: function (r) { return num(r[0]); } },
    ];
    if (head.pes > 1) cols.push({ h: 'PE', w: 40, n: 1, f: function (r) { return r[14]; } });
    cols = cols.concat([
      { h: 'at instruction', w: 120, n: 1, f: function (r) { return num(r[7]); } },
      { h: 'vcpu', w: 80, f: function (r) { return r[2] === null ? '\u2014' : esc(r[2]); } },
      { h: 'vmid', w: 60, n: 1, f: function (r) { return r[1]; } },
      { h: 'reason', w: 300, f: function (r) {
        return '<i class="dot" style="background:' + COLOURS[r[5]] + '"></i>' + esc(r[4]); }, t: function (r) {
        return r[4] + ' (ESR_EL2 ' + r[13] + ')'; } },
      { h: 'guest PC', w: 110, f: function (r) { return r[3]; } },
      { h: 'guest ran', w: 90, n: 1, tip: 'instructions the guest ran from its entry to this exit',
        f: function (r) { return r[6] === null ? '\u2014' : num(r[7] - r[6]); } }
    ]);
    if (split) {
      cols.push({ h: 'EL2 insns', w: 90, n: 1, tip: 'instructions at EL2 from the exit to the next entry',
        f: function (r) { return num(r[9]); } });
      cols.push({ h: 'host EL1 insns', w: 125, n: 1, tip: "instructions of the host kernel at EL1 (a split-mode hypervisor's host) from the exit to the next entry",
        f: function (r) { return r[10] === null ? '\u2014' : num(r[10] - r[9]); } });
    } else {
      cols.push({ h: 'handling insns', w: 125, n: 1, tip: 'instructions from the exit to the next entry, all at EL2 in this run (no host kernel at EL1)',
        f: function (r) { return num(r[10]); } });
    }
    cols.push({ h: 'MSR/MRS', w: 90, n: 1, f: function (r) { return num(r[11]); } });
    cols.push({ h: 'by register', w: 420, cls: 'regs', f: function (r) { return esc(r[12]); }, t: function (r) { return r[12]; } });
    var cg = '<colgroup>' + cols.map(function (c) { return '<col style="width:' + c.w + 'px">'; }).join('') + '</colgroup>';
    var width = cols.reduce(function (s, c) { return s + c.w; }, 0) + 'px';
    el('thead').innerHTML = cg + '<thead><tr>' + cols.map(function (c) {
      return '<th' + (c.n ? ' class="n"' : '') + (c.tip ? ' title="' + esc(c.tip) + '"' : '') + '>' + c.h + '</th>';
    }).join('') + '</tr></thead>';
    el('tbody').innerHTML = cg + '<tbody></tbody>';
    el('thead').style.width = el('tbody').style.width = el('spacer').style.width = width;
  }

  function rows() {
    var box = el('tbl'), hh = el('thead').offsetHeight;
    var first = Math.max(0, Math.floor(Math.max(0, box.scrollTop) / RH) - 4);
    var last = Math.min(F.length, first + Math.ceil(box.clientHeight / RH) + 8);
    var html = [];
    for (var k = first; k < last; k++) {
      var i = F[k], r = X[i];
      html.push('<tr data-i="' + i + '"' + (i === selected ? ' class="on"' : '') + '>' + cols.map(function (c) {
        var cls = c.n ? 'n' : c.cls || '';
        return '<td' + (cls ? ' class="' + cls + '"' : '') + (c.t ? ' title="' + esc(c.t(r)) + '"' : '') + '>' + c.f(r) + '</td>';
      }).join('') + '</tr>');
    }
    var body = el('tbody');
    body.style.top = hh + first * RH + 'px';
    body.tBodies[0].innerHTML = html.join('');
  }

  /** The position in F of exit index i (F is in increasing order), or -1. */
  function posOf(i) {
    var lo = 0, hi = F.length - 1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (F[mid] === i) return mid;
      if (F[mid] < i) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
  }

  function select(i, centre) {
    selected = i;
    var k = posOf(i), box = el('tbl');
    if (k >= 0) {
      var y = k * RH;
      if (y < box.scrollTop || y > box.scrollTop + box.clientHeight - 3 * RH) box.scrollTop = Math.max(0, y - box.clientHeight / 3);
    }
    if (centre) {
      var r = X[i], span = view.b - view.a;
      var local = Math.max(64, (endOf(r) - (r[6] !== null ? r[6] : r[7])) * 24);
      if (span > local * 4) span = local;
      var mid = r[7];
      setView(mid - span / 2, mid + span / 2);
    }
    rows();
    draw();
  }

  // --- the timeline: SVG for the current view, binned when more is in sight than can be drawn ---
  function xOf(t) { return LW + (t - view.a) / (view.b - view.a) * (W - LW - PR); }
  function tOf(px) { return view.a + (px - LW) / (W - LW - PR) * (view.b - view.a); }
  function fx(v) { return v.toFixed(1); }

  /** First k in list (sorted by time(item)) with time >= t. */
  function lower(n, time, t) {
    var lo = 0, hi = n;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (time(mid) < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function niceStep(span, n) {
    var raw = span / n, p = Math.pow(10, Math.floor(Math.log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
  }

  function setView(a, b) {
    var fs = full.b - full.a, span = Math.min(Math.max(b - a, 16), fs);
    if (span < b - a) { var c = (a + b) / 2; a = c - span / 2; }
    a = Math.max(full.a, Math.min(a, full.b - span));
    view = { a: a, b: a + span };
    if (!pending) {
      pending = true;
      requestAnimationFrame(function () { pending = false; draw(); });
    }
  }

  function draw() {
    var svg = el('tl');
    W = svg.clientWidth || 1000;
    var pw = W - LW - PR, p = [];
    p.push('<defs><clipPath id="plot"><rect x="' + LW + '" y="0" width="' + pw + '" height="' + SVG_H + '"/></clipPath></defs>');
    p.push('<text x="8" y="' + (HOST_Y + 15) + '" class="lbl">host</text><text x="8" y="' + (HOST_Y + 27) +
      '" class="sub">EL2 and host kernel</text>');
    p.push('<text x="8" y="' + (GUEST_Y + 15) + '" class="lbl">guest</text><text x="8" y="' + (GUEST_Y + 27) +
      '" class="sub">EL1 and EL0</text>');
    p.push('<rect x="' + LW + '" y="' + HOST_Y + '" width="' + pw + '" height="' + BAND + '" class="band"/>');
    p.push('<rect x="' + LW + '" y="' + GUEST_Y + '" width="' + pw + '" height="' + BAND + '" class="band"/>');
    p.push('<g clip-path="url(#plot)">');
    // Exits in sight: from the one before the first that exits after view.a, to the one after the last.
    var k0 = Math.max(0, lower(F.length, function (k) { return X[F[k]][7]; }, view.a) - 1);
    var k1 = Math.min(F.length, lower(F.length, function (k) { return X[F[k]][7]; }, view.b) + 1);
    var cats = Object.keys(COLOURS);
    if (k1 - k0 <= 1500) {
      for (var k = k0; k < k1; k++) {
        var i = F[k], r = X[i], x0 = xOf(r[7]), x1 = xOf(endOf(r));
        if (r[6] !== null) {
          var g0 = xOf(r[6]);
          p.push('<rect x="' + fx(g0) + '" y="' + GUEST_Y + '" width="' + fx(Math.max(0.5, x0 - g0)) + '" height="' + BAND +
            '" class="g"><title>vmid ' + r[1] + (r[2] !== null ? ' ' + esc(r[2]) : '') + ' running: ' + num(r[7] - r[6]) +
            ' instructions</title></rect>');
        }
        p.push('<rect data-i="' + i + '" x="' + fx(x0) + '" y="' + HOST_Y + '" width="' + fx(Math.max(1, x1 - x0)) + '" height="' +
          BAND + '" fill="' + COLOURS[r[5]] + '"><title>exit #' + r[0] + ' vmid ' + r[1] + (r[2] !== null ? ' ' + esc(r[2]) : '') +
          ': ' + esc(r[4]) + ' at ' + r[3] + '; ' + num(r[10]) + ' instructions, ' + num(r[11]) + ' MSR/MRS</title></rect>');
        if (i === selected) p.push('<rect class="sel" x="' + fx(x0 - 2) + '" y="' + (HOST_Y - 2) + '" width="' +
          fx(Math.max(1, x1 - x0) + 4) + '" height="' + (BAND + 4) + '"/>');
      }
    } else {
      // Two-pixel bins: the host band takes the colour of the most frequent reason in the bin, the
      // guest band an opacity for the share of the bin's instructions the guest ran.
      var bins = Math.ceil(pw / 2), counts = new Int32Array(bins * cats.length), guest = new Float64Array(bins);
      var per = (view.b - view.a) / bins, ci = {};
      cats.forEach(function (c, j) { ci[c] = j; });
      for (var k = k0; k < k1; k++) {
        var r = X[F[k]], b0 = Math.floor((r[7] - view.a) / per);
        if (b0 >= 0 && b0 < bins) counts[b0 * cats.length + ci[r[5]]]++;
        if (r[6] !== null) {
          var g0 = Math.max(r[6], view.a), g1 = Math.min(r[7], view.b);
          for (var b = Math.floor((g0 - view.a) / per); b < bins && view.a + b * per < g1; b++)
            guest[b] += Math.min(g1, view.a + (b + 1) * per) - Math.max(g0, view.a + b * per);
        }
      }
      for (var b = 0; b < bins; b++) {
        if (guest[b] > per * 0.005) p.push('<rect x="' + (LW + 2 * b) + '" y="' + GUEST_Y + '" width="2" height="' + BAND +
          '" class="g" fill-opacity="' + Math.min(1, guest[b] / per).toFixed(2) + '"/>');
        var best = -1, total = 0, parts = [];
        for (var j = 0; j < cats.length; j++) {
          var n = counts[b * cats.length + j];
          if (!n) continue;
          total += n;
          parts.push(cats[j] + ' ' + n);
          if (best < 0 || n > counts[b * cats.length + best]) best = j;
        }
        if (total) p.push('<rect x="' + (LW + 2 * b) + '" y="' + HOST_Y + '" width="2" height="' + BAND + '" fill="' +
          COLOURS[cats[best]] + '"><title>' + total + ' exits (' + parts.join(', ') + ') near instruction ' +
          num(Math.round(tOf(LW + 2 * b))) + '</title></rect>');
      }
    }
    marks(p, LF, 4, function (r, x) {
      var load = r[0] === 'load', y = load ? HOST_Y + BAND + 1 : HOST_Y - 1;
      var pts = load ? [x - 5, y + 9, x + 5, y + 9, x, y] : [x - 5, y - 9, x + 5, y - 9, x, y];
      return '<polygon class="' + r[0] + '" points="' + pts.map(fx).join(' ') + '"><title>' + r[0] + ' ' + esc(r[1]) + ' (' +
        esc(r[2]) + ') at ' + esc(r[8]) + ': ' + num(r[6]) + ' instructions, ' + num(r[7]) + ' MSR/MRS</title></polygon>';
    });
    marks(p, HF, 6, function (r, x) {
      return '<line class="hz" x1="' + fx(x) + '" x2="' + fx(x) + '" y1="6" y2="' + (GUEST_Y + BAND + 4) + '"><title>' +
        esc(r[6]) + '</title></line>';
    });
    p.push('</g>');
    // The time axis, in instructions.
    p.push('<line class="tick" x1="' + LW + '" x2="' + (W - PR) + '" y1="' + AXIS_Y + '" y2="' + AXIS_Y + '"/>');
    var step = niceStep(view.b - view.a, Math.max(2, Math.floor(pw / 120)));
    for (var t = Math.ceil(view.a / step) * step; t <= view.b; t += step) {
      var x = xOf(t);
      p.push('<line class="tick" x1="' + fx(x) + '" x2="' + fx(x) + '" y1="' + AXIS_Y + '" y2="' + (AXIS_Y + 5) + '"/>' +
        '<text class="ax" x="' + fx(x) + '" y="' + (AXIS_Y + 17) + '" text-anchor="' + (x > W - PR - 40 ? 'end' : 'middle') +
        '">' + num(Math.round(t)) + '</text>');
    }
    p.push('<text class="sub" x="8" y="' + (AXIS_Y + 17) + '">instructions</text>');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + SVG_H);
    svg.innerHTML = p.join('');
    el('view').textContent = 'instructions ' + num(Math.round(view.a)) + '\u2013' + num(Math.round(view.b)) +
      (view.b - view.a < full.b - full.a ? ' (zoomed \u00d7' + f1((full.b - full.a) / (view.b - view.a)) + ')' : '');
  }

  /** Markers (loads/puts or hazards) in sight; one per px pixels when there are too many. */
  function marks(p, list, px, one) {
    var k0 = lower(list.length, function (k) { return list[k][4]; }, view.a);
    var k1 = lower(list.length, function (k) { return list[k][4]; }, view.b + 1);
    var lastX = -Infinity, dense = k1 - k0 > 600;
    for (var k = k0; k < k1; k++) {
      var x = xOf(list[k][4]);
      if (dense && x - lastX < px) continue;
      lastX = x;
      p.push(one(list[k], x));
    }
  }

  function hazards() {
    var box = el('hz');
    if (!HF.length) { box.textContent = H.length ? 'none for this vcpu' : 'none'; return; }
    var shown = HF.slice(0, 2000);
    box.innerHTML = (HF.length > shown.length ? '<p>the first 2,000 of ' + num(HF.length) + '</p>' : '') + '<ul>' +
      shown.map(function (r) {
        return '<li>[' + num(r[4]) + '] ' + esc(r[6]) + '</li>';
      }).join('') + '</ul>';
  }

  function wire() {
    ['f-vcpu', 'f-vmid', 'f-cat'].forEach(function (id) { el(id).addEventListener('change', apply); });
    el('f-text').addEventListener('input', apply);
    el('tbl').addEventListener('scroll', function () { requestAnimationFrame(rows); });
    el('tbody').addEventListener('click', function (e) {
      var tr = e.target.closest('tr');
      if (tr) select(Number(tr.getAttribute('data-i')), true);
    });
    el('goto').addEventListener('change', function () {
      var n = Number(el('goto').value), i = lower(X.length, function (k) { return X[k][0]; }, n);
      if (i < X.length) select(i, true);
    });
    function zoom(f, t) {
      if (t === undefined) t = (view.a + view.b) / 2;
      setView(t - (t - view.a) * f, t + (view.b - t) * f);
    }
    el('z-in').addEventListener('click', function () { zoom(0.5); });
    el('z-out').addEventListener('click', function () { zoom(2); });
    el('z-fit').addEventListener('click', function () { setView(full.a, full.b); });
    var svg = el('tl');
    svg.addEventListener('wheel', function (e) {
      e.preventDefault();
      var px = Math.max(LW, e.clientX - svg.getBoundingClientRect().left);
      zoom(e.deltaY > 0 ? 1.25 : 0.8, tOf(px));
    }, { passive: false });
    svg.addEventListener('pointerdown', function (e) {
      drag = { x: e.clientX, a: view.a, b: view.b, moved: false };
      svg.setPointerCapture(e.pointerId);
    });
    svg.addEventListener('pointermove', function (e) {
      if (!drag) return;
      var dx = e.clientX - drag.x;
      if (Math.abs(dx) > 3) drag.moved = true;
      if (drag.moved) {
        var dt = dx / (W - LW - PR) * (drag.b - drag.a);
        setView(drag.a - dt, drag.b - dt);
      }
    });
    svg.addEventListener('pointerup', function (e) {
      var d = drag;
      drag = null;
      if (!d || d.moved || !F.length) return;
      var px = e.clientX - svg.getBoundingClientRect().left;
      if (px < LW) return;
      var t = tOf(px), k = Math.min(F.length - 1, lower(F.length, function (j) { return X[F[j]][7]; }, t));
      if (k > 0 && Math.abs(X[F[k - 1]][7] - t) < Math.abs(X[F[k]][7] - t)) k--;
      select(F[k], false);
    });
    window.addEventListener('resize', function () { draw(); rows(); });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var t0 = performance.now();
    read();
    summary();
    var starts = [end ? end.icount : 0];
    if (X.length) starts.push(X[0][6] !== null ? X[0][6] : X[0][7]);
    if (L.length) starts.push(L[0][4]);
    if (H.length) starts.push(H[0][4]);
    full.a = Math.min.apply(null, starts);
    full.b = Math.max(full.a + 16, end ? end.icount : X.length ? endOf(X[X.length - 1]) : full.a + 16);
    view = { a: full.a, b: full.b };
    filters();
    columns();
    wire();
    apply();
    var ms = performance.now() - t0;
    el('status').textContent = num(X.length) + ' exits, ' + num(L.length) + ' loads and puts, ' + num(H.length) +
      ' hazards (drawn in ' + Math.round(ms) + ' ms)';
    document.documentElement.setAttribute('data-ready', String(ms));
  });
})();
`;

/** Everything before the rows: the style, the script, the skeleton the script fills. */
export function pageHead(image: string, mode: string | null, headerJson: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hypstep world report: ${esc(image)}</title>
<style>${STYLE}</style>
<script type="application/json" id="hyp-head">${headerJson}</script>
<script>${SCRIPT.replace('/*COLOURS*/ {}', JSON.stringify(CATEGORY_COLOURS))}</script>
</head><body>
<h1>World switches: ${esc(image)}${mode ? ` (${esc(mode)})` : ''}</h1>
<noscript><p class="note">This page draws itself with JavaScript, which is off here. Its data is in the page's source.</p></noscript>
<p id="status">Reading the report…</p>
<dl id="summary"></dl>
<div id="notes"></div>
<h2>Timeline</h2>
<div class="bar">
<label>vcpu <select id="f-vcpu"></select></label>
<label>vmid <select id="f-vmid"></select></label>
<label>reason <select id="f-cat"></select></label>
<input id="f-text" type="search" placeholder="reason contains…" aria-label="reason contains">
<span><button id="z-in" title="zoom in">+</button> <button id="z-out" title="zoom out">−</button> <button id="z-fit" title="the whole run">fit</button></span>
<span id="view"></span>
</div>
<div id="legend"></div>
<div class="tl"><svg id="tl" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="world-switch timeline"></svg></div>
<p class="hint">Wheel to zoom, drag to pan, click an exit to find it in the table; click a row to find it on the timeline.</p>
<h2>Exits <span id="count"></span></h2>
<div class="bar"><label>go to exit # <input id="goto" type="number" min="1"></label></div>
<div id="tbl" class="tbl"><table id="thead"></table><div id="spacer"></div><table id="tbody"></table></div>
<h2>Residency hazards</h2>
<div id="hz"></div>
`;
}

export function pageTail(): string {
  return '</body></html>\n';
}
