// An RSP client for tests and scripted sessions. It speaks to any stub — hypstep's or
// QEMU's — and learns register names and sizes from the stub's target description.
import { connect as tcpConnect, type Socket } from 'node:net';
import {
  FrameParser,
  frame,
  rleDecode,
  unescapeBinary,
  escapeBinary,
  textToHex,
  regToHex,
  hexToReg,
  fromHex,
  toHex,
} from './packet.js';
import { BREAKPOINT_TYPES, type BreakpointType, type StopEvent } from './target.js';

export interface RemoteRegister {
  readonly name: string;
  readonly regnum: number;
  readonly bitsize: number;
  readonly group?: string;
  readonly feature: string;
}

export interface StopReply {
  readonly kind: 'stopped' | 'exited' | 'terminated';
  /** The thread that stopped (`thread:` of a `T` reply). */
  readonly thread?: number;
  /**
   * What the stub says about a stop it raised itself (hypstep: a world-switch catch, a
   * stub-owned breakpoint, a hazard): `kind`, `number`, `vmid`, `vcpu`, `reason`, `pe`, `pc`, …
   */
  readonly event?: StopEvent;
  /** Signal for 'stopped'/'terminated', exit status for 'exited'. */
  readonly signal: number;
  /** Expedited registers, by regnum. */
  readonly registers: ReadonlyMap<number, bigint>;
  /** 'swbreak', 'hwbreak', 'watch', 'rwatch', 'awatch' when the stub said why. */
  readonly reason?: string;
  readonly watchAddress?: bigint;
  readonly raw: string;
}

export class RspError extends Error {}

export interface ClientOptions {
  /** Milliseconds to wait for an ordinary reply. */
  timeoutMs?: number;
  /** Turn acknowledgements off when the stub allows it (default true). */
  noAck?: boolean;
}

type Waiter = { resolve: (p: string) => void; reject: (e: Error) => void; wantsConsole: boolean };

export class RspClient {
  /** Features from the stub's qSupported reply, e.g. PacketSize → '4000'. */
  readonly features = new Map<string, string>();
  registers: RemoteRegister[] = [];
  private byName = new Map<string, RemoteRegister>();
  /** Console output (`O` packets) received so far, for scripts that want it. */
  console = '';
  onConsole: ((text: string) => void) | null = null;
  private readonly parser = new FrameParser(1 << 20);
  private waiters: Waiter[] = [];
  private noAck = false;
  private lastSent: Buffer | null = null;
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly timeoutMs: number;
  /** Length of the `g` reply in registers, learned from the first one. */
  private gCount = -1;
  private binaryWrites: boolean | undefined;

  private constructor(
    private readonly socket: Socket,
    opts: ClientOptions,
  ) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) =>
      this.parser.push(d, (e) => {
        switch (e.type) {
          case 'packet': {
            if (!this.noAck) socket.write('+');
            let text: string;
            try {
              text = Buffer.from(rleDecode(e.data)).toString('latin1');
            } catch {
              return;
            }
            this.deliver(text);
            break;
          }
          case 'bad-checksum':
            if (!this.noAck) socket.write('-');
            break;
          case 'nak':
            if (this.lastSent) socket.write(this.lastSent);
            break;
          default:
            break;
        }
      }),
    );
    socket.on('close', () => {
      this.closed = true;
      const ws = this.waiters;
      this.waiters = [];
      for (const w of ws) w.reject(new RspError('connection closed by the stub'));
    });
    socket.on('error', () => {});
  }

  /** Connects, negotiates features and no-ack mode, and reads the target description. */
  static async connect(host: string, port: number, opts: ClientOptions = {}): Promise<RspClient> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = tcpConnect({ host, port }, () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', reject);
    });
    const c = new RspClient(socket, opts);
    try {
      const sup = await c.request('qSupported:swbreak+;hwbreak+;vContSupported+;xmlRegisters=aarch64');
      if (sup.startsWith('E')) throw new RspError(`stub refused the connection: ${sup}`);
      for (const f of sup.split(';')) {
        const eq = f.indexOf('=');
        if (eq > 0) c.features.set(f.slice(0, eq), f.slice(eq + 1));
        else if (f.endsWith('+')) c.features.set(f.slice(0, -1), '+');
      }
      if ((opts.noAck ?? true) && c.features.get('QStartNoAckMode') === '+') {
        if ((await c.request('QStartNoAckMode')) === 'OK') c.noAck = true;
      }
      if (c.features.get('qXfer:features:read') === '+') await c.loadTargetDescription();
    } catch (e) {
      c.close();
      throw e;
    }
    return c;
  }

  private deliver(p: string): void {
    if (isConsole(p)) {
      const text = Buffer.from(p.slice(1), 'hex').toString('utf8');
      this.console += text;
      this.onConsole?.(text);
      return;
    }
    const w = this.waiters[0];
    if (!w) return; // an unsolicited packet (a late stop reply after a timeout): dropped
    this.waiters.shift();
    w.resolve(p);
  }

  private send(data: string | Uint8Array): void {
    if (this.closed) throw new RspError('connection closed');
    const f = frame(data);
    this.lastSent = f;
    this.socket.write(f);
  }

  /** Sends a packet and waits for its reply; requests are serialised. */
  request(data: string | Uint8Array, timeoutMs = this.timeoutMs, wantsConsole = false): Promise<string> {
    const run = (): Promise<string> =>
      new Promise<string>((resolve, reject) => {
        const w: Waiter = { resolve, reject, wantsConsole };
        const timer =
          timeoutMs > 0
            ? setTimeout(() => {
                const i = this.waiters.indexOf(w);
                if (i >= 0) this.waiters.splice(i, 1);
                reject(
                  new RspError(
                    `no reply to '${String(typeof data === 'string' ? data : '[binary]').slice(0, 40)}' within ${timeoutMs} ms`,
                  ),
                );
              }, timeoutMs)
            : null;
        w.resolve = (p) => {
          if (timer) clearTimeout(timer);
          resolve(p);
        };
        w.reject = (e) => {
          if (timer) clearTimeout(timer);
          reject(e);
        };
        this.waiters.push(w);
        try {
          this.send(data);
        } catch (e) {
          this.waiters.pop();
          w.reject(e as Error);
        }
      });
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  private async loadTargetDescription(): Promise<void> {
    const regs: RemoteRegister[] = [];
    let next = 0;
    const visit = async (annex: string): Promise<void> => {
      const xml = await this.readXfer('features', annex);
      // Registers and includes in document order; a feature applies to the regs after it.
      const re = /<feature\s+name="([^"]*)"|<xi:include\s+href="([^"]*)"|<reg\s([^>]*?)\/?>/g;
      let feature = '';
      for (let m = re.exec(xml); m; m = re.exec(xml)) {
        if (m[1] !== undefined) feature = m[1];
        else if (m[2] !== undefined) await visit(m[2]);
        else {
          const attrs = new Map([...m[3]!.matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!]));
          const regnum = attrs.has('regnum') ? Number(attrs.get('regnum')) : next;
          next = regnum + 1;
          const group = attrs.get('group');
          regs.push({
            name: attrs.get('name')!,
            regnum,
            bitsize: Number(attrs.get('bitsize')),
            feature,
            ...(group ? { group } : {}),
          });
        }
      }
    };
    await visit('target.xml');
    regs.sort((a, b) => a.regnum - b.regnum);
    this.registers = regs;
    this.byName = new Map(regs.map((r) => [r.name, r]));
  }

  /** The stub's PacketSize (hex in qSupported), 0x400 when it does not say. */
  private get packetSize(): number {
    return parseInt(this.features.get('PacketSize') ?? '400', 16);
  }

  /** Reads a whole qXfer object. */
  async readXfer(object: string, annex: string): Promise<string> {
    const chunk = Math.max(64, this.packetSize - 32);
    const parts: Uint8Array[] = [];
    for (let off = 0; ;) {
      const r = await this.request(`qXfer:${object}:read:${annex}:${off.toString(16)},${chunk.toString(16)}`);
      if (r[0] !== 'm' && r[0] !== 'l') throw new RspError(`qXfer:${object}:read:${annex} failed: ${r}`);
      const data = unescapeBinary(Buffer.from(r.slice(1), 'latin1'));
      parts.push(data);
      off += data.length;
      if (r[0] === 'l' || data.length === 0) break;
    }
    return Buffer.concat(parts).toString('utf8');
  }

  register(name: string): RemoteRegister {
    const r = this.byName.get(name);
    if (!r) throw new RspError(`the stub has no register '${name}'`);
    return r;
  }

  private check(reply: string, what: string): string {
    if (reply === '') throw new RspError(`${what}: not supported by the stub`);
    if (/^E[0-9a-fA-F]{2}$/.test(reply) || reply.startsWith('E.')) throw new RspError(`${what}: ${reply}`);
    return reply;
  }

  /** The registers the `g` packet carries, by name. */
  async readRegisters(): Promise<Map<string, bigint>> {
    const hex = this.check(await this.request('g'), 'g');
    const out = new Map<string, bigint>();
    let off = 0,
      n = 0;
    for (const r of this.registers) {
      const w = r.bitsize / 4;
      if (off + w > hex.length) break;
      const part = hex.slice(off, off + w);
      if (!/x/i.test(part)) out.set(r.name, hexToReg(part));
      off += w;
      n++;
    }
    this.gCount = n;
    return out;
  }

  async readRegister(name: string): Promise<bigint> {
    const r = this.register(name);
    const reply = await this.request(`p${r.regnum.toString(16)}`);
    if (reply === '') {
      // stubs without `p`: take it from `g`
      const v = (await this.readRegisters()).get(name);
      if (v === undefined) throw new RspError(`register ${name} is unavailable`);
      return v;
    }
    return hexToReg(this.check(reply, `read ${name}`));
  }

  async writeRegister(name: string, value: bigint): Promise<void> {
    const r = this.register(name);
    const v = BigInt.asUintN(r.bitsize, value);
    this.check(await this.request(`P${r.regnum.toString(16)}=${regToHex(v, r.bitsize / 8)}`), `write ${name}`);
  }

  async readMemory(addr: bigint, length: number): Promise<Uint8Array> {
    const max = Math.floor((this.packetSize - 8) / 2);
    const parts: Uint8Array[] = [];
    for (let done = 0; done < length;) {
      const n = Math.min(max, length - done);
      const at = (addr + BigInt(done)).toString(16);
      const b = fromHex(this.check(await this.request(`m${at},${n.toString(16)}`), `read memory at 0x${at}`));
      if (b.length === 0) throw new RspError(`read memory at 0x${at}: empty reply`);
      parts.push(b);
      done += b.length;
    }
    return new Uint8Array(Buffer.concat(parts));
  }

  /** Writes with `X` (binary) where the stub has it, else `M` (hex), as gdb does. */
  async writeMemory(addr: bigint, data: Uint8Array, binary = true): Promise<void> {
    const what = `write memory at 0x${addr.toString(16)}`;
    if (binary && this.binaryWrites !== false) {
      const pkt = Buffer.concat([
        Buffer.from(`X${addr.toString(16)},${data.length.toString(16)}:`, 'latin1'),
        escapeBinary(data),
      ]);
      const r = await this.request(pkt);
      if (r !== '') {
        this.binaryWrites = true;
        this.check(r, what);
        return;
      }
      this.binaryWrites = false; // QEMU 7 answers X with the empty reply
    }
    this.check(await this.request(`M${addr.toString(16)},${data.length.toString(16)}:${toHex(data)}`), what);
  }

  /** Single-steps one instruction. */
  async step(timeoutMs = this.timeoutMs): Promise<StopReply> {
    return parseStop(
      await this.request(this.features.get('vContSupported') === '+' ? 'vCont;s' : 's', timeoutMs, true),
    );
  }

  /**
   * Continues; when nothing stops the target within `timeoutMs` it is interrupted (the
   * reply then says SIGINT).
   */
  async cont(timeoutMs = this.timeoutMs): Promise<StopReply> {
    const reply = this.request('c', 0, true);
    let giveUp: NodeJS.Timeout | undefined;
    // A stub that ignores the interrupt too: the connection is dropped (its state is unknown).
    const abandoned = new Promise<never>((_, reject) => {
      giveUp = setTimeout(() => {
        this.close();
        reject(new RspError(`no stop reply within ${this.timeoutMs} ms of the interrupt`));
      }, timeoutMs + this.timeoutMs);
    });
    const timer = setTimeout(() => this.interrupt(), timeoutMs);
    try {
      return parseStop(await Promise.race([reply, abandoned]));
    } finally {
      clearTimeout(timer);
      clearTimeout(giveUp);
    }
  }

  /** Sends the 0x03 interrupt byte (for a running target). */
  interrupt(): void {
    if (!this.closed) this.socket.write(Buffer.from([3]));
  }

  async stopReason(): Promise<StopReply> {
    return parseStop(await this.request('?'));
  }

  async insertBreakpoint(addr: bigint, type: BreakpointType = 'sw', length = 4): Promise<void> {
    this.check(
      await this.request(`Z${BREAKPOINT_TYPES.indexOf(type)},${addr.toString(16)},${length.toString(16)}`),
      `insert ${type} breakpoint`,
    );
  }

  async removeBreakpoint(addr: bigint, type: BreakpointType = 'sw', length = 4): Promise<void> {
    this.check(
      await this.request(`z${BREAKPOINT_TYPES.indexOf(type)},${addr.toString(16)},${length.toString(16)}`),
      `remove ${type} breakpoint`,
    );
  }

  /** Runs a monitor command and returns what it printed; rejects (with that text) when it fails. */
  async monitor(command: string, timeoutMs = this.timeoutMs): Promise<string> {
    const before = this.console.length;
    const reply = await this.request(`qRcmd,${textToHex(command)}`, timeoutMs, true);
    const out = this.console.slice(before);
    if (reply.startsWith('E')) throw new RspError(`monitor ${command}: ${out.trim() || reply}`);
    this.check(reply, `monitor ${command}`);
    return out;
  }

  /** The stub's threads (`qfThreadInfo`/`qsThreadInfo`). */
  async threads(): Promise<number[]> {
    const ids: number[] = [];
    for (let r = await this.request('qfThreadInfo'); r[0] === 'm'; r = await this.request('qsThreadInfo'))
      ids.push(
        ...r
          .slice(1)
          .split(',')
          .map((t) => parseInt(t, 16)),
      );
    return ids;
  }

  /** Selects the thread registers and memory are read from (`Hg`) or that `s` steps (`Hc`). */
  async selectThread(thread: number, op: 'g' | 'c' = 'g'): Promise<void> {
    this.check(await this.request(`H${op}${thread < 0 ? '-1' : thread.toString(16)}`), `select thread ${thread}`);
  }

  /** `qThreadExtraInfo`: what the stub says the thread is doing. */
  async threadExtraInfo(thread: number): Promise<string> {
    return Buffer.from(
      fromHex(this.check(await this.request(`qThreadExtraInfo,${thread.toString(16)}`), 'qThreadExtraInfo')),
    ).toString('utf8');
  }

  /** Resumes with per-thread `vCont` actions, e.g. `s:2;c`; returns the stop. */
  async vCont(actions: string, timeoutMs = this.timeoutMs): Promise<StopReply> {
    return parseStop(this.check(await this.request(`vCont;${actions}`, timeoutMs, true), `vCont;${actions}`));
  }

  async detach(): Promise<void> {
    try {
      await this.request('D', 2000);
    } finally {
      this.close();
    }
  }

  /** Sends `k` (no reply is defined) and closes. */
  kill(): void {
    if (!this.closed) this.send('k');
    this.close();
  }

  close(): void {
    if (!this.closed) this.socket.end();
    this.closed = true;
  }

  get isClosed(): boolean {
    return this.closed;
  }
  /** Registers the `g` packet carried last time (-1 before the first `g`). */
  get gRegisterCount(): number {
    return this.gCount;
  }
}

function isConsole(p: string): boolean {
  return p.length > 1 && p[0] === 'O' && p.length % 2 === 1 && /^[0-9a-fA-F]+$/.test(p.slice(1));
}

export function parseStop(p: string): StopReply {
  const registers = new Map<number, bigint>();
  if (p[0] === 'W' || p[0] === 'X') {
    const [v] = p.slice(1).split(';');
    return { kind: p[0] === 'W' ? 'exited' : 'terminated', signal: parseInt(v!, 16), registers, raw: p };
  }
  if (p[0] !== 'T' && p[0] !== 'S') throw new RspError(`not a stop reply: '${p.slice(0, 60)}'`);
  const signal = parseInt(p.slice(1, 3), 16);
  let reason: string | undefined;
  let watchAddress: bigint | undefined;
  let thread: number | undefined;
  let event: StopEvent | undefined;
  for (const part of p.slice(3).split(';')) {
    if (part === '') continue;
    const colon = part.indexOf(':');
    const k = colon < 0 ? part : part.slice(0, colon);
    const v = colon < 0 ? '' : part.slice(colon + 1);
    if (/^[0-9a-fA-F]+$/.test(k)) registers.set(parseInt(k, 16), hexToReg(v));
    else if (k === 'swbreak' || k === 'hwbreak') reason = k;
    else if (k === 'thread') thread = parseInt(v.startsWith('p') ? (v.split('.')[1] ?? '') : v, 16);
    else if (k === 'hypstep') {
      try {
        event = JSON.parse(Buffer.from(v, 'hex').toString('utf8')) as StopEvent;
      } catch {
        /* not ours to fail on: the stop stands without it */
      }
    } else if (k === 'watch' || k === 'rwatch' || k === 'awatch') {
      reason = k;
      watchAddress = BigInt(`0x${v}`);
    }
  }
  return {
    kind: 'stopped',
    signal,
    registers,
    raw: p,
    ...(thread !== undefined ? { thread } : {}),
    ...(event ? { event } : {}),
    ...(reason ? { reason } : {}),
    ...(watchAddress !== undefined ? { watchAddress } : {}),
  };
}
