// hypstep's own `monitor` commands, registered on the stub's registry.
import { MonitorError, type MonitorRegistry } from '../../gdbstub/monitor.js';
import type { MachineTarget } from './target.js';
import { MEMORY_VIEWS, VIEW_HELP, hcrVm, regimeOf, type MemoryView } from './translate.js';

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

function parseAddr(s: string | undefined): bigint {
  if (s === undefined) throw new MonitorError('missing address');
  let v = -1n;
  try {
    v = BigInt(s);
  } catch {
    /* not a number: refused below */
  }
  if (v < 0n || v >= 1n << 64n) throw new MonitorError(`'${s}' is not an address (write e.g. 0x40080000)`);
  return v;
}

/** A view name, in any case. */
function parseView(name: string): MemoryView {
  const s = name.toLowerCase();
  if (!(MEMORY_VIEWS as readonly string[]).includes(s))
    throw new MonitorError(`unknown view '${s}' (one of: ${MEMORY_VIEWS.join(', ')})`);
  return s as MemoryView;
}

const VIEW_ARG = MEMORY_VIEWS.join('|');

/** Advice after a command that changed state gdb has cached. */
const FLUSH_HINT = "(gdb caches registers and memory: run 'maintenance flush register-cache' to see the change now)";

/** Text for `monitor info el` (also used by the world layer's reports). */
export function describeEl(t: MachineTarget): string {
  const cpu = t.machine.cpu;
  const el = cpu.ps.el;
  const vm = hcrVm(cpu);
  const guest = el < 2 && vm && !(cpu.e2h && cpu.tge);
  const where =
    el === 2
      ? 'the hypervisor (EL2)'
      : guest
        ? `a guest (EL${el}, stage 2 on)`
        : cpu.e2h && cpu.tge
          ? `the host's EL0 (VHE, E2H=1 TGE=1)`
          : `EL${el} without stage 2`;
  return (
    [
      `EL${el}${cpu.ps.sp ? 'h' : 't'} (PSTATE.SP=${cpu.ps.sp}: using SP_EL${cpu.ps.sp ? el : 0})`,
      `HCR_EL2.E2H=${cpu.e2h ? 1 : 0} TGE=${cpu.tge ? 1 : 0} VM=${vm ? 1 : 0}  (${cpu.e2h ? 'VHE: EL2 runs the EL2&0 regime' : 'non-VHE'})`,
      `running in ${where}; guest running: ${guest ? 'yes' : 'no'}`,
      `memory view: ${t.view} → ${regimeOf(cpu, t.view)}`,
    ].join('\n') + '\n'
  );
}

export function registerMonitorCommands(reg: MonitorRegistry, t: MachineTarget): void {
  reg.register({
    name: 'info el',
    help: 'exception level, SP selection, E2H/TGE, and whether a guest is running',
    run: (_a, ctx) => ctx.out(describeEl(t)),
  });
  reg.register({
    name: 'memory',
    args: `[${VIEW_ARG}]`,
    help: 'choose what addresses in m/M/X packets (x, print, …) mean; no argument shows the views',
    run: (args, ctx) => {
      if (args.length > 1) throw new MonitorError('expected one view name');
      if (args.length === 1) {
        t.view = parseView(args[0]!);
        ctx.out(
          `memory view: ${t.view} — ${VIEW_HELP[t.view]}\n(gdb caches memory while stopped: 'maintenance flush dcache' drops its copy)\n`,
        );
        return;
      }
      for (const v of MEMORY_VIEWS) ctx.out(`${v === t.view ? '*' : ' '} ${v.padEnd(8)} ${VIEW_HELP[v]}\n`);
    },
  });
  reg.register({
    name: 'translate',
    args: `<addr> [${VIEW_ARG}]`,
    help: 'walk the translation of an address, level by level, without side effects',
    run: (args, ctx) => {
      const va = parseAddr(args[0]);
      const view = args[1] === undefined ? t.view : parseView(args[1]);
      const r = t.walker.translate(va, view, 'read');
      ctx.out(`${hex(va)} in view ${view}: ${r.regime}\n`);
      for (const s of r.steps) {
        const where =
          s.descriptorAddress === s.descriptorPA
            ? `PA ${hex(s.descriptorPA)}`
            : `IPA ${hex(s.descriptorAddress)} (PA ${hex(s.descriptorPA)})`;
        ctx.out(
          `  ${s.forS1Walk ? '  (s1 table fetch) ' : ''}stage ${s.stage} level ${s.level}: ${s.kind.padEnd(7)} ${hex(s.descriptor).padEnd(18)} at ${where}\n`,
        );
      }
      for (const l of r.leaves ?? []) ctx.out(`  ${l}\n`);
      if (r.ipa !== undefined) ctx.out(`  IPA ${hex(r.ipa)}\n`);
      ctx.out(
        r.pa !== undefined
          ? `  → PA ${hex(r.pa)}${r.fault ? `  [${r.fault}]` : ''}\n`
          : `  → no translation: ${r.fault ?? 'fault'}\n`,
      );
    },
  });
  reg.register({
    name: 'step-irq',
    args: 'on|off',
    help: 'whether a single step enters a pending interrupt (default off, as QEMU)',
    run: (args, ctx) => {
      if (args.length === 1 && (args[0] === 'on' || args[0] === 'off')) t.stepIrq = args[0] === 'on';
      else if (args.length !== 0) throw new MonitorError("expected 'on' or 'off'");
      ctx.out(
        `step-irq ${t.stepIrq ? 'on' : 'off'} (this board has no interrupt sources yet, so nothing can be pending)\n`,
      );
    },
  });
  reg.register({
    name: 'reset',
    help: 'reset the board: reload the image and restart the CPU at its entry (breakpoints stay)',
    run: (_a, ctx) => {
      t.reset();
      ctx.out(`board reset: PC ${hex(t.machine.cpu.pcs[0]!)} at EL${t.machine.cpu.ps.el} ${FLUSH_HINT}\n`);
    },
  });
}
