// The world-switch layer: an observer of architectural events that knows, for every PE of the
// machine, when it runs a guest and when the hypervisor, numbers and decodes every exit,
// accounts the hypervisor's work per exit, and — given a vcpu layout — tracks where each guest
// sysreg lives (on which PE's CPU, or in the vcpu context in memory) and checks the
// hypervisor's accesses to the vcpu context against that.
//
// What it keeps costs a fixed amount of memory however long the run: running sums, and ring
// buffers of the most recent records. Whoever needs every record (the report, the trace)
// listens to the events.
import { hex } from '../cpu/bits.js';
import type { Cpu } from '../cpu/cpu.js';
import { ObserverSet, type MemoryAccessed, type SysregAccessed } from '../cpu/events.js';
import { heldSysreg, keptBits, knownFromSaved, readSysreg } from '../sysregs/access.js';
import type { MachineSysregs } from '../sysregs/machine.js';
import { cptrTrapsFP } from '../pe/fp.js';
import { SR, type SysregSpec } from '../sysregs/registry.js';
import { CATEGORIES, type ExitCategory, type ExitReason } from './reason.js';
import {
  LayoutError,
  canonicalName,
  type BoundFlag,
  type BoundSlot,
  type BoundVcpu,
  type VcpuLayout,
} from './layout.js';
import type { Locate } from '../loader/locate.js';
import { Recent } from './history.js';
import { PeWorld, addCosts, addSums, newSums, type CostFigures, type Costs } from './pe.js';

export {
  PeWorld,
  guestRunningOn,
  vmidOn,
  newSums,
  describeExit,
  describeEntry,
  type Costs,
  type CostFigures,
} from './pe.js';

export interface ExitRecord extends CostFigures {
  readonly n: number;
  /** The PE that exited. */
  readonly pe: number;
  readonly vmid: number;
  readonly vcpu: string | null;
  /** The guest instruction that exited (for IRQ/FIQ/SError: the next one it would have run). */
  readonly pc: bigint;
  readonly reason: ExitReason;
  /** The exiting PE's instruction count. */
  readonly icount: number;
  /** False until the next entry on its PE closes the window the costs cover. */
  readonly closed: boolean;
}

export interface EntryRecord {
  readonly n: number;
  readonly pe: number;
  readonly vmid: number;
  readonly vcpu: string | null;
  readonly pc: bigint;
  /** The ERET that entered. */
  readonly eretPc: bigint;
  readonly icount: number;
}

export interface LoadPutRecord extends Costs {
  readonly type: 'load' | 'put';
  /** The PE that set or cleared the flag. */
  readonly pe: number;
  readonly vcpu: string;
  readonly flag: string;
  /** The store that set or cleared the flag. */
  readonly pc: bigint;
  readonly icount: number;
}

export type HazardKind =
  | 'stale-read'
  | 'lost-write'
  | 'missing-load'
  | 'partial-load'
  | 'partial-put'
  /** Strict mode: any access to a governed slot while its flag is set, whatever the values. */
  | 'strict-access';

/** Same kind, vcpu, register and instruction: one hazard seen `count` times. */
export interface HazardGroup {
  readonly first: Hazard;
  count: number;
}

export interface Hazard {
  readonly kind: HazardKind;
  /** The PE whose access (or ERET, or flag store) it is. */
  readonly pe: number;
  readonly vcpu: string;
  /** The register, or the flag for a missing load with the flag clear. */
  readonly reg: string;
  readonly pc: bigint;
  /** The instruction as a person reads it: `read_tpidr+4 (tinyvhe.S:121)`, or the address. */
  readonly where: string;
  readonly icount: number;
  readonly cpu?: bigint;
  readonly memory?: bigint;
  readonly message: string;
  /** How many times this kind, vcpu, register and instruction have been seen, this one included. */
  readonly occurrence: number;
}

export type WorldEvent =
  | { readonly type: 'exit'; readonly exit: ExitRecord }
  | { readonly type: 'entry'; readonly entry: EntryRecord; readonly closed: ExitRecord | null }
  | { readonly type: 'load' | 'put'; readonly record: LoadPutRecord }
  | { readonly type: 'hazard'; readonly hazard: Hazard };

export type CatchKind = 'entry' | 'exit' | 'load' | 'put';

/** Where a register's live value is; `none` for a slot past its array's count (not in use). */
export type Authority = 'cpu' | 'memory' | 'none';

export interface ResidencyRow {
  readonly reg: string;
  readonly vcpu: string;
  /** The PE whose CPU holds (or last held) the vcpu's registers: the `cpu` column is its. */
  readonly pe: number;
  /** The real register on that PE's CPU (null when hypstep does not model it). */
  readonly cpu: bigint | null;
  readonly memory: bigint;
  readonly authority: Authority;
  /** The flag that governs it, or null for a register switched on every entry and exit. */
  readonly governedBy: string | null;
  readonly verdict: string;
}

/** Per-vcpu residency state that memory does not already hold (the flags are read from memory). */
export interface VcpuState {
  bound: BoundVcpu;
  /** Its slots switched on every entry and exit (no flag governs them). */
  switchedSlots: readonly BoundSlot[];
  /**
   * Whether its switched registers are on the CPU of `pe`: it was entered there and nothing else
   * has been entered there since. Those saved since the entry are in `savedSwitched`.
   */
  switched: boolean;
  readonly savedSwitched: Set<string>;
  /**
   * Flag-governed registers saved (their slot written with the CPU's value) since their flag was
   * set, 1 by slot index (the order of `bound.slots`): a put may then hand the register back to the
   * host before it clears the flag, as KVM's put restores the host's TPIDR_EL0.
   */
  readonly saved: Uint8Array;
  /** Its slots as the access path compares them (made again whenever `bound` is). */
  words: SlotWords;
  /** The PE whose CPU holds its registers when they are live (where it was last loaded or entered). */
  pe: PeWorld | null;
  /** The PE its per-PE flags were placed for (where discovery last saw it); null for a vcpu the layout lists. */
  placedOn: PeWorld | null;
  /**
   * The PE the hypervisor has it loaded on: from the entry of the discovery function (KVM's
   * `kvm_arch_vcpu_load`) to the entry of the layout's put function with it; null otherwise.
   */
  loadedOn: PeWorld | null;
  /** Its VM and its id there, as the layout's `identity` fields held them when it was discovered. */
  identity: VcpuIdentity;
  /** The VMID it last ran with (null before its first entry). */
  vmid: number | null;
  /** Its switched registers as the CPU held them at its last exit (kept while checking). */
  readonly atExit: Map<string, bigint>;
  /** Its flags "between" two functions that are set. */
  readonly windows: Set<string>;
  /** Its name as the exit log holds it. */
  readonly nameId: number;
}

/** A discovered vcpu's VM (the hypervisor's pointer to it) and its id there, when the layout says where they are. */
export interface VcpuIdentity {
  readonly vm?: bigint;
  readonly id?: number;
}

/** A watched location: a slot (the vcpu's `index`th) or a flag of a vcpu, `width` bytes. */
type Watched = { vcpu: VcpuState; width: number; index: number } & (
  { slot: BoundSlot; flag?: undefined } | { flag: BoundFlag; slot?: undefined }
);

/**
 * A vcpu's slots as the checks compare them, by slot index: the register's place in a PE's
 * system-register file and the slot's in RAM, as 32-bit words, and the bits the register keeps.
 * The CPU's value and the slot's then compare with four integer loads, no BigInt made, for a
 * register that is plain storage (no behaviour of its own: then `held` is its write mask alone).
 */
class SlotWords {
  /**
   * The register's low word in a PE's `sr32`, or -1: compared as BigInts (a V register, a register
   * with behaviour, a slot not 4-aligned).
   */
  readonly sr: Int32Array;
  /** The slot's low word in the bus's `ram32`. */
  readonly ram: Int32Array;
  /** The bits compared in the low and the high word: the register's write mask within the slot's width. */
  readonly lo: Int32Array;
  readonly hi: Int32Array;
  /** By the vcpu's flag index: the slots whose register the flag governs. */
  readonly governedBy: readonly Int32Array[];

  constructor(bound: BoundVcpu, cpu: Cpu) {
    const n = bound.slots.length;
    this.sr = new Int32Array(n).fill(-1);
    this.ram = new Int32Array(n);
    this.lo = new Int32Array(n);
    this.hi = new Int32Array(n);
    bound.slots.forEach((slot, i) => {
      const r = slot.register;
      const plain =
        r?.kind === 'sysreg' &&
        r.spec.slot >= 0 &&
        cpu.sysregs.access[r.spec.id] === undefined &&
        slot.width <= 8 &&
        (slot.pa & 3) === 0;
      if (!plain) return;
      const kept = BigInt.asUintN(8 * slot.width, keptBits(r.spec));
      this.sr[i] = 2 * r.spec.slot;
      this.ram[i] = (slot.pa - cpu.bus.ramBase) >>> 2;
      this.lo[i] = Number(kept & 0xffff_ffffn) | 0;
      this.hi[i] = Number(kept >> 32n) | 0;
    });
    this.governedBy = bound.flags.map((f) =>
      Int32Array.from(bound.slots.flatMap((s, i) => (f.governs.includes(s.name) ? [i] : []))),
    );
  }

  /** Whether slot `i` compares as words (its `sr` is not -1). */
  plain(i: number): boolean {
    return this.sr[i]! >= 0;
  }

  /** For a plain slot `i`: whether it holds the register as the CPU whose registers are `sr32` has it. */
  same(i: number, sr32: Uint32Array, ram32: Int32Array): boolean {
    const s = this.sr[i]!,
      m = this.ram[i]!;
    if (((sr32[s]! ^ ram32[m]!) & this.lo[i]!) !== 0) return false;
    const hi = this.hi[i]!;
    return hi === 0 || ((sr32[s + 1]! ^ ram32[m + 1]!) & hi) === 0;
  }
}

/** Running sums over a kind of record: what the stats are computed from, whatever the logs keep. */
export interface CostSums {
  /** Records seen. */
  count: number;
  /** Records whose costs are final (an exit's window closes at the next entry; loads and puts at once). */
  closed: number;
  el2Insns: number;
  hostInsns: number;
  sysregs: number;
}

/** The world layer's aggregates since attach, over every PE. */
export interface WorldSums {
  readonly exits: CostSums;
  readonly byReason: Map<ExitCategory, CostSums>;
  /** MSR/MRS by register over closed exits. */
  readonly sysregsClosed: SysregCounts;
  /** Instructions from a guest HVC to its next instruction, over closed HVC exits. */
  readonly hvcRoundTrip: CostSums;
  readonly load: CostSums;
  readonly put: CostSums;
}

/** MSR/MRS counted by register, indexed by the register's id (no string keys on the exit path). */
export class SysregCounts {
  private counts = new Float64Array(256);
  /** The registers counted, in order of first sight. */
  private readonly specs: SysregSpec[] = [];

  /** Counts register `id` of `sysregs` once more. */
  addId(id: number, sysregs: MachineSysregs): void {
    if (id >= this.counts.length) this.counts = grown(this.counts, id);
    if (this.counts[id] === 0) this.specs.push(sysregs.byId(id));
    this.counts[id]! += 1;
  }

  /** [register name, count], in order of first sight. */
  entries(): [string, number][] {
    return this.specs.map((r) => [r.name, this.counts[r.id]!]);
  }

  copy(): SysregCounts {
    const c = new SysregCounts();
    c.counts = this.counts.slice();
    c.specs.push(...this.specs);
    return c;
  }
}

/**
 * A copy of `a` long enough for index `id`. Tables by register id are typed arrays: an array
 * written at scattered indexes is kept as a dictionary, slow to read on the exit path.
 */
// The registers whose values decide a placement, as indexes of their low halves in `sr` as 32-bit words.
const SCTLR_EL2_LO = 2 * SR.SCTLR_EL2!;
const TCR_EL2_LO = 2 * SR.TCR_EL2!;
const TTBR0_EL2_LO = 2 * SR.TTBR0_EL2!;

function grown<T extends Float64Array | Int8Array>(a: T, id: number): T {
  const b = new (a.constructor as new (n: number) => T)(Math.max(2 * a.length, id + 1));
  b.set(a);
  return b;
}

/** `old`'s saved registers, for `v` placed again (by name: a new placement may order its slots anew). */
function carrySaved(old: VcpuState, v: VcpuState): void {
  v.bound.slots.forEach((s, i) => {
    const j = old.bound.slots.findIndex((o) => o.name === s.name);
    if (j >= 0) v.saved[i] = old.saved[j]!;
  });
}

/** Bytes [lo, hi) of a little-endian value that starts at `base`. */
function bytesOf(v: bigint, base: number, lo: number, hi: number): bigint {
  return (v >> BigInt(8 * (lo - base))) & ((1n << BigInt(8 * (hi - lo))) - 1n);
}

export class World {
  /** One view per PE of the machine, in PE order; each is that PE's observer. */
  readonly pes: readonly PeWorld[];
  /** Exits and entries over all PEs (records are numbered by these). */
  exits = 0;
  entries = 0;
  /** The PE that exited last, and the PE that entered a guest last (-1: none yet). */
  lastExitPe = -1;
  lastEntryPe = -1;
  /**
   * The most recent exits, loads, puts and hazards (bounded however long the run; the report and
   * the trace take every record from the events). The costs of open windows are still growing.
   */
  readonly recent = new Recent();
  /**
   * MSR/MRS by register in every exit's window, counted as they happen (`sums` takes the open
   * windows' back out): closing an exit then adds nothing up.
   */
  readonly windowRegs = new SysregCounts();
  /** Exit categories in order of first sight on any PE (the PEs keep the sums by category). */
  readonly categories: ExitCategory[] = [];
  /** 1 for each category (`exitClass`) in `categories`. */
  readonly categorySeen = new Uint8Array(CATEGORIES.length);
  private readonly loadPutSums = { load: newSums(), put: newSums() };
  /** Hazards grouped by kind, vcpu, register and instruction, in order of first sight. */
  readonly hazardGroups = new Map<string, HazardGroup>();
  readonly catches = new Set<CatchKind>();
  private checks = false;
  /** Strict checking: also every access to a governed slot while its flag is set. */
  strict = false;

  /** Hazard checking (`monitor check residency on`); residency is tracked whenever a layout is bound. */
  get checking(): boolean {
    return this.checks;
  }
  set checking(on: boolean) {
    // Turned on, the next entry is checked in full (an entry steady while off was never compared).
    if (on !== this.checks) this.changed();
    this.checks = on;
  }
  /** Formats code addresses for messages (symbols and lines when the image has them). */
  locate: Locate = hex;
  layout: VcpuLayout | null = null;
  vcpus: VcpuState[] = [];
  /**
   * Stops the machine after the current instruction of `pe` with a message for the user. The
   * gdb stub replaces it to send the message as console output and report SIGTRAP on that PE.
   */
  stop: (message: string, pe: PeWorld) => void = (message, pe) =>
    pe.cpu.requestStop({ kind: 'requested', why: message });

  private readonly listeners: { fn: (e: WorldEvent) => void; types: ReadonlySet<WorldEvent['type']> | null }[] = [];
  /** Listeners that want exit and entry events (the PEs make those events only then). */
  readonly wanted = { exit: 0, entry: 0 };
  private readonly watched = new Map<number, Watched[]>();
  private replace: ((pe: PeWorld) => readonly BoundVcpu[] | null) | null = null;
  private readonly watchedRanges: { pa: number; size: number }[] = [];
  /** Registers some flag of the layout governs. */
  readonly governed = new Set<string>();
  /** `governed` by register id (1 yes, -1 no, 0 not asked yet), filled in as MSR/MRS ask it on the exit path. */
  private governedIds = new Int8Array(256);
  /** Registers (by id) the layout has slots for that no flag governs: switched on entry and exit. */
  readonly switchedRegs = new Set<number>();
  /**
   * `switchedRegs` and `governed` are not empty: plain booleans, read by every MSR/MRS outside a
   * guest (a Set's size is a call on that path).
   */
  anySwitched = false;
  anyGoverned = false;
  /** Whether the layout waits for a placement (`replace`), tried again at exits (see `placeAgain`). */
  placing = false;
  /**
   * By PE: the EL2 translation regime's registers (SCTLR_EL2, TCR_EL2, TTBR0_EL2 as int32 halves)
   * when a placement was last tried there and failed; it is tried again only once they differ.
   */
  private placeTried: Uint32Array[] = [];
  /**
   * The entry check's last clean verdict: the vcpu and PE, with every flag set and no switched
   * register to compare, under `changes` and the bus's `pokes` as they were. Until a watched store,
   * a window's change, a vcpu's load, a new binding or a debugger's write moves them, the same entry
   * has the same verdict.
   */
  private cleanEntry: { v: VcpuState | null; pe: PeWorld | null; changes: number; pokes: number } = {
    v: null,
    pe: null,
    changes: -1,
    pokes: -1,
  };
  /** Counts what the entry check's verdict reads from besides the CPU (see `cleanEntry`). */
  private changes = 0;
  /**
   * Counts `changes` and the entries that took `entered`'s whole path (each may move a vcpu
   * between PEs): a PE's last clean entry stands for its next one while this stays (PeWorld.steadyVmid).
   */
  version = 0;
  /** Function-entry hooks this layer put on the PEs. */
  private readonly hookPcs: bigint[] = [];
  /** Return hooks waiting to fire, with the hook each replaced. */
  private returnHooks: { cpu: Cpu; pc: bigint; prev: (() => void) | undefined }[] = [];
  /** Counts changes to `vcpus` and their bindings (what `identify` remembers depends on them). */
  private vcpusVersion = 0;
  /** Vcpus bound at run time by discovery: a new placement of the layout keeps them. */
  private discovered: BoundVcpu[] = [];
  /** Whether some flag of the layout is per PE (its vcpus are placed again when they move). */
  private perPeFlags = false;
  private attachedTo: { cpu: Cpu; set: ObserverSet | null }[] = [];

  /** What an IRQ or FIQ (vector kind 1, 2) taken now by PE `pe` is for: the machine's interrupt controller. */
  interruptSource: ((pe: number, kind: number) => string | undefined) | null = null;

  constructor(cpus: readonly Cpu[]) {
    this.pes = cpus.map((c, i) => new PeWorld(this, c, i));
    this.recent.exits.pes = this.pes;
  }

  /** Starts observing: each PE's view becomes (or joins) its CPU's observer. */
  attach(): this {
    for (const p of this.pes) {
      const cpu = p.cpu;
      const cur = cpu.observer;
      // Alone, the view is the observer itself (no fan-out on the exit path).
      if (cur === null) {
        cpu.observer = p;
        // It alone hears MRS/MSR: the core logs the accesses no check needs at once.
        cpu.sysregLog = p.log;
        this.attachedTo.push({ cpu, set: null });
        continue;
      }
      let set: ObserverSet;
      if (cur instanceof ObserverSet) set = cur;
      else {
        set = new ObserverSet();
        set.add(cur);
        cpu.observer = set;
      }
      set.add(p);
      this.attachedTo.push({ cpu, set });
    }
    this.eventsFor();
    return this;
  }

  /**
   * The registers whose MRS/MSR the PEs' views must hear at once (the core logs the others): those
   * a flag governs, and those switched on entry and exit.
   */
  private eventsFor(): void {
    const sysregs = this.pes[0]!.cpu.sysregs;
    const t = new Uint8Array(sysregs.access.length);
    for (let id = 0; id < t.length; id++)
      t[id] = this.switchedRegs.has(id) || (this.anyGoverned && this.governs(sysregs.byId(id))) ? 1 : 0;
    for (const p of this.pes) p.log.eventFor = t;
  }

  detach(): void {
    for (const [i, { cpu, set }] of this.attachedTo.entries()) {
      const p = this.pes[i]!;
      if (set === null) {
        if (cpu.observer === p) cpu.observer = null;
        if (cpu.sysregLog === p.log) cpu.sysregLog = null;
        continue;
      }
      set.remove(p);
      if (set.size === 0 && cpu.observer === set) cpu.observer = null;
    }
    this.attachedTo = [];
    this.unbind();
  }

  /**
   * Calls `listener` with every event, or only with those of `types`. An exit or an entry that
   * no listener wants is not made into an event at all (the exit path allocates less).
   */
  on(listener: (e: WorldEvent) => void, types?: readonly WorldEvent['type'][]): () => void {
    const l = { fn: listener, types: types ? new Set(types) : null };
    this.listeners.push(l);
    this.countWanted(l.types, 1);
    return () => {
      const i = this.listeners.indexOf(l);
      if (i < 0) return;
      this.listeners.splice(i, 1);
      this.countWanted(l.types, -1);
    };
  }

  private countWanted(types: ReadonlySet<WorldEvent['type']> | null, delta: number): void {
    for (const t of ['exit', 'entry'] as const) if (types === null || types.has(t)) this.wanted[t] += delta;
  }

  emit(e: WorldEvent): void {
    for (const l of this.listeners) if (l.types === null || l.types.has(e.type)) l.fn(e);
  }

  /** The latest exit of any PE. */
  get lastExit(): ExitRecord | null {
    return this.lastExitPe < 0 ? null : this.pes[this.lastExitPe]!.lastExit;
  }

  /** Category `cat` (`exitClass`) seen for the first time. */
  sawCategory(cat: number): void {
    this.categorySeen[cat] = 1;
    this.categories.push(CATEGORIES[cat]!);
  }

  /** The latest entry of any PE. */
  get lastEntry(): EntryRecord | null {
    return this.lastEntryPe < 0 ? null : this.pes[this.lastEntryPe]!.lastEntry;
  }

  /** The view of PE `index` (0 when out of range, as a machine of one PE has). */
  pe(index: number): PeWorld {
    return this.pes[index] ?? this.pes[0]!;
  }

  // --- layouts ------------------------------------------------------------------------------

  /**
   * Binds a layout placed in memory; residency tracking and load/put events start now.
   * `replace`, when given, is asked at each exit for a better placement until it gives one.
   */
  bind(
    layout: VcpuLayout,
    vcpus: readonly BoundVcpu[],
    replace: ((pe: PeWorld) => readonly BoundVcpu[] | null) | null = null,
  ): void {
    for (const v of vcpus) this.checkRam(v);
    const before = new Map(this.vcpus.map((v) => [v.bound.name, v]));
    // Placed again (or for the first time): function hooks and discovered vcpus stay; `unbind` drops them.
    this.unwatch();
    this.vcpus = [];
    this.vcpusVersion++;
    this.changed();
    this.replace = replace;
    this.placeTried = this.pes.map(() => new Uint32Array(6).fill(-1));
    for (const p of this.pes) p.placeEpoch = -1;
    this.layout = layout;
    this.governed.clear();
    this.governedIds.fill(0);
    for (const f of layout.flags) for (const g of f.governs) this.governed.add(g);
    this.switchedRegs.clear();
    for (const s of layout.slots)
      if (!this.governed.has(s.name) && s.register?.kind === 'sysreg') this.switchedRegs.add(s.register.spec.id);
    this.perPeFlags = layout.flags.some((f) => f.place.base.kind === 'perPE');
    this.anySwitched = this.switchedRegs.size !== 0;
    this.anyGoverned = this.governed.size !== 0;
    this.eventsFor();
    this.placing = replace !== null;
    for (const bound of [...vcpus, ...this.discovered]) this.watchVcpu(bound);
    if (before.size > 0) {
      // Placed again: the state that memory does not hold carries over.
      for (const v of this.vcpus) {
        const old = before.get(v.bound.name);
        if (old === undefined) continue;
        v.switched = old.switched;
        for (const r of old.savedSwitched) v.savedSwitched.add(r);
        carrySaved(old, v);
        // Placed again at an exit (the hypervisor's MMU now on): what the guest left there is still to be saved.
        for (const [r, value] of old.atExit) v.atExit.set(r, value);
        v.pe = old.pe;
        v.placedOn = old.placedOn;
        v.loadedOn = old.loadedOn;
        v.identity = old.identity;
        v.vmid = old.vmid;
        for (const f of old.windows) v.windows.add(f);
      }
      for (const p of this.pes) {
        p.running = (p.running && this.vcpu(p.running.bound.name)) ?? null;
        p.current = (p.current && this.vcpu(p.current.bound.name)) ?? null;
      }
    } else {
      for (const p of this.pes) {
        p.running = null;
        if (!p.inGuest) continue;
        // A guest already running when the layout arrives: its switched registers are on that PE's CPU.
        const v = (p.running = this.identify(p));
        if (v === null) continue;
        v.pe = p;
        v.switched = true;
      }
    }
  }

  private checkRam(v: BoundVcpu): void {
    const bus = this.pes[0]!.cpu.bus;
    const counts = v.slots.flatMap((s) =>
      s.countPa === null ? [] : [{ name: `${s.count!.array}'s count`, pa: s.countPa, width: s.count!.width }],
    );
    for (const x of [...v.slots, ...v.flags.filter((f) => !f.between), ...counts]) {
      if (!bus.isRam(x.pa, x.width)) {
        throw new LayoutError(
          `vcpu ${v.name}: ${x.name} would be at PA 0x${x.pa.toString(16)}, which is not RAM (check the vcpu's symbol, address or pointer)`,
        );
      }
    }
  }

  private watchVcpu(bound: BoundVcpu): VcpuState {
    const v: VcpuState = {
      bound,
      switchedSlots: bound.slots.filter((s) => s.flag === null),
      switched: false,
      savedSwitched: new Set(),
      saved: new Uint8Array(bound.slots.length),
      words: new SlotWords(bound, this.pes[0]!.cpu),
      pe: null,
      placedOn: null,
      loadedOn: null,
      identity: {},
      vmid: null,
      atExit: new Map(),
      windows: new Set(),
      nameId: this.recent.exits.nameId(bound.name),
    };
    this.vcpus.push(v);
    this.vcpusVersion++;
    this.watchLocations(v);
    return v;
  }

  private watchLocations(v: VcpuState): void {
    const add = (pa: number, w: Watched) => {
      const list = this.watched.get(pa) ?? [];
      list.push(w);
      this.watched.set(pa, list);
      for (const p of this.pes) p.cpu.watchPhys(pa, w.width);
      this.watchedRanges.push({ pa, size: w.width });
    };
    // Both kinds with the same fields in the same order: one shape where the access path reads them.
    v.bound.slots.forEach((slot, index) => add(slot.pa, { vcpu: v, slot, flag: undefined, width: slot.width, index }));
    for (const flag of v.bound.flags)
      if (!flag.between) add(flag.pa, { vcpu: v, slot: undefined, flag, width: flag.width, index: -1 });
  }

  /** Binds a vcpu found at run time (the layout's `discover`); it keeps its own residency from now on. */
  addVcpu(bound: BoundVcpu, identity: VcpuIdentity = {}): void {
    this.checkRam(bound);
    this.discovered.push(bound);
    this.watchVcpu(bound).identity = identity;
    this.changed();
  }

  /**
   * The hypervisor frees the vcpu at `va` (the layout's `discover.forget`): its memory is no
   * longer a vcpu, so it is no longer watched. Its name is not reused.
   */
  forgetVcpu(va: bigint): void {
    const v = this.vcpus.find((x) => x.bound.va === va);
    if (v === undefined || !this.discovered.some((b) => b.va === va)) return;
    this.discovered = this.discovered.filter((b) => b.va !== va);
    this.vcpus = this.vcpus.filter((x) => x !== v);
    this.vcpusVersion++;
    this.changed();
    for (const p of this.pes) {
      if (p.current === v) p.current = null;
      if (p.running === v) p.running = null;
    }
    this.rewatch();
  }

  /** The layout's put function was entered with the vcpu at `va` on `p`: it is no longer loaded there. */
  vcpuPut(p: PeWorld, va: bigint): void {
    const v = this.vcpus.find((x) => x.bound.va === va);
    if (v !== undefined && v.loadedOn === p) v.loadedOn = null;
  }

  /** Whether a vcpu structure at this virtual address is already bound. */
  knowsVcpuAt(va: bigint): boolean {
    return this.vcpus.some((v) => v.bound.va === va);
  }

  /**
   * The vcpu at `va` is being loaded on PE `p` (the discovery function was entered with it):
   * the PE's per-PE flags speak for it from now on. A vcpu that moved to another PE has its
   * per-PE flags placed again, at that PE's copy (`place` binds it as seen from `p`).
   */
  vcpuEntered(p: PeWorld, va: bigint, place: () => BoundVcpu): void {
    const v = this.vcpus.find((x) => x.bound.va === va) ?? null;
    p.current = v;
    this.changed();
    if (v === null) return;
    if (this.perPeFlags && v.placedOn !== null && v.placedOn !== p) {
      v.bound = place();
      this.vcpusVersion++;
      v.switchedSlots = v.bound.slots.filter((s) => s.flag === null);
      v.words = new SlotWords(v.bound, p.cpu);
      this.discovered = this.discovered.map((b) => (b.va === va ? v.bound : b));
      this.rewatch();
    }
    v.placedOn = p;
    v.loadedOn = p;
    if (!this.loaded(v)) v.pe = p;
  }

  /**
   * Calls `fn` once, when PE `p` is about to run the instruction at `ret` (the return address a
   * function was entered with) with its stack back where it was (`sp`: not a deeper call).
   */
  hookReturn(p: PeWorld, ret: bigint, sp: bigint, fn: () => void): void {
    const cpu = p.cpu;
    const prev = cpu.codeHook(ret);
    const mine = () => {
      if (cpu.getSp() < sp) return;
      cpu.setCodeHook(ret, prev ?? null);
      this.returnHooks = this.returnHooks.filter((r) => r.cpu !== cpu || r.pc !== ret);
      fn();
    };
    cpu.setCodeHook(ret, prev ? () => (prev(), mine()) : mine);
    this.returnHooks.push({ cpu, pc: ret, prev });
  }

  /**
   * Calls `fn` with the PE each time the instruction at `pc` is about to run on it (a
   * function's entry), for as long as the layout stays bound.
   */
  hookFunction(pc: bigint, fn: (pe: PeWorld) => void): void {
    for (const p of this.pes) {
      const prev = p.cpu.codeHook(pc);
      const mine = () => fn(p);
      p.cpu.setCodeHook(pc, prev ? () => (prev(), mine()) : mine);
    }
    this.hookPcs.push(pc);
  }

  private unwatch(): void {
    for (const r of this.watchedRanges) for (const p of this.pes) p.cpu.unwatchPhys(r.pa, r.size);
    this.watchedRanges.length = 0;
    this.watched.clear();
  }

  private rewatch(): void {
    this.unwatch();
    for (const v of this.vcpus) this.watchLocations(v);
  }

  unbind(): void {
    this.unwatch();
    for (const r of this.returnHooks.reverse()) r.cpu.setCodeHook(r.pc, r.prev ?? null);
    this.returnHooks = [];
    for (const pc of this.hookPcs) for (const p of this.pes) p.cpu.setCodeHook(pc, null);
    this.hookPcs.length = 0;
    this.layout = null;
    this.governed.clear();
    this.governedIds.fill(0);
    this.switchedRegs.clear();
    this.anySwitched = this.anyGoverned = false;
    this.eventsFor();
    this.placing = false;
    this.vcpus = [];
    this.vcpusVersion++;
    this.changed();
    this.discovered = [];
    this.perPeFlags = false;
    for (const p of this.pes) {
      p.current = null;
      p.running = null;
      p.inPut = false;
    }
    this.replace = null;
  }

  /** Whether a flag of the layout governs register `r` (or the register it is an alias of). */
  governs(r: SysregSpec): boolean {
    if (r.id >= this.governedIds.length) this.governedIds = grown(this.governedIds, r.id);
    let g = this.governedIds[r.id]!;
    if (g === 0) this.governedIds[r.id] = g = this.governed.has(r.aliasOf ?? r.name) ? 1 : -1;
    return g === 1;
  }

  vcpu(name: string): VcpuState | undefined {
    return this.vcpus.find((v) => v.bound.name === name);
  }

  /** A slot's or flag's value in memory: `bind` checked they are RAM, so reading has no side effects. */
  private peek(pa: number, width: number): bigint {
    const bus = this.pes[0]!.cpu.bus;
    // A V register's slot is two doublewords (the bus reads at most 8 bytes at once).
    return width === 16 ? (bus.read(pa + 8, 8) << 64n) | bus.read(pa, 8) : bus.read(pa, width);
  }

  /**
   * Whether `f` is set for `v`. A flag outside the vcpu (at a symbol, or per PE) is one word for
   * every vcpu: it speaks for the vcpu the layout's discovery function was last entered with on
   * the PE the vcpu was placed for (KVM's `kvm_arch_vcpu_load(vcpu, cpu)`), or for any vcpu
   * without discovery.
   */
  flagOn(v: VcpuState, f: BoundFlag): boolean {
    if (f.between) return v.windows.has(f.name);
    return this.flagSet(f) && this.flagIsVcpus(v, f);
  }

  private flagIsVcpus(v: VcpuState, f: BoundFlag): boolean {
    if (f.inVcpu) return true;
    const p = v.placedOn;
    return p === null || p.current === null || p.current === v;
  }

  /** Whether any bit of the flag's mask is set in memory (read byte by byte: no BigInt on the access path). */
  flagSet(f: BoundFlag): boolean {
    if (f.equals !== undefined) return (this.peek(f.pa, f.width) & f.mask) === f.equals;
    const bus = this.pes[0]!.cpu.bus;
    const at = f.pa - bus.ramBase;
    for (let i = 0; i < f.maskBytes.length; i++) if ((bus.ram[at + i]! & f.maskBytes[i]!) !== 0) return true;
    return false;
  }

  /** Whether any of the vcpu's loaded flags is set. */
  loaded(v: VcpuState): boolean {
    return v.bound.flags.some((f) => this.flagOn(v, f));
  }

  /** The count of a counted slot's array as memory holds it now (null for a slot always in use). */
  private count(slot: BoundSlot): number | null {
    return slot.countPa === null ? null : Number(this.peek(slot.countPa, slot.count!.width));
  }

  /** Whether a slot is in use: always, or while its index is below its array's count in memory. */
  inUse(slot: BoundSlot): boolean {
    const n = this.count(slot);
    return n === null || slot.count!.index < n;
  }

  /** Whether the live value of `slot` of `v` is on a CPU right now (the CPU of `v.pe`), or in no use at all. */
  authority(v: VcpuState, slot: BoundSlot): Authority {
    if (!this.inUse(slot)) return 'none';
    if (slot.flag !== null) return this.flagOn(v, slot.flag) ? 'cpu' : 'memory';
    return v.switched && !v.savedSwitched.has(slot.name) ? 'cpu' : 'memory';
  }

  /** The PE whose CPU holds `v`'s registers while they are live. */
  private home(v: VcpuState): PeWorld {
    return v.pe ?? v.placedOn ?? this.pes[0]!;
  }

  /** The register a slot holds, as the CPU of `p` has it (null when hypstep does not model it). */
  private cpuValue(p: PeWorld, slot: BoundSlot): bigint | null {
    const r = slot.register;
    if (r === undefined) return null;
    if (r.kind === 'vreg') return p.cpu.v.q(r.n);
    return BigInt.asUintN(slot.width * 8, readSysreg(p.cpu, r.spec));
  }

  /** The bits of a slot's register the CPU keeps: a saved value differs from the CPU's only in those. */
  private kept(slot: BoundSlot): bigint {
    return slot.register?.kind === 'sysreg' ? keptBits(slot.register.spec) : -1n;
  }

  /** What the slot's register holds once `value` is written to it (its write mask, VMCR's minimums, no ISTATUS). */
  private held(slot: BoundSlot, value: bigint): bigint {
    const r = slot.register;
    return r?.kind === 'sysreg' ? heldSysreg(this.pes[0]!.cpu, r.spec, value) : value;
  }

  /**
   * Whether the CPU's value and a saved one are the same register: writing either gives the same
   * (a status bit the CPU computes, a field a write cannot clear, do not tell them apart).
   */
  private same(slot: BoundSlot, cpu: bigint, saved: bigint): boolean {
    return this.held(slot, cpu) === this.held(slot, saved);
  }

  residency(v: VcpuState, regs?: readonly string[]): ResidencyRow[] {
    const want = regs?.map(canonicalName);
    const home = this.home(v);
    return v.bound.slots
      .filter((s) => !want || want.includes(s.name))
      .map((slot) => {
        const cpu = this.cpuValue(home, slot);
        const memory = this.peek(slot.pa, slot.width);
        const authority = this.authority(v, slot);
        let verdict: string;
        if (authority === 'none')
          verdict = `not in use (index ${slot.count!.index} of ${slot.count!.array}, count ${this.count(slot)})`;
        else if (cpu === null)
          verdict = authority === 'cpu' ? 'CPU live (hypstep does not model this register)' : 'memory live';
        else if (this.same(slot, cpu, memory)) verdict = 'in sync';
        else if (authority === 'cpu') verdict = 'CPU live, memory stale (expected while loaded)';
        else verdict = 'memory live, CPU holds another value';
        return {
          reg: slot.name,
          vcpu: v.bound.name,
          pe: home.index,
          cpu,
          memory,
          authority,
          governedBy: slot.flag?.name ?? null,
          verdict,
        };
      });
  }

  /**
   * Which vcpu an entry on `p` runs: the one with the guest's VMID when only one has it; else,
   * among those (or all, when the layout names no VMIDs), the only one loaded on this PE, the
   * one discovery last saw on it, the only one loaded anywhere, or the only one.
   */
  private identify(p: PeWorld): VcpuState | null {
    const vmid = p.currentVmid();
    const known = this.lastIdentified(p, vmid);
    if (known !== null) return known;
    let byVmid: VcpuState | null = null,
      nVmid = 0;
    for (const v of this.vcpus)
      if (v.bound.vmid === vmid) {
        byVmid = v;
        nVmid++;
      }
    if (nVmid === 1) {
      p.identifiedVmid = vmid;
      p.identifiedVersion = this.vcpusVersion;
      return (p.identifiedVcpu = byVmid);
    }
    const candidate = (v: VcpuState) => nVmid === 0 || v.bound.vmid === vmid;
    let here: VcpuState | null = null,
      nHere = 0,
      anywhere: VcpuState | null = null,
      nAnywhere = 0;
    for (const v of this.vcpus) {
      if (!candidate(v) || !this.loaded(v)) continue;
      anywhere = v;
      nAnywhere++;
      if (this.home(v) === p) {
        here = v;
        nHere++;
      }
    }
    if (nHere === 1) return here;
    if (p.current !== null && candidate(p.current)) return p.current;
    if (nAnywhere === 1) return anywhere;
    return this.vcpus.length === 1 ? this.vcpus[0]! : null;
  }

  // --- what the PEs report --------------------------------------------------------------------

  /** The one vcpu of VMID `vmid`, as `identify` found it at `p`'s last entry while the vcpus stayed the same. */
  private lastIdentified(p: PeWorld, vmid: number): VcpuState | null {
    return p.identifiedVmid === vmid && p.identifiedVersion === this.vcpusVersion ? p.identifiedVcpu : null;
  }

  /** An exit on `p` is being recorded: the switched registers its vcpu left on the CPU. */
  switchedAtExit(p: PeWorld): void {
    const v = p.running;
    if (v !== null)
      for (const s of v.switchedSlots) {
        // A slot not in use held none of the guest's state: nothing of it is to be saved, and until
        // the next entry its memory is what the hypervisor fills (KVM's next flush of vgic_lr[]).
        if (s.countPa !== null && !this.inUse(s)) {
          v.savedSwitched.add(s.name);
          v.atExit.delete(s.name);
          continue;
        }
        if (!this.checking) continue;
        const cpu = this.cpuValue(p, s);
        if (cpu !== null) v.atExit.set(s.name, cpu);
      }
  }

  /**
   * An exit on `p` after a translation register changed (the MMU's epoch moved since `p` last
   * asked): a layout bound with the MMU off may now be placed for real.
   */
  placeAgain(p: PeWorld): void {
    p.placeEpoch = p.cpu.mmu.epoch;
    const replace = this.replace;
    if (replace === null) return;
    // Placing reads the hypervisor's EL2 tables: what it could not place under the same regime
    // registers it cannot place now.
    const sr32 = p.sr32;
    const tried = this.placeTried[p.index]!;
    if (
      tried[0] === sr32[SCTLR_EL2_LO] &&
      tried[1] === sr32[SCTLR_EL2_LO + 1] &&
      tried[2] === sr32[TCR_EL2_LO] &&
      tried[3] === sr32[TCR_EL2_LO + 1] &&
      tried[4] === sr32[TTBR0_EL2_LO] &&
      tried[5] === sr32[TTBR0_EL2_LO + 1]
    )
      return;
    const placed = replace(p);
    if (placed !== null) this.bind(this.layout!, placed);
    else tried.set([SCTLR_EL2_LO, TCR_EL2_LO, TTBR0_EL2_LO].flatMap((i) => [sr32[i]!, sr32[i + 1]!]));
  }

  /**
   * The aggregates over every PE, made when asked: the exit path adds each exit's costs to its
   * PE's sums for its category alone, and every total here derives from those.
   */
  get sums(): WorldSums {
    const byReason = new Map<ExitCategory, CostSums>();
    for (const cat of this.categories) {
      const s = newSums();
      for (const p of this.pes) {
        const c = p.sumsOf(cat);
        if (c !== undefined) addSums(s, c);
      }
      byReason.set(cat, s);
    }
    const exits = newSums();
    for (const c of byReason.values()) addSums(exits, c);
    const hvc = byReason.get('hvc') ?? newSums();
    const sysregsClosed = this.windowRegs.copy();
    return {
      exits,
      byReason,
      sysregsClosed,
      // The HVC itself retired after the exit event; the window ends before the ERET's successor.
      hvcRoundTrip: { ...hvc, count: hvc.closed, hostInsns: hvc.hostInsns + hvc.closed },
      load: this.loadPutSums.load,
      put: this.loadPutSums.put,
    };
  }

  /** PE `p` restarted: the registers it held are gone. */
  peRestarted(p: PeWorld): void {
    for (const v of this.vcpus) if (v.pe === p) v.switched = false;
    this.changed();
  }

  /**
   * An entry on `p` that is not the same as its last clean one (PeWorld.steadyVmid: the same
   * VMID, vcpus, bindings, watched memory, and no entry elsewhere since that moved a vcpu): which
   * vcpu it runs, its switched registers now on `p`, and the missing-load check.
   */
  entered(p: PeWorld): void {
    if (this.vcpus.length === 0) return;
    this.version++;
    const v = this.lastIdentified(p, p.vmid) ?? this.identify(p);
    // Re-entered from EL2 without the host running below it since the exit (KVM's fixup_guest_exit,
    // a lazy FP load): the switched registers it did not save never left the CPU.
    const stayed = v !== null && v.switched === true && v.pe === p && p.leftEl2 === false;
    p.running = v;
    // Entering overwrote the switched registers of whichever vcpu this PE held.
    const vcpus = this.vcpus;
    for (let i = 0; i < vcpus.length; i++) {
      const u = vcpus[i]!;
      if (u.pe === p) u.switched = false;
    }
    if (v === null) return;
    v.pe = p;
    v.vmid = p.vmid;
    v.switched = true;
    if (this.checking === true && !this.cleanFor(p, v)) this.checkEntry(p, v, stayed);
    if (v.switchedSlots.length !== 0) {
      if (v.savedSwitched.size !== 0) v.savedSwitched.clear();
    } else if (this.checking === false || this.cleanFor(p, v)) {
      // Nothing to compare at this entry (no switched registers; checked clean, or not checking):
      // the next one with nothing changed is the same.
      p.steadyVmid = p.vmid;
      p.steadyVersion = this.version;
      p.steadyPokes = p.cpu.bus.pokes;
    }
  }

  /** What the entry check's verdict reads besides the CPU changed. */
  private changed(): void {
    this.changes++;
    this.version++;
  }

  /** Whether the entry check's last clean verdict holds for an entry into `v` on `p`. */
  private cleanFor(p: PeWorld, v: VcpuState): boolean {
    const c = this.cleanEntry;
    return c.v === v && c.pe === p && c.changes === this.changes && c.pokes === p.cpu.bus.pokes;
  }

  /** At an entry into `v` on `p`: every flag set (or lazily loadable) and every switched register restored. */
  private checkEntry(p: PeWorld, v: VcpuState, stayed: boolean): void {
    this.cleanEntry.v = null;
    let lazy = false;
    for (const f of v.bound.flags) {
      if (f.onEntry === 'none' || this.flagOn(v, f)) continue;
      lazy = true;
      // Loaded lazily: the guest may run without its FP registers while its first use traps to EL2.
      if (f.lazy === 'fp' && cptrTrapsFP(p.cpu, p.cpu.ps.el)) continue;
      this.hazard(p, {
        kind: 'missing-load',
        vcpu: v.bound.name,
        reg: f.name,
        pc: p.cpu.pcs[1]!,
        detail:
          `ERET into ${v.bound.name} with ${f.name} clear: ${f.governs.length} register(s) it governs (${f.governs.slice(0, 4).join(', ')}${f.governs.length > 4 ? ', …' : ''}) were never loaded` +
          (f.lazy === 'fp' ? ", and CPTR_EL2 does not trap the guest's SIMD&FP use that would load them" : ''),
      });
      return;
    }
    for (const s of v.switchedSlots) {
      if ((stayed && !v.savedSwitched.has(s.name)) || !this.inUse(s)) continue;
      const cpu = this.cpuValue(p, s);
      const memory = this.peek(s.pa, s.width);
      if (cpu !== null && !this.same(s, cpu, memory)) {
        this.hazard(p, {
          kind: 'missing-load',
          vcpu: v.bound.name,
          reg: s.name,
          pc: p.cpu.pcs[1]!,
          cpu,
          memory,
          detail: `ERET into ${v.bound.name} with ${s.name} on the CPU (${hex(cpu)}) different from its context (${hex(memory)})`,
        });
        return;
      }
    }
    // Clean with every flag set in memory and nothing switched: the verdict holds until `changes` moves.
    if (!lazy && v.switchedSlots.length === 0)
      Object.assign(this.cleanEntry, { v, pe: p, changes: this.changes, pokes: p.cpu.bus.pokes });
  }

  /**
   * The hypervisor writes a register switched on entry and exit (MSR at EL2). If the vcpu that
   * PE ran still had its value there, not saved since the exit, and its slot holds another value,
   * the exit's save skipped it and the guest's value is gone: a partial put. Either way the CPU
   * no longer holds the guest's register.
   */
  switchedWritten(p: PeWorld, e: SysregAccessed): void {
    const vcpus = this.vcpus;
    for (let i = 0; i < vcpus.length; i++) {
      const v = vcpus[i]!;
      if (v.pe !== p || !v.switched || p.inGuest) continue;
      const slot = v.switchedSlots.find((s) => s.register?.kind === 'sysreg' && s.register.spec.name === e.reg.name);
      if (slot === undefined || v.savedSwitched.has(slot.name)) continue;
      v.savedSwitched.add(slot.name);
      const memory = this.peek(slot.pa, slot.width);
      const guest = v.atExit.get(slot.name);
      if (!this.checking || guest === undefined || this.same(slot, guest, memory)) continue;
      this.hazard(p, {
        kind: 'partial-put',
        vcpu: v.bound.name,
        reg: slot.name,
        pc: e.pc,
        cpu: guest,
        memory,
        detail: `${slot.name} overwritten with ${hex(BigInt.asUintN(slot.width * 8, e.value))} before the exit's save stored ${v.bound.name}'s: the guest left ${hex(guest)}, its slot holds ${hex(memory)}`,
      });
    }
  }

  memoryAccessed(p: PeWorld, e: MemoryAccessed): void {
    if (e.write) this.changed();
    // The exact-address lookup serves an access no wider than what starts there; a wider one
    // (an 8-byte store over two 4-byte slots) may reach a neighbour, so it takes the full scan.
    let hits = this.watched.get(e.pa);
    if (hits !== undefined) {
      for (const w of hits)
        if (w.width < e.size) {
          hits = undefined;
          break;
        }
    }
    if (hits === undefined) hits = this.overlapping(e.pa, e.size);
    for (const w of hits) {
      if (w.flag) this.flagAccess(p, w.vcpu, w.flag, e);
      else this.slotAccess(p, w.vcpu, w.slot, w.index, e);
    }
  }

  private overlapping(pa: number, size: number): Watched[] {
    const out: Watched[] = [];
    for (const [start, list] of this.watched)
      for (const w of list) if (pa < start + w.width && pa + size > start) out.push(w);
    return out;
  }

  private flagAccess(p: PeWorld, v: VcpuState, f: BoundFlag, e: MemoryAccessed): void {
    if (!e.write || !this.flagIsVcpus(v, f)) return;
    const lo = Math.max(e.pa, f.pa),
      hi = Math.min(e.pa + e.size, f.pa + f.width);
    let was: boolean, now: boolean;
    if (e.pa === f.pa && e.size === f.width) {
      // A store of the whole word (the common case): memory holds it now, `before` held it before.
      was = f.equals !== undefined ? (e.before & f.mask) === f.equals : (e.before & f.mask) !== 0n;
      now = this.flagSet(f);
    } else if (f.equals !== undefined) {
      // The whole word decides: now as memory holds it, before with the stored bytes as they were.
      const word = this.peek(f.pa, f.width);
      const shift = BigInt(8 * (lo - f.pa));
      const bytes = ((1n << BigInt(8 * (hi - lo))) - 1n) << shift;
      const old = (word & ~bytes) | (bytesOf(e.before, e.pa, lo, hi) << shift);
      was = (old & f.mask) === f.equals;
      now = (word & f.mask) === f.equals;
    } else {
      const mask = bytesOf(f.mask, f.pa, lo, hi);
      was = (bytesOf(e.before, e.pa, lo, hi) & mask) !== 0n;
      now = (bytesOf(e.value, e.pa, lo, hi) & mask) !== 0n;
    }
    if (was !== now) this.flagChanged(p, v, f, now, e.pc);
  }

  /**
   * A flag "between" two functions: `from` returned on `p` with the vcpu at `va` (set), or `to` did
   * (clear); `pc` is the return address.
   */
  windowChanged(p: PeWorld, va: bigint, flag: string, set: boolean, pc: bigint): void {
    const v = this.vcpus.find((x) => x.bound.va === va);
    const f = v?.bound.flags.find((x) => x.name === flag);
    if (v === undefined || f === undefined || v.windows.has(flag) === set) return;
    if (set) v.windows.add(flag);
    else v.windows.delete(flag);
    this.changed();
    this.flagChanged(p, v, f, set, pc);
  }

  /** A load (`now` set) or put completes on `p` at `pc`. */
  private flagChanged(p: PeWorld, v: VcpuState, f: BoundFlag, now: boolean, pc: bigint): void {
    // A load completes on the PE that sets the flag: the registers are live on its CPU now.
    if (now) v.pe = p;
    p.advance();
    if (this.checking) this.checkTransition(p, v, f, now, pc);
    if (!now) p.inPut = false;
    const governed = v.words.governedBy[v.bound.flags.indexOf(f)]!;
    for (let i = 0; i < governed.length; i++) v.saved[governed[i]!] = 0;
    const record = p.closeLoadPut(now ? 'load' : 'put', v.bound.name, f.name, pc);
    this.recent.loadPut.push(record);
    const sums = this.loadPutSums[record.type];
    sums.count++;
    addCosts(sums, record.el2Insns, record.hostInsns, record.sysregTotal);
    this.emit({ type: record.type, record });
    if (this.catches.has(record.type)) this.stop(describeLoadPut(record, this.locate), p);
  }

  /**
   * A load or put completes on `p`: every register the flag governs must now be equal on its CPU
   * and in its slot (a load restored them all, a put saved them all).
   */
  private checkTransition(p: PeWorld, v: VcpuState, f: BoundFlag, set: boolean, pc: bigint): void {
    const slots = v.bound.slots,
      words = v.words,
      ram32 = p.cpu.bus.ram32;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      if (slot.flag?.name !== f.name || !this.inUse(slot)) continue;
      // Saved since the load: a put may have handed the register back to the host already.
      if (!set && v.saved[i] === 1) continue;
      if (words.plain(i) && words.same(i, p.sr32, ram32)) continue;
      const cpu = this.cpuValue(p, slot);
      const memory = this.peek(slot.pa, slot.width);
      if (cpu === null || this.same(slot, cpu, memory)) continue;
      this.hazard(p, {
        kind: set ? 'partial-load' : 'partial-put',
        vcpu: v.bound.name,
        reg: slot.name,
        pc,
        cpu,
        memory,
        detail: set
          ? `${f.name} set (a load completes) with ${slot.name} not restored: the CPU holds ${hex(cpu)}, its slot ${hex(memory)}`
          : `${f.name} cleared (a put completes) with ${slot.name} not saved: its slot holds ${hex(memory)}, the CPU ${hex(cpu)}`,
      });
    }
  }

  private slotAccess(p: PeWorld, v: VcpuState, slot: BoundSlot, i: number, e: MemoryAccessed): void {
    if (slot.flag !== null && !e.write) p.governedAccess();
    const live = this.authority(v, slot) === 'cpu';
    if (this.checking && this.strict && live && slot.flag !== null) this.strictAccess(p, v, slot, e);
    if (!live) return;
    // The common case, an access of the whole slot, compares the values as they are: the slot in
    // RAM holds the value loaded or stored. Equal as words, it is clean without a BigInt made.
    const whole = e.pa === slot.pa && e.size === slot.width;
    if (whole && v.words.plain(i) && v.words.same(i, this.home(v).sr32, p.cpu.bus.ram32)) {
      if (e.write) this.savedNow(v, slot, i);
      return;
    }
    // Live on a CPU: the one of the PE that holds the vcpu, whichever PE makes the access.
    const cpuFull = this.cpuValue(this.home(v), slot);
    if (cpuFull === null) return;
    const lo = Math.max(e.pa, slot.pa),
      hi = Math.min(e.pa + e.size, slot.pa + slot.width);
    const same = whole
      ? this.same(slot, cpuFull, e.value)
      : bytesOf(this.held(slot, cpuFull), slot.pa, lo, hi) ===
        (bytesOf(e.value, e.pa, lo, hi) & bytesOf(this.kept(slot), slot.pa, lo, hi));
    if (same) {
      // Saving the CPU's value: a register switched on entry/exit now lives in memory. A V register
      // is stored as two doublewords: saved once the second makes the whole slot the CPU's value.
      if (e.write && (whole || this.peek(slot.pa, slot.width) === cpuFull)) this.savedNow(v, slot, i);
      return;
    }
    if (!this.checking) return;
    // A read of a copy from which the hypervisor knows the register's value anyway (a free list register).
    if (
      !e.write &&
      whole &&
      slot.register?.kind === 'sysreg' &&
      knownFromSaved(this.pes[0]!.cpu, slot.register.spec, cpuFull, e.value)
    )
      return;
    const loaded = slot.flag !== null ? `${slot.flag.name} set` : 'on the CPU since the last entry, not yet saved';
    const where = this.home(v) === p ? 'the CPU' : `PE${this.home(v).index}'s CPU`;
    if (e.write) {
      this.hazard(p, {
        kind: 'lost-write',
        vcpu: v.bound.name,
        reg: slot.name,
        pc: e.pc,
        cpu: cpuFull,
        memory: e.value,
        detail: `write of ${hex(e.value)} to the ${slot.name} slot of ${v.bound.name} while the register is live on ${where} (${loaded}); the CPU holds ${hex(cpuFull)}, so the write is lost when the register is next saved`,
      });
    } else {
      this.hazard(p, {
        kind: 'stale-read',
        vcpu: v.bound.name,
        reg: slot.name,
        pc: e.pc,
        cpu: cpuFull,
        memory: e.value,
        detail: `read of the ${slot.name} slot of ${v.bound.name} while the register is live on ${where} (${loaded}): memory holds ${hex(e.value)}, the CPU ${hex(cpuFull)}`,
      });
    }
  }

  /** Slot `i` of `v` was written with the CPU's value: its register lives in memory now. */
  private savedNow(v: VcpuState, slot: BoundSlot, i: number): void {
    if (slot.flag === null) v.savedSwitched.add(slot.name);
    else v.saved[i] = 1;
  }

  /**
   * Strict mode: an access to a governed slot while its flag is set is the bug, before the
   * values ever differ. Writes inside the layout's put function (or, without one, writes of the
   * CPU's value) are the put saving the register. Accesses the value checks report already are
   * left to them.
   */
  private strictAccess(p: PeWorld, v: VcpuState, slot: BoundSlot, e: MemoryAccessed): void {
    const cpu = this.cpuValue(this.home(v), slot);
    const lo = Math.max(e.pa, slot.pa),
      hi = Math.min(e.pa + e.size, slot.pa + slot.width);
    const differs =
      cpu !== null &&
      bytesOf(this.held(slot, cpu), slot.pa, lo, hi) !==
        (bytesOf(e.value, e.pa, lo, hi) & bytesOf(this.kept(slot), slot.pa, lo, hi));
    if (differs) return;
    if (e.write && (p.inPut || (this.layout?.putSymbol === undefined && cpu !== null))) return;
    this.hazard(p, {
      kind: 'strict-access',
      vcpu: v.bound.name,
      reg: slot.name,
      pc: e.pc,
      ...(cpu !== null ? { cpu } : {}),
      memory: e.value,
      detail: `${e.write ? 'write to' : 'read of'} the ${slot.name} slot of ${v.bound.name} while ${slot.flag!.name} is set (the register is live on the CPU; the values agree this time)`,
    });
  }

  private hazard(
    p: PeWorld,
    h: Omit<Hazard, 'message' | 'icount' | 'where' | 'occurrence' | 'pe'> & { detail: string },
  ): void {
    const { detail, ...rest } = h;
    const key = `${h.kind}|${h.vcpu}|${h.reg}|${h.pc}`;
    let group = this.hazardGroups.get(key);
    const occurrence = (group?.count ?? 0) + 1;
    const where = this.locate(h.pc);
    const hazard: Hazard = {
      ...rest,
      pe: p.index,
      where,
      icount: p.cpu.icount,
      occurrence,
      message:
        `[hypstep] ${p.name}: residency hazard: ${h.kind} of ${h.reg} (${h.vcpu}) at ${where}: ${detail}` +
        (occurrence > 1 ? ` (seen ${occurrence} times)` : ''),
    };
    if (group === undefined) this.hazardGroups.set(key, (group = { first: hazard, count: 0 }));
    group.count = occurrence;
    p.sums.hazards++;
    this.recent.hazards.push(hazard);
    this.emit({ type: 'hazard', hazard });
    this.stop(hazard.message, p);
  }
}

export function describeLoadPut(r: LoadPutRecord, locate: Locate = hex): string {
  return `[hypstep] PE${r.pe}: vcpu ${r.type} ${r.vcpu}: ${r.flag} ${r.type === 'load' ? 'set' : 'cleared'} at ${locate(r.pc)}`;
}
