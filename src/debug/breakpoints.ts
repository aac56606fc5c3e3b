// Everything that stops a PE at an address or an access: gdb's breakpoints (Z0/Z1, with the
// conditions gdb compiles to agent expressions), gdb's watchpoints (Z2–Z4), and the stub's
// own breakpoints (`monitor break guest|host|vmid N …`), which gdb never sees and so can
// never re-insert without their qualifier. The CPU tests one set of addresses: their union.
import type { Cpu } from '../cpu/cpu.js';
import type { WatchHit } from '../cpu/debug-port.js';
import type { Breakpoints, BreakpointType, StopEvent, StopReason } from '../../gdbstub/target.js';
import {
  AgentError,
  checkAgentExpression,
  evaluateAgentExpression,
  type AgentEnvironment,
} from '../../gdbstub/agent.js';
import { ProtocolError } from '../../gdbstub/packet.js';

/** Watchpoints are tested on every data access while any is set: a bound keeps that cost bounded. */
export const MAX_WATCHPOINTS = 64;

interface Watchpoint {
  readonly type: 'write' | 'read' | 'access';
  readonly addr: bigint;
  readonly end: bigint;
}

/** Which world a stub-owned breakpoint stops in. */
export type WorldQualifier = { readonly kind: 'guest' | 'host' } | { readonly kind: 'vmid'; readonly vmid: number };

/** What the world layer tells the debugger about a PE (null while no world layer is attached). */
export interface WorldView {
  /** Whether the PE is running a guest now, and under which VMID (meaningful in the guest). */
  inGuest(pe: number): boolean;
  vmid(pe: number): number;
  /** The vcpu the PE runs (by the layout's name), or null when unknown. */
  vcpu(pe: number): string | null;
}

export interface OwnedBreakpoint {
  readonly number: number;
  readonly addr: bigint;
  readonly where: WorldQualifier;
  /** As the user wrote the location (a symbol or an address). */
  readonly location: string;
  hits: number;
}

export const qualifierText = (q: WorldQualifier): string => (q.kind === 'vmid' ? `vmid ${q.vmid}` : q.kind);

/** A decided hit: the stop to report, or null to step over the address and go on. */
export type BreakpointHit = { reason?: StopReason; message?: string; event?: StopEvent } | null;

export class DebugPoints implements Breakpoints {
  readonly types: readonly BreakpointType[] = ['sw', 'hw', 'write', 'read', 'access'];
  readonly conditions = true;
  /** gdb's breakpoints by address: their conditions (empty: unconditional). */
  private readonly sw = new Map<bigint, readonly Uint8Array[]>();
  private readonly hw = new Map<bigint, readonly Uint8Array[]>();
  private watchpoints: Watchpoint[] = [];
  private readonly owned = new Map<number, OwnedBreakpoint>();
  private nextNumber = 1;

  constructor(
    private readonly pes: () => readonly Cpu[],
    private readonly world: () => WorldView | null,
  ) {}

  // --- gdb's (the Breakpoints capability) ---------------------------------------------------

  insert(type: BreakpointType, addr: bigint, length: number, conditions: readonly Uint8Array[] = []): boolean {
    if (type === 'sw' || type === 'hw') {
      try {
        for (const c of conditions) checkAgentExpression(c);
      } catch (e) {
        if (e instanceof ProtocolError) return false;
        throw e;
      }
      // Idempotent, as the protocol asks: inserting again replaces the conditions.
      (type === 'sw' ? this.sw : this.hw).set(addr, conditions);
      this.sync();
      return true;
    }
    const end = addr + BigInt(length);
    if (this.watchpoints.some((w) => w.type === type && w.addr === addr && w.end === end)) return true;
    if (this.watchpoints.length >= MAX_WATCHPOINTS) return false;
    this.watchpoints.push({ type, addr, end });
    this.sync();
    return true;
  }

  remove(type: BreakpointType, addr: bigint, length: number): boolean {
    if (type === 'sw' || type === 'hw') {
      const removed = (type === 'sw' ? this.sw : this.hw).delete(addr);
      this.sync();
      return removed;
    }
    const end = addr + BigInt(length);
    const i = this.watchpoints.findIndex((w) => w.type === type && w.addr === addr && w.end === end);
    if (i < 0) return false;
    this.watchpoints.splice(i, 1);
    this.sync();
    return true;
  }

  removeAll(): void {
    this.sw.clear();
    this.hw.clear();
    this.watchpoints = [];
    this.sync();
  }

  // --- the stub's own -------------------------------------------------------------------------

  addOwned(addr: bigint, where: WorldQualifier, location: string): OwnedBreakpoint {
    const bp: OwnedBreakpoint = { number: this.nextNumber++, addr, where, location, hits: 0 };
    this.owned.set(bp.number, bp);
    this.sync();
    return bp;
  }

  deleteOwned(number: number): boolean {
    const had = this.owned.delete(number);
    this.sync();
    return had;
  }

  clearOwned(): void {
    this.owned.clear();
    this.sync();
  }

  listOwned(): OwnedBreakpoint[] {
    return [...this.owned.values()];
  }

  // --- at a stop --------------------------------------------------------------------------------

  /** The CPUs test the union of every breakpoint's address, and call the watcher only while watchpoints exist. */
  private sync(): void {
    for (const cpu of this.pes()) {
      const bps = cpu.debug.breakpoints;
      bps.clear();
      for (const a of this.sw.keys()) bps.add(a);
      for (const a of this.hw.keys()) bps.add(a);
      for (const b of this.owned.values()) bps.add(b.addr);
      cpu.debug.watching = this.watchpoints.length > 0;
    }
  }

  /**
   * Decides a breakpoint hit of PE `pe` at `pc`: gdb's breakpoint there stops when it has no
   * condition or one is true; otherwise a stub-owned one stops when the PE is in its world.
   */
  decide(pe: number, pc: bigint, env: AgentEnvironment): BreakpointHit {
    for (const [map, type] of [
      [this.sw, 'swbreak'],
      [this.hw, 'hwbreak'],
    ] as const) {
      const conds = map.get(pc);
      if (conds === undefined) continue;
      const verdict = conditionHolds(conds, env);
      if (verdict === true) return { reason: { type } };
      if (typeof verdict === 'string')
        return { reason: { type }, message: `[hypstep] breakpoint condition at 0x${pc.toString(16)}: ${verdict}` };
    }
    const world = this.world();
    for (const b of this.owned.values()) {
      if (b.addr !== pc || world === null) continue;
      const guest = world.inGuest(pe);
      const vmid = guest ? world.vmid(pe) : null;
      const inWorld = b.where.kind === 'vmid' ? vmid === b.where.vmid : (b.where.kind === 'guest') === guest;
      if (!inWorld) continue;
      b.hits++;
      const vcpu = guest ? world.vcpu(pe) : null;
      const at = `${guest ? `guest vmid ${vmid}${vcpu ? ` (${vcpu})` : ''}` : 'host'}`;
      return {
        message: `[hypstep] breakpoint ${b.number} (${qualifierText(b.where)}) hit at 0x${pc.toString(16)} ${b.location} in the ${at}, PE${pe}`,
        event: {
          kind: 'breakpoint',
          number: b.number,
          world: guest ? 'guest' : 'host',
          vmid,
          vcpu,
          reason: qualifierText(b.where),
          pe,
          pc: `0x${pc.toString(16)}`,
        },
      };
    }
    return null;
  }

  /** The watchpoint an access of `size` bytes at `va` hits, as the stop reply reports it. */
  watchHit(va: bigint, size: number, write: boolean): WatchHit | null {
    const end = va + BigInt(size);
    for (const w of this.watchpoints) {
      if (w.type === 'write' && !write) continue;
      if (w.type === 'read' && write) continue;
      if (va < w.end && end > w.addr) {
        const type = w.type === 'write' ? 'watch' : w.type === 'read' ? 'rwatch' : 'awatch';
        return { type, addr: va > w.addr ? va : w.addr };
      }
    }
    return null;
  }
}

/** True when a condition holds (or there is none), false when none does, or the error that stops anyway. */
function conditionHolds(conds: readonly Uint8Array[], env: AgentEnvironment): boolean | string {
  if (conds.length === 0) return true;
  for (const c of conds) {
    try {
      if (evaluateAgentExpression(c, env) !== 0n) return true;
    } catch (e) {
      // As gdb does with a condition it cannot evaluate: stop, and say why.
      if (e instanceof AgentError) return `cannot evaluate the condition (${e.message}); stopped`;
      throw e;
    }
  }
  return false;
}
