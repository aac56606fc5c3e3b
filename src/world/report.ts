// `hypstep run --report <file.json|file.html>`: the exits, loads, puts and hazards of a run,
// as JSON for scripts or as one self-contained HTML page (an SVG timeline and the per-exit
// cost table) readable in a browser with no server.
import { hex } from '../cpu/bits.js';
import type { ExitCategory } from './reason.js';
import type { World } from './world.js';
import { summarise, type WorldSummary } from './summary.js';

export interface ReportMeta {
  readonly image: string;
  readonly icount: number;
  readonly guestResult?: string;
}

export interface WorldReport {
  readonly format: 'hypstep-world-report';
  readonly version: 1;
  readonly image: string;
  readonly layout: { readonly hypervisor: string; readonly mode: string | null } | null;
  readonly icount: number;
  readonly guestResult: string | null;
  readonly summary: WorldSummary;
  readonly exits: readonly {
    n: number;
    vmid: number;
    vcpu: string | null;
    pc: string;
    reason: string;
    category: ExitCategory;
    esr: string;
    icount: number;
    el2Insns: number | null;
    hostInsns: number | null;
    sysregTotal: number | null;
    sysregs: Record<string, number>;
  }[];
  readonly entries: readonly { icount: number; vmid: number; vcpu: string | null }[];
  readonly loadPut: readonly {
    type: 'load' | 'put';
    vcpu: string;
    flag: string;
    pc: string;
    /** The flag store by symbol and line (the world's location formatter). */
    where: string;
    icount: number;
    el2Insns: number;
    sysregTotal: number;
  }[];
  readonly hazards: readonly {
    kind: string;
    vcpu: string;
    reg: string;
    pc: string;
    where: string;
    icount: number;
    message: string;
  }[];
}

/** Collects entry times too (the exit records hold the rest); call before the run starts. */
export function recordEntries(w: World): { icount: number; vmid: number; vcpu: string | null }[] {
  const list: { icount: number; vmid: number; vcpu: string | null }[] = [];
  w.on((e) => {
    if (e.type === 'entry') list.push({ icount: e.entry.icount, vmid: e.entry.vmid, vcpu: e.entry.vcpu });
  });
  return list;
}

export function buildReport(w: World, meta: ReportMeta, entries: WorldReport['entries']): WorldReport {
  return {
    format: 'hypstep-world-report',
    version: 1,
    image: meta.image,
    layout: w.layout ? { hypervisor: w.layout.hypervisor, mode: w.layout.mode } : null,
    icount: meta.icount,
    guestResult: meta.guestResult ?? null,
    summary: summarise(w),
    exits: w.exitLog.map((x) => ({
      n: x.n,
      vmid: x.vmid,
      vcpu: x.vcpu,
      pc: hex(x.pc),
      reason: x.reason.text,
      category: x.reason.category,
      esr: hex(x.reason.esr),
      icount: x.icount,
      el2Insns: x.closed ? x.el2Insns : null,
      hostInsns: x.closed ? x.hostInsns : null,
      sysregTotal: x.closed ? x.sysregTotal : null,
      sysregs: x.sysregs,
    })),
    entries,
    loadPut: w.loadPutLog.map((r) => ({
      type: r.type,
      vcpu: r.vcpu,
      flag: r.flag,
      pc: hex(r.pc),
      where: w.locate(r.pc),
      icount: r.icount,
      el2Insns: r.el2Insns,
      sysregTotal: r.sysregTotal,
    })),
    hazards: w.hazards.map((h) => ({
      kind: h.kind,
      vcpu: h.vcpu,
      reg: h.reg,
      pc: hex(h.pc),
      where: h.where,
      icount: h.icount,
      message: h.message,
    })),
  };
}

export const CATEGORY_COLOURS: Record<ExitCategory, string> = {
  hvc: '#4c78a8',
  smc: '#9467bd',
  sysreg: '#f58518',
  dabort: '#e45756',
  iabort: '#b279a2',
  wfi: '#72b7b2',
  wfe: '#54a24b',
  irq: '#eeca3b',
  fiq: '#ff9da6',
  serror: '#9d755d',
  other: '#bab0ac',
};

const esc = (s: string): string =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/** How many exits the timeline and the table draw individually; the summary covers all of them. */
const DRAWN = 400;

function timelineSvg(r: WorldReport): string {
  const exits = r.exits.slice(0, DRAWN);
  const entries = r.entries;
  const start = Math.min(
    exits[0]?.icount ?? r.icount,
    entries[0]?.icount ?? r.icount,
    r.loadPut[0]?.icount ?? r.icount,
  );
  const lastExit = exits[exits.length - 1];
  const end = Math.max(
    start + 1,
    lastExit ? (entries.find((e) => e.icount > lastExit.icount)?.icount ?? lastExit.icount + 1) : r.icount,
  );
  const W = Math.max(1000, exits.length * 8);
  const x = (i: number) => (((i - start) / (end - start)) * (W - 20) + 10).toFixed(1);
  const HOST_Y = 30,
    GUEST_Y = 80,
    BAND = 30;
  const parts: string[] = [];
  parts.push(
    `<text x="2" y="${HOST_Y - 6}" class="lbl">host (EL2 and host kernel)</text><text x="2" y="${GUEST_Y - 6}" class="lbl">guest</text>`,
  );
  parts.push(
    `<rect x="10" y="${HOST_Y}" width="${W - 20}" height="${BAND}" class="band"/><rect x="10" y="${GUEST_Y}" width="${W - 20}" height="${BAND}" class="band"/>`,
  );
  // Guest time: from each entry to the next exit.
  let ei = 0;
  for (const e of entries) {
    if (e.icount > end) break;
    while (ei < exits.length && exits[ei]!.icount < e.icount) ei++;
    const until = exits[ei]?.icount ?? end;
    parts.push(
      `<rect x="${x(e.icount)}" y="${GUEST_Y}" width="${Math.max(0.5, Number(x(until)) - Number(x(e.icount))).toFixed(1)}" height="${BAND}" class="g"><title>vmid ${e.vmid}${e.vcpu ? ` ${e.vcpu}` : ''} running</title></rect>`,
    );
  }
  for (const ex of exits) {
    const to = entries.find((e) => e.icount > ex.icount)?.icount ?? end;
    const w = Math.max(1, Number(x(to)) - Number(x(ex.icount))).toFixed(1);
    parts.push(
      `<rect x="${x(ex.icount)}" y="${HOST_Y}" width="${w}" height="${BAND}" fill="${CATEGORY_COLOURS[ex.category]}"><title>exit #${ex.n} vmid ${ex.vmid}: ${esc(ex.reason)} at ${ex.pc}; ${ex.el2Insns ?? '?'} EL2 insns, ${ex.sysregTotal ?? '?'} MSR/MRS</title></rect>`,
    );
  }
  for (const lp of r.loadPut) {
    if (lp.icount < start || lp.icount > end) continue;
    const cx = Number(x(lp.icount));
    const y = lp.type === 'load' ? HOST_Y + BAND + 2 : HOST_Y - 2;
    const pts =
      lp.type === 'load'
        ? `${cx - 4},${y + 8} ${cx + 4},${y + 8} ${cx},${y}`
        : `${cx - 4},${y - 8} ${cx + 4},${y - 8} ${cx},${y}`;
    parts.push(
      `<polygon points="${pts}" class="${lp.type}"><title>${lp.type} ${lp.vcpu} (${lp.flag}) at ${esc(lp.where)}</title></polygon>`,
    );
  }
  for (const h of r.hazards) {
    if (h.icount < start || h.icount > end) continue;
    parts.push(
      `<line x1="${x(h.icount)}" x2="${x(h.icount)}" y1="10" y2="${GUEST_Y + BAND + 8}" class="hz"><title>${esc(h.message)}</title></line>`,
    );
  }
  parts.push(
    `<text x="10" y="${GUEST_Y + BAND + 22}" class="lbl">instruction ${start}</text><text x="${W - 10}" y="${GUEST_Y + BAND + 22}" text-anchor="end" class="lbl">instruction ${end}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${GUEST_Y + BAND + 30}" role="img" aria-label="world-switch timeline">${parts.join('')}</svg>`;
}

export function reportHtml(r: WorldReport): string {
  const s = r.summary;
  const legend = Object.entries(CATEGORY_COLOURS)
    .filter(([c]) => s.byReason[c as ExitCategory])
    .map(
      ([c, col]) =>
        `<span class="key"><i style="background:${col}"></i>${c} (${s.byReason[c as ExitCategory]!.count})</span>`,
    )
    .join(' ');
  const rows = r.exits
    .slice(0, DRAWN)
    .map((x) => {
      const regs = Object.entries(x.sysregs)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k}×${v}`)
        .join(' ');
      return `<tr><td>${x.n}</td><td>${x.vmid}${x.vcpu ? ` ${esc(x.vcpu)}` : ''}</td><td><i class="dot" style="background:${CATEGORY_COLOURS[x.category]}"></i>${esc(x.reason)}</td><td>${x.pc}</td><td class="n">${x.el2Insns ?? '—'}</td><td class="n">${x.hostInsns ?? '—'}</td><td class="n">${x.sysregTotal ?? '—'}</td><td class="regs">${esc(regs)}</td></tr>`;
    })
    .join('\n');
  const hazards = r.hazards.length
    ? `<h2>Residency hazards</h2><ul>${r.hazards.map((h) => `<li>${esc(h.message)}</li>`).join('')}</ul>`
    : '';
  const more =
    r.exits.length > DRAWN
      ? `<p>The timeline and the table show the first ${DRAWN} of ${r.exits.length} exits; the summary covers all of them.</p>`
      : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hypstep world report: ${esc(r.image)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
.tl{overflow-x:auto;border:1px solid #ddd;padding:4px}
.band{fill:#f4f4f4}.g{fill:#8fbf8f}.load{fill:#2a7}.put{fill:#c33}.hz{stroke:#d00;stroke-width:2;stroke-dasharray:3 2}
.lbl{font-size:11px;fill:#555}
.key{margin-right:1em;white-space:nowrap}.key i,.dot{display:inline-block;width:.8em;height:.8em;margin-right:.3em;vertical-align:-1px}
table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid #eee;padding:2px 8px;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}td.regs{font-size:12px;color:#555}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}dt{color:#555}dd{margin:0}
</style></head><body>
<h1>World switches: ${esc(r.image)}${r.layout?.mode ? ` (${esc(r.layout.mode)})` : ''}</h1>
<dl>
<dt>instructions</dt><dd>${r.icount}</dd>
<dt>exits / entries</dt><dd>${s.exits} / ${s.entries}</dd>
<dt>EL2 instructions per exit</dt><dd>${s.perExit.el2Insns.toFixed(1)}</dd>
<dt>MSR/MRS per exit</dt><dd>${s.perExit.sysregs.toFixed(1)}</dd>
<dt>HVC round trip (mean)</dt><dd>${s.hvcRoundTrip === null ? '—' : s.hvcRoundTrip.toFixed(1)} instructions</dd>
<dt>loads / puts</dt><dd>${r.layout ? `${s.loads} / ${s.puts}` : '— (needs --vcpu-layout)'}</dd>
${r.guestResult ? `<dt>guest</dt><dd>${esc(r.guestResult)}</dd>` : ''}
</dl>
<h2>Timeline</h2>
<p>${legend} <span class="key"><i style="background:#8fbf8f"></i>guest running</span> <span class="key">▲ load ▼ put</span></p>
<div class="tl">${timelineSvg(r)}</div>
${more}
${hazards}
<h2>Cost per exit</h2>
<table><thead><tr><th>#</th><th>vmid</th><th>reason</th><th>guest PC</th><th>EL2 insns</th><th>host insns</th><th>MSR/MRS</th><th>by register</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}

export function reportText(r: WorldReport, file: string): string {
  return /\.html?$/i.test(file) ? reportHtml(r) : JSON.stringify(r, null, 1) + '\n';
}
