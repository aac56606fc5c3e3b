// The world layer's part of `hypstep run`: --vcpu-layout, --check-residency, --trace world,
// --report. Kept here so the CLI only forwards options.
import { accessSync, constants, existsSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Machine } from '../board/machine.js';
import { attachWorld } from './attach.js';
import { timelineLine } from './format.js';
import { buildReport, recordEntries, reportText } from './report.js';
import type { World, WorldEvent } from './world.js';
import { registerWorldCommands } from './monitor.js';
import type { MonitorRegistry } from '../../gdbstub/monitor.js';
import type { MachineTarget } from '../debug/target.js';
import { LayoutError } from './layout.js';
import { hostErrorText } from '../loader/host-error.js';

/** `--fail-on-hazard`: the run found a residency hazard (README, exit statuses). */
export const HAZARD_EXIT = 6;

export interface WorldRunOptions {
  vcpuLayout?: string;
  /** `--check-residency` (true) or `--check-residency=strict`. */
  checkResidency?: boolean | string;
  failOnHazard?: boolean;
  traceWorld?: boolean;
  report?: string;
}

export interface WorldRun {
  readonly world: World;
  /**
   * Writes the report and says how many hazards were found; call once the run ends with its
   * exit status, which it returns (HAZARD_EXIT instead when asked to fail on a hazard).
   */
  finish(status: number): number;
}

/** A report that cannot be written is a usage error before the run, not a surprise after it. */
function checkReportPath(file: string, usage: (msg: string) => Error): void {
  if (!/\.(json|html?)$/i.test(file)) throw usage(`--report ${file}: the file name must end in .json or .html`);
  try {
    accessSync(existsSync(file) ? file : dirname(resolve(file)), constants.W_OK);
  } catch (e) {
    throw usage(`cannot write report ${file}: ${hostErrorText(e)}`);
  }
}

/**
 * Sets the layer up for `hypstep run`, or returns null when no option asks for it (then the
 * CPU has no observer to call). `usage` makes the CLI's one-line usage error.
 */
export function worldForRun(
  m: Machine,
  imagePath: string,
  o: WorldRunOptions,
  say: (line: string) => void,
  usage: (msg: string) => Error,
): WorldRun | null {
  if (o.checkResidency !== undefined && o.checkResidency !== true && o.checkResidency !== 'strict')
    throw usage(
      `--check-residency=${String(o.checkResidency)}: expected --check-residency or --check-residency=strict`,
    );
  if (o.checkResidency && !o.vcpuLayout)
    throw usage('--check-residency needs --vcpu-layout <file> (where the vcpu context is)');
  if (o.failOnHazard && !o.checkResidency) throw usage('--fail-on-hazard needs --check-residency');
  if (!o.vcpuLayout && !o.checkResidency && !o.traceWorld && !o.report) return null;
  if (o.report) checkReportPath(o.report, usage);
  let world: World;
  try {
    world = attachWorld(m, {
      ...(o.vcpuLayout ? { layout: o.vcpuLayout } : {}),
      imagePath,
      check: o.checkResidency !== undefined,
      strict: o.checkResidency === 'strict',
    });
  } catch (e) {
    if (e instanceof LayoutError) throw usage(e.message);
    throw e;
  }
  // Without a debugger a hazard is reported and the run goes on; the stub replaces this to stop.
  world.stop = () => {};
  // A hazard is printed the first time it is seen; repeats are counted for the summary.
  const firstSight = (e: WorldEvent) => e.type !== 'hazard' || e.hazard.occurrence === 1;
  if (o.traceWorld)
    world.on((e) => {
      if (firstSight(e)) say(timelineLine(e, world.locate));
    });
  else if (o.checkResidency)
    world.on((e) => {
      if (e.type === 'hazard' && firstSight(e)) say(e.hazard.message.replace('[hypstep] ', ''));
    });
  const entries = o.report ? recordEntries(world) : [];
  return {
    world,
    finish(status) {
      if (o.checkResidency) for (const line of hazardSummary(world)) say(line);
      const found = o.failOnHazard && world.hazards.length > 0;
      if (o.report) writeReport();
      return found ? HAZARD_EXIT : status;
    },
  };
  function writeReport(): void {
    if (!o.report) return;
    const r = buildReport(world, { image: imagePath, icount: m.cpu.icount }, entries);
    try {
      writeFileSync(o.report, reportText(r, o.report));
    } catch (e) {
      say(`cannot write report ${o.report}: ${hostErrorText(e)}`);
      return;
    }
    say(`world report written to ${o.report} (${r.exits.length} exits)`);
  }
}

/** The checker's summary: the total, then each distinct hazard once with how often it was seen. */
export function hazardSummary(w: World): string[] {
  const n = w.hazards.length;
  const groups = [...w.hazardGroups.values()];
  const head = `residency checker${w.strict ? ' (strict)' : ''}: ${n} hazard${n === 1 ? '' : 's'}`;
  if (n === 0) return [head];
  return [
    `${head}, ${groups.length} distinct:`,
    ...groups.map((g) => `  ${g.count}× ${g.first.kind} of ${g.first.reg} (${g.first.vcpu}) at ${g.first.where}`),
  ];
}

/**
 * For the gdb stub: puts the world layer on the machine (if `hypstep run` has not already)
 * and registers its monitor commands. Call it right after the server is created.
 */
export function worldForGdb(
  h: { monitor: MonitorRegistry; target: MachineTarget },
  existing: World | null,
  imagePath?: string,
): World {
  const world = existing ?? attachWorld(h.target.machine);
  registerWorldCommands(h.monitor, world, h.target, imagePath);
  return world;
}
