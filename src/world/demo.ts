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
    deferred: (r.world.layout?.flags.length ?? 0) > 0,
    result,
    hazards: r.world.hazards.length,
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
      String(r.hazards),
      r.result,
    ]),
  ]);
}

/** Runs every mode (with the checker on) and returns the table's rows. */
export function runDemo(
  o: { dir?: string; modes?: readonly string[]; progress?: (mode: string) => void } = {},
): DemoRow[] {
  const modes = o.modes ?? minihypModes(o.dir);
  return modes.map((mode) => {
    o.progress?.(mode);
    return demoRow(runMode(mode, { ...(o.dir ? { dir: o.dir } : {}), check: true }));
  });
}
