// The world layer over the minihyp fixture, every mode: the decoded exits agree with the
// hypervisor's and the guest's own counters, residency flips at vcpu_load/vcpu_put as each
// mode's design says, and the checker finds each planted bug at its line and nothing else.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MINIHYP_DIR, minihypElf, minihypModes, runMode, guestResult, type ModeRun } from '../../src/world/demo.js';
import type { ExitRecord, World } from '../../src/world/world.js';
import type { Machine } from '../../src/board/machine.js';
import { requireTool } from '../helpers/tools.js';

const LAYOUT = JSON.parse(readFileSync(join(MINIHYP_DIR, 'vcpu-layout.json'), 'utf8')) as {
  modes: Record<
    string,
    { flags: { name: string; governs: string[]; lazy?: string }[]; sysregs?: Record<string, unknown> }
  >;
  sysregs: Record<string, unknown>;
};
const MODES = minihypModes();
const CORRECT = MODES.filter((m) => !m.startsWith('bug-'));
const BUGS = MODES.filter((m) => m.startsWith('bug-'));
/** The modes that switch the guests' FP/SIMD state lazily (their own slots, a flag set on the FP trap). */
const LAZY_FP = MODES.filter((m) => LAYOUT.modes[m]!.flags.some((f) => f.lazy === 'fp'));

/** The source lines of an address, from the ELF's DWARF: one per inlined frame, innermost first. */
function lineOf(elf: string, pc: bigint): string {
  requireTool('aarch64-linux-gnu-addr2line');
  return execFileSync('aarch64-linux-gnu-addr2line', ['-i', '-e', elf, '0x' + pc.toString(16)], {
    encoding: 'utf8',
  }).trim();
}

const runs = new Map<string, ModeRun & { exits: ExitRecord[] }>();
/** A mode's run, with every exit (the world layer keeps only the recent ones). */
function run(mode: string): ModeRun & { exits: ExitRecord[] } {
  let r = runs.get(mode);
  if (!r) {
    const exits: ExitRecord[] = [];
    const prepare = (w: World) => {
      w.on((e) => {
        if (e.type === 'exit') exits.push(e.exit);
      });
    };
    r = { ...runMode(mode, { check: true, prepare }), exits };
    runs.set(mode, r);
  }
  return r;
}

/** The per-vcpu counters minihyp prints at the end. */
function counters(uart: string, vcpu: number) {
  const host = new RegExp(
    `vcpu${vcpu}: (\\d+) exits: hvc (\\d+), mmio (\\d+) \\(\\d+ to the VMM\\), sysreg (\\d+), wfi (\\d+)`,
  ).exec(uart);
  const guest = new RegExp(`vcpu${vcpu}: guest says \\w+; guest counted hvc (\\d+), mmio (\\d+), wfi (\\d+)`).exec(
    uart,
  );
  if (!host || !guest)
    throw new Error(`minihyp's summary for vcpu${vcpu} is missing from the transcript:\n${uart.slice(-2000)}`);
  const [exits, hvc, mmio, sysreg, wfi] = host.slice(1).map(Number) as [number, number, number, number, number];
  const [ghvc, gmmio, gwfi] = guest.slice(1).map(Number) as [number, number, number];
  // The lazy-FP modes' FP traps are handled in the hyp and never reach handle_exit's count.
  const fp = Number(new RegExp(`vcpu${vcpu}: (\\d+) FP/SIMD traps`).exec(uart)?.[1] ?? 0);
  return { exits, hvc, mmio, sysreg, wfi, fp, ghvc, gmmio, gwfi };
}

describe.each(CORRECT)('minihyp %s', (mode) => {
  it('runs to PASS with the residency checker silent', () => {
    const r = run(mode);
    expect(r.stop).toBe('exit');
    expect(guestResult(r.uart)).toBe('PASS');
    expect(r.world.recent.hazards.toArray().map((h) => h.message)).toEqual([]);
  });

  it('decodes the same exits, per vcpu and reason, as the guest and the hypervisor counted', () => {
    const r = run(mode);
    for (const [i, name] of ['vcpu0', 'vcpu1'].entries()) {
      const c = counters(r.uart, i);
      const mine = r.exits.filter((x) => x.vcpu === name);
      const count = (cat: string) => mine.filter((x) => x.reason.category === cat).length;
      expect(c.hvc).toBe(c.ghvc);
      expect(c.mmio).toBe(c.gmmio);
      expect(c.wfi).toBe(c.gwfi);
      expect({
        exits: mine.length,
        hvc: count('hvc'),
        mmio: count('dabort'),
        sysreg: count('sysreg'),
        wfi: count('wfi'),
        fp: count('fp'),
      }).toEqual({ exits: c.exits + c.fp, hvc: c.ghvc, mmio: c.gmmio, sysreg: c.sysreg, wfi: c.gwfi, fp: c.fp });
      expect(c.fp > 0).toBe(LAZY_FP.includes(mode));
    }
    expect(r.exits.every((x) => x.reason.category !== 'other')).toBe(true);
  });
});

/**
 * Stops at each vcpu_load/vcpu_put call and at its return, and records the authority of every
 * register of the vcpu passed in x0 before and after.
 */
function residencyAround(mode: string, fn: 'vcpu_load' | 'vcpu_put', calls = 3) {
  const seen: {
    before: Record<string, string>;
    after: Record<string, string>;
    verdictsAfter: Record<string, string>;
  }[] = [];
  let world!: World;
  let machine!: Machine;
  runMode(mode, {
    budget: 1,
    prepare: (w, m) => {
      world = w;
      machine = m;
    },
  });
  const entry = machine.symbol(fn)!;
  expect(entry, `${fn} symbol`).toBeDefined();
  machine.cpu.debug.breakpoints.add(entry);
  const auth = (vcpuPa: bigint) => {
    const v = world.vcpus.find((x) => x.bound.va === vcpuPa)!;
    const rows = world.residency(v);
    return {
      a: Object.fromEntries(rows.map((r) => [r.reg, r.authority])),
      v: Object.fromEntries(rows.map((r) => [r.reg, r.verdict])),
    };
  };
  for (let budget = 200_000_000; seen.length < calls && budget > 0;) {
    const start = machine.cpu.icount;
    const r = machine.run(Math.min(budget, 1 << 22));
    budget -= machine.cpu.icount - start;
    if (r.kind === 'exit' || r.kind === 'unimplemented')
      throw new Error(`${mode}: ${fn} reached only ${seen.length} times (${r.kind})`);
    if (r.kind !== 'breakpoint' || r.pc !== entry) continue;
    const vcpu = machine.cpu.x[0]!;
    const ret = machine.cpu.x[30]!;
    const before = auth(vcpu).a;
    machine.cpu.debug.breakpoints.delete(entry);
    machine.cpu.debug.breakpoints.add(ret);
    let r2 = machine.run(10_000_000);
    while (r2.kind === 'requested' || r2.kind === 'budget') r2 = machine.run(10_000_000);
    expect(r2).toEqual({ kind: 'breakpoint', pc: ret });
    const after = auth(vcpu);
    seen.push({ before, after: after.a, verdictsAfter: after.v });
    machine.cpu.debug.breakpoints.delete(ret);
    machine.cpu.debug.breakpoints.add(entry);
  }
  return seen;
}

describe.each(MODES.filter((m) => !m.startsWith('bug-')))('residency around vcpu_load/vcpu_put: %s', (mode) => {
  // vcpu_load loads what its eager flags govern; the lazy FP flag is set later, on the guest's first FP use.
  const eager = LAYOUT.modes[mode]!.flags.filter((f) => f.lazy === undefined);
  const governed = new Set(eager.flatMap((f) => f.governs));
  const regs = Object.keys(LAYOUT.sysregs);
  const expectAfterLoad = Object.fromEntries(regs.map((r) => [r, governed.has(r) ? 'cpu' : 'memory']));
  const allMemory = Object.fromEntries(regs.map((r) => [r, 'memory']));

  const lazy = LAYOUT.modes[mode]!.flags.filter((f) => f.lazy !== undefined).flatMap((f) => f.governs);
  const only = (r: Record<string, string>) => Object.fromEntries(regs.map((k) => [k, r[k]]));

  it('vcpu_load makes exactly the registers its flags govern live on the CPU, in sync with the context', () => {
    for (const s of residencyAround(mode, 'vcpu_load')) {
      expect(only(s.before)).toEqual(allMemory);
      expect(only(s.after)).toEqual(expectAfterLoad);
      for (const r of lazy) expect(s.after[r], r).toBe('memory');
      for (const r of governed) expect(s.verdictsAfter[r], r).toBe('in sync');
    }
  });

  it('vcpu_put leaves every register live in the vcpu context', () => {
    for (const s of residencyAround(mode, 'vcpu_put')) {
      expect(only(s.before)).toEqual(expectAfterLoad);
      expect(s.after).toEqual(Object.fromEntries(Object.keys(s.after).map((k) => [k, 'memory'])));
    }
  });

  if (mode === 'nvhe-deferred32') {
    it('has a second flag that governs nothing: the AArch64 guests have no 32-bit registers switched', () => {
      const f = LAYOUT.modes[mode]!.flags;
      expect(f.map((x) => x.name)).toEqual(['SYSREGS32_LOADED']);
      expect([...governed]).toEqual([]);
      expect(Object.keys(LAYOUT.sysregs).filter((r) => r.includes('32'))).toEqual([]);
    });
  }
});

/** The buggy line: the first line after the `BUG (<mode>)` comment in host.c that touches the context slot. */
function bugLine(mode: string): string {
  const lines = readFileSync(join(MINIHYP_DIR, 'hyp', 'host.c'), 'utf8').split('\n');
  const at = lines.findIndex((l) => l.includes(`BUG (${mode})`));
  const n = lines.findIndex((l, i) => i > at && l.includes('__vcpu_sys_reg('));
  if (at < 0 || n < 0) throw new Error(`no BUG (${mode}) block touching __vcpu_sys_reg in host.c`);
  return `host.c:${n + 1}`;
}

/** Where the checker must stop: the slot access on the buggy line (inlined code: any frame), or the entering ERET. */
const BUG_EXPECT: Record<string, { kind: string; line: () => RegExp }> = {
  'bug-stale-read': {
    kind: 'stale-read',
    line: () => new RegExp(`${bugLine('bug-stale-read').replace('.', '\\.')}$`, 'm'),
  },
  'bug-lost-write': {
    kind: 'lost-write',
    line: () => new RegExp(`${bugLine('bug-lost-write').replace('.', '\\.')}$`, 'm'),
  },
  'bug-missing-load': { kind: 'missing-load', line: () => /switch\.S:\d+$/m },
  // The put saves every register but q5 (fpsimd.S), then clears FP_LOADED: the flag store is the report.
  'bug-fp-partial-put': { kind: 'partial-put', line: () => new RegExp(`host\\.c:${fpFlagClearLine()}$`, 'm') },
};

/** The line of host.c whose store clears FP_LOADED in vcpu_put. */
function fpFlagClearLine(): number {
  const lines = readFileSync(join(MINIHYP_DIR, 'hyp', 'host.c'), 'utf8').split('\n');
  const n = lines.findIndex((l) => l.includes('vcpu->flags &= ~VCPU_FP_LOADED'));
  if (n < 0) throw new Error('no FP_LOADED clear in host.c');
  return n + 1;
}

describe.each(BUGS)('minihyp %s', (mode) => {
  it('ends in the FAIL it was built to cause, and the checker names the bug at its instruction first', () => {
    const r = run(mode);
    expect(r.stop).toBe('exit');
    expect(guestResult(r.uart)).toBe('FAIL');
    const want = BUG_EXPECT[mode]!;
    expect(r.world.recent.hazards.total).toBeGreaterThan(0);
    const first = r.world.recent.hazards.toArray()[0]!;
    expect(first.kind).toBe(want.kind);
    expect(lineOf(minihypElf(mode), first.pc)).toMatch(want.line());
    // Every finding is the one bug: the same kind at the same instruction.
    expect(new Set(r.world.recent.hazards.toArray().map((h) => `${h.kind}@${h.pc}`)).size).toBe(1);
  });
});

describe('lazy FP residency', () => {
  it('bug-fp-partial-put: the checker reports the q5 the put left behind, exactly', () => {
    const r = run('bug-fp-partial-put');
    const msgs = r.world.recent.hazards.toArray().map((h) => h.message);
    expect(msgs).toEqual([
      `[hypstep] PE0: residency hazard: partial-put of V5 (vcpu0) at vcpu_put+124 (host.c:${fpFlagClearLine()}): FP_LOADED cleared (a put completes) with V5 not saved: its slot holds 0x0, the CPU 0xbedce452a4b145dd37cc43c828f481ed`,
      `[hypstep] PE0: residency hazard: partial-put of V5 (vcpu1) at vcpu_put+124 (host.c:${fpFlagClearLine()}): FP_LOADED cleared (a put completes) with V5 not saved: its slot holds 0x0, the CPU 0xbedc6452a4b044ddb74c43c928f401ec`,
    ]);
    // The guest sees it too, at its next look, in the transcript QEMU prints as well.
    expect(r.uart).toContain('[vcpu0] FAIL at the start of a round: q5 is 0x00000000000000000000000000000000');
  });

  describe.each(LAZY_FP.filter((m) => !m.startsWith('bug-')))('%s', (mode) => {
    it('shows q5 moving between the CPU and the context: FP trap, load in the hyp, put in vcpu_put', () => {
      // At each FP trap, FP_LOADED load and FP_LOADED put of vcpu0: where q5 (V5) lives and the verdict.
      const seen: string[] = [];
      let world!: World;
      const row = () => world.residency(world.vcpu('vcpu0')!, ['q5'])[0]!;
      runMode(mode, {
        check: true,
        prepare: (w) => {
          world = w;
          w.on((e) => {
            if (seen.length >= 9) return;
            const r = row();
            const at = `${r.authority} ${r.verdict}`;
            if (e.type === 'exit' && e.exit.vcpu === 'vcpu0' && e.exit.reason.category === 'fp')
              seen.push(`trap: ${at}`);
            if ((e.type === 'load' || e.type === 'put') && e.record.vcpu === 'vcpu0' && e.record.flag === 'FP_LOADED')
              seen.push(`${e.type}: ${at}`);
          });
        },
      });
      expect(seen).toEqual([
        // The guest's q5 waits in the context while the host's is on the CPU; the trap loads it.
        'trap: memory memory live, CPU holds another value',
        'load: cpu in sync',
        // vcpu_put saved it (both doublewords) and gave the CPU back to the host.
        'put: memory in sync',
        'trap: memory memory live, CPU holds another value',
        'load: cpu in sync',
        'put: memory in sync',
        'trap: memory memory live, CPU holds another value',
        'load: cpu in sync',
        'put: memory in sync',
      ]);
    });
  });
});
