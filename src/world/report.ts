// `hypstep run --report <file.json|file.html>`: every exit, load, put and hazard of a run,
// written to the file as the run goes, so a report of any length takes a fixed amount of
// memory. An exit's row is written when the guest is re-entered (its costs are final then),
// or at the end of the run for one never re-entered.
import { basename, dirname, join } from 'node:path';
import { hex } from '../cpu/bits.js';
import { hostErrorText } from '../loader/host-error.js';
import type { Locate } from '../loader/locate.js';
import type { ExitCategory } from './reason.js';
import type { ExitRecord, Hazard, LoadPutRecord, World, WorldEvent } from './world.js';
import { summarise, type WorldSummary } from './summary.js';
import { FileOutput } from './output.js';
import { pageHead, pageTail } from './report-page.js';

export interface ExitRow {
  readonly n: number;
  /** The PE that exited; `entered`, `icount` and `resumed` are that PE's instruction counts. */
  readonly pe: number;
  readonly vmid: number;
  readonly vcpu: string | null;
  readonly pc: string;
  readonly reason: string;
  readonly category: ExitCategory;
  readonly esr: string;
  /** The instruction count at the entry that started the guest stretch this exit ended (null: none seen). */
  readonly entered: number | null;
  readonly icount: number;
  /** The instruction count at the entry that closed this exit (null: never re-entered). */
  readonly resumed: number | null;
  /** From the exit to the next entry: instructions at EL2, at any host EL, MSR/MRS (null: never re-entered). */
  readonly el2Insns: number | null;
  readonly hostInsns: number | null;
  readonly sysregTotal: number | null;
  readonly sysregs: Record<string, number>;
}

export interface LoadPutRow {
  readonly type: 'load' | 'put';
  readonly pe: number;
  readonly vcpu: string;
  readonly flag: string;
  readonly pc: string;
  /** The flag store by symbol and line (the world's location formatter). */
  readonly where: string;
  readonly icount: number;
  readonly el2Insns: number;
  readonly hostInsns: number;
  readonly sysregTotal: number;
}

export interface HazardRow {
  readonly kind: string;
  readonly pe: number;
  readonly vcpu: string;
  readonly reg: string;
  readonly pc: string;
  readonly icount: number;
  readonly cpu: string | null;
  readonly memory: string | null;
  /** The access by symbol and line (the world's location formatter). */
  readonly where: string;
  readonly message: string;
}

/** How the run ended, for the report's trailer. */
export interface ReportEnd {
  readonly icount: number;
  /** e.g. `PSCI SYSTEM_OFF (status 0)`, `stopped after 1000 instructions (--max-insns)`. */
  readonly guestResult: string;
}

/** The JSON report, as a reader sees it once the run is over. */
export interface WorldReport {
  readonly format: 'hypstep-world-report';
  readonly version: 2;
  readonly image: string;
  /** PEs of the machine (rows name theirs; an exit's row is written when its PE re-enters the guest). */
  readonly pes: number;
  readonly layout: { readonly hypervisor: string; readonly mode: string | null } | null;
  readonly exits: readonly ExitRow[];
  readonly loadPut: readonly LoadPutRow[];
  readonly hazards: readonly HazardRow[];
  readonly icount: number;
  readonly guestResult: string;
  readonly summary: WorldSummary;
}

/**
 * The HTML page keeps the first rows up to these counts (a browser holds the page's data in
 * memory); its summary and the JSON report cover every row.
 */
export const HTML_ROWS = { exits: 200_000, loadPut: 200_000, hazards: 10_000 } as const;

function exitRow(x: ExitRecord, entered: number | null, resumed: number | null): ExitRow {
  const closed = resumed !== null;
  return {
    n: x.n,
    pe: x.pe,
    vmid: x.vmid,
    vcpu: x.vcpu,
    pc: hex(x.pc),
    reason: x.reason.text,
    category: x.reason.category,
    esr: hex(x.reason.esr),
    entered,
    icount: x.icount,
    resumed,
    el2Insns: closed ? x.el2Insns : null,
    hostInsns: closed ? x.hostInsns : null,
    sysregTotal: closed ? x.sysregTotal : null,
    sysregs: x.sysregs,
  };
}

function loadPutRow(r: LoadPutRecord, locate: Locate): LoadPutRow {
  return {
    type: r.type,
    pe: r.pe,
    vcpu: r.vcpu,
    flag: r.flag,
    pc: hex(r.pc),
    where: locate(r.pc),
    icount: r.icount,
    el2Insns: r.el2Insns,
    hostInsns: r.hostInsns,
    sysregTotal: r.sysregTotal,
  };
}

function hazardRow(h: Hazard): HazardRow {
  return {
    kind: h.kind,
    pe: h.pe,
    vcpu: h.vcpu,
    reg: h.reg,
    pc: hex(h.pc),
    icount: h.icount,
    cpu: h.cpu === undefined ? null : hex(h.cpu),
    memory: h.memory === undefined ? null : hex(h.memory),
    where: h.where,
    message: h.message,
  };
}

/** Where rows go: the JSON and HTML files frame them differently. */
interface RowSink {
  exit(r: ExitRow): void;
  loadPut(r: LoadPutRow): void;
  hazard(r: HazardRow): void;
  /** Writes the rest of the file; the summary covers every row. */
  end(trailer: { icount: number; guestResult: string; summary: WorldSummary }): void;
  /** Closes the files without finishing (after a write error). */
  abandon(): void;
}

type Header = Pick<WorldReport, 'format' | 'version' | 'image' | 'pes' | 'layout'>;

/**
 * JSON: the exits go straight into the file; loads, puts and hazards go to spool files beside
 * it and are copied in after the exits, so each kind stays one array.
 */
class JsonSink implements RowSink {
  private readonly out: FileOutput;
  private readonly spools: { loadPut: FileOutput; hazards: FileOutput };
  private readonly first = { exits: true, loadPut: true, hazards: true };

  constructor(file: string, header: Header) {
    this.out = new FileOutput(file);
    const spool = (what: string) => join(dirname(file), `.${basename(file)}.${what}.tmp`);
    this.spools = { loadPut: new FileOutput(spool('loadput')), hazards: new FileOutput(spool('hazards')) };
    const h = JSON.stringify(header, null, 1);
    this.out.write(`${h.slice(0, -2)},\n "exits": [`);
  }

  private row(to: FileOutput, kind: keyof JsonSink['first'], r: object): void {
    to.write(`${this.first[kind] ? '' : ','}\n  ${JSON.stringify(r)}`);
    this.first[kind] = false;
  }

  exit(r: ExitRow): void {
    this.row(this.out, 'exits', r);
  }
  loadPut(r: LoadPutRow): void {
    this.row(this.spools.loadPut, 'loadPut', r);
  }
  hazard(r: HazardRow): void {
    this.row(this.spools.hazards, 'hazards', r);
  }

  end(t: { icount: number; guestResult: string; summary: WorldSummary }): void {
    this.out.write('\n ],\n "loadPut": [');
    this.out.append(this.spools.loadPut);
    this.out.write('\n ],\n "hazards": [');
    this.out.append(this.spools.hazards);
    const trailer = JSON.stringify(t, null, 1);
    this.out.write(`\n ],\n${trailer.slice(2)}\n`);
    this.out.close();
  }

  abandon(): void {
    this.out.abandon();
    this.spools.loadPut.remove();
    this.spools.hazards.remove();
  }
}

/** A JSON value inside a `<script>` element: `<` escaped so no row can close the element. */
const scriptJson = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c');

/**
 * HTML: the page's style and script first, then the rows in chunks (`<script
 * type="application/json" class="hyp-rows">`) as they come, then the summary. The page reads
 * the chunks when it opens; a row is an array (see report-page.ts for the field order).
 */
class HtmlSink implements RowSink {
  private readonly out: FileOutput;
  private chunk = { x: [] as unknown[][], l: [] as unknown[][], h: [] as unknown[][] };
  private rows = 0;
  private readonly kept = { exits: 0, loadPut: 0, hazards: 0 };
  private readonly seen = { exits: 0, loadPut: 0, hazards: 0 };

  constructor(file: string, header: Header) {
    this.out = new FileOutput(file);
    this.out.write(pageHead(header.image, header.layout?.mode ?? null, scriptJson(header)));
  }

  private add(kind: keyof HtmlSink['kept'], list: unknown[][], row: unknown[]): void {
    this.seen[kind]++;
    if (this.kept[kind] >= HTML_ROWS[kind]) return;
    this.kept[kind]++;
    list.push(row);
    if (++this.rows >= 2000) this.flush();
  }

  private flush(): void {
    if (this.rows === 0) return;
    this.out.write(`<script type="application/json" class="hyp-rows">${scriptJson(this.chunk)}</script>\n`);
    this.chunk = { x: [], l: [], h: [] };
    this.rows = 0;
  }

  exit(r: ExitRow): void {
    const regs = Object.entries(r.sysregs)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}×${v}`)
      .join(' ');
    this.add('exits', this.chunk.x, [
      r.n,
      r.vmid,
      r.vcpu,
      r.pc,
      r.reason,
      r.category,
      r.entered,
      r.icount,
      r.resumed,
      r.el2Insns,
      r.hostInsns,
      r.sysregTotal,
      regs,
      r.esr,
      r.pe,
    ]);
  }
  loadPut(r: LoadPutRow): void {
    this.add('loadPut', this.chunk.l, [
      r.type,
      r.vcpu,
      r.flag,
      r.pc,
      r.icount,
      r.el2Insns,
      r.hostInsns,
      r.sysregTotal,
      r.where,
      r.pe,
    ]);
  }
  hazard(r: HazardRow): void {
    this.add('hazards', this.chunk.h, [r.kind, r.vcpu, r.reg, r.pc, r.icount, r.where, r.message, r.pe]);
  }

  end(t: { icount: number; guestResult: string; summary: WorldSummary }): void {
    this.flush();
    const end = { ...t, rows: { kept: this.kept, total: this.seen } };
    this.out.write(`<script type="application/json" id="hyp-end">${scriptJson(end)}</script>\n${pageTail()}`);
    this.out.close();
  }

  abandon(): void {
    this.out.abandon();
  }
}

export const isHtmlReport = (file: string): boolean => /\.html?$/i.test(file);

/**
 * Streams a run's report to `file` from the world's events. A write that fails (disk full)
 * stops the report, leaving what was written, and calls `failed` once with the reason.
 */
export class ReportStream {
  private readonly sink: RowSink;
  private readonly off: () => void;
  /** Per PE: its last exit, until its row is written; the entry before that exit; its last entry. */
  private readonly pending: (ExitRecord | null)[];
  private readonly pendingEntered: (number | null)[];
  private readonly lastEntry: (number | null)[];
  exits = 0;
  error: string | null = null;

  constructor(
    readonly file: string,
    private readonly world: World,
    image: string,
    private readonly failed: (why: string) => void,
  ) {
    const l = world.layout;
    const header: Header = {
      format: 'hypstep-world-report',
      version: 2,
      image,
      pes: world.pes.length,
      layout: l ? { hypervisor: l.hypervisor, mode: l.mode } : null,
    };
    this.pending = world.pes.map(() => null);
    this.pendingEntered = world.pes.map(() => null);
    this.lastEntry = world.pes.map(() => null);
    this.sink = isHtmlReport(file) ? new HtmlSink(file, header) : new JsonSink(file, header);
    this.off = world.on((e) => this.guard(() => this.event(e)));
  }

  private guard(f: () => void): void {
    if (this.error !== null) return;
    try {
      f();
    } catch (e) {
      this.error = hostErrorText(e);
      this.off();
      this.sink.abandon();
      this.failed(this.error);
    }
  }

  private writePending(pe: number, resumed: number | null): void {
    const x = this.pending[pe];
    if (x === null || x === undefined) return;
    this.sink.exit(exitRow(x, this.pendingEntered[pe] ?? null, resumed));
    this.exits++;
    this.pending[pe] = null;
  }

  private event(e: WorldEvent): void {
    switch (e.type) {
      case 'exit': {
        const pe = e.exit.pe;
        this.writePending(pe, null); // ended without an entry (a reset)
        this.pending[pe] = e.exit;
        this.pendingEntered[pe] = this.lastEntry[pe] ?? null;
        break;
      }
      case 'entry': {
        const pe = e.entry.pe;
        if (e.closed !== null && e.closed === this.pending[pe]) this.writePending(pe, e.entry.icount);
        this.lastEntry[pe] = e.entry.icount;
        break;
      }
      case 'load':
      case 'put':
        this.sink.loadPut(loadPutRow(e.record, this.world.locate));
        break;
      case 'hazard':
        this.sink.hazard(hazardRow(e.hazard));
        break;
    }
  }

  /** Writes the last rows and the trailer; true when the whole report is in the file. */
  finish(end: ReportEnd): boolean {
    this.guard(() => {
      this.off();
      // Exits never re-entered, in the order they were taken.
      const open = this.pending.filter((x) => x !== null).sort((a, b) => a.n - b.n);
      for (const x of open) this.writePending(x.pe, null);
      this.sink.end({ icount: end.icount, guestResult: end.guestResult, summary: summarise(this.world) });
    });
    return this.error === null;
  }
}
