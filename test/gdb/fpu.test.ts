// The org.gnu.gdb.aarch64.fpu feature: gdb-multiarch reads and writes V0–V31, FPSR and FPCR
// on hypstep exactly as on QEMU (the same session, the same printout).
import { describe, it, expect, afterEach } from 'vitest';
import { gdbBatch, startHyp, startQemu, SESSION_ELF, type Hyp, type Qemu } from './harness.js';

let hyp: Hyp | undefined;
let qemu: Qemu | undefined;
afterEach(async () => {
  await hyp?.handle.close();
  await qemu?.stop();
  hyp = qemu = undefined;
});

// Writes through every view gdb offers, then reads them back through the others.
const SESSION = [
  'set $v3.d.u[0] = 0x1122334455667788',
  'set $v3.d.u[1] = 0xfedcba9876543210',
  'set $v0.s.f[1] = -1.5',
  'set $v0.b.u[15] = 0xab',
  'set $d31.f = 2.5',
  'set $s7.f = 0.1',
  'set $v9.q.u[0] = 0x0123456789abcdef',
  'set $h4.u = 0x7c00',
  'set $b5.u = 0x80',
  // gdb's own refusals, the same on both: the views are unions, and a 128-bit literal is too large.
  'set $v3.d[0] = 1',
  'set $q9 = 0x0123456789abcdef0011223344556677',
  'set $fpsr = 0x8000009f',
  'set $fpcr = 0x3c00000',
  'p $v0',
  'p $v3',
  'p $d31',
  'p/x $v9.q',
  'p $s7',
  'p/x $h4',
  'p/x $v5.b.u',
  'p/x $q3',
  'p $fpsr',
  'p/x $fpcr',
  'info registers vector',
  'info registers fpsr fpcr',
  'p $d0',
];

/** The printout of a session, from the first command's output on (the connection banner differs). */
function body(out: string): string {
  return out
    .split('\n')
    .filter((l) => !/^(0x[0-9a-f]+ in |\[Inferior|warning:|Remote debugging)/.test(l))
    .join('\n');
}

describe('gdb fpu registers', () => {
  it('p $v0, p $d31, set $v3.d.u[0] = …, info registers vector: identical on hypstep and QEMU', async () => {
    // Without SVE, as hypstep (-cpu max has it, and gdb then shows z0–z31 instead of this feature).
    qemu = await startQemu(SESSION_ELF, ['-cpu', 'max,sve=off']);
    hyp = await startHyp();
    const [q, h] = await Promise.all([
      gdbBatch({ port: qemu.port, file: SESSION_ELF, lines: SESSION }),
      gdbBatch({ port: hyp.port, file: SESSION_ELF, lines: SESSION }),
    ]);
    expect(body(q.stdout)).toContain('$1 = {d = {f = {');
    expect(body(q.stderr)).toMatch(/cannot subscript something of type `vnd'\nNumeric constant too large\./);
    // Each stream on its own: gdb's refusals (stderr) interleave with the printout as they arrive.
    expect(body(h.stdout)).toBe(body(q.stdout));
    expect(body(h.stderr)).toBe(body(q.stderr));
    // And the values reached the register file.
    expect(hyp.machine.cpu.v.q(3)).toBe(0xfedcba9876543210_1122334455667788n);
    expect(hyp.machine.cpu.v.f64[62]).toBe(2.5);
  }, 60_000);

  it('info all-registers lists the fpu feature between cpsr and the system registers', async () => {
    hyp = await startHyp();
    const g = await gdbBatch({ port: hyp.port, file: SESSION_ELF, lines: ['info all-registers'] });
    const names = g.out.split('\n').map((l) => l.split(/\s+/)[0]);
    const at = (n: string): number => names.indexOf(n);
    expect(at('cpsr')).toBeGreaterThan(0);
    expect([at('v0') > at('cpsr'), at('v31') > at('v0'), at('fpsr') > at('v31'), at('fpcr') > at('fpsr')]).toEqual([
      true,
      true,
      true,
      true,
    ]);
    expect(at('sctlr_el1')).toBeGreaterThan(at('fpcr'));
  }, 60_000);
});
