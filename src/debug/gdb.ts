// Puts a machine under the gdb stub: what `hypstep run -s/-S/--gdb` calls.
import type { Machine } from '../board/machine.js';
import { GdbServer, untagged, type RunEnd } from '../../gdbstub/server.js';
import { SIGNAL } from '../../gdbstub/target.js';
import { MonitorRegistry } from '../../gdbstub/monitor.js';
import { MachineTarget } from './target.js';
import { registerMonitorCommands } from './monitor.js';
import { registerGicMonitorCommands } from './gic-monitor.js';
import { hostErrorText } from '../loader/host-error.js';

export interface GdbStartOptions {
  /** Loopback unless the user asks for another interface. */
  host?: string;
  port: number;
  /** `-S`: hold the CPU at reset until a debugger continues it. */
  waitForDebugger: boolean;
  /** `--hold-for-debugger`: keep catches and stub breakpoints when a debugger leaves, and wait at them. */
  holdForDebugger?: boolean;
  /** One-line notices for the user (attach, detach, refusals). */
  notice?: (line: string) => void;
  /** Called before the machine starts: other layers add monitor commands, filters, observers. */
  setup?: (h: GdbHandle) => void;
}

export interface GdbHandle {
  readonly server: GdbServer;
  readonly target: MachineTarget;
  readonly monitor: MonitorRegistry;
  readonly host: string;
  readonly port: number;
  /** Resolves when the guest exits (or the emulator cannot continue) and no debugger is attached. */
  readonly done: Promise<RunEnd>;
  close(): Promise<void>;
}

/** Parses `--gdb [host:]port` (also `tcp::1234` as QEMU writes it). */
export function parseGdbAddress(s: string): { host: string; port: number } | undefined {
  const m = /^(?:tcp:)?(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(s.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  const host = m[1] === undefined || m[1] === '' ? '127.0.0.1' : m[1].replace(/^\[|\]$/g, '');
  return { host, port };
}

export async function startGdbServer(machine: Machine, opts: GdbStartOptions): Promise<GdbHandle> {
  const target = new MachineTarget(machine);
  const hold = opts.holdForDebugger ?? false;
  target.holdForDebugger = hold;
  const monitor = new MonitorRegistry();
  registerMonitorCommands(monitor, target);
  registerGicMonitorCommands(monitor, target);
  const server = new GdbServer(target, {
    host: opts.host,
    port: opts.port,
    monitor,
    holdForDebugger: hold,
    ...(opts.notice ? { notice: opts.notice } : {}),
  });
  const addr = await server.listen();
  const h: GdbHandle = {
    server,
    target,
    monitor,
    host: addr.host,
    port: addr.port,
    done: server.done,
    close: () => server.close(),
  };
  opts.setup?.(h);
  if (!opts.waitForDebugger) server.runFree();
  return h;
}

/** The CLI's gdb options: `-s`, `-S`, `--gdb [host:]port`. */
export interface GdbCliOptions {
  s?: boolean;
  S?: boolean;
  gdb?: string;
  holdForDebugger?: boolean;
  /** The image's path, for the attach hint. */
  image?: string;
}

/** hypstep's exit status when the debugger kills the program: QEMU's (it exits 0 on `k`). */
export const KILLED_STATUS = 0;

export type GdbRunEnd =
  | { kind: 'exited'; code: number }
  | { kind: 'aborted'; message: string }
  | { kind: 'interrupted' }
  | { kind: 'killed' }
  /** Stopped with no debugger attached and nothing that could make it go on (every PE asleep). */
  | { kind: 'stuck'; message: string }
  /** A PE that loops on the same exception stopped the run with no debugger attached. */
  | { kind: 'looping'; message: string };

/**
 * `hypstep run` under the stub: listens, then lets the machine run (or holds it with -S)
 * until the guest exits with no debugger attached, or the user interrupts hypstep.
 * `usage` makes the CLI's error for a bad --gdb value.
 */
export async function runUnderGdb(
  machine: Machine,
  o: GdbCliOptions,
  say: (line: string) => void,
  usage: (msg: string) => Error,
  setup?: (h: GdbHandle) => void,
): Promise<GdbRunEnd> {
  const addr = parseGdbAddress(o.gdb ?? '1234'); // -s is --gdb 1234, as in QEMU
  if (!addr) throw usage(`invalid --gdb address '${o.gdb}' (expected [host:]port, e.g. 1234 or 0.0.0.0:1234)`);
  let h: GdbHandle;
  try {
    h = await startGdbServer(machine, {
      ...addr,
      waitForDebugger: o.S === true,
      holdForDebugger: o.holdForDebugger === true,
      notice: say,
      ...(setup ? { setup } : {}),
    });
  } catch (e) {
    throw usage(`cannot listen on ${addr.host}:${addr.port}: ${hostErrorText(e)}`);
  }
  // Listening for Ctrl-C before the hint is printed: a script may interrupt as soon as it reads it.
  const interrupted = new Promise<'interrupted'>((res) => process.once('SIGINT', () => res('interrupted')));
  say(
    `gdb stub on ${h.host}:${h.port}${o.S ? ', CPU held at reset' : ''}: gdb-multiarch -ex 'target remote ${h.host}:${h.port}' ${shellWord(o.image ?? '<image>')}`,
  );
  const end = await Promise.race([h.done, interrupted]);
  await h.close();
  if (end === 'interrupted') return { kind: 'interrupted' };
  if (end.kind === 'killed') return end;
  if (end.kind === 'stopped' && end.signal === SIGNAL.SEGV)
    return { kind: 'looping', message: untagged(end.message ?? 'the PE is stuck') };
  if (end.kind === 'stopped' && end.signal !== SIGNAL.ABRT)
    return { kind: 'stuck', message: untagged(end.message ?? 'the machine stopped') };
  if (end.kind === 'exited') return { kind: 'exited', code: end.code };
  return { kind: 'aborted', message: untagged(end.message ?? 'the emulator stopped') };
}

/** `w` as one word a shell reads back unchanged (the hint is meant to be pasted). */
function shellWord(w: string): string {
  return /^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}
