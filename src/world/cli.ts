// The world layer's part of `hypstep run`: --vcpu-layout, --check-residency, --trace world,
// --report. Kept here so the CLI only forwards options.
import { accessSync, constants, existsSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Machine } from '../board/machine.js';
import { attachWorld } from './attach.js';
import { timelineLine } from './format.js';
import { buildReport, recordEntries, reportText } from './report.js';
import type { World } from './world.js';
import { registerWorldCommands } from './monitor.js';
import type { MonitorRegistry } from '../../gdbstub/monitor.js';
import type { MachineTarget } from '../debug/target.js';
import { LayoutError } from './layout.js';

export interface WorldRunOptions {
  vcpuLayout?: string;
  checkResidency?: boolean;
  traceWorld?: boolean;
  report?: string;
}

export interface WorldRun {
  readonly world: World;
  /** Writes the report, and says how many hazards were found; call once the run ends. */
  finish(): void;
}

/** A report that cannot be written is a usage error before the run, not a surprise after it. */
function checkReportPath(file: string, usage: (msg: string) => Error): void {
  if (!/\.(json|html?)$/i.test(file)) throw usage(`--report ${file}: the file name must end in .json or .html`);
  try {
    accessSync(existsSync(file) ? file : dirname(resolve(file)), constants.W_OK);
  } catch (e) {
    throw usage(`cannot write report ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
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
  if (o.checkResidency && !o.vcpuLayout)
    throw usage('--check-residency needs --vcpu-layout <file> (where the vcpu context is)');
  if (!o.vcpuLayout && !o.checkResidency && !o.traceWorld && !o.report) return null;
  if (o.report) checkReportPath(o.report, usage);
  let world: World;
  try {
    world = attachWorld(m, {
      ...(o.vcpuLayout ? { layout: o.vcpuLayout } : {}),
      imagePath,
      check: o.checkResidency ?? false,
    });
  } catch (e) {
    if (e instanceof LayoutError) throw usage(e.message);
    throw e;
  }
  // Without a debugger a hazard is reported and the run goes on; the stub replaces this to stop.
  world.stop = () => {};
  if (o.traceWorld) world.on((e) => say(timelineLine(e)));
  else if (o.checkResidency)
    world.on((e) => {
      if (e.type === 'hazard') say(e.hazard.message.replace('[hypstep] ', ''));
    });
  const entries = o.report ? recordEntries(world) : [];
  return {
    world,
    finish() {
      if (o.checkResidency)
        say(`residency checker: ${world.hazards.length} hazard${world.hazards.length === 1 ? '' : 's'}`);
      if (!o.report) return;
      const r = buildReport(world, { image: imagePath, icount: m.cpu.icount }, entries);
      try {
        writeFileSync(o.report, reportText(r, o.report));
      } catch (e) {
        say(`cannot write report ${o.report}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
        return;
      }
      say(`world report written to ${o.report} (${r.exits.length} exits)`);
    },
  };
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
