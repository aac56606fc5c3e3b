// Text for people: the `monitor world` state, `monitor world stats`, the residency table and
// the `--trace world` timeline lines.
import { hex } from '../cpu/bits.js';
import type { PeWorld, World, WorldEvent, ResidencyRow } from './world.js';
import { describeExit } from './world.js';
import { summarise, type CostMeans } from './summary.js';
import type { Locate } from '../loader/locate.js';

const f1 = (n: number): string => n.toFixed(1);

/** Left-aligned columns with two spaces between them. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}

/** What `monitor catch` stops at, e.g. `catch: entry, exit`. */
export function catchLine(w: World): string {
  return `catch: ${w.catches.size ? [...w.catches].join(', ') : 'off'}`;
}

/** One PE's world in words: `in the guest: vmid 1 (vcpu0), EL1, PC 0x…` or `in the host: EL2, PC 0x…`. */
function peState(p: PeWorld): string {
  const cpu = p.cpu;
  if (!cpu.on) return 'off';
  return p.inGuest
    ? `in the guest: vmid ${p.vmid}${p.running ? ` (${p.running.bound.name})` : ''}, EL${cpu.ps.el}, PC ${hex(cpu.pcs[0]!)}`
    : `in the host: EL${cpu.ps.el}, PC ${hex(cpu.pcs[0]!)}`;
}

function peJson(p: PeWorld) {
  return {
    pe: p.index,
    world: !p.cpu.on ? 'off' : p.inGuest ? 'guest' : 'host',
    el: p.cpu.ps.el,
    pc: hex(p.cpu.pcs[0]!),
    vmid: p.inGuest ? p.vmid : null,
    vcpu: p.inGuest ? (p.running?.bound.name ?? null) : null,
    exits: p.sums.exitCount,
    entries: p.entries,
  };
}

/** The vcpus of the layout with the flags set for each, and the PE that holds each loaded one. */
function vcpuStates(w: World) {
  return w.vcpus.map((v) => {
    const loaded = v.bound.flags.filter((f) => w.flagOn(v, f)).map((f) => f.name);
    return { v, loaded, pe: loaded.length > 0 || v.switched ? (v.pe?.index ?? null) : null };
  });
}

/** `monitor world --json`: the same state for scripts; `pe` is the PE asked about, `pes` every PE. */
export function worldStateJson(w: World, pe = 0): string {
  const p = w.pe(pe);
  const open = p.openWindow();
  const x = p.lastExit;
  return (
    JSON.stringify({
      ...peJson(p),
      exits: w.exits,
      entries: w.entries,
      lastExit: x && {
        n: x.n,
        pe: x.pe,
        vmid: x.vmid,
        vcpu: x.vcpu,
        reason: x.reason.text,
        category: x.reason.category,
        pc: hex(x.pc),
        esr: hex(x.reason.esr),
      },
      sinceLastExit: open && { el2Insns: open.el2Insns, hostInsns: open.hostInsns, sysregs: open.sysregTotal },
      pes: w.pes.map(peJson),
      layout: w.layout && {
        hypervisor: w.layout.hypervisor,
        mode: w.layout.mode,
        vcpus: vcpuStates(w).map(({ v, loaded, pe }) => ({
          name: v.bound.name,
          address: hex(v.bound.va),
          loaded,
          pe,
        })),
      },
      catch: [...w.catches],
      checker: w.checking ? (w.strict ? 'strict' : 'on') : 'off',
    }) + '\n'
  );
}

/** `monitor world stats --json`: the summary the text is made from. */
export function worldStatsJson(w: World): string {
  return JSON.stringify(summarise(w)) + '\n';
}

/** `monitor world`: the PE asked about (gdb's current thread) first, then every PE when there are several. */
export function worldState(w: World, pe = 0): string {
  const lines: string[] = [];
  const p = w.pe(pe);
  lines.push(`${p.name}: ${peState(p)}`);
  lines.push(`exits ${w.exits}, entries ${w.entries}`);
  if (p.lastExit) lines.push(`last exit: ${describeExit(p.lastExit).replace('[hypstep] ', '')}`);
  const open = p.openWindow();
  if (open) lines.push(`since that exit: ${open.el2Insns} EL2 instructions, ${open.sysregTotal} MSR/MRS`);
  if (w.pes.length > 1) {
    lines.push('every PE:');
    for (const q of w.pes) lines.push(`  ${q.name}: ${peState(q)}; exits ${q.sums.exitCount}, entries ${q.entries}`);
  }
  if (w.layout) {
    const states = vcpuStates(w);
    const vcpus = states.map(({ v, loaded }) => `${v.bound.name}${loaded.length ? ` [${loaded.join(', ')}]` : ''}`);
    lines.push(
      `layout: ${w.layout.hypervisor}${w.layout.mode ? ` (${w.layout.mode})` : ''}; vcpus ${vcpus.join(', ')}`,
    );
    const loadedNames = states
      .filter((s) => s.loaded.length > 0)
      .map((s) => `${s.v.bound.name}${s.pe !== null ? ` (PE${s.pe})` : ''}`);
    lines.push(
      `loaded on a CPU: ${loadedNames.length ? loadedNames.join(', ') : w.vcpus.some((v) => v.bound.flags.length) ? 'none' : '— (this layout has no loaded flags: registers are switched on entry and exit)'}`,
    );
  } else {
    lines.push('no vcpu layout (monitor vcpu layout <file>): residency, load/put and the checker need one');
  }
  lines.push(`${catchLine(w)}; residency checker: ${w.checking ? (w.strict ? 'strict' : 'on') : 'off'}`);
  return lines.join('\n') + '\n';
}

/** A count and its means, saying how many records the means are over when some are still open. */
function meansLine(what: string, m: CostMeans): string {
  if (m.count === 0) return `${what}: 0`;
  const over = m.closed === m.count ? '' : `, ${m.closed} complete`;
  const costs =
    m.closed === 0
      ? 'no costs yet: the guest has not been re-entered'
      : `${f1(m.el2Insns)} EL2 instructions, ${f1(m.hostInsns)} host instructions, ${f1(m.sysregs)} MSR/MRS each`;
  return `${what}: ${m.count}${over} (${costs})`;
}

export function worldStats(w: World): string {
  const s = summarise(w);
  const out: string[] = [];
  out.push(`exits ${s.exits}, entries ${s.entries}`);
  out.push(meansLine('per exit', s.perExit));
  for (const [cat, m] of Object.entries(s.byReason)) out.push('  ' + meansLine(cat, m));
  if (s.hvcRoundTrip !== null) out.push(`HVC round trip (mean): ${f1(s.hvcRoundTrip)} instructions`);
  if (s.sysregsPerExit.length) {
    out.push(
      'MSR/MRS per exit by register: ' +
        s.sysregsPerExit
          .slice(0, 12)
          .map(([r, n]) => `${r} ${n.toFixed(2)}`)
          .join(', '),
    );
  }
  if (s.pes.length > 1) {
    out.push('by PE:');
    for (const p of s.pes) {
      const lp = w.layout ? `, ${p.loads} loads, ${p.puts} puts, ${p.hazards} hazards` : '';
      out.push(`  ${meansLine(`PE${p.pe} exits`, p.perExit)}; ${p.entries} entries${lp}`);
    }
  }
  if (w.layout) {
    out.push(meansLine('loads', s.perLoad));
    out.push(meansLine('puts', s.perPut));
    out.push(`residency hazards: ${s.hazards}${s.hazards ? ` (${s.distinctHazards} distinct)` : ''}`);
  }
  return out.join('\n') + '\n';
}

/** `monitor vcpu list`'s rows: each vcpu the layout has, its VM and id, where it is loaded, its flags. */
function vcpuRows(w: World) {
  // VMs are numbered in order of first sight among the vcpus (KVM has no VM number of its own).
  const vms: bigint[] = [];
  for (const v of w.vcpus) if (v.identity.vm !== undefined && !vms.includes(v.identity.vm)) vms.push(v.identity.vm);
  return vcpuStates(w).map(({ v, loaded }) => ({
    vcpu: v.bound.name,
    address: hex(v.bound.va),
    vm: v.identity.vm === undefined ? null : { n: vms.indexOf(v.identity.vm), at: hex(v.identity.vm) },
    id: v.identity.id ?? null,
    vmid: v.vmid,
    loadedOn: v.loadedOn?.index ?? null,
    running: w.pes.some((p) => p.inGuest && p.running === v),
    flags: loaded,
  }));
}

export function vcpuList(w: World): string {
  if (w.vcpus.length === 0)
    return 'no vcpus yet (a layout that discovers them binds each when the hypervisor loads it)\n';
  return table([
    ['vcpu', 'struct at', 'VM', 'id', 'VMID', 'PE', 'flags set'],
    ...vcpuRows(w).map((r) => [
      r.vcpu,
      r.address,
      r.vm === null ? '—' : `vm${r.vm.n} (${r.vm.at})`,
      r.id === null ? '—' : String(r.id),
      r.vmid === null ? '—' : String(r.vmid),
      r.loadedOn === null ? 'not loaded' : `PE${r.loadedOn}${r.running ? ' (running)' : ''}`,
      r.flags.join(', ') || 'none',
    ]),
  ]);
}

export function vcpuListJson(w: World): string {
  return JSON.stringify(vcpuRows(w)) + '\n';
}

export function residencyTable(rows: readonly ResidencyRow[]): string {
  const head = ['register', 'CPU', 'vcpu context', 'live', 'governed by', 'verdict'];
  return table([
    head,
    ...rows.map((r) => [
      r.reg,
      r.cpu === null ? '—' : hex(r.cpu),
      hex(r.memory),
      r.authority === 'cpu' ? 'CPU' : r.authority === 'memory' ? 'memory' : '—',
      r.governedBy ?? 'entry/exit',
      r.verdict,
    ]),
  ]);
}

export function residencyJson(rows: readonly ResidencyRow[]): string {
  return (
    JSON.stringify(rows.map((r) => ({ ...r, cpu: r.cpu === null ? null : hex(r.cpu), memory: hex(r.memory) }))) + '\n'
  );
}

/**
 * One `--trace world` line per entry, exit, load, put and hazard. Host code is shown by
 * `locate` (the world's symbol and line formatter); guest PCs stay addresses.
 */
export function timelineLine(e: WorldEvent, locate: Locate = hex): string {
  switch (e.type) {
    case 'exit': {
      const x = e.exit;
      return `[${x.icount}] PE${x.pe}: exit #${x.n} vmid ${x.vmid}${x.vcpu ? ` ${x.vcpu}` : ''}: ${x.reason.text} at ${hex(x.pc)}`;
    }
    case 'entry': {
      const c = e.closed;
      const cost = c ? ` after ${c.el2Insns} EL2 insns, ${c.sysregTotal} MSR/MRS` : '';
      return `[${e.entry.icount}] PE${e.entry.pe}: entry vmid ${e.entry.vmid}${e.entry.vcpu ? ` ${e.entry.vcpu}` : ''} at ${hex(e.entry.pc)}${cost}`;
    }
    case 'load':
    case 'put': {
      const r = e.record;
      return `[${r.icount}] PE${r.pe}: ${r.type} ${r.vcpu} (${r.flag} ${r.type === 'load' ? 'set' : 'cleared'} at ${locate(r.pc)}): ${r.el2Insns} EL2 insns, ${r.sysregTotal} MSR/MRS`;
    }
    case 'hazard':
      return `[${e.hazard.icount}] ${e.hazard.message.replace('[hypstep] ', '')}`;
  }
}
