// gdb-multiarch against a machine of 4 PEs: each PE is a thread (`info threads` with its EL),
// switching threads shows that PE's registers, a breakpoint hit on any PE reports that PE's
// thread, Ctrl-C stops every PE, stepping one PE with the others held (scheduler-locking),
// and `monitor step-irq`.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { parseElf } from '../../src/loader/elf.js';
import { LINE } from '../../src/pe/state.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RspClient } from '../../gdbstub/client.js';
import { gdbBatch, startHyp, type Hyp } from '../gdb/harness.js';
import { assembleElf, program } from '../helpers/asm.js';
import { repoRoot, requireTool } from '../helpers/tools.js';

const SPINLOCK = join(repoRoot(), 'fixtures', 'smp', 'build', 'spinlock.elf');
let hyp: Hyp | null = null;
afterEach(async () => {
  await hyp?.handle.close();
  hyp = null;
});

/** PE 0 starts PEs 1-3; every PE then counts in x20 forever, with its index in x19. */
const SPIN = program(`
	mov	x19, #1
1:	movq	x0, 0xc4000003
	mov	x1, x19
	adr	x2, spin
	mov	x3, x19
	smc	#0
	add	x19, x19, #1
	cmp	x19, #4
	b.ne	1b
	mov	x0, #0
spin:	mov	x19, x0
2:	add	x20, x20, #1
	b	2b
`);

describe('gdb-multiarch with -smp 4', () => {
  it('info threads lists the 4 PEs with their EL; breakpoints on any PE report its thread; threads show their own registers', async () => {
    hyp = await startHyp({ elf: SPINLOCK, smp: 4 });
    const { out, code } = await gdbBatch({
      port: hyp.port,
      file: SPINLOCK,
      lines: [
        'break worker',
        'continue',
        'p $x0',
        'info threads',
        'thread 1',
        'p $pc == worker',
        'thread 2',
        'p $pc == worker',
        'continue',
        'p $x0',
        'continue',
        'p $x0',
        'info threads',
        'delete',
        'continue',
      ],
    });
    expect(code, out).toBe(0);
    // Each secondary reaches `worker` on its own thread, with its context ID (its index) in x0.
    const hits = [...out.matchAll(/Thread (\d+) hit Breakpoint 1, .*worker/g)].map((m) => Number(m[1]));
    expect(hits, out).toEqual([2, 3, 4]);
    const values = [...out.matchAll(/^\$\d+ = (\d+)$/gm)].map((m) => Number(m[1]));
    expect(values, out).toEqual([1, 0, 1, 2, 3]);
    // The first `info threads`: four threads named by qThreadExtraInfo, thread 2 current.
    const listing = out.match(/^[ *] +[1-4] +Thread [1-4] \(PE\d EL\d\).*$/gm) ?? [];
    expect(listing.length, out).toBe(8);
    expect(listing[1], out).toMatch(/^\* +2 +Thread 2 \(PE1 EL2\) .*worker/);
    expect(listing[0], out).toMatch(/^ +1 +Thread 1 \(PE0 EL2\)/);
    expect(out).toMatch(/exited normally|\[Inferior 1 \(process 1\) exited normally\]/);
  });

  it('Ctrl-C stops every PE; one PE steps while the others stay still with scheduler-locking', async () => {
    requireTool('gdb-multiarch');
    const dir = mkdtempSync(join(tmpdir(), 'hypstep-gdb-smp-'));
    try {
      const elf = join(dir, 'spin.elf');
      writeFileSync(elf, assembleElf(SPIN));
      hyp = await startHyp({ elf, smp: 4 });
      const marker = join(dir, 'continuing');
      const script = join(dir, 'ctrlc.gdb');
      writeFileSync(
        script,
        [
          'set pagination off',
          'set confirm off',
          `file ${elf}`,
          `target remote 127.0.0.1:${hyp.port}`,
          `shell touch ${marker}`,
          'continue',
          'echo @stopped\\n',
          'info threads',
          'thread 3',
          'p $x19',
          'p $x20 > 0',
          'set scheduler-locking on',
          'set $before2 = $x20',
          'thread 2',
          'set $before1 = $x20',
          'stepi',
          'stepi',
          'p $x20 - $before1',
          'thread 3',
          'p $x20 - $before2',
          'detach',
          '',
        ].join('\n'),
      );
      const proc = spawn('gdb-multiarch', ['-batch', '-nx', '-x', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
      proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const done = new Promise<number | null>((res) => proc.on('exit', res));
      const deadline = Date.now() + 15_000;
      while (!existsSync(marker)) {
        if (Date.now() > deadline) throw new Error(`gdb never got to continue: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 700));
      proc.kill('SIGINT');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      const code = await done;
      clearTimeout(timer);
      expect(code, out).toBe(0);
      expect(out).toMatch(/Thread \d+ received signal SIGINT, Interrupt\.|Program received signal SIGINT/);
      const listing = out.match(/^[ *] +[1-4] +Thread [1-4] \(PE\d EL2\).*$/gm) ?? [];
      expect(listing.length, out).toBe(4);
      const values = [...out.matchAll(/^\$\d+ = (\d+)$/gm)].map((m) => Number(m[1]));
      // Thread 3 is PE 2 (x19 = 2) and has counted; two stepi of PE 1 (an add and a branch)
      // add 1 to its x20, and PE 2 held still meanwhile.
      expect(values, out).toEqual([2, 1, 1, 0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the stub answers with one thread per PE and stops every PE on an interrupt (RSP client)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hypstep-rsp-smp-'));
    try {
      const elf = join(dir, 'spin.elf');
      writeFileSync(elf, assembleElf(SPIN));
      hyp = await startHyp({ elf, smp: 4 });
      const c = await RspClient.connect('127.0.0.1', hyp.port, { timeoutMs: 5000 });
      try {
        expect(await c.threads()).toEqual([1, 2, 3, 4]);
        const stop = await c.cont(500);
        expect(stop.signal).toBe(2);
        const counts = async () => {
          const v: bigint[] = [];
          for (const t of [1, 2, 3, 4]) {
            await c.selectThread(t);
            v.push(await c.readRegister('x20'));
          }
          return v;
        };
        const a = await counts();
        expect(a.every((x) => x > 0n)).toBe(true); // every PE ran
        await new Promise((r) => setTimeout(r, 200));
        expect(await counts()).toEqual(a); // and every PE is stopped
        expect(await c.threadExtraInfo(4)).toBe('PE3 EL2');
      } finally {
        c.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('monitor step-irq: by default a step runs the next instruction with an IRQ pending; with it on, the step enters the vector', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hypstep-stepirq-'));
    try {
      const elf = join(dir, 'irq.elf');
      writeFileSync(
        elf,
        assembleElf(
          program(`
	movz	x0, #0x8000, lsl #16	// HCR_EL2.RW and IMO: an IRQ is taken at EL2 only when routed there
	movk	x0, #0x10
	msr	hcr_el2, x0
	adr	x0, vectors
	msr	vbar_el2, x0
	msr	daifclr, #2
here:	nop
	nop
	b	.
	.balign	0x800
vectors:
	.rept	16
	b	.
	.balign	0x80
	.endr
`),
        ),
      );
      hyp = await startHyp({ elf });
      const image = parseElf(readFileSync(elf));
      const at = (name: string) => image.symbols.find((x) => x.name === name)!.value;
      const c = await RspClient.connect('127.0.0.1', hyp.port, { timeoutMs: 5000 });
      try {
        await c.insertBreakpoint(at('here'));
        await c.cont();
        expect(await c.readRegister('pc')).toBe(at('here'));
        hyp.machine.cpu.setLine(LINE.IRQ, true);
        await c.step();
        expect(await c.readRegister('pc')).toBe(at('here') + 4n);
        expect(await c.monitor('step-irq on')).toMatch(/enters its vector/);
        await c.step();
        expect(await c.readRegister('pc')).toBe(at('vectors') + 0x280n); // IRQ, current EL with SPx
        expect(await c.readRegister('elr_el2')).toBe(at('here') + 4n); // the instruction the step did not run
      } finally {
        c.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
