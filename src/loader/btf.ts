// BPF Type Format (Documentation/bpf/btf.rst): the kernel's own description of its types, which
// Debian's kernels carry (CONFIG_DEBUG_INFO_BTF) as a `.BTF` blob inside the Image. We find the
// blob by its header, parse every type, and resolve member paths (`kvm_vcpu.arch.ctxt.sys_regs`)
// to byte offsets and enumerators (`enum vcpu_sysreg`) to values, so layouts need no hand work.
import { LoadError } from './elf.js';

export class BtfError extends LoadError {}

const BTF_MAGIC = 0xeb9f;
const HEADER_MIN = 24;

/** The kinds of BTF_KIND_* in the order of their numbers (1 = INT … 19 = ENUM64). */
export const BTF_KINDS = [
  'UNKN',
  'INT',
  'PTR',
  'ARRAY',
  'STRUCT',
  'UNION',
  'ENUM',
  'FWD',
  'TYPEDEF',
  'VOLATILE',
  'CONST',
  'RESTRICT',
  'FUNC',
  'FUNC_PROTO',
  'VAR',
  'DATASEC',
  'FLOAT',
  'DECL_TAG',
  'TYPE_TAG',
  'ENUM64',
] as const;
export type BtfKind = (typeof BTF_KINDS)[number];

export interface BtfMember {
  readonly name: string;
  readonly type: number;
  readonly bitOffset: number;
  /** Width of a bitfield member, 0 for an ordinary one. */
  readonly bitfieldSize: number;
}
export interface BtfEnumerator {
  readonly name: string;
  readonly value: bigint;
}
export interface BtfType {
  readonly id: number;
  readonly kind: BtfKind;
  readonly name: string;
  /** `size` for INT/STRUCT/UNION/ENUM/ENUM64/FLOAT/DATASEC; 0 otherwise. */
  readonly size: number;
  /** The referenced type for PTR/TYPEDEF/modifiers/FUNC/VAR/DECL_TAG, FUNC_PROTO's return type. */
  readonly ref: number;
  readonly members: readonly BtfMember[];
  readonly enumerators: readonly BtfEnumerator[];
  /** Present for ARRAY. */
  readonly array?: { readonly elem: number; readonly index: number; readonly nelems: number };
  /** ENUM/ENUM64 with kind_flag: signed values. */
  readonly signed: boolean;
}

/** Where a member path leads: the byte offset from the outer type's start and the member's type. */
export interface ResolvedPath {
  readonly offset: number;
  /** Bit offset within the byte at `offset` (non-zero only for bitfields). */
  readonly bit: number;
  readonly bitfieldSize: number;
  readonly type: number;
  readonly size: number;
}

/** One `.BTF` blob's extent in a buffer. */
export interface BtfLocation {
  readonly offset: number;
  readonly length: number;
}

function headerAt(dv: DataView, at: number): BtfLocation | null {
  const len = dv.byteLength;
  if (at + HEADER_MIN > len || dv.getUint16(at, true) !== BTF_MAGIC || dv.getUint8(at + 2) !== 1) return null;
  const hdrLen = dv.getUint32(at + 4, true);
  if (hdrLen < HEADER_MIN || hdrLen > 256) return null;
  const typeOff = dv.getUint32(at + 8, true);
  const typeLen = dv.getUint32(at + 12, true);
  const strOff = dv.getUint32(at + 16, true);
  const strLen = dv.getUint32(at + 20, true);
  const body = at + hdrLen;
  const end = Math.max(typeOff + typeLen, strOff + strLen);
  if (typeLen % 4 !== 0 || strLen === 0 || body + end > len) return null;
  // The string section starts with the empty string; types and strings must not overlap.
  if (dv.getUint8(body + strOff) !== 0) return null;
  if (typeOff < strOff ? typeOff + typeLen > strOff : strOff + strLen > typeOff) return null;
  return { offset: at, length: hdrLen + end };
}

/** Every plausible BTF header in `buf`, largest first (the kernel's own blob is by far the largest). */
export function findBtf(buf: Uint8Array): BtfLocation[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const found: BtfLocation[] = [];
  for (let i = buf.indexOf(0x9f); i >= 0 && i + HEADER_MIN <= buf.length; i = buf.indexOf(0x9f, i + 1)) {
    if (buf[i + 1] !== 0xeb) continue;
    const h = headerAt(dv, i);
    if (h) found.push(h);
  }
  return found.sort((a, b) => b.length - a.length);
}

export class Btf {
  /** types[id]; id 0 is void. */
  readonly types: readonly BtfType[];
  private readonly byName = new Map<string, BtfType[]>();
  private enumIndex: Map<string, { type: BtfType; value: bigint }> | null = null;

  constructor(blob: Uint8Array) {
    this.types = parseTypes(blob);
    for (const t of this.types) {
      if (t.name === '') continue;
      const l = this.byName.get(t.name);
      if (l) l.push(t);
      else this.byName.set(t.name, [t]);
    }
  }

  /** The BTF of a kernel image: the largest blob found by its header. */
  static fromImage(image: Uint8Array, what = 'image'): Btf {
    const loc = findBtf(image)[0];
    if (!loc)
      throw new BtfError(`${what}: no BTF type information in it (a kernel built without CONFIG_DEBUG_INFO_BTF?)`);
    return new Btf(image.subarray(loc.offset, loc.offset + loc.length));
  }

  type(id: number): BtfType {
    const t = this.types[id];
    if (!t) throw new BtfError(`BTF type id ${id} does not exist`);
    return t;
  }

  /** The type named `name` of one of `kinds` (a complete definition preferred over a forward declaration). */
  named(name: string, kinds: readonly BtfKind[]): BtfType | undefined {
    return this.byName.get(name)?.find((t) => kinds.includes(t.kind));
  }

  struct(name: string): BtfType {
    const t = this.named(name, ['STRUCT', 'UNION']);
    if (!t) throw new BtfError(`the kernel's BTF has no struct ${name}`);
    return t;
  }

  /** Skips typedefs and qualifiers (const, volatile, restrict, type tags). */
  resolve(id: number): BtfType {
    let t = this.type(id);
    for (let n = 0; ['TYPEDEF', 'VOLATILE', 'CONST', 'RESTRICT', 'TYPE_TAG'].includes(t.kind); n++) {
      if (n > 64) throw new BtfError(`BTF type ${id}: a loop of typedefs`);
      t = this.type(t.ref);
    }
    return t;
  }

  sizeOf(id: number): number {
    const t = this.resolve(id);
    switch (t.kind) {
      case 'PTR':
        return 8;
      case 'ARRAY':
        return t.array!.nelems * this.sizeOf(t.array!.elem);
      default:
        return t.size;
    }
  }

  /** An enum's enumerators by name (`enum vcpu_sysreg`). */
  enumValues(name: string): Map<string, bigint> {
    const t = this.named(name, ['ENUM', 'ENUM64']);
    if (!t) throw new BtfError(`the kernel's BTF has no enum ${name}`);
    return new Map(t.enumerators.map((e) => [e.name, e.value]));
  }

  /** The value of an enumerator of any enum, named or anonymous (`FP_STATE_GUEST_OWNED`), and its enum. */
  enumerator(name: string): { type: BtfType; value: bigint } | undefined {
    if (!this.enumIndex) {
      this.enumIndex = new Map();
      for (const t of this.types)
        for (const e of t.enumerators)
          if (!this.enumIndex.has(e.name)) this.enumIndex.set(e.name, { type: t, value: e.value });
    }
    return this.enumIndex.get(name);
  }

  /**
   * Resolves `struct.member.member[3].member`: members of anonymous structs and unions are found
   * through them, as C does. An index needs an array.
   */
  path(path: string): ResolvedPath {
    const parts = path.split('.');
    const root = this.struct(parts[0]!);
    let type = root.id;
    let bits = 0;
    let bitfieldSize = 0;
    for (const part of parts.slice(1)) {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$/.exec(part);
      if (!m) throw new BtfError(`${path}: cannot read "${part}"`);
      const hops = this.memberHops(type, m[1]!);
      if (!hops) throw new BtfError(`${path}: ${this.describe(type)} has no member ${m[1]}`);
      for (const h of hops) bits += h.bitOffset;
      const last = hops[hops.length - 1]!;
      type = last.type;
      bitfieldSize = last.bitfieldSize;
      for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) {
        const arr = this.resolve(type);
        if (arr.kind !== 'ARRAY') throw new BtfError(`${path}: ${m[1]} is not an array`);
        const i = Number(idx[1]);
        if (i >= arr.array!.nelems)
          throw new BtfError(`${path}: index ${i} is past the end of ${m[1]} (${arr.array!.nelems} elements)`);
        bits += i * this.sizeOf(arr.array!.elem) * 8;
        type = arr.array!.elem;
      }
    }
    return { offset: Math.floor(bits / 8), bit: bits % 8, bitfieldSize, type, size: this.sizeOf(type) };
  }

  /** Element type, element size and count of the array a path names. */
  arrayAt(path: string): { offset: number; elem: number; stride: number; nelems: number } {
    const p = this.path(path);
    const t = this.resolve(p.type);
    if (t.kind !== 'ARRAY') throw new BtfError(`${path} is a ${t.kind.toLowerCase()}, not an array`);
    return { offset: p.offset, elem: t.array!.elem, stride: this.sizeOf(t.array!.elem), nelems: t.array!.nelems };
  }

  private describe(id: number): string {
    const t = this.resolve(id);
    return `${t.kind.toLowerCase()} ${t.name || '(anonymous)'}`;
  }

  /** The member chain from a struct/union to the member `name`, through anonymous members. */
  private memberHops(id: number, name: string, depth = 0): BtfMember[] | null {
    const t = this.resolve(id);
    if (t.kind !== 'STRUCT' && t.kind !== 'UNION') return null;
    for (const m of t.members) if (m.name === name) return [m];
    if (depth > 16) return null;
    for (const m of t.members) {
      if (m.name !== '') continue;
      const inner = this.memberHops(m.type, name, depth + 1);
      if (inner) return [m, ...inner];
    }
    return null;
  }
}

function parseTypes(blob: Uint8Array): BtfType[] {
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const loc = headerAt(dv, 0);
  if (!loc) throw new BtfError('not a BTF blob (magic 0xeb9f, version 1)');
  const hdrLen = dv.getUint32(4, true);
  const typeStart = hdrLen + dv.getUint32(8, true);
  const typeEnd = typeStart + dv.getUint32(12, true);
  const strStart = hdrLen + dv.getUint32(16, true);
  const strEnd = strStart + dv.getUint32(20, true);
  const decoder = new TextDecoder();
  const str = (off: number): string => {
    const at = strStart + off;
    if (off === 0) return '';
    if (at >= strEnd) throw new BtfError(`BTF: a name offset ${off} lies outside the string section`);
    const end = blob.indexOf(0, at);
    return decoder.decode(blob.subarray(at, end < 0 || end > strEnd ? strEnd : end));
  };
  const types: BtfType[] = [
    { id: 0, kind: 'UNKN', name: 'void', size: 0, ref: 0, members: [], enumerators: [], signed: false },
  ];
  let p = typeStart;
  const u32 = (o: number): number => {
    if (o + 4 > typeEnd) throw new BtfError(`BTF: type ${types.length} runs past the type section`);
    return dv.getUint32(o, true);
  };
  while (p < typeEnd) {
    const id = types.length;
    const name = str(u32(p));
    const info = u32(p + 4);
    const sizeOrType = u32(p + 8);
    const vlen = info & 0xffff;
    const kindNo = (info >>> 24) & 0x1f;
    const kindFlag = info >>> 31 === 1;
    const kind = BTF_KINDS[kindNo];
    if (kind === undefined || kindNo === 0) throw new BtfError(`BTF: type ${id} has unknown kind ${kindNo}`);
    p += 12;
    const members: BtfMember[] = [];
    const enumerators: BtfEnumerator[] = [];
    let array: BtfType['array'];
    let sized = false;
    switch (kind) {
      case 'INT':
      case 'VAR':
      case 'DECL_TAG':
        p += 4;
        sized = kind === 'INT';
        break;
      case 'ARRAY':
        array = { elem: u32(p), index: u32(p + 4), nelems: u32(p + 8) };
        p += 12;
        break;
      case 'STRUCT':
      case 'UNION':
        sized = true;
        for (let i = 0; i < vlen; i++, p += 12) {
          const off = u32(p + 8);
          members.push({
            name: str(u32(p)),
            type: u32(p + 4),
            bitOffset: kindFlag ? off & 0xffffff : off,
            bitfieldSize: kindFlag ? off >>> 24 : 0,
          });
        }
        break;
      case 'ENUM':
        sized = true;
        for (let i = 0; i < vlen; i++, p += 8) {
          const v = u32(p + 4);
          enumerators.push({ name: str(u32(p)), value: kindFlag ? BigInt(v | 0) : BigInt(v) });
        }
        break;
      case 'ENUM64':
        sized = true;
        for (let i = 0; i < vlen; i++, p += 12) {
          const v = (BigInt(u32(p + 8)) << 32n) | BigInt(u32(p + 4));
          enumerators.push({ name: str(u32(p)), value: kindFlag ? BigInt.asIntN(64, v) : v });
        }
        break;
      case 'FUNC_PROTO':
        p += 8 * vlen;
        break;
      case 'DATASEC':
        sized = true;
        p += 12 * vlen;
        break;
      case 'FLOAT':
        sized = true;
        break;
      default:
        break;
    }
    types.push({
      id,
      kind,
      name,
      size: sized ? sizeOrType : 0,
      ref: sized || kind === 'ARRAY' ? 0 : sizeOrType,
      members,
      enumerators,
      ...(array ? { array } : {}),
      signed: (kind === 'ENUM' || kind === 'ENUM64') && kindFlag,
    });
  }
  return types;
}
