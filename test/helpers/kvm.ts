// A KVM session on the Linux fixture: hypstep boots Debian's kernel with `--vcpu-layout linux`
// and the residency checker, held at reset under its gdb stub, and the test drives it through
// the RSP client (the stub's protocol, as gdb-multiarch would). One boot costs minutes: a test
// file starts one per configuration and shares it.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { RspClient } from '../../gdbstub/client.js';
import { repoRoot } from './tools.js';
import { LINUX_BOOT, linuxFixture } from './linux.js';

const CLI = join(repoRoot(), 'dist/src/cli/main.js');

/** KVM's mode: VHE (the default on a CPU with FEAT_VHE) or kvm-arm.mode=nvhe. */
export type KvmMode = 'vhe' | 'nvhe';

/** The fixture's boot line for a mode: nVHE adds kvm-arm.mode=nvhe to the command line. */
export function kvmBootArgs(mode: KvmMode): string[] {
  const args = LINUX_BOOT(linuxFixture());
  const append = args.indexOf('-append') + 1;
  if (mode === 'nvhe') args[append] = `${args[append]} kvm-arm.mode=nvhe`;
  return args;
}

export interface KvmSession {
  readonly client: RspClient;
  /** What hypstep printed so far: the guest's console (stdout) and its own lines (stderr). */
  stdout(): string;
  stderr(): string;
  /** Resolves with hypstep's exit status. */
  readonly exited: Promise<number | null>;
  close(): Promise<void>;
}

/** Boots the fixture under the stub, held at reset, with the layout derived from the kernel and the checker on. */
export async function kvmSession(mode: KvmMode, extra: readonly string[] = []): Promise<KvmSession> {
  const proc: ChildProcess = spawn(
    process.execPath,
    [
      CLI,
      'run',
      ...kvmBootArgs(mode),
      '--vcpu-layout',
      mode === 'vhe' ? 'linux' : 'linux#nvhe',
      '--check-residency',
      ...extra,
      '-S',
      '--gdb',
      '127.0.0.1:0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '',
    err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString('latin1')));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hypstep did not listen: ${err}`)), 120_000);
    const look = () => {
      const m = /gdb stub on 127\.0\.0\.1:(\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stderr!.on('data', look);
    void exited.then(() => reject(new Error(`hypstep ended before listening: ${err}`)));
  });
  const client = await RspClient.connect('127.0.0.1', port, { timeoutMs: 120_000 });
  return {
    client,
    stdout: () => out,
    stderr: () => err,
    exited,
    async close() {
      client.close();
      if (proc.exitCode === null) proc.kill('SIGINT');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** A row of `monitor vcpu sysregs --json`. */
export interface ResidencyJson {
  reg: string;
  vcpu: string;
  pe: number;
  cpu: string | null;
  memory: string;
  authority: 'cpu' | 'memory' | 'none';
  governedBy: string | null;
  verdict: string;
}

/** A row of `monitor vcpu list --json`. */
export interface VcpuJson {
  vcpu: string;
  address: string;
  vm: { n: number; at: string } | null;
  id: number | null;
  vmid: number | null;
  loadedOn: number | null;
  running: boolean;
  flags: string[];
}
