// `monitor gic` and `monitor timer`: the stopped PE's GIC CPU interface, its interrupts and
// list registers decoded, and its generic timers with the time left and whose they are.
import { MonitorError, type MonitorRegistry } from '../../gdbstub/monitor.js';
import type { MachineTarget } from './target.js';
import { decodeLr, ICH_HCR } from '../board/gic-virtual.js';
import { runningPriority } from '../board/gic-priority.js';
import { hcrVm } from './translate.js';

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;
const LR_STATE = ['invalid', 'pending', 'active', 'pending+active'];

/** Rows of cells as columns two spaces apart. */
function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ') + '\n').join('');
}

/** `monitor gic` for PE `pe`. */
export function describeGic(t: MachineTarget, pe: number): string {
  const gic = t.machine.gic;
  const p = gic.pes[pe]!;
  const icc = p.icc;
  const out: string[] = [];
  const g = gic.groupsEnabled;
  out.push(
    `PE${pe} GICv3: distributor Group 0 ${g & 1 ? 'enabled' : 'disabled'}, Group 1 ${g & 2 ? 'enabled' : 'disabled'}; ` +
      `redistributor ${p.waker & 2 ? 'asleep (GICR_WAKER.ProcessorSleep)' : 'awake'}\n`,
  );
  out.push(
    `CPU interface: ICC_PMR_EL1 ${hex(icc.pmr)}, running priority ${hex(runningPriority(icc.apr))}, ` +
      `AP0R0 ${hex(icc.apr[0]!)} AP1R0 ${hex(icc.apr[1]!)}, IGRPEN0 ${icc.igrpen[0]} IGRPEN1 ${icc.igrpen[1]}, ` +
      `BPR0 ${icc.readBpr(0)} BPR1 ${icc.readBpr(1)}, EOImode ${icc.eoiMode ? 1 : 0}\n`,
  );
  const irqs = gic.interrupts(pe);
  if (irqs.length === 0) out.push('no interrupt enabled, pending or active\n');
  else {
    const rows = [['INTID', 'source', 'group', 'priority', 'trigger', 'state']];
    for (const i of irqs) {
      const state = [i.enabled ? 'enabled' : 'disabled', i.pending ? 'pending' : '', i.active ? 'active' : ''];
      rows.push([
        String(i.intid),
        i.source,
        String(i.group),
        hex(i.priority),
        i.edge ? 'edge' : 'level',
        state.filter((s) => s !== '').join(' '),
      ]);
    }
    out.push(table(rows));
  }
  const now = gic.signalled(pe);
  out.push(
    now === null
      ? 'signalled now: nothing\n'
      : `signalled now: INTID ${now.intid} (${gic.describe(pe, now.intid)}) as ${now.group === 0 ? 'FIQ' : 'IRQ'}\n`,
  );
  const ich = p.ich;
  const hcr = ich.hcr;
  const causes = Object.entries(ICH_HCR)
    .filter(([, b]) => (hcr & b) !== 0)
    .map(([n]) => n);
  out.push(
    `virtual CPU interface: ICH_HCR_EL2 ${hex(hcr)}${causes.length ? ` (${causes.join(' ')})` : ''}, EOIcount ${hcr >>> 27}, ` +
      `ICH_VMCR_EL2 ${hex(ich.vmcr)} (VPMR ${hex(ich.vpmr)}, VENG0 ${ich.igrpen(0)} VENG1 ${ich.igrpen(1)}), ` +
      `running priority ${hex(ich.runningPriority)}, ICH_MISR_EL2 ${hex(ich.misr)}` +
      `${(hcr & ICH_HCR.EN) !== 0 && ich.misr !== 0 ? ' (maintenance interrupt asserted)' : ''}\n`,
  );
  const rows = [['LR', 'vINTID', 'state', 'priority', 'group', 'HW/pINTID', 'value']];
  ich.lr.forEach((lr, n) => {
    const d = decodeLr(lr);
    rows.push([
      String(n),
      d.state === 0 && lr === 0n ? '-' : String(d.vintid),
      LR_STATE[d.state]!,
      hex(d.priority),
      String(d.group),
      d.hw ? `HW ${d.pintid}` : d.eoi ? 'EOI' : '-',
      hex(lr),
    ]);
  });
  out.push(table(rows));
  return out.join('');
}

/** `monitor timer` for PE `pe`. */
export function describeTimers(t: MachineTarget, pe: number): string {
  const cpu = t.pe(pe + 1);
  // The EL1 timers are a guest's under VHE (the host uses the EL2 ones) and while stage 2 is
  // on (a guest runs, or EL2 handles its exit); a non-VHE host kernel's otherwise.
  const guest = cpu.e2h || (hcrVm(cpu) && !cpu.tge);
  const rows = [['timer', 'owner', 'CTL', 'CVAL', 'count', 'time left', 'PPI']];
  for (const v of t.machine.timers.view(cpu)) {
    const bits = [v.ctl & 1n ? 'ENABLE' : '', v.ctl & 2n ? 'IMASK' : '', v.ctl & 4n ? 'ISTATUS' : ''].filter(Boolean);
    const el2 = v.spec.suffix === 'EL2';
    rows.push([
      `${v.spec.label} (${v.spec.prefix})`,
      el2 ? 'host' : guest ? 'guest' : 'host (EL1)',
      `${hex(v.ctl)}${bits.length ? ` ${bits.join('|')}` : ''}`,
      hex(v.cval),
      hex(v.count),
      (v.ctl & 1n) === 0n ? '-' : v.left <= 0n ? 'due' : `${v.left} ticks`,
      `${v.spec.intid}${v.asserted ? ' asserted' : ''}`,
    ]);
  }
  return `PE${pe} generic timers (62.5 MHz, a tick an instruction):\n${table(rows)}`;
}

export function registerGicMonitorCommands(reg: MonitorRegistry, t: MachineTarget): void {
  const peOf = (args: readonly string[], thread: number): number => {
    if (args.length === 0) return thread - 1;
    const n = Number(args[0]);
    if (args.length > 1 || !Number.isInteger(n) || n < 0 || n >= t.machine.pes.length)
      throw new MonitorError(`expected a PE number from 0 to ${t.machine.pes.length - 1}`);
    return n;
  };
  reg.register({
    name: 'gic',
    args: '[PE]',
    help: "the stopped PE's (or PE N's) GIC: CPU interface, interrupts enabled/pending/active, list registers decoded",
    run: (args, ctx) => ctx.out(describeGic(t, peOf(args, ctx.thread))),
  });
  reg.register({
    name: 'timer',
    args: '[PE]',
    help: "the stopped PE's (or PE N's) generic timers: control, compare value, time left, whose they are",
    run: (args, ctx) => ctx.out(describeTimers(t, peOf(args, ctx.thread))),
  });
}
