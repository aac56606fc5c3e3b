// Packet parsing: the bytes of one packet (framing already removed) become a typed command,
// or a ProtocolError the session answers with an `E` reply. No meaning is given here; the
// session dispatches the command to its handler.
import { ProtocolError, fromHex, hexToText, parseHexNumber, unescapeBinary } from './packet.js';
import { BREAKPOINT_TYPES, type BreakpointType, type ResumeAction } from './target.js';

/** A thread selector: a thread id, 0 ("any thread") or -1 ("all threads"). */
export type ThreadSelector = { readonly kind: 'any' } | { readonly kind: 'all' } | { readonly kind: 'id'; id: number };

/** One action of a vCont packet, applying to `thread` (absent: every thread not named before). */
export interface VContAction {
  readonly action: ResumeAction | 'stop';
  readonly thread?: ThreadSelector;
}

export type Command =
  | { readonly kind: 'stop-reason' }
  | { readonly kind: 'read-registers' }
  | { readonly kind: 'write-registers'; readonly hex: string }
  | { readonly kind: 'read-register'; readonly regnum: number }
  | { readonly kind: 'write-register'; readonly regnum: number; readonly hex: string }
  | { readonly kind: 'read-memory'; readonly addr: bigint; readonly length: number }
  | { readonly kind: 'write-memory'; readonly addr: bigint; readonly data: Uint8Array }
  /** `c`, `s`, `C`, `S`: the thread chosen with `Hc` (an address, when given, is the new PC). */
  | { readonly kind: 'resume'; readonly action: ResumeAction; readonly addr?: bigint }
  | { readonly kind: 'vcont'; readonly actions: readonly VContAction[] }
  | { readonly kind: 'vcont-query' }
  | {
      readonly kind: 'breakpoint';
      readonly insert: boolean;
      readonly type: BreakpointType;
      readonly addr: bigint;
      readonly length: number;
      /** Agent-expression bytecodes of the `;X len,expr` conditions. */
      readonly conditions: readonly Uint8Array[];
    }
  | { readonly kind: 'set-thread'; readonly op: 'g' | 'c'; readonly thread: ThreadSelector }
  | { readonly kind: 'thread-alive'; readonly thread: ThreadSelector }
  | { readonly kind: 'current-thread' }
  | { readonly kind: 'thread-list'; readonly first: boolean }
  | { readonly kind: 'thread-extra-info'; readonly thread: ThreadSelector }
  | { readonly kind: 'detach' }
  | { readonly kind: 'kill' }
  | { readonly kind: 'supported'; readonly features: readonly string[] }
  | { readonly kind: 'no-ack' }
  | {
      readonly kind: 'xfer-read';
      readonly object: string;
      readonly annex: string;
      readonly offset: number;
      readonly length: number;
    }
  | { readonly kind: 'xfer-write' }
  | { readonly kind: 'attached' }
  | { readonly kind: 'monitor'; readonly line: string }
  /** `qSymbol::` starts the exchange (no name); otherwise gdb's answer for `name`. */
  | { readonly kind: 'symbol'; readonly name?: string; readonly value?: bigint }
  | { readonly kind: 'unsupported' };

/** The commands that resume the target (their stop reply is the answer). */
export const isResume = (c: Command): boolean => c.kind === 'resume' || c.kind === 'vcont';

type Parser = (rest: string, data: Buffer) => Command;

/** Single-letter packets, by their letter; `rest` is what follows it. */
const LETTERS: Readonly<Record<string, Parser>> = {
  '?': () => ({ kind: 'stop-reason' }),
  g: () => ({ kind: 'read-registers' }),
  G: (rest) => ({ kind: 'write-registers', hex: rest }),
  p: (rest) => ({ kind: 'read-register', regnum: Number(parseHexNumber(rest, 'register number')) }),
  P: (rest) => {
    const eq = rest.indexOf('=');
    if (eq < 0) throw new ProtocolError('expected P n=value');
    const hex = rest.slice(eq + 1);
    if (!/^[0-9a-fA-F]*$/.test(hex)) throw new ProtocolError('malformed register value');
    return { kind: 'write-register', regnum: Number(parseHexNumber(rest.slice(0, eq), 'register number')), hex };
  },
  m: (rest) => {
    const [addr, length] = addrLen(rest);
    return { kind: 'read-memory', addr, length };
  },
  M: (_rest, data) => writeMemory(data, (d) => fromHex(d.toString('latin1'))),
  X: (_rest, data) => writeMemory(data, unescapeBinary),
  c: (rest) => resume('continue', rest === '' ? undefined : rest),
  s: (rest) => resume('step', rest === '' ? undefined : rest),
  // Signals have no meaning on a bare machine: the number is checked and ignored.
  C: (rest) => resumeWithSignal('continue', rest),
  S: (rest) => resumeWithSignal('step', rest),
  Z: (rest) => breakpoint(true, rest),
  z: (rest) => breakpoint(false, rest),
  H: (rest) => {
    const op = rest[0];
    if (op !== 'g' && op !== 'c') throw new ProtocolError('expected Hg or Hc');
    return { kind: 'set-thread', op, thread: threadSelector(rest.slice(1)) };
  },
  T: (rest) => ({ kind: 'thread-alive', thread: threadSelector(rest) }),
  D: () => ({ kind: 'detach' }),
  k: () => ({ kind: 'kill' }),
};

/** Named packets (`q…`, `Q…`, `v…`), by name; `rest` starts at the separator after it. */
const NAMED: Readonly<Record<string, Parser>> = {
  qSupported: (rest) => ({ kind: 'supported', features: rest === '' ? [] : rest.slice(1).split(';') }),
  QStartNoAckMode: exact({ kind: 'no-ack' }),
  qXfer: (rest) => {
    const m = /^:([a-z]+):(read|write):([^:]*):([0-9a-fA-F]+)(?:,([0-9a-fA-F]+))?/.exec(rest);
    if (!m) throw new ProtocolError('expected qXfer:object:read:annex:offset,length');
    if (m[2] === 'write') return { kind: 'xfer-write' };
    if (m[5] === undefined) throw new ProtocolError('qXfer read without a length');
    return {
      kind: 'xfer-read',
      object: m[1]!,
      annex: m[3]!,
      offset: Number(parseHexNumber(m[4], 'offset')),
      length: Number(parseHexNumber(m[5], 'length')),
    };
  },
  qC: exact({ kind: 'current-thread' }),
  qfThreadInfo: exact({ kind: 'thread-list', first: true }),
  qsThreadInfo: exact({ kind: 'thread-list', first: false }),
  qThreadExtraInfo: (rest) => {
    if (rest[0] !== ',') throw new ProtocolError('expected qThreadExtraInfo,thread');
    return { kind: 'thread-extra-info', thread: threadSelector(rest.slice(1)) };
  },
  qAttached: () => ({ kind: 'attached' }),
  qRcmd: (rest) => {
    if (rest[0] !== ',') throw new ProtocolError('expected qRcmd,hex');
    return { kind: 'monitor', line: hexToText(rest.slice(1)) };
  },
  qSymbol: (rest) => {
    if (rest === '::') return { kind: 'symbol' };
    const m = /^:([0-9a-fA-F]*):([0-9a-fA-F]+)$/.exec(rest);
    if (!m) throw new ProtocolError('expected qSymbol:value:name');
    const name = hexToText(m[2]!);
    return m[1] === '' ? { kind: 'symbol', name } : { kind: 'symbol', name, value: parseHexNumber(m[1], 'value') };
  },
  vCont: (rest) => {
    if (rest === '?') return { kind: 'vcont-query' };
    if (rest[0] !== ';') throw new ProtocolError('expected vCont;action');
    return { kind: 'vcont', actions: rest.slice(1).split(';').map(vContAction) };
  },
  vKill: () => ({ kind: 'kill' }),
};

/** Parses one packet's data (still escaped where the packet is binary). */
export function parseCommand(data: Buffer): Command {
  const pkt = data.toString('latin1');
  const letter = pkt[0] ?? '';
  if (letter === 'q' || letter === 'Q' || letter === 'v') {
    const name = /^[qQv][A-Za-z]*/.exec(pkt)![0];
    const parse = NAMED[name];
    return parse ? parse(pkt.slice(name.length), data) : { kind: 'unsupported' };
  }
  const parse = LETTERS[letter];
  return parse ? parse(pkt.slice(1), data) : { kind: 'unsupported' };
}

function exact(c: Command): Parser {
  return (rest) => {
    if (rest !== '') throw new ProtocolError('unexpected arguments');
    return c;
  };
}

function addrLen(s: string): [bigint, number] {
  const [a, l, extra] = s.split(',');
  if (extra !== undefined) throw new ProtocolError('expected addr,length');
  const addr = parseHexNumber(a, 'address');
  const len = parseHexNumber(l, 'length');
  if (len > 0x100000n) throw new ProtocolError('length too large');
  return [addr, Number(len)];
}

/** `M addr,len:hex` and `X addr,len:binary`: the same write, its data decoded by `decode`. */
function writeMemory(data: Buffer, decode: (d: Buffer) => Uint8Array): Command {
  const colon = data.indexOf(0x3a);
  if (colon < 0) throw new ProtocolError(`expected ${String.fromCharCode(data[0]!)} addr,len:data`);
  const [addr, len] = addrLen(data.subarray(1, colon).toString('latin1'));
  const bytes = decode(data.subarray(colon + 1));
  if (bytes.length !== len) throw new ProtocolError(`length ${len} but ${bytes.length} bytes of data`);
  return { kind: 'write-memory', addr, data: bytes };
}

function resume(action: ResumeAction, addr: string | undefined): Command {
  return addr === undefined
    ? { kind: 'resume', action }
    : { kind: 'resume', action, addr: parseHexNumber(addr, 'address') };
}

function resumeWithSignal(action: ResumeAction, rest: string): Command {
  const m = /^([0-9a-fA-F]{1,2})(?:;([0-9a-fA-F]+))?$/.exec(rest);
  if (!m) throw new ProtocolError('expected C sig[;addr]');
  return resume(action, m[2]);
}

function breakpoint(insert: boolean, rest: string): Command {
  const [head, ...extras] = rest.split(';');
  const m = /^([0-4]),([0-9a-fA-F]{1,16}),([0-9a-fA-F]{1,8})$/.exec(head!);
  if (!m) throw new ProtocolError('expected Z type,addr,kind');
  const length = Number(`0x${m[3]}`);
  if (length === 0 || length > 0x1000) throw new ProtocolError(`bad length ${length}`);
  // Conditions are `X len,bytecode` items; a `cmds:` list (target-side commands) ends them.
  const conditions: Uint8Array[] = [];
  for (const x of extras) {
    if (x.startsWith('cmds:')) break;
    const c = /^X([0-9a-fA-F]+),([0-9a-fA-F]*)$/.exec(x);
    if (!c) throw new ProtocolError('expected a condition X len,expr');
    const code = fromHex(c[2]!);
    if (code.length !== parseInt(c[1]!, 16)) throw new ProtocolError('condition length does not match its bytes');
    conditions.push(code);
  }
  return {
    kind: 'breakpoint',
    insert,
    type: BREAKPOINT_TYPES[Number(m[1])]!,
    addr: BigInt(`0x${m[2]}`),
    length,
    conditions,
  };
}

/** A thread id as packets write it: hex, 0, -1, or the multiprocess `pPID.TID` form. */
export function threadSelector(s: string): ThreadSelector {
  const tid = s.startsWith('p') ? (s.slice(1).split('.')[1] ?? '-1') : s;
  if (tid === '-1') return { kind: 'all' };
  if (!/^[0-9a-fA-F]{1,8}$/.test(tid)) throw new ProtocolError(`malformed thread id '${s.slice(0, 20)}'`);
  const id = parseInt(tid, 16);
  return id === 0 ? { kind: 'any' } : { kind: 'id', id };
}

function vContAction(a: string): VContAction {
  const [act, thread, extra] = a.split(':');
  if (extra !== undefined) throw new ProtocolError(`malformed vCont action '${a.slice(0, 20)}'`);
  let action: VContAction['action'];
  if (act === 'c' || /^C[0-9a-fA-F]{1,2}$/.test(act!)) action = 'continue';
  else if (act === 's' || /^S[0-9a-fA-F]{1,2}$/.test(act!)) action = 'step';
  else if (act === 't') action = 'stop';
  else throw new ProtocolError(`unsupported vCont action '${act!.slice(0, 20)}'`);
  return thread === undefined ? { action } : { action, thread: threadSelector(thread) };
}
