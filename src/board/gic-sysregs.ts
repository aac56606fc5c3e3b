// The GIC CPU interface as system registers, registered by the GIC on its machine: ICC_*_EL1
// (reaching the virtual interface's ICV_* view at EL1 when HCR_EL2.IMO/FMO route the group to
// EL2), ICC_SRE_EL1/EL2, and the hypervisor's ICH_*_EL2, with the ICH_HCR_EL2 trap controls.
import type { SysregPe } from '../sysregs/special.js';
import { HCR } from '../sysregs/registry.js';
import type { MachineSysregs } from '../sysregs/machine.js';
import type { SpecialAccess } from '../sysregs/special.js';
import type { SysregRow } from '../sysregs/table.js';
import { ICC_CTLR_RO, type Gic } from './gic.js';
import { ICH_HCR, ICH_VTR, LIST_REGISTERS, lrHeld, lrKnownFrom, vmcrHeld } from './gic-virtual.js';
import { PRIO_MASK, runningPriority } from './gic-priority.js';

/**
 * A register's kind: which HCR_EL2 routing bits send an EL1 access to the virtual interface,
 * and which ICH_HCR_EL2 bits trap it.
 */
const enum Kind {
  /** CTLR, PMR, RPR: virtual under IMO or FMO; trapped by TC. */
  Common,
  /** Group 0 registers: virtual under FMO; trapped by TALL0. */
  Group0,
  /** Group 1 registers: virtual under IMO; trapped by TALL1. */
  Group1,
  /** DIR: virtual under IMO or FMO; trapped by TC and TDIR. */
  Dir,
  /** SGI0R, SGI1R, ASGI1R: trapped to EL2 under IMO or FMO, and by TC. */
  Sgi,
}

const ROUTE: Record<Kind, number> = {
  [Kind.Common]: (1 << HCR.IMO) | (1 << HCR.FMO),
  [Kind.Group0]: 1 << HCR.FMO,
  [Kind.Group1]: 1 << HCR.IMO,
  [Kind.Dir]: (1 << HCR.IMO) | (1 << HCR.FMO),
  [Kind.Sgi]: 0,
};
const TRAP: Record<Kind, number> = {
  [Kind.Common]: ICH_HCR.TC,
  [Kind.Group0]: ICH_HCR.TALL0,
  [Kind.Group1]: ICH_HCR.TALL1,
  [Kind.Dir]: ICH_HCR.TC | ICH_HCR.TDIR,
  [Kind.Sgi]: ICH_HCR.TC,
};

/** Whether an EL1 access reaches the virtual CPU interface (ICV_*): EL1 with the group's routing bit set. */
function virtual(cpu: SysregPe, kind: Kind): boolean {
  return cpu.ps.el === 1 && (cpu.hcr & ROUTE[kind]) !== 0;
}

export function registerGicSysregs(sysregs: MachineSysregs, gic: Gic): void {
  const pe = (cpu: SysregPe) => gic.pes[cpu.index]!;
  const add = (name: string, enc: string, el: 1 | 2, access: SpecialAccess, more: Partial<SysregRow> = {}) =>
    sysregs.register({ name, enc, el, group: 'gic', ...more }, access);
  /** An ICC_*_EL1 register: `phys` and `virt` are its ICC and ICV behaviour; traps by its kind. */
  const icc = (
    name: string,
    enc: string,
    kind: Kind,
    phys: SpecialAccess,
    virt: SpecialAccess,
    more: Partial<SysregRow> = {},
  ) =>
    add(
      name,
      enc,
      1,
      {
        ...(phys.read && { read: (c) => (virtual(c, kind) ? virt : phys).read!(c) }),
        ...(phys.peek && { peek: (c) => (virtual(c, kind) ? virt : phys).peek!(c) }),
        ...(phys.write && { write: (c, v) => (virtual(c, kind) ? virt : phys).write!(c, v) }),
        trap: (c) =>
          (pe(c).ich.hcr & TRAP[kind]) !== 0 ||
          (kind === Kind.Sgi && (c.hcr & ((1 << HCR.IMO) | (1 << HCR.FMO))) !== 0),
      },
      more,
    );
  const update = () => gic.update();

  icc(
    'ICC_PMR_EL1',
    '3 0 4 6 0',
    Kind.Common,
    {
      read: (c) => BigInt(pe(c).icc.pmr),
      write: (c, v) => {
        pe(c).icc.pmr = Number(v & 0xffn) & PRIO_MASK;
        update();
      },
    },
    { read: (c) => BigInt(pe(c).ich.vpmr), write: (c, v) => pe(c).ich.writePmr(v) },
  );
  for (const group of [0, 1]) {
    const crm = group === 0 ? 8 : 12;
    const kind = group === 0 ? Kind.Group0 : Kind.Group1;
    icc(
      `ICC_IAR${group}_EL1`,
      `3 0 12 ${crm} 0`,
      kind,
      {
        read: (c) => BigInt(gic.acknowledge(c.index, group)),
        peek: (c) => BigInt(gic.acknowledgeable(c.index, group)),
      },
      { read: (c) => BigInt(pe(c).ich.acknowledge(group)), peek: (c) => BigInt(pe(c).ich.acknowledgeable(group)) },
      { access: 'ro' },
    );
    icc(
      `ICC_EOIR${group}_EL1`,
      `3 0 12 ${crm} 1`,
      kind,
      { write: (c, v) => gic.endOfInterrupt(c.index, group, Number(v & 0xff_ffffn)) },
      { write: (c, v) => pe(c).ich.endOfInterrupt(group, Number(v & 0xff_ffffn)) },
      { access: 'wo' },
    );
    icc(
      `ICC_HPPIR${group}_EL1`,
      `3 0 12 ${crm} 2`,
      kind,
      { read: (c) => BigInt(gic.highestPendingId(c.index, group)) },
      { read: (c) => BigInt(pe(c).ich.highestPendingId(group)) },
      { access: 'ro' },
    );
    icc(
      `ICC_BPR${group}_EL1`,
      `3 0 12 ${crm} 3`,
      kind,
      {
        read: (c) => BigInt(pe(c).icc.readBpr(group)),
        write: (c, v) => {
          pe(c).icc.writeBpr(group, Number(v & 7n));
          update();
        },
      },
      { read: (c) => BigInt(pe(c).ich.readBpr(group)), write: (c, v) => pe(c).ich.writeBpr(group, v) },
    );
    icc(
      `ICC_AP${group}R0_EL1`,
      group === 0 ? '3 0 12 8 4' : '3 0 12 9 0',
      kind,
      {
        read: (c) => BigInt(pe(c).icc.apr[group]!),
        write: (c, v) => {
          pe(c).icc.apr[group] = Number(v & 0xffff_ffffn) >>> 0;
          update();
        },
      },
      { read: (c) => BigInt(pe(c).ich.apr[group]!), write: (c, v) => pe(c).ich.writeApr(group, v) },
    );
    icc(
      `ICC_IGRPEN${group}_EL1`,
      `3 0 12 12 ${6 + group}`,
      kind,
      {
        read: (c) => BigInt(pe(c).icc.igrpen[group]!),
        write: (c, v) => {
          pe(c).icc.igrpen[group] = Number(v & 1n);
          update();
        },
      },
      { read: (c) => BigInt(pe(c).ich.igrpen(group)), write: (c, v) => pe(c).ich.writeIgrpen(group, v) },
    );
  }
  icc(
    'ICC_DIR_EL1',
    '3 0 12 11 1',
    Kind.Dir,
    {
      write: (c, v) => {
        if (pe(c).icc.eoiMode) gic.deactivate(c.index, Number(v & 0xff_ffffn));
      },
    },
    { write: (c, v) => pe(c).ich.deactivate(Number(v & 0xff_ffffn)) },
    { access: 'wo' },
  );
  icc(
    'ICC_RPR_EL1',
    '3 0 12 11 3',
    Kind.Common,
    { read: (c) => BigInt(runningPriority(pe(c).icc.apr)) },
    { read: (c) => BigInt(pe(c).ich.runningPriority) },
    { access: 'ro' },
  );
  // SGI1R asks for Group 1 SGIs; ASGI1R for the other security state's Group 1, which a GIC
  // with one security state does not have (it reaches no PE, as on QEMU); SGI0R for Group 0.
  const sgi = (name: string, op2: number, group: number) => {
    const send = { write: (c: SysregPe, v: bigint) => gic.sendSgi(c.index, v, group) };
    icc(name, `3 0 12 11 ${op2}`, Kind.Sgi, send, send, { access: 'wo' });
  };
  sgi('ICC_SGI1R_EL1', 5, 1);
  sgi('ICC_ASGI1R_EL1', 6, -1);
  sgi('ICC_SGI0R_EL1', 7, 0);
  icc(
    'ICC_CTLR_EL1',
    '3 0 12 12 4',
    Kind.Common,
    {
      read: (c) => BigInt(ICC_CTLR_RO | pe(c).icc.ctlr),
      write: (c, v) => {
        pe(c).icc.writeCtlr(Number(v & 3n));
        update();
      },
    },
    { read: (c) => BigInt(pe(c).ich.ctlr), write: (c, v) => pe(c).ich.writeCtlr(v) },
  );
  // System-register access is always enabled (SRE, DFB, DIB RAO/WI; Enable at EL2 too).
  add('ICC_SRE_EL1', '3 0 12 12 5', 1, { read: () => 0x7n, write: () => {} });
  add('ICC_SRE_EL2', '3 4 12 9 5', 2, { read: () => 0xfn, write: () => {} });

  const ich = (name: string, enc: string, access: SpecialAccess, more: Partial<SysregRow> = {}) =>
    add(name, enc, 2, access, more);
  ich('ICH_AP0R0_EL2', '3 4 12 8 0', {
    read: (c) => BigInt(pe(c).ich.apr[0]!),
    write: (c, v) => pe(c).ich.writeApr(0, v),
  });
  ich('ICH_AP1R0_EL2', '3 4 12 9 0', {
    read: (c) => BigInt(pe(c).ich.apr[1]!),
    write: (c, v) => pe(c).ich.writeApr(1, v),
  });
  ich('ICH_HCR_EL2', '3 4 12 11 0', { read: (c) => BigInt(pe(c).ich.hcr), write: (c, v) => pe(c).ich.writeHcr(v) });
  ich('ICH_VTR_EL2', '3 4 12 11 1', { read: () => ICH_VTR }, { access: 'ro' });
  ich('ICH_MISR_EL2', '3 4 12 11 2', { read: (c) => BigInt(pe(c).ich.misr) }, { access: 'ro' });
  ich('ICH_EISR_EL2', '3 4 12 11 3', { read: (c) => BigInt(pe(c).ich.eisr) }, { access: 'ro' });
  ich('ICH_ELRSR_EL2', '3 4 12 11 5', { read: (c) => BigInt(pe(c).ich.elrsr) }, { access: 'ro' });
  ich('ICH_VMCR_EL2', '3 4 12 11 7', {
    read: (c) => BigInt(pe(c).ich.vmcr),
    write: (c, v) => pe(c).ich.writeVmcr(v),
    held: (v) => BigInt(vmcrHeld(v)),
  });
  for (let n = 0; n < LIST_REGISTERS; n++) {
    ich(`ICH_LR${n}_EL2`, `3 4 12 12 ${n}`, {
      read: (c) => pe(c).ich.lr[n]!,
      write: (c, v) => pe(c).ich.writeLr(n, v),
      held: lrHeld,
      knownFrom: lrKnownFrom,
    });
  }
}
