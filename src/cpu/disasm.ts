// The disassembler: the decode tables' `asm` callbacks, in objdump's spelling.
// One table drives execution and disassembly, so what a trace prints is what executes.
import { Cpu } from './cpu.js';
import { undefinedText } from './insn/dp-common.js';

/**
 * The text objdump prints for the instruction word `raw` at address `pc` (mnemonic and
 * operands, without objdump's `<symbol>` annotations and `//` comments).
 */
export function disassemble(raw: number, pc: bigint): string {
  const e = Cpu.decode(raw >>> 0);
  if (e === undefined || e.asm === undefined)
    return e === undefined ? undefinedText(raw) : `.inst 0x${(raw >>> 0).toString(16).padStart(8, '0')} ; ${e.name}`;
  return e.asm(e.extract(raw >>> 0) as never, pc);
}
