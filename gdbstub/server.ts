// The TCP server: one debugger at a time over a machine it owns the execution of. While
// no debugger holds the machine it runs freely (unless held at reset); a debugger that
// connects stops it, as QEMU's stub does.
import { createServer, type Server, type Socket, type AddressInfo } from 'node:net';
import createDebug from 'debug';
import { frame } from './packet.js';
import { Session, type SessionHost } from './session.js';
import { MonitorRegistry } from './monitor.js';
import { Interrupt, SIGNAL, type ResumePlan, type Target, type TargetStop } from './target.js';

const log = createDebug('hypstep:gdb');

export interface GdbServerOptions {
  /** Interface to listen on: loopback unless the user names another. */
  host?: string;
  /** TCP port; 0 picks a free one (see `address` after `listen`). */
  port: number;
  /** Largest packet accepted and advertised (bytes of packet data). */
  packetSize?: number;
  monitor?: MonitorRegistry;
  /** User-facing notices (attach, detach, refusals); the CLI sends them to stderr. */
  notice?: (line: string) => void;
  /**
   * Wait for a debugger rather than run on: a dropped connection leaves the machine stopped,
   * and a stop with no debugger attached holds it until one attaches.
   */
  holdForDebugger?: boolean;
}

/** How the machine's run ended: the guest's exit, a stop it cannot go on from, or a debugger's kill. */
export type RunEnd = TargetStop | { readonly kind: 'killed' };

/** A message's leading `[tag] ` is for the debugger's console; a notice has its own prefix. */
export const untagged = (message: string): string => message.replace(/^\[[^\]]*\] /, '');

export class GdbServer implements SessionHost {
  readonly monitor: MonitorRegistry;
  readonly packetSize: number;
  private readonly server: Server;
  private session: Session | null = null;
  private pending: Promise<TargetStop> | null = null;
  /** The interrupt of the pending resume (a debugger that attaches or drops uses it). */
  private pendingInterrupt: Interrupt | null = null;
  private ended: TargetStop | null = null;
  private killed = false;
  private closed = false;
  /** The CPU has run since the server started: -S's hold ends at the first resume. */
  private released = false;
  private resolveDone!: (r: RunEnd) => void;
  /** Resolves when the guest has exited (or the machine cannot go on) and no debugger is attached. */
  readonly done: Promise<RunEnd>;
  private readonly notice: (line: string) => void;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly target: Target,
    private readonly opts: GdbServerOptions,
  ) {
    this.monitor = opts.monitor ?? new MonitorRegistry();
    this.packetSize = opts.packetSize ?? 0x4000;
    this.notice = opts.notice ?? ((l) => log(l));
    this.done = new Promise((res) => {
      this.resolveDone = res;
    });
    this.server = createServer((s) => this.accept(s));
  }

  listen(): Promise<{ host: string; port: number }> {
    const host = this.opts.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.server.once('error', onError);
      this.server.listen(this.opts.port, host, () => {
        this.server.off('error', onError);
        // Errors after listening (rare: the OS closing the socket) are told, never thrown.
        this.server.on('error', (e) => this.notice(`gdb server error: ${e.message}`));
        const a = this.server.address() as AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  get address(): { host: string; port: number } | null {
    const a = this.server.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : null;
  }

  get attached(): boolean {
    return this.session !== null;
  }

  /** Lets the machine run until something stops it or a debugger attaches. */
  runFree(): void {
    if (this.pending || this.ended || this.killed || this.closed) return;
    const all = new Map(this.target.threads().map((t) => [t, 'continue' as const]));
    void this.resume(all, new Interrupt()).then((stop) => {
      if (this.session !== null || this.killed) return; // a debugger attached and took over, or killed it
      // An exit, or an emulator that cannot go on (SIGABRT), ends the run.
      if (stop.kind === 'exited' || stop.signal === SIGNAL.ABRT) return this.finish(stop);
      if (this.opts.holdForDebugger) {
        this.notice(`${untagged(stop.message ?? 'stopped')} (waiting for a debugger)`);
        return;
      }
      // What a debugger set (breakpoints, catches) went with it, so what stops an unattended
      // run is the machine itself (every PE asleep for good): the run ends there.
      this.finish(stop);
    });
  }

  resume(plan: ResumePlan, interrupt: Interrupt): Promise<TargetStop> {
    // A target that throws is a bug; it must not take the process down.
    const first = [...plan.keys()][0]!;
    this.released = true;
    const p = this.target.resume(plan, interrupt).catch((e: unknown): TargetStop => ({
      kind: 'stopped',
      thread: first,
      signal: SIGNAL.ABRT,
      message: `internal error: ${e instanceof Error ? e.message : String(e)}`,
    }));
    this.pending = p;
    this.pendingInterrupt = interrupt;
    void p.then((stop) => {
      if (this.pending === p) {
        this.pending = null;
        this.pendingInterrupt = null;
      }
      // A stop after an exit means the machine was reset (k, monitor reset) and lives again.
      this.ended = stop.kind === 'exited' ? stop : null;
    });
    return p;
  }

  private accept(socket: Socket): void {
    socket.on('error', (e) => log(`socket error: ${e.message}`));
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.session !== null) {
      this.refuse(socket, peer);
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    this.notice(`debugger attached from ${peer}`);
    this.target.presence?.attached();
    // A running machine stops for the new debugger; its first `?` waits for that stop.
    const running = this.pending;
    this.pendingInterrupt?.request();
    const ready = running ? running.then(() => undefined) : Promise.resolve();
    const s = new Session(this, socket, ready);
    this.session = s;
    if (this.ended) s.lastStop = this.ended;
    else if (running)
      void running.then((stop) => {
        s.lastStop = stop.kind === 'exited' ? stop : { ...stop, signal: SIGNAL.TRAP };
      });
  }

  /**
   * A second debugger gets every packet answered with an error that names the reason
   * (gdb shows it), then the connection is closed; the first session is untouched.
   */
  private refuse(socket: Socket, peer: string): void {
    this.notice(`refused a second debugger from ${peer}: one is already attached`);
    const msg = frame('E.hypstep: another debugger is already attached');
    let acked = false;
    socket.on('data', (d: Buffer) => {
      if (d.includes(0x24)) {
        if (!acked) {
          socket.write('+');
          acked = true;
        }
        socket.write(msg);
      }
    });
    setTimeout(() => socket.destroy(), 2000).unref();
  }

  sessionEnded(s: Session, how: 'detach' | 'kill' | 'drop'): void {
    if (this.session !== s) return;
    this.session = null;
    this.target.breakpoints?.removeAll();
    this.target.presence?.left(how);
    this.notice(`debugger ${how === 'drop' ? 'disconnected' : how === 'detach' ? 'detached' : 'killed the program'}`);
    if (this.ended) return this.finish(this.ended);
    if (how === 'kill') {
      // As QEMU: a kill ends the run (the server's owner exits).
      this.pendingInterrupt?.request();
      return this.finish({ kind: 'killed' });
    }
    // Detach resumes the program (gdb's meaning of D); a dropped connection too, unless told to
    // wait or the CPU is still held at reset (-S holds it until a debugger continues it).
    if (how === 'drop' && (this.opts.holdForDebugger || !this.released)) this.pendingInterrupt?.request();
    // A resume the session had going is being interrupted (its reply has nobody to go to): run on after it.
    else void (this.pending ?? Promise.resolve()).then(() => this.session === null && this.runFree());
  }

  private finish(r: RunEnd): void {
    if (r.kind === 'killed') this.killed = true;
    else this.ended = r;
    this.resolveDone(r);
  }

  /** Stops listening and drops every connection; the machine is stopped. */
  async close(): Promise<void> {
    this.closed = true;
    this.pendingInterrupt?.request();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((res) => this.server.close(() => res()));
    if (this.pending) await this.pending;
  }
}
