// Vcpu layouts: where a hypervisor keeps each vcpu's saved system registers and which flag
// says they are live on the CPU. The file format is documented in the README (Vcpu layouts); this module
// validates it strictly (a typo is an error, not a silent change of verdicts) and binds it to a
// running image (symbols and pointers → physical addresses).
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { SYSREGS, sysregByName, sysregByKey, sysregKey, specOf, type SysregSpec } from '../sysregs/registry.js';
import { hostErrorText } from '../loader/host-error.js';
import type { ElfSymbol } from '../loader/elf.js';

export const LAYOUT_FORMAT = 'hypstep-vcpu-layout';

/** A user's mistake in a layout file: one clear line. */
export class LayoutError extends Error {}

/**
 * Where something is: `offset` bytes from a base, or from the 8-byte pointer stored `via`
 * bytes from that base (one level of indirection). The base is the vcpu, a symbol, or a
 * per-PE symbol (the symbol plus the PE's offset in TPIDR_EL2, as Linux's per-CPU data).
 */
export interface Place {
  readonly base: { readonly kind: 'vcpu' } | { readonly kind: 'symbol' | 'perPE'; readonly symbol: string };
  readonly via?: number;
  readonly offset: number;
}

/**
 * What an entry into the guest requires of a flag: `loaded`, that it is set (else a missing load);
 * `none`, nothing (a group the hypervisor loads only for guests that use it, as KVM's vGIC for a VM
 * that has one).
 */
export type FlagOnEntry = 'loaded' | 'none';
const ON_ENTRY: readonly FlagOnEntry[] = ['loaded', 'none'];

export interface LayoutFlag {
  readonly name: string;
  readonly place: Place;
  readonly width: number;
  /** Set when any bit of `mask` is set in the word; with `equals`, when word & mask equals it. */
  readonly mask: bigint;
  readonly equals?: bigint;
  /**
   * A flag no word in memory holds: set when the function `from` returns, cleared when `to` returns,
   * each called with the vcpu in the discovery register (KVM's vgic_v3_load and vgic_v3_put).
   */
  readonly between?: { readonly from: string; readonly to: string };
  readonly onEntry: FlagOnEntry;
  /** Registers live on the CPU while this flag is set, in the vcpu context while it is clear (canonical names). */
  readonly governs: readonly string[];
  /**
   * `fp`: the registers are loaded lazily, on the trap of the guest's first SIMD&FP use, so the flag
   * may be clear at a guest entry provided CPTR_EL2 traps that use (KVM's lazy FP switch).
   */
  readonly lazy?: 'fp';
}

/**
 * The register a slot holds, as hypstep reads it from a CPU: one of its system registers, or a
 * SIMD&FP register V0–V31 (128 bits).
 */
export type SlotRegister =
  { readonly kind: 'sysreg'; readonly spec: SysregSpec } | { readonly kind: 'vreg'; readonly n: number };

export interface LayoutSlot {
  /** The register's canonical name (`SCTLR_EL1` for a layout that says `SCTLR_EL12`, `V5` for `q5`). */
  readonly name: string;
  readonly place: Place;
  /** Bytes: 1, 2, 4 or 8 for a system register, 16 for a V register. */
  readonly width: number;
  /** What the slot holds, when hypstep models it (a register given by `encoding` only has a memory value). */
  readonly register: SlotRegister | undefined;
  /** For a slot of an array with a `count`: in use only while `index` is below the count in memory. */
  readonly count?: SlotCount;
}

/**
 * How many of an array's slots are in use, a word in memory the hypervisor keeps (KVM's
 * `vgic_v3.used_lrs` for `vgic_lr[]`): the slot at `index` is in use while the word is above it.
 */
export interface SlotCount {
  /** The array's name. */
  readonly array: string;
  readonly place: Place;
  readonly width: number;
  readonly index: number;
}

export interface LayoutVcpu {
  readonly name: string;
  readonly symbol?: string;
  readonly address?: bigint;
  readonly offset: number;
  readonly vmid?: number;
}

/** Vcpus found at run time: each new pointer `arg` holds when `function` is entered. */
export interface Discovery {
  readonly function: string;
  readonly arg: number;
  /** Discovered vcpus are named `<prefix><n>` in order of discovery. */
  readonly prefix: string;
  /** A function entered with a vcpu in `arg` when the hypervisor frees it: it is forgotten then. */
  readonly forget?: string;
}

/** A field of the vcpu structure read when a vcpu is discovered: `width` bytes at `offset`. */
export interface VcpuField {
  readonly offset: number;
  readonly width: number;
}

/** A check that the image is the build a mode describes: the C string at `symbol`. */
export interface ModeMatch {
  readonly symbol: string;
  readonly string: string;
}

/** A layout with one set of flags chosen (a file may describe several builds, as `modes`). */
export interface VcpuLayout {
  readonly hypervisor: string;
  readonly mode: string | null;
  readonly vcpus: readonly LayoutVcpu[];
  readonly discover: Discovery | null;
  readonly slots: readonly LayoutSlot[];
  readonly flags: readonly LayoutFlag[];
  /** Symbols of the functions that load and put a vcpu's registers, when the layout names them. */
  readonly loadSymbol?: string;
  readonly putSymbol?: string;
  /** The mode's `elf` and `match`: what the loaded image must be. */
  readonly elf?: string;
  readonly match?: ModeMatch;
  /** Every mode the file describes, with its `elf`, to name the right one when the image is another's. */
  readonly modeElves: readonly { readonly mode: string; readonly elf?: string }[];
  /** Fields that say which VM a discovered vcpu belongs to and its id in that VM (`monitor vcpu list`). */
  readonly identity?: { readonly vm?: VcpuField; readonly id?: VcpuField };
  /** Symbols that come with the layout (a Linux kernel's kallsyms), for a machine whose image has none. */
  readonly symbols?: readonly ElfSymbol[];
  /** The link address of the first byte of the image those symbols describe. */
  readonly imageBase?: bigint;
}

type Json = Record<string, unknown>;

/** The registers a machine's devices add (its GIC's ICH_*), by name: a layout may name them too. */
export type MachineRegisters = (name: string) => SysregSpec | undefined;

/** The canonical register for a name: `SCTLR_EL12` and `sctlr_el1` are SCTLR_EL1. */
export function canonicalSysreg(name: string): SysregSpec | undefined {
  const s = sysregByName(name);
  return s?.aliasOf ? specOf(s.aliasOf) : s;
}

/** The SIMD&FP register a name says (`V5`, `v5`, `Q5`, `q5`: 5), if any. */
export function vregNumber(name: string): number | undefined {
  const m = /^[vq]([12]?[0-9]|3[01])$/i.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** The canonical spelling of a register name for lookups (`V5` for `q5`; unknown names upper-cased). */
export function canonicalName(name: string): string {
  const n = vregNumber(name);
  if (n !== undefined) return `V${n}`;
  return canonicalSysreg(name)?.name ?? name.toUpperCase();
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** The known register names nearest to a misspelt one. */
export function nearestSysregs(name: string, n = 3): string[] {
  const up = name.toUpperCase();
  return SYSREGS.filter((s) => !s.aliasOf)
    .map((s) => [s.name, distance(up, s.name)] as const)
    .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
    .slice(0, n)
    .map(([s]) => s);
}

/** Reads one JSON object and rejects keys it does not know, naming their path and the allowed ones. */
class Obj {
  constructor(
    readonly o: Json,
    readonly path: string,
  ) {}
  /** An object whose keys are names the user chooses (registers, arrays, modes). */
  static map(v: unknown, path: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LayoutError(`${path}: expected an object`);
    return new Obj(v as Json, path);
  }
  static of(v: unknown, path: string, allowed: readonly string[]): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LayoutError(`${path}: expected an object`);
    const o = v as Json;
    for (const k of Object.keys(o))
      if (!allowed.includes(k)) throw new LayoutError(`${path}: unknown key "${k}" (allowed: ${allowed.join(', ')})`);
    return new Obj(o, path);
  }
  at(k: string): string {
    return `${this.path}.${k}`;
  }
  has(k: string): boolean {
    return this.o[k] !== undefined;
  }
  int(k: string, dflt?: number): number {
    const v = this.o[k];
    if (v === undefined && dflt !== undefined) return dflt;
    const n = typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
      throw new LayoutError(`${this.at(k)}: expected a non-negative integer`);
    return n;
  }
  big(k: string): bigint {
    const v = this.o[k];
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
    if (typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v)) return BigInt(v);
    throw new LayoutError(`${this.at(k)}: expected a number or a "0x…" string`);
  }
  str(k: string): string {
    const v = this.o[k];
    if (typeof v !== 'string' || v === '') throw new LayoutError(`${this.at(k)}: expected a string`);
    return v;
  }
  width(k = 'width', allowed: readonly number[] = [1, 2, 4, 8], dflt = 8): number {
    const w = this.int(k, dflt);
    if (!allowed.includes(w))
      throw new LayoutError(
        `${this.at(k)}: width must be ${allowed.length > 1 ? `${allowed.slice(0, -1).join(', ')} or ` : ''}${allowed.at(-1)}`,
      );
    return w;
  }
  list(k: string): unknown[] {
    const v = this.o[k] ?? [];
    if (!Array.isArray(v)) throw new LayoutError(`${this.at(k)}: expected a list`);
    return v;
  }
}

const ROOT_KEYS = [
  'format',
  'version',
  'hypervisor',
  'description',
  'vcpus',
  'discover',
  'sysregs',
  'arrays',
  'flags',
  'functions',
  'modes',
  'identity',
];
const VCPU_KEYS = ['name', 'symbol', 'address', 'offset', 'vmid', 'description'];
const DISCOVER_KEYS = ['function', 'arg', 'name', 'forget'];
const IDENTITY_KEYS = ['vm', 'id'];
const FIELD_KEYS = ['offset', 'width', 'description'];
const SLOT_KEYS = ['offset', 'width', 'via', 'array', 'index', 'encoding', 'description'];
const ARRAY_KEYS = ['offset', 'stride', 'width', 'via', 'count', 'description'];
const COUNT_KEYS = ['offset', 'width', 'description'];
const ENCODING_KEYS = ['op0', 'op1', 'crn', 'crm', 'op2'];
const FLAG_KEYS = [
  'offset',
  'width',
  'mask',
  'bit',
  'equals',
  'between',
  'onEntry',
  'governs',
  'lazy',
  'symbol',
  'perPE',
  'via',
  'description',
];
const FUNCTION_KEYS = ['load', 'put'];
const MODE_KEYS = ['elf', 'match', 'sysregs', 'flags', 'description'];

/** An array of slots as the layout's `arrays` gives it. */
interface LayoutArray {
  readonly offset: number;
  readonly stride: number;
  readonly width: number;
  readonly via?: number;
  /** The word that says how many of its slots are in use, in the structure the array is in (its `via` too). */
  readonly count?: { readonly offset: number; readonly width: number };
}

function parseSlot(
  name: string,
  s: Obj,
  arrays: ReadonlyMap<string, LayoutArray>,
  registers?: MachineRegisters,
): LayoutSlot {
  const register = slotRegister(name, s, registers);
  const canonical = register?.kind === 'vreg' ? `V${register.n}` : (register?.spec.name ?? name);
  // A V register is saved whole (its 128 bits, as STP/STR Q store them); a system register is one word.
  const vreg = register?.kind === 'vreg';
  const width = (dflt: number) => (vreg ? s.width('width', [16], 16) : s.width('width', [1, 2, 4, 8], dflt));
  if (s.has('array')) {
    if (s.has('offset') || s.has('via'))
      throw new LayoutError(`${s.path}: give "array" and "index", or "offset" (and "via"), not both`);
    const arrName = s.str('array');
    const arr = arrays.get(arrName);
    if (!arr)
      throw new LayoutError(
        `${s.at('array')}: no array "${arrName}" in "arrays" (known: ${[...arrays.keys()].join(', ') || 'none'})`,
      );
    const index = s.int('index');
    const w = s.has('width') ? width(8) : arr.width;
    if (vreg ? w !== 16 : w > 8)
      throw new LayoutError(
        `${s.path}: the array ${arrName} holds ${arr.width}-byte slots; ${canonical} needs ${vreg ? '16' : '1, 2, 4 or 8'}`,
      );
    const via = arr.via !== undefined ? { via: arr.via } : {};
    return {
      name: canonical,
      place: { base: { kind: 'vcpu' }, offset: arr.offset + index * arr.stride, ...via },
      width: w,
      register,
      ...(arr.count
        ? {
            count: {
              array: arrName,
              place: { base: { kind: 'vcpu' }, offset: arr.count.offset, ...via },
              width: arr.count.width,
              index,
            },
          }
        : {}),
    };
  }
  if (s.has('index')) throw new LayoutError(`${s.at('index')}: "index" needs "array"`);
  return {
    name: canonical,
    place: { base: { kind: 'vcpu' }, offset: s.int('offset'), ...(s.has('via') ? { via: s.int('via') } : {}) },
    width: width(8),
    register,
  };
}

/** The register a slot names: V0–V31, a system register hypstep knows, or one given by its encoding. */
function slotRegister(name: string, s: Obj, registers?: MachineRegisters): SlotRegister | undefined {
  const n = vregNumber(name);
  if (n !== undefined) {
    if (s.has('encoding')) throw new LayoutError(`${s.at('encoding')}: ${name} is a SIMD&FP register, not a sysreg`);
    return { kind: 'vreg', n };
  }
  let spec: SysregSpec | undefined = canonicalSysreg(name) ?? registers?.(name);
  if (s.has('encoding')) {
    const e = Obj.of(s.o.encoding, s.at('encoding'), ENCODING_KEYS);
    const key = sysregKey(e.int('op0'), e.int('op1'), e.int('crn'), e.int('crm'), e.int('op2'));
    const byKey = sysregByKey(key);
    // A register the machine adds (its GIC's ICH_*) is known by its encoding too.
    const device = registers?.(name);
    spec = byKey?.aliasOf ? specOf(byKey.aliasOf) : (byKey ?? (device?.key === key ? device : undefined));
  } else if (spec === undefined) {
    throw new LayoutError(
      `${s.path}: unknown register ${name} (nearest: ${nearestSysregs(name).join(', ')}); give an "encoding" for a register hypstep does not know`,
    );
  }
  return spec === undefined ? undefined : { kind: 'sysreg', spec };
}

function parseFlag(name: string, f: Obj, slotNames: ReadonlySet<string>): LayoutFlag {
  const governs = f.list('governs').map((g, i) => {
    if (typeof g !== 'string' || g === '') throw new LayoutError(`${f.at('governs')}[${i}]: expected a register name`);
    const c = canonicalName(g);
    if (!slotNames.has(c)) throw new LayoutError(`${f.at('governs')}: ${g} has no slot in "sysregs"`);
    return c;
  });
  const onEntry = (f.has('onEntry') ? f.str('onEntry') : 'loaded') as FlagOnEntry;
  if (!ON_ENTRY.includes(onEntry))
    throw new LayoutError(`${f.at('onEntry')}: expected one of ${ON_ENTRY.map((o) => `"${o}"`).join(', ')}`);
  if (f.has('between')) {
    const memory = ['offset', 'width', 'mask', 'bit', 'equals', 'symbol', 'perPE', 'via'].filter((k) => f.has(k));
    if (memory.length)
      throw new LayoutError(
        `${f.path}: a flag "between" two functions has no word in memory (drop ${memory.join(', ')})`,
      );
    const b = Obj.of(f.o.between, f.at('between'), ['from', 'to']);
    return {
      name,
      place: { base: { kind: 'vcpu' }, offset: 0 },
      width: 0,
      mask: 0n,
      between: { from: b.str('from'), to: b.str('to') },
      onEntry,
      governs,
    };
  }
  const width = f.width();
  const word = (1n << BigInt(8 * width)) - 1n;
  let mask: bigint, equals: bigint | undefined;
  if (f.has('equals')) {
    if (f.has('bit')) throw new LayoutError(`${f.path}: give "equals" (and optionally "mask"), or "bit", not both`);
    mask = f.has('mask') ? f.big('mask') : word;
    equals = f.big('equals');
    if ((equals & ~mask) !== 0n) throw new LayoutError(`${f.path}: "equals" has bits outside the mask`);
  } else {
    if (f.has('mask') === f.has('bit'))
      throw new LayoutError(`${f.path}: give "mask" or "bit" (one of them), or "equals"`);
    mask = f.has('bit') ? 1n << BigInt(f.int('bit')) : f.big('mask');
  }
  if (mask === 0n || mask >> BigInt(8 * width) !== 0n)
    throw new LayoutError(`${f.path}: the ${f.has('bit') ? 'bit' : 'mask'} must lie within the ${width}-byte word`);
  if (f.has('symbol') && f.has('perPE')) throw new LayoutError(`${f.path}: give "symbol" or "perPE", not both`);
  if (f.has('lazy') && f.o.lazy !== 'fp')
    throw new LayoutError(`${f.at('lazy')}: the only lazy load hypstep knows is "fp" (on the SIMD&FP trap)`);
  const base: Place['base'] = f.has('symbol')
    ? { kind: 'symbol', symbol: f.str('symbol') }
    : f.has('perPE')
      ? { kind: 'perPE', symbol: f.str('perPE') }
      : { kind: 'vcpu' };
  return {
    name,
    place: { base, offset: f.int('offset', 0), ...(f.has('via') ? { via: f.int('via') } : {}) },
    width,
    mask,
    ...(equals !== undefined ? { equals } : {}),
    onEntry,
    governs,
    ...(f.has('lazy') ? { lazy: 'fp' as const } : {}),
  };
}

/** Two places a binding cannot tell apart by their base overlap if their byte ranges do. */
function sameBase(a: Place, b: Place): boolean {
  const sym = (p: Place) => (p.base.kind === 'vcpu' ? '' : p.base.symbol);
  return a.base.kind === b.base.kind && sym(a) === sym(b) && a.via === b.via;
}
function overlaps(a: Place, aw: number, b: Place, bw: number): boolean {
  return sameBase(a, b) && a.offset < b.offset + bw && b.offset < a.offset + aw;
}

/** The mode whose name the image's file name contains (the longest such name), if any. */
export function modeForImage(
  modes: readonly string[],
  imagePath: string,
  elfOf: (m: string) => string | undefined,
): string | undefined {
  const file = basename(imagePath);
  const exact = modes.find((m) => {
    const e = elfOf(m);
    return e !== undefined && basename(e) === file;
  });
  if (exact) return exact;
  return modes.filter((m) => file.includes(m)).sort((a, b) => b.length - a.length)[0];
}

/**
 * Parses a layout. `mode` picks one of the file's `modes` (its flags and what they govern);
 * without it the mode is guessed from `imagePath`.
 */
export function parseLayout(
  text: string,
  opts: { mode?: string; imagePath?: string; source?: string; registers?: MachineRegisters } = {},
): VcpuLayout {
  const src = opts.source ?? 'layout';
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new LayoutError(`${src}: not JSON (${(e as Error).message})`);
  }
  try {
    return parseRoot(raw, opts);
  } catch (e) {
    if (e instanceof LayoutError) throw new LayoutError(`${src}: ${e.message}`);
    throw e;
  }
}

function parseRoot(
  raw: unknown,
  opts: { mode?: string; imagePath?: string; registers?: MachineRegisters },
): VcpuLayout {
  const root = Obj.of(raw, '(top level)', ROOT_KEYS);
  if (root.o.format !== LAYOUT_FORMAT) throw new LayoutError(`"format" must be "${LAYOUT_FORMAT}"`);
  if (root.o.version !== 1)
    throw new LayoutError(`unsupported "version" ${String(root.o.version)} (this hypstep reads 1)`);

  const vcpus = root.list('vcpus').map((v, i): LayoutVcpu => {
    const o = Obj.of(v, `vcpus[${i}]`, VCPU_KEYS);
    const name = o.str('name');
    if (o.has('symbol') === o.has('address'))
      throw new LayoutError(`vcpus[${i}] (${name}): give "symbol" or "address" (one of them)`);
    return {
      name,
      ...(o.has('symbol') ? { symbol: o.str('symbol') } : {}),
      ...(o.has('address') ? { address: o.big('address') } : {}),
      offset: o.int('offset', 0),
      ...(o.has('vmid') ? { vmid: o.int('vmid') } : {}),
    };
  });
  const seen = new Set<string>();
  for (const v of vcpus) {
    if (seen.has(v.name)) throw new LayoutError(`vcpus: the name ${v.name} is used twice`);
    seen.add(v.name);
  }
  let discover: Discovery | null = null;
  if (root.has('discover')) {
    const d = Obj.of(root.o.discover, 'discover', DISCOVER_KEYS);
    const arg = /^x([0-9]|[12][0-9]|30)$/i.exec(d.str('arg'));
    if (!arg) throw new LayoutError('discover.arg: expected a register x0…x30');
    discover = {
      function: d.str('function'),
      arg: Number(arg[1]),
      prefix: d.has('name') ? d.str('name') : 'vcpu',
      ...(d.has('forget') ? { forget: d.str('forget') } : {}),
    };
    for (const v of vcpus)
      if (v.name.startsWith(discover.prefix) && /^\d+$/.test(v.name.slice(discover.prefix.length)))
        throw new LayoutError(
          `vcpus: ${v.name} would clash with the names discovered vcpus get (${discover.prefix}0, …)`,
        );
  }
  if (vcpus.length === 0 && discover === null)
    throw new LayoutError('"vcpus" must list at least one vcpu (or give "discover")');

  const arrays = new Map<string, LayoutArray>();
  if (root.has('arrays')) {
    const a = Obj.map(root.o.arrays, 'arrays');
    for (const [name, v] of Object.entries(a.o)) {
      const o = Obj.of(v, `arrays.${name}`, ARRAY_KEYS);
      const stride = o.int('stride');
      if (stride === 0) throw new LayoutError(`arrays.${name}.stride: must not be 0`);
      const count = o.has('count') ? Obj.of(o.o.count, o.at('count'), COUNT_KEYS) : undefined;
      arrays.set(name, {
        offset: o.int('offset'),
        stride,
        width: o.width('width', [1, 2, 4, 8, 16]),
        ...(o.has('via') ? { via: o.int('via') } : {}),
        ...(count ? { count: { offset: count.int('offset'), width: count.width('width', [1, 2, 4, 8], 4) } } : {}),
      });
    }
  }

  if (!root.has('sysregs')) throw new LayoutError('"sysregs" is missing');
  const slots: LayoutSlot[] = [];
  const addSlots = (sys: Obj) => {
    for (const [name, v] of Object.entries(sys.o)) {
      const slot = parseSlot(name, Obj.of(v, `${sys.path}.${name}`, SLOT_KEYS), arrays, opts.registers);
      const dup = slots.find((s) => s.name === slot.name);
      if (dup) throw new LayoutError(`${sys.path}.${name}: ${slot.name} has a slot already`);
      const hit = slots.find((s) => overlaps(s.place, s.width, slot.place, slot.width));
      if (hit) throw new LayoutError(`${sys.path}.${name}: its slot overlaps the slot of ${hit.name}`);
      slots.push(slot);
    }
  };
  addSlots(Obj.map(root.o.sysregs, 'sysregs'));

  let mode: string | null = null;
  let flagObjs: [string, Obj][];
  let elf: string | undefined;
  let match: ModeMatch | undefined;
  let modeElves: { mode: string; elf?: string }[] = [];
  if (root.has('modes')) {
    if (root.has('flags')) throw new LayoutError('give "flags" at the top or in each of "modes", not both');
    const modes = Obj.map(root.o.modes, 'modes');
    const names = Object.keys(modes.o);
    const parsed = new Map(names.map((m) => [m, Obj.of(modes.o[m], `modes.${m}`, MODE_KEYS)]));
    modeElves = names.map((m) => {
      const o = parsed.get(m)!;
      return { mode: m, ...(o.has('elf') ? { elf: o.str('elf') } : {}) };
    });
    const elfOf = (m: string) => modeElves.find((x) => x.mode === m)?.elf;
    mode = opts.mode ?? (opts.imagePath ? modeForImage(names, opts.imagePath, elfOf) : undefined) ?? null;
    if (mode === null)
      throw new LayoutError(
        `describes several modes (${names.join(', ')}): name one (file.json#<mode>) or load an image whose file name contains it`,
      );
    const m = parsed.get(mode);
    if (!m) throw new LayoutError(`no mode '${mode}' (known: ${names.join(', ')})`);
    elf = elfOf(mode);
    if (m.has('match')) {
      const mm = Obj.of(m.o.match, m.at('match'), ['symbol', 'string']);
      match = { symbol: mm.str('symbol'), string: mm.str('string') };
    }
    // Registers only this build switches (a lazy-FP build's V0–V31): slots of their own.
    if (m.has('sysregs')) addSlots(Obj.map(m.o.sysregs, `modes.${mode}.sysregs`));
    flagObjs = m.list('flags').map((f, i) => {
      const o = Obj.of(f, `modes.${mode}.flags[${i}]`, ['name', ...FLAG_KEYS]);
      return [o.str('name'), o];
    });
  } else {
    const fl = Obj.map(root.o.flags ?? {}, 'flags');
    flagObjs = Object.entries(fl.o).map(([n, f]) => [n, Obj.of(f, `flags.${n}`, FLAG_KEYS)]);
  }
  for (const s of slots) {
    const c = s.count;
    const hit = c && slots.find((x) => overlaps(x.place, x.width, c.place, c.width));
    if (hit) throw new LayoutError(`arrays.${c.array}.count: its word overlaps the slot of ${hit.name}`);
  }
  const slotNames = new Set(slots.map((s) => s.name));
  const flags = flagObjs.map(([n, f]) => parseFlag(n, f, slotNames));
  const governed = new Map<string, string>();
  for (const f of flags) {
    for (const g of f.governs) {
      const prev = governed.get(g);
      if (prev) throw new LayoutError(`${g} is governed by both ${prev} and ${f.name}`);
      governed.set(g, f.name);
    }
    if (f.between && discover === null)
      throw new LayoutError(
        `flag ${f.name}: a flag "between" two functions needs "discover" (the register with the vcpu)`,
      );
    const hit = slots.find((s) => overlaps(s.place, s.width, f.place, f.width));
    if (hit) throw new LayoutError(`flag ${f.name}: its word overlaps the slot of ${hit.name}`);
  }

  let loadSymbol: string | undefined, putSymbol: string | undefined;
  if (root.has('functions')) {
    const fn = Obj.of(root.o.functions, 'functions', FUNCTION_KEYS);
    const sym = (k: string) => (fn.has(k) ? Obj.of(fn.o[k], fn.at(k), ['symbol']).str('symbol') : undefined);
    loadSymbol = sym('load');
    putSymbol = sym('put');
  }
  let identity: { vm?: VcpuField; id?: VcpuField } | undefined;
  if (root.has('identity')) {
    const id = Obj.of(root.o.identity, 'identity', IDENTITY_KEYS);
    const field = (k: string): VcpuField | undefined => {
      if (!id.has(k)) return undefined;
      const f = Obj.of(id.o[k], id.at(k), FIELD_KEYS);
      return { offset: f.int('offset'), width: f.width() };
    };
    const vm = field('vm'),
      vid = field('id');
    identity = { ...(vm ? { vm } : {}), ...(vid ? { id: vid } : {}) };
  }
  return {
    hypervisor: root.has('hypervisor') ? root.str('hypervisor') : 'hypervisor',
    mode,
    vcpus,
    discover,
    slots,
    flags,
    ...(loadSymbol ? { loadSymbol } : {}),
    ...(putSymbol ? { putSymbol } : {}),
    ...(elf ? { elf } : {}),
    ...(match ? { match } : {}),
    modeElves,
    ...(identity ? { identity } : {}),
  };
}

const MAX_LAYOUT_BYTES = 16 << 20;

/** Reads a layout file; `path#mode` names the mode. */
export function readLayout(pathAndMode: string, imagePath?: string, registers?: MachineRegisters): VcpuLayout {
  const hash = pathAndMode.lastIndexOf('#');
  const path = hash > 0 ? pathAndMode.slice(0, hash) : pathAndMode;
  const mode = hash > 0 ? pathAndMode.slice(hash + 1) : undefined;
  let text: string;
  try {
    // A device or a FIFO (`/dev/zero`) would be read forever: a layout is a small regular file.
    const st = statSync(path);
    if (!st.isFile()) throw new LayoutError(`cannot read vcpu layout ${path}: not a regular file`);
    if (st.size > MAX_LAYOUT_BYTES) throw new LayoutError(`vcpu layout ${path} is ${st.size} bytes: too large for one`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof LayoutError) throw e;
    throw new LayoutError(`cannot read vcpu layout ${path}: ${hostErrorText(e)}`);
  }
  return parseLayout(text, {
    source: path,
    ...(mode ? { mode } : {}),
    ...(imagePath ? { imagePath } : {}),
    ...(registers ? { registers } : {}),
  });
}

/**
 * Refuses a mode that is not the image's: another mode's `elf` is the image's file name, or the
 * mode's `match` string is not at its symbol. `cstring` reads the image's C string at a symbol.
 */
export function checkModeMatches(
  layout: VcpuLayout,
  imagePath: string | undefined,
  cstring: (symbol: string) => string | undefined,
): void {
  if (layout.mode === null) return;
  if (imagePath !== undefined) {
    const file = basename(imagePath);
    const owner = layout.modeElves.find((m) => m.elf !== undefined && basename(m.elf) === file);
    if (owner && owner.mode !== layout.mode)
      throw new LayoutError(
        `layout mode ${layout.mode} does not describe ${file}: that image is mode ${owner.mode} (use #${owner.mode})`,
      );
  }
  if (layout.match) {
    const found = cstring(layout.match.symbol);
    if (found !== undefined && found !== layout.match.string)
      throw new LayoutError(
        `layout mode ${layout.mode} does not describe this image: its ${layout.match.symbol} is "${found}", not "${layout.match.string}"`,
      );
  }
}

/** A layout placed in physical memory. */
export interface BoundSlot extends LayoutSlot {
  readonly pa: number;
  readonly flag: BoundFlag | null;
  /** Where its array's count is (null for a slot always in use). */
  readonly countPa: number | null;
}
export interface BoundFlag extends LayoutFlag {
  readonly pa: number;
  /** The mask as little-endian bytes, one per byte of the word. */
  readonly maskBytes: readonly number[];
  /** Its word is in the vcpu structure (else one word speaks for every vcpu: at a symbol, or per PE). */
  readonly inVcpu: boolean;
}
export interface BoundVcpu {
  readonly name: string;
  readonly va: bigint;
  readonly pa: number;
  readonly vmid?: number;
  readonly slots: readonly BoundSlot[];
  readonly flags: readonly BoundFlag[];
}

/** What binding needs from the machine: symbols, the hypervisor's translation, memory, the PE. */
export interface BindEnv {
  symbol(name: string): bigint | undefined;
  /** A hypervisor virtual address as physical (identity while its MMU is off). */
  phys(va: bigint): number;
  /** The 8-byte pointer at a hypervisor virtual address. */
  pointer(va: bigint): bigint;
  /** This PE's per-CPU offset (TPIDR_EL2). */
  peOffset(): bigint;
}

function symbolOrFail(env: BindEnv, name: string, what: string): bigint {
  const v = env.symbol(name);
  if (v === undefined)
    throw new LayoutError(`${what}: symbol '${name}' is not in the loaded image (nor known from gdb)`);
  return v;
}

/** The virtual address of a place for the vcpu at `vcpuVa`. */
function placeVa(p: Place, vcpuVa: bigint, env: BindEnv, what: string): bigint {
  let base =
    p.base.kind === 'vcpu'
      ? vcpuVa
      : symbolOrFail(env, p.base.symbol, what) + (p.base.kind === 'perPE' ? env.peOffset() : 0n);
  if (p.via !== undefined) base = env.pointer(BigInt.asUintN(64, base + BigInt(p.via)));
  return BigInt.asUintN(64, base + BigInt(p.offset));
}

/** Places one vcpu whose structure is at `va`. */
export function bindVcpu(layout: VcpuLayout, name: string, va: bigint, env: BindEnv, vmid?: number): BoundVcpu {
  const what = `vcpu ${name}`;
  // Every field named, in one order: the residency checks read slots and flags on the access path,
  // and those spread from their layout's each had a shape of their own (the reads went megamorphic).
  const flags = layout.flags.map((f): BoundFlag => ({
    name: f.name,
    place: f.place,
    width: f.width,
    mask: f.mask,
    equals: f.equals,
    between: f.between,
    onEntry: f.onEntry,
    governs: f.governs,
    lazy: f.lazy,
    pa: f.between ? -1 : env.phys(placeVa(f.place, va, env, `${what} flag ${f.name}`)),
    maskBytes: Array.from({ length: f.width }, (_, i) => Number((f.mask >> BigInt(8 * i)) & 0xffn)),
    inVcpu: f.place.base.kind === 'vcpu',
  }));
  const slots = layout.slots.map((s): BoundSlot => ({
    name: s.name,
    place: s.place,
    width: s.width,
    register: s.register,
    count: s.count,
    pa: env.phys(placeVa(s.place, va, env, `${what} ${s.name}`)),
    flag: flags.find((f) => f.governs.includes(s.name)) ?? null,
    countPa: s.count ? env.phys(placeVa(s.count.place, va, env, `${what} ${s.count.array}'s count`)) : null,
  }));
  return { name, va, pa: env.phys(va), ...(vmid !== undefined ? { vmid } : {}), slots, flags };
}

/** Places the vcpus the layout lists: each at its symbol (or `address`) plus its offset. */
export function bindLayout(layout: VcpuLayout, env: BindEnv): BoundVcpu[] {
  return layout.vcpus.map((v) => {
    const base = v.address ?? symbolOrFail(env, v.symbol!, `vcpu ${v.name}`);
    return bindVcpu(layout, v.name, base + BigInt(v.offset), env, v.vmid);
  });
}
