// The world layer's log of recent exits (records filled in again unless someone holds them), the
// registers of each exit's window, and when a layout waiting for placement is tried again.
import { RAM, guestCpu } from './guest-cpu.js';
import { describe, expect, it } from 'vitest';
import { Cpu } from '../../src/cpu/cpu.js';
import { PhysBus } from '../../src/board/bus.js';
import { SR, specOf } from '../../src/sysregs/registry.js';
import { writeSysreg } from '../../src/sysregs/access.js';
import { World, type ExitRecord, type PeWorld } from '../../src/world/world.js';
import { bindLayout, parseLayout, type BindEnv } from '../../src/world/layout.js';
import { RECENT } from '../../src/world/history.js';

const HVC = 0x5a00_0000;
const ESR_EL2 = specOf('ESR_EL2');
/** Binding with the hypervisor's MMU off and no symbols: addresses are physical. */
const PHYS: BindEnv = { symbol: () => undefined, phys: Number, pointer: () => 0n, peOffset: () => 0n };

function pes(n: number): { cpus: Cpu[]; w: World } {
  const bus = new PhysBus(RAM, 1 << 20);
  const cpus = Array.from({ length: n }, (_, index) => {
    const c = guestCpu(bus, index);
    c.ps.el = 1;
    return c;
  });
  const w = new World(cpus).attach();
  for (const p of w.pes) p.inGuest = true;
  return { cpus, w };
}

/** An exit at `pc` (the HVC), `mrs` MRS ESR_EL2 and `insns` instructions at EL2, then the entry. */
function roundTrip(cpu: Cpu, p: PeWorld, pc: bigint, mrs = 1, insns = 3, enter = true): void {
  cpu.ps.el = 2;
  cpu.sr[SR.ELR_EL2!] = pc + 4n;
  cpu.icount++;
  p.exceptionTaken({ fromEL: 1, toEL: 2, kind: 0, esr: HVC, far: 0n, elr: pc + 4n, vector: 0n });
  for (let i = 0; i < mrs; i++) p.sysregAccessed({ reg: ESR_EL2, write: false, value: BigInt(HVC), pc: 0n });
  cpu.icount += insns;
  if (!enter) return;
  cpu.ps.el = 1;
  cpu.pcs[0] = pc + 4n;
  p.exceptionReturned({ fromEL: 2, toEL: 1, pc: pc + 4n, spsr: 0x3c5 });
  cpu.icount++;
}

describe('the exit log', () => {
  it('keeps the latest exits in order with their costs and registers; a held record and a PE’s last exit keep theirs', () => {
    const { cpus, w } = pes(2);
    const [c0, c1] = cpus as [Cpu, Cpu];
    const [p0, p1] = w.pes as [PeWorld, PeWorld];
    roundTrip(c1, p1, 0x4000_8000n, 2);
    let held: ExitRecord | null = null;
    const off = w.on(
      (e) => {
        if (e.type === 'exit' && e.exit.n === 5) held = e.exit;
      },
      ['exit'],
    );
    const total = 3 * RECENT.exits;
    for (let i = 0; i < total; i++) {
      if (i === 10) off();
      roundTrip(c0, p0, 0x4000_1000n + BigInt(4 * (i % 7)), 1 + (i % 3));
    }
    const log = w.recent.exits.toArray();
    expect(log).toHaveLength(RECENT.exits);
    expect(log.map((x) => x.n)).toEqual(Array.from({ length: RECENT.exits }, (_, k) => total + 2 - RECENT.exits + k));
    for (const x of log) {
      const i = x.n - 2;
      expect([x.pe, x.pc, x.closed, x.el2Insns, x.hostInsns, x.sysregTotal, x.sysregs, x.reason.text]).toEqual([
        0,
        0x4000_1000n + BigInt(4 * (i % 7)),
        true,
        3,
        3,
        1 + (i % 3),
        { ESR_EL2: 1 + (i % 3) },
        'HVC #0x0',
      ]);
    }
    // Exit 5 went to a listener: its record was not filled in again for a later exit.
    const h = held as ExitRecord | null;
    expect([h?.n, h?.pc, h?.sysregTotal, h?.closed]).toEqual([5, 0x4000_1000n + 12n, 1 + (3 % 3), true]);
    // PE1's only exit left the log long ago; it is still PE1's last exit.
    expect([p1.lastExit?.n, p1.lastExit?.pc, p1.lastExit?.sysregs, p1.lastExit?.closed]).toEqual([
      1,
      0x4000_8000n,
      { ESR_EL2: 2 },
      true,
    ]);
    expect(w.lastExit?.n).toBe(total + 1);
    const sums = w.sums;
    expect([sums.exits.count, sums.exits.closed, sums.byReason.get('hvc')?.sysregs]).toEqual([
      total + 1,
      total + 1,
      2 + total + (total / 3) * 3,
    ]);
    expect(sums.sysregsClosed.entries()).toEqual([['ESR_EL2', 2 + total + (total / 3) * 3]]);
  });

  it('shows an open window’s registers so far, and keeps them without costs when the PE resets', () => {
    const { cpus, w } = pes(1);
    const [c0] = cpus as [Cpu];
    const p = w.pes[0]!;
    roundTrip(c0, p, 0x4000_1000n, 2, 3, false);
    expect([p.lastExit?.closed, p.lastExit?.sysregs, p.openWindow()?.sysregTotal]).toEqual([false, { ESR_EL2: 2 }, 2]);
    expect(w.sums.exits.count).toBe(1);
    expect(w.sums.sysregsClosed.entries()).toEqual([]);
    c0.icount = 0; // a reset
    p.advance();
    expect([p.lastExit?.closed, p.lastExit?.el2Insns, p.lastExit?.sysregs]).toEqual([true, 0, { ESR_EL2: 2 }]);
    expect([w.sums.exits.count, w.sums.exits.closed]).toEqual([1, 0]);
  });
});

describe('a layout waiting for placement', () => {
  it('is tried again at an exit only once a translation register of the EL2 regime changed', () => {
    const { cpus, w } = pes(1);
    const [c0] = cpus as [Cpu];
    const p = w.pes[0]!;
    const layout = parseLayout(
      JSON.stringify({
        format: 'hypstep-vcpu-layout',
        version: 1,
        vcpus: [{ name: 'v0', symbol: 'vcpu' }],
        sysregs: { TPIDR_EL1: { offset: 0 } },
      }),
    );
    let tries = 0;
    w.bind(layout, [], () => {
      tries++;
      return null;
    });
    const trip = () => roundTrip(c0, p, 0x4000_1000n);
    trip();
    trip();
    expect(tries).toBe(1);
    // Another regime's register: the EL2 regime is the same, so placing it again would fail again.
    writeSysreg(c0, specOf('TTBR0_EL1'), 0x4008_0000n);
    trip();
    expect(tries).toBe(1);
    // The hypervisor's (or a debugger's) write to its own table base.
    writeSysreg(c0, specOf('TTBR0_EL2'), 0x4009_0000n);
    trip();
    trip();
    expect(tries).toBe(2);
    writeSysreg(c0, specOf('SCTLR_EL2'), 1n);
    trip();
    expect(tries).toBe(3);
  });
});

describe('entries', () => {
  it('an entry on one PE of a vcpu another PE ran since is never taken for a repeat of its last', () => {
    const { cpus, w } = pes(2);
    const [c0, c1] = cpus as [Cpu, Cpu];
    const [p0, p1] = w.pes as [PeWorld, PeWorld];
    w.checking = true;
    w.stop = () => {};
    const layout = parseLayout(
      JSON.stringify({
        format: 'hypstep-vcpu-layout',
        version: 1,
        vcpus: [{ name: 'v0', address: '0x40010000', vmid: 3 }],
        sysregs: { TPIDR_EL1: { offset: 0 } },
        flags: { LOADED: { offset: 8, bit: 0, governs: ['TPIDR_EL1'] } },
      }),
    );
    w.bind(layout, bindLayout(layout, PHYS));
    c0.ps.el = 2;
    c0.write(0x4001_0008n, 8, 1n, 0); // loaded, from EL2 (no stage 2 there)
    c0.ps.el = 1;
    const home = () => w.residency(w.vcpu('v0')!)[0]!.pe;
    roundTrip(c0, p0, 0x4000_1000n);
    roundTrip(c0, p0, 0x4000_1000n);
    expect(home()).toBe(0);
    roundTrip(c1, p1, 0x4000_1000n);
    expect(home()).toBe(1);
    roundTrip(c0, p0, 0x4000_1000n);
    expect(home()).toBe(0);
    expect(w.recent.hazards.total).toBe(0);
  });
});
