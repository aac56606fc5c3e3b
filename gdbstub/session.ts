// One debugger connection: framing and acks, the interrupt byte, then each parsed command
// (commands.ts) dispatched to its handler. Everything a command asks for goes through the
// Target interface; errors in a packet become `E` replies and the session continues.
import type { Socket } from 'node:net';
import createDebug from 'debug';
import { FrameParser, ProtocolError, frame, regToHex, hexToReg, textToHex, toHex, escapeBinary } from './packet.js';
import { parseCommand, isResume, type Command, type ThreadSelector } from './commands.js';
import {
  Interrupt,
  SIGNAL,
  type ResumeAction,
  type ResumePlan,
  type Target,
  type TargetStop,
  type ThreadId,
} from './target.js';
import { targetXml, threadsXml } from './tdesc.js';
import type { MonitorRegistry } from './monitor.js';

const log = createDebug('hypstep:gdb');
const logPackets = createDebug('hypstep:gdb:packets');

/** Error codes in `E` replies (gdb shows them; the text goes to the debug log). */
export const ERR = {
  MALFORMED: 'E01',
  BAD_REGISTER: 'E02',
  READONLY: 'E03',
  TOO_LARGE: 'E04',
  MONITOR: 'E05',
  FAULT: 'E0e',
  NO_THREAD: 'E16',
} as const;

/** What the session needs from the server that owns the machine. */
export interface SessionHost {
  readonly target: Target;
  readonly monitor: MonitorRegistry;
  readonly packetSize: number;
  resume(plan: ResumePlan, interrupt: Interrupt): Promise<TargetStop>;
  /** The session ended; `how` says why, so the server can leave the machine consistent. */
  sessionEnded(s: Session, how: 'detach' | 'kill' | 'drop'): void;
}

/** The `qSupported` reply: the protocol features, and those the target's capabilities allow. */
export function supportedFeatures(t: Target, packetSize: number): string[] {
  const bp = t.breakpoints;
  return [
    `PacketSize=${packetSize.toString(16)}`,
    'qXfer:features:read+',
    'qXfer:threads:read+',
    'QStartNoAckMode+',
    'vContSupported+',
    ...(bp?.types.includes('sw') ? ['swbreak+'] : []),
    ...(bp?.types.includes('hw') ? ['hwbreak+'] : []),
    ...(bp?.conditions ? ['ConditionalBreakpoints+'] : []),
  ];
}

type Handlers = { [K in Command['kind']]: (c: Extract<Command, { kind: K }>) => void | Promise<void> };

export class Session {
  private noAck = false;
  private readonly parser: FrameParser;
  private lastSent: Buffer | null = null;
  private chain: Promise<void>;
  private closed = false;
  private ended = false;
  private symbolQueue: string[] = [];
  /** The thread `g`, `p`, `m`… act on (`Hg`), and the one `s` steps (`Hc`; 'all' for -1). */
  private gThread: ThreadId;
  private cThread: ThreadId | 'all' = 'all';
  /** Resume commands received and not yet answered, oldest first: a 0x03 stops the oldest. */
  private readonly unanswered: Interrupt[] = [];
  /** The last stop, answered to `?`. */
  lastStop: TargetStop;

  constructor(
    private readonly host: SessionHost,
    private readonly socket: Socket,
    ready: Promise<void>,
  ) {
    this.parser = new FrameParser(host.packetSize);
    this.chain = ready;
    this.gThread = host.target.threads()[0]!;
    this.lastStop = { kind: 'stopped', thread: this.gThread, signal: SIGNAL.TRAP };
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.parser.push(chunk, (e) => this.onFrame(e)));
    socket.on('error', (e) => log(`socket error: ${e.message}`));
    socket.on('close', () => {
      this.closed = true;
      for (const i of this.unanswered) i.request(); // nobody waits for those stops any more
      this.end('drop');
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (!this.closed) this.socket.end();
  }

  private end(how: 'detach' | 'kill' | 'drop'): void {
    if (this.ended) return;
    this.ended = true;
    this.host.sessionEnded(this, how);
  }

  private onFrame(e: Parameters<Parameters<FrameParser['push']>[1]>[0]): void {
    switch (e.type) {
      case 'ack':
      case 'notification':
        return;
      case 'nak':
        if (this.lastSent && !this.closed) this.socket.write(this.lastSent);
        return;
      case 'interrupt': {
        // Handled as it arrives, not queued: it belongs to the oldest resume not yet answered,
        // whether that one runs now or still waits its turn. With none, the target is stopped
        // and the stop reply gdb waits for was already sent: the byte is ignored.
        const pending = this.unanswered[0];
        if (pending) pending.request();
        else log('0x03 while stopped: ignored');
        return;
      }
      case 'bad-checksum':
        log(`bad checksum on packet '${e.data.toString('latin1').slice(0, 60)}'`);
        if (!this.noAck) this.write(Buffer.from('-'));
        return;
      case 'oversize':
        // Acknowledged (so it is not retransmitted forever), then refused.
        log(`refused a ${e.length}-byte packet (PacketSize ${this.host.packetSize})`);
        if (!this.noAck) this.write(Buffer.from('+'));
        this.enqueue(() => this.reply(ERR.TOO_LARGE));
        return;
      case 'packet': {
        if (!this.noAck) this.write(Buffer.from('+'));
        if (logPackets.enabled) logPackets(`-> ${e.data.toString('latin1').slice(0, 200)}`);
        let cmd: Command;
        try {
          cmd = parseCommand(e.data);
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err;
          log(`malformed packet '${e.data.toString('latin1').slice(0, 60)}': ${err.message}`);
          this.enqueue(() => this.reply(ERR.MALFORMED));
          return;
        }
        // A resume's interrupt exists from the moment its packet is read, so a 0x03 that
        // follows it (even in the same TCP segment) reaches it.
        const interrupt = isResume(cmd) ? new Interrupt() : null;
        if (interrupt) this.unanswered.push(interrupt);
        this.enqueue(() => this.handle(cmd, interrupt));
        return;
      }
    }
  }

  /** Packets are handled strictly in order: a resume holds later packets until its stop reply. */
  private enqueue(fn: () => void | Promise<void>): void {
    this.chain = this.chain.then(fn).catch((err: unknown) => {
      log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      this.reply(ERR.MALFORMED);
    });
  }

  private write(b: Buffer): void {
    if (!this.closed && !this.socket.destroyed) this.socket.write(b);
  }

  private reply(data: string | Uint8Array): void {
    if (this.closed) return;
    if (logPackets.enabled)
      logPackets(`<- ${typeof data === 'string' ? data.slice(0, 200) : `[${data.length} bytes]`}`);
    const f = frame(data, true);
    this.lastSent = f;
    this.write(f);
  }

  /** Console output (`O` packets): gdb prints it. */
  console(text: string): void {
    const max = Math.floor((this.host.packetSize - 8) / 2);
    const bytes = Buffer.from(text, 'utf8');
    for (let i = 0; i < bytes.length; i += max) this.reply('O' + bytes.subarray(i, i + max).toString('hex'));
  }

  private async handle(cmd: Command, interrupt: Interrupt | null): Promise<void> {
    try {
      if (this.closed) return;
      if (interrupt) await this.resume(cmd, interrupt);
      else await (this.handlers[cmd.kind] as (c: Command) => void | Promise<void>)(cmd);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      log(`malformed ${cmd.kind} packet: ${e.message}`);
      this.reply(ERR.MALFORMED);
    } finally {
      if (interrupt) this.unanswered.splice(this.unanswered.indexOf(interrupt), 1);
    }
  }

  private get target(): Target {
    return this.host.target;
  }

  /** The threads a selector names (none when it names a thread that does not exist). */
  private selected(sel: ThreadSelector): readonly ThreadId[] {
    const all = this.target.threads();
    if (sel.kind === 'all') return all;
    if (sel.kind === 'any') return [this.gThread];
    return all.includes(sel.id) ? [sel.id] : [];
  }

  private readonly handlers: Handlers = {
    'stop-reason': () => this.reply(this.stopReply(this.lastStop)),
    'read-registers': () => this.reply(this.readAllRegisters()),
    'write-registers': (c) => this.reply(this.writeAllRegisters(c.hex)),
    'read-register': (c) => {
      const r = this.target.registers[c.regnum];
      const v = r === undefined ? undefined : this.target.readRegister(this.gThread, c.regnum);
      this.reply(v === undefined || r === undefined ? ERR.BAD_REGISTER : regToHex(v, r.bitsize / 8));
    },
    'write-register': (c) => {
      const r = this.target.registers[c.regnum];
      if (r === undefined) return this.reply(ERR.BAD_REGISTER);
      if (c.hex.length !== r.bitsize / 4) throw new ProtocolError(`${r.name} needs ${r.bitsize / 4} hex digits`);
      if (r.readOnly) return this.reply(ERR.READONLY);
      this.reply(this.target.writeRegister(this.gThread, c.regnum, hexToReg(c.hex)) ? 'OK' : ERR.READONLY);
    },
    'read-memory': (c) => {
      const max = Math.floor((this.host.packetSize - 4) / 2);
      const bytes = this.target.readMemory(this.gThread, c.addr, Math.min(c.length, max));
      this.reply(bytes.length === 0 && c.length > 0 ? ERR.FAULT : toHex(bytes));
    },
    'write-memory': (c) =>
      this.reply(c.data.length === 0 || this.target.writeMemory(this.gThread, c.addr, c.data) ? 'OK' : ERR.FAULT),
    // Resumes are handled by `resume`, with their interrupt.
    resume: () => {},
    vcont: () => {},
    'vcont-query': () => this.reply('vCont;c;C;s;S;t'),
    breakpoint: (c) => {
      const bp = this.target.breakpoints;
      if (!bp || !bp.types.includes(c.type) || (c.conditions.length > 0 && !bp.conditions)) return this.reply('');
      const ok = c.insert ? bp.insert(c.type, c.addr, c.length, c.conditions) : bp.remove(c.type, c.addr, c.length);
      this.reply(ok ? 'OK' : ERR.FAULT);
    },
    'set-thread': (c) => {
      if (c.op === 'c' && c.thread.kind === 'all') {
        this.cThread = 'all';
        return this.reply('OK');
      }
      const [t] = c.thread.kind === 'all' ? [] : this.selected(c.thread);
      if (t === undefined) return this.reply(ERR.NO_THREAD);
      if (c.op === 'g') this.gThread = t;
      else this.cThread = t;
      this.reply('OK');
    },
    'thread-alive': (c) => this.reply(c.thread.kind === 'id' && this.selected(c.thread).length ? 'OK' : ERR.NO_THREAD),
    'current-thread': () => this.reply(`QC${this.gThread.toString(16)}`),
    'thread-list': (c) =>
      this.reply(
        c.first
          ? `m${this.target
              .threads()
              .map((t) => t.toString(16))
              .join(',')}`
          : 'l',
      ),
    'thread-extra-info': (c) => {
      const [t] = c.thread.kind === 'id' ? this.selected(c.thread) : [];
      if (t === undefined) return this.reply(ERR.NO_THREAD);
      this.reply(textToHex(this.target.threadExtraInfo?.(t) ?? this.target.threadName?.(t) ?? ''));
    },
    detach: () => {
      this.reply('OK');
      this.end('detach');
    },
    kill: () => {
      // `k` has no reply; `vKill` wants OK. The server decides what a kill does to the machine.
      this.reply('OK');
      this.end('kill');
      this.socket.end();
    },
    supported: () => this.reply(supportedFeatures(this.target, this.host.packetSize).join(';')),
    'no-ack': () => {
      this.reply('OK'); // still acked by the peer: the mode starts after this exchange
      this.noAck = true;
    },
    'xfer-read': (c) => this.reply(this.xfer(c)),
    'xfer-write': () => this.reply(''),
    attached: () => this.reply('1'), // detach, not kill, when gdb quits
    monitor: async (c) => {
      const ok = await this.host.monitor.dispatch(c.line, { out: (s) => this.console(s), thread: this.gThread });
      // A failed command is an error packet, so gdb's `monitor` (and gdb.execute) fails too.
      this.reply(ok ? 'OK' : ERR.MONITOR);
    },
    symbol: (c) => this.reply(this.symbol(c)),
    unsupported: () => this.reply(''),
  };

  /** The plan of a resume command: which thread does what (absent: stays stopped). */
  private plan(cmd: Command): Map<ThreadId, ResumeAction> {
    const plan = new Map<ThreadId, ResumeAction>();
    const threads = this.target.threads();
    if (cmd.kind === 'resume') {
      // `c` runs every thread; `s` steps the `Hc` thread (the last stopped one for -1/0) alone.
      if (cmd.action === 'continue') for (const t of threads) plan.set(t, 'continue');
      else plan.set(this.cThread === 'all' ? this.gThread : this.cThread, 'step');
      return plan;
    }
    if (cmd.kind !== 'vcont') throw new Error(`${cmd.kind} is not a resume`);
    // Each thread takes the leftmost action that names it (or names no thread).
    const decided = new Set<ThreadId>();
    for (const a of cmd.actions) {
      const ts = a.thread ? this.selected(a.thread) : threads;
      for (const t of ts) {
        if (decided.has(t)) continue;
        decided.add(t);
        if (a.action !== 'stop') plan.set(t, a.action);
      }
    }
    return plan;
  }

  private async resume(cmd: Command, interrupt: Interrupt): Promise<void> {
    const plan = this.plan(cmd);
    if (plan.size === 0) return this.reply(ERR.NO_THREAD); // every thread stays stopped: nothing to report
    if (cmd.kind === 'resume' && cmd.addr !== undefined) this.setPc([...plan.keys()][0]!, cmd.addr);
    const stop = await this.host.resume(plan, interrupt);
    if (this.closed) return;
    this.lastStop = stop;
    if (stop.kind === 'stopped') this.gThread = stop.thread; // gdb's current thread is now the one that stopped
    if (stop.message) this.console(stop.message.endsWith('\n') ? stop.message : stop.message + '\n');
    this.reply(this.stopReply(stop));
  }

  private setPc(thread: ThreadId, addr: bigint): void {
    const pc = this.target.registers.find((r) => r.name === 'pc');
    if (!pc || !this.target.writeRegister(thread, pc.regnum, addr)) throw new ProtocolError('cannot set the PC');
  }

  stopReply(s: TargetStop): string {
    if (s.kind === 'exited') return `W${(s.code & 0xff).toString(16).padStart(2, '0')}`;
    const t = this.target;
    let r = `T${s.signal.toString(16).padStart(2, '0')}`;
    for (const n of t.expedited) {
      const v = t.readRegister(s.thread, n);
      const d = t.registers[n];
      if (v !== undefined && d) r += `${n.toString(16).padStart(2, '0')}:${regToHex(v, d.bitsize / 8)};`;
    }
    r += `thread:${s.thread.toString(16)};`;
    const why = s.reason;
    if (why) r += 'addr' in why ? `${why.type}:${why.addr.toString(16)};` : `${why.type}:;`;
    // Not a register number and not a reason gdb knows: gdb skips it; RspClient decodes it.
    if (s.event) r += `hypstep:${textToHex(JSON.stringify(s.event))};`;
    return r;
  }

  private readAllRegisters(): string {
    const t = this.target;
    // One buffer, hex-encoded once: `g` carries every register, so this is the hot path of `info registers`.
    let size = 0;
    for (let n = 0; n < t.gRegisterCount; n++) size += t.registers[n]!.bitsize / 8;
    const buf = Buffer.alloc(size);
    const missing: [number, number][] = [];
    let off = 0;
    for (let n = 0; n < t.gRegisterCount; n++) {
      const bytes = t.registers[n]!.bitsize / 8;
      const v = t.readRegister(this.gThread, n);
      if (v === undefined) missing.push([off, bytes]);
      else if (bytes === 8) buf.writeBigUInt64LE(BigInt.asUintN(64, v), off);
      else if (bytes === 4) buf.writeUInt32LE(Number(BigInt.asUintN(32, v)), off);
      else buf.write(regToHex(v, bytes), off, 'hex');
      off += bytes;
    }
    let hex = buf.toString('hex');
    for (const [o, n] of missing.reverse()) hex = hex.slice(0, 2 * o) + 'xx'.repeat(n) + hex.slice(2 * (o + n));
    return hex;
  }

  private writeAllRegisters(hex: string): string {
    const t = this.target;
    let off = 0;
    const values: [number, bigint][] = [];
    for (let n = 0; n < t.gRegisterCount && off < hex.length; n++) {
      const w = t.registers[n]!.bitsize / 4;
      const part = hex.slice(off, off + w);
      off += w;
      if (part.length !== w) throw new ProtocolError('G data ends inside a register');
      if (/^x+$/i.test(part)) continue; // unavailable: leave it
      values.push([n, hexToReg(part)]);
    }
    if (off !== hex.length) throw new ProtocolError('G data longer than the register file');
    let ok = true;
    for (const [n, v] of values) {
      if (t.registers[n]!.readOnly) continue;
      // Writing back an unchanged value is a no-op; only changes can fail.
      if (t.readRegister(this.gThread, n) !== v && !t.writeRegister(this.gThread, n, v)) ok = false;
    }
    return ok ? 'OK' : ERR.READONLY;
  }

  private symbol(c: Extract<Command, { kind: 'symbol' }>): string {
    const lookup = this.target.symbols;
    if (c.name === undefined) this.symbolQueue = [...(lookup?.wanted() ?? [])];
    else lookup?.found(c.name, c.value);
    const next = this.symbolQueue.shift();
    return next === undefined ? 'OK' : `qSymbol:${textToHex(next)}`;
  }

  private xfer(c: Extract<Command, { kind: 'xfer-read' }>): Uint8Array | string {
    let doc: string | undefined;
    const t = this.target;
    if (c.object === 'features' && c.annex === 'target.xml') doc = targetXml(t);
    else if (c.object === 'threads' && c.annex === '')
      doc = threadsXml(
        t.threads().map((id, core) => ({ id, core, name: t.threadName?.(id), extra: t.threadExtraInfo?.(id) })),
      );
    else if (c.object === 'features' || c.object === 'threads')
      return 'E00'; // unknown annex
    else return '';
    const bytes = Buffer.from(doc, 'utf8');
    let len = Math.min(c.length, this.host.packetSize - 16);
    if (c.offset > bytes.length) return ERR.MALFORMED;
    let chunk = escapeBinary(bytes.subarray(c.offset, c.offset + len));
    while (chunk.length > this.host.packetSize - 8) {
      len = Math.floor(len / 2);
      chunk = escapeBinary(bytes.subarray(c.offset, c.offset + len));
    }
    const more = c.offset + len < bytes.length;
    const out = new Uint8Array(chunk.length + 1);
    out[0] = (more ? 'm' : 'l').charCodeAt(0);
    out.set(chunk, 1);
    return out;
  }
}
