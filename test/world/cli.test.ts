// `hypstep run` with the world options, as a user types them: --trace world, --report
// (JSON and HTML), --vcpu-layout with --check-residency, and their one-line usage errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleElf } from '../helpers/asm.js';
import { GUEST_SNIPPET, snippetLayout } from './snippets.js';
import type { WorldReport } from '../../src/world/report.js';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const MINIHYP = new URL('../../fixtures/minihyp/build/minihyp-vhe-deferred.elf', import.meta.url).pathname;
const MINIHYP_LAYOUT = new URL('../../fixtures/minihyp/vcpu-layout.json', import.meta.url).pathname;
const HVCLOOP = new URL('../../fixtures/hvcloop/build/hvcloop-10k.elf', import.meta.url).pathname;

function hypstep(args: string[]) {
  const r = spawnSync('node', [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let dir: string;
let elf: string;
let layout: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hypstep-world-cli-'));
  elf = join(dir, 'snippet.elf');
  writeFileSync(elf, assembleElf(GUEST_SNIPPET));
  layout = join(dir, 'layout.json');
  writeFileSync(layout, snippetLayout);
});

describe('hypstep run with the world layer', () => {
  it('--trace world prints a timeline line per entry, exit, load and put', () => {
    const r = hypstep(['run', '--trace', 'world', '--vcpu-layout', layout, elf]);
    expect(r.status).toBe(0);
    const lines = r.stderr
      .split('\n')
      .filter((l) => /^hypstep: \[\d+\]/.test(l))
      .map((l) => l.replace(/^hypstep: \[\d+\] PE0: /, ''));
    expect(lines.map((l) => l.replace(/ at 0x[0-9a-f]+/g, ' at ADDR'))).toEqual([
      'load vcpu0 (LOADED set at _start+64): 3 EL2 insns, 1 MSR/MRS', // the slot's ldr, msr, mov; up to the flag's str
      'entry vmid 7 vcpu0 at ADDR',
      'exit #1 vmid 7 vcpu0: HVC #0x42 at ADDR',
      'entry vmid 7 vcpu0 at ADDR after 5 EL2 insns, 1 MSR/MRS',
      'exit #2 vmid 7 vcpu0: HVC #0x43 at ADDR',
      'entry vmid 7 vcpu0 at ADDR after 5 EL2 insns, 1 MSR/MRS',
      'exit #3 vmid 7 vcpu0: HVC #0x1 at ADDR',
      'put vcpu0 (LOADED cleared at done+8): 2 EL2 insns, 1 MSR/MRS', // the save's mrs and str; up to the flag's str
    ]);
  });

  it('--trace world=EVENTS:KEY=VALUE… prints exactly the matching lines of the full timeline', () => {
    const args = ['run', '--vcpu-layout', MINIHYP_LAYOUT, MINIHYP];
    const lines = (trace: string) => {
      const r = hypstep(['run', '--trace', trace, ...args.slice(1)]);
      expect(r.status, r.stderr.slice(-500)).toBe(0);
      return r.stderr.split('\n').filter((l) => /^hypstep: \[\d+\] /.test(l));
    };
    const all = lines('world');
    expect(all.length).toBeGreaterThan(5000);
    // The full timeline, each line with its kind, vcpu and (for an entry) the reason of the exit it ends.
    let lastExit = '';
    const parsed = all.map((l) => {
      const m = /^hypstep: \[\d+\] PE0: (\w+) (?:#\d+ )?(?:vmid (\d+) )?(vcpu\d)[: (]/.exec(l)!;
      expect(m, l).not.toBeNull();
      const kind = m[1]!;
      if (kind === 'exit') lastExit = l;
      return { l, kind, vmid: m[2], vcpu: m[3]!, exit: kind === 'entry' ? lastExit : kind === 'exit' ? l : '' };
    });
    const pick = (f: (x: (typeof parsed)[number]) => boolean) => parsed.filter(f).map((x) => x.l);
    const aborts = lines('world=exit,entry:vcpu=vcpu1:reason=dabort');
    expect(aborts.length).toBeGreaterThan(100);
    expect(aborts).toEqual(
      pick((x) => (x.kind === 'exit' || x.kind === 'entry') && x.vcpu === 'vcpu1' && /data abort/.test(x.exit)),
    );
    // vmid 2 is vcpu1's in the layout: its loads and puts carry it.
    expect(lines('world=load,put:vmid=2')).toEqual(pick((x) => /^(load|put)$/.test(x.kind) && x.vcpu === 'vcpu1'));
    expect(lines('world=exit:vmid=1|2:reason=wfi|sysreg')).toEqual(
      pick((x) => x.kind === 'exit' && /: (WFI|trapped M)/.test(x.l)),
    );
  });

  it('a bad --trace world filter is one line and status 2', () => {
    const bad: [string[], string][] = [
      [['world=exits'], "--trace world=exits: unknown event 'exits' (known: entry, exit, load, put, hazard)"],
      [['world:cpu=1'], "--trace world:cpu=1: unknown filter 'cpu' (known: vcpu, vmid, reason)"],
      [['world:vmid=one'], "--trace world:vmid=one: vmid 'one' is not a number from 0 to 65535"],
      [
        ['world:reason=mmio'],
        "--trace world:reason=mmio: unknown reason 'mmio' (known: hvc, smc, sysreg, dabort, iabort, wfi, wfe, fp, irq, fiq, serror, other)",
      ],
      [['world:vmid'], "--trace world:vmid: filter 'vmid' should be KEY=VALUE[|VALUE…] (keys: vcpu, vmid, reason)"],
      [['world:vmid=1|'], "--trace world:vmid=1|: filter 'vmid=1|' has an empty value"],
      [['world:vcpu=vcpu0'], '--trace world:vcpu=… needs --vcpu-layout (vcpus are named there)'],
      [['world:vcpu=vcpu7', '--vcpu-layout', layout], "--trace world: no vcpu 'vcpu7' in the layout (vcpu0)"],
      [['world', '--trace', 'world=exit'], '--trace world given twice (one takes every filter)'],
    ];
    for (const [args, message] of bad) {
      const r = hypstep(['run', '--trace', ...args, elf]);
      expect([r.status, r.stderr]).toEqual([2, `hypstep: ${message}\n`]);
    }
  });

  it('--report writes JSON and a self-contained HTML page with the SVG timeline', () => {
    const json = join(dir, 'r.json');
    const html = join(dir, 'r.html');
    expect(hypstep(['run', '--report', json, elf]).status).toBe(0);
    const r = hypstep(['run', '--vcpu-layout', layout, '--report', html, elf]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/world report written to .*r\.html \(3 exits\)/);
    const rep = JSON.parse(readFileSync(json, 'utf8')) as WorldReport;
    expect([rep.format, rep.version]).toEqual(['hypstep-world-report', 2]);
    expect(rep.exits.map((x) => [x.reason, x.el2Insns])).toEqual([
      ['HVC #0x42', 5],
      ['HVC #0x43', 5],
      ['HVC #0x1', null],
    ]);
    // Each exit ends the guest stretch that began at the entry before it, and is closed by the next entry.
    expect(rep.exits[1]!.entered).toBe(rep.exits[0]!.resumed);
    expect(rep.exits[0]!.resumed! - rep.exits[0]!.icount).toBe(rep.exits[0]!.hostInsns);
    expect(rep.exits[2]!.resumed).toBeNull();
    expect(rep.guestResult).toMatch(/^PSCI SYSTEM_OFF: exit status 0$/);
    expect(rep.summary.exits).toBe(3);
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain('<svg');
    expect(page).toContain('HVC #0x43');
    expect(page).toContain('"load","vcpu0","LOADED"');
    expect(page).not.toMatch(/<link|\bsrc=|\bhref=|url\((?!#)|@import/); // nothing to fetch: it opens from a file
  });

  it('--report keeps every row of a run of 10,000 exits, and says how the guest ended', () => {
    const json = join(dir, 'loop.json');
    const r = hypstep(['run', '--report', json, HVCLOOP]);
    expect([r.status, r.stdout]).toEqual([0, 'hvcloop: exits 0x0000000000002710\n']);
    const rep = JSON.parse(readFileSync(json, 'utf8')) as WorldReport;
    expect(rep.exits.map((x) => x.n)).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));
    expect(rep.exits.filter((x) => x.reason === 'HVC #0x0').length).toBe(9_999);
    expect(rep.summary.byReason.hvc!.count).toBe(10_000);
    expect(rep.guestResult).toBe('PSCI SYSTEM_OFF: exit status 0');
    const stopped = hypstep(['run', '--max-insns', '1000', '--report', json, HVCLOOP]);
    expect(stopped.status).toBe(3);
    const part = JSON.parse(readFileSync(json, 'utf8')) as WorldReport;
    expect(part.guestResult).toBe('stopped after 1000 instructions (--max-insns)');
    expect(part.exits.at(-1)!.n).toBe(part.summary.exits);
  });

  it('a report the disk cannot hold stops the run with one line and status 7', () => {
    const full = join(dir, 'full.json');
    symlinkSync('/dev/full', full);
    const r = hypstep(['run', '--report', full, HVCLOOP]);
    expect(r.status).toBe(7);
    expect(r.stderr).toMatch(
      /^hypstep: stopped after \d+ instructions: cannot write report .*full\.json: no space left on device\n$/,
    );
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]); // the spools are gone
    // The same under the gdb stub (listening, no client), whose loop is not hypstep run's.
    const stub = hypstep(['run', '--gdb', '127.0.0.1:0', '--report', full, HVCLOOP]);
    expect(stub.status).toBe(7);
    expect(stub.stderr.split('\n').filter((l) => !/gdb stub on/.test(l))).toEqual([
      expect.stringMatching(
        /^hypstep: stopped after \d+ instructions: cannot write report .*full\.json: no space left on device$/,
      ),
      '',
    ]);
  });

  it('--check-residency reports the count of hazards; usage mistakes are one line and status 2', () => {
    const ok = hypstep(['run', '--vcpu-layout', layout, '--check-residency', elf]);
    expect(ok.status).toBe(0);
    expect(ok.stderr).toContain('hypstep: residency checker: 0 hazards');
    const noLayout = hypstep(['run', '--check-residency', elf]);
    expect([noLayout.status, noLayout.stderr]).toEqual([
      2,
      'hypstep: --check-residency needs --vcpu-layout <file> (where the vcpu context is)\n',
    ]);
    const bad = join(dir, 'bad.json');
    writeFileSync(
      bad,
      '{"format":"hypstep-vcpu-layout","version":1,"vcpus":[{"name":"a","symbol":"nope"}],"sysregs":{}}',
    );
    const missing = hypstep(['run', '--vcpu-layout', bad, elf]);
    expect([missing.status, missing.stderr]).toEqual([
      2,
      "hypstep: vcpu a: symbol 'nope' is not in the loaded image (nor known from gdb)\n",
    ]);
    const trace = hypstep(['run', '--trace', 'worlds', elf]);
    expect([trace.status, trace.stderr]).toEqual([2, "hypstep: unknown trace 'worlds' (known: exceptions, world)\n"]);
  });
});
