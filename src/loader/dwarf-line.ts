// A DWARF .debug_line reader (versions 2 to 5): the line-number program of each unit run into
// rows (address → file, line), enough to say `tinyvhe.S:121` for a PC. A damaged table yields
// the rows read so far, never an exception: line info only decorates messages.

export interface LineRow {
  readonly address: bigint;
  readonly file: string;
  readonly line: number;
  /** The row that ends a sequence: the address just past its code, no line of its own. */
  readonly end: boolean;
}

/** The sections a line table needs (DWARF 5 keeps file names in .debug_line_str). */
export interface LineSections {
  readonly line: Uint8Array;
  readonly lineStr?: Uint8Array;
  readonly str?: Uint8Array;
}

const DW_LNS = {
  copy: 1,
  advancePc: 2,
  advanceLine: 3,
  setFile: 4,
  setColumn: 5,
  negateStmt: 6,
  setBasicBlock: 7,
  constAddPc: 8,
  fixedAdvancePc: 9,
} as const;
const DW_LNE = { endSequence: 1, setAddress: 2 } as const;
const DW_LNCT_path = 1;
const DW_FORM = {
  string: 0x08,
  strp: 0x0e,
  lineStrp: 0x1f,
  udata: 0x0f,
  data1: 0x0b,
  data2: 0x05,
  data4: 0x06,
  data8: 0x07,
  data16: 0x1e,
  block: 0x09,
} as const;

class Cursor {
  private readonly dv: DataView;
  constructor(
    readonly buf: Uint8Array,
    public pos: number,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new RangeError('truncated line table');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** LEB128; values beyond 2^53 lose their high bits (no line table has them). */
  private leb(signed: boolean): number {
    let r = 0,
      shift = 0,
      b: number;
    do {
      b = this.u8();
      if (shift < 49) r += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return signed && b & 0x40 && shift < 53 ? r - 2 ** shift : r;
  }
  uleb(): number {
    return this.leb(false);
  }
  sleb(): number {
    return this.leb(true);
  }
  cstr(): string {
    const end = this.buf.indexOf(0, this.pos);
    if (end < 0) throw new RangeError('unterminated string');
    const s = new TextDecoder().decode(this.buf.subarray(this.pos, end));
    this.pos = end + 1;
    return s;
  }
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
}

/** The constant forms a file entry may carry (an MD5, a size, a time), by their size in bytes. */
const FIXED_SIZE: Readonly<Record<number, number>> = {
  [DW_FORM.data1]: 1,
  [DW_FORM.data2]: 2,
  [DW_FORM.data4]: 4,
  [DW_FORM.data8]: 8,
  [DW_FORM.data16]: 16,
};

function strAt(sec: Uint8Array | undefined, off: number): string {
  if (sec === undefined || off >= sec.length) return '?';
  const end = sec.indexOf(0, off);
  return new TextDecoder().decode(sec.subarray(off, end < 0 ? sec.length : end));
}

/** Reads one attribute of a DWARF 5 entry format; returns the string for path forms. */
function readForm(c: Cursor, form: number, s: LineSections, offset64: boolean): string | null {
  const off = () => (offset64 ? Number(c.u64()) : c.u32());
  const fixed = FIXED_SIZE[form];
  if (fixed !== undefined) {
    c.skip(fixed);
    return null;
  }
  switch (form) {
    case DW_FORM.string:
      return c.cstr();
    case DW_FORM.lineStrp:
      return strAt(s.lineStr, off());
    case DW_FORM.strp:
      return strAt(s.str, off());
    case DW_FORM.udata:
      c.uleb();
      return null;
    case DW_FORM.block:
      c.skip(c.uleb());
      return null;
    default:
      throw new RangeError(`unsupported form 0x${form.toString(16)}`);
  }
}

/** DWARF 5 directory or file table: a list of entries described by (content type, form) pairs. */
function entryTable(c: Cursor, s: LineSections, offset64: boolean): string[] {
  const formats: [number, number][] = [];
  for (let n = c.u8(); n > 0; n--) formats.push([c.uleb(), c.uleb()]);
  const out: string[] = [];
  for (let n = c.uleb(); n > 0; n--) {
    let path = '?';
    for (const [type, form] of formats) {
      const v = readForm(c, form, s, offset64);
      if (type === DW_LNCT_path && v !== null) path = v;
    }
    out.push(path);
  }
  return out;
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Runs every unit's line program; rows are in program order, each sequence ending with `end`. */
export function readLineTable(s: LineSections): LineRow[] {
  const rows: LineRow[] = [];
  let unit = 0;
  try {
    while (unit + 4 <= s.line.length) {
      const c = new Cursor(s.line, unit);
      let length = c.u32();
      const offset64 = length === 0xffffffff;
      if (offset64) length = Number(c.u64());
      const end = c.pos + length;
      if (length === 0 || end > s.line.length) break;
      unit = end;
      const version = c.u16();
      if (version < 2 || version > 5) continue;
      if (version >= 5) c.skip(2); // address size, segment selector size
      const headerLength = offset64 ? Number(c.u64()) : c.u32();
      const program = c.pos + headerLength;
      const minInsn = c.u8();
      if (version >= 4) c.u8(); // maximum operations per instruction (1 on AArch64)
      c.u8(); // default is_stmt
      const lineBase = (c.u8() << 24) >> 24;
      const lineRange = c.u8();
      const opcodeBase = c.u8();
      const argCounts: number[] = [0];
      for (let i = 1; i < opcodeBase; i++) argCounts.push(c.u8());
      let files: string[];
      if (version >= 5) {
        entryTable(c, s, offset64); // directories: only the file's own name is shown
        files = entryTable(c, s, offset64).map(baseName);
      } else {
        for (let d = c.cstr(); d !== ''; d = c.cstr());
        files = ['?']; // DWARF 2–4 number files from 1
        for (let f = c.cstr(); f !== ''; f = c.cstr()) {
          files.push(baseName(f));
          c.uleb();
          c.uleb();
          c.uleb();
        }
      }
      if (lineRange === 0) continue;
      c.pos = program;
      let address = 0n,
        file = 1,
        line = 1;
      const emit = (endSeq: boolean) => rows.push({ address, file: files[file] ?? '?', line, end: endSeq });
      const reset = () => {
        address = 0n;
        file = 1;
        line = 1;
      };
      while (c.pos < end) {
        const op = c.u8();
        if (op >= opcodeBase) {
          const adj = op - opcodeBase;
          address += BigInt(Math.floor(adj / lineRange) * minInsn);
          line += lineBase + (adj % lineRange);
          emit(false);
        } else if (op === 0) {
          const len = c.uleb();
          const next = c.pos + len;
          const ext = c.u8();
          if (ext === DW_LNE.endSequence) {
            emit(true);
            reset();
          } else if (ext === DW_LNE.setAddress) address = len === 9 ? c.u64() : BigInt(c.u32());
          c.pos = next;
        } else if (op === DW_LNS.copy) emit(false);
        else if (op === DW_LNS.advancePc) address += BigInt(c.uleb() * minInsn);
        else if (op === DW_LNS.advanceLine) line += c.sleb();
        else if (op === DW_LNS.setFile) file = c.uleb();
        else if (op === DW_LNS.constAddPc) address += BigInt(Math.floor((255 - opcodeBase) / lineRange) * minInsn);
        else if (op === DW_LNS.fixedAdvancePc) address += BigInt(c.u16());
        else for (let i = argCounts[op] ?? 0; i > 0; i--) c.uleb(); // column, stmt, basic block, …
      }
    }
  } catch {
    // A damaged unit: keep what was read.
  }
  return rows;
}

/** Address → `file:line` lookups over a line table. */
export class LineIndex {
  private readonly starts: bigint[] = [];
  private readonly where: (string | null)[] = [];

  constructor(rows: readonly LineRow[]) {
    const sorted = [...rows].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    for (const r of sorted) {
      // At one address, a row that starts code wins over the end of the sequence before it.
      const last = this.starts.length - 1;
      const text = r.end ? null : `${r.file}:${r.line}`;
      if (last >= 0 && this.starts[last] === r.address) {
        if (text !== null) this.where[last] = text;
        continue;
      }
      this.starts.push(r.address);
      this.where.push(text);
    }
  }

  /** `file:line` of the code at `pc`, or null when no sequence covers it. */
  lookup(pc: bigint): string | null {
    let lo = 0,
      hi = this.starts.length - 1,
      at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= pc) {
        at = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return at < 0 ? null : this.where[at]!;
  }
}
