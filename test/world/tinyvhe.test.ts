// The residency checker on tinyvhe, a small VHE hypervisor that is not minihyp
// (fixtures/tinyvhe): each bug build is caught as its kind at the line marked `HAZARD <kind>`
// in the source (checked against addr2line too), the correct builds report nothing,
// --fail-on-hazard gives status 6, and every build prints on hypstep what it prints on QEMU.
// The KVM-shaped builds find their vcpus at run time from kvm_arch_vcpu_load's argument.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runQemu } from '../helpers/qemu.js';
import { requireTool, repoRoot } from '../helpers/tools.js';

const ROOT = repoRoot();
const CLI = join(ROOT, 'dist/src/cli/main.js');
const DIR = join(ROOT, 'fixtures/tinyvhe');
const LAYOUT = join(DIR, 'layout.json');
const KVM_LAYOUT = join(DIR, 'kvm-layout.json');
const elf = (v: string) => join(DIR, 'build', `tinyvhe-${v}.elf`);
const SOURCE = readFileSync(join(DIR, 'tinyvhe.S'), 'utf8').split('\n');

function hypstep(args: string[]) {
  // The UART's bytes as QEMU's runner reads them (latin1); hypstep's messages are UTF-8.
  const r = spawnSync('node', [CLI, ...args], { timeout: 60_000 });
  return { status: r.status, stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString('utf8') };
}

/** The source line marked `HAZARD <kind>`. */
function markedLine(kind: string): number {
  const i = SOURCE.findIndex((l) => l.includes(`HAZARD ${kind} `) || l.endsWith(`HAZARD ${kind} */`));
  if (i < 0) throw new Error(`no HAZARD ${kind} marker in tinyvhe.S`);
  return i + 1;
}

function addr2line(file: string, symbolPlusOffset: string): string {
  requireTool('aarch64-linux-gnu-nm');
  requireTool('aarch64-linux-gnu-addr2line');
  const [sym, off = '0'] = symbolPlusOffset.split('+');
  const nm = execFileSync('aarch64-linux-gnu-nm', [file], { encoding: 'utf8' });
  const line = nm.split('\n').find((l) => l.endsWith(` ${sym}`));
  if (!line) throw new Error(`no symbol ${sym} in ${file}`);
  const pc = BigInt('0x' + line.split(' ')[0]) + BigInt(off);
  return execFileSync('aarch64-linux-gnu-addr2line', ['-e', file, '0x' + pc.toString(16)], { encoding: 'utf8' })
    .trim()
    .replace(/^.*\//, '');
}

const BUGS = ['stale-read', 'lost-write', 'missing-load', 'partial-load', 'partial-put', 'strict-access'] as const;

describe('the tinyvhe fixture', () => {
  it('rebuilds byte for byte from a copy of the sources at another absolute path', () => {
    requireTool('make');
    requireTool('aarch64-linux-gnu-gcc');
    const tmp = mkdtempSync(join(tmpdir(), 'tinyvhe-repro-'));
    try {
      const fixtures = join(tmp, 'some', 'other', 'fixtures');
      for (const f of ['common.mk', 'include', 'tinyvhe'])
        cpSync(join(ROOT, 'fixtures', f), join(fixtures, f), {
          recursive: true,
          filter: (src) => !src.includes('/build'),
        });
      execFileSync('make', ['-C', join(fixtures, 'tinyvhe')], { stdio: 'pipe' });
      const built = readdirSync(join(DIR, 'build')).sort();
      expect(readdirSync(join(fixtures, 'tinyvhe', 'build')).sort()).toEqual(built);
      const differ = built.filter(
        (f) => !readFileSync(join(DIR, 'build', f)).equals(readFileSync(join(fixtures, 'tinyvhe', 'build', f))),
      );
      expect(differ, `committed ELFs differ from what the sources build (run 'npm run fixtures')`).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('tinyvhe on QEMU and on hypstep', () => {
  it.each(['correct', ...BUGS, 'kvm', 'kvm-stale-read'])('%s prints the same transcript and exits alike', (v) => {
    const q = runQemu(elf(v));
    const h = hypstep(['run', elf(v)]);
    expect(h.stdout).toBe(q.stdout);
    expect(h.status).toBe(q.status);
    // The guest's own verdict: the bug builds fail except the strict-mode one, whose values agree.
    const pass = v === 'correct' || v === 'kvm' || v === 'strict-access';
    expect(q.stdout).toMatch(pass ? /: PASS\n$/ : /: FAIL\n$/);
  });
});

describe('tinyvhe under the residency checker', () => {
  it.each(BUGS)('%s is reported at its marked line, and --fail-on-hazard exits 6', (kind) => {
    const strict = kind === 'strict-access';
    const r = hypstep([
      'run',
      '--vcpu-layout',
      LAYOUT,
      strict ? '--check-residency=strict' : '--check-residency',
      '--fail-on-hazard',
      elf(kind),
    ]);
    const line = markedLine(kind);
    const m = new RegExp(
      `^hypstep: PE0: residency hazard: ${kind} of (\\w+) \\(vcpu0\\) at ([\\w+]+) \\(tinyvhe\\.S:(\\d+)\\)`,
      'm',
    ).exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(Number(m![3])).toBe(line);
    expect(addr2line(elf(kind), m![2]!)).toBe(`tinyvhe.S:${line}`);
    // Every finding is that one bug; the summary comes before the status.
    expect(r.stderr).toMatch(
      new RegExp(
        `residency checker${strict ? ' \\(strict\\)' : ''}: \\d+ hazards?, 1 distinct:\\nhypstep:   \\d+× ${kind} of `,
      ),
    );
    expect(r.status).toBe(6);
  });

  it('reports nothing on the correct build, strict or not, and exits 0', () => {
    for (const mode of ['--check-residency', '--check-residency=strict']) {
      const r = hypstep(['run', '--vcpu-layout', LAYOUT, mode, '--fail-on-hazard', elf('correct')]);
      expect(r.stderr).toMatch(/residency checker( \(strict\))?: 0 hazards\n$/);
      expect(r.status).toBe(0);
    }
  });

  it('a strict-mode access is not a hazard without strict mode (the values agree)', () => {
    const r = hypstep(['run', '--vcpu-layout', LAYOUT, '--check-residency', '--fail-on-hazard', elf('strict-access')]);
    expect(r.stderr).toContain('residency checker: 0 hazards');
    expect(r.status).toBe(0);
  });

  it('without --fail-on-hazard the guest decides the status', () => {
    const r = hypstep(['run', '--vcpu-layout', LAYOUT, '--check-residency', elf('stale-read')]);
    expect(r.status).toBe(1);
    const ok = hypstep(['run', '--vcpu-layout', LAYOUT, '--check-residency=strict', elf('strict-access')]);
    expect(ok.status).toBe(0);
    expect(ok.stderr).toContain('residency checker (strict): 1 hazard, 1 distinct');
  });
});

// The same builds under two layouts: the loaded flag in the vcpu, or per CPU (kvm_host_data plus
// TPIDR_EL2); the registers in sys_regs[] behind the vcpu's context pointer in both.
describe.each([
  ['a vcpu flag', KVM_LAYOUT, 'SYSREGS_ON_CPU'],
  ['a per-CPU flag', join(DIR, 'kvm-percpu-layout.json'), 'HOST_GUEST_LOADED'],
])('the KVM-shaped tinyvhe with %s', (_what, KVM_LAYOUT, flag) => {
  it('discovers both vcpus at run time from kvm_arch_vcpu_load, each with its own residency; silent when correct', () => {
    const r = hypstep(['run', '--vcpu-layout', KVM_LAYOUT, '--check-residency=strict', '--trace', 'world', elf('kvm')]);
    expect(r.status).toBe(0);
    const loads = [...r.stderr.matchAll(new RegExp(`\\] PE0: (load|put) (vcpu\\d) \\(${flag}`, 'g'))].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    expect(loads).toEqual([
      'load vcpu0',
      'put vcpu0',
      'load vcpu0',
      'put vcpu0',
      'load vcpu1',
      'put vcpu1',
      'load vcpu1',
      'put vcpu1',
    ]);
    expect(r.stderr).toMatch(/exit #1 vmid 1 vcpu0: HVC #0x1/);
    expect(r.stderr).toMatch(/exit #5 vmid 1 vcpu1: HVC #0x1/);
    expect(r.stderr).toContain('residency checker (strict): 0 hazards');
  });

  it('catches the stale read in each discovered vcpu at its line', () => {
    const r = hypstep([
      'run',
      '--vcpu-layout',
      KVM_LAYOUT,
      '--check-residency',
      '--fail-on-hazard',
      elf('kvm-stale-read'),
    ]);
    const line = markedLine('stale-read');
    expect(r.stderr).toContain(`2 hazards, 2 distinct:`);
    for (const v of ['vcpu0', 'vcpu1'])
      expect(r.stderr).toMatch(
        new RegExp(`1× stale-read of TPIDR_EL1 \\(${v}\\) at read_tpidr\\+4 \\(tinyvhe\\.S:${line}\\)`),
      );
    expect(r.status).toBe(6);
  });
});

describe('monitor world stats figures on a run whose counts are known by construction', () => {
  // tinyvhe's guest makes four HVCs (the fourth ends the run without re-entry); the host loads
  // twice (at start and at the yield) and puts twice. vcpu_load runs 12 instructions and 4 MSRs
  // before its flag store, vcpu_put 11 instructions and 4 MRSs (counted from the disassembly).
  it('counts, means and spans agree with the source and with each other', () => {
    requireTool('aarch64-linux-gnu-objdump');
    const dis = execFileSync('aarch64-linux-gnu-objdump', ['-d', elf('correct')], { encoding: 'utf8' });
    const fn = (name: string) => {
      const body = dis.split(`<${name}>:\n`)[1]!.split('\n\n')[0]!.split('\n');
      const upTo = body.findIndex((l) => /\tstr\t.*, #296\]/.test(l)); // the flag store (V_FLAGS)
      return { insns: upTo, sysregs: body.slice(0, upTo).filter((l) => /\t(msr|mrs)\t/.test(l)).length };
    };
    const load = fn('vcpu_load'),
      put = fn('vcpu_put');
    expect([load, put]).toEqual([
      { insns: 12, sysregs: 4 },
      { insns: 11, sysregs: 4 },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'tinyvhe-stats-'));
    const report = join(dir, 'r.json');
    const r = hypstep(['run', '--vcpu-layout', LAYOUT, '--trace', 'world', '--report', report, elf('correct')]);
    expect(r.status).toBe(0);
    const s = (JSON.parse(readFileSync(report, 'utf8')) as { summary: Record<string, unknown> }).summary as {
      exits: number;
      entries: number;
      perExit: { count: number; closed: number; el2Insns: number };
      byReason: Record<string, { count: number; closed: number }>;
      loads: number;
      puts: number;
      perLoad: { hostInsns: number; el2Insns: number; sysregs: number };
      perPut: { hostInsns: number; el2Insns: number; sysregs: number };
    };
    expect([s.exits, s.entries, s.loads, s.puts]).toEqual([4, 4, 2, 2]);
    expect(s.perExit).toMatchObject({ count: 4, closed: 3 });
    expect(Object.keys(s.byReason)).toEqual(['hvc']);
    expect(s.byReason.hvc).toMatchObject({ count: 4, closed: 3 });
    expect([s.perLoad.hostInsns, s.perLoad.el2Insns, s.perLoad.sysregs]).toEqual([
      load.insns,
      load.insns,
      load.sysregs,
    ]);
    expect([s.perPut.hostInsns, s.perPut.el2Insns, s.perPut.sysregs]).toEqual([put.insns, put.insns, put.sysregs]);
    // The per-exit mean is the mean of the costs the timeline printed at each re-entry.
    const after = [...r.stderr.matchAll(/after (\d+) EL2 insns/g)].map((m) => Number(m[1]));
    expect(after.length).toBe(3);
    expect(s.perExit.el2Insns).toBeCloseTo(after.reduce((a, b) => a + b, 0) / 3, 9);
  });
});

describe('layouts the image does not match, and layout mistakes, from the command line', () => {
  const MINIHYP = join(ROOT, 'fixtures/minihyp');
  it('refuses a minihyp mode that is not the image, by file name or by its minihyp_mode string', () => {
    const byName = hypstep([
      'run',
      '--vcpu-layout',
      join(MINIHYP, 'vcpu-layout.json#nvhe'),
      '--check-residency',
      join(MINIHYP, 'build/minihyp-vhe-deferred.elf'),
    ]);
    expect([byName.status, byName.stderr]).toEqual([
      2,
      'hypstep: layout mode nvhe does not describe minihyp-vhe-deferred.elf: that image is mode vhe-deferred (use #vhe-deferred)\n',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'tinyvhe-mode-'));
    const copy = join(dir, 'my-hyp.elf');
    copyFileSync(join(MINIHYP, 'build/minihyp-vhe-deferred.elf'), copy);
    const byString = hypstep(['run', '--vcpu-layout', join(MINIHYP, 'vcpu-layout.json#nvhe'), copy]);
    expect([byString.status, byString.stderr]).toEqual([
      2,
      'hypstep: layout mode nvhe does not describe this image: its minihyp_mode is "vhe-deferred", not "nvhe"\n',
    ]);
  });

  it('names the key, register or vcpu of each mistake in one line, status 2', () => {
    const base = JSON.parse(readFileSync(LAYOUT, 'utf8')) as Record<string, unknown>;
    const dir = mkdtempSync(join(tmpdir(), 'tinyvhe-layouts-'));
    const cases: [Record<string, unknown>, string][] = [
      [
        { ...base, flags: { SYSREGS_ON_CPU: { offset: 296, bit: 0, govern: ['TPIDR_EL1'] } } },
        'flags.SYSREGS_ON_CPU: unknown key "govern" (allowed: offset, width, mask, bit, equals, between, onEntry, governs, lazy, symbol, perPE, via, description)',
      ],
      [
        { ...base, sysregs: { ...(base.sysregs as object), TPIDR_EL: { offset: 400 } } },
        'sysregs.TPIDR_EL: unknown register TPIDR_EL (nearest: TPIDR_EL0, TPIDR_EL1, TPIDR_EL2); give an "encoding" for a register hypstep does not know',
      ],
      [
        { ...base, vcpus: [...(base.vcpus as object[]), { name: 'vcpu0', symbol: 'vcpu', offset: 512 }] },
        'vcpus: the name vcpu0 is used twice',
      ],
      [
        { ...base, sysregs: { ...(base.sysregs as object), SP_EL1: { offset: 276 } } },
        'sysregs.SP_EL1: its slot overlaps the slot of TPIDR_EL1',
      ],
      [
        { ...base, sysregs: { ...(base.sysregs as object), VBAR_EL1: { offset: 400 } } },
        'sysregs.VBAR_EL1: VBAR_EL1 has a slot already',
      ],
    ];
    cases.forEach(([layout, message], i) => {
      const file = join(dir, `l${i}.json`);
      writeFileSync(file, JSON.stringify(layout));
      const r = hypstep(['run', '--vcpu-layout', file, '--check-residency', elf('correct')]);
      expect([r.status, r.stderr]).toEqual([2, `hypstep: ${file}: ${message}\n`]);
    });
  });
});
