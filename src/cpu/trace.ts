// The trace compiler (ARCHITECTURE.md, decision 2): hot code of one decoded page compiled
// into a JS function, from the generators on the table rows (emit.ts).
//
// A trace follows one path from its head: straight on, through unconditional in-page branches,
// and past conditional ones (the taken side leaves the trace for the instruction it targets,
// where another trace starts once hot). A forward branch whose two sides meet again within a
// few plain instructions (an if/else, like a bitwise CRC's) compiles as an if/else that joins:
// the taken side need not leave. A branch back to the head closes a loop, which runs
// inside the function until the budget is reached; a short loop's body is compiled up to four
// times over (the loop leaving from any copy), so that its registers pass from one copy to the
// next in consts rather than through x[] at every back edge. Rows without a generator are called through
// their executors with the PC and instruction count synchronised, and the trace leaves when
// the executor branched, asked the run loop to stop, or changed translation or code.
//
// Registers live in consts: each is read from x[] at its first use in an iteration and written
// back at the exits and the back edge, so no BigInt value flows through a loop phi. NZCV is
// kept as the operands of the last flag-setting instruction and computed only where a
// condition reads it or an exit (or the back edge, when the loop reads it first) needs it:
// as int32 halves for a branch, as BigInt masks for a choice between values (CSEL, ADC's
// carry), which then needs no branch on data.
//
// Exactness: a trace runs only when its longest path fits in the budget (the run loop checks
// before the call, the back edge before every iteration), so a deadline is never overshot; the
// exits and every executor call store the instruction count of the instructions done.
import type { Cpu } from './cpu.js';
import type { AnyEncoding } from './decode.js';
import { type Access, type Emitter, U, big } from './emit.js';
import type { PState } from '../pe/pstate.js';
import { undefinedInstruction } from '../pe/exception.js';

/**
 * A compiled trace, called with the page's VA as int32 halves (`lo` page-aligned) and the run's
 * end (in instructions). It returns the index in the page of the next instruction (the PC is
 * set), or -1 when the next PC left the page or the run loop has to look (pcs[0] is set).
 */
export type TraceFn = (cpu: Cpu, x: BigUint64Array, ps: PState, lo: number, hi: number, end: number) => number;

export interface Trace {
  readonly fn: TraceFn;
  /** The most instructions it retires before it looks at the budget: it runs only when they fit. */
  readonly len: number;
  /** Instructions its path covers, generated or called. */
  readonly insns: number;
  /** The in-page indices of those instructions, as a bitmap (a code hook on one keeps the trace from running). */
  readonly path: Uint8Array;
  /** The hooked instructions (Cpu's, per VA page) it was last found clear of: not tested again while they stand. */
  hookFree: Uint8Array | null;
  /** Forward branches compiled as blends (both sides run, no branch on data). */
  readonly blends: number;
  /** Inner loops it runs as JS loops of their own. */
  readonly inners: number;
}

/** Whether instruction `idx` of its page is on the trace's path. */
export function onPath(t: Trace, idx: number): boolean {
  return ((t.path[idx >>> 3]! >>> (idx & 7)) & 1) !== 0;
}

/** HYPSTEP_TRACE_DUMP=1: every compiled trace's source goes to stderr (to read what the generators emit). */
const DUMP = process.env.HYPSTEP_TRACE_DUMP === '1';
/** HYPSTEP_TRACE_BLEND=0 compiles every join with a branch (to measure, and to check the tests see blends). */
const BLENDS = process.env.HYPSTEP_TRACE_BLEND !== '0';
/** HYPSTEP_TRACE_INNER=0 leaves a trace at an inner loop's back edge (to measure; the tests see inner loops). */
const INNER_LOOPS = process.env.HYPSTEP_TRACE_INNER !== '0';

/** Longest path compiled (bounded compile time and budget granularity). */
const MAX_TRACE = 96;
/** Most instructions on a side of a branch compiled as an if/else that joins. */
const MAX_ARM = 8;
/**
 * Most instructions on a side of a join compiled without a branch (both sides run, a mask
 * picks each register): longer sides cost more than the misprediction they save.
 */
const MAX_BLEND = 3;
/** A short loop's body is copied up to MAX_COPIES times, to about UNROLL instructions. */
const UNROLL = 48;
const MAX_COPIES = 4;

/** Scratch through which generated code reads BigInt values' int32 halves. */
const S = new BigUint64Array(4);
const S32 = new Int32Array(S.buffer);
/** Scratch through which flags are computed from their operands' int32 halves (no BigInt arithmetic). */
const F = new BigUint64Array(3);
const F32 = new Int32Array(F.buffer);
/** A condition's mask by its JS number 0 or 1: choose() picks between two values with it, without a branch. */
const M = BigUint64Array.of(0n, 0xffffffffffffffffn);
/** Scratch for the page's VA as a BigInt. */
const P = new BigUint64Array(1);
const P32 = new Int32Array(P.buffer);

type FlagName = 'n' | 'z' | 'c' | 'v';
/** A flag as a JS number 0/1 (its name) or as a BigInt 0n/1n (B and its name). */
type FlagKey = FlagName | `B${FlagName}`;

/** NZCV as the compiler knows it: in PSTATE, or the operands of the instruction that set it. */
interface Flags {
  readonly kind: 'ps' | 'add' | 'logic';
  readonly sf: number;
  readonly x: string;
  readonly y: string;
  readonly r: string;
  /** Whether PSTATE already holds these flags. */
  synced: boolean;
  /** Locals holding flags computed for a condition. */
  readonly known: Partial<Record<FlagKey, string>>;
}

const PS_FLAGS = (): Flags => ({ kind: 'ps', sf: 1, x: '', y: '', r: '', synced: true, known: {} });
const NAME = /^(?:[A-Za-z_$][\w$]*|0x[0-9a-f]+n|\d+n)$/;

/** X[n] in the local cache; register 32 stands for the current stack pointer. */
interface Reg {
  name: string;
  dirty: boolean;
}

/** A conditional branch compiled as an if/else: the instructions of each side, then where they join. */
export interface Join {
  readonly taken: readonly number[];
  readonly fall: readonly number[];
  readonly at: number;
  /**
   * Whether both sides are short and only compute registers (no flags, no memory): they then
   * both run and masks pick the results, with no branch on data (a bitwise CRC's branch per bit
   * mispredicts every other time).
   */
  readonly blend: boolean;
}

/** The cache and flags at a fork, which each side starts from. */
interface ForkState {
  readonly regs: Map<number, Reg>;
  readonly flags: Flags;
  readonly firstFlagEvent: 'read' | 'write' | null;
}

/** What a side left: its statements, cache and flags. */
interface Side {
  readonly out: string[];
  readonly regs: Map<number, Reg>;
  readonly flags: Flags;
  readonly flagsSet: boolean;
  readonly firstFlagEvent: 'read' | 'write' | null;
}

class TraceBuilder implements Emitter {
  private readonly out: string[] = [];
  private readonly refs: unknown[] = [];
  private ids = 0;
  private regs = new Map<number, Reg>();
  private flags = PS_FLAGS();
  /** Flag events of the current iteration, in order: whether the first is a write. */
  private firstFlagEvent: 'read' | 'write' | null = null;
  private usesPc = false;
  private usesRam = false;
  /** Inside an access's fast path: registers are written to x[] at once, and these are written. */
  private direct: Set<number> | null = null;
  /** The row being compiled, for its executor. */
  private row: { exec: unknown; d: object } = { exec: null, d: {} };
  /** The instruction being compiled: its index in the page and how many precede it on the path. */
  private idx = 0;
  private k = 0;
  next = 0;
  ended = false;
  /** Whether the instruction being compiled runs its executor (it does not count as generated). */
  executed = false;
  /** Whether it is a conditional branch whose taken side leaves. */
  conditional = false;
  /** A conditional branch it compiles as an if/else: its condition and sides (compileTrace compiles them). */
  fork: { c: string; join: Join } | null = null;
  /** Copies of the loop body still to follow the one being compiled (a short loop is unrolled). */
  copies = 0;
  /** Whether the path reached a back edge to the head (the loop closed, or a copy ended). */
  loopsBack = false;
  /** Whether the instruction did more than compute registers: set flags or accessed memory (a blend must not). */
  effects = false;
  /** Forks compiled as blends. */
  blends = 0;
  /** The in-page target of the conditional branch being compiled (where its taken side goes). */
  target = -1;
  /** The head of the inner loop open (its JS loop's body is being emitted), or -1. */
  private innerHead = -1;
  /** The trace loop's first flag event, kept while an inner loop tracks its own. */
  private outerFirst: 'read' | 'write' | null = null;
  /** Inner loops compiled. */
  inners = 0;

  constructor(
    private readonly start: number,
    private readonly count: number,
    /** Whether the conditional branch at an index to a forward in-page target compiles as an if/else. */
    private readonly joins: (idx: number, target: number) => Join | null = () => null,
    /** Only follows the path (what the generators emit is dropped): to learn about a trace before compiling it. */
    private readonly dry = false,
  ) {}

  begin(idx: number, k: number, exec: unknown, d: object): void {
    this.row = { exec, d };
    this.idx = idx;
    this.k = k;
    this.next = idx + 1;
    this.ended = false;
    this.innerClosed = false;
    this.executed = false;
    this.conditional = false;
    this.fork = null;
    this.effects = false;
    this.target = -1;
  }

  private emit(s: string): void {
    if (!this.dry) this.out.push(s);
  }

  private fresh(prefix: string): string {
    return `${prefix}${this.ids++}`;
  }

  // --- registers -------------------------------------------------------------------

  private read(n: number, load: string): string {
    const r = this.regs.get(n);
    if (r !== undefined) return r.name;
    if (this.direct !== null) return load; // a fast path's locals do not outlive it
    const name = this.fresh(n === 32 ? 'sp' : `x${n}_`);
    this.emit(`const ${name} = ${load};`);
    this.regs.set(n, { name, dirty: false });
    return name;
  }

  x(n: number): string {
    return n === 31 ? '0n' : this.read(n, `x[${n}]`);
  }

  xsp(n: number): string {
    return n === 31 ? this.read(32, 'cpu.getSp()') : this.x(n);
  }

  setX(n: number, v: string): void {
    if (n !== 31) this.write(n, v);
  }

  setXsp(n: number, v: string): void {
    this.write(n === 31 ? 32 : n, v);
  }

  private write(n: number, v: string): void {
    if (this.direct === null) {
      this.regs.set(n, { name: this.val(v), dirty: true });
      return;
    }
    this.emit(n === 32 ? `cpu.setSp(${v});` : `x[${n}] = ${v};`);
    this.direct.add(n);
    this.regs.delete(n);
  }

  val(v: string): string {
    if (NAME.test(v)) return v;
    const name = this.fresh('t');
    this.emit(`const ${name} = ${v};`);
    return name;
  }

  select(c: string, a: string, b: string): string {
    this.emit(`if (${c}) S[3] = ${a}; else S[3] = ${b};`);
    return this.val('S[3]');
  }

  isZero(v: string): string {
    return `(S[0] = ${v}, (S32[0] | S32[1]) === 0)`;
  }

  bit(v: string, n: number): string {
    return `(S[0] = ${v}, (S32[${n >>> 5}] >>> ${n & 31}) & 1)`;
  }

  pc(delta: number): string {
    this.usesPc = true;
    return U(`vbase + ${big(this.idx * 4 + delta)}`);
  }

  ref(v: unknown): string {
    let i = this.refs.indexOf(v);
    if (i < 0) i = this.refs.push(v) - 1;
    return `c${i}`;
  }

  /** The register writes pending, as statements (the cache keeps them dirty). */
  private writeback(): string {
    let s = '';
    for (const [n, r] of this.regs) {
      if (!r.dirty) continue;
      s += n === 32 ? `cpu.setSp(${r.name}); ` : `x[${n}] = ${r.name}; `;
    }
    return s;
  }

  // --- flags -----------------------------------------------------------------------

  private flagEvent(e: 'read' | 'write'): void {
    this.firstFlagEvent ??= e;
  }

  /**
   * One flag of pending flags as a JS number 0/1 computed from the int32 halves of their
   * operands in F, and which of them it needs stored there first: r alone, or x, y and r.
   */
  private static flagOf(s: Flags, f: FlagName): { needs: 'r' | 'xyr' | null; e: string } {
    // The int32 half holding the datasize's top bit, of x, y and r in F.
    const hi = s.sf !== 0 ? 1 : 0;
    const [x, y, r] = [`F32[${hi}]`, `F32[${2 + hi}]`, `F32[${4 + hi}]`];
    switch (f) {
      case 'n':
        return { needs: 'r', e: `${r} >>> 31` };
      case 'z':
        return { needs: 'r', e: `(F32[4] | F32[5]) === 0 ? 1 : 0` };
      case 'c':
        // Carry out of the top bit of x + y (y already inverted for a subtraction).
        if (s.kind === 'logic') return { needs: null, e: '0' };
        return { needs: 'xyr', e: `((${x} & ${y}) | ((${x} | ${y}) & ~${r})) >>> 31` };
      default:
        if (s.kind === 'logic') return { needs: null, e: '0' };
        return { needs: 'xyr', e: `((${x} ^ ${r}) & (${y} ^ ${r})) >>> 31` };
    }
  }

  /** Stores of the operands a flag computation needs in F. */
  private static loadF(s: Flags, needs: 'r' | 'xyr'): string {
    return needs === 'r' ? `F[2] = ${s.r}` : `F[0] = ${s.x}, F[1] = ${s.y}, F[2] = ${s.r}`;
  }

  /** One flag as a JS number 0/1: a local (cached for this flag state). */
  private flag(f: FlagName): string {
    const s = this.flags;
    if (s.kind === 'ps') return `ps.${f}`;
    const known = s.known[f];
    if (known !== undefined) return known;
    const { needs, e } = TraceBuilder.flagOf(s, f);
    if (needs === null) return e;
    const name = this.fresh(`f${f}`);
    this.emit(`const ${name} = (${TraceBuilder.loadF(s, needs)}, ${e});`);
    s.known[f] = name;
    return name;
  }

  /** Statements storing the pending flags in PSTATE (nothing when it holds them): the operands go to F once. */
  private materialize(): string {
    const s = this.flags;
    if (s.synced || s.kind === 'ps') return '';
    const flags = (['n', 'z', 'c', 'v'] as const).map((f) => ({ f, known: s.known[f], ...TraceBuilder.flagOf(s, f) }));
    const todo = flags.filter((g) => g.known === undefined && g.needs !== null);
    const load = todo.some((g) => g.needs === 'xyr') ? 'xyr' : todo.length > 0 ? 'r' : null;
    const stores = load === null ? '' : `${TraceBuilder.loadF(s, load)}; `;
    return stores + flags.map((g) => `ps.${g.f} = ${g.known ?? g.e}; `).join('');
  }

  /**
   * One flag of pending flags as a BigInt 0n/1n (a local, cached for this flag state), computed
   * with BigInt operations only. Every shift's operand is itself asUintN-truncated: V8 lowers
   * the shift to a machine one only then (otherwise it costs a call).
   */
  private flagBig(f: FlagName): string {
    const s = this.flags;
    if (s.kind === 'logic' && (f === 'c' || f === 'v')) return '0n';
    const known = s.known[`B${f}`];
    if (known !== undefined) return known;
    // The datasize's top bit; x, y and r are truncated to the datasize, so this shift leaves 0n or 1n.
    const top = s.sf !== 0 ? '63n' : '31n';
    const [x, y, r] = [s.x, s.y, s.r];
    let e: string;
    if (f === 'n') e = `${r} >> ${top}`;
    // r | -r has its top bit set exactly when r is not zero.
    else if (f === 'z') e = `${U(`${U(`${r} | ${U(`0n - ${r}`)}`)} >> 63n`)} ^ 1n`;
    else if (f === 'c') e = `${U(`(${x} & ${y}) | ((${x} | ${y}) & (${r} ^ 0xffffffffffffffffn))`)} >> ${top}`;
    else e = `${U(`(${x} ^ ${r}) & (${y} ^ ${r})`)} >> ${top}`;
    const name = this.fresh(`b${f}`);
    this.emit(`const ${name} = ${U(e)};`);
    s.known[`B${f}`] = name;
    return name;
  }

  /**
   * ConditionHolds(cond) as an expression of flag bits, over JS numbers (`one` '1') or BigInts
   * ('1n'), without a branch; null for AL and NV (always).
   */
  private static condition(cond: number, f: (n: FlagName) => string, one: string): string | null {
    let e: string;
    switch (cond >>> 1) {
      case 0:
        e = f('z');
        break;
      case 1:
        e = f('c');
        break;
      case 2:
        e = f('n');
        break;
      case 3:
        e = f('v');
        break;
      case 4:
        e = `(${f('c')} & (${f('z')} ^ ${one}))`;
        break;
      case 5:
        e = `(${f('n')} ^ ${f('v')} ^ ${one})`;
        break;
      case 6:
        e = `((${f('n')} ^ ${f('v')} | ${f('z')}) ^ ${one})`;
        break;
      default:
        return null;
    }
    return (cond & 1) !== 0 ? `(${e} ^ ${one})` : e;
  }

  cond(cond: number): string {
    this.flagEvent('read');
    const e = TraceBuilder.condition(cond, (n) => this.flag(n), '1');
    return e === null ? 'true' : `(${e} !== 0)`;
  }

  choose(cond: number, a: string, b: string): string {
    this.flagEvent('read');
    let mask: string;
    if (this.flags.kind === 'ps') {
      const e = TraceBuilder.condition(cond, (n) => this.flag(n), '1');
      if (e === null) return a;
      mask = this.val(`M[${e}]`);
    } else {
      const e = TraceBuilder.condition(cond, (n) => this.flagBig(n), '1n');
      if (e === null) return a;
      mask = this.val(U(`0n - ${e}`));
    }
    return this.val(U(`(${a} & ${mask}) | (${b} & (${mask} ^ 0xffffffffffffffffn))`));
  }

  carry(): string {
    this.flagEvent('read');
    return this.flags.kind === 'ps' ? this.val(U('M[ps.c] & 1n')) : this.flagBig('c');
  }

  flagsAdd(sf: number, x: string, y: string, r: string): void {
    this.effects = true;
    this.flagEvent('write');
    this.flags = { kind: 'add', sf, x: this.val(x), y: this.val(y), r: this.val(r), synced: false, known: {} };
  }

  flagsLogic(sf: number, r: string): void {
    this.effects = true;
    this.flagEvent('write');
    this.flags = { kind: 'logic', sf, x: '', y: '', r: this.val(r), synced: false, known: {} };
  }

  flagsIf(cond: number, set: () => void, nzcv: number): void {
    this.effects = true;
    const ok = this.fresh('ok');
    this.emit(`const ${ok} = ${this.cond(cond)};`);
    set();
    this.emit(
      `if (${ok}) { ${this.materialize()}} else { ps.n = ${(nzcv >>> 3) & 1}; ps.z = ${(nzcv >>> 2) & 1}; ` +
        `ps.c = ${(nzcv >>> 1) & 1}; ps.v = ${nzcv & 1}; }`,
    );
    this.flags = PS_FLAGS();
  }

  // --- leaving the trace -----------------------------------------------------------------

  /** PC = this instruction's successor, pcs[1] = this instruction (an executor's or exception's view). */
  private syncPc(): string {
    const here = `p32[2] = lo | ${this.idx << 2}; p32[3] = hi; `;
    if (this.idx + 1 < this.count) return `${here}p32[0] = lo | ${(this.idx + 1) << 2}; p32[1] = hi; `;
    return `${here}pcs[0] = ${U('pcs[1] + 4n')}; `;
  }

  /** Everything an exit stores: registers, flags and the instruction count after `done` instructions. */
  private leave(done: number): string {
    this.flagEvent('read');
    return `${this.writeback()}${this.materialize()}cpu.icount = ic + ${done}; `;
  }

  /** Statements leaving for in-page instruction `t` (or the next page when t is the page's end). */
  private exitTo(t: number, done: number): string {
    if (t < this.count) return `${this.leave(done)}p32[0] = lo | ${t << 2}; p32[1] = hi; return ${t};`;
    return `${this.leave(done)}p32[2] = lo | ${(this.count - 1) << 2}; p32[3] = hi; pcs[0] = ${U('pcs[1] + 4n')}; return -1;`;
  }

  /** The end of the path: leave for instruction `t`. */
  close(t: number, done: number): void {
    this.emit(this.exitTo(t, done));
  }

  /** The loop's back edge after `done` instructions: the next iteration, while the budget allows. */
  private backEdge(done: number): string {
    // PSTATE needs the flags only if the loop may read them (or leave) before it sets them;
    // leaving at the budget always does.
    // (Inside an inner loop the first flag event tracked is the inner loop's: no laziness.)
    return this.loopBack(this.start, 'head', done, this.firstFlagEvent === 'write' && this.innerHead < 0);
  }

  /**
   * A back edge to `head` (of the JS loop `label`) after `done` instructions: registers written
   * back, and the next iteration while the budget allows; `lazy`, the flags go to PSTATE only
   * when the budget ends the loop (the loop sets them before it reads them).
   */
  private loopBack(head: number, label: string, done: number, lazy: boolean): string {
    const flags = this.materialize();
    return (
      `${this.writeback()}${lazy ? '' : flags}ic += ${done}; ` +
      `if (ic + __LEN__ > end) { ${lazy ? flags : ''}cpu.icount = ic; p32[0] = lo | ${head << 2}; p32[1] = hi; return ${head}; } continue ${label};`
    );
  }

  /**
   * Opens an inner loop at instruction `idx`, after `done` instructions since `ic` was last
   * updated: what is pending goes to x[] and PSTATE, so that every iteration starts from the
   * same state, and the loop's body is a JS loop of its own.
   */
  openInner(idx: number, done: number): void {
    this.flagEvent('read');
    this.emit(`${this.writeback()}${this.materialize()}ic += ${done};\ninner: for (;;) {`);
    this.regs = new Map();
    this.flags = PS_FLAGS();
    this.innerHead = idx;
    this.outerFirst = this.firstFlagEvent;
    this.firstFlagEvent = null;
    this.inners++;
  }

  /**
   * The inner loop's back edge, taken when `c` holds after `done` instructions since its head;
   * when it does not, the loop ends and the path goes on after it from x[] and PSTATE.
   */
  private closeInner(c: string, done: number): void {
    this.emit(`if (${c}) { ${this.loopBack(this.innerHead, 'inner', done, this.firstFlagEvent === 'write')} }`);
    this.emit(`${this.writeback()}${this.materialize()}ic += ${done}; break;\n}`);
    this.regs = new Map();
    this.flags = PS_FLAGS();
    this.innerHead = -1;
    this.firstFlagEvent = this.outerFirst;
    this.innerClosed = true;
  }

  /** Whether the instruction just compiled closed the inner loop (its `ic` count starts again at zero). */
  innerClosed = false;

  /** Whether an inner loop is open (its block closes at the end of the trace's source). */
  get innerOpen(): boolean {
    return this.innerHead >= 0;
  }

  /** The path reached the head again unconditionally. */
  loop(done: number): void {
    this.loopsBack = true;
    this.emit(this.backEdge(done));
  }

  undefinedInstruction(): void {
    this.emit(`${this.syncPc()}${this.leave(this.k)}throw ${this.ref(undefinedInstruction)}(cpu);`);
    this.ended = true;
  }

  branch(c: string, offset: number): void {
    const t = this.idx + offset / 4;
    const inPage = t >= 0 && t < this.count;
    this.loopsBack ||= t === this.start;
    if (c !== 'true' && inPage) this.target = t;
    if (c !== 'true' && t === this.innerHead) {
      this.closeInner(c, this.k + 1);
      return;
    }
    if (c === 'true' && inPage) {
      // Followed in the page (the compile loop stops at the head or a repeat): no exit to build,
      // whose flags read would make the back edge store the flags.
      this.next = t;
      return;
    }
    if (c !== 'true' && t > this.idx + 1 && inPage) {
      const join = this.joins(this.idx, t);
      if (join !== null) {
        this.fork = { c, join };
        return;
      }
    }
    const done = this.k + 1;
    if (t === this.start && this.copies > 0) {
      // Another copy of the body follows: the loop ending leaves for the instruction after the branch.
      this.emit(`if (!(${c})) { ${this.exitTo(this.idx + 1, done)} }`);
      this.next = t;
      return;
    }
    let leave: string;
    if (t === this.start) leave = this.backEdge(done);
    else if (inPage) leave = this.exitTo(t, done);
    else {
      leave =
        `${this.leave(done)}p32[2] = lo | ${this.idx << 2}; p32[3] = hi; ` +
        `pcs[0] = cpu.branchAddr(${U(`pcs[1] + ${big(offset)}`)}); return -1;`;
    }
    if (c !== 'true') {
      this.conditional = true;
      this.emit(`if (${c}) { ${leave} }`);
      return;
    }
    this.emit(leave);
    this.ended = true;
  }

  branchTo(target: string): void {
    const t = this.fresh('to');
    this.emit(
      `${this.leave(this.k + 1)}const ${t} = cpu.branchAddr(${target}); pcs[0] = ${t}; ` +
        `P[0] = ${t}; if (P32[1] === hi && (P32[0] & -4096) === lo) return (P32[0] & 4095) >>> 2; return -1;`,
    );
    this.ended = true;
  }

  /** The call of this row's executor with PC, count, registers and flags in place. */
  private callExecutor(): string {
    return `${this.syncPc()}${this.leave(this.k)}${this.ref(this.row.exec)}(cpu, ${this.ref(this.row.d)}); `;
  }

  /** Statements running this row's executor and leaving when it must. */
  private execute(): string {
    const done = this.k + 1;
    // The executor may change what the page caches were filled under (translation, the monitor).
    const call = `${this.callExecutor()}rLo = wLo = -1; `;
    if (this.idx + 1 >= this.count) return `${call}cpu.icount = ic + ${done}; return -1;`;
    return (
      `${call}if (cpu.stopRequest !== null || cpu.mmu.generation !== gen || p32[0] !== (lo | ${(this.idx + 1) << 2}) || ` +
      `p32[1] !== hi) { cpu.icount = ic + ${done}; return -1; }`
    );
  }

  exec(leaves = false): void {
    this.executed = true;
    if (leaves) {
      this.emit(`${this.callExecutor()}cpu.icount = ic + ${this.k + 1}; return -1;`);
      this.ended = true;
      return;
    }
    this.emit(this.execute());
    this.regs = new Map();
    this.flags = PS_FLAGS();
    if (this.idx + 1 >= this.count) this.ended = true;
  }

  access(a: Access, fast: (off: string) => void): void {
    this.effects = true;
    const id = this.ids++;
    const [lo, hi, off] = [`alo${id}`, `ahi${id}`, `off${id}`];
    // Alignment to the element and staying in the page (a single byte is both), then what the row adds.
    const checks: string[] = [];
    if (a.size > 1) checks.push(`(${lo} & ${a.size - 1}) === 0`);
    if (a.size * a.count > 1) checks.push(`(${lo} & 4095) <= ${4096 - a.size * a.count}`);
    if (a.also !== undefined) checks.push(a.also);
    if (checks.length === 0) checks.push('true');
    this.emit(`S[0] = ${a.va}; const ${lo} = S32[0], ${hi} = S32[1];`);
    const ramOffset = `cpu.ramOffset(${lo}, ${hi}, ${a.write ? 1 : 0}, ${a.unprivileged === true}, ${a.size * a.count})`;
    if (a.unprivileged === true) this.emit(`const ${off} = ${checks.join(' && ')} ? ${ramOffset} : -1;`);
    else {
      // The page of the last read (r) or write (w) Cpu.ramOffset allowed: the same page again needs
      // no lookup (a read's lookup also tells whether the page may be written). A page with watched
      // bytes is asked again at each access.
      const c = a.write ? 'w' : 'r';
      this.emit(
        `let ${off} = -1; if (${checks.join(' && ')}) { if ((${lo} & -4096) === ${c}Lo && ${hi} === ${c}Hi) ${off} = ${c}Base + (${lo} & 4095); ` +
          `else if ((${off} = ${ramOffset}) >= 0 && !cpu.pageWatched) { ${c}Lo = ${lo} & -4096; ${c}Hi = ${hi}; ${c}Base = ${off} - (${lo} & 4095); ` +
          (a.write ? '} }' : 'if (cpu.readAlsoWritable) { wLo = rLo; wHi = rHi; wBase = rBase; } } }'),
      );
    }
    // The executor's path writes back what is pending without forgetting it: both paths go on
    // with the same cache, less the registers the access writes (in x[] on both).
    this.emit(`if (${off} < 0) { ${this.execute()} } else {`);
    this.direct = new Set();
    fast(off);
    const written = this.direct;
    this.direct = null;
    this.emit('}');
    for (const n of written) this.regs.delete(n);
  }

  load(off: string, bytes: number): string {
    this.usesRam = true;
    if (bytes === 8) return `ram64[${off} >>> 3]`;
    const elem = bytes === 4 ? `ram32[${off} >>> 2]` : bytes === 2 ? `ram16[${off} >>> 1]` : `ram8[${off}]`;
    return `(S32[0] = ${elem}, S32[1] = 0, S[0])`;
  }

  store(off: string, bytes: number, v: string): void {
    this.usesRam = true;
    if (bytes === 8) this.emit(`ram64[${off} >>> 3] = ${v};`);
    else {
      const elem = bytes === 4 ? `ram32[${off} >>> 2]` : bytes === 2 ? `ram16[${off} >>> 1]` : `ram8[${off}]`;
      this.emit(`S[0] = ${v}; ${elem} = S32[0];`);
    }
  }

  // --- a branch compiled as an if/else -------------------------------------------------

  forkState(): ForkState {
    return { regs: this.regs, flags: this.flags, firstFlagEvent: this.firstFlagEvent };
  }

  /** Compiles a side from the fork's state (`compile` emits its instructions) and takes what it emitted. */
  side(f: ForkState, compile: () => void): Side {
    this.regs = new Map([...f.regs].map(([n, r]) => [n, { ...r }]));
    // Flags a side computes are consts of its block: it starts from a copy.
    const flags = (this.flags = { ...f.flags, known: { ...f.flags.known } });
    this.firstFlagEvent = f.firstFlagEvent;
    const mark = this.out.length;
    compile();
    return {
      out: this.out.splice(mark),
      regs: this.regs,
      flags: this.flags,
      flagsSet: this.flags !== flags,
      firstFlagEvent: this.firstFlagEvent,
    };
  }

  /**
   * Emits `if (c) taken else fall`, joining with one cache and flags state: each side stores in
   * x[] (and PSTATE) what the two leave differently, and adds to `ic` the instructions retired
   * since it was last updated (`done`, its own included); after the join the count starts at zero.
   */
  join(c: string, f: ForkState, taken: Side, fall: Side, done: readonly [number, number]): void {
    const differ = new Set<number>();
    for (const s of [taken, fall])
      for (const n of new Set([...f.regs.keys(), ...s.regs.keys()]))
        if (f.regs.get(n)?.name !== s.regs.get(n)?.name) differ.add(n);
    const flagsSet = taken.flagsSet || fall.flagsSet;
    const tail = (s: Side, n: number): string => {
      let t = '';
      for (const r of differ) {
        const v = s.regs.get(r);
        if (v?.dirty === true) t += r === 32 ? `cpu.setSp(${v.name}); ` : `x[${r}] = ${v.name}; `;
      }
      if (flagsSet) {
        this.flags = s.flags;
        t += this.materialize();
      }
      return `${t}ic += ${n};`;
    };
    this.emit(`if (${c}) {\n${[...taken.out, tail(taken, done[0])].join('\n')}\n} else {`);
    this.emit(`${[...fall.out, tail(fall, done[1])].join('\n')}\n}`);
    this.regs = new Map([...f.regs].filter(([n]) => !differ.has(n)));
    this.flags = flagsSet ? PS_FLAGS() : { ...f.flags, known: { ...f.flags.known } };
    this.joinFlagEvents(f, taken, fall);
  }

  /** Whether the flags may be read before they are set on the way back to the head, on either side. */
  private joinFlagEvents(f: ForkState, taken: Side, fall: Side): void {
    const [a, b] = [taken.firstFlagEvent, fall.firstFlagEvent];
    this.firstFlagEvent = f.firstFlagEvent ?? (a === b ? a : 'read');
  }

  /** The fork's condition as a JS number 0 or 1 (a const, evaluated before either side of a blend). */
  forkBit(c: string): string {
    const name = this.fresh('cb');
    this.emit(`const ${name} = +(${c});`);
    return name;
  }

  /**
   * Emits both sides of a blend (they only compute consts) and picks each register they leave
   * differently with the mask of `cb` (forkBit); the instruction count adds the chosen side's.
   */
  blend(cb: string, f: ForkState, taken: Side, fall: Side, done: readonly [number, number]): void {
    this.blends++;
    this.out.push(...taken.out, ...fall.out);
    const regs = new Map(f.regs);
    const m = this.val(`M[${cb}]`);
    for (const n of new Set([...taken.regs.keys(), ...fall.regs.keys()])) {
      const [a, b] = [taken.regs.get(n), fall.regs.get(n)];
      if (a?.name === b?.name) {
        if (a !== undefined) regs.set(n, a);
        continue;
      }
      // Read alone (x[n] unchanged): either side's read serves.
      if (a?.dirty !== true && b?.dirty !== true) {
        regs.set(n, (a ?? b)!);
        continue;
      }
      const before = f.regs.get(n)?.name;
      const old = (): string => before ?? this.val(n === 32 ? 'cpu.getSp()' : `x[${n}]`);
      const [va, vb] = [a?.name ?? old(), b?.name ?? old()];
      regs.set(n, { name: this.val(U(`(${va} & ${m}) | (${vb} & (${m} ^ 0xffffffffffffffffn))`)), dirty: true });
    }
    this.regs = regs;
    this.emit(`ic += ${done[1]} + ${cb} * ${done[0] - done[1]};`);
    this.flags = { ...f.flags, known: { ...f.flags.known } };
    this.joinFlagEvents(f, taken, fall);
  }

  /** The compiled function, `len` the longest path; `where` names it in a dump. */
  finish(len: number, where: string): TraceFn {
    const consts = this.refs.map((_, i) => `const c${i} = C[${i}];`).join(' ');
    const pc = this.usesPc ? 'P32[0] = lo; P32[1] = hi; const vbase = P[0];' : '';
    const ram = this.usesRam
      ? 'const bus = cpu.bus; const ram8 = bus.ram, ram16 = bus.ram16, ram32 = bus.ram32, ram64 = bus.ram64;'
      : '';
    // The parenthesised function is compiled at once (V8's hint for a function called right away): a lazy
    // one is pre-parsed here and parsed again at its first call (Debian boot, first 100M: 8% less CPU).
    const src =
      `'use strict'; ${consts}\nreturn (function trace(cpu, x, ps, lo, hi, end) {\n` +
      `const p32 = cpu.pcs32; const pcs = cpu.pcs; const gen = cpu.mmu.generation; let ic = cpu.icount; ${pc} ${ram}\n` +
      // One-page caches of Cpu.ramOffset for reads and writes (-1: empty; a page's tag has its low bits clear).
      `let rLo = -1, rHi = 0, rBase = 0, wLo = -1, wHi = 0, wBase = 0;\n` +
      `head: for (;;) {\n${this.out.join('\n').replaceAll('__LEN__', String(len))}\n${this.innerOpen ? '}\n' : ''}}\n});`;
    if (DUMP) process.stderr.write(`// trace at ${where}, ${len} instructions\n${src}\n`);
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the JIT: code generated from the table rows
    const factory = new Function('C', 'S', 'S32', 'F', 'F32', 'M', 'P', 'P32', src) as (
      c: unknown[],
      s: BigUint64Array,
      s32: Int32Array,
      f: BigUint64Array,
      f32: Int32Array,
      m: BigUint64Array,
      p: BigUint64Array,
      p32: Int32Array,
    ) => TraceFn;
    return factory(this.refs, S, S32, F, F32, M, P, P32);
  }
}

/** What following a trace's path tells before it is compiled (build's facts: see there). */
export interface TracePlan {
  readonly generated: number;
  readonly backEdges: number;
  readonly body: number;
  readonly calls: number;
  readonly inners: ReadonlySet<number>;
}

/**
 * Follows the path of the trace starting at instruction `start` of a page of `count`
 * instructions, running the generators without keeping what they emit: what compileTrace
 * decides its shape by (unrolling, inner loops), and the compile policy whether it loops.
 */
export function planTrace(
  row: (idx: number) => { e: AnyEncoding; d: object },
  start: number,
  count: number,
): TracePlan {
  return build(row, start, count, 0, new Set(), true);
}

/**
 * Compiles the trace starting at instruction `start` of a page of `count` instructions whose
 * decoded rows `row` returns, or returns null when no row on its path has a generator. `pa`,
 * the page's physical address, names the trace in a dump; `plan` is its planTrace.
 */
export function compileTrace(
  row: (idx: number) => { e: AnyEncoding; d: object },
  start: number,
  count: number,
  pa = 0,
  plan = planTrace(row, start, count),
): Trace | null {
  if (plan.generated === 0) return null;
  let copies = 0;
  let inners: ReadonlySet<number> = new Set();
  // Loops inside the trace's own loop run as JS loops of their own (a loop on a path that does
  // not come back leaves for its own trace, which unrolls it).
  if (INNER_LOOPS && plan.inners.size > 0 && plan.backEdges > 0) inners = plan.inners;
  // A short loop whose body calls no executor is unrolled: the registers then pass from one
  // copy to the next in consts instead of through x[] at every back edge.
  else if (plan.backEdges === 1 && plan.calls === 0 && plan.body > 0)
    copies = Math.max(0, Math.min(MAX_COPIES, Math.floor(UNROLL / plan.body)) - 1);
  const t = build(row, start, count, copies, inners, false);
  const path = new Uint8Array((count + 7) >>> 3);
  for (const i of t.path) path[i >>> 3]! |= 1 << (i & 7);
  return {
    fn: t.b.finish(t.len, `PA 0x${(pa + start * 4).toString(16)}`),
    len: t.len,
    insns: t.path.size,
    path,
    hookFree: null,
    blends: t.b.blends,
    inners: t.b.inners,
  };
}

/**
 * Builds the trace's code, with `copies` more copies of a loop body after the first and the
 * `inners` as inner loops (`dry`: only follows the path). Besides the builder and the longest
 * path's length, what a build without copies or inner loops tells (the plan): the generated
 * instructions, the back edges to the head on the path, the instructions up to the first one
 * and the executor calls among them, and the heads of inner loops worth compiling as such.
 */
function build(
  row: (idx: number) => { e: AnyEncoding; d: object },
  start: number,
  count: number,
  copies: number,
  /** Heads of inner loops to compile as JS loops of their own (found by a build without). */
  inners: ReadonlySet<number>,
  dry: boolean,
): {
  b: TraceBuilder;
  len: number;
  generated: number;
  path: Set<number>;
  backEdges: number;
  body: number;
  calls: number;
  inners: Set<number>;
} {
  /** The instructions compiled in this copy of the body (a repeat ends the path), and in all. */
  const seen = new Set<number>();
  const path = new Set<number>();
  let backEdges = 0;
  let body = 0;
  let calls = 0;
  /** Instructions compiled on the main path (not on a side of a join), and the inner loop heads found there. */
  const main = new Set<number>();
  const found = new Set<number>();
  /** The main path's instructions in order, and those among them whose taken side leaves the trace. */
  const order: number[] = [];
  const leaving = new Set<number>();
  /** Instructions added to the generated code's `ic` at joins (each join's longer side), and since. */
  let flushed = 0;
  let k = 0;

  /**
   * The plain instructions from `i` on (generated, going on in the page without a conditional
   * branch, not on the path yet), up to MAX_ARM, and where that run stops. Generators run on a
   * scratch builder to tell.
   */
  const plainRun = (i: number): { plain: number[]; stop: number; effects: number[] } => {
    const plain: number[] = [];
    /** The plain instructions that set flags or access memory. */
    const effects: number[] = [];
    while (plain.length < MAX_ARM && i < count && i !== start && !seen.has(i) && !plain.includes(i) && !inners.has(i)) {
      const { e, d } = row(i);
      if (e.gen === undefined) break;
      const s = new TraceBuilder(start, count, undefined, true);
      s.begin(i, 0, e.exec, d);
      e.gen(s, d as never);
      if (s.ended || s.executed || s.conditional) break;
      plain.push(i);
      if (s.effects) effects.push(i);
      i = s.next;
    }
    return { plain, stop: i, effects };
  };

  /** The branch at `idx` to `t` as an if/else: its sides must meet within MAX_ARM plain instructions each. */
  const joins = (idx: number, t: number): Join | null => {
    const fall = plainRun(idx + 1);
    const taken = plainRun(t);
    // Each side: its plain instructions before the first it shares with the other (the join).
    const meets = [...fall.plain, fall.stop];
    const j = [...taken.plain, taken.stop].findIndex((i) => meets.includes(i));
    const at = j < 0 ? -1 : j < taken.plain.length ? taken.plain[j]! : taken.stop;
    if (at < 0 || at >= count || at === start || seen.has(at)) return null;
    const sides = { taken: taken.plain.slice(0, j), fall: fall.plain.slice(0, meets.indexOf(at)) };
    if (flushed + k + 1 + Math.max(sides.taken.length, sides.fall.length) >= MAX_TRACE) return null;
    const blend =
      BLENDS &&
      [sides.taken, sides.fall].every(
        (arm) => arm.length <= MAX_BLEND && !arm.some((i) => taken.effects.includes(i) || fall.effects.includes(i)),
      );
    return { ...sides, at, blend };
  };

  const b = new TraceBuilder(start, count, joins, dry);
  b.copies = copies;
  let generated = 0;
  const compile = (idx: number): void => {
    seen.add(idx);
    path.add(idx);
    const { e, d } = row(idx);
    b.loopsBack = false;
    b.begin(idx, k, e.exec, d);
    if (e.gen !== undefined) e.gen(b, d as never);
    else b.exec();
    if (!b.executed) generated++;
    else if (backEdges === 0) calls++;
    k++;
    if (b.loopsBack && backEdges++ === 0) body = flushed + k;
  };

  let idx = start;
  for (;;) {
    if (flushed + k >= MAX_TRACE) {
      b.close(idx, k);
      break;
    }
    if (inners.has(idx) && !b.innerOpen && !main.has(idx)) {
      b.openInner(idx, k);
      flushed += k;
      k = 0;
    }
    compile(idx);
    main.add(idx);
    order.push(idx);
    if (b.conditional) leaving.add(idx);
    if (b.innerClosed) {
      flushed += k;
      k = 0;
    }
    // A conditional branch back to an instruction of the main path: the head of an inner loop. Not
    // one after the trace's own loop closed (that loop is unrolled instead), nor one whose body
    // leaves the trace on the way (such a loop mostly ends by leaving: the trace would not go on
    // after it, and its own trace unrolls it).
    const t = b.target;
    if (t >= 0 && t !== start && t < idx && main.has(t) && backEdges === 0) {
      const body = order.slice(order.indexOf(t), -1);
      if (!body.some((i) => leaving.has(i))) found.add(t);
    }
    if (b.ended) break;
    let next = b.next;
    const fork = b.fork;
    if (fork !== null) {
      const { taken, fall, at } = fork.join;
      const cb = fork.join.blend ? b.forkBit(fork.c) : '';
      const f = b.forkState();
      const before = k;
      const side = (arm: readonly number[]) =>
        b.side(f, () => {
          k = before;
          for (const i of arm) compile(i);
        });
      const t = side(taken);
      const u = side(fall);
      const done = [before + taken.length, before + fall.length] as const;
      if (fork.join.blend) b.blend(cb, f, t, u, done);
      else b.join(fork.c, f, t, u, done);
      flushed += before + Math.max(taken.length, fall.length);
      k = 0;
      next = at;
    }
    if (next === start && b.copies > 0) {
      // The next copy goes on from the head with the same cache and flags. The budget needs no
      // check: the trace's length, which the back edge checks, counts every copy.
      b.copies--;
      seen.clear();
      idx = start;
      continue;
    }
    if (next === start) {
      b.loop(k);
      break;
    }
    if (next >= count || seen.has(next)) {
      b.close(next, k);
      break;
    }
    idx = next;
  }
  return { b, len: flushed + k, generated, path, backEdges, body, calls, inners: found };
}
