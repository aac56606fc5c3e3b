// hypstep's own `monitor` commands, registered on the stub's registry.
import { MonitorError, type MonitorRegistry } from '../../gdbstub/monitor.js';
import type { MachineTarget } from './target.js';
import { MEMORY_VIEWS, VIEW_HELP, hcrVm, regimeOf, type MemoryView } from './translate.js';
import { qualifierText, type WorldQualifier } from './breakpoints.js';

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

/** `guest`, `host` or `vmid N` at the start of `args`; the words it took. */
function parseQualifier(args: readonly string[]): [WorldQualifier, number] {
  const w = args[0]?.toLowerCase();
  if (w === 'guest' || w === 'host') return [{ kind: w }, 1];
  if (w === 'vmid') {
    const n = Number(args[1]);
    if (args[1] === undefined || !Number.isInteger(n) || n < 0 || n > 0xffff)
      throw new MonitorError(`'vmid' needs a number from 0 to 65535, not '${args[1] ?? ''}'`);
    return [{ kind: 'vmid', vmid: n }, 2];
  }
  throw new MonitorError("expected 'guest', 'host' or 'vmid N' before the location");
}

/** A location: an address, or a symbol of the image (or one gdb told us), with an optional +offset. */
function parseLocation(t: MachineTarget, loc: string): bigint {
  const m = /^\*?([^+\s]+)(?:\+(\w+))?$/.exec(loc);
  if (!m) throw new MonitorError(`'${loc}' is not an address or a symbol`);
  const off = m[2] === undefined ? 0n : parseAddr(m[2]);
  const base = /^(0x[0-9a-f]+|\d+)$/i.test(m[1]!) ? parseAddr(m[1]) : t.symbol(m[1]!);
  if (base === undefined) throw new MonitorError(`no symbol '${m[1]}' in the loaded image (give an address)`);
  return BigInt.asUintN(64, base + off);
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

/** Text for `monitor info el` about the PE of `thread`. */
export function describeEl(t: MachineTarget, thread: number): string {
  const cpu = t.pe(thread);
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
      `PE${thread - 1} is running ${where}`,
      `memory view: ${t.view} → ${regimeOf(cpu, t.view)}`,
    ].join('\n') + '\n'
  );
}

export function registerMonitorCommands(reg: MonitorRegistry, t: MachineTarget): void {
  reg.register({
    name: 'info el',
    help: 'exception level, SP selection, E2H/TGE, and whether a guest is running',
    run: (_a, ctx) => ctx.out(describeEl(t, ctx.thread)),
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
      const r = t.walker(ctx.thread).translate(va, view, 'read');
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
        t.stepIrq
          ? 'step-irq on: a single step that finds an interrupt pending enters its vector\n'
          : 'step-irq off: a single step runs the next instruction; pending interrupts wait for a continue\n',
      );
    },
  });
  reg.register({
    name: 'break',
    args: 'guest|host|vmid N <address|symbol[+off]>',
    help: "a breakpoint of the stub's that stops only in that world (gdb does not see it); no argument lists them",
    run: (args, ctx) => {
      const bps = t.breakpoints;
      if (args.length === 0) {
        const list = bps.listOwned();
        ctx.out(
          list.length === 0
            ? 'no stub breakpoints\n'
            : list
                .map(
                  (b) =>
                    `${b.number}  ${qualifierText(b.where).padEnd(8)}  ${hex(b.addr)}  ${b.location}  hits ${b.hits}\n`,
                )
                .join(''),
        );
        return;
      }
      const [where, used] = parseQualifier(args);
      const rest = args.slice(used);
      if (rest.length !== 1) throw new MonitorError('expected one address or symbol after the world');
      if (t.world === null) throw new MonitorError('world-qualified breakpoints need the world layer');
      const bp = bps.addOwned(parseLocation(t, rest[0]!), where, rest[0]!);
      ctx.out(`breakpoint ${bp.number} at ${hex(bp.addr)} (${rest[0]}): stops only in the ${qualifierText(where)}\n`);
    },
  });
  reg.register({
    name: 'delete',
    args: '[N…]',
    help: "delete the stub's breakpoints N… (all without an argument)",
    run: (args, ctx) => {
      const bps = t.breakpoints;
      if (args.length === 0) {
        bps.clearOwned();
        ctx.out('deleted every stub breakpoint\n');
        return;
      }
      for (const a of args) {
        const n = Number(a);
        if (!Number.isInteger(n) || !bps.deleteOwned(n)) throw new MonitorError(`no stub breakpoint '${a}'`);
      }
      ctx.out(`deleted ${args.join(', ')}\n`);
    },
  });
  reg.register({
    name: 'reset',
    help: 'reset the board: reload the image and restart the CPU at its entry (breakpoints stay)',
    run: (_a, ctx) => {
      t.reset();
      const cpu = t.pe(ctx.thread);
      ctx.out(`board reset: PC ${hex(cpu.pcs[0]!)} at EL${cpu.ps.el} ${FLUSH_HINT}\n`);
    },
  });
}
