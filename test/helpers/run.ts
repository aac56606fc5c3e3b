// Runs a command to its end without blocking the test worker: a long spawnSync stalls the worker's
// messages to vitest ("Timeout calling onTaskUpdate") on a loaded machine.
import { spawn } from 'node:child_process';

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  timeoutMs?: number;
  /**
   * Written to the command's stdin, which then stays open until it exits: QEMU's stdio serial
   * drops characters it has not yet handed to the guest when it reads the end of its input
   * (under load, the last ones of an echo test's input were lost and QEMU waited for ever).
   */
  input?: string;
}

export function run(cmd: string, args: string[], o: RunOptions = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: o.cwd, stdio: 'pipe' });
    // A child that exits before reading all its input fails on its output, not on our EPIPE.
    p.stdin.on('error', () => undefined);
    if (o.input !== undefined) p.stdin.write(o.input);
    else p.stdin.end();
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${cmd} ${args.join(' ')}: no exit within ${o.timeoutMs} ms\n${stderr}`));
    }, o.timeoutMs ?? 300_000);
    p.on('error', reject);
    p.on('close', (status) => {
      clearTimeout(timer);
      p.stdin.destroy();
      resolve({ status, stdout, stderr });
    });
  });
}

/** `run`, requiring status 0. */
export async function runOk(cmd: string, args: string[], o: RunOptions = {}): Promise<Ran> {
  const r = await run(cmd, args, o);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: status ${r.status}\n${r.stderr}`);
  return r;
}
