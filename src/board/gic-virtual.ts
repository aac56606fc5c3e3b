// The GICv3 virtual CPU interface of one PE: the hypervisor's ICH_*_EL2 registers (4 list
// registers, 5 bits of virtual priority and preemption, as QEMU's), what the guest sees
// through ICV_*_EL1 when HCR_EL2.IMO/FMO route its ICC_* accesses there, the virtual IRQ
// and FIQ it signals, and the maintenance interrupt (PPI 25).
import type { Cpu } from '../cpu/cpu.js';
import { LINE } from '../pe/state.js';
import {
  SPURIOUS,
  PRIO_MASK,
  MIN_BPR0,
  activate,
  canPreempt,
  dropPriority,
  groupPriorityMask,
  runningPriority,
} from './gic-priority.js';

/** What the virtual interface asks of the GIC: deactivating a HW interrupt, driving PPI 25. */
export interface VirtualInterfaceWiring {
  deactivate(pintid: number): void;
  maintenance(level: boolean): void;
}

export const LIST_REGISTERS = 4;
/** ICH_VTR_EL2 as QEMU reports it: PRIbits 4, PREbits 4, IDbits 1, A3V, nV4, TDS, ListRegs 3. */
export const ICH_VTR = 0x90b8_0003n;

export const ICH_HCR = {
  EN: 1 << 0,
  UIE: 1 << 1,
  LRENPIE: 1 << 2,
  NPIE: 1 << 3,
  VGRP0EIE: 1 << 4,
  VGRP0DIE: 1 << 5,
  VGRP1EIE: 1 << 6,
  VGRP1DIE: 1 << 7,
  TC: 1 << 10,
  TALL0: 1 << 11,
  TALL1: 1 << 12,
  TDIR: 1 << 14,
} as const;
const HCR_WRITABLE = 0xf800_5cff; // the bits above and EOIcount [31:27]
const EOICOUNT_SHIFT = 27;

export const ICH_MISR = { EOI: 1, U: 2, LRENP: 4, NP: 8, VGRP0E: 16, VGRP0D: 32, VGRP1E: 64, VGRP1D: 128 } as const;

const VMCR_VENG0 = 1 << 0;
const VMCR_VENG1 = 1 << 1;
const VMCR_VFIQEN = 1 << 3;
const VMCR_VCBPR = 1 << 4;
const VMCR_VEOIM = 1 << 9;
const VBPR1_SHIFT = 18;
const VBPR0_SHIFT = 21;
const VPMR_SHIFT = 24;
const VMCR_WRITABLE =
  VMCR_VENG0 | VMCR_VENG1 | VMCR_VCBPR | VMCR_VEOIM | (7 << VBPR1_SHIFT) | (7 << VBPR0_SHIFT) | (0xff << VPMR_SHIFT);
/** VFIQEn, VBPR1 3, VBPR0 2: QEMU's reset value. */
const VMCR_RESET = VMCR_VFIQEN | ((MIN_BPR0 + 1) << VBPR1_SHIFT) | (MIN_BPR0 << VBPR0_SHIFT);

/** ICH_LR<n>_EL2 fields. */
export const LR = {
  STATE_SHIFT: 62n,
  PENDING: 1,
  ACTIVE: 2,
  HW: 1n << 61n,
  GROUP: 1n << 60n,
  PRIORITY_SHIFT: 48n,
  EOI: 1n << 41n,
  PINTID_SHIFT: 32n,
} as const;
/** The unimplemented low bits of the priority field (5 bits implemented) are RES0. */
const LR_WRITABLE = ~(7n << LR.PRIORITY_SHIFT) & 0xffff_ffff_ffff_ffffn;

/** What a list register holds once `v` is written to it. */
export function lrHeld(v: bigint): bigint {
  return v & LR_WRITABLE;
}

const LR_STATE = 3n << LR.STATE_SHIFT;

/** Whether a list register is free for reuse (its ICH_ELRSR_EL2 bit): invalid, and no EOI maintenance pending. */
function lrFree(lr: bigint): boolean {
  return (lr & LR_STATE) === 0n && ((lr & LR.HW) !== 0n || (lr & LR.EOI) === 0n);
}

/**
 * Whether a hypervisor knows a list register holds `lr` from its saved copy without reading it:
 * the register is free (ICH_ELRSR_EL2 says so) and the copy differs only in State, the one field
 * the GIC changes as the guest acknowledges and completes the interrupt (KVM's
 * __vgic_v3_save_state clears the copy's State instead of reading a free register).
 */
export function lrKnownFrom(lr: bigint, saved: bigint): boolean {
  return lrFree(lr) && (lrHeld(saved) & ~LR_STATE) === lr;
}

/** A list register decoded. */
export interface ListRegister {
  readonly vintid: number;
  /** 0 invalid, 1 pending, 2 active, 3 pending and active. */
  readonly state: number;
  readonly priority: number;
  readonly group: number;
  readonly hw: boolean;
  /** pINTID with HW set; with HW clear, bit 41 is the EOI maintenance request. */
  readonly pintid: number;
  readonly eoi: boolean;
}

export function decodeLr(lr: bigint): ListRegister {
  const hw = (lr & LR.HW) !== 0n;
  return {
    vintid: Number(lr & 0xffff_ffffn),
    state: Number(lr >> LR.STATE_SHIFT),
    priority: Number((lr >> LR.PRIORITY_SHIFT) & 0xffn),
    group: Number((lr >> 60n) & 1n),
    hw,
    pintid: Number((lr >> LR.PINTID_SHIFT) & 0x3ffn),
    eoi: !hw && (lr & LR.EOI) !== 0n,
  };
}

/** What ICH_VMCR_EL2 holds once `v` is written: VFIQEn RES1, the binary points at least their minimums. */
export function vmcrHeld(v: bigint): number {
  let m = (Number(v & BigInt(VMCR_WRITABLE)) | VMCR_VFIQEN) >>> 0;
  m = withField(m, VBPR0_SHIFT, Math.max(field(m, VBPR0_SHIFT), MIN_BPR0));
  return withField(m, VBPR1_SHIFT, Math.max(field(m, VBPR1_SHIFT), MIN_BPR0 + 1));
}

export class VirtualCpuInterface {
  hcr = 0;
  vmcr = VMCR_RESET;
  readonly lr = new BigUint64Array(LIST_REGISTERS);
  /** ICH_AP0R0_EL2 and ICH_AP1R0_EL2. */
  apr = [0, 0];

  constructor(
    private readonly cpu: Cpu,
    private readonly wiring: VirtualInterfaceWiring,
  ) {}

  reset(): void {
    this.hcr = 0;
    this.vmcr = VMCR_RESET;
    this.lr.fill(0n);
    this.apr = [0, 0];
  }

  // --- the hypervisor's registers ---------------------------------------------------

  writeHcr(v: bigint): void {
    this.hcr = Number(v & BigInt(HCR_WRITABLE)) >>> 0;
    this.update();
  }

  writeVmcr(v: bigint): void {
    this.vmcr = vmcrHeld(v);
    this.update();
  }

  writeLr(n: number, v: bigint): void {
    this.lr[n] = lrHeld(v);
    this.update();
  }

  writeApr(group: number, v: bigint): void {
    this.apr[group] = Number(v & 0xffff_ffffn) >>> 0;
    this.update();
  }

  /** ICH_EISR_EL2: list registers that are invalid, not HW, and asked for an EOI maintenance interrupt. */
  get eisr(): number {
    let v = 0;
    this.lr.forEach((lr, i) => {
      if ((lr & (3n << LR.STATE_SHIFT)) === 0n && (lr & (LR.HW | LR.EOI)) === LR.EOI) v |= 1 << i;
    });
    return v;
  }

  /** ICH_ELRSR_EL2: list registers free for reuse (invalid, and no EOI maintenance pending). */
  get elrsr(): number {
    let v = 0;
    this.lr.forEach((lr, i) => {
      if (lrFree(lr)) v |= 1 << i;
    });
    return v;
  }

  /** ICH_MISR_EL2: the maintenance interrupt's causes. */
  get misr(): number {
    let valid = 0;
    let pending = false;
    for (const lr of this.lr) {
      const state = Number(lr >> LR.STATE_SHIFT);
      if (state !== 0) valid++;
      if (state === LR.PENDING) pending = true;
    }
    const h = this.hcr;
    const veng0 = (this.vmcr & VMCR_VENG0) !== 0;
    const veng1 = (this.vmcr & VMCR_VENG1) !== 0;
    let v = 0;
    if (this.eisr !== 0) v |= ICH_MISR.EOI;
    if ((h & ICH_HCR.UIE) !== 0 && valid < 2) v |= ICH_MISR.U;
    if ((h & ICH_HCR.LRENPIE) !== 0 && h >>> EOICOUNT_SHIFT !== 0) v |= ICH_MISR.LRENP;
    if ((h & ICH_HCR.NPIE) !== 0 && !pending) v |= ICH_MISR.NP;
    if ((h & ICH_HCR.VGRP0EIE) !== 0 && veng0) v |= ICH_MISR.VGRP0E;
    if ((h & ICH_HCR.VGRP0DIE) !== 0 && !veng0) v |= ICH_MISR.VGRP0D;
    if ((h & ICH_HCR.VGRP1EIE) !== 0 && veng1) v |= ICH_MISR.VGRP1E;
    if ((h & ICH_HCR.VGRP1DIE) !== 0 && !veng1) v |= ICH_MISR.VGRP1D;
    return v;
  }

  // --- the guest's view (ICV_*_EL1) ----------------------------------------------------

  get vpmr(): number {
    return this.vmcr >>> VPMR_SHIFT;
  }

  get eoiMode(): boolean {
    return (this.vmcr & VMCR_VEOIM) !== 0;
  }

  /** ICV_RPR_EL1. */
  get runningPriority(): number {
    return runningPriority(this.apr);
  }

  /** ICV_CTLR_EL1: VCBPR and VEOIM from ICH_VMCR_EL2, the read-only fields as ICH_VTR_EL2 gives them. */
  get ctlr(): number {
    return 0x8c00 | ((this.vmcr & VMCR_VCBPR) !== 0 ? 1 : 0) | (this.eoiMode ? 2 : 0);
  }

  writeCtlr(v: bigint): void {
    this.vmcr = withField(withField(this.vmcr, 4, Number(v & 1n), 1), 9, Number((v >> 1n) & 1n), 1);
    this.update();
  }

  writePmr(v: bigint): void {
    this.vmcr = withField(this.vmcr, VPMR_SHIFT, Number(v) & PRIO_MASK, 8);
    this.update();
  }

  readBpr(group: number): number {
    if (group === 1 && (this.vmcr & VMCR_VCBPR) !== 0) return Math.min(field(this.vmcr, VBPR0_SHIFT) + 1, 7);
    return field(this.vmcr, group === 0 ? VBPR0_SHIFT : VBPR1_SHIFT);
  }

  writeBpr(group: number, v: bigint): void {
    if (group === 1 && (this.vmcr & VMCR_VCBPR) !== 0) return;
    const min = group === 0 ? MIN_BPR0 : MIN_BPR0 + 1;
    this.vmcr = withField(this.vmcr, group === 0 ? VBPR0_SHIFT : VBPR1_SHIFT, Math.max(Number(v & 7n), min));
    this.update();
  }

  igrpen(group: number): number {
    return (this.vmcr >>> group) & 1;
  }

  writeIgrpen(group: number, v: bigint): void {
    this.vmcr = withField(this.vmcr, group, Number(v & 1n), 1);
    this.update();
  }

  private mask(group: number): number {
    const vmcr = this.vmcr;
    return groupPriorityMask(group, field(vmcr, VBPR0_SHIFT), field(vmcr, VBPR1_SHIFT), (vmcr & VMCR_VCBPR) !== 0);
  }

  /** The list register holding the highest-priority pending virtual interrupt of an enabled group, -1 for none. */
  private highestPending(): number {
    let best = -1;
    let prio = 0xff;
    this.lr.forEach((lr, i) => {
      const d = decodeLr(lr);
      if (d.state !== LR.PENDING || this.igrpen(d.group) === 0 || d.priority >= prio) return;
      best = i;
      prio = d.priority;
    });
    return best;
  }

  /** CanSignalVirtualInterrupt: the interface enabled, above VPMR, preempting the running priority. */
  private canSignal(lr: ListRegister): boolean {
    if ((this.hcr & ICH_HCR.EN) === 0) return false;
    return canPreempt(lr.priority, this.mask(lr.group), this.vpmr, runningPriority(this.apr));
  }

  /** The list register ICV_IAR0/1_EL1 would acknowledge now, -1 for none. */
  private acknowledgeableLr(group: number): number {
    const i = this.highestPending();
    if (i < 0) return -1;
    const d = decodeLr(this.lr[i]!);
    return d.group === group && this.canSignal(d) ? i : -1;
  }

  /** The INTID ICV_IAR0/1_EL1 would return now, without acknowledging it. */
  acknowledgeable(group: number): number {
    const i = this.acknowledgeableLr(group);
    return i < 0 ? SPURIOUS : decodeLr(this.lr[i]!).vintid;
  }

  /** ICV_IAR0/1_EL1. */
  acknowledge(group: number): number {
    const i = this.acknowledgeableLr(group);
    if (i < 0) return SPURIOUS;
    const d = decodeLr(this.lr[i]!);
    if (d.vintid >= 1020 && d.vintid < 1024) {
      this.lr[i] = this.lr[i]! & ~(1n << LR.STATE_SHIFT); // a special INTID goes from pending to invalid
    } else {
      this.lr[i] = (this.lr[i]! & ~(3n << LR.STATE_SHIFT)) | (BigInt(LR.ACTIVE) << LR.STATE_SHIFT);
      activate(this.apr, group, d.priority, this.mask(group));
    }
    this.update();
    return d.vintid;
  }

  /** ICV_HPPIR0/1_EL1. */
  highestPendingId(group: number): number {
    const i = this.highestPending();
    if (i < 0) return SPURIOUS;
    const d = decodeLr(this.lr[i]!);
    return d.group === group ? d.vintid : SPURIOUS;
  }

  /** ICV_EOIR0/1_EL1: drops the running priority, then deactivates unless VEOIM splits them. */
  endOfInterrupt(group: number, intid: number): void {
    if (intid >= 1020 && intid < 1024) return;
    const dropped = dropPriority(this.apr);
    if (dropped === null) return; // nothing active: the list registers are not checked
    const i = this.findActive(intid);
    if (i < 0) this.incrementEoiCount();
    else {
      const d = decodeLr(this.lr[i]!);
      if (d.group === group && (d.priority & this.mask(group)) === dropped.priority && !this.eoiMode)
        this.deactivateLr(i);
    }
    this.update();
  }

  /** ICV_DIR_EL1 (with VEOIM set). */
  deactivate(intid: number): void {
    if (intid >= 1020 || !this.eoiMode) return;
    const i = this.findActive(intid);
    if (i < 0) this.incrementEoiCount();
    else this.deactivateLr(i);
    this.update();
  }

  private findActive(intid: number): number {
    return this.lr.findIndex((lr) => (Number(lr >> LR.STATE_SHIFT) & LR.ACTIVE) !== 0 && decodeLr(lr).vintid === intid);
  }

  /** Active → invalid, pending and active → pending; with HW set the physical INTID is deactivated too. */
  private deactivateLr(i: number): void {
    const d = decodeLr(this.lr[i]!);
    if (d.hw && d.pintid < 1020) this.wiring.deactivate(d.pintid);
    this.lr[i] = this.lr[i]! & ~(BigInt(LR.ACTIVE) << LR.STATE_SHIFT);
  }

  private incrementEoiCount(): void {
    const count = ((this.hcr >>> EOICOUNT_SHIFT) + 1) & 0x1f;
    this.hcr = ((this.hcr & ~(0x1f << EOICOUNT_SHIFT)) | (count << EOICOUNT_SHIFT)) >>> 0;
  }

  /** Drives the PE's virtual IRQ and FIQ inputs and the maintenance interrupt from the current state. */
  update(): void {
    let virq = false;
    let vfiq = false;
    const i = this.highestPending();
    if (i >= 0) {
      const d = decodeLr(this.lr[i]!);
      if (this.canSignal(d)) {
        virq = d.group === 1;
        vfiq = d.group === 0;
      }
    }
    this.cpu.setLine(LINE.VIRQ, virq);
    this.cpu.setLine(LINE.VFIQ, vfiq);
    this.wiring.maintenance((this.hcr & ICH_HCR.EN) !== 0 && this.misr !== 0);
  }

  /** The list register whose virtual interrupt is signalled now, -1 for none. */
  signalled(): number {
    const i = this.highestPending();
    return i >= 0 && this.canSignal(decodeLr(this.lr[i]!)) ? i : -1;
  }
}

function field(v: number, shift: number, width = 3): number {
  return (v >>> shift) & ((1 << width) - 1);
}

function withField(v: number, shift: number, value: number, width = 3): number {
  const mask = ((1 << width) - 1) << shift;
  return ((v & ~mask) | ((value << shift) & mask)) >>> 0;
}
