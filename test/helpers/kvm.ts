// A KVM session on the Linux fixture: hypstep boots Debian's kernel with `--vcpu-layout linux`
// and the residency checker, held at reset under its gdb stub, and the test drives it through
// the RSP client (the stub's protocol, as gdb-multiarch would). One boot costs minutes: a test
// file starts one per configuration and shares it.
import { RspClient } from '../../gdbstub/client.js';
import { LINUX_BOOT, linuxFixture } from './linux.js';
import { spawnStub, type StubProcess } from './stub.js';

/** KVM's mode: VHE (the default on a CPU with FEAT_VHE) or kvm-arm.mode=nvhe. */
export type KvmMode = 'vhe' | 'nvhe';

/** The fixture's boot line for a mode: nVHE adds kvm-arm.mode=nvhe to the command line. */
export function kvmBootArgs(mode: KvmMode): string[] {
  const args = LINUX_BOOT(linuxFixture());
  const append = args.indexOf('-append') + 1;
  if (mode === 'nvhe') args[append] = `${args[append]} kvm-arm.mode=nvhe`;
  return args;
}

export interface KvmSession extends Omit<StubProcess, 'port'> {
  readonly client: RspClient;
}

/** Boots the fixture under the stub, held at reset, with the layout derived from the kernel and the checker on. */
export async function kvmSession(mode: KvmMode, extra: readonly string[] = []): Promise<KvmSession> {
  const layout = mode === 'vhe' ? 'linux' : 'linux#nvhe';
  const args = [
    'run',
    ...kvmBootArgs(mode),
    '--vcpu-layout',
    layout,
    '--check-residency',
    ...extra,
    '-S',
    '--gdb',
    '127.0.0.1:0',
  ];
  const stub = await spawnStub(args, 120_000);
  const client = await RspClient.connect('127.0.0.1', stub.port, { timeoutMs: 120_000 });
  return {
    client,
    stdout: stub.stdout,
    stderr: stub.stderr,
    exited: stub.exited,
    async close() {
      client.close();
      await stub.close();
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
