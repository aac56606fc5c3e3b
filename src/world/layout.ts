// Vcpu layouts: where a hypervisor keeps each vcpu's saved system registers and which flag
// says they are live on the CPU. The file format is documented in the README (Vcpu layouts); this module
// validates it and binds it to a loaded image (symbols → physical addresses).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { sysregByName, sysregByKey, sysregKey, type SysregSpec } from '../sysregs/registry.js';

export const LAYOUT_FORMAT = 'hypstep-vcpu-layout';

/** A user's mistake in a layout file: one clear line. */
export class LayoutError extends Error {}

export interface LayoutFlag {
  readonly name: string;
  readonly offset: number;
  readonly width: number;
  readonly mask: bigint;
  /** Registers live on the CPU while this flag is set, in the vcpu context while it is clear. */
  readonly governs: readonly string[];
}

export interface LayoutSlot {
  readonly name: string;
  readonly offset: number;
  readonly width: number;
  /** The register of hypstep's sysreg table the slot holds, when hypstep models it. */
  readonly spec: SysregSpec | undefined;
}

export interface LayoutVcpu {
  readonly name: string;
  readonly symbol?: string;
  readonly address?: bigint;
  readonly offset: number;
  readonly vmid?: number;
}

/** A layout with one set of flags chosen (a file may describe several builds, as `modes`). */
export interface VcpuLayout {
  readonly hypervisor: string;
  readonly mode: string | null;
  readonly vcpus: readonly LayoutVcpu[];
  readonly slots: readonly LayoutSlot[];
  readonly flags: readonly LayoutFlag[];
  /** Symbols of the functions that load and put a vcpu's registers, when the layout names them. */
  readonly loadSymbol?: string;
  readonly putSymbol?: string;
}

type Json = Record<string, unknown>;

function obj(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LayoutError(`${what}: expected an object`);
  return v as Json;
}
function int(v: unknown, what: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
    throw new LayoutError(`${what}: expected a non-negative integer`);
  return n;
}
function big(v: unknown, what: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(v)) return BigInt(v);
  throw new LayoutError(`${what}: expected a number or a "0x…" string`);
}
function str(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') throw new LayoutError(`${what}: expected a string`);
  return v;
}
function width(v: unknown, what: string): number {
  const w = v === undefined ? 8 : int(v, what);
  if (![1, 2, 4, 8].includes(w)) throw new LayoutError(`${what}: width must be 1, 2, 4 or 8`);
  return w;
}

function slotSpec(name: string, s: Json, what: string): SysregSpec | undefined {
  const byName = sysregByName(name);
  if (byName) return byName;
  if (s.encoding === undefined) return undefined;
  const where = `${what}.encoding`;
  const e = obj(s.encoding, where);
  const field = (k: string) => int(e[k], `${where}.${k}`);
  return sysregByKey(sysregKey(field('op0'), field('op1'), field('crn'), field('crm'), field('op2')));
}

function parseFlag(name: string, f: Json, slotNames: Set<string>, what: string): LayoutFlag {
  if (!Array.isArray(f.governs ?? [])) throw new LayoutError(`${what}.governs: expected a list of register names`);
  const governs = ((f.governs ?? []) as unknown[]).map((g, i) => str(g, `${what}.governs[${i}]`));
  for (const g of governs)
    if (!slotNames.has(g)) throw new LayoutError(`${what} governs ${g}, which has no slot in "sysregs"`);
  const mask = big(f.mask, `${what}.mask`);
  if (mask === 0n) throw new LayoutError(`${what}.mask: must not be 0`);
  return { name, offset: int(f.offset, `${what}.offset`), width: width(f.width, `${what}.width`), mask, governs };
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
  opts: { mode?: string; imagePath?: string; source?: string } = {},
): VcpuLayout {
  const src = opts.source ?? 'layout';
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new LayoutError(`${src}: not JSON (${(e as Error).message})`);
  }
  const root = obj(raw, src);
  if (root.format !== LAYOUT_FORMAT) throw new LayoutError(`${src}: "format" must be "${LAYOUT_FORMAT}"`);
  if (root.version !== 1)
    throw new LayoutError(`${src}: unsupported "version" ${String(root.version)} (this hypstep reads 1)`);

  if (!Array.isArray(root.vcpus) || root.vcpus.length === 0)
    throw new LayoutError(`${src}: "vcpus" must list at least one vcpu`);
  const vcpus = root.vcpus.map((v, i): LayoutVcpu => {
    const o = obj(v, `vcpus[${i}]`);
    const name = str(o.name, `vcpus[${i}].name`);
    if (o.symbol === undefined && o.address === undefined)
      throw new LayoutError(`vcpus[${i}] (${name}): give "symbol" or "address"`);
    return {
      name,
      ...(o.symbol !== undefined ? { symbol: str(o.symbol, `vcpus[${i}].symbol`) } : {}),
      ...(o.address !== undefined ? { address: big(o.address, `vcpus[${i}].address`) } : {}),
      offset: o.offset === undefined ? 0 : int(o.offset, `vcpus[${i}].offset`),
      ...(o.vmid !== undefined ? { vmid: int(o.vmid, `vcpus[${i}].vmid`) } : {}),
    };
  });

  const sys = obj(root.sysregs, `${src}: "sysregs"`);
  const slots = Object.entries(sys).map(([name, v]): LayoutSlot => {
    const s = obj(v, `sysregs.${name}`);
    return {
      name,
      offset: int(s.offset, `sysregs.${name}.offset`),
      width: width(s.width, `sysregs.${name}.width`),
      spec: slotSpec(name, s, `sysregs.${name}`),
    };
  });
  const slotNames = new Set(slots.map((s) => s.name));

  let mode: string | null = null;
  let flagsRaw: [string, Json][];
  if (root.modes !== undefined) {
    const modes = obj(root.modes, 'modes');
    const names = Object.keys(modes);
    const elfOf = (m: string) => {
      const e = obj(modes[m], `modes.${m}`).elf;
      return typeof e === 'string' ? e : undefined;
    };
    mode = opts.mode ?? (opts.imagePath ? modeForImage(names, opts.imagePath, elfOf) : undefined) ?? null;
    if (mode === null)
      throw new LayoutError(
        `${src} describes several modes (${names.join(', ')}): name one (${src}#<mode>) or load an image whose file name contains it`,
      );
    if (!(mode in modes)) throw new LayoutError(`${src}: no mode '${mode}' (known: ${names.join(', ')})`);
    const m = obj(modes[mode], `modes.${mode}`);
    const list = (m.flags ?? []) as unknown[];
    if (!Array.isArray(list)) throw new LayoutError(`modes.${mode}.flags: expected a list`);
    flagsRaw = list.map((f, i) => {
      const o = obj(f, `modes.${mode}.flags[${i}]`);
      return [str(o.name, `modes.${mode}.flags[${i}].name`), o];
    });
  } else {
    flagsRaw = Object.entries(obj(root.flags ?? {}, 'flags')).map(([n, f]) => [n, obj(f, `flags.${n}`)]);
  }
  const flags = flagsRaw.map(([n, f]) => parseFlag(n, f, slotNames, `flag ${n}`));
  const governed = new Map<string, string>();
  for (const f of flags)
    for (const g of f.governs) {
      const prev = governed.get(g);
      if (prev) throw new LayoutError(`${g} is governed by both ${prev} and ${f.name}`);
      governed.set(g, f.name);
    }

  const fn = root.functions === undefined ? {} : obj(root.functions, 'functions');
  const fsym = (k: string) =>
    fn[k] === undefined ? undefined : str(obj(fn[k], `functions.${k}`).symbol, `functions.${k}.symbol`);
  const loadSymbol = fsym('load');
  const putSymbol = fsym('put');
  return {
    hypervisor: typeof root.hypervisor === 'string' ? root.hypervisor : 'hypervisor',
    mode,
    vcpus,
    slots,
    flags,
    ...(loadSymbol ? { loadSymbol } : {}),
    ...(putSymbol ? { putSymbol } : {}),
  };
}

/** Reads a layout file; `path#mode` names the mode. */
export function readLayout(pathAndMode: string, imagePath?: string): VcpuLayout {
  const hash = pathAndMode.lastIndexOf('#');
  const path = hash > 0 ? pathAndMode.slice(0, hash) : pathAndMode;
  const mode = hash > 0 ? pathAndMode.slice(hash + 1) : undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LayoutError(`cannot read vcpu layout ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return parseLayout(text, { source: path, ...(mode ? { mode } : {}), ...(imagePath ? { imagePath } : {}) });
}

/** A layout placed in physical memory. */
export interface BoundSlot extends LayoutSlot {
  readonly pa: number;
  readonly flag: BoundFlag | null;
}
export interface BoundFlag extends LayoutFlag {
  readonly pa: number;
}
export interface BoundVcpu {
  readonly name: string;
  readonly va: bigint;
  readonly pa: number;
  readonly vmid?: number;
  readonly slots: readonly BoundSlot[];
  readonly flags: readonly BoundFlag[];
}

/**
 * Places a layout: each vcpu's address from its symbol (or `address`), turned into a physical
 * address by `phys` (the hypervisor's own translation; identity when its MMU is off).
 */
export function bindLayout(
  layout: VcpuLayout,
  symbol: (name: string) => bigint | undefined,
  phys: (va: bigint) => number = Number,
): BoundVcpu[] {
  return layout.vcpus.map((v) => {
    let base = v.address;
    if (base === undefined) {
      base = symbol(v.symbol!);
      if (base === undefined)
        throw new LayoutError(`vcpu ${v.name}: symbol '${v.symbol}' is not in the loaded image (nor known from gdb)`);
    }
    const va = base + BigInt(v.offset);
    const pa = phys(va);
    const flags = layout.flags.map((f): BoundFlag => ({ ...f, pa: pa + f.offset }));
    const slots = layout.slots.map((s): BoundSlot => ({
      ...s,
      pa: pa + s.offset,
      flag: flags.find((f) => f.governs.includes(s.name)) ?? null,
    }));
    return { name: v.name, va, pa, ...(v.vmid !== undefined ? { vmid: v.vmid } : {}), slots, flags };
  });
}
