// gdb-multiarch driving hypstep's stub and QEMU's on the same ELF: stepi per second and
// "info registers" per second (with gdb's register cache flushed before each, so every
// one is fetched from the stub, as after a stop).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Machine } from '../../src/board/machine.js';
import { parseElf } from '../../src/loader/elf.js';
import { startGdbServer } from '../../src/debug/gdb.js';
import { repoRoot, requireTool } from '../helpers/tools.js';
import { QEMU_BOARD } from '../helpers/qemu.js';
import type { BenchRow } from './bench.js';
import { freePort } from '../gdb/harness.js';

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Runs the measuring gdb script against a stub; returns [stepi/s, info registers/s]. */
async function measure(port: number, elf: string, dir: string, quick: boolean): Promise<[number, number]> {
  const [STEPS, INFOS] = quick ? [20, 5] : [2000, 200];
  const script = join(dir, `bench-${port}.gdb`);
  writeFileSync(
    script,
    `set pagination off
set confirm off
file ${elf}
target remote 127.0.0.1:${port}
python
import time
t = time.perf_counter()
for i in range(${STEPS}):
    gdb.execute('stepi', to_string=True)
s = ${STEPS} / (time.perf_counter() - t)
t = time.perf_counter()
for i in range(${INFOS}):
    gdb.execute('maintenance flush register-cache', to_string=True)
    gdb.execute('info registers', to_string=True)
r = ${INFOS} / (time.perf_counter() - t)
print('BENCH %f %f' % (s, r))
end
kill
`,
  );
  const gdb = spawn('gdb-multiarch', ['-batch', '-nx', '-x', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  gdb.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  gdb.stderr.on('data', (d: Buffer) => {
    out += d.toString();
  });
  await new Promise((res) => gdb.on('exit', res));
  const m = /BENCH ([\d.]+) ([\d.]+)/.exec(out);
  if (!m) throw new Error(`gdb benchmark failed:\n${out.slice(-2000)}`);
  return [Number(m[1]), Number(m[2])];
}

async function stopQemu(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
}

/** `quick`: a few steps, to check that the rows print. */
export async function benchGdb(quick = false): Promise<(BenchRow & { hypstep: number; qemu: number })[]> {
  requireTool('gdb-multiarch');
  requireTool('qemu-system-aarch64');
  const elf = join(repoRoot(), 'fixtures/gdb/build/session.elf');
  const dir = mkdtempSync(join(tmpdir(), 'hypstep-bench-gdb-'));
  try {
    // hypstep: the stub in this process, as `hypstep run -S --gdb` runs it.
    const machine = new Machine({ memory: 64 * 1024 * 1024, uartOut: () => {} });
    machine.load(parseElf(readFileSync(elf), elf));
    const h = await startGdbServer(machine, { port: 0, waitForDebugger: true, notice: () => {} });
    const hyp = await measure(h.port, elf, dir, quick);
    await h.close();

    const port = await freePort();
    const qemu = spawn(
      'qemu-system-aarch64',
      [...QEMU_BOARD, '-m', '64M', '-serial', 'null', '-S', '-gdb', `tcp:127.0.0.1:${port}`, '-kernel', elf],
      { stdio: 'ignore' },
    );
    try {
      const deadline = Date.now() + 10_000;
      while (!(await listening(port))) {
        if (qemu.exitCode !== null || Date.now() > deadline) throw new Error('qemu did not start its gdbstub');
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 200)); // QEMU takes one connection at a time: let it see the probe close
      const q = await measure(port, elf, dir, quick);
      return [
        { name: 'gdb-multiarch stepi', hypstep: hyp[0], qemu: q[0], unit: 'stepi/s' },
        { name: 'gdb-multiarch info registers (cache flushed)', hypstep: hyp[1], qemu: q[1], unit: 'info registers/s' },
      ];
    } finally {
      await stopQemu(qemu);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Run directly: print the rows with ratios.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  benchGdb().then(
    (rows) => {
      for (const r of rows) {
        console.log(
          `${r.name.padEnd(46)} hypstep ${r.hypstep.toFixed(0).padStart(7)}  qemu ${r.qemu.toFixed(0).padStart(7)} ${r.unit}  ratio ${(r.hypstep / r.qemu).toFixed(2)}`,
        );
      }
    },
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exit(1);
    },
  );
}
