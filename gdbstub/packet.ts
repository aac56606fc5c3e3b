// The GDB remote serial protocol's framing: `$data#cs` packets, `+`/`-` acks, the 0x03
// interrupt byte, `}` binary escapes and `*` run-length encoding. Both the server and the
// client use this; it knows nothing about what packets mean.

const DOLLAR = 0x24,
  HASH = 0x23,
  ESC = 0x7d,
  STAR = 0x2a,
  PLUS = 0x2b,
  MINUS = 0x2d,
  INTR = 0x03,
  PERCENT = 0x25;

export function checksum(bytes: Uint8Array): number {
  let s = 0;
  for (const b of bytes) s = (s + b) & 0xff;
  return s;
}

/** The bytes the framing reserves: never literal in binary data, nor a run-length count. */
const reserved = (b: number): boolean => b === DOLLAR || b === HASH || b === ESC || b === STAR;

/** Escapes the bytes the framing reserves (`$ # } *`) as `}` followed by the byte xor 0x20. */
export function escapeBinary(data: Uint8Array): Uint8Array {
  let n = 0;
  for (const b of data) if (reserved(b)) n++;
  if (n === 0) return data;
  const out = new Uint8Array(data.length + n);
  let j = 0;
  for (const b of data) {
    if (reserved(b)) {
      out[j++] = ESC;
      out[j++] = b ^ 0x20;
    } else out[j++] = b;
  }
  return out;
}

/** Undoes `escapeBinary`; a trailing lone `}` is an error (a truncated escape). */
export function unescapeBinary(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length);
  let j = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === ESC) {
      if (i + 1 >= data.length) throw new ProtocolError('truncated binary escape');
      out[j++] = data[++i]! ^ 0x20;
    } else out[j++] = b;
  }
  return out.subarray(0, j);
}

/**
 * Run-length encodes packet data: a run of n ≥ 4 equal bytes becomes `c*` plus the
 * character (n-1)+29. Runs whose count would read as `#`, `$`, `*` or `}` are
 * shortened, and runs longer than 98 split, so the count stays printable.
 */
export function rleEncode(data: Uint8Array): Uint8Array {
  // Every reply goes through here; encoding never lengthens data, so one buffer of its size suffices.
  const out = new Uint8Array(data.length);
  let j = 0;
  let i = 0;
  while (i < data.length) {
    const b = data[i]!;
    let run = 1;
    while (i + run < data.length && data[i + run] === b && run < 98) run++;
    // A run after an escape byte would repeat the escape itself, and `*`/`}` never repeat
    // literally in escaped data; keep those bytes literal.
    if (b === ESC || b === STAR || (i > 0 && data[i - 1] === ESC)) run = 1;
    if (run >= 4) {
      // The count character must not read as framing: not # or $ (gdb's rule), nor * or }.
      while (reserved(run - 1 + 29)) run--;
      out[j++] = b;
      out[j++] = STAR;
      out[j++] = run - 1 + 29;
      i += run;
    } else {
      out[j++] = b;
      i++;
    }
  }
  return out.subarray(0, j);
}

/** Expands `c*n` runs (as gdb does for every received packet, before unescaping). */
export function rleDecode(data: Uint8Array): Uint8Array {
  if (!data.includes(STAR)) return data;
  const out: number[] = [];
  let escaped = false;
  for (let i = 0; i < data.length; i++) {
    const b = data[i]!;
    if (b === STAR && !escaped) {
      if (out.length === 0 || i + 1 >= data.length)
        throw new ProtocolError('run-length count without a byte to repeat');
      const n = data[++i]! - 29;
      if (n < 3 || n > 97) throw new ProtocolError(`bad run-length count ${n}`);
      const prev = out[out.length - 1]!;
      for (let k = 0; k < n; k++) out.push(prev);
      continue;
    }
    escaped = !escaped && b === ESC;
    out.push(b);
  }
  return Uint8Array.from(out);
}

export class ProtocolError extends Error {}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0');

/** Frames `data` as `$data#cs`; `rle` compresses it first (the server does, for replies). */
export function frame(data: Uint8Array | string, rle = false): Buffer {
  let body = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  if (rle) body = rleEncode(body);
  const out = Buffer.allocUnsafe(body.length + 4);
  out[0] = DOLLAR;
  out.set(body, 1);
  out[body.length + 1] = HASH;
  out.write(hex2(checksum(body)), body.length + 2, 'latin1');
  return out;
}

export type FrameEvent =
  | { type: 'packet'; data: Buffer }
  | { type: 'notification'; data: Buffer }
  | { type: 'ack' }
  | { type: 'nak' }
  | { type: 'interrupt' }
  | { type: 'bad-checksum'; data: Buffer }
  | { type: 'oversize'; length: number };

const enum St {
  Idle,
  Body,
  Check1,
  Check2,
}

/**
 * Incremental frame parser. Bytes outside packets other than `+ - 0x03` are line noise
 * and ignored, as gdb does; a `$` inside a packet abandons it and starts the next one. A
 * packet body longer than `maxData` is read to its end and reported as `oversize` (never
 * buffered), so a hostile peer cannot make us allocate.
 * `data` of a packet is raw (still escaped and run-length encoded, as checksummed).
 *
 * A 0x03 inside a packet is data when the checksum counts it (binary packets may hold one).
 * When the checksum only matches without the 0x03 bytes, they were interrupts typed while
 * the packet was on its way: the packet is delivered without them, then one `interrupt` each.
 */
export class FrameParser {
  private st = St.Idle;
  private buf: Uint8Array;
  private len = 0;
  private oversize = false;
  private sum = 0;
  private interrupts = 0;
  private check = 0;
  private notification = false;

  constructor(private readonly maxData: number) {
    this.buf = new Uint8Array(Math.min(maxData, 4096));
  }

  /** Parses `chunk`, calling `emit` for each complete event. */
  push(chunk: Uint8Array, emit: (e: FrameEvent) => void): void {
    for (const b of chunk) {
      switch (this.st) {
        case St.Idle:
          if (b === DOLLAR || b === PERCENT) {
            this.st = St.Body;
            this.len = 0;
            this.sum = 0;
            this.interrupts = 0;
            this.oversize = false;
            this.notification = b === PERCENT;
          } else if (b === PLUS) emit({ type: 'ack' });
          else if (b === MINUS) emit({ type: 'nak' });
          else if (b === INTR) emit({ type: 'interrupt' });
          break;
        case St.Body:
          // '#' always ends a packet (as in gdb): escaping guarantees it never occurs in data.
          if (b === HASH) {
            this.st = St.Check1;
            break;
          }
          // Nor does '$': one inside a packet starts a new one, the unfinished one is dropped (as gdb does).
          if (b === DOLLAR) {
            this.len = 0;
            this.sum = 0;
            this.interrupts = 0;
            this.oversize = false;
            this.notification = false;
            break;
          }
          this.sum = (this.sum + b) & 0xff;
          if (b === INTR) this.interrupts++;
          if (this.len >= this.maxData) {
            this.oversize = true;
            this.len++;
            break;
          }
          if (this.len === this.buf.length) {
            const bigger = new Uint8Array(Math.min(this.maxData, this.buf.length * 2));
            bigger.set(this.buf);
            this.buf = bigger;
          }
          this.buf[this.len++] = b;
          break;
        case St.Check1:
          this.check = hexValue(b) << 4;
          this.st = St.Check2;
          break;
        case St.Check2: {
          this.check |= hexValue(b);
          this.st = St.Idle;
          if (this.oversize) {
            emit({ type: 'oversize', length: this.len });
            break;
          }
          let data = Buffer.from(this.buf.subarray(0, this.len));
          const n = this.interrupts;
          const interruptsInside = this.check !== this.sum && n > 0 && this.check === ((this.sum - n * INTR) & 0xff);
          if (interruptsInside) data = Buffer.from(data.filter((x) => x !== INTR));
          const good = this.check === this.sum || interruptsInside;
          // Notifications are never acknowledged: a damaged one is dropped without a NAK.
          if (this.notification) {
            if (good) emit({ type: 'notification', data });
          } else emit(good ? { type: 'packet', data } : { type: 'bad-checksum', data });
          if (interruptsInside) for (let i = 0; i < n; i++) emit({ type: 'interrupt' });
          break;
        }
      }
    }
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return 0x100; // never matches a checksum
}

// --- hex helpers shared by server and client ------------------------------------------

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) throw new ProtocolError(`malformed hex '${s.slice(0, 40)}'`);
  return Uint8Array.from(Buffer.from(s, 'hex'));
}

export function textToHex(s: string): string {
  return Buffer.from(s, 'utf8').toString('hex');
}
export function hexToText(s: string): string {
  return Buffer.from(fromHex(s)).toString('utf8');
}

/** A register value as the target byte order (little-endian) hex of `bytes` bytes. */
export function regToHex(v: bigint, bytes: number): string {
  let s = '';
  for (let i = 0; i < bytes; i++) s += hex2(Number((v >> BigInt(8 * i)) & 0xffn));
  return s;
}

export function hexToReg(s: string): bigint {
  const b = fromHex(s);
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

/** Parses a hex number field of a packet (addresses, lengths). */
export function parseHexNumber(s: string | undefined, what: string): bigint {
  if (s === undefined || !/^[0-9a-fA-F]{1,16}$/.test(s)) throw new ProtocolError(`malformed ${what} '${s ?? ''}'`);
  return BigInt(`0x${s}`);
}
