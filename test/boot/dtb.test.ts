// hypstep's generated device tree, read by the Device Tree Compiler's own tools (dtc, fdtget) and
// compared node by node with what QEMU 7.2's `-machine dumpdtb` writes for the same board, for
// the nodes hypstep implements; where it differs on purpose, the test says how.
import { describe, it, expect, beforeAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, requireTool } from '../helpers/tools.js';
import { parseFdt, serializeFdt, findNode, propString } from '../../src/loader/fdt.js';

const CLI = join(repoRoot(), 'dist/src/cli/main.js');
const KERNEL = join(repoRoot(), 'fixtures/boot/build/bootinfo.bin');
const MACHINE = 'virt,virtualization=on,gic-version=3';

let dir: string, ours: string, theirs: string;
beforeAll(() => {
  requireTool('qemu-system-aarch64');
  requireTool('fdtget');
  dir = mkdtempSync(join(tmpdir(), 'hypstep-dtb-'));
  ours = join(dir, 'hypstep.dtb');
  theirs = join(dir, 'qemu.dtb');
  const h = spawnSync(
    'node',
    [CLI, 'run', '-M', MACHINE, '-m', '1G', '-smp', '2', '-kernel', KERNEL, '--dump-dtb', ours],
    {
      encoding: 'utf8',
    },
  );
  expect(h.stderr).toBe('');
  expect(h.status).toBe(0);
  const q = spawnSync(
    'qemu-system-aarch64',
    ['-M', `${MACHINE},dumpdtb=${theirs}`, '-cpu', 'max', '-m', '1G', '-smp', '2', '-nographic', '-nic', 'none'],
    { encoding: 'utf8', timeout: 20_000 },
  );
  expect(q.status, q.stderr).toBe(0);
});

/** A property's bytes as fdtget prints them (hex bytes), or null when the node or property is missing. */
function get(file: string, node: string, p: string): string | null {
  const r = spawnSync('fdtget', ['-t', 'bx', file, node, p], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}
const props = (file: string, node: string): string[] =>
  execFileSync('fdtget', ['-p', file, node], { encoding: 'utf8' }).trim().split('\n').sort();
/** The node a phandle property points to, as a path. */
function target(file: string, node: string, p: string): string {
  const handle = execFileSync('fdtget', ['-t', 'x', file, node, p], { encoding: 'utf8' }).trim().split(' ')[0]!;
  const blob = parseFdt(readFileSync(file));
  const walk = (n: ReturnType<typeof parseFdt>, path: string): string | undefined => {
    const ph = n.props.get('phandle');
    if (ph && Buffer.from(ph).readUInt32BE(0) === parseInt(handle, 16)) return path;
    for (const c of n.children) {
      const found = walk(c, `${path === '/' ? '' : path}/${c.name}`);
      if (found) return found;
    }
    return undefined;
  };
  return walk(blob, '/')!;
}

/** The same properties with the same bytes on both, phandles aside. */
function sameNode(node: string, except: string[] = []) {
  const mine = props(ours, node).filter((p) => p !== 'phandle' && !except.includes(p));
  for (const p of mine) expect(get(ours, node, p), `${node} ${p}`).toBe(get(theirs, node, p));
  return mine;
}

describe('the generated device tree', () => {
  it('dtc reads it back without a warning, and it is QEMU size (1 MiB)', () => {
    requireTool('dtc');
    const r = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', ours], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(readFileSync(ours).length).toBe(readFileSync(theirs).length);
  });

  it('root, memory, PSCI (SMC conduit) and the PL011 are QEMU’s, property for property', () => {
    expect(sameNode('/', ['interrupt-parent'])).toEqual(['#address-cells', '#size-cells', 'compatible', 'model']);
    expect(get(ours, '/psci', 'method')).toBe(get(theirs, '/psci', 'method'));
    expect(sameNode('/psci')).toEqual(props(theirs, '/psci'));
    expect(sameNode('/memory@40000000')).toEqual(props(theirs, '/memory@40000000'));
    expect(sameNode('/pl011@9000000', ['clocks'])).toEqual(
      props(theirs, '/pl011@9000000').filter((p) => p !== 'clocks'),
    );
    // Both clocks are the 24 MHz APB clock, a node QEMU's and ours describe the same way.
    expect(target(ours, '/pl011@9000000', 'clocks')).toBe('/apb-pclk');
    expect(target(theirs, '/pl011@9000000', 'clocks')).toBe('/apb-pclk');
    expect(sameNode('/apb-pclk')).toEqual(props(theirs, '/apb-pclk').filter((p) => p !== 'phandle'));
    expect(target(ours, '/', 'interrupt-parent')).toBe('/intc@8000000');
    expect(get(ours, '/chosen', 'stdout-path')).toBe(get(theirs, '/chosen', 'stdout-path'));
  });

  it('the timer adds the EL2 virtual timer (PPI 12, INTID 28) to QEMU’s four', () => {
    sameNode('/timer', ['interrupts']);
    const q = get(theirs, '/timer', 'interrupts')!;
    expect(get(ours, '/timer', 'interrupts')).toBe(`${q} 0 0 0 1 0 0 0 c 0 0 0 4`);
  });

  it('the GICv3: QEMU’s distributor and maintenance interrupt, a redistributor per PE, no ITS', () => {
    sameNode('/intc@8000000', ['reg']);
    expect(props(ours, '/intc@8000000')).toEqual(props(theirs, '/intc@8000000'));
    const reg = (f: string) =>
      execFileSync('fdtget', ['-t', 'x', f, '/intc@8000000', 'reg'], { encoding: 'utf8' }).trim();
    expect(reg(theirs)).toBe('0 8000000 0 10000 0 80a0000 0 f60000'); // room for 123 PEs
    expect(reg(ours)).toBe('0 8000000 0 10000 0 80a0000 0 40000'); // two PEs' 128 KiB frames
    expect(execFileSync('fdtget', ['-l', theirs, '/intc@8000000'], { encoding: 'utf8' }).trim()).toBe('its@8080000');
    expect(execFileSync('fdtget', ['-l', ours, '/intc@8000000'], { encoding: 'utf8' }).trim()).toBe('');
  });

  it('cpus: each PE by its MPIDR, enabled by PSCI (compatible arm,armv8 rather than QEMU’s cortex-a57)', () => {
    for (const cpu of ['/cpus/cpu@0', '/cpus/cpu@1']) {
      sameNode(cpu, ['compatible']);
      expect(get(ours, cpu, 'enable-method')).toBe(get(theirs, cpu, 'enable-method'));
    }
    expect(execFileSync('fdtget', ['-t', 's', ours, '/cpus/cpu@0', 'compatible'], { encoding: 'utf8' }).trim()).toBe(
      'arm,armv8',
    );
  });

  it('leaves out what hypstep does not emulate (QEMU lists them)', () => {
    const nodes = (f: string) => execFileSync('fdtget', ['-l', f, '/'], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(nodes(ours)).toEqual([
      'apb-pclk',
      'chosen',
      'cpus',
      'intc@8000000',
      'memory@40000000',
      'pl011@9000000',
      'psci',
      'timer',
    ]);
    const left = nodes(theirs).filter((n) => !nodes(ours).includes(n));
    expect(left.filter((n) => !n.startsWith('virtio_mmio@'))).toEqual([
      'flash@0',
      'fw-cfg@9020000',
      'gpio-keys',
      'pcie@10000000',
      'pl031@9010000',
      'pl061@9030000',
      'platform-bus@c000000',
      'pmu',
    ]);
  });
});

describe('the FDT reader and writer', () => {
  it("reads QEMU's tree and writes it back the way dtc reads the same", () => {
    requireTool('dtc');
    const tree = parseFdt(readFileSync(theirs));
    expect(propString(findNode(tree, '/psci')!, 'method')).toBe('smc');
    const again = join(dir, 'again.dtb');
    writeFileSync(again, serializeFdt(tree));
    const dts = (f: string) => execFileSync('dtc', ['-I', 'dtb', '-O', 'dts', f], { encoding: 'utf8' });
    expect(dts(again)).toBe(dts(theirs));
  });

  it('refuses a damaged blob with the reason', () => {
    const good = Buffer.from(readFileSync(ours));
    expect(() => parseFdt(good.subarray(0, 20))).toThrow(/too short/);
    const bad = Buffer.from(good);
    bad.writeUInt32BE(0xdeadbeef, 0);
    expect(() => parseFdt(bad)).toThrow(/bad magic 0xdeadbeef/);
    const cut = Buffer.from(good);
    cut.writeUInt32BE(0x7fffffff, 4);
    expect(() => parseFdt(cut)).toThrow(/totalsize/);
  });
});
