// The RSP fuzzer: a hostile debugger against `hypstep run -S --gdb` (a child process on
// 127.0.0.1, minihyp with the world layer): valid packets with random arguments, every
// monitor command with garbage, malformed framing, bad checksums, oversize and binary
// packets, Ctrl-C at random points, abrupt disconnects, a second client. It checks that
// every packet gets a well-formed reply of the right shape, that no reply takes longer than
// 5 s (a hang), that the process never dies, and that its RSS stays flat after the first
// reset; then gdb-multiarch must still work on the same server. `npm run soak` runs ≥ 100,000
// packets; test/gdb/fuzz.test.ts runs a short sample in CI.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { FrameParser, frame, rleDecode, textToHex, checksum } from '../../gdbstub/packet.js';
import type { SoakBudget } from './run.js';
import { freePort } from '../gdb/harness.js';
import { Rng } from '../diff/rng.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/dist\/$/, '');
const CLI = `${ROOT}dist/src/cli/main.js`;
const IMAGE = `${ROOT}fixtures/minihyp/build/minihyp-vhe-deferred.elf`;
const LAYOUT = `${ROOT}fixtures/minihyp/vcpu-layout.json`;
/** A reply later than this is a hang. */
const LIVENESS_MS = 5000;
/** The stub's PacketSize. */
const PACKET_SIZE = 0x4000;

export interface FuzzOptions {
  packets: number;
  seed: number;
  /** Progress lines (the soak prints them; the CI sample does not). */
  log?: (line: string) => void;
}

export interface FuzzReport {
  packets: number;
  /** Replies by what was sent, for the record. */
  byKind: Record<string, number>;
  crashes: number;
  hangs: number;
  /** Replies of the wrong shape, with the packet that got them. */
  badReplies: string[];
  reconnects: number;
  interrupts: number;
  refusedSecondClients: number;
  /** RSS of the hypstep process (MiB): after the first reset, and the largest seen after it. */
  rssAfterFirstResetMiB: number;
  rssMaxMiB: number;
  rssEndMiB: number;
  gdbAfterwards: string;
  seconds: number;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One connection, speaking raw bytes: replies are collected as decoded packet texts. */
class Peer {
  readonly replies: string[] = [];
  naks = 0;
  closed = false;
  noAck = false;
  private readonly parser = new FrameParser(1 << 20);
  private wake: (() => void) | null = null;
  /** The last packet sent, retransmitted when the stub NAKs it (as gdb does, a few times). */
  private lastFrame: Buffer | null = null;
  private resent = 0;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) =>
      this.parser.push(d, (e) => {
        if (e.type === 'packet') {
          if (!this.noAck) socket.write('+');
          this.replies.push(Buffer.from(rleDecode(e.data)).toString('latin1'));
        } else if (e.type === 'bad-checksum') this.replies.push(`!bad-checksum:${e.data.toString('latin1')}`);
        else if (e.type === 'nak') {
          this.naks++;
          if (this.lastFrame && this.resent++ < 3) socket.write(this.lastFrame);
        }
        this.wake?.();
      }),
    );
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new Peer(s)));
      s.once('error', reject);
    });
  }

  send(b: Buffer | string): void {
    if (!this.closed) this.socket.write(typeof b === 'string' ? Buffer.from(b, 'latin1') : b);
  }

  /** Sends a framed packet (or `wire`, a damaged copy of it), to be retransmitted if NAKed. */
  sendPacket(f: Buffer, wire: Buffer = f): void {
    this.lastFrame = f;
    this.resent = 0;
    this.send(wire);
  }

  /** The next reply that is not console output, or null after `ms`. */
  async next(ms = LIVENESS_MS): Promise<string | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.replies.findIndex((r) => !(r[0] === 'O' && r !== 'OK' && /^O([0-9a-f]{2})+$/.test(r)));
      if (i >= 0) return this.replies.splice(0, i + 1).pop()!;
      if (this.closed || Date.now() > deadline) return null;
      await new Promise<void>((res) => {
        this.wake = res;
        setTimeout(res, Math.max(1, deadline - Date.now()));
      });
      this.wake = null;
    }
  }

  close(): void {
    this.socket.destroy();
    this.closed = true;
  }
}

/** What a reply to each kind of packet may look like; a string is the expected shape's name. */
const ERR = /^E[0-9a-fA-F]{2}$/;
const STOP = /^(T[0-9a-f]{2}([^;]*;)*|S[0-9a-f]{2}|W[0-9a-f]{2})$/;
const SHAPES: Record<string, RegExp> = {
  g: /^([0-9a-f]|xx)+$/,
  p: /^([0-9a-f]{2})+$|^E[0-9a-f]{2}$/,
  m: /^([0-9a-f]{2})*$|^E[0-9a-f]{2}$/,
  ok: /^OK$|^E[0-9a-f]{2}$/,
  okOrEmpty: /^(OK|)$|^E[0-9a-f]{2}$/,
  stop: STOP,
  stopOrErr: new RegExp(`${STOP.source}|${ERR.source}`),
  qC: /^QC[0-9a-f]+$/,
  threads: /^(m[0-9a-f]+(,[0-9a-f]+)*|l)$/,
  hex: /^([0-9a-f]{2})*$|^E[0-9a-f]{2}$/,
  xfer: /^[ml][\s\S]*$|^E[0-9a-f]{2}$|^$/,
  supported: /^PacketSize=4000;/,
  symbol: /^(OK|qSymbol:[0-9a-f]+)$|^E[0-9a-f]{2}$/,
  vcontQ: /^vCont;c;C;s;S;t$/,
  any: /^[\s\S]*$/,
  empty: /^$/,
};

export async function fuzzRsp(opts: FuzzOptions): Promise<FuzzReport> {
  const r = new Rng(opts.seed);
  const int = (n: number) => r.int(n);
  const pick = <T>(xs: readonly T[]): T => r.pick(xs);
  const hexN = (digits: number) => Array.from({ length: digits }, () => '0123456789abcdef'[int(16)]).join('');
  const randHex = () => pick([hexN(1 + int(16)), '0', 'ffffffffffffffff', '40080000', hexN(20), '-1', 'zz']);
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(256)));
  const log = opts.log ?? (() => {});
  const t0 = Date.now();

  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [CLI, 'run', '-S', '--gdb', `127.0.0.1:${port}`, '--vcpu-layout', LAYOUT, IMAGE],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-20_000);
  });
  const state = { exited: null as number | null };
  child.on('exit', (code, sig) => {
    state.exited = code ?? (sig ? 128 : -1);
  });
  for (let i = 0; !stderr.includes('gdb stub on'); i++) {
    if (state.exited !== null || i > 400) throw new Error(`hypstep did not start: ${stderr}`);
    await sleep(25);
  }

  const report: FuzzReport = {
    packets: 0,
    byKind: {},
    crashes: 0,
    hangs: 0,
    badReplies: [],
    reconnects: 0,
    interrupts: 0,
    refusedSecondClients: 0,
    rssAfterFirstResetMiB: NaN,
    rssMaxMiB: 0,
    rssEndMiB: NaN,
    gdbAfterwards: '',
    seconds: 0,
  };
  const recent: string[] = [];
  const bad = (what: string) => {
    if (report.badReplies.length < 50) report.badReplies.push(`${what} (after: ${recent.slice(-5).join(' | ')})`);
  };

  let peer = await Peer.open(port);
  const reconnect = async () => {
    peer.close();
    report.reconnects++;
    for (let i = 0; ; i++) {
      if (state.exited !== null)
        throw new Error(`hypstep exited (${state.exited}) after: ${recent.join(' | ')}\n${stderr.slice(-2000)}`);
      try {
        peer = await Peer.open(port);
        // The previous session must be gone before this one is the debugger: `?` answers.
        const q = await exchangeRaw('?');
        if (q !== null && !q.startsWith('E.')) return;
      } catch {
        /* not listening yet: retry */
      }
      if (i > 200) throw new Error('cannot reconnect');
      peer.close();
      await sleep(10);
    }
  };

  /** Sends a framed packet; its reply (acks handled), or null when none came in time. */
  async function exchangeRaw(data: string | Buffer, ms = LIVENESS_MS): Promise<string | null> {
    peer.sendPacket(frame(data));
    return peer.next(ms);
  }

  /**
   * The guest ended (random registers and memory may make it exit with any status): reset
   * it, and step once so the server sees it alive again — otherwise the next disconnect
   * ends hypstep with the guest's status, as it should.
   */
  async function revive(): Promise<void> {
    await exchangeRaw(`qRcmd,${textToHex('reset')}`);
    await exchangeRaw('s');
  }

  /**
   * Before the debugger leaves (the machine then runs on): the PE is parked in a `b .`, so
   * the guest cannot end — and hypstep with it, as it should — before the next session.
   */
  async function park(): Promise<void> {
    await packet('monitor', `qRcmd,${textToHex('reset')}`, SHAPES.ok!);
    await packet('M', 'M5ff00000,4:00000014', /^OK$/);
    await packet('P', 'P20=0000f05f00000000', /^OK$/);
  }

  const hang = (what: string) => {
    report.hangs++;
    bad(
      `HANG: no reply to ${what} within ${LIVENESS_MS} ms (naks ${peer.naks}, unread ${JSON.stringify(peer.replies)})`,
    );
  };

  /** Sends, counts, checks the reply's shape; a reply that never comes is a hang (then a new connection). */
  async function packet(kind: string, data: string | Buffer, shape: RegExp): Promise<string | null> {
    report.packets++;
    report.byKind[kind] = (report.byKind[kind] ?? 0) + 1;
    const text = typeof data === 'string' ? data : `[${data.length} bytes]`;
    recent.push(text.slice(0, 80));
    if (recent.length > 30) recent.shift();
    const reply = await exchangeRaw(data);
    if (reply === null) {
      if (peer.closed) return null;
      hang(text.slice(0, 80));
      await reconnect();
      return null;
    }
    if (!shape.test(reply)) bad(`${kind}: '${text.slice(0, 60)}' → '${reply.slice(0, 80)}'`);
    if (reply.startsWith('W')) await revive();
    return reply;
  }

  // The monitor commands, as `monitor help` lists them: the words before the first argument.
  const monitorNames = await (async () => {
    peer.send(frame(`qRcmd,${textToHex('help')}`));
    const lines: string[] = [];
    for (;;) {
      const deadline = Date.now() + LIVENESS_MS;
      while (peer.replies.length === 0 && Date.now() < deadline) await sleep(2);
      const p = peer.replies.shift();
      if (p === undefined || p === 'OK') break;
      if (p[0] === 'O') lines.push(Buffer.from(p.slice(1), 'hex').toString('utf8'));
    }
    // `  usage  help`: the usage's words up to the first argument (`<x>`, `[x]`, `a|b`, `…`).
    return lines
      .join('')
      .split('\n')
      .map((l) => (l.trim().split(/\s{2,}/)[0] ?? '').split(' '))
      .filter((w) => w[0] !== '')
      .map((w) => {
        const arg = w.findIndex((x) => /[<[|…]/.test(x));
        return w.slice(0, arg < 0 ? w.length : arg).join(' ');
      });
  })();
  if (monitorNames.length < 5) throw new Error(`could not read the monitor commands: ${monitorNames.join(', ')}`);

  const garbageWords = [
    '',
    'on',
    'off',
    'guest',
    'host',
    'vmid',
    '7',
    '-1',
    '0x40080000',
    '0xffffffffffffffff',
    '99999999999999999999999',
    'vcpu_put',
    'vcpu0',
    'SCTLR_EL1',
    '--json',
    'exit',
    'entry',
    'el1',
    'phys',
    '/dev/zero',
    '/dev/null',
    '/',
    '/nonexistent.json',
    LAYOUT,
    `${LAYOUT}#nvhe`,
    'ünïcödé',
    '%s%n',
    '"quoted"',
    'a'.repeat(300),
    '$#*}',
  ];
  const garbage = () => Array.from({ length: int(4) }, () => pick(garbageWords)).join(' ');

  /** A continue (or step) with a Ctrl-C at a random moment: exactly one stop reply. */
  async function resumeWithInterrupt(): Promise<void> {
    const form = pick(['c', 'vCont;c', 'vCont;c:1', 'C05', 'vCont;C05:1;c', 'vCont;s:1', 's', 'S05']);
    report.packets++;
    report.byKind.resume = (report.byKind.resume ?? 0) + 1;
    recent.push(form);
    const stepping = /s|S/.test(form.replace('vCont', ''));
    const how = int(3); // the 0x03: 0 in the same write, 1 after a delay, 2 inside the packet (steps need none)
    const body = Buffer.from(form, 'latin1');
    if (how === 2 && !stepping) {
      const at = 1 + int(body.length);
      const cs = checksum(body).toString(16).padStart(2, '0');
      peer.send(
        Buffer.concat([
          Buffer.from('$'),
          body.subarray(0, at),
          Buffer.from([3]),
          body.subarray(at),
          Buffer.from(`#${cs}`),
        ]),
      );
      report.interrupts++;
    } else if (how === 0 && !stepping) {
      peer.send(Buffer.concat([frame(body), Buffer.from([3])]));
      report.interrupts++;
    } else {
      peer.sendPacket(frame(body));
      if (!stepping) {
        await sleep(int(30));
        peer.send(Buffer.from([3]));
        report.interrupts++;
      }
    }
    const reply = await peer.next();
    if (reply === null) {
      if (!peer.closed) {
        hang(form);
        await reconnect();
      }
      return;
    }
    if (!STOP.test(reply)) bad(`resume '${form}' → '${reply.slice(0, 80)}'`);
    if (reply.startsWith('W')) await revive();
    // Exactly one stop reply: nothing more may follow (a late second one would answer the next packet).
    const extra = await peer.next(int(10) === 0 ? 200 : 0);
    if (extra !== null) bad(`a second reply after '${form}': '${extra.slice(0, 60)}'`);
  }

  let firstReset = false;
  const threadIds = ['0', '-1', '1', '2', 'p1.1', 'p1.-1', 'zz', 'ffffffff'];
  const generators: (() => Promise<void>)[] = [
    async () => void (await packet('?', '?', SHAPES.stop!)),
    async () => void (await packet('g', 'g', SHAPES.g!)),
    async () => void (await packet('G', `G${hexN(int(2) ? 16 : 2000)}`, SHAPES.ok!)),
    async () => void (await packet('p', `p${hexN(1 + int(3))}`, SHAPES.p!)),
    async () => void (await packet('P', `P${hexN(1 + int(2))}=${hexN(pick([8, 16, 3]))}`, SHAPES.ok!)),
    async () =>
      void (await packet(
        'm',
        `m${pick(['4008', '4000', hexN(8), hexN(16)])}${hexN(4)},${hexN(1 + int(4))}`,
        SHAPES.m!,
      )),
    async () => {
      const d = hexN(2 * int(8));
      await packet(
        'M',
        `M${pick(['9000000', hexN(8), 'fffffffffffffff0'])},${(d.length / 2).toString(16)}:${d}`,
        SHAPES.ok!,
      );
    },
    async () => {
      // Binary data with every byte value, escaped where the framing needs it.
      const data = bytes(int(64));
      const esc: number[] = [];
      for (const b of data)
        if (b === 0x23 || b === 0x24 || b === 0x7d || b === 0x2a) esc.push(0x7d, b ^ 0x20);
        else esc.push(b);
      await packet(
        'X',
        Buffer.concat([Buffer.from(`X${hexN(8)},${data.length.toString(16)}:`), Buffer.from(esc)]),
        SHAPES.ok!,
      );
    },
    async () => {
      const z = `${pick(['Z', 'z'])}${int(6)},${randHex()},${pick(['4', '1', '8', '0', '1001', hexN(3)])}`;
      const cond = int(4) === 0 ? `;X${hexN(1)},${hexN(2 * int(6))}` : '';
      await packet('Z', z + cond, SHAPES.okOrEmpty!);
    },
    async () => void (await packet('H', `H${pick(['g', 'c', 'x'])}${pick(threadIds)}`, SHAPES.ok!)),
    async () => void (await packet('T', `T${pick(threadIds)}`, SHAPES.ok!)),
    async () => void (await packet('qC', 'qC', SHAPES.qC!)),
    async () => void (await packet('threads', pick(['qfThreadInfo', 'qsThreadInfo']), SHAPES.threads!)),
    async () => void (await packet('extra', `qThreadExtraInfo,${pick(threadIds)}`, SHAPES.hex!)),
    async () =>
      void (await packet(
        'xfer',
        `qXfer:${pick(['features', 'threads', 'memory-map', 'x'])}:${pick(['read', 'write'])}:${pick(['target.xml', '', 'a.xml'])}:${randHex()},${randHex()}`,
        SHAPES.xfer!,
      )),
    async () =>
      void (await packet(
        'qSupported',
        `qSupported:${pick(['swbreak+', 'xmlRegisters=aarch64', hexN(40)])}`,
        SHAPES.supported!,
      )),
    async () => void (await packet('qAttached', 'qAttached', /^1$/)),
    async () =>
      void (await packet(
        'qSymbol',
        pick(['qSymbol::', `qSymbol:${hexN(8)}:${textToHex('vcpu_put')}`, `qSymbol::${hexN(5)}`]),
        SHAPES.symbol!,
      )),
    async () => void (await packet('vCont?', 'vCont?', SHAPES.vcontQ!)),
    async () =>
      void (await packet('vCont', `vCont;${pick(['s:2', 't', 'x', 'c:zz', 's:1:1', 'r0,4'])}`, SHAPES.stopOrErr!)),
    async () =>
      void (await packet(
        'unknown',
        pick(['qFoo', 'vMustReplyEmpty', '!', 'A', 'bc', 'QNonStop:1', 'vFile:open:0,0,0']),
        SHAPES.any!,
      )),
    async () => {
      // Every monitor command with garbage: one line of text, then OK or an error packet.
      const line = `${pick(monitorNames)} ${garbage()}`.slice(0, 1000);
      if (/^reset/.test(line)) firstReset = true;
      await packet('monitor', `qRcmd,${textToHex(line)}`, SHAPES.ok!);
    },
    resumeWithInterrupt,
    async () => {
      // Malformed framing: each is skipped or NAKed, and the client's retransmission is answered.
      // Without acks nothing is retransmitted, so only junk that cannot eat the next packet's
      // first bytes is sent then (a packet lost to line noise is the protocol's rule there).
      const noise = bytes(1 + int(40)).filter((b) => b !== 3 && b !== 0x24 && b !== 0x2d && b !== 0x23 && b !== 0x25);
      const junk = peer.noAck
        ? pick([noise, Buffer.from('+++')])
        : pick([
            Buffer.from('$g'), // no # (the next $ starts over)
            Buffer.from('#12'),
            Buffer.from('$#'),
            Buffer.from(`$m0,4#z`),
            Buffer.from('$$$'),
            // Noise (no '-': a NAK makes the stub resend its last reply, tested apart below; no '%':
            // a notification is never acknowledged, so one that swallows the next packet goes unseen).
            bytes(1 + int(40)).filter((b) => b !== 3 && b !== 0x24 && b !== 0x2d && b !== 0x25),
            Buffer.from('+++'),
          ]);
      report.packets++;
      report.byKind.framing = (report.byKind.framing ?? 0) + 1;
      recent.push(`junk ${JSON.stringify(Buffer.from(junk).toString('latin1'))}`);
      peer.send(Buffer.from(junk));
      const reply = await packet('framing-then-?', '?', SHAPES.any!);
      void reply;
    },
    async () => {
      // A bad checksum: NAKed ('-'), and the retransmission (the client's, as gdb's) is answered.
      if (peer.noAck) return;
      report.packets++;
      report.byKind.badChecksum = (report.byKind.badChecksum ?? 0) + 1;
      const naks = peer.naks;
      peer.sendPacket(frame('qC'), Buffer.from('$qC#00'));
      const reply = await peer.next();
      if (peer.naks === naks) bad('no NAK for a bad checksum');
      if (reply === null) {
        if (!peer.closed) {
          hang('a retransmitted qC');
          await reconnect();
        }
      } else if (!SHAPES.qC!.test(reply)) bad(`retransmitted qC → '${reply}'`);
    },
    async () => {
      // A NAK of a reply: the stub sends the same reply again.
      const first = await packet('qC', 'qC', SHAPES.qC!);
      if (first === null || peer.noAck) return;
      peer.send('-');
      const again = await peer.next();
      if (again !== first) bad(`NAK of '${first}' answered with '${again}'`);
    },
    async () => {
      // Oversize: acknowledged, refused with E04, never buffered.
      await packet('oversize', 'M0,1:' + '0'.repeat(PACKET_SIZE + int(3 * PACKET_SIZE)), /^E04$/);
    },
  ];

  let lastRssCheck = 0;
  const rssSample = () => {
    if (state.exited !== null || child.pid === undefined) return;
    const v = rssMiB(child.pid);
    if (firstReset) {
      if (Number.isNaN(report.rssAfterFirstResetMiB)) report.rssAfterFirstResetMiB = v;
      report.rssMaxMiB = Math.max(report.rssMaxMiB, v);
    }
  };

  try {
    // The first reset up front: it touches all of RAM once, after which RSS must stay flat.
    await packet('monitor', `qRcmd,${textToHex('reset')}`, SHAPES.ok!);
    firstReset = true;
    rssSample();
    while (report.packets < opts.packets) {
      if (state.exited !== null) {
        report.crashes++;
        throw new Error(
          `hypstep died (status ${state.exited}) after ${report.packets} packets: ${stderr.slice(-2000)}`,
        );
      }
      const roll = int(1000);
      if (roll === 0) {
        // An abrupt disconnect, sometimes in the middle of a packet or of a continue.
        await park();
        if (int(2)) peer.send(int(2) ? '$m4008' : frame('c'));
        await reconnect();
      } else if (roll === 1) {
        // A second client while the first is attached: refused with a clear error, the first untouched.
        const second = await Peer.open(port);
        second.send(frame('?'));
        const refusal = await second.next();
        if (refusal === null || !refusal.startsWith('E.hypstep')) bad(`second client got '${refusal}'`);
        else report.refusedSecondClients++;
        second.close();
        await packet('?', '?', SHAPES.stop!);
      } else if (roll === 2) {
        // Detach (the machine runs on), then attach again: the new session stops it.
        await park();
        await packet('D', 'D', /^OK$/);
        await reconnect();
      } else if (roll === 3 && !peer.noAck) {
        await packet('noack', 'QStartNoAckMode', /^OK$/);
        peer.noAck = true;
      } else await pick(generators)();
      if (report.packets - lastRssCheck >= 2000) {
        lastRssCheck = report.packets;
        rssSample();
        log(
          `rsp fuzz: ${report.packets} packets, ${report.hangs} hangs, ${report.badReplies.length} bad replies, RSS ${rssMiB(child.pid!).toFixed(0)} MiB`,
        );
      }
    }
    rssSample();
    report.rssEndMiB = rssMiB(child.pid!);
    // Afterwards gdb-multiarch still works on the same server (parked first: the machine runs on meanwhile).
    await park();
    peer.close();
    await sleep(100);
    const g = spawnSync(
      'gdb-multiarch',
      [
        '-batch',
        '-nx',
        '-ex',
        `target remote 127.0.0.1:${port}`,
        '-ex',
        'monitor reset',
        '-ex',
        'break vcpu_put',
        '-ex',
        'continue',
        '-ex',
        'info threads',
        '-ex',
        'p/x $pc',
        '-ex',
        'detach',
        IMAGE,
      ],
      { encoding: 'utf8', timeout: 60_000 },
    );
    report.gdbAfterwards = `${g.stdout}${g.stderr}`;
  } finally {
    peer.close();
    if (state.exited === null) child.kill('SIGKILL');
    report.seconds = (Date.now() - t0) / 1000;
  }
  return report;
}

/** The full campaign of `npm run soak`: ≥ 100,000 packets (scaled by --quick). */
export async function soak(budget: SoakBudget): Promise<void> {
  const packets = Math.max(2000, Math.round(100_000 * budget.scale));
  const seed = Number(process.env.HYPSTEP_FUZZ_SEED ?? Date.now() % 1_000_000);
  console.log(`rsp fuzz: ${packets} packets, seed ${seed} (HYPSTEP_FUZZ_SEED=${seed} replays it)`);
  const r = await fuzzRsp({ packets, seed, log: (l) => console.log(l) });
  console.log(
    `rsp fuzz: ${r.packets} packets in ${r.seconds.toFixed(0)} s, ${r.crashes} crashes, ${r.hangs} hangs, ` +
      `${r.badReplies.length} bad replies, ${r.interrupts} interrupts, ${r.reconnects} reconnects, ` +
      `${r.refusedSecondClients} second clients refused; RSS after the first reset ${r.rssAfterFirstResetMiB.toFixed(0)} MiB, ` +
      `max ${r.rssMaxMiB.toFixed(0)} MiB, end ${r.rssEndMiB.toFixed(0)} MiB`,
  );
  console.log(`rsp fuzz: by kind ${JSON.stringify(r.byKind)}`);
  const problems = [...r.badReplies];
  if (r.hangs > 0 || r.crashes > 0) problems.push(`${r.hangs} hangs, ${r.crashes} crashes`);
  // Flat: within 64 MiB of the level after the first reset (RAM itself is touched by then).
  if (!(r.rssMaxMiB - r.rssAfterFirstResetMiB <= 64))
    problems.push(`RSS grew from ${r.rssAfterFirstResetMiB.toFixed(0)} to ${r.rssMaxMiB.toFixed(0)} MiB`);
  if (!/Breakpoint 1, .*vcpu_put/.test(r.gdbAfterwards))
    problems.push(`gdb afterwards: ${r.gdbAfterwards.slice(-500)}`);
  if (problems.length) throw new Error(problems.join('\n'));
}
