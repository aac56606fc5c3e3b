// The world layer's part of `hypstep run`: --vcpu-layout, --check-residency, --trace world,
// --report. Kept here so the CLI only forwards options.
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Machine } from '../board/machine.js';
import { attachWorld } from './attach.js';
import { timelineLine } from './format.js';
import { ReportStream, type ReportEnd } from './report.js';
import {
  checkTraceVcpus,
  parseWorldTrace,
  traceMatches,
  TraceFilterError,
  type WorldTraceFilter,
} from './trace-filter.js';
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
  /** The `--trace world…` option's text after `world` ('' for every event), when given. */
  traceWorld?: string;
  report?: string;
}

export interface WorldRun {
  readonly world: World;
  /** Why the run must stop (the report could not be written), once that happens. */
  readonly failure: string | null;
  /**
   * Finishes the report and says how many hazards were found; call once the run ends with its
   * exit status, which it returns (HAZARD_EXIT instead when asked to fail on a hazard).
   */
  finish(status: number, end: ReportEnd): number;
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
  if (!o.vcpuLayout && !o.checkResidency && o.traceWorld === undefined && !o.report) return null;
  if (o.report) checkReportPath(o.report, usage);
  let world: World;
  let trace: WorldTraceFilter | null = null;
  try {
    if (o.traceWorld !== undefined) trace = parseWorldTrace(o.traceWorld);
    world = attachWorld(m, {
      ...(o.vcpuLayout ? { layout: o.vcpuLayout } : {}),
      imagePath,
      check: o.checkResidency !== undefined,
      strict: o.checkResidency === 'strict',
    });
    if (trace) checkTraceVcpus(trace, world);
  } catch (e) {
    if (e instanceof LayoutError || e instanceof TraceFilterError) throw usage(e.message);
    throw e;
  }
  // Without a debugger a hazard is reported and the run goes on; the stub replaces this to stop.
  world.stop = () => {};
  const w = world;
  // The timeline prints what its filter keeps; the checker's hazards are printed either way. A
  // hazard is printed the first time it is seen; repeats are counted for the summary.
  const firstSight = (e: WorldEvent) => e.type !== 'hazard' || e.hazard.occurrence === 1;
  const f = trace;
  if (f !== null || o.checkResidency)
    w.on(
      (e) => {
        if (!firstSight(e)) return;
        if (f !== null && traceMatches(f, w, e)) say(timelineLine(e, w.locate));
        else if (e.type === 'hazard' && o.checkResidency) say(e.hazard.message.replace('[hypstep] ', ''));
      },
      f !== null ? undefined : ['hazard'],
    );
  let failure: string | null = null;
  const report = o.report
    ? new ReportStream(o.report, w, imagePath, (why) => {
        failure = `cannot write report ${o.report}: ${why}`;
        m.current.requestStop({ kind: 'requested', why: failure });
      })
    : null;
  return {
    world: w,
    get failure() {
      return failure;
    },
    finish(status, end) {
      if (o.checkResidency) for (const line of hazardSummary(w)) say(line);
      const found = o.failOnHazard && w.recent.hazards.total > 0;
      if (report) {
        const told = failure !== null; // the run stopped for it, and said so
        if (report.finish(end)) say(`world report written to ${report.file} (${report.exits} exits)`);
        else if (!told) say(`world report ${report.file} is incomplete: ${report.error} after ${report.exits} exits`);
      }
      return found ? HAZARD_EXIT : status;
    },
  };
}

/** The checker's summary: the total, then each distinct hazard once with how often it was seen. */
export function hazardSummary(w: World): string[] {
  const n = w.recent.hazards.total;
  const groups = [...w.hazardGroups.values()];
  const head = `residency checker${w.strict ? ' (strict)' : ''}: ${n} hazard${n === 1 ? '' : 's'}`;
  if (n === 0) return [head];
  return [
    `${head}, ${groups.length} distinct:`,
    ...groups.map(
      (g) =>
        `  ${g.count}× ${g.first.kind} of ${g.first.reg} (${g.first.vcpu}) at ${g.first.where}${w.pes.length > 1 ? `, first on PE${g.first.pe}` : ''}`,
    ),
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
