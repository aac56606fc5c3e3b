// The disassembler: the decode tables' `asm` callbacks, in objdump's spelling.
// One table drives execution and disassembly, so what a trace prints is what executes.
import { Decoder, type AnyEncoding } from './decode.js';
import { A64 } from './a64.js';
import { undefinedText } from './insn/dp-common.js';

const decoder = new Decoder(A64);

/** The encoding of a raw instruction word (the disassembler's, and tests'). */
export function decodeA64(raw: number): AnyEncoding | undefined {
  return decoder.find(raw >>> 0);
}

/**
 * The text objdump prints for the instruction word `raw` at address `pc` (mnemonic and
 * operands, without objdump's `<symbol>` annotations and `//` comments).
 */
export function disassemble(raw: number, pc: bigint): string {
  const e = decodeA64(raw);
  if (e === undefined || e.asm === undefined)
    return e === undefined ? undefinedText(raw) : `.inst 0x${(raw >>> 0).toString(16).padStart(8, '0')} ; ${e.name}`;
  return e.asm(e.extract(raw >>> 0) as never, pc);
}
