// Declarative A64 decoding: encodings are written as the ARM ARM draws them,
// e.g. 'sf:1 op:1 S:1 100010 sh:1 imm12:12 Rn:5 Rd:5' (MSB first, 32 bits),
// and compiled at start-up into mask/value pairs plus a field extractor.
// One table drives execution, disassembly and compilation: a row may carry a generator
// (emit.ts) beside its executor and disassembler, which the trace compiler (trace.ts) calls.
//
// Fields as decodetree has them: `imm9:s9` is a signed field (sign-extended), and a
// trailing `index=Q:S:size` (or `imm=s(immhi:immlo)`, signed) is a compound field made by
// concatenating earlier fields, most significant first.
//
// Overlaps are explicit, never decided by the order of rows: an UNDEFINED carve-out
// (`carveOut`) wins over every row it overlaps, and any other two overlapping rows must be
// nested, the narrower one naming the row it refines (`refines`); the decoder checks this
// when it is built and refuses a table where it does not hold.
import type { Cpu } from './cpu.js';
import type { Emitter, Gen } from './emit.js';

type TokName<T extends string> = T extends `${infer N}=${string}`
  ? N
  : T extends `${infer N}:s${number}`
    ? N
    : T extends `${infer N}:${number}`
      ? N
      : never;
type FieldNames<P extends string> = P extends `${infer Tok} ${infer Rest}`
  ? TokName<Tok> | FieldNames<Rest>
  : TokName<P>;

/** The operands of one decoded instruction: every named field of its pattern, plus the raw word. */
export type Fields<P extends string> = { readonly raw: number } & { readonly [K in FieldNames<P>]: number };

export type Exec<F> = (cpu: Cpu, d: F) => void;
/**
 * An executor picked at decode for one instruction's operands (a hot shape of the row, without
 * the generic executor's branches and shifts), or undefined for the generic one. It must do what
 * the row's executor does for those operands (test/unit/pick.test.ts compares them).
 */
export type Pick<F> = (d: F) => Exec<F> | undefined;
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
  readonly gen?: Gen<F>;
  readonly pick?: Pick<F>;
  /** An UNDEFINED carve-out: wins over every row it overlaps. */
  readonly carveOut?: boolean;
  /** The name of the row this one is a special case of (it wins where both match). */
  readonly refines?: string;
}

interface FieldSpec {
  name: string;
  lsb: number;
  width: number;
  signed: boolean;
}

/** A field made of earlier fields, concatenated most significant first. */
interface CompoundSpec {
  name: string;
  parts: FieldSpec[];
  signed: boolean;
}

export function parsePattern(pattern: string): {
  mask: number;
  value: number;
  fields: FieldSpec[];
  compounds: CompoundSpec[];
} {
  let bit = 32;
  let mask = 0;
  let value = 0;
  const fields: FieldSpec[] = [];
  const compounds: CompoundSpec[] = [];
  for (const tok of pattern.trim().split(/\s+/)) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*):(s?)(\d+)$/.exec(tok);
    if (m) {
      const width = Number(m[3]);
      bit -= width;
      fields.push({ name: m[1]!, lsb: bit, width, signed: m[2] === 's' });
      continue;
    }
    const c = /^([A-Za-z_][A-Za-z0-9_]*)=(s\()?([A-Za-z0-9_:]+)(\))?$/.exec(tok);
    if (c) {
      const parts = c[3]!.split(':').map((n) => {
        const f = fields.find((x) => x.name === n);
        if (f === undefined) throw new Error(`compound field '${c[1]}' names no field '${n}' in '${pattern}'`);
        return f;
      });
      compounds.push({ name: c[1]!, parts, signed: c[2] !== undefined });
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
  return { mask: mask >>> 0, value: value >>> 0, fields, compounds };
}

// The extractor is generated so that every decoded object of one encoding shares
// one hidden class: the property loads in its semantics stay monomorphic.
function makeExtractor<F>(fields: FieldSpec[], compounds: CompoundSpec[]): (raw: number) => F {
  const unsigned = (f: FieldSpec): string =>
    `((raw >>> ${f.lsb}) & ${f.width === 32 ? '0xffffffff' : `0x${(2 ** f.width - 1).toString(16)}`})`;
  // Sign extension by shifting the field's top bit to bit 31 and back.
  const sext = (e: string, width: number): string =>
    width >= 32 ? `(${e} | 0)` : `((${e} << ${32 - width}) >> ${32 - width})`;
  const props = fields.map((f) => `${JSON.stringify(f.name)}: ${f.signed ? sext(unsigned(f), f.width) : unsigned(f)}`);
  for (const c of compounds) {
    let width = 0;
    const terms = c.parts.map((f) => {
      const t = `(${unsigned(f)} << ${c.parts.slice(c.parts.indexOf(f) + 1).reduce((a, p) => a + p.width, 0)})`;
      width += f.width;
      return t;
    });
    const e = `(${terms.join(' | ')})`;
    props.push(`${JSON.stringify(c.name)}: ${c.signed ? sext(e, width) : e}`);
  }
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the field extractor is compiled once per encoding
  return new Function('raw', `return { raw: raw, ${props.join(', ')} };`) as (raw: number) => F;
}

/**
 * Declares one encoding: its executor, its disassembler and, for rows the trace compiler
 * inlines, its generator (without one, compiled code calls the executor), and for rows the
 * interpreter runs often, the executors of their hot shapes (`pick`).
 */
export function enc<P extends string>(
  pattern: P,
  name: string,
  exec: Exec<Fields<P>>,
  asm?: Disasm<Fields<P>>,
  gen?: Gen<Fields<P>>,
  pick?: Pick<Fields<P>>,
): Encoding<Fields<P>> {
  const { mask, value, fields, compounds } = parsePattern(pattern);
  // Compiled when the row first decodes a word: most rows of the table never do in a run.
  let extractor: ((raw: number) => Fields<P>) | null = null;
  const extract = (raw: number): Fields<P> => (extractor ??= makeExtractor<Fields<P>>(fields, compounds))(raw);
  return { name, pattern, mask, value, extract, exec, asm, gen, pick };
}

/** Marks `row` as a special case of the row named `broader` (an alias, or a form a field value picks out). */
export function refining<E extends AnyEncoding>(row: E, broader: string): E {
  return { ...row, refines: broader };
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
  readonly gen?: (g: Emitter, d: never) => void;
  readonly pick?: (d: never) => ((cpu: Cpu, d: never) => void) | undefined;
  readonly carveOut?: boolean;
  readonly refines?: string;
}

/** The executor the interpreter runs for operands `d` of row `e`: the one its pick chooses, else the row's. */
export function executorFor(e: AnyEncoding, d: object): (cpu: Cpu, d: never) => void {
  return e.pick?.(d as never) ?? e.exec;
}

/** Whether some word matches both rows. */
function overlap(a: AnyEncoding, b: AnyEncoding): boolean {
  return ((a.value ^ b.value) & a.mask & b.mask) === 0;
}

/** Whether every word `a` matches, `b` matches too. */
function within(a: AnyEncoding, b: AnyEncoding): boolean {
  return (b.mask & ~a.mask) === 0 && (a.value & b.mask) >>> 0 === b.value;
}

/**
 * The precedence of every row, checking that overlaps are explicit: carve-outs first, then
 * refinements deepest first, then the rest. Throws naming the first overlap that is not.
 */
export function precedence(encodings: readonly AnyEncoding[]): Map<AnyEncoding, number> {
  const byName = new Map(encodings.map((e) => [e.name, e]));
  const depth = (e: AnyEncoding, seen: number): number => {
    if (e.refines === undefined) return 0;
    const b = byName.get(e.refines);
    if (b === undefined || seen > encodings.length) throw new Error(`row '${e.name}' refines no row '${e.refines}'`);
    return 1 + depth(b, seen + 1);
  };
  const refinesTransitively = (a: AnyEncoding, b: AnyEncoding): boolean => {
    for (let r = a.refines; r !== undefined; r = byName.get(r)?.refines) if (r === b.name) return true;
    return false;
  };
  const rank = new Map(encodings.map((e) => [e, e.carveOut === true ? 1 << 20 : depth(e, 0)]));
  // Two rows that overlap share a word, so both match its op0 (bits [28:25]): pairs are looked
  // at within each op0's rows only (a fraction of all pairs: this runs at every start-up).
  for (let op0 = 0; op0 < 16; op0++) {
    const rows = encodings.filter((e) => e.carveOut !== true && (e.mask & 0x1e000000 & ((op0 << 25) ^ e.value)) === 0);
    for (let i = 0; i < rows.length; i++) {
      const a = rows[i]!;
      for (let j = i + 1; j < rows.length; j++) {
        const b = rows[j]!;
        if (!overlap(a, b)) continue;
        if ((within(a, b) && refinesTransitively(a, b)) || (within(b, a) && refinesTransitively(b, a))) continue;
        throw new Error(`encodings '${a.name}' and '${b.name}' overlap without one refining the other`);
      }
    }
  }
  return rank;
}

/**
 * A decoder over a set of encodings whose overlaps are explicit (see `precedence`): the
 * order in which rows are listed decides nothing. Candidates are bucketed by bits [28:25],
 * the A64 top-level op0 field, and tried carve-outs first, then the narrowest refinement.
 */
export class Decoder {
  private readonly buckets: AnyEncoding[][] = [];

  constructor(readonly encodings: readonly AnyEncoding[]) {
    const rank = precedence(encodings);
    for (let op0 = 0; op0 < 16; op0++) {
      const word = op0 << 25;
      this.buckets.push(
        encodings
          .filter((e) => (e.mask & 0x1e000000 & (word ^ e.value)) === 0)
          .sort((a, b) => rank.get(b)! - rank.get(a)!),
      );
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
