// Flattened device trees (the DTB format of the Devicetree Specification, version 17): a tree of
// nodes with ordered properties, read from a blob and written back to one.

export class FdtError extends Error {}

export interface FdtNode {
  name: string;
  /** Properties in the order they are written. */
  props: Map<string, Uint8Array>;
  children: FdtNode[];
}

const MAGIC = 0xd00dfeed;
const HEADER_SIZE = 40;
const RSVMAP_OFFSET = 0x30; // the header, padded to 16 bytes, as dtc and libfdt lay it out
const BEGIN_NODE = 1,
  END_NODE = 2,
  PROP = 3,
  NOP = 4,
  END = 9;

export function node(name: string, props: [string, Uint8Array][] = [], children: FdtNode[] = []): FdtNode {
  return { name, props: new Map(props), children };
}

// Property values, big-endian as the format requires.
export const prop = {
  empty: (): Uint8Array => new Uint8Array(0),
  u32: (...cells: number[]): Uint8Array => {
    const b = new Uint8Array(cells.length * 4);
    const dv = new DataView(b.buffer);
    cells.forEach((c, i) => dv.setUint32(i * 4, c >>> 0));
    return b;
  },
  /** 64-bit values as two cells each (#address-cells = #size-cells = 2). */
  u64: (...values: (number | bigint)[]): Uint8Array => {
    const b = new Uint8Array(values.length * 8);
    const dv = new DataView(b.buffer);
    values.forEach((v, i) => dv.setBigUint64(i * 8, BigInt(v)));
    return b;
  },
  strings: (...s: string[]): Uint8Array => new TextEncoder().encode(s.map((x) => `${x}\0`).join('')),
};

/** The node at `path` ('/chosen', '/'), or undefined. */
export function findNode(root: FdtNode, path: string): FdtNode | undefined {
  let n: FdtNode | undefined = root;
  for (const part of path.split('/').filter((p) => p !== '')) n = n?.children.find((c) => c.name === part);
  return n;
}

/** A string property's first string. */
export function propString(n: FdtNode, name: string): string | undefined {
  const v = n.props.get(name);
  if (v === undefined) return undefined;
  const end = v.indexOf(0);
  return new TextDecoder().decode(v.subarray(0, end < 0 ? v.length : end));
}

/** Reads a DTB. Anything that is not a well-formed version 16/17 tree is an FdtError saying where. */
export function parseFdt(blob: Uint8Array): FdtNode {
  if (blob.length < HEADER_SIZE) throw new FdtError(`too short for a device tree header (${blob.length} bytes)`);
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  if (dv.getUint32(0) !== MAGIC)
    throw new FdtError(`bad magic 0x${dv.getUint32(0).toString(16)} (0xd00dfeed expected)`);
  const total = dv.getUint32(4),
    offStruct = dv.getUint32(8),
    offStrings = dv.getUint32(12),
    lastComp = dv.getUint32(24),
    sizeStrings = dv.getUint32(32),
    sizeStruct = dv.getUint32(36);
  if (lastComp > 17) throw new FdtError(`last compatible version ${lastComp} is newer than 17`);
  if (total > blob.length) throw new FdtError(`totalsize ${total} is larger than the file (${blob.length} bytes)`);
  if (offStruct + sizeStruct > total || offStrings + sizeStrings > total)
    throw new FdtError('structure or strings block lies outside the tree');
  const text = new TextDecoder();
  const cstring = (from: number, end: number, what: string): string => {
    const z = blob.indexOf(0, from);
    if (z < 0 || z >= end) throw new FdtError(`unterminated ${what} at offset ${from}`);
    return text.decode(blob.subarray(from, z));
  };
  let p = offStruct;
  const end = offStruct + sizeStruct;
  const word = (): number => {
    if (p + 4 > end) throw new FdtError(`structure block ends inside a token at offset ${p}`);
    const v = dv.getUint32(p);
    p += 4;
    return v;
  };
  const stack: FdtNode[] = [];
  let root: FdtNode | undefined;
  for (;;) {
    const token = word();
    if (token === BEGIN_NODE) {
      const name = cstring(p, end, 'node name');
      p = align4(p + name.length + 1);
      const n = node(name);
      if (stack.length > 0) stack[stack.length - 1]!.children.push(n);
      else if (root) throw new FdtError('more than one root node');
      else root = n;
      stack.push(n);
    } else if (token === PROP) {
      const len = word(),
        nameOff = word();
      const owner = stack[stack.length - 1];
      if (!owner) throw new FdtError(`property outside any node at offset ${p - 12}`);
      if (p + len > end) throw new FdtError(`property value runs past the structure block at offset ${p}`);
      if (nameOff >= sizeStrings) throw new FdtError(`property name offset ${nameOff} outside the strings block`);
      const name = cstring(offStrings + nameOff, offStrings + sizeStrings, 'property name');
      owner.props.set(name, blob.slice(p, p + len));
      p = align4(p + len);
    } else if (token === END_NODE) {
      if (!stack.pop()) throw new FdtError(`unbalanced end of node at offset ${p - 4}`);
    } else if (token === END) {
      if (stack.length > 0 || !root) throw new FdtError('structure block ends inside a node');
      return root;
    } else if (token !== NOP) {
      throw new FdtError(`unknown token 0x${token.toString(16)} at offset ${p - 4}`);
    }
  }
}

const align4 = (n: number): number => (n + 3) & ~3;

/**
 * Writes a DTB: header, empty memory reservation map, structure, strings (names shared), then
 * zeroes up to `totalSize` when given (free space a program may grow the tree into, as QEMU leaves).
 */
export function serializeFdt(root: FdtNode, opts: { totalSize?: number; bootCpu?: number } = {}): Uint8Array {
  const strings: number[] = [];
  const stringOffsets = new Map<string, number>();
  const enc = new TextEncoder();
  const nameOffset = (name: string): number => {
    let off = stringOffsets.get(name);
    if (off === undefined) {
      off = strings.length;
      stringOffsets.set(name, off);
      strings.push(...enc.encode(name), 0);
    }
    return off;
  };
  const struct: number[] = [];
  const pushWord = (w: number) => struct.push((w >>> 24) & 0xff, (w >>> 16) & 0xff, (w >>> 8) & 0xff, w & 0xff);
  const pad = () => {
    while (struct.length % 4 !== 0) struct.push(0);
  };
  const emit = (n: FdtNode) => {
    pushWord(BEGIN_NODE);
    struct.push(...enc.encode(n.name), 0);
    pad();
    for (const [name, value] of n.props) {
      pushWord(PROP);
      pushWord(value.length);
      pushWord(nameOffset(name));
      for (const b of value) struct.push(b);
      pad();
    }
    n.children.forEach(emit);
    pushWord(END_NODE);
  };
  emit(root);
  pushWord(END);
  const offStruct = RSVMAP_OFFSET + 16;
  const offStrings = offStruct + struct.length;
  const used = offStrings + strings.length;
  const total = Math.max(used, opts.totalSize ?? 0);
  const blob = new Uint8Array(total);
  const dv = new DataView(blob.buffer);
  [
    MAGIC,
    total,
    offStruct,
    offStrings,
    RSVMAP_OFFSET,
    17,
    16,
    opts.bootCpu ?? 0,
    strings.length,
    struct.length,
  ].forEach((v, i) => dv.setUint32(i * 4, v));
  blob.set(struct, offStruct);
  blob.set(strings, offStrings);
  return blob;
}
