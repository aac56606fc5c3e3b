// The registers gdb sees: the standard AArch64 core and fpu features, then every register of the
// system-register table and of the machine's devices under its architectural lower-case name
// in a `system` group.
// Reads and writes use the same accessors as MRS/MSR, minus the access checks and traps.
import type { Cpu } from '../cpu/cpu.js';
import { SYSREGS, type SysregSpec } from '../sysregs/registry.js';
import { peekSysreg, writeSysreg } from '../sysregs/access.js';
import type { FeatureDescription, RegisterDescription } from '../../gdbstub/target.js';

export const CORE_FEATURE = 'org.gnu.gdb.aarch64.core';
export const FPU_FEATURE = 'org.gnu.gdb.aarch64.fpu';
export const SYSTEM_FEATURE = 'org.hypstep.aarch64.system';

/** gdb's numbering of the core registers (fixed by gdb's AArch64 port). */
export const REG = { X0: 0, SP: 31, PC: 32, CPSR: 33 } as const;

// The CPSR as gdb's flags type, so `p $cpsr` shows the fields.
const CPSR_TYPE = `    <flags id="cpsr_flags" size="4">
      <field name="SP" start="0" end="0"/>
      <field name="EL" start="2" end="3"/>
      <field name="nRW" start="4" end="4"/>
      <field name="F" start="6" end="6"/>
      <field name="I" start="7" end="7"/>
      <field name="A" start="8" end="8"/>
      <field name="D" start="9" end="9"/>
      <field name="IL" start="20" end="20"/>
      <field name="SS" start="21" end="21"/>
      <field name="PAN" start="22" end="22"/>
      <field name="V" start="28" end="28"/>
      <field name="C" start="29" end="29"/>
      <field name="Z" start="30" end="30"/>
      <field name="N" start="31" end="31"/>
    </flags>`;

// gdb's vector union for V0–V31 (`p $v0.d.u[1]`, `$d0`, `$s0` … are gdb's views of it), as QEMU
// declares it, so gdb prints the registers alike on both.
const VECTOR_TYPE = `    <vector id="v2d" type="ieee_double" count="2"/>
    <vector id="v2u" type="uint64" count="2"/>
    <vector id="v2i" type="int64" count="2"/>
    <vector id="v4f" type="ieee_single" count="4"/>
    <vector id="v4u" type="uint32" count="4"/>
    <vector id="v4i" type="int32" count="4"/>
    <vector id="v8u" type="uint16" count="8"/>
    <vector id="v8i" type="int16" count="8"/>
    <vector id="v16u" type="uint8" count="16"/>
    <vector id="v16i" type="int8" count="16"/>
    <vector id="v1u" type="uint128" count="1"/>
    <vector id="v1i" type="int128" count="1"/>
    <union id="vnd">
      <field name="f" type="v2d"/>
      <field name="u" type="v2u"/>
      <field name="s" type="v2i"/>
    </union>
    <union id="vns">
      <field name="f" type="v4f"/>
      <field name="u" type="v4u"/>
      <field name="s" type="v4i"/>
    </union>
    <union id="vnh">
      <field name="u" type="v8u"/>
      <field name="s" type="v8i"/>
    </union>
    <union id="vnb">
      <field name="u" type="v16u"/>
      <field name="s" type="v16i"/>
    </union>
    <union id="vnq">
      <field name="u" type="v1u"/>
      <field name="s" type="v1i"/>
    </union>
    <union id="aarch64v">
      <field name="d" type="vnd"/>
      <field name="s" type="vns"/>
      <field name="h" type="vnh"/>
      <field name="b" type="vnb"/>
      <field name="q" type="vnq"/>
    </union>`;

export const FEATURES: readonly FeatureDescription[] = [
  { name: CORE_FEATURE, types: CPSR_TYPE },
  { name: FPU_FEATURE, types: VECTOR_TYPE },
  { name: SYSTEM_FEATURE },
];

/** How one gdb register is reached on the CPU. */
export type RegisterAccess =
  | { kind: 'x'; n: number }
  | { kind: 'sp' }
  | { kind: 'pc' }
  | { kind: 'cpsr' }
  /** V[n], 128 bits. */
  | { kind: 'v'; n: number }
  | { kind: 'sysreg'; spec: SysregSpec }
  /** SP_EL2 has no MRS encoding (only EL3 could name it) but a hypervisor author wants it. */
  | { kind: 'sp_el2' };

export interface DebugRegister extends RegisterDescription {
  readonly access: RegisterAccess;
}

function sysreg(name: string): RegisterAccess {
  return { kind: 'sysreg', spec: SYSREGS.find((s) => s.name === name)! };
}

function typeOf(s: SysregSpec): string {
  if (/^(ELR|VBAR)_/.test(s.name)) return 'code_ptr';
  if (/^SP_EL/.test(s.name)) return 'data_ptr';
  return 'uint64';
}

/** gdb's register list: the core registers, the table's system registers, then `devices`' (a machine's GIC). */
export function buildRegisters(devices: readonly SysregSpec[] = []): DebugRegister[] {
  const regs: DebugRegister[] = [];
  const add = (r: Omit<DebugRegister, 'regnum'>) => regs.push({ ...r, regnum: regs.length });
  for (let i = 0; i < 31; i++)
    add({ name: `x${i}`, bitsize: 64, type: 'int', feature: CORE_FEATURE, access: { kind: 'x', n: i } });
  add({ name: 'sp', bitsize: 64, type: 'data_ptr', feature: CORE_FEATURE, access: { kind: 'sp' } });
  add({ name: 'pc', bitsize: 64, type: 'code_ptr', feature: CORE_FEATURE, access: { kind: 'pc' } });
  add({ name: 'cpsr', bitsize: 32, type: 'cpsr_flags', feature: CORE_FEATURE, access: { kind: 'cpsr' } });
  for (let i = 0; i < 32; i++)
    add({ name: `v${i}`, bitsize: 128, type: 'aarch64v', feature: FPU_FEATURE, access: { kind: 'v', n: i } });
  for (const name of ['FPSR', 'FPCR'])
    add({ name: name.toLowerCase(), bitsize: 32, type: 'int', feature: FPU_FEATURE, access: sysreg(name) });
  const taken = new Set(regs.map((r) => r.name));
  // A device's write-only register (ICC_EOIR1_EL1, ICC_SGI1R_EL1) has nothing to show.
  for (const s of [...SYSREGS, ...devices.filter((d) => d.access !== 'wo')]) {
    if (taken.has(s.lower)) continue;
    taken.add(s.lower);
    add({
      name: s.lower,
      bitsize: 64,
      type: typeOf(s),
      group: 'system',
      feature: SYSTEM_FEATURE,
      access: { kind: 'sysreg', spec: s },
      ...(s.access === 'ro' ? { readOnly: true } : {}),
    });
  }
  if (!taken.has('sp_el2'))
    add({
      name: 'sp_el2',
      bitsize: 64,
      type: 'data_ptr',
      group: 'system',
      feature: SYSTEM_FEATURE,
      access: { kind: 'sp_el2' },
    });
  return regs;
}

export function readRegister(cpu: Cpu, a: RegisterAccess): bigint {
  switch (a.kind) {
    case 'x':
      return cpu.x[a.n]!;
    case 'sp':
      return cpu.getSp();
    case 'pc':
      return cpu.pcs[0]!;
    case 'cpsr':
      return BigInt(cpu.ps.toSpsr());
    case 'v':
      return cpu.v.q(a.n);
    case 'sp_el2':
      return cpu.spEl[2]!;
    case 'sysreg':
      return peekSysreg(cpu, a.spec);
  }
}

/** False when the value is not one the register can hold (e.g. a CPSR naming EL3). */
export function writeRegister(cpu: Cpu, a: RegisterAccess, v: bigint): boolean {
  switch (a.kind) {
    case 'x':
      cpu.x[a.n] = v;
      return true;
    case 'sp':
      cpu.setSp(v);
      return true;
    case 'pc':
      cpu.pcs[0] = v;
      return true;
    case 'sp_el2':
      cpu.spEl[2] = v;
      return true;
    case 'v':
      cpu.v.setQ(a.n, v);
      return true;
    case 'cpsr': {
      const m = Number(v & 0x1fn);
      // AArch64 states this PE has: M[4]=0 (no AArch32), M[1]=0, EL0..EL2, and EL0 only with SP_EL0.
      if ((m & 0x10) !== 0 || (m & 2) !== 0 || m >>> 2 > 2 || m === 1) return false;
      cpu.ps.setFlagsAndMasks(Number(v & 0xffff_ffffn));
      cpu.ps.el = m >>> 2;
      cpu.ps.sp = m & 1;
      cpu.contextChanged();
      return true;
    }
    case 'sysreg':
      if (a.spec.access === 'ro') return false;
      writeSysreg(cpu, a.spec, v);
      return true;
  }
}
