// The BTF reader on Debian's arm64 kernel, held against bpftool (every type of the blob: kind,
// name, size, references, members with bit offsets and bitfield sizes, enumerators, arrays) and
// against pahole (member offsets along the paths the KVM layout uses).
import { beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { Btf, BtfError, findBtf } from '../../src/loader/btf.js';
import { kernelBytes } from '../../src/loader/kernel-image.js';
import { requireTool } from '../helpers/tools.js';
import { btfBlob, debianKernel, pahole } from '../helpers/linux.js';

let image: Uint8Array;
let btf: Btf;
let blobPath: string;

beforeAll(() => {
  image = readFileSync(debianKernel());
  btf = Btf.fromImage(image);
  blobPath = btfBlob(image);
});

interface BpftoolType {
  id: number;
  kind: string;
  name: string;
  size?: number;
  type_id?: number;
  index_type_id?: number;
  nr_elems?: number;
  members?: { name: string; type_id: number; bits_offset: number; bitfield_size?: number }[];
  values?: { name: string; val: number | string }[];
}

describe('BTF reader on the Debian kernel', () => {
  it('finds one BTF blob in the Image, the same in the gzip-compressed kernel', () => {
    const found = findBtf(image);
    expect(found.length).toBeGreaterThanOrEqual(1);
    expect(found[0]!.length).toBeGreaterThan(1 << 20);
    const gz = kernelBytes(gzipSync(image, { level: 1 }), 'vmlinuz.gz');
    expect(findBtf(gz)[0]).toEqual(found[0]);
  });

  it('parses every type as bpftool does (bpftool -j btf dump file)', () => {
    const json = execFileSync(requireTool('bpftool'), ['-j', 'btf', 'dump', 'file', blobPath], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    });
    // Values past 2^53 (64-bit enumerators) would lose digits as JSON numbers: read them as strings.
    const types = (JSON.parse(json.replace(/"val":(-?\d{16,})/g, '"val":"$1"')) as { types: BpftoolType[] }).types;
    expect(btf.types.length - 1).toBe(types.length);
    let members = 0;
    let enumerators = 0;
    for (const ref of types) {
      const t = btf.type(ref.id);
      const mine = {
        kind: t.kind,
        name: t.name === '' ? '(anon)' : t.name,
        ...(ref.size !== undefined ? { size: t.size } : {}),
        ...(ref.type_id !== undefined ? { type_id: t.array ? t.array.elem : t.ref } : {}),
        ...(ref.index_type_id !== undefined ? { index_type_id: t.array!.index, nr_elems: t.array!.nelems } : {}),
      };
      const theirs = {
        kind: ref.kind,
        name: ref.name,
        ...(ref.size !== undefined ? { size: ref.size } : {}),
        ...(ref.type_id !== undefined ? { type_id: ref.type_id } : {}),
        ...(ref.index_type_id !== undefined ? { index_type_id: ref.index_type_id, nr_elems: ref.nr_elems } : {}),
      };
      expect(mine, `type ${ref.id}`).toEqual(theirs);
      if (ref.members) {
        expect(
          t.members.map((m) => ({
            name: m.name === '' ? '(anon)' : m.name,
            type_id: m.type,
            bits_offset: m.bitOffset,
            ...(m.bitfieldSize ? { bitfield_size: m.bitfieldSize } : {}),
          })),
          `members of type ${ref.id}`,
        ).toEqual(ref.members);
        members += ref.members.length;
      }
      if (ref.values && (ref.kind === 'ENUM' || ref.kind === 'ENUM64')) {
        // bpftool's JSON sign-extends a 32-bit enumerator's bits to 64 (its C dump prints 0xEFFFFFFA as
        // 4026531834, as we read it): 32-bit enumerators are compared as their 32 bits.
        const bits = (v: bigint) => (ref.kind === 'ENUM' ? BigInt.asUintN(32, v) : BigInt.asUintN(64, v));
        expect(
          t.enumerators.map((e) => ({ name: e.name, val: bits(e.value) })),
          `enumerators of type ${ref.id}`,
        ).toEqual(ref.values.map((v) => ({ name: v.name, val: bits(BigInt(v.val)) })));
        enumerators += ref.values.length;
      }
    }
    // The kernel's own types, not a toy: tens of thousands of members and enumerators compared.
    expect(members).toBeGreaterThan(50_000);
    expect(enumerators).toBeGreaterThan(10_000);
  });

  it("gives enum vcpu_sysreg's values as bpftool's C dump declares them", () => {
    const c = execFileSync(requireTool('bpftool'), ['btf', 'dump', 'file', blobPath, 'format', 'c'], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
    });
    const body = /enum vcpu_sysreg \{\n([^}]*)\};/.exec(c)![1]!;
    // An unsigned 32-bit enumerator past 2^31 is its unsigned value, as the C dump prints it.
    expect(c).toMatch(new RegExp(`\\tPROC_TIME_INIT_INO = ${btf.enumerator('PROC_TIME_INIT_INO')!.value},`));
    const theirs = new Map(
      [...body.matchAll(/^\t(\w+) = (\d+),$/gm)].map((m) => [m[1]!, BigInt(m[2]!)] as [string, bigint]),
    );
    expect(theirs.size).toBeGreaterThan(60);
    expect(btf.enumValues('vcpu_sysreg')).toEqual(theirs);
    for (const r of ['SCTLR_EL1', 'TTBR0_EL1', 'VBAR_EL1', 'CNTV_CTL_EL0'])
      expect(btf.enumValues('vcpu_sysreg').get(r)).toBe(theirs.get(r));
  });

  it("resolves the KVM layout's member paths to pahole's offsets", () => {
    const vcpu = pahole(blobPath, 'kvm_vcpu');
    const arch = pahole(blobPath, 'kvm_vcpu_arch');
    const ctxt = pahole(blobPath, 'kvm_cpu_context');
    const v3 = pahole(blobPath, 'vgic_v3_cpu_if');
    const timerCpu = pahole(blobPath, 'arch_timer_cpu');
    const timerCtx = pahole(blobPath, 'arch_timer_context');
    const fp = pahole(blobPath, 'user_fpsimd_state');
    const vgicCpu = pahole(blobPath, 'vgic_cpu');
    const a = vcpu.get('arch')!.offset;
    // vgic_v2 and vgic_v3 share a union at the start of struct vgic_cpu: pahole names the union's members.
    const unionAt = vgicCpu.get('vgic_v3')?.offset ?? 0;
    const expected: [string, number, number][] = [
      ['kvm_vcpu.arch', a, vcpu.get('arch')!.size],
      ['kvm_vcpu.cpu', vcpu.get('cpu')!.offset, 4],
      [
        'kvm_vcpu.arch.ctxt.sys_regs',
        a + arch.get('ctxt')!.offset + ctxt.get('sys_regs')!.offset,
        ctxt.get('sys_regs')!.size,
      ],
      ['kvm_vcpu.arch.sflags', a + arch.get('sflags')!.offset, 1],
      ['kvm_vcpu.arch.fp_state', a + arch.get('fp_state')!.offset, 4],
      [
        'kvm_vcpu.arch.ctxt.fp_regs.fpcr',
        a + arch.get('ctxt')!.offset + ctxt.get('fp_regs')!.offset + fp.get('fpcr')!.offset,
        4,
      ],
      [
        'kvm_vcpu.arch.vgic_cpu.vgic_v3.vgic_vmcr',
        a + arch.get('vgic_cpu')!.offset + unionAt + v3.get('vgic_vmcr')!.offset,
        4,
      ],
      [
        'kvm_vcpu.arch.vgic_cpu.vgic_v3.vgic_lr',
        a + arch.get('vgic_cpu')!.offset + unionAt + v3.get('vgic_lr')!.offset,
        v3.get('vgic_lr')!.size,
      ],
      [
        'kvm_vcpu.arch.timer_cpu.timers[1].loaded',
        a +
          arch.get('timer_cpu')!.offset +
          timerCpu.get('timers')!.offset +
          timerCtx.get('loaded')!.offset +
          timerCpu.get('timers')!.size / 2,
        1,
      ],
    ];
    for (const [path, offset, size] of expected) expect(btf.path(path), path).toMatchObject({ offset, size });
    expect(btf.arrayAt('kvm_vcpu.arch.ctxt.sys_regs')).toMatchObject({
      stride: 8,
      nelems: ctxt.get('sys_regs')!.size / 8,
    });
  });

  it('says what is wrong with a path, and refuses an image without BTF', () => {
    expect(() => btf.path('kvm_vcpu.arch.nonesuch')).toThrow('struct kvm_vcpu_arch has no member nonesuch');
    expect(() => btf.path('kvm_vcpu.arch.ctxt.sys_regs[9999]')).toThrow(/past the end of sys_regs/);
    expect(() => btf.path('no_such_struct.x')).toThrow('no struct no_such_struct');
    expect(() => Btf.fromImage(new Uint8Array(4096), 'empty')).toThrow(BtfError);
  });
});
