// hypstep's CLI as a child process under its gdb stub on a free loopback port, and gdb-multiarch
// in batch mode against it: the shape every end-to-end debugger test shares.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, requireTool } from './tools.js';
import { run, type Ran } from './run.js';

const CLI = join(repoRoot(), 'dist/src/cli/main.js');

export interface StubProcess {
  /** The port the stub printed (`gdb stub on 127.0.0.1:PORT`). */
  readonly port: number;
  /** What hypstep printed so far: the guest's console (stdout) and its own lines (stderr). */
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with hypstep's exit status. */
  readonly exited: Promise<number | null>;
  /** Interrupts hypstep if it still runs (SIGKILL after 10 s) and waits for its end. */
  close(): Promise<void>;
}

/** `hypstep ARGS` (which must hold `--gdb 127.0.0.1:0`), once its stub listens; `listenMs` bounds the wait. */
export async function spawnStub(args: readonly string[], listenMs = 30_000): Promise<StubProcess> {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  const close = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGINT');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`hypstep did not listen: ${err}`)), listenMs);
      proc.stderr.on('data', () => {
        const m = /gdb stub on 127\.0\.0\.1:(\d+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      void exited.then(() => reject(new Error(`hypstep ended before listening: ${err}`)));
    });
    return { port, stdout: () => out, stderr: () => err, exited, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** `gdb-multiarch -batch -nx ARGS` to its end; its stderr (where monitor output goes) joins stdout as on a terminal. */
export function gdbBatch(args: readonly string[], timeoutMs?: number): Promise<Ran> {
  requireTool('gdb-multiarch');
  return run('sh', ['-c', 'exec gdb-multiarch -batch -nx "$@" 2>&1', 'sh', ...args], { cwd: repoRoot(), timeoutMs });
}
