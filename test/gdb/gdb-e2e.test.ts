// End to end: the real gdb-multiarch, in batch mode, against `hypstep run -S --gdb`.
import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from '../helpers/tools.js';
import { buildCli, CLI, freePort, ROOT, SESSION_ELF } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'hypstep-gdb-'));
const procs: ChildProcess[] = [];

beforeAll(() => {
  requireTool('gdb-multiarch');
  buildCli();
}, 60_000);

afterEach(() => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill('SIGKILL');
});

const HELLO_ELF = join(ROOT, 'fixtures/hello/build/hello.elf');

interface Hypstep {
  proc: ChildProcess;
  port: number;
  stderr: () => string;
  stdout: () => string;
  exited: Promise<number | null>;
}

async function hypstep(elf = SESSION_ELF): Promise<Hypstep> {
  const port = await freePort();
  const proc = spawn(process.execPath, [CLI, 'run', '-m', '64M', '-S', '--gdb', `127.0.0.1:${port}`, elf], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  let err = '',
    out = '';
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
  const deadline = Date.now() + 20_000; // generous: CI machines are shared
  while (!err.includes('gdb stub on')) {
    if (proc.exitCode !== null) throw new Error(`hypstep exited (${proc.exitCode}): ${err}`);
    if (Date.now() > deadline) throw new Error(`hypstep did not start its stub: ${err}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { proc, port, stderr: () => err, stdout: () => out, exited };
}

interface GdbRun {
  out: string;
  code: number | null;
  proc: ChildProcess;
  done: Promise<void>;
}

/** Runs gdb-multiarch -batch with `lines` after loading the fixture and connecting. */
function gdb(port: number, lines: string[], name: string): GdbRun {
  const script = join(dir, `${name}.gdb`);
  writeFileSync(
    script,
    [
      'set pagination off',
      'set confirm off',
      `file ${SESSION_ELF}`,
      `target remote 127.0.0.1:${port}`,
      ...lines,
      '',
    ].join('\n'),
  );
  const proc = spawn('gdb-multiarch', ['-batch', '-nx', '-x', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  const run: GdbRun = { out: '', code: null, proc, done: Promise.resolve() };
  proc.stdout.on('data', (d: Buffer) => {
    run.out += d.toString();
  });
  proc.stderr.on('data', (d: Buffer) => {
    run.out += d.toString();
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  run.done = new Promise((res) =>
    proc.on('exit', (code) => {
      clearTimeout(timer);
      run.code = code;
      res();
    }),
  );
  return run;
}

describe('gdb-multiarch against hypstep run -S', () => {
  it('breaks on symbols, steps across ERET and HVC, shows registers, disassembles, watches, monitors', async () => {
    const h = await hypstep();
    const g = gdb(
      h.port,
      [
        'break before_eret',
        'continue',
        'stepi',
        'echo @eret\\n',
        'p/x $pc',
        'p $cpsr',
        'info threads',
        'break before_hvc',
        'continue',
        'stepi',
        'echo @hvc\\n',
        'p/x $pc',
        'p $cpsr',
        'p/x $elr_el2',
        'p/x $hcr_el2',
        'x/8i $pc',
        'info registers',
        'monitor help',
        'monitor info el',
        'set $sctlr_el1 = 0x30d01800',
        'p/x $sctlr_el1',
        'delete',
        'watch *(long *)&counter',
        'continue',
        'echo @watch\\n',
        'p/x $pc',
        'detach',
      ],
      'main',
    );
    await g.done;
    const o = g.out;
    expect(g.code, o).toBe(0);
    expect(o).toMatch(/Breakpoint 1, before_eret \(\)/);
    expect(o).toMatch(/@eret\n\$1 = 0x40080034\n\$2 = \[ SP EL=1 F I A D \]/);
    // One PE, one thread; its extra info comes from the world layer (no stage 2: not a guest).
    expect(o).toMatch(/^\* 1\s+Thread 1 \(PE0 EL1 host\) el1_entry \(\)/m);
    expect(o).toMatch(/Breakpoint 2, before_hvc \(\)/);
    expect(o).toMatch(/el2_sync_lower \(\) at session\.S/);
    expect(o).toMatch(/@hvc\n\$3 = 0x40080c00\n\$4 = \[ SP EL=2 F I A D( C)? \]\n\$5 = 0x40080060\n\$6 = 0x80000000/);
    expect(o).toMatch(/=> 0x40080c00 <el2_sync_lower>:\s+mrs\s+x2, esr_el2\n.*add\s+x3, x3, #0x1\n.*eret/);
    expect(o).toMatch(/^x19\s+0x1\s+1$/m);
    expect(o).toMatch(/^cpsr\s+0x[0-9a-f]+\s+\[ SP EL=2/m);
    expect(o).toMatch(/^ {2}translate <addr>.*walk the translation/m);
    expect(o).toMatch(/^PE0 is running the hypervisor \(EL2\)$/m);
    expect(o).toMatch(/\$7 = 0x30d01800/);
    expect(o).toMatch(/Hardware watchpoint 3: \*\(long \*\)&counter\n\nOld value = 0\nNew value = 1/);
    expect(o).toMatch(/@watch\n\$8 = 0x4008006c/);
    expect(o).toMatch(/Inferior 1 \(Remote target\) detached/);
    expect(o).not.toMatch(/Traceback|internal-error|Remote failure|Protocol error/);
  });

  it('interrupts a running guest when gdb gets SIGINT (Ctrl-C)', async () => {
    const h = await hypstep();
    // gdb's stdout is a pipe (buffered): a marker file says when it is about to continue.
    const marker = join(dir, 'continuing');
    const g = gdb(h.port, [`shell touch ${marker}`, 'continue', 'echo @stopped\\n', 'p/x $pc', 'detach'], 'ctrlc');
    const deadline = Date.now() + 10_000;
    while (!existsSync(marker)) {
      if (Date.now() > deadline) throw new Error(`gdb never got to continue: ${g.out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 700));
    g.proc.kill('SIGINT');
    await g.done;
    expect(g.out).toMatch(/Program received signal SIGINT, Interrupt\./);
    expect(g.out).toMatch(/@stopped\n\$1 = 0x400800[0-9a-f]{2}\b|@stopped\n\$1 = 0x40080c0[0-8]/);
    expect(g.code).toBe(0);
  });

  it('detaches, lets the guest run, and a new gdb re-attaches; a second gdb meanwhile is refused', async () => {
    const h = await hypstep();
    const first = gdb(h.port, ['stepi', 'stepi', 'shell sleep 1', 'detach'], 'first');
    while (!h.stderr().includes('debugger attached')) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    const second = gdb(h.port, ['info registers pc'], 'second');
    await second.done;
    expect(second.out).toMatch(/another debugger is already attached/);
    await first.done;
    expect(first.code, first.out).toBe(0);
    await new Promise((r) => setTimeout(r, 200)); // the guest runs freely after a detach
    const third = gdb(h.port, ['echo @again\\n', 'p/x $x19', 'info registers pc', 'stepi', 'detach'], 'third');
    await third.done;
    expect(third.code, third.out).toBe(0);
    const x19 = /@again\n\$1 = (0x[0-9a-f]+)/.exec(third.out);
    expect(x19, third.out).not.toBeNull();
    expect(BigInt(x19![1]!)).toBeGreaterThan(10n); // loop iterations done while detached
    expect(h.proc.exitCode).toBeNull();
    expect(h.stderr()).toMatch(/refused a second debugger/);
    expect(h.stderr().match(/debugger detached/g)?.length).toBe(2);
  });

  it('reports the guest exit to gdb, then hypstep exits with the guest status', async () => {
    const h = await hypstep(HELLO_ELF);
    const g = gdb(h.port, ['continue'], 'exit');
    await g.done;
    expect(g.out).toMatch(/\[Inferior 1 \(.*\) exited normally\]/);
    expect(await h.exited).toBe(0);
    expect(h.stdout()).toBe('Hello from hypstep: running at EL2\n');
  });

  it('refuses a bad or busy --gdb address with one line and status 2', async () => {
    const bad = spawnSync(process.execPath, [CLI, 'run', '--gdb', 'nope', SESSION_ELF], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(
      "hypstep: invalid --gdb address 'nope' (expected [host:]port, e.g. 1234 or 0.0.0.0:1234)\n",
    );
    const h = await hypstep();
    const busy = spawnSync(process.execPath, [CLI, 'run', '-m', '64M', '--gdb', String(h.port), SESSION_ELF], {
      encoding: 'utf8',
    });
    expect(busy.status).toBe(2);
    expect(busy.stderr).toMatch(/^hypstep: cannot listen on 127\.0\.0\.1:\d+: address already in use\n$/);
  });
});
