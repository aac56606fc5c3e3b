// gdb's agent expressions (the GDB manual's "Agent Expressions" appendix): the bytecode gdb
// sends with a `Z0`/`Z1` packet so the target evaluates a breakpoint's condition itself,
// with no round trip. A stack machine of 64-bit values; registers by gdb's remote number,
// memory through the target. Tracing and floating-point opcodes are not conditions' business
// and are refused when the breakpoint is inserted.
import { ProtocolError } from './packet.js';

/** What an expression may read, at the stop being decided. */
export interface AgentEnvironment {
  register(regnum: number): bigint | undefined;
  /** `size` bytes little-endian at `addr`, undefined when unreadable. */
  memory(addr: bigint, size: 1 | 2 | 4 | 8): bigint | undefined;
}

/** An expression that cannot be evaluated (unreadable register or memory, division by zero, …). */
export class AgentError extends Error {}

const M64 = (1n << 64n) - 1n;
const signed = (v: bigint): bigint => BigInt.asIntN(64, v);

type Op = { readonly args: number; readonly run?: (s: bigint[], env: AgentEnvironment, arg: number) => void };

const binary =
  (f: (a: bigint, b: bigint) => bigint): Op['run'] =>
  (s) => {
    const b = s.pop()!;
    const a = s.pop()!;
    s.push(f(a, b) & M64);
  };
const divisor = (b: bigint): bigint => {
  if (b === 0n) throw new AgentError('division by zero');
  return b;
};
const ref =
  (size: 1 | 2 | 4 | 8): Op['run'] =>
  (s, env) => {
    const addr = s.pop()!;
    const v = env.memory(addr, size);
    if (v === undefined) throw new AgentError(`cannot read ${size} bytes at 0x${addr.toString(16)}`);
    s.push(v);
  };

/** Opcode → operand bytes and effect; control flow (if_goto, goto, end) is in `evaluate`. */
const OPS: ReadonlyMap<number, Op> = new Map<number, Op>([
  [0x02, { args: 0, run: binary((a, b) => a + b) }], // add
  [0x03, { args: 0, run: binary((a, b) => a - b) }], // sub
  [0x04, { args: 0, run: binary((a, b) => a * b) }], // mul
  [0x05, { args: 0, run: binary((a, b) => signed(a) / signed(divisor(b))) }], // div_signed
  [0x06, { args: 0, run: binary((a, b) => a / divisor(b)) }], // div_unsigned
  [0x07, { args: 0, run: binary((a, b) => signed(a) % signed(divisor(b))) }], // rem_signed
  [0x08, { args: 0, run: binary((a, b) => a % divisor(b)) }], // rem_unsigned
  [0x09, { args: 0, run: binary((a, b) => (b >= 64n ? 0n : a << b)) }], // lsh
  [0x0a, { args: 0, run: binary((a, b) => signed(a) >> (b >= 64n ? 63n : b)) }], // rsh_signed
  [0x0b, { args: 0, run: binary((a, b) => (b >= 64n ? 0n : a >> b)) }], // rsh_unsigned
  [0x0e, { args: 0, run: (s) => s.push(s.pop()! === 0n ? 1n : 0n) }], // log_not
  [0x0f, { args: 0, run: binary((a, b) => a & b) }], // bit_and
  [0x10, { args: 0, run: binary((a, b) => a | b) }], // bit_or
  [0x11, { args: 0, run: binary((a, b) => a ^ b) }], // bit_xor
  [0x12, { args: 0, run: (s) => s.push(~s.pop()! & M64) }], // bit_not
  [0x13, { args: 0, run: binary((a, b) => (a === b ? 1n : 0n)) }], // equal
  [0x14, { args: 0, run: binary((a, b) => (signed(a) < signed(b) ? 1n : 0n)) }], // less_signed
  [0x15, { args: 0, run: binary((a, b) => (a < b ? 1n : 0n)) }], // less_unsigned
  [0x16, { args: 1, run: (s, _e, n) => s.push(BigInt.asUintN(64, BigInt.asIntN(n, s.pop()!))) }], // ext
  [0x17, { args: 0, run: ref(1) }], // ref8
  [0x18, { args: 0, run: ref(2) }], // ref16
  [0x19, { args: 0, run: ref(4) }], // ref32
  [0x1a, { args: 0, run: ref(8) }], // ref64
  [0x20, { args: 2 }], // if_goto
  [0x21, { args: 2 }], // goto
  [0x22, { args: 1, run: (s, _e, n) => s.push(BigInt(n)) }], // const8
  [0x23, { args: 2, run: (s, _e, n) => s.push(BigInt(n)) }], // const16
  [0x24, { args: 4 }], // const32 (read as bigint below)
  [0x25, { args: 8 }], // const64
  [
    0x26, // reg
    {
      args: 2,
      run: (s, env, n) => {
        const v = env.register(n);
        if (v === undefined) throw new AgentError(`no register ${n}`);
        s.push(v);
      },
    },
  ],
  [0x27, { args: 0 }], // end
  [0x28, { args: 0, run: (s) => s.push(s[s.length - 1]!) }], // dup
  [0x29, { args: 0, run: (s) => void s.pop() }], // pop
  [0x2a, { args: 1, run: (s, _e, n) => s.push(BigInt.asUintN(n, s.pop()!)) }], // zero_ext
  [
    0x2b, // swap
    {
      args: 0,
      run: (s) => {
        const b = s.pop()!;
        const a = s.pop()!;
        s.push(b, a);
      },
    },
  ],
  [0x32, { args: 1, run: (s, _e, n) => s.push(s[s.length - 1 - n]!) }], // pick
  [
    0x33, // rot: a b c → c a b
    {
      args: 0,
      run: (s) => {
        const c = s.pop()!;
        const b = s.pop()!;
        const a = s.pop()!;
        s.push(c, a, b);
      },
    },
  ],
]);

/** Values each opcode pops and pushes; unlisted ones are binary operators (2, 1). */
const POPS: Readonly<Record<number, [number, number]>> = {
  0x0e: [1, 1],
  0x12: [1, 1],
  0x16: [1, 1],
  0x17: [1, 1],
  0x18: [1, 1],
  0x19: [1, 1],
  0x1a: [1, 1],
  0x20: [1, 0],
  0x21: [0, 0],
  0x22: [0, 1],
  0x23: [0, 1],
  0x24: [0, 1],
  0x25: [0, 1],
  0x26: [0, 1],
  0x27: [1, 0],
  0x28: [1, 2],
  0x29: [1, 0],
  0x2a: [1, 1],
  0x2b: [2, 2],
  0x32: [0, 1],
  0x33: [3, 3],
};

const MAX_STACK = 64;
/** Bounds a loop made with goto: a condition is decided in far fewer steps. */
const MAX_STEPS = 10_000;

function operand(code: Uint8Array, at: number, n: number): bigint {
  let v = 0n;
  for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(code[at + i]!); // big-endian, as gdb emits them
  return v;
}

/**
 * Checks an expression as a condition: every opcode known and allowed, operands and jump
 * targets inside the code. Throws ProtocolError (the `Z` packet is then refused); what
 * only running can show (a stack underflow) is an AgentError at evaluation.
 */
export function checkAgentExpression(code: Uint8Array): void {
  if (code.length === 0) throw new ProtocolError('empty condition');
  for (let pc = 0; pc < code.length;) {
    const op = OPS.get(code[pc]!);
    if (!op)
      throw new ProtocolError(`agent-expression opcode 0x${code[pc]!.toString(16)} is not allowed in a condition`);
    if (pc + 1 + op.args > code.length) throw new ProtocolError('agent expression ends inside an operand');
    if (code[pc] === 0x20 || code[pc] === 0x21) {
      if (Number(operand(code, pc + 1, 2)) >= code.length)
        throw new ProtocolError('agent-expression jump out of range');
    }
    pc += 1 + op.args;
  }
}

/** Evaluates a condition: the value on top of the stack at `end`. */
export function evaluateAgentExpression(code: Uint8Array, env: AgentEnvironment): bigint {
  const s: bigint[] = [];
  let pc = 0;
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    const opcode = code[pc];
    const op = opcode === undefined ? undefined : OPS.get(opcode);
    if (!op) throw new AgentError(`bad opcode at ${pc}`);
    const [pops] = POPS[opcode!] ?? [2, 1];
    if (s.length < pops || (opcode === 0x32 && s.length <= code[pc + 1]!))
      throw new AgentError(`stack underflow at ${pc}`);
    const arg = operand(code, pc + 1, op.args);
    const next = pc + 1 + op.args;
    switch (opcode) {
      case 0x27:
        return s.pop()!;
      case 0x20:
        pc = s.pop()! !== 0n ? Number(arg) : next;
        continue;
      case 0x21:
        pc = Number(arg);
        continue;
      case 0x24:
      case 0x25:
        s.push(arg);
        break;
      default:
        op.run!(s, env, Number(arg));
    }
    if (s.length > MAX_STACK) throw new AgentError('stack overflow');
    pc = next;
  }
  throw new AgentError(`no result after ${MAX_STEPS} steps`);
}
