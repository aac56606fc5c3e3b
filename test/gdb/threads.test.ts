// The stub's threads, all-stop and per-thread resume, on a toy target of N threads that only
// the stub's Target interface knows about (no emulator behind it): each thread is a PC
// walking through NOPs. gdb-multiarch is the reference for what `info threads`, `thread N`
// and each `scheduler-locking` setting send; the toy records every resume plan it gets.
import { describe, it, expect, afterEach } from 'vitest';
import { GdbServer } from '../../gdbstub/server.js';
import { RspClient } from '../../gdbstub/client.js';
import { parseCommand } from '../../gdbstub/commands.js';
import {
  SIGNAL,
  type Interrupt,
  type RegisterDescription,
  type ResumePlan,
  type Target,
  type TargetStop,
  type ThreadId,
  type BreakpointType,
} from '../../gdbstub/target.js';
import { gdbBatch } from './harness.js';

const BASE = 0x4000_0000n;
const NOP = Buffer.from([0x1f, 0x20, 0x03, 0xd5]);
const CORE = 'org.gnu.gdb.aarch64.core';
const REGS: RegisterDescription[] = [
  ...Array.from({ length: 31 }, (_, i) => ({ name: `x${i}`, regnum: i, bitsize: 64, type: 'int', feature: CORE })),
  { name: 'sp', regnum: 31, bitsize: 64, type: 'data_ptr', feature: CORE },
  { name: 'pc', regnum: 32, bitsize: 64, type: 'code_ptr', feature: CORE },
  { name: 'cpsr', regnum: 33, bitsize: 32, type: 'int', feature: CORE },
];

/** N threads, each a register file whose PC walks through a page of NOPs, one per "tick". */
class ToyTarget implements Target {
  readonly architecture = 'aarch64';
  readonly features = [{ name: CORE }];
  readonly registers = REGS;
  readonly gRegisterCount = REGS.length;
  readonly expedited = [32];
  readonly plans: string[] = [];
  private readonly regs: bigint[][];
  private readonly bps = new Set<bigint>();
  private busy = false;

  constructor(n: number) {
    // Thread t starts at BASE + 0x100 * t, EL1 (cpsr 0x3c5) with x0 = its id.
    this.regs = Array.from({ length: n }, (_, i) => {
      const r: bigint[] = new Array<bigint>(34).fill(0n);
      r[0] = BigInt(i + 1);
      r[32] = BASE + 0x100n * BigInt(i + 1);
      r[33] = 0x3c5n;
      return r;
    });
  }
  threads(): ThreadId[] {
    return this.regs.map((_, i) => i + 1);
  }
  threadName(t: ThreadId): string {
    return `toy${t}`;
  }
  threadExtraInfo(t: ThreadId): string {
    return `PE${t - 1} EL1 guest vmid ${t + 1}`;
  }
  pc(t: ThreadId): bigint {
    return this.regs[t - 1]![32]!;
  }
  readRegister(t: ThreadId, n: number): bigint | undefined {
    return this.regs[t - 1]![n];
  }
  writeRegister(t: ThreadId, n: number, v: bigint): boolean {
    if (n >= 34) return false;
    this.regs[t - 1]![n] = v;
    return true;
  }
  readMemory(_t: ThreadId, addr: bigint, length: number): Uint8Array {
    if (addr < BASE || addr + BigInt(length) > BASE + 0x10000n) return new Uint8Array(0);
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = NOP[Number((addr + BigInt(i)) & 3n)]!;
    return out;
  }
  writeMemory(): boolean {
    return false;
  }
  get running(): boolean {
    return this.busy;
  }
  reset(): void {}
  readonly breakpoints = {
    types: ['sw', 'hw'] as readonly BreakpointType[],
    insert: (_t: BreakpointType, a: bigint) => (this.bps.add(a), true),
    remove: (_t: BreakpointType, a: bigint) => this.bps.delete(a),
    removeAll: () => this.bps.clear(),
  };

  /** Round-robin ticks: stepping threads finish after one, a breakpoint or the interrupt stops all. */
  async resume(plan: ResumePlan, interrupt: Interrupt): Promise<TargetStop> {
    this.plans.push(
      [...plan]
        .sort(([a], [b]) => a - b)
        .map(([t, a]) => `${t}:${a}`)
        .join(' '),
    );
    this.busy = true;
    try {
      for (let tick = 0; ; tick++) {
        for (const [t, action] of plan) {
          if (interrupt.requested) return { kind: 'stopped', thread: t, signal: SIGNAL.INT };
          this.regs[t - 1]![32]! += 4n;
          if (action === 'step') return { kind: 'stopped', thread: t, signal: SIGNAL.TRAP };
          if (this.bps.has(this.pc(t)))
            return { kind: 'stopped', thread: t, signal: SIGNAL.TRAP, reason: { type: 'swbreak' } };
        }
        if (tick % 64 === 63) await new Promise((r) => setImmediate(r));
      }
    } finally {
      this.busy = false;
    }
  }
}

let server: GdbServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

async function serve(n: number): Promise<{ toy: ToyTarget; port: number }> {
  const toy = new ToyTarget(n);
  server = new GdbServer(toy, { port: 0 });
  const { port } = await server.listen();
  return { toy, port };
}

describe('packet parsing', () => {
  const parse = (s: string) => parseCommand(Buffer.from(s, 'latin1'));
  it('reads thread ids and vCont actions as the protocol writes them', () => {
    expect(parse('Hg2')).toEqual({ kind: 'set-thread', op: 'g', thread: { kind: 'id', id: 2 } });
    expect(parse('Hc-1')).toEqual({ kind: 'set-thread', op: 'c', thread: { kind: 'all' } });
    expect(parse('Hg0')).toEqual({ kind: 'set-thread', op: 'g', thread: { kind: 'any' } });
    expect(parse('Hgp1.a')).toEqual({ kind: 'set-thread', op: 'g', thread: { kind: 'id', id: 10 } });
    expect(parse('vCont;s:2;c')).toEqual({
      kind: 'vcont',
      actions: [{ action: 'step', thread: { kind: 'id', id: 2 } }, { action: 'continue' }],
    });
    expect(parse('vCont;C05:1;t')).toEqual({
      kind: 'vcont',
      actions: [{ action: 'continue', thread: { kind: 'id', id: 1 } }, { action: 'stop' }],
    });
    expect(parse('qThreadExtraInfo,3')).toEqual({ kind: 'thread-extra-info', thread: { kind: 'id', id: 3 } });
    expect(parse('Z0,40000100,4;X7,26000322021327')).toMatchObject({
      kind: 'breakpoint',
      insert: true,
      type: 'sw',
      addr: 0x40000100n,
      conditions: [Uint8Array.from([0x26, 0, 3, 0x22, 2, 0x13, 0x27])],
    });
    expect(parse('qFoo')).toEqual({ kind: 'unsupported' });
    expect(parse('!')).toEqual({ kind: 'unsupported' });
  });
  it('refuses malformed packets with a ProtocolError', () => {
    for (const bad of ['Hx1', 'Hgzz', 'vCont;x', 'vCont;s:1:2', 'Z9,0,4', 'Z0,40,4;X2,00', 'm1', 'P1', 'qRcmd,zz'])
      expect(() => parse(bad), bad).toThrow(/./);
  });
});

describe('threads over RSP', () => {
  it('lists threads, selects one for registers, describes each, names the stopping thread', async () => {
    const { toy, port } = await serve(3);
    const c = await RspClient.connect('127.0.0.1', port);
    expect(await c.threads()).toEqual([1, 2, 3]);
    expect(await c.threadExtraInfo(2)).toBe('PE1 EL1 guest vmid 3');
    await c.selectThread(3);
    expect(await c.readRegister('x0')).toBe(3n);
    expect(await c.request('qC')).toBe('QC3');
    expect(await c.request('T3')).toBe('OK');
    expect(await c.request('T4')).toBe('E16');
    expect(await c.request('Hg4')).toBe('E16');
    // Step thread 2 alone: only its PC moves, and the stop names it.
    const s = await c.vCont('s:2');
    expect(s.thread).toBe(2);
    expect([toy.pc(1), toy.pc(2), toy.pc(3)]).toEqual([BASE + 0x100n, BASE + 0x204n, BASE + 0x300n]);
    // Step thread 1 while the others run: all-stop ends the resume when thread 1's step is done.
    const s2 = await c.vCont('s:1;c');
    expect(s2.thread).toBe(1);
    expect(toy.plans).toEqual(['2:step', '1:step 2:continue 3:continue']);
    // Hg follows the stop, as gdb expects: `g` now reads thread 1.
    expect(await c.readRegister('x0')).toBe(1n);
    // A breakpoint hit by thread 3 is reported on thread 3.
    await c.insertBreakpoint(BASE + 0x340n);
    const s3 = await c.cont();
    expect(s3.thread).toBe(3);
    expect(s3.raw).toMatch(/thread:3;swbreak:;/);
    expect(await c.readXfer('threads', '')).toMatch(
      /<thread id="2" core="1" name="toy2">PE1 EL1 guest vmid 3<\/thread>/,
    );
    c.close();
  });

  it('gdb-multiarch: info threads, thread N, and what each scheduler-locking setting resumes', async () => {
    const { toy, port } = await serve(3);
    const g = await gdbBatch({
      port,
      lines: [
        'info threads',
        'thread 2',
        'p/x $pc',
        'set scheduler-locking on',
        'stepi',
        'set scheduler-locking off',
        'stepi',
        'set scheduler-locking step',
        'stepi',
        'break *0x40000140',
        'continue',
        'set scheduler-locking on',
        'thread 2',
        'break *0x40000280',
        'continue',
        'thread 3',
        'p/x $x0',
        'detach',
      ],
    });
    expect(g.out).toMatch(/^\* 1\s+Thread 1 "toy1" \(PE0 EL1 guest vmid 2\)/m);
    expect(g.out).toMatch(/^\s+3\s+Thread 3 "toy3" \(PE2 EL1 guest vmid 4\)/m);
    expect(g.out).toMatch(/Switching to thread 2 \(Thread 2\)/);
    expect(g.out).toMatch(/\$1 = 0x40000200/);
    expect(g.out).toMatch(/\$2 = 0x3/);
    // on: the selected thread steps alone; off: it steps while the others run; step: stepping
    // locks, continuing does not (thread 1 hits its breakpoint); on: only the selected thread
    // continues. Then detach lets every thread run on.
    expect(toy.plans).toEqual([
      '2:step',
      '1:continue 2:step 3:continue',
      '2:step',
      '1:continue 2:continue 3:continue',
      '2:continue',
      '1:continue 2:continue 3:continue',
    ]);
    expect(g.out).toMatch(/Thread 1 "toy1" hit Breakpoint 1, 0x0000000040000140/);
    expect(g.out).toMatch(/Thread 2 "toy2" hit Breakpoint 2, 0x0000000040000280/);
    expect(g.out).not.toMatch(/Remote failure|Protocol error|internal-error/);
  });
});
