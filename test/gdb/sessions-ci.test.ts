// The scripts of fixtures/sessions run the way a CI script runs them — hypstep in the
// background, the debugger in the foreground, then `wait` — under a timeout: each ends by
// killing the program, which ends hypstep (status 0, as QEMU), so nothing waits for a
// debugger that is gone.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleElf } from '../helpers/asm.js';
import { requireTool } from '../helpers/tools.js';
import { buildCli, CLI, ROOT, freePort } from './harness.js';

beforeAll(() => {
  requireTool('gdb-multiarch');
  buildCli();
}, 60_000);

const elf = (mode: string) => `fixtures/minihyp/build/minihyp-${mode}.elf`;

/** `sh -c "hypstep run -S --gdb PORT ELF & CLIENT; wait $!"`; resolves with the shell's status and output. */
async function ciScript(
  image: string,
  client: (port: number) => string,
): Promise<{ code: number | null; out: string }> {
  const port = await freePort();
  const script = `node ${CLI} run -S --gdb 127.0.0.1:${port} ${image} & ${client(port)}; wait $!`;
  return new Promise((resolve) => {
    const p = spawn('sh', ['-c', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // A hang is the failure this test exists for: kill the whole group and say so.
    const timer = setTimeout(() => process.kill(-p.pid!, 'SIGKILL'), 150_000);
    p.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const gdbClient = (script: string, image: string) => (port: number) =>
  `gdb-multiarch -batch -nx -ex 'target remote 127.0.0.1:${port}' -x fixtures/sessions/${script} ${image}`;

describe('fixtures/sessions as a CI script runs them', () => {
  it.each([
    ['catch-pcs.gdb', 'vhe-deferred', /SESSION exit stop: pc (0x[0-9a-f]+) vector \1 EL 2/],
    ['first-exit.gdb', 'vhe-deferred', /SESSION vcpu_put returned/],
    ['find-stale-read.gdb', 'bug-stale-read', /residency hazard: stale-read/],
  ])(
    '%s on %s ends, and hypstep with it',
    async (script, mode, expected) => {
      const r = await ciScript(elf(mode), gdbClient(script, elf(mode)));
      expect(r.out).toMatch(expected);
      expect(r.out).toMatch(/hypstep: debugger killed the program/);
      expect(r.code, r.out).toBe(0); // `wait`'s status is hypstep's: 0 after a kill
    },
    180_000,
  );

  it('a detach after `monitor catch entry` lets the run finish: the catch went with the debugger', async () => {
    const r = await ciScript(elf('vhe-deferred'), (port) =>
      [
        `gdb-multiarch -batch -nx -ex 'target remote 127.0.0.1:${port}'`,
        `-ex 'monitor catch entry' -ex continue -ex 'monitor break host vcpu_put' -ex detach ${elf('vhe-deferred')}`,
      ].join(' '),
    );
    expect(r.out).toMatch(/guest entry #1/);
    expect(r.out).toMatch(/hypstep: debugger detached/);
    expect(r.out).not.toMatch(/waiting for a debugger|guest entry #2/);
    expect(r.out).toMatch(/PASS/); // minihyp ran to its end
    expect(r.code, r.out).toBe(0); // the guest's own exit status
  }, 180_000);

  it('world-session.ts (the RSP client) ends, and hypstep with it', async () => {
    const r = await ciScript(
      elf('vhe-deferred'),
      (port) => `node dist/fixtures/sessions/world-session.js ${port} ${elf('vhe-deferred')}`,
    );
    expect(r.out).toMatch(/saved to memory by vcpu_put: /);
    expect(r.code, r.out).toBe(0);
  }, 180_000);

  it('a run under the stub with nobody attached that can never go on ends (status 5), said once', async () => {
    // WFI with nothing to wake the PE: every PE asleep, no deadline.
    const elf = join(mkdtempSync(join(tmpdir(), 'hypstep-idle-')), 'idle.elf');
    writeFileSync(elf, assembleElf('.global _start\n_start:\n\twfi\n\tb\t_start\n'));
    const port = await freePort();
    const r = spawnSync(process.execPath, [CLI, 'run', '--gdb', `127.0.0.1:${port}`, elf], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.status, r.stderr).toBe(5);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(2); // the stub's address, then why the run ended
    expect(lines[1]).toMatch(/^hypstep: (?!\[hypstep\])/);
  }, 60_000);
});
