// `--vcpu-layout linux`: KVM's vcpu layout derived from the kernel image itself. Offsets and
// register indexes come from the kernel's BTF (they change with every configuration); what BTF
// cannot say (a flag that is a macro, which registers vcpu_load defers) comes from a small table
// of facts per kernel version, each checked against the kernel source (see LINUX_FACTS).
import { Btf, BtfError } from '../loader/btf.js';
import { LoadError } from '../loader/elf.js';
import { readKernelImage } from '../loader/kernel-image.js';
import { readKallsyms, type KernelSymbol } from '../loader/kallsyms.js';
import type { ElfSymbol } from '../loader/elf.js';
import { sysregByName } from '../sysregs/registry.js';
import { LIST_REGISTERS } from '../board/gic-virtual.js';
import {
  LAYOUT_FORMAT,
  LayoutError,
  parseLayout,
  readLayout,
  type MachineRegisters,
  type VcpuLayout,
} from './layout.js';

/** What a kernel version's KVM does that its BTF does not say. */
export interface LinuxKvmFacts {
  /** The loaded flag of the EL1 registers: a member of `struct kvm_vcpu` and its bit (a macro in the source). */
  readonly sysregsOnCpu: { readonly member: string; readonly bit: number };
  /** `enum vcpu_sysreg` registers that VHE's vcpu_load restores and vcpu_put saves under that flag. */
  readonly deferred: readonly string[];
  /** Registers saved and restored at every guest exit and entry, also under VHE. */
  readonly switched: readonly string[];
  /** The timer contexts (an array indexed by `enum kvm_arch_timers`), each with a `loaded` flag; their registers. */
  readonly timers: {
    readonly array: string;
    readonly loaded: string;
    readonly registers: Readonly<Record<string, readonly string[]>>;
    /** Timers KVM emulates without VHE (trapped, never loaded on the CPU): get_timer_map's emul_ptimer. */
    readonly emulatedInNvhe: readonly string[];
  };
  /** FP/SIMD: the ownership word, the value meaning the guest's registers are on the CPU, where they are saved. */
  readonly fp: { readonly state: string; readonly owned: string; readonly regs: string };
  /** The vGIC v3 CPU interface's saved state. */
  readonly vgic: {
    readonly base: string;
    readonly vmcr: string;
    readonly ap0r: string;
    readonly ap1r: string;
    /** The list registers' saved copies, and how many of them the last flush filled (the rest are stale). */
    readonly lr: string;
    readonly usedLrs: string;
    /** The functions that restore and save VMCR and the APRs (the vcpu is their first argument). */
    readonly load: string;
    readonly put: string;
  };
  /** The functions that load and put a vcpu, and the one that frees it (the first argument is the vcpu). */
  readonly load: string;
  readonly put: string;
  readonly destroy: string;
  /** `struct kvm_vcpu`'s pointer to its VM and its id there. */
  readonly vm: string;
  readonly id: string;
}

/**
 * Per major.minor. Linux 6.1 (checked against the source of v6.1 and Debian's 6.1.0 BTF):
 * - arch/arm64/include/asm/kvm_host.h: `#define SYSREGS_ON_CPU __vcpu_single_flag(sflags, BIT(4))`
 *   (since "KVM: arm64: Convert vcpu sysregs_loaded_on_cpu to a state flag", v6.0; renumbered to
 *   BIT(2) when the host SVE/SME flags moved to kvm_host_data, after 6.1);
 * - arch/arm64/kvm/hyp/vhe/sysreg-sr.c: kvm_vcpu_load_sysregs_vhe restores
 *   __sysreg_restore_user_state + __sysreg_restore_el1_state, then sets SYSREGS_ON_CPU;
 *   kvm_vcpu_put_sysregs_vhe saves __sysreg_save_el1_state + __sysreg_save_user_state, then clears it;
 * - arch/arm64/kvm/hyp/include/hyp/sysreg-sr.h: __sysreg_save_el1_state saves CSSELR, SCTLR, CPACR,
 *   TTBR0/1, TCR, ESR, AFSR0/1, FAR, MAIR, VBAR, CONTEXTIDR, AMAIR, CNTKCTL, PAR, TPIDR_EL1, SP_EL1,
 *   ELR_EL1, SPSR_EL1 (MTE's TFSR* only with MTE, which hypstep does not advertise);
 *   __sysreg_save_user_state TPIDR_EL0, TPIDRRO_EL0; __sysreg_save_common_state MDSCR_EL1, called by
 *   sysreg_save_guest_state_vhe at every exit;
 * - kvm_host.h: `enum { FP_STATE_FREE, FP_STATE_HOST_OWNED, FP_STATE_GUEST_OWNED } fp_state`;
 *   arch/arm64/kvm/hyp/include/hyp/switch.h (kvm_hyp_handle_fpsimd, at the guest's first FP trap)
 *   restores ctxt.fp_regs (vregs[32] then fpsr, fpcr) then sets FP_STATE_GUEST_OWNED; fpsimd.c's
 *   kvm_arch_vcpu_put_fp saves them (fpsimd_save_and_flush_cpu_state) but leaves fp_state as it
 *   is, until the next kvm_arch_vcpu_load_fp sets FP_STATE_HOST_OWNED;
 * - arch/arm64/kvm/arch_timer.c: timer_restore_state / timer_save_state write and read CNTV_* or
 *   CNTP_* (kept in sys_regs[]) and set / clear `ctx->loaded`;
 * - arch/arm64/kvm/vgic/vgic-v3.c: vgic_v3_load (from kvm_arch_vcpu_load's kvm_vgic_load, only for a
 *   VM whose vGIC is initialised) restores vgic_vmcr (kvm_call_hyp(__vgic_v3_write_vmcr), when
 *   vgic_sre) and the APRs (__vgic_v3_restore_aprs); vgic_v3_put (from kvm_arch_vcpu_put's
 *   kvm_vgic_put) saves them (vgic_v3_vmcr_sync, __vgic_v3_save_aprs); kvm_vcpu_wfi also syncs
 *   VMCR to memory while loaded. Neither is saved at exits, under VHE or nVHE. The list registers
 *   are switched around each run, bounded by used_lrs: vgic.c's kvm_vgic_flush_hwstate writes
 *   vgic_lr[] from the vcpu's ap_list, sets used_lrs and (VHE; nVHE: the hyp's __kvm_vcpu_run)
 *   restores the first used_lrs; kvm_vgic_sync_hwstate saves those after the run (a free one by
 *   clearing its copy's State, ICH_ELRSR_EL2) and zeroes them on the CPU, and vgic_v3_fold_lr_state
 *   sets used_lrs to 0 (checked in Debian's 6.1.0 by objdump); the slots past used_lrs are stale
 *   by design.
 * - arch/arm64/kvm/arm.c: kvm_arch_vcpu_load(vcpu, cpu), kvm_arch_vcpu_put(vcpu) and
 *   kvm_arch_vcpu_destroy(vcpu) (called by kvm_destroy_vcpus before the vcpu is freed);
 *   include/linux/kvm_host.h: `struct kvm *kvm` and `int vcpu_id` in struct kvm_vcpu.
 */
export const LINUX_FACTS: Readonly<Record<string, LinuxKvmFacts>> = {
  '6.1': {
    sysregsOnCpu: { member: 'arch.sflags', bit: 4 },
    deferred: [
      'CSSELR_EL1',
      'SCTLR_EL1',
      'CPACR_EL1',
      'TTBR0_EL1',
      'TTBR1_EL1',
      'TCR_EL1',
      'ESR_EL1',
      'AFSR0_EL1',
      'AFSR1_EL1',
      'FAR_EL1',
      'MAIR_EL1',
      'VBAR_EL1',
      'CONTEXTIDR_EL1',
      'AMAIR_EL1',
      'CNTKCTL_EL1',
      'PAR_EL1',
      'TPIDR_EL1',
      'SP_EL1',
      'ELR_EL1',
      'SPSR_EL1',
      'TPIDR_EL0',
      'TPIDRRO_EL0',
    ],
    switched: ['MDSCR_EL1'],
    timers: {
      array: 'arch.timer_cpu.timers',
      loaded: 'loaded',
      registers: { TIMER_VTIMER: ['CNTV_CTL_EL0', 'CNTV_CVAL_EL0'], TIMER_PTIMER: ['CNTP_CTL_EL0', 'CNTP_CVAL_EL0'] },
      emulatedInNvhe: ['TIMER_PTIMER'],
    },
    fp: { state: 'arch.fp_state', owned: 'FP_STATE_GUEST_OWNED', regs: 'arch.ctxt.fp_regs' },
    vgic: {
      base: 'arch.vgic_cpu.vgic_v3',
      vmcr: 'vgic_vmcr',
      ap0r: 'vgic_ap0r',
      ap1r: 'vgic_ap1r',
      lr: 'vgic_lr',
      usedLrs: 'used_lrs',
      load: 'vgic_v3_load',
      put: 'vgic_v3_put',
    },
    load: 'kvm_arch_vcpu_load',
    put: 'kvm_arch_vcpu_put',
    destroy: 'kvm_arch_vcpu_destroy',
    vm: 'kvm',
    id: 'vcpu_id',
  },
};

/** The architectural encodings of the registers the derived layout may name that hypstep's table lacks. */
function encodingOf(name: string): { op0: number; op1: number; crn: number; crm: number; op2: number } | undefined {
  if (sysregByName(name)) return undefined;
  const ap = /^ICH_AP([01])R(\d)_EL2$/.exec(name);
  if (ap) return { op0: 3, op1: 4, crn: 12, crm: ap[1] === '0' ? 8 : 9, op2: (ap[1] === '0' ? 4 : 0) + Number(ap[2]) };
  const lr = /^ICH_LR(\d+)_EL2$/.exec(name);
  if (lr) return { op0: 3, op1: 4, crn: 12, crm: 12 + (Number(lr[1]) >> 3), op2: Number(lr[1]) & 7 };
  const fixed: Record<string, [number, number, number, number, number]> = {
    ICH_VMCR_EL2: [3, 4, 12, 11, 7],
    FPCR: [3, 3, 4, 4, 0],
    FPSR: [3, 3, 4, 4, 1],
  };
  const f = fixed[name];
  return f ? { op0: f[0], op1: f[1], crn: f[2], crm: f[3], op2: f[4] } : undefined;
}

/** The kernel release (`6.1.0-56-cloud-arm64`) and major.minor from the image's `linux_banner`. */
export function kernelVersion(image: Uint8Array): { release: string; version: string } | undefined {
  const banner = Buffer.from(image.buffer, image.byteOffset, image.byteLength).indexOf('Linux version ');
  if (banner < 0) return undefined;
  const text = Buffer.from(image.subarray(banner + 14, banner + 14 + 128)).toString('latin1');
  const m = /^((\d+)\.(\d+)\S*)/.exec(text);
  return m ? { release: m[1]!, version: `${m[2]}.${m[3]}` } : undefined;
}

export interface LinuxLayoutOptions {
  /** 'vhe' (the default: KVM's VHE mode) or 'nvhe' (kvm-arm.mode=nvhe: every register switched on entry and exit). */
  mode?: 'vhe' | 'nvhe';
  /** Use this version's facts instead of the image's own (for a kernel the table does not know). */
  facts?: string;
  /** The machine's vGIC: active-priority registers per group (hypstep's: 1). */
  aprs?: number;
  /** The machine's vGIC: list registers (hypstep's: 4). */
  lrs?: number;
  what?: string;
}

type Json = Record<string, unknown>;

/** The derived layout as the JSON object `--vcpu-layout` files hold. */
export function deriveLinuxLayout(image: Uint8Array, btf: Btf, opts: LinuxLayoutOptions = {}): Json {
  const what = opts.what ?? 'the kernel';
  const mode = opts.mode ?? 'vhe';
  const ver = kernelVersion(image);
  const key = opts.facts ?? ver?.version;
  const facts = key === undefined ? undefined : LINUX_FACTS[key];
  const known = Object.keys(LINUX_FACTS).join(', ');
  if (!facts) {
    if (opts.facts !== undefined) throw new LoadError(`no KVM facts for Linux ${opts.facts} (known: ${known})`);
    throw new LoadError(
      `${what} is Linux ${ver?.release ?? '(no version banner found)'}: hypstep knows KVM's facts for ${known} only ` +
        `(SYSREGS_ON_CPU's bit, which registers vcpu_load defers); check them in your kernel's source, then ` +
        `'hypstep layout linux IMAGE --facts ${Object.keys(LINUX_FACTS).at(-1)} > kvm.json', correct what differs and pass --vcpu-layout kvm.json`,
    );
  }
  try {
    return build(btf, facts, mode, opts, ver?.release ?? key!);
  } catch (e) {
    if (e instanceof BtfError) throw new LoadError(`${what}: ${e.message} (do the facts for ${key} fit this kernel?)`);
    throw e;
  }
}

function build(btf: Btf, facts: LinuxKvmFacts, mode: 'vhe' | 'nvhe', opts: LinuxLayoutOptions, release: string): Json {
  const vcpu = (member: string) => btf.path(`kvm_vcpu.${member}`);
  const field = (member: string) => {
    const f = vcpu(member);
    return { offset: f.offset, width: f.size };
  };
  const sysregIndex = btf.enumValues('vcpu_sysreg');
  const sysRegs = btf.arrayAt('kvm_vcpu.arch.ctxt.sys_regs');
  const arrays: Json = {
    sys_regs: {
      offset: sysRegs.offset,
      stride: sysRegs.stride,
      description: 'kvm_vcpu.arch.ctxt.sys_regs[enum vcpu_sysreg]',
    },
  };
  const sysregs: Json = {};
  const slot = (name: string, place: Json, description: string): void => {
    const enc = encodingOf(name);
    sysregs[name] = { ...place, ...(enc ? { encoding: enc } : {}), description };
  };
  const inSysRegs = (name: string): void => {
    const index = sysregIndex.get(name);
    if (index === undefined) throw new BtfError(`enum vcpu_sysreg has no ${name}`);
    slot(name, { array: 'sys_regs', index: Number(index) }, `kvm_vcpu.arch.ctxt.sys_regs[${name}]`);
  };
  const flags: Json = {};

  // The EL1 registers: deferred to load/put under VHE, switched on every entry and exit otherwise.
  for (const r of [...facts.deferred, ...facts.switched]) inSysRegs(r);
  if (mode === 'vhe') {
    const f = vcpu(facts.sysregsOnCpu.member);
    flags.SYSREGS_ON_CPU = {
      offset: f.offset,
      width: f.size,
      bit: facts.sysregsOnCpu.bit,
      governs: facts.deferred,
      description: `kvm_vcpu.${facts.sysregsOnCpu.member} bit ${facts.sysregsOnCpu.bit}: vcpu_load restored them, vcpu_put saves them`,
    };
  }

  // The timers: each context's `loaded` governs its registers, kept in sys_regs[].
  const timerIndex = btf.enumValues('kvm_arch_timers');
  for (const [timer, regs] of Object.entries(facts.timers.registers)) {
    const idx = timerIndex.get(timer);
    if (idx === undefined) throw new BtfError(`enum kvm_arch_timers has no ${timer}`);
    const loaded = vcpu(`${facts.timers.array}[${idx}].${facts.timers.loaded}`);
    for (const r of regs) inSysRegs(r);
    flags[`${timer}_LOADED`] = {
      // An emulated timer's registers stay in memory: the guest's accesses trap, nothing loads them.
      ...(mode === 'nvhe' && facts.timers.emulatedInNvhe.includes(timer) ? { onEntry: 'none' } : {}),
      offset: loaded.offset,
      width: loaded.size,
      bit: 0,
      governs: regs,
      description: `kvm_vcpu.${facts.timers.array}[${timer}].${facts.timers.loaded}`,
    };
  }

  // FP/SIMD, switched lazily: the guest's V registers, FPSR and FPCR are on the CPU while it owns
  // them (fp_state, an enum); until its first use traps, it runs with them trapped.
  const fpState = vcpu(facts.fp.state);
  const owned = btf.enumerator(facts.fp.owned);
  if (owned === undefined) throw new BtfError(`no enumerator ${facts.fp.owned}`);
  const vregs = btf.arrayAt(`kvm_vcpu.${facts.fp.regs}.vregs`);
  arrays.vregs = {
    offset: vregs.offset,
    stride: vregs.stride,
    width: 16,
    description: `kvm_vcpu.${facts.fp.regs}.vregs`,
  };
  const fpRegs: string[] = [];
  for (let n = 0; n < 32; n++) {
    sysregs[`V${n}`] = { array: 'vregs', index: n, description: `kvm_vcpu.${facts.fp.regs}.vregs[${n}]` };
    fpRegs.push(`V${n}`);
  }
  for (const [reg, member] of [
    ['FPSR', 'fpsr'],
    ['FPCR', 'fpcr'],
  ] as const) {
    const f = vcpu(`${facts.fp.regs}.${member}`);
    slot(reg, { offset: f.offset, width: f.size }, `kvm_vcpu.${facts.fp.regs}.${member}`);
    fpRegs.push(reg);
  }
  flags.FP_GUEST_OWNED = {
    offset: fpState.offset,
    width: fpState.size,
    equals: Number(owned.value),
    lazy: 'fp',
    governs: fpRegs,
    description: `kvm_vcpu.${facts.fp.state} == ${facts.fp.owned}: the guest's FP/SIMD registers are on the CPU (restored at its first FP trap)`,
  };

  // The vGIC v3 CPU interface. VMCR and the APRs are the CPU's from vgic_v3_load's return to
  // vgic_v3_put's (no word in memory says so: a flag between the two functions); the list
  // registers are switched around every run of the guest, the first used_lrs of them.
  const base = facts.vgic.base;
  const vgicLoaded: string[] = [];
  const vmcr = vcpu(`${base}.${facts.vgic.vmcr}`);
  slot('ICH_VMCR_EL2', { offset: vmcr.offset, width: vmcr.size }, `kvm_vcpu.${base}.${facts.vgic.vmcr}`);
  vgicLoaded.push('ICH_VMCR_EL2');
  const nAprs = opts.aprs ?? 1;
  for (const [group, member] of [
    ['0', facts.vgic.ap0r],
    ['1', facts.vgic.ap1r],
  ] as const) {
    const a = btf.arrayAt(`kvm_vcpu.${base}.${member}`);
    arrays[member] = { offset: a.offset, stride: a.stride, width: a.stride, description: `kvm_vcpu.${base}.${member}` };
    for (let n = 0; n < Math.min(nAprs, a.nelems); n++) {
      slot(`ICH_AP${group}R${n}_EL2`, { array: member, index: n }, `kvm_vcpu.${base}.${member}[${n}]`);
      vgicLoaded.push(`ICH_AP${group}R${n}_EL2`);
    }
  }
  const lr = btf.arrayAt(`kvm_vcpu.${base}.${facts.vgic.lr}`);
  const used = vcpu(`${base}.${facts.vgic.usedLrs}`);
  arrays[facts.vgic.lr] = {
    offset: lr.offset,
    stride: lr.stride,
    count: {
      offset: used.offset,
      width: used.size,
      description: `kvm_vcpu.${base}.${facts.vgic.usedLrs}: the list registers the last flush filled`,
    },
    description: `kvm_vcpu.${base}.${facts.vgic.lr}`,
  };
  for (let n = 0; n < Math.min(opts.lrs ?? LIST_REGISTERS, lr.nelems); n++)
    slot(`ICH_LR${n}_EL2`, { array: facts.vgic.lr, index: n }, `kvm_vcpu.${base}.${facts.vgic.lr}[${n}]`);
  flags.VGIC_LOADED = {
    between: { from: facts.vgic.load, to: facts.vgic.put },
    // Only a VM with an in-kernel vGIC loads it: another enters with it never loaded, its CPU
    // interface unused (ICH_HCR_EL2.En clear), whatever VMCR holds.
    onEntry: 'none',
    governs: vgicLoaded,
    description: `from the return of ${facts.vgic.load} to the return of ${facts.vgic.put}: they restore and save VMCR and the APRs`,
  };
  return {
    format: LAYOUT_FORMAT,
    version: 1,
    hypervisor: `KVM in Linux ${release} (${mode === 'vhe' ? 'VHE' : 'nVHE'})`,
    description:
      `Derived by hypstep from the kernel's BTF with the KVM facts of Linux ${Object.keys(LINUX_FACTS).find((k) => LINUX_FACTS[k] === facts)}. ` +
      'Offsets are bytes into struct kvm_vcpu; edit and pass with --vcpu-layout FILE to override.',
    discover: { function: facts.load, arg: 'x0', forget: facts.destroy },
    identity: {
      vm: { ...field(facts.vm), description: `kvm_vcpu.${facts.vm}: the VM (struct kvm *)` },
      id: { ...field(facts.id), description: `kvm_vcpu.${facts.id}` },
    },
    arrays,
    sysregs,
    flags,
    functions: { load: { symbol: facts.load }, put: { symbol: facts.put } },
  };
}

/** kallsyms as ELF symbols, each text symbol running to the next one (kallsyms keeps no sizes). */
function elfSymbols(ks: readonly KernelSymbol[]): ElfSymbol[] {
  const sorted = [...ks].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return sorted.map((k, i) => {
    let j = i + 1;
    while (j < sorted.length && sorted[j]!.address === k.address) j++;
    const next = sorted[j];
    return {
      name: k.name,
      value: k.address,
      size: next ? Number(next.address - k.address) : 0,
      type: /^[tTwW]$/.test(k.type) ? 'func' : 'object',
    };
  });
}

/**
 * A `--vcpu-layout` (or `monitor vcpu layout`) argument: `linux` or `linux#nvhe` derives the layout
 * from the kernel image being run; anything else names a layout file (`./linux` for a file so named).
 */
export function layoutFromOption(spec: string, imagePath?: string, registers?: MachineRegisters): VcpuLayout {
  const m = /^linux(?:#(vhe|nvhe))?$/.exec(spec);
  if (!m) return readLayout(spec, imagePath, registers);
  if (!imagePath) throw new LayoutError(`vcpu layout ${spec}: no kernel image to derive it from`);
  let derived: Json;
  let symbols: ElfSymbol[], imageBase: bigint;
  try {
    const image = readKernelImage(imagePath);
    derived = deriveLinuxLayout(image, Btf.fromImage(image, imagePath), {
      mode: m[1] === 'nvhe' ? 'nvhe' : 'vhe',
      what: imagePath,
    });
    // The functions it hooks, by the kernel's own symbol table (at link addresses).
    const kallsyms = readKallsyms(image, imagePath);
    symbols = elfSymbols(kallsyms.symbols);
    imageBase = kallsyms.tables.imageBase;
  } catch (e) {
    if (e instanceof LoadError) throw new LayoutError(e.message);
    throw e;
  }
  return {
    ...parseLayout(JSON.stringify(derived), { source: spec, ...(registers ? { registers } : {}) }),
    symbols,
    imageBase,
  };
}
