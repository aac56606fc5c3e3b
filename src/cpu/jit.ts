// Straight-line blocks of data-processing instructions compiled into JS functions: the
// first step of the block translator (ARCHITECTURE.md, decision 2).
//
// A block is a run of consecutive instructions of one decoded page that cannot raise an
// exception, touch memory, request a stop or raise an event, and that read neither the PC
// nor the instruction count: the common data-processing forms below. Their operands are
// compiled in as constants, so V8 sees one straight-line function per block, lowers its
// BigInt arithmetic (every expression truncated by BigInt.asUintN(64, ...)) to machine
// operations and allocates nothing. The run loop (cpu.ts) executes a block only when no
// breakpoint is set and the whole block fits in the budget, then accounts one retired
// instruction per instruction of the block, so icount, CNTPCT and every stop are exactly
// those of single-stepping. Anything else ends the block and runs through its handler.
//
// Code shape rules (Node 20, V8 11.3), all measured:
// - every BigInt expression sits in BigInt.asUintN(64, ...), constants are BigInt literals;
// - no BigInt comparisons (=== and !== allocate, and a value >= 2^63 is boxed to compare):
//   flags are read from a scratch BigUint64Array through its Int32Array view;
// - no `let` holding a BigInt and no BigInt-valued ?: (the optimizer aborts the process on
//   some BigInt phis): each value is a `const` in its own { } scope, and CSEL is an if/else
//   of two stores.
import type { Cpu } from './cpu.js';
import type { AnyEncoding } from './decode.js';
import { WMASK, bitMaskKey, LOGICAL_IMM, LOGICAL_IMM_OK, BITFIELD_WMASK, BITFIELD_TMASK } from './alu.js';
import type { PState } from '../pe/pstate.js';

export type BlockFn = (cpu: Cpu, x: BigUint64Array, ps: PState, f: BigUint64Array, f32: Int32Array) => void;

export interface Block {
  readonly fn: BlockFn;
  /** Instructions in the block. */
  readonly len: number;
}

/** Scratch for flag computation: [0] result, [1] carry word, [2] overflow word. */
export const FLAG_SCRATCH = new BigUint64Array(4);
export const FLAG_SCRATCH32 = new Int32Array(FLAG_SCRATCH.buffer);

/** Blocks shorter than this are not worth a call. */
const MIN_BLOCK = 2;
/** And longer ones are cut (bounded compile time per block). */
const MAX_BLOCK = 64;

const M64 = 0xffff_ffff_ffff_ffffn;
const big = (v: bigint): string => `0x${v.toString(16)}n`;
const U = (e: string): string => `BigInt.asUintN(64, ${e})`;
/** What truncates a 64-bit expression to the datasize: nothing for sf=1. */
const trunc = (sf: number): string => (sf !== 0 ? '' : ' & 0xffffffffn');

/** X[n] as the ZR forms read it, truncated to the datasize. */
function rz(n: number, sf: number): string {
  if (n === 31) return '0n';
  return sf !== 0 ? `x[${n}]` : U(`x[${n}] & 0xffffffffn`);
}

/** X[n] where 31 is SP, truncated to the datasize. */
function rsp(n: number, sf: number): string {
  const v = n === 31 ? 'cpu.getSp()' : `x[${n}]`;
  return sf !== 0 ? v : U(`${v} & 0xffffffffn`);
}

function setRz(n: number, v: string): string {
  return n === 31 ? '' : `x[${n}] = ${v};`;
}
function setRsp(n: number, v: string): string {
  return n === 31 ? `cpu.setSp(${v});` : `x[${n}] = ${v};`;
}

/** ShiftReg of an already truncated operand expression `v` (a name) by a constant amount. */
function shifted(v: string, type: number, amount: number, sf: number): string {
  if (amount === 0) return v;
  const w = sf !== 0 ? 64 : 32;
  const m = trunc(sf);
  switch (type) {
    case 0:
      return U(`(${v} << ${amount}n)${m}`);
    case 1:
      return U(`${v} >> ${amount}n`);
    case 2: // ASR: the sign bit, replicated by 0 - bit, above the logical shift.
      return U(`((${v} >> ${amount}n) | ((0n - (${v} >> ${w - 1}n)) << ${w - amount}n))${m}`);
    default:
      return U(`((${v} >> ${amount}n) | (${v} << ${w - amount}n))${m}`);
  }
}

/** NZCV from the scratch: N and Z from the result, C and V from the top bit of their words. */
function flagsFromScratch(sf: number, cv: boolean): string {
  const nz =
    sf !== 0
      ? 'ps.n = f32[1] >>> 31; ps.z = (f32[0] | f32[1]) === 0 ? 1 : 0;'
      : 'ps.n = f32[0] >>> 31; ps.z = f32[0] === 0 ? 1 : 0;';
  if (!cv) return `${nz} ps.c = 0; ps.v = 0;`;
  return sf !== 0
    ? `${nz} ps.c = f32[3] >>> 31; ps.v = f32[5] >>> 31;`
    : `${nz} ps.c = f32[2] >>> 31; ps.v = f32[4] >>> 31;`;
}

/**
 * AddWithCarry(a, b, carry) into X[d] (ZR) with NZCV, for truncated operand names a and b.
 * `carry` is '0', '1' or 'ps.c'.
 */
function addWithCarry(a: string, b: string, carry: string, sf: number, d: number): string {
  const m = trunc(sf);
  const mask = big(WMASK[sf]!);
  const body = (plus: string): string =>
    `{ const r = ${U(`(${a} + ${b}${plus})${m}`)}; f[0] = r; ` +
    `f[1] = ${U(`(${a} & ${b}) | ((${a} | ${b}) & (r ^ ${mask}))`)}; f[2] = ${U(`(${a} ^ r) & (${b} ^ r)`)}; ` +
    `${setRz(d, 'r')} ${flagsFromScratch(sf, true)} }`;
  if (carry === '0') return body('');
  if (carry === '1') return body(' + 1n');
  return `if (ps.c !== 0) ${body(' + 1n')} else ${body('')}`;
}

/** ConditionHolds(cond) as a JS boolean expression over ps. */
function condition(cond: number): string {
  let e: string;
  switch (cond >>> 1) {
    case 0:
      e = 'ps.z === 1';
      break;
    case 1:
      e = 'ps.c === 1';
      break;
    case 2:
      e = 'ps.n === 1';
      break;
    case 3:
      e = 'ps.v === 1';
      break;
    case 4:
      e = '(ps.c === 1 && ps.z === 0)';
      break;
    case 5:
      e = 'ps.n === ps.v';
      break;
    case 6:
      e = '(ps.n === ps.v && ps.z === 0)';
      break;
    default:
      return 'true';
  }
  return (cond & 1) !== 0 ? `!(${e})` : e;
}

type F = Record<string, number>;

/** The JS of one instruction, or null when it cannot be part of a block. */
function compileInsn(name: string, d: F): string | null {
  switch (name) {
    case 'ADD/SUB (immediate)': {
      const imm = BigInt(d.sh !== 0 ? d.imm12! * 4096 : d.imm12!);
      const m = trunc(d.sf!);
      const a = `const a = ${rsp(d.Rn!, d.sf!)};`;
      if (d.S === 0) return `{ ${a} ${setRsp(d.Rd!, U(`(a ${d.op === 0 ? '+' : '-'} ${big(imm)})${m}`))} }`;
      const mask = WMASK[d.sf!]!;
      return `{ ${a} const b = ${big(d.op === 0 ? imm : imm ^ mask)}; ${addWithCarry('a', 'b', d.op === 0 ? '0' : '1', d.sf!, d.Rd!)} }`;
    }
    case 'ADD/SUB (shifted register)': {
      const m = trunc(d.sf!);
      const mask = big(WMASK[d.sf!]!);
      const pre = `const a = ${rz(d.Rn!, d.sf!)}; const v = ${rz(d.Rm!, d.sf!)}; const y = ${shifted('v', d.shift!, d.imm6!, d.sf!)};`;
      if (d.S === 0) return `{ ${pre} ${setRz(d.Rd!, U(`(a ${d.op === 0 ? '+' : '-'} y)${m}`))} }`;
      if (d.op === 0) return `{ ${pre} ${addWithCarry('a', 'y', '0', d.sf!, d.Rd!)} }`;
      return `{ ${pre} const b = ${U(`y ^ ${mask}`)}; ${addWithCarry('a', 'b', '1', d.sf!, d.Rd!)} }`;
    }
    case 'logical (shifted register)': {
      const m = trunc(d.sf!);
      const mask = big(WMASK[d.sf!]!);
      const y0 = shifted('v', d.shift!, d.imm6!, d.sf!);
      const y = d.N !== 0 ? U(`${y0} ^ ${mask}`) : y0;
      const pre = `const a = ${rz(d.Rn!, d.sf!)}; const v = ${rz(d.Rm!, d.sf!)}; const y = ${y};`;
      switch (d.opc) {
        case 0:
          return `{ ${pre} ${setRz(d.Rd!, U('a & y'))} }`;
        case 1:
          return `{ ${pre} ${setRz(d.Rd!, U(`(a | y)${m}`))} }`;
        case 2:
          return `{ ${pre} ${setRz(d.Rd!, U(`(a ^ y)${m}`))} }`;
        default:
          return `{ ${pre} const r = ${U('a & y')}; f[0] = r; ${setRz(d.Rd!, 'r')} ${flagsFromScratch(d.sf!, false)} }`;
      }
    }
    case 'logical (immediate)': {
      const key = bitMaskKey(d.N!, d.immr!, d.imms!);
      if (LOGICAL_IMM_OK[key] === 0) return null;
      const mask = WMASK[d.sf!]!;
      const imm = big(LOGICAL_IMM[key]! & mask);
      const a = `const a = ${rz(d.Rn!, d.sf!)};`;
      switch (d.opc) {
        case 0:
          return `{ ${a} ${setRsp(d.Rd!, U(`a & ${imm}`))} }`;
        case 1:
          return `{ ${a} ${setRsp(d.Rd!, U(`a | ${imm}`))} }`;
        case 2:
          return `{ ${a} ${setRsp(d.Rd!, U(`a ^ ${imm}`))} }`;
        default:
          return `{ ${a} const r = ${U(`a & ${imm}`)}; f[0] = r; ${setRz(d.Rd!, 'r')} ${flagsFromScratch(d.sf!, false)} }`;
      }
    }
    case 'MOVN/MOVZ/MOVK': {
      const pos = BigInt(d.hw! * 16);
      const imm = BigInt(d.imm16!) << pos;
      const mask = WMASK[d.sf!]!;
      if (d.opc === 0) return setRz(d.Rd!, big(imm ^ mask));
      if (d.opc === 2) return setRz(d.Rd!, big(imm));
      if (d.Rd === 31) return '';
      return `x[${d.Rd}] = ${U(`(x[${d.Rd}] & ${big((0xffffn << pos) ^ mask)}) | ${big(imm)}`)};`;
    }
    case 'SBFM/BFM/UBFM': {
      const w = d.sf !== 0 ? 64 : 32;
      const mask = WMASK[d.sf!]!;
      const m = trunc(d.sf!);
      const key = bitMaskKey(d.N!, d.immr!, d.imms!);
      const wmask = BITFIELD_WMASK[key]!;
      const tmask = BITFIELD_TMASK[key]!;
      const src = `const s = ${rz(d.Rn!, d.sf!)};`;
      const rot = d.immr === 0 ? 's' : U(`((s >> ${d.immr}n) | (s << ${w - d.immr!}n))${m}`);
      if (d.opc === 2) return `{ ${src} ${setRz(d.Rd!, U(`${rot} & ${big(wmask & tmask & mask)}`))} }`;
      if (d.opc === 1) {
        if (d.Rd === 31) return '';
        return (
          `{ ${src} const t = ${rz(d.Rd!, d.sf!)}; ` +
          `const bot = ${U(`((t & ${big((wmask ^ M64) & mask)}) | (${rot} & ${big(wmask)}))${m}`)}; ` +
          `x[${d.Rd}] = ${U(`((t & ${big((tmask ^ M64) & mask)}) | (bot & ${big(tmask)}))${m}`)}; }`
        );
      }
      // SBFM: the bits above come from src<imms>, replicated as 0 - bit.
      return (
        `{ ${src} const bot = ${U(`${rot} & ${big(wmask & mask)}`)}; ` +
        `const top = ${U(`(0n - ((s >> ${d.imms}n) & 1n))${m}`)}; ` +
        `${setRz(d.Rd!, U(`((top & ${big((tmask ^ M64) & mask)}) | (bot & ${big(tmask)}))${m}`))} }`
      );
    }
    case 'EXTR': {
      const w = d.sf !== 0 ? 64 : 32;
      const m = trunc(d.sf!);
      if (d.imms === 0) return setRz(d.Rd!, rz(d.Rm!, d.sf!));
      return (
        `{ const lo = ${rz(d.Rm!, d.sf!)}; const hi = ${rz(d.Rn!, d.sf!)}; ` +
        `${setRz(d.Rd!, U(`((lo >> ${d.imms}n) | (hi << ${w - d.imms!}n))${m}`))} }`
      );
    }
    case 'ADC/SBC': {
      const mask = big(WMASK[d.sf!]!);
      const m = trunc(d.sf!);
      const pre = `const a = ${rz(d.Rn!, d.sf!)}; const b = ${d.op !== 0 ? U(`${rz(d.Rm!, d.sf!)} ^ ${mask}`) : rz(d.Rm!, d.sf!)};`;
      if (d.S !== 0) return `{ ${pre} ${addWithCarry('a', 'b', 'ps.c', d.sf!, d.Rd!)} }`;
      if (d.Rd === 31) return '';
      return `{ ${pre} if (ps.c !== 0) { x[${d.Rd}] = ${U(`(a + b + 1n)${m}`)}; } else { x[${d.Rd}] = ${U(`(a + b)${m}`)}; } }`;
    }
    case 'CSEL/CSINC/CSINV/CSNEG': {
      if (d.Rd === 31) return '';
      const mask = big(WMASK[d.sf!]!);
      const y = rz(d.Rm!, 1);
      let alt: string;
      if (d.op === 0) alt = d.o2 === 0 ? y : U(`${y} + 1n`);
      else alt = d.o2 === 0 ? U(`${y} ^ ${mask}`) : U(`0n - ${y}`);
      return `if (${condition(d.cond!)}) { x[${d.Rd}] = ${rz(d.Rn!, d.sf!)}; } else { x[${d.Rd}] = ${U(`${alt} & ${mask}`)}; }`;
    }
    case 'MADD/MSUB': {
      if (d.Rd === 31) return '';
      const m = trunc(d.sf!);
      const p = U(`${rz(d.Rn!, 1)} * ${rz(d.Rm!, 1)}`);
      return `{ const p = ${p}; x[${d.Rd}] = ${U(`(${rz(d.Ra!, 1)} ${d.o0 === 0 ? '+' : '-'} p)${m}`)}; }`;
    }
    default:
      return null;
  }
}

/**
 * Compiles the block starting at instruction `start` of a page whose raw words `fetch`
 * returns, or returns null when fewer than MIN_BLOCK instructions qualify.
 */
export function compileBlock(
  find: (raw: number) => AnyEncoding | undefined,
  fetch: (idx: number) => number,
  start: number,
  count: number,
): Block | null {
  const parts: string[] = [];
  let i = start;
  for (; i < count && i - start < MAX_BLOCK; i++) {
    const raw = fetch(i);
    const e = find(raw);
    if (e === undefined) break;
    const js = compileInsn(e.name, e.extract(raw) as F);
    if (js === null) break;
    parts.push(js);
  }
  const len = i - start;
  if (len < MIN_BLOCK) return null;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the JIT: code generated from the decode tables
  const fn = new Function('cpu', 'x', 'ps', 'f', 'f32', `'use strict';\n${parts.join('\n')}`) as BlockFn;
  return { fn, len };
}
