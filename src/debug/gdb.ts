// Puts a machine under the gdb stub: what `hypstep run -s/-S/--gdb` calls.
import type { Machine } from '../board/machine.js';
import { GdbServer, type RunEnd } from '../../gdbstub/server.js';
import { MonitorRegistry } from '../../gdbstub/monitor.js';
import { MachineTarget } from './target.js';
import { registerMonitorCommands } from './monitor.js';

export interface GdbStartOptions {
  /** Loopback unless the user asks for another interface. */
  host?: string;
  port: number;
  /** `-S`: hold the CPU at reset until a debugger continues it. */
  waitForDebugger: boolean;
  /** One-line notices for the user (attach, detach, refusals). */
  notice?: (line: string) => void;
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
  const monitor = new MonitorRegistry();
  registerMonitorCommands(monitor, target);
  const server = new GdbServer(target, {
    host: opts.host ?? '127.0.0.1', port: opts.port, monitor, ...(opts.notice ? { notice: opts.notice } : {}),
  });
  const addr = await server.listen();
  if (!opts.waitForDebugger) server.runFree();
  return {
    server, target, monitor, host: addr.host, port: addr.port, done: server.done,
    close: () => server.close(),
  };
}
