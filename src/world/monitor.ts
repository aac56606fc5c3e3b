// The world-switch monitor commands, registered on the gdb stub's registry:
// catch, world, world stats, vcpu layout, vcpu sysregs, check residency. It also gives the
// debugger its view of each PE's world (world-qualified breakpoints, thread info) and the
// structured event of each stop it raises.
import { MonitorError, type MonitorRegistry } from '../../gdbstub/monitor.js';
import { SIGNAL } from '../../gdbstub/target.js';
import type { MachineTarget } from '../debug/target.js';
import { guestRunningOn, vmidOn, type World, type CatchKind, type WorldEvent } from './world.js';
import type { StopEvent } from '../../gdbstub/target.js';
import { LayoutError } from './layout.js';
import { layoutFromOption } from './linux-layout.js';
import { useLayout } from './attach.js';
import {
  catchLine,
  worldState,
  worldStateJson,
  worldStats,
  worldStatsJson,
  residencyTable,
  residencyJson,
  vcpuList,
  vcpuListJson,
} from './format.js';
import { canonicalName } from './layout.js';

const CATCH_WORDS: Record<string, readonly CatchKind[]> = {
  entry: ['entry'],
  exit: ['exit'],
  switch: ['entry', 'exit'],
  load: ['load'],
  put: ['put'],
};

export function registerWorldCommands(
  reg: MonitorRegistry,
  world: World,
  target: MachineTarget,
  imagePath?: string,
): void {
  let last: WorldEvent | null = null;
  world.on((e) => {
    last = e;
  });
  // The world layer stops right after emitting the event it stops for: that event describes the stop.
  world.stop = (message, pe) =>
    target.raiseStop({ signal: SIGNAL.TRAP, message, ...(last ? { event: stopEvent(last) } : {}) }, pe.cpu);
  // Each PE's world is read off its registers; the vcpu it runs is the layer's.
  target.world = {
    inGuest: (pe) => guestRunningOn(target.pe(pe + 1)),
    vmid: (pe) => vmidOn(target.pe(pe + 1)),
    vcpu: (pe) => world.pe(pe).running?.bound.name ?? null,
  };
  // A debugger that has gone cannot be stopped for: its catches go with it.
  target.detachHooks.push(() => world.catches.clear());

  reg.register({
    name: 'catch',
    args: 'entry|exit|switch|load|put|off …',
    help: 'stop right after guest entries, exits, vcpu loads or puts (load/put need a vcpu layout)',
    run: (args, ctx) => {
      for (const a of args.map((s) => s.toLowerCase())) {
        if (a === 'off') {
          world.catches.clear();
          continue;
        }
        const kinds = CATCH_WORDS[a];
        if (!kinds) throw new MonitorError(`unknown event '${a}' (entry, exit, switch, load, put or off)`);
        if ((a === 'load' || a === 'put') && !world.layout)
          throw new MonitorError(`catching ${a} needs a vcpu layout: monitor vcpu layout <file>`);
        for (const k of kinds) world.catches.add(k);
      }
      ctx.out(`${catchLine(world)}\n`);
    },
  });
  /** `--json` and nothing else. */
  const jsonFlag = (args: readonly string[], other: string): boolean => {
    const rest = args.filter((a) => a !== '--json');
    if (rest.length) throw new MonitorError(`unexpected '${rest.join(' ')}' (${other})`);
    return args.length > 0;
  };
  reg.register({
    name: 'world',
    args: '[--json]',
    help: "the selected PE's world (host or guest, its vcpu, its last exit), every PE's, which vcpus are loaded",
    run: (args, ctx) => {
      const pe = ctx.thread - 1;
      ctx.out(jsonFlag(args, "did you mean 'world stats'?") ? worldStateJson(world, pe) : worldState(world, pe));
    },
  });
  reg.register({
    name: 'world stats',
    args: '[--json]',
    help: 'exits by reason, EL2 instructions and MSR/MRS per exit, per load and per put',
    run: (args, ctx) => ctx.out(jsonFlag(args, 'only --json') ? worldStatsJson(world) : worldStats(world)),
  });
  reg.register({
    name: 'vcpu layout',
    args: '<file.json>[#mode] | linux[#nvhe]',
    help: "read a vcpu layout (where each vcpu's sysregs are saved, which flag says they are loaded)",
    run: (args, ctx) => {
      if (args.length !== 1) throw new MonitorError('expected one file name');
      try {
        const layout = layoutFromOption(args[0]!, imagePath, (n) => target.machine.sysregs.byName(n));
        const missing = layout.vcpus
          .filter((v) => v.address === undefined && target.symbol(v.symbol!) === undefined)
          .map((v) => v.symbol!);
        if (missing.length) {
          // Not in the image hypstep loaded: ask gdb at its next qSymbol exchange (after it loads symbols).
          for (const m of missing) target.wantSymbol(m);
          throw new MonitorError(
            `${missing.join(', ')} not in the loaded image; asked gdb for ${missing.length > 1 ? 'them' : 'it'}: ` +
              "load the hypervisor's symbols in gdb ('symbol-file <elf>'), then repeat this command",
          );
        }
        useLayout(world, target.machine, layout, (n) => target.symbol(n), imagePath);
      } catch (e) {
        throw e instanceof LayoutError ? new MonitorError(e.message) : e;
      }
      const l = world.layout!;
      ctx.out(
        `vcpu layout ${l.hypervisor}${l.mode ? ` mode ${l.mode}` : ''}: ${world.vcpus.map((v) => `${v.bound.name} at 0x${v.bound.va.toString(16)}`).join(', ')}; ` +
          `${l.slots.length} sysreg slots, flags ${l.flags.map((f) => f.name).join(', ') || 'none'}\n`,
      );
    },
  });
  reg.register({
    name: 'vcpu list',
    args: '[--json]',
    help: 'the vcpus the layout knows: VM, vcpu id, VMID, the PE each is loaded on, its loaded flags',
    run: (args, ctx) => {
      if (!world.layout) throw new MonitorError('no vcpu layout: monitor vcpu layout <file>');
      ctx.out(jsonFlag(args, 'only --json') ? vcpuListJson(world) : vcpuList(world));
    },
  });
  reg.register({
    name: 'vcpu sysregs',
    args: '[vcpu] [reg…] [--json]',
    help: 'each guest sysreg: value on the CPU, in the vcpu context, which is live, verdict',
    run: (args, ctx) => {
      if (!world.layout) throw new MonitorError('no vcpu layout: monitor vcpu layout <file>');
      if (world.vcpus.length === 0)
        throw new MonitorError('no vcpus yet (a layout that discovers them binds each when the hypervisor loads it)');
      const json = args.includes('--json');
      const rest = args.filter((a) => a !== '--json');
      const p = world.pe(ctx.thread - 1);
      // By default the vcpu the selected PE runs, else one loaded on it, else any loaded one.
      let v =
        p.running ??
        world.vcpus.find((x) => x.pe === p && world.loaded(x)) ??
        world.vcpus.find((x) => world.loaded(x)) ??
        world.vcpus[0]!;
      if (rest.length && world.vcpu(rest[0]!)) v = world.vcpu(rest.shift()!)!;
      const known = new Set(v.bound.slots.map((s) => s.name));
      for (const r of rest)
        if (!known.has(canonicalName(r))) throw new MonitorError(`no register or vcpu '${r}' in the layout`);
      const rows = world.residency(v, rest.length ? rest : undefined);
      const home = rows[0]?.pe ?? p.index;
      ctx.out(
        json
          ? residencyJson(rows)
          : `${v.bound.name} (${p.name}, ${p.inGuest ? 'guest' : 'host'} running${home === p.index ? '' : `; the CPU column is PE${home}'s`}):\n${residencyTable(rows)}`,
      );
    },
  });
  reg.register({
    name: 'check residency',
    args: 'on|strict|off',
    help: 'stop on stale reads, lost writes, missing or partial loads and puts; strict: also on any access to a loaded slot',
    run: (args, ctx) => {
      if (args.length === 1 && ['on', 'strict', 'off'].includes(args[0]!)) {
        world.checking = args[0] !== 'off';
        world.strict = args[0] === 'strict';
      } else if (args.length) throw new MonitorError("expected 'on', 'strict' or 'off'");
      if (world.checking && !world.layout)
        ctx.out('note: the checker needs a vcpu layout (monitor vcpu layout <file>)\n');
      ctx.out(`residency checker ${world.checking ? (world.strict ? 'strict' : 'on') : 'off'}\n`);
    },
  });
}

/** A world event as the stop reply's structured event (RspClient's `stop.event`). */
function stopEvent(e: WorldEvent): StopEvent {
  switch (e.type) {
    case 'exit':
      return {
        kind: 'exit',
        number: e.exit.n,
        vmid: e.exit.vmid,
        vcpu: e.exit.vcpu,
        reason: e.exit.reason.text,
        category: e.exit.reason.category,
        esr: e.exit.reason.esr,
        pc: `0x${e.exit.pc.toString(16)}`,
        pe: e.exit.pe,
      };
    case 'entry':
      return {
        kind: 'entry',
        number: e.entry.n,
        vmid: e.entry.vmid,
        vcpu: e.entry.vcpu,
        reason: null,
        pc: `0x${e.entry.pc.toString(16)}`,
        pe: e.entry.pe,
      };
    case 'load':
    case 'put':
      return {
        kind: e.type,
        number: null,
        vmid: null,
        vcpu: e.record.vcpu,
        reason: e.record.flag,
        pc: `0x${e.record.pc.toString(16)}`,
        pe: e.record.pe,
      };
    case 'hazard':
      return {
        kind: 'hazard',
        number: null,
        vmid: null,
        vcpu: e.hazard.vcpu,
        reason: `${e.hazard.kind} of ${e.hazard.reg}`,
        pc: `0x${e.hazard.pc.toString(16)}`,
        pe: e.hazard.pe,
      };
  }
}
