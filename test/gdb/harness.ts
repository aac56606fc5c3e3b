// Shared set-up for the debugger tests: hypstep's stub in-process on a free port, QEMU's
// stub as a child process, and the fixture's symbols.
import { existsSync, readFileSync } from 'node:fs';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Socket } from 'node:net';
import { Machine } from '../../src/board/machine.js';
import { parseElf, type Image } from '../../src/loader/elf.js';
import { startGdbServer, type GdbHandle } from '../../src/debug/gdb.js';
import { RspClient } from '../../gdbstub/client.js';
import { requireTool } from '../helpers/tools.js';
import { QEMU_BOARD } from '../helpers/qemu.js';

export const SESSION_ELF = new URL('../../fixtures/gdb/build/session.elf', import.meta.url).pathname;

let image: Image | null = null;
export function sessionImage(): Image {
  image ??= parseElf(readFileSync(SESSION_ELF), SESSION_ELF);
  return image;
}

export function sym(name: string): bigint {
  const s = sessionImage().symbols.find((x) => x.name === name);
  if (!s) throw new Error(`fixture has no symbol ${name}`);
  return s.value;
}

export interface Hyp {
  handle: GdbHandle;
  machine: Machine;
  port: number;
  notices: string[];
  uart: () => string;
}

/** hypstep with the session fixture loaded, held at reset (-S) unless `run`; `smp` PEs (1). */
export async function startHyp(opts: { run?: boolean; elf?: string; hold?: boolean; smp?: number } = {}): Promise<Hyp> {
  let uart = '';
  const machine = new Machine({
    memory: 64 * 1024 * 1024,
    smp: opts.smp,
    uartOut: (b) => {
      uart += Buffer.from(b).toString('latin1');
    },
  });
  machine.load(opts.elf ? parseElf(readFileSync(opts.elf), opts.elf) : sessionImage());
  const notices: string[] = [];
  const handle = await startGdbServer(machine, {
    port: 0,
    waitForDebugger: !opts.run,
    holdForDebugger: opts.hold ?? false,
    notice: (l) => notices.push(l),
  });
  return { handle, machine, port: handle.port, notices, uart: () => uart };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

export interface Qemu {
  proc: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

/** QEMU's virt board with its own gdbstub, held at reset (-S); `extra` options come last (a later -cpu wins). */
export async function startQemu(elf: string, extra: readonly string[] = []): Promise<Qemu> {
  requireTool('qemu-system-aarch64');
  const port = await freePort();
  const proc = spawn(
    'qemu-system-aarch64',
    [...QEMU_BOARD, '-m', '64M', '-serial', 'null', '-S', '-gdb', `tcp:127.0.0.1:${port}`, '-kernel', elf, ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`qemu exited early (${proc.exitCode}): ${stderr}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`qemu's gdbstub did not listen on ${port}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    proc,
    port,
    stop: async () => {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

// QEMU accepts one connection; probing it above used that up until it noticed the close.
export async function connectQemu(port: number): Promise<RspClient> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return await RspClient.connect('127.0.0.1', port, { timeoutMs: 5000 });
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A raw socket for the robustness tests, collecting everything the stub sends. */
export class RawPeer {
  data = '';
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.data += d.toString('latin1');
    });
    socket.on('close', () => {
      this.closed = true;
    });
    socket.on('error', () => {});
  }
  static open(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new RawPeer(s)));
      s.once('error', reject);
    });
  }
  send(s: string | Buffer): void {
    this.socket.write(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
  }
  /** Waits until the received text matches. */
  async waitFor(re: RegExp, ms = 3000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = this.data.match(re);
      if (m) return m;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${re}; got ${JSON.stringify(this.data.slice(-300))}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  close(): void {
    this.socket.destroy();
  }
}

/** Waits until the stub has noticed that its debugger went away. */
export async function waitDetached(hyp: Hyp, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (hyp.handle.server.attached) {
    if (Date.now() > deadline) throw new Error('the stub still has a debugger attached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Runs `gdb-multiarch -batch -nx` with `lines` (after `set pagination off`, `set confirm off`,
 * the optional file, and `target remote`), killed after `timeoutMs`; resolves with what it printed.
 */
export function gdbBatch(opts: {
  port: number;
  lines: readonly string[];
  file?: string;
  timeoutMs?: number;
}): Promise<{ out: string; stdout: string; stderr: string; code: number | null }> {
  requireTool('gdb-multiarch');
  const args = ['-batch', '-nx', '-ex', 'set pagination off', '-ex', 'set confirm off'];
  if (opts.file) args.push('-ex', `file ${opts.file}`);
  args.push('-ex', `target remote 127.0.0.1:${opts.port}`);
  for (const l of opts.lines) args.push('-ex', l);
  return new Promise((resolve) => {
    const p = spawn('gdb-multiarch', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Both streams in arrival order, and each on its own: their interleaving is up to the scheduler.
    let out = '';
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => ((out += d.toString()), (stdout += d.toString())));
    p.stderr.on('data', (d: Buffer) => ((out += d.toString()), (stderr += d.toString())));
    const timer = setTimeout(() => p.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ out, stdout, stderr, code });
    });
  });
}

export const ROOT = new URL('../../', import.meta.url).pathname;
export const CLI = `${ROOT}dist/src/cli/main.js`;

/** The CLI runs from dist/: build it (tsc emits even when someone else's file has a type error). */
export function buildCli(): void {
  try {
    execFileSync('npx', ['tsc', '-p', '.'], { cwd: ROOT, stdio: 'pipe' });
  } catch {
    /* emitted anyway */
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} was not built`);
}
