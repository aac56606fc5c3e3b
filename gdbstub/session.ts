// One debugger connection: framing and acks, then the meaning of each packet. Everything
// a packet asks for goes through the Target interface; errors in a packet become `E`
// replies and the session continues.
import type { Socket } from 'node:net';
import createDebug from 'debug';
import {
  FrameParser,
  ProtocolError,
  frame,
  fromHex,
  hexToText,
  parseHexNumber,
  regToHex,
  hexToReg,
  textToHex,
  toHex,
  unescapeBinary,
  escapeBinary,
  type FrameEvent,
} from './packet.js';
import { BREAKPOINT_TYPES, SIGNAL, type Target, type TargetStop } from './target.js';
import { targetXml, threadsXml } from './tdesc.js';
import type { MonitorRegistry } from './monitor.js';

const log = createDebug('hypstep:gdb');
const logPackets = createDebug('hypstep:gdb:packets');

/** The single thread (PE) the stub presents; gdb numbers threads from 1. */
export const THREAD_ID = 1;

/** Error codes in `E` replies (gdb shows them; the text goes to the debug log). */
export const ERR = {
  MALFORMED: 'E01',
  BAD_REGISTER: 'E02',
  READONLY: 'E03',
  TOO_LARGE: 'E04',
  FAULT: 'E0e',
  NO_THREAD: 'E16',
} as const;

/** What the session needs from the server that owns the machine. */
export interface SessionHost {
  readonly target: Target;
  readonly monitor: MonitorRegistry;
  readonly packetSize: number;
  resume(action: 'step' | 'continue'): Promise<TargetStop>;
  /** The session ended; `how` says why, so the server can leave the machine consistent. */
  sessionEnded(s: Session, how: 'detach' | 'kill' | 'drop'): void;
}

export class Session {
  private noAck = false;
  private readonly parser: FrameParser;
  private lastSent: Buffer | null = null;
  private chain: Promise<void>;
  private closed = false;
  private ended = false;
  private symbolQueue: string[] = [];
  /** The last stop, answered to `?`. */
  lastStop: TargetStop = { kind: 'stopped', signal: SIGNAL.TRAP };

  constructor(
    private readonly host: SessionHost,
    private readonly socket: Socket,
    ready: Promise<void>,
  ) {
    this.parser = new FrameParser(host.packetSize);
    this.chain = ready;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.parser.push(chunk, (e) => this.onFrame(e)));
    socket.on('error', (e) => log(`socket error: ${e.message}`));
    socket.on('close', () => {
      this.closed = true;
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

  private onFrame(e: FrameEvent): void {
    switch (e.type) {
      case 'ack':
        return;
      case 'nak':
        if (this.lastSent && !this.closed) this.socket.write(this.lastSent);
        return;
      case 'interrupt':
        // Handled at once, not queued: it must reach a running target (a stopped one ignores it).
        this.host.target.interrupt();
        return;
      case 'notification':
        return;
      case 'bad-checksum':
        log(`bad checksum on packet '${e.data.toString('latin1').slice(0, 60)}'`);
        if (!this.noAck) this.write(Buffer.from('-'));
        return;
      case 'oversize':
        // Acknowledged (so it is not retransmitted forever), then refused.
        log(`refused a ${e.length}-byte packet (PacketSize ${this.host.packetSize})`);
        if (!this.noAck) this.write(Buffer.from('+'));
        this.enqueue(() => Promise.resolve(this.reply(ERR.TOO_LARGE)));
        return;
      case 'packet':
        if (!this.noAck) this.write(Buffer.from('+'));
        this.enqueue(() => this.handle(e.data));
        return;
    }
  }

  /** Packets are handled strictly in order: a resume holds later packets until its stop reply. */
  private enqueue(fn: () => Promise<void>): void {
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

  /** `data` is taken literally: run-length encoding is for replies only. */
  private async handle(data: Buffer): Promise<void> {
    if (this.closed) return;
    const pkt = data.toString('latin1');
    if (logPackets.enabled) logPackets(`-> ${pkt.slice(0, 200)}`);
    try {
      await this.dispatch(pkt, data);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      log(`malformed packet '${pkt.slice(0, 60)}': ${e.message}`);
      this.reply(ERR.MALFORMED);
    }
  }

  private async dispatch(pkt: string, data: Buffer): Promise<void> {
    const t = this.host.target;
    switch (pkt[0]) {
      case '?':
        this.reply(this.stopReply(this.lastStop));
        return;
      case 'g':
        this.reply(this.readAllRegisters());
        return;
      case 'G':
        this.reply(this.writeAllRegisters(pkt.slice(1)));
        return;
      case 'p': {
        const n = Number(parseHexNumber(pkt.slice(1), 'register number'));
        const r = t.registers[n];
        const v = r === undefined ? undefined : t.readRegister(n);
        this.reply(v === undefined || r === undefined ? ERR.BAD_REGISTER : regToHex(v, r.bitsize / 8));
        return;
      }
      case 'P': {
        const m = /^P([0-9a-fA-F]+)=([0-9a-fA-F]*)$/.exec(pkt);
        if (!m) throw new ProtocolError('expected P n=value');
        const n = Number(parseHexNumber(m[1], 'register number'));
        const r = t.registers[n];
        if (r === undefined) {
          this.reply(ERR.BAD_REGISTER);
          return;
        }
        if (m[2]!.length !== r.bitsize / 4) throw new ProtocolError(`${r.name} needs ${r.bitsize / 4} hex digits`);
        if (r.readOnly) {
          this.reply(ERR.READONLY);
          return;
        }
        this.reply(t.writeRegister(n, hexToReg(m[2]!)) ? 'OK' : ERR.READONLY);
        return;
      }
      case 'm': {
        const [addr, len] = addrLen(pkt.slice(1));
        const max = Math.floor((this.host.packetSize - 4) / 2);
        const bytes = t.readMemory(addr, Math.min(len, max));
        this.reply(bytes.length === 0 && len > 0 ? ERR.FAULT : toHex(bytes));
        return;
      }
      case 'M':
      case 'X': {
        // The same write, its data in hex (M) or escaped binary (X).
        const colon = data.indexOf(0x3a);
        if (colon < 0) throw new ProtocolError(`expected ${pkt[0]} addr,len:data`);
        const [addr, len] = addrLen(pkt.slice(1, colon));
        const bytes = pkt[0] === 'M' ? fromHex(pkt.slice(colon + 1)) : unescapeBinary(data.subarray(colon + 1));
        if (bytes.length !== len) throw new ProtocolError(`length ${len} but ${bytes.length} bytes of data`);
        this.reply(len === 0 || t.writeMemory(addr, bytes) ? 'OK' : ERR.FAULT);
        return;
      }
      case 'c':
      case 's': {
        if (pkt.length > 1) this.setPc(parseHexNumber(pkt.slice(1), 'address'));
        await this.resume(pkt[0] === 's' ? 'step' : 'continue');
        return;
      }
      case 'C':
      case 'S': {
        // Signals have no meaning on a bare machine: the number is accepted and ignored.
        const m = /^[CS]([0-9a-fA-F]{1,2})(?:;([0-9a-fA-F]+))?$/.exec(pkt);
        if (!m) throw new ProtocolError('expected C sig[;addr]');
        if (m[2] !== undefined) this.setPc(parseHexNumber(m[2], 'address'));
        await this.resume(pkt[0] === 'S' ? 'step' : 'continue');
        return;
      }
      case 'v':
        await this.vPacket(pkt);
        return;
      case 'Z':
      case 'z':
        this.reply(this.breakpoint(pkt));
        return;
      case 'H': {
        const m = /^H([gcm])(p?-?[0-9a-fA-F]+(?:\.-?[0-9a-fA-F]+)?)$/.exec(pkt);
        if (!m) throw new ProtocolError('expected H op thread');
        this.reply(threadOk(m[2]!, true) ? 'OK' : ERR.NO_THREAD);
        return;
      }
      case 'T':
        this.reply(threadOk(pkt.slice(1), false) ? 'OK' : ERR.NO_THREAD);
        return;
      case 'D':
        this.reply('OK');
        this.end('detach');
        return;
      case 'k':
        // No reply is defined for `k`; the server resets the machine so the next debugger finds it fresh.
        this.end('kill');
        this.socket.end();
        return;
      case 'q':
      case 'Q':
        await this.query(pkt);
        return;
      default:
        this.reply(''); // unsupported: the empty reply
    }
  }

  private setPc(addr: bigint): void {
    const pc = this.host.target.registers.find((r) => r.name === 'pc');
    if (!pc || !this.host.target.writeRegister(pc.regnum, addr)) throw new ProtocolError('cannot set the PC');
  }

  private async resume(action: 'step' | 'continue'): Promise<void> {
    const stop = await this.host.resume(action);
    if (this.closed) return;
    this.lastStop = stop;
    if (stop.message) this.console(stop.message.endsWith('\n') ? stop.message : stop.message + '\n');
    this.reply(this.stopReply(stop));
  }

  stopReply(s: TargetStop): string {
    if (s.kind === 'exited') return `W${(s.code & 0xff).toString(16).padStart(2, '0')}`;
    const t = this.host.target;
    let r = `T${s.signal.toString(16).padStart(2, '0')}`;
    for (const n of t.expedited) {
      const v = t.readRegister(n);
      const d = t.registers[n];
      if (v !== undefined && d) r += `${n.toString(16).padStart(2, '0')}:${regToHex(v, d.bitsize / 8)};`;
    }
    r += `thread:${THREAD_ID.toString(16)};`;
    const why = s.reason;
    if (why) r += 'addr' in why ? `${why.type}:${why.addr.toString(16)};` : `${why.type}:;`;
    return r;
  }

  private readAllRegisters(): string {
    const t = this.host.target;
    // One buffer, hex-encoded once: `g` carries every register, so this is the hot path of `info registers`.
    let size = 0;
    for (let n = 0; n < t.gRegisterCount; n++) size += t.registers[n]!.bitsize / 8;
    const buf = Buffer.alloc(size);
    const missing: [number, number][] = [];
    let off = 0;
    for (let n = 0; n < t.gRegisterCount; n++) {
      const bytes = t.registers[n]!.bitsize / 8;
      const v = t.readRegister(n);
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
    const t = this.host.target;
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
      if (t.readRegister(n) !== v && !t.writeRegister(n, v)) ok = false;
    }
    return ok ? 'OK' : ERR.READONLY;
  }

  private breakpoint(pkt: string): string {
    const m = /^([Zz])([0-4]),([0-9a-fA-F]{1,16}),([0-9a-fA-F]{1,8})(?:;.*)?$/.exec(pkt);
    if (!m) throw new ProtocolError('expected Z type,addr,kind');
    const type = BREAKPOINT_TYPES[Number(m[2])]!;
    const addr = BigInt(`0x${m[3]}`);
    const kind = Number(`0x${m[4]}`);
    if (kind === 0 || kind > 0x1000) throw new ProtocolError(`bad length ${kind}`);
    const t = this.host.target;
    const r = m[1] === 'Z' ? t.insertBreakpoint(type, addr, kind) : t.removeBreakpoint(type, addr, kind);
    return r === 'unsupported' ? '' : r ? 'OK' : ERR.FAULT;
  }

  private async vPacket(pkt: string): Promise<void> {
    if (pkt === 'vCont?') {
      this.reply('vCont;c;C;s;S;t');
      return;
    }
    if (pkt.startsWith('vCont;')) {
      const action = vContAction(pkt.slice(6));
      if (action === 't') {
        this.lastStop = { kind: 'stopped', signal: SIGNAL.NONE };
        this.reply(this.stopReply(this.lastStop));
        return;
      }
      if (action === undefined) {
        this.reply('OK');
        return;
      } // nothing for our thread: it stays stopped
      await this.resume(action);
      return;
    }
    if (pkt.startsWith('vKill')) {
      this.reply('OK');
      this.end('kill'); // the server resets the machine, as for `k`
      return;
    }
    this.reply(''); // vMustReplyEmpty and everything we do not implement
  }

  private async query(pkt: string): Promise<void> {
    if (pkt.startsWith('qSupported')) {
      this.reply(
        [
          `PacketSize=${this.host.packetSize.toString(16)}`,
          'qXfer:features:read+',
          'qXfer:threads:read+',
          'QStartNoAckMode+',
          'swbreak+',
          'hwbreak+',
          'vContSupported+',
        ].join(';'),
      );
      return;
    }
    if (pkt === 'QStartNoAckMode') {
      this.reply('OK'); // still acked by the peer: the mode starts after this exchange
      this.noAck = true;
      return;
    }
    if (pkt.startsWith('qXfer:')) {
      this.reply(this.xfer(pkt));
      return;
    }
    if (pkt === 'qC') {
      this.reply(`QC${THREAD_ID.toString(16)}`);
      return;
    }
    if (pkt === 'qfThreadInfo') {
      this.reply(`m${THREAD_ID.toString(16)}`);
      return;
    }
    if (pkt === 'qsThreadInfo') {
      this.reply('l');
      return;
    }
    if (pkt.startsWith('qAttached')) {
      this.reply('1');
      return;
    } // detach, not kill, when gdb quits
    if (pkt.startsWith('qThreadExtraInfo,')) {
      this.reply(textToHex('PE 0'));
      return;
    }
    if (pkt.startsWith('qRcmd,')) {
      const line = hexToText(pkt.slice(6));
      await this.host.monitor.dispatch(line, { out: (s) => this.console(s) });
      this.reply('OK');
      return;
    }
    if (pkt.startsWith('qSymbol:')) {
      this.reply(this.symbol(pkt.slice(8)));
      return;
    }
    this.reply('');
  }

  private symbol(rest: string): string {
    const t = this.host.target;
    if (rest === ':') {
      this.symbolQueue = [...(t.wantedSymbols?.() ?? [])];
    } else {
      const m = /^([0-9a-fA-F]*):([0-9a-fA-F]+)$/.exec(rest);
      if (!m) throw new ProtocolError('expected qSymbol:value:name');
      t.symbolFound?.(hexToText(m[2]!), m[1] === '' ? undefined : BigInt(`0x${m[1]}`));
    }
    const next = this.symbolQueue.shift();
    return next === undefined ? 'OK' : `qSymbol:${textToHex(next)}`;
  }

  private xfer(pkt: string): Uint8Array | string {
    const m = /^qXfer:([a-z]+):read:([^:]*):([0-9a-fA-F]+),([0-9a-fA-F]+)$/.exec(pkt);
    if (!m) return pkt.includes(':write:') ? '' : ERR.MALFORMED;
    let doc: string | undefined;
    if (m[1] === 'features' && m[2] === 'target.xml') doc = targetXml(this.host.target);
    else if (m[1] === 'threads' && m[2] === '') doc = threadsXml([{ id: THREAD_ID, name: 'PE 0', core: 0 }]);
    else if (m[1] === 'features' || m[1] === 'threads')
      return 'E00'; // unknown annex
    else return '';
    const bytes = Buffer.from(doc, 'utf8');
    const off = Number(`0x${m[3]}`);
    let len = Math.min(Number(`0x${m[4]}`), this.host.packetSize - 16);
    if (off > bytes.length) return 'E01';
    let chunk = escapeBinary(bytes.subarray(off, off + len));
    while (chunk.length > this.host.packetSize - 8) {
      len = Math.floor(len / 2);
      chunk = escapeBinary(bytes.subarray(off, off + len));
    }
    const more = off + len < bytes.length;
    const out = new Uint8Array(chunk.length + 1);
    out[0] = (more ? 'm' : 'l').charCodeAt(0);
    out.set(chunk, 1);
    return out;
  }
}

function addrLen(s: string): [bigint, number] {
  const [a, l] = s.split(',');
  const addr = parseHexNumber(a, 'address');
  const len = parseHexNumber(l, 'length');
  if (len > 0x100000n) throw new ProtocolError('length too large');
  return [addr, Number(len)];
}

/** Thread ids that name our one thread: 0 (any), -1 (all), 1, and the multiprocess p1.1 forms. */
function threadOk(id: string, allowAll: boolean): boolean {
  const tid = id.startsWith('p') ? (id.slice(1).split('.')[1] ?? '-1') : id;
  if (tid === '-1') return allowAll;
  if (!/^[0-9a-fA-F]+$/.test(tid)) return false;
  const n = parseInt(tid, 16);
  return n === 0 || n === THREAD_ID;
}

/** The action of a vCont packet that applies to our thread: the first one whose thread matches. */
function vContAction(actions: string): 'step' | 'continue' | 't' | undefined {
  for (const a of actions.split(';')) {
    const [act, thread] = a.split(':');
    if (thread !== undefined && !threadOk(thread, true)) continue;
    switch (act![0]) {
      case 's':
      case 'S':
        return 'step';
      case 'c':
      case 'C':
        return 'continue';
      case 't':
        return 't';
      default:
        throw new ProtocolError(`unsupported vCont action '${act}'`);
    }
  }
  return undefined;
}
