// `hypstep run` with the world options, as a user types them: --trace world, --report
// (JSON and HTML), --vcpu-layout with --check-residency, and their one-line usage errors.
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleElf } from '../helpers/asm.js';
import { GUEST_SNIPPET, snippetLayout } from './snippets.js';

const CLI = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;

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
      .map((l) => l.replace(/^hypstep: \[\d+\] /, ''));
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

  it('--report writes JSON and a self-contained HTML page with the SVG timeline', () => {
    const json = join(dir, 'r.json');
    const html = join(dir, 'r.html');
    expect(hypstep(['run', '--report', json, elf]).status).toBe(0);
    const r = hypstep(['run', '--vcpu-layout', layout, '--report', html, elf]);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/world report written to .*r\.html \(3 exits\)/);
    const rep = JSON.parse(readFileSync(json, 'utf8')) as {
      format: string;
      exits: { reason: string; el2Insns: number | null }[];
    };
    expect(rep.format).toBe('hypstep-world-report');
    expect(rep.exits.map((x) => [x.reason, x.el2Insns])).toEqual([
      ['HVC #0x42', 5],
      ['HVC #0x43', 5],
      ['HVC #0x1', null],
    ]);
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain('<svg');
    expect(page).toContain('HVC #0x43');
    expect(page).toMatch(/class="load"/);
    expect(page).not.toMatch(/<script|<link|src="http/); // nothing to fetch: it opens from a file
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
