// `hypstep demo`: every minihyp mode under the world layer, one table. This is the sysreg
// deferral discussion in numbers: what deferring the EL1 registers to vcpu_load/vcpu_put saves
// per exit on VHE, and what deferring the 32-bit ones on non-VHE saves and costs.
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine } from '../board/machine.js';
import { parseElf } from '../loader/elf.js';
import { attachWorld } from './attach.js';
import { summarise, type WorldSummary } from './summary.js';
import { table } from './format.js';
import type { World } from './world.js';

/** The package root: the first directory above this module with a package.json (from src/ or dist/src/). */
function packageRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json')) && dirname(d) !== d) d = dirname(d);
  return d;
}

export const MINIHYP_DIR = join(packageRoot(), 'fixtures', 'minihyp');

export interface ModeRun {
  readonly mode: string;
  readonly elf: string;
  readonly machine: Machine;
  readonly world: World;
  readonly uart: string;
  readonly stop: string;
  readonly exitCode: number | null;
}

/** The modes the fixture's layout describes, in its order. */
export function minihypModes(dir = MINIHYP_DIR): string[] {
  const layout = JSON.parse(readFileSync(join(dir, 'vcpu-layout.json'), 'utf8')) as { modes: Record<string, unknown> };
  return Object.keys(layout.modes);
}

export function minihypElf(mode: string, dir = MINIHYP_DIR): string {
  return join(dir, 'build', `minihyp-${mode}.elf`);
}

export interface RunModeOptions {
  dir?: string;
  check?: boolean;
  budget?: number;
  /** Called with the world before the run starts (catches, listeners). */
  prepare?: (w: World, m: Machine) => void;
  /** Observe nothing: the baseline for the bench. */
  bare?: boolean;
  /** The world layer without a layout (accounting only). */
  noLayout?: boolean;
  /** The host's time slice in exits (minihyp_slice_exits): a put after at most this many exits. */
  sliceExits?: number;
}

/** Sets minihyp's time slice in the loaded image (a data word; its MMU is off at reset, VA = PA). */
function setSliceExits(m: Machine, n: number): void {
  const at = m.symbol('minihyp_slice_exits');
  if (at === undefined) throw new Error('this minihyp build has no minihyp_slice_exits: rebuild the fixtures');
  m.cpu.bus.write(Number(at), 8, BigInt(n));
}

/** Runs one mode to its end (semihosting exit) with the world layer attached and the layout bound. */
export function runMode(mode: string, o: RunModeOptions = {}): ModeRun {
  const dir = o.dir ?? MINIHYP_DIR;
  const elf = minihypElf(mode, dir);
  if (!existsSync(elf)) throw new Error(`${elf} is missing: build the fixtures (npm run fixtures)`);
  let uart = '';
  const m = new Machine({
    uartOut: (b) => {
      uart += Buffer.from(b).toString('latin1');
    },
    consoleOut: () => {},
  });
  m.load(parseElf(readFileSync(elf), elf));
  if (o.sliceExits !== undefined) setSliceExits(m, o.sliceExits);
  const world = o.bare
    ? null
    : attachWorld(m, {
        ...(o.noLayout ? {} : { layout: `${join(dir, 'vcpu-layout.json')}#${mode}` }),
        check: o.check ?? false,
      });
  if (world) {
    world.stop = () => {};
    o.prepare?.(world, m);
  }
  let budget = o.budget ?? 400_000_000;
  let stop = 'budget';
  while (budget > 0) {
    const start = m.cpu.icount;
    const r = m.run(Math.min(budget, 1 << 22));
    budget -= m.cpu.icount - start;
    if (r.kind === 'exit') {
      stop = 'exit';
      break;
    }
    if (r.kind === 'unimplemented') {
      stop = `unimplemented: ${r.message}`;
      break;
    }
    if (m.cpu.icount === start) {
      stop = r.kind;
      break;
    }
  }
  return { mode, elf, machine: m, world: world as World, uart, stop, exitCode: m.exitCode };
}

/** The guest's verdict from its transcript: the hypervisor's final PASS/FAIL line. */
export function guestResult(uart: string): 'PASS' | 'FAIL' | '?' {
  const m = /minihyp: (PASS|FAIL)\s*$/m.exec(uart.trimEnd());
  return m ? (m[1] as 'PASS' | 'FAIL') : '?';
}

export interface DemoRow {
  readonly mode: string;
  readonly summary: WorldSummary;
  /**
   * Instructions outside the guest from each exit to the next entry (exit handling, VMM, the puts and
   * loads in between), per closed exit.
   */
  readonly allInPerExit: number;
  /** Exits per put, as this run had them. */
  readonly exitsPerPut: number | null;
  readonly deferred: boolean;
  readonly result: string;
  readonly hazards: number;
}

export function demoRow(r: ModeRun): DemoRow {
  const s = summarise(r.world);
  const result = r.stop === 'exit' ? guestResult(r.uart) : `stopped (${r.stop})`;
  return {
    mode: r.mode,
    summary: s,
    allInPerExit: s.perExit.hostInsns,
    exitsPerPut: s.puts ? s.exits / s.puts : null,
    deferred: (r.world.layout?.flags.length ?? 0) > 0,
    result,
    hazards: r.world.recent.hazards.total,
  };
}

export function demoTable(rows: readonly DemoRow[]): string {
  const head = [
    'mode',
    'exits',
    'EL2 insns/exit',
    'MSR/MRS per exit',
    'insns/HVC round trip',
    'loads/puts',
    'insns per load/put',
    'exits/put',
    'host insns/exit all in',
    'hazards',
    'guest',
  ];
  return table([
    head,
    ...rows.map((r) => [
      r.mode,
      String(r.summary.exits),
      r.summary.perExit.el2Insns.toFixed(1),
      r.summary.perExit.sysregs.toFixed(1),
      r.summary.hvcRoundTrip === null ? '—' : r.summary.hvcRoundTrip.toFixed(1),
      r.deferred ? `${r.summary.loads}/${r.summary.puts}` : '— (none deferred)',
      r.deferred ? `${r.summary.perLoad.hostInsns.toFixed(1)}/${r.summary.perPut.hostInsns.toFixed(1)}` : '—',
      r.exitsPerPut === null ? '—' : r.exitsPerPut.toFixed(1),
      r.allInPerExit.toFixed(1),
      String(r.hazards),
      r.result,
    ]),
  ]);
}

/**
 * Eager against deferred, from two rows of the same run: what deferral saves per exit, what a
 * load/put pair costs, and the exits per put below which deferring costs more than it saves.
 */
export interface Deferral {
  readonly eager: string;
  readonly deferred: string;
  /** Host instructions per exit, all in, of each. */
  readonly eagerPerExit: number;
  readonly deferredPerExit: number;
  /** The deferred mode's per-exit cost without its loads and puts, and the cost of one load plus one put. */
  readonly deferredWithoutLoadPut: number;
  readonly pairCost: number;
  /** Saved per exit by not switching the deferred registers. */
  readonly savedPerExit: number;
  /** pairCost / savedPerExit: fewer exits per put than this and deferral loses. */
  readonly breakEven: number;
  readonly exitsPerPut: number;
}

export function deferral(eager: DemoRow, deferred: DemoRow): Deferral | null {
  const s = deferred.summary;
  if (s.puts === 0 || s.exits === 0 || deferred.exitsPerPut === null) return null;
  const pairCost = s.perLoad.hostInsns + s.perPut.hostInsns;
  // Loads and puts happen inside the exit windows (KVM_RUN returns, the VMM runs, KVM_RUN loads again).
  const amortised = (s.perLoad.hostInsns * s.loads + s.perPut.hostInsns * s.puts) / s.exits;
  const deferredWithoutLoadPut = deferred.allInPerExit - amortised;
  const savedPerExit = eager.allInPerExit - deferredWithoutLoadPut;
  return {
    eager: eager.mode,
    deferred: deferred.mode,
    eagerPerExit: eager.allInPerExit,
    deferredPerExit: deferred.allInPerExit,
    deferredWithoutLoadPut,
    pairCost,
    savedPerExit,
    breakEven: savedPerExit > 0 ? pairCost / savedPerExit : Infinity,
    exitsPerPut: deferred.exitsPerPut,
  };
}

/** The demo's reading of its own table: every number comes from `rows`. */
export function demoReading(rows: readonly DemoRow[]): string {
  const row = (m: string) => rows.find((r) => r.mode === m);
  const out: string[] = [];
  const eager = row('vhe-eager'),
    deferred = row('vhe-deferred');
  const d = eager && deferred ? deferral(eager, deferred) : null;
  if (d) {
    out.push(
      `VHE, ${d.eager} against ${d.deferred} (host instructions per exit, all in: exit handling, VMM, loads and puts):`,
      `  ${d.eager}: ${d.eagerPerExit.toFixed(1)}; ${d.deferred}: ${d.deferredPerExit.toFixed(1)} ` +
        `(${d.deferredWithoutLoadPut.toFixed(1)} without its loads and puts, at ${d.exitsPerPut.toFixed(1)} exits per put)`,
      `  deferring saves ${d.savedPerExit.toFixed(1)} instructions per exit and costs ${d.pairCost.toFixed(1)} per load/put pair:`,
      Number.isFinite(d.breakEven)
        ? `  it stops paying below ${d.breakEven.toFixed(1)} exits per put (this run: ${d.exitsPerPut.toFixed(1)}, so it ${d.exitsPerPut > d.breakEven ? 'pays' : 'does not pay'}).`
        : '  it never pays: it saves nothing per exit.',
    );
  }
  const nvhe = row('nvhe'),
    nvhe32 = row('nvhe-deferred32');
  if (nvhe && nvhe32) {
    const diff = nvhe32.allInPerExit - nvhe.allInPerExit;
    out.push(
      `Non-VHE: the guests are AArch64 (HCR_EL2.RW set), so minihyp, like KVM, switches no 32-bit register;`,
      `  nvhe-deferred32's flag governs nothing and its loads and puts are hyp calls that move nothing:`,
      `  ${nvhe32.allInPerExit.toFixed(1)} host instructions per exit all in against nvhe's ${nvhe.allInPerExit.toFixed(1)} (${diff >= 0 ? '+' : ''}${diff.toFixed(1)}).`,
    );
  }
  return out.join('\n') + (out.length ? '\n' : '');
}

/** Runs every mode (with the checker on) and returns the table's rows. */
export function runDemo(
  o: {
    dir?: string;
    modes?: readonly string[];
    sliceExits?: number;
    progress?: (mode: string) => void;
  } = {},
): DemoRow[] {
  const modes = o.modes ?? minihypModes(o.dir);
  return modes.map((mode) => {
    o.progress?.(mode);
    return demoRow(
      runMode(mode, {
        ...(o.dir ? { dir: o.dir } : {}),
        ...(o.sliceExits !== undefined ? { sliceExits: o.sliceExits } : {}),
        check: true,
      }),
    );
  });
}
