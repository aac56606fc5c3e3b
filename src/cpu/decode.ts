// Declarative A64 decoding: encodings are written as the ARM ARM draws them,
// e.g. 'sf:1 op:1 S:1 100010 sh:1 imm12:12 Rn:5 Rd:5' (MSB first, 32 bits),
// and compiled at start-up into mask/value pairs plus a field extractor.
// One table drives both execution and disassembly.
import type { Cpu } from './cpu.js';

type TokName<T extends string> = T extends `${infer N}:${number}` ? N : never;
type FieldNames<P extends string> = P extends `${infer Tok} ${infer Rest}`
  ? TokName<Tok> | FieldNames<Rest>
  : TokName<P>;

/** The operands of one decoded instruction: every named field of its pattern, plus the raw word. */
export type Fields<P extends string> = { readonly raw: number } & { readonly [K in FieldNames<P>]: number };

export type Exec<F> = (cpu: Cpu, d: F) => void;
/** Disassembly: returns mnemonic and operands as objdump prints them (without the raw word). */
export type Disasm<F> = (d: F, pc: bigint) => string;

export interface Encoding<F = never> {
  readonly name: string;
  readonly pattern: string;
  readonly mask: number;
  readonly value: number;
  readonly extract: (raw: number) => F;
  readonly exec: Exec<F>;
  readonly asm?: Disasm<F>;
}

interface FieldSpec {
  name: string;
  lsb: number;
  width: number;
}

export function parsePattern(pattern: string): { mask: number; value: number; fields: FieldSpec[] } {
  let bit = 32;
  let mask = 0;
  let value = 0;
  const fields: FieldSpec[] = [];
  for (const tok of pattern.trim().split(/\s+/)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*):(\d+)$/.exec(tok);
    if (m) {
      const width = Number(m[2]);
      bit -= width;
      fields.push({ name: m[1]!, lsb: bit, width });
      continue;
    }
    if (!/^[01x]+$/.test(tok)) throw new Error(`bad token '${tok}' in encoding pattern '${pattern}'`);
    for (const ch of tok) {
      bit -= 1;
      if (ch !== 'x') {
        mask |= 1 << bit;
        if (ch === '1') value |= 1 << bit;
      }
    }
  }
  if (bit !== 0) throw new Error(`encoding pattern '${pattern}' is ${32 - bit} bits, not 32`);
  return { mask: mask >>> 0, value: value >>> 0, fields };
}

// The extractor is generated so that every decoded object of one encoding shares
// one hidden class: the property loads in its semantics stay monomorphic.
function makeExtractor<F>(fields: FieldSpec[]): (raw: number) => F {
  const props = fields.map((f) => {
    const m = f.width === 32 ? '0xffffffff' : `0x${(2 ** f.width - 1).toString(16)}`;
    return `${JSON.stringify(f.name)}: (raw >>> ${f.lsb}) & ${m}`;
  });
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the field extractor is compiled once per encoding
  return new Function('raw', `return { raw: raw, ${props.join(', ')} };`) as (raw: number) => F;
}

/** Declares one encoding. */
export function enc<P extends string>(
  pattern: P,
  name: string,
  exec: Exec<Fields<P>>,
  asm?: Disasm<Fields<P>>,
): Encoding<Fields<P>> {
  const { mask, value, fields } = parsePattern(pattern);
  return { name, pattern, mask, value, extract: makeExtractor<Fields<P>>(fields), exec, asm };
}

/** An encoding with its operand type erased, as tables and caches hold it. */
export interface AnyEncoding {
  readonly name: string;
  readonly pattern: string;
  readonly mask: number;
  readonly value: number;
  readonly extract: (raw: number) => object;
  readonly exec: (cpu: Cpu, d: never) => void;
  readonly asm?: (d: never, pc: bigint) => string;
}

/**
 * A decoder over an ordered list of encodings: the first match wins, so more
 * specific encodings (aliases, UNDEFINED carve-outs) are listed before general ones.
 * Candidates are bucketed by bits [28:25], the A64 top-level op0 field.
 */
export class Decoder {
  private readonly buckets: AnyEncoding[][] = [];

  constructor(readonly encodings: readonly AnyEncoding[]) {
    for (let op0 = 0; op0 < 16; op0++) {
      const word = op0 << 25;
      this.buckets.push(encodings.filter((e) => (e.mask & 0x1e000000 & (word ^ e.value)) === 0));
    }
  }

  find(raw: number): AnyEncoding | undefined {
    const bucket = this.buckets[(raw >>> 25) & 0xf]!;
    for (let i = 0; i < bucket.length; i++) {
      const e = bucket[i]!;
      if ((raw & e.mask) >>> 0 === e.value) return e;
    }
    return undefined;
  }
}
