#!/usr/bin/env node
// hypstep's command line. Standard output carries exactly the guest's UART output;
// everything hypstep itself says goes to standard error.
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_QUANTUM, MAX_PES, Machine } from '../board/machine.js';
import { rawImage, LoadError, type Image } from '../loader/elf.js';
import { prepareBoot, type BootFile } from '../loader/boot.js';
import { startStatusLine, type StatusLine } from './status.js';
import { checkCpu, checkMachine, checkSerial, fromQemuSpelling, gdbFromQemu, parseDevice } from './qemu.js';
import { exceptionTracer } from './trace.js';
import { HeapWatch } from './limits.js';
import { writeStderr } from './stderr.js';
import { UsageError, parseAddress, parseCount, parseSize } from './options.js';
import { ObserverSet } from '../cpu/events.js';
import { jitPolicy } from '../cpu/code.js';
// The world-switch layer (--vcpu-layout, --check-residency, --trace world, --report: ../world/cli.js) and the
// gdb stub (-s, -S, --gdb: ../debug/gdb.js) are imported when an option asks for them: a plain run starts sooner.
import { demoCommand } from '../world/demo-cli.js'; // hypstep demo
import { kernelCommands } from './kernel.js'; // hypstep symbols, hypstep layout linux
import { LayoutError } from '../world/layout.js'; // a layout that turns out bad mid-run is still the user's file

/** Exit statuses besides the guest's own semihosting exit code. */
export const EXIT = {
  USAGE: 2,
  INSN_LIMIT: 3,
  UNIMPLEMENTED: 4,
  IDLE: 5,
  RESOURCE_LIMIT: 7,
  STUCK: 8,
  INTERRUPTED: 130,
} as const;
import { hostErrorText } from '../loader/host-error.js';
const SLICE = 1 << 21;

const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The status line of the run, while one is drawn (a terminal, no --quiet). */
let status: StatusLine | null = null;

function say(line: string): void {
  status?.clear();
  writeStderr(`hypstep: ${line}\n`);
}

function readBootFile(path: string): BootFile {
  try {
    return { path, bytes: readFileSync(path) };
  } catch (e) {
    throw new LoadError(`cannot read ${path}: ${hostErrorText(e)}`);
  }
}

/** What the options load: the image argument or -kernel, -initrd, -dtb, -append, -device loader. */
function bootImage(imageArg: string | undefined, o: RunOptions, memory: number, smp: number) {
  if (imageArg !== undefined && o.kernel !== undefined)
    throw new UsageError(`both an image (${imageArg}) and -kernel (${o.kernel}) given: give one`);
  if (o.loadAddress !== undefined) {
    if (imageArg === undefined) throw new UsageError('--load-address needs the image argument');
    for (const [opt, v] of [
      ['-initrd', o.initrd],
      ['-dtb', o.dtb],
      ['-append', o.append],
      ['-device', o.device],
    ] as const)
      if (v !== undefined) throw new UsageError(`--load-address runs a raw binary alone: ${opt} cannot go with it`);
    const image: Image = rawImage(readBootFile(imageArg).bytes, parseAddress(o.loadAddress, 'load address'), imageArg);
    return { image, dtb: null, notes: [] as string[] };
  }
  const kernelPath = imageArg ?? o.kernel;
  const loaders = (o.device ?? []).map(parseDevice).map(({ file, ...l }) => ({
    ...l,
    ...(file !== undefined ? { file: readBootFile(file) } : {}),
  }));
  return prepareBoot({
    ...(kernelPath !== undefined ? { kernel: readBootFile(kernelPath) } : {}),
    kernelFromArgument: imageArg !== undefined,
    ...(o.initrd !== undefined ? { initrd: readBootFile(o.initrd) } : {}),
    ...(o.dtb !== undefined ? { dtb: readBootFile(o.dtb) } : {}),
    ...(o.append !== undefined ? { append: o.append } : {}),
    loaders,
    ramSize: memory,
    smp,
  });
}

/** Console input: whether more may come, and a wait for it (or for its end, or ^C). */
interface ConsoleInput {
  readonly open: boolean;
  next(): Promise<void>;
}

/** UART input comes from stdin when it is a terminal or a pipe; a file or /dev/null gives none. */
function attachStdin(m: Machine): ConsoleInput {
  const stdin = process.stdin as NodeJS.ReadStream & { unref?: () => void; ref?: () => void };
  let open = stdin.isTTY || typeof stdin.unref === 'function';
  const waiting: (() => void)[] = [];
  const wake = () => waiting.splice(0).forEach((w) => w());
  if (open) {
    stdin.on('data', (d: Buffer) => {
      m.uart.receive(d);
      wake();
    });
    stdin.on('end', () => {
      open = false;
      wake();
    });
    stdin.on('error', () => {
      open = false;
      wake();
    });
    stdin.unref?.();
  }
  return {
    get open() {
      return open;
    },
    // Held by stdin (ref'd while waiting) or released by ^C.
    next: () =>
      new Promise<void>((resolve) => {
        stdin.ref?.();
        const done = () => {
          stdin.unref?.();
          process.off('SIGINT', done);
          resolve();
        };
        waiting.push(done);
        process.once('SIGINT', done);
      }),
  };
}

interface RunOptions {
  memory: string;
  smp: string;
  quantum: string;
  maxInsns?: string;
  trace?: string[];
  loadAddress?: string;
  // world-switch layer (src/world/cli.ts)
  vcpuLayout?: string;
  checkResidency?: boolean;
  checkResidencyStrict?: boolean;
  failOnHazard?: boolean;
  report?: string;
  // gdb stub (src/debug/gdb.ts)
  s?: boolean;
  S?: boolean;
  gdb?: string;
  holdForDebugger?: boolean;
  quiet?: boolean;
  // QEMU's boot options (src/cli/qemu.ts)
  kernel?: string;
  initrd?: string;
  dtb?: string;
  append?: string;
  machine?: string[];
  cpu?: string;
  serial?: string;
  device?: string[];
  dumpDtb?: string;
  reboot: boolean;
}

/** The PC of the PE that ran last, naming the PE when there are several. */
function where(m: Machine): string {
  const pc = `PC 0x${m.current.pcs[0]!.toString(16)}`;
  return m.pes.length > 1 ? `${pc} of PE${m.current.index}` : pc;
}

/** How a run ended: the exit status, and the same in words for the world report. */
interface RunEnd {
  readonly code: number;
  readonly outcome: string;
}

/** What must happen once the run is over (the world report); it may change the exit status. */
type RunFinish = (status: number, outcome: string) => number;

/** `ends` collects what must happen once the run is over. */
async function run(imageArg: string | undefined, o: RunOptions, ends: RunFinish[]): Promise<RunEnd> {
  const memory = parseSize(o.memory);
  const maxInsns = o.maxInsns === undefined ? Infinity : parseCount(o.maxInsns, 'instruction count');
  const machine = checkMachine(o.machine ?? []);
  checkCpu(o.cpu);
  checkSerial(o.serial);
  const trace = o.trace ?? [];
  const worldTraces = trace.filter((t) => /^world([=:]|$)/.test(t));
  for (const t of trace)
    if (t !== 'exceptions' && !worldTraces.includes(t))
      throw new UsageError(`unknown trace '${t}' (known: exceptions, world)`);
  if (worldTraces.length > 1) throw new UsageError('--trace world given twice (one takes every filter)');
  const smp = parseCount(o.smp, 'number of PEs');
  if (smp > MAX_PES) throw new UsageError(`-smp ${smp}: this machine has at most ${MAX_PES} PEs`);
  const quantum = parseCount(o.quantum, 'quantum');
  const boot = bootImage(imageArg, o, memory, smp);
  const dumpTo = o.dumpDtb ?? machine.dumpDtb;
  if (dumpTo !== undefined) {
    // As QEMU's dumpdtb: write the tree the guest would get, and stop there.
    if (!boot.dtb) throw new UsageError('this image gets no device tree (an ELF that starts at the base of RAM)');
    try {
      writeFileSync(dumpTo, boot.dtb.blob);
    } catch (e) {
      throw new LoadError(`cannot write ${dumpTo}: ${hostErrorText(e)}`);
    }
    return { code: 0, outcome: `device tree written to ${dumpTo}` };
  }
  for (const note of boot.notes) say(note);
  const imagePath = imageArg ?? o.kernel ?? o.device?.map(parseDevice).find((l) => l.file)?.file ?? '';
  // The status line is erased before the guest's output, and not drawn while a UART line is unfinished.
  let midLine = false;
  const m = new Machine({
    memory,
    smp,
    quantum,
    noReboot: !o.reboot,
    uartOut: (b) => {
      status?.clear();
      process.stdout.write(b);
      midLine = b[b.length - 1] !== 0x0a;
    },
    consoleOut: (b) => {
      status?.clear();
      process.stderr.write(b);
    },
  });
  m.load(boot.image);
  const observers = new ObserverSet();
  if (trace.includes('exceptions')) {
    // With several PEs each line names its PE; the count is the machine's, over all PEs.
    m.pes.forEach((pe, i) => {
      const tracer = exceptionTracer(say, () => m.icount, smp > 1 ? `PE${i} ` : '');
      if (i === 0) observers.add(tracer);
      else pe.observer = tracer;
    });
  }
  if (observers.size > 0) m.cpu.observer = observers;
  const wantsWorld =
    o.vcpuLayout !== undefined ||
    o.checkResidency !== undefined ||
    o.checkResidencyStrict !== undefined ||
    o.failOnHazard !== undefined ||
    worldTraces.length > 0 ||
    o.report !== undefined;
  const world = !wantsWorld
    ? null
    : (await import('../world/cli.js')).worldForRun(
        m,
        imagePath,
        {
          vcpuLayout: o.vcpuLayout,
          checkResidency: o.checkResidencyStrict ? 'strict' : o.checkResidency,
          failOnHazard: o.failOnHazard,
          traceWorld: worldTraces[0]?.slice('world'.length),
          report: o.report,
        },
        say,
        (msg) => new UsageError(msg),
      );
  if (world) ends.push((status, outcome) => world.finish(status, { icount: m.cpu.icount, guestResult: outcome }));

  const input = attachStdin(m);

  // A resource limit stops the run with one line; what the report holds so far is kept.
  const heap = new HeapWatch();
  const overLimit = (): RunEnd | null => {
    const why = world?.failure ?? heap.exhausted();
    if (why === null) return null;
    const line = `stopped after ${m.icount} instructions: ${why}`;
    say(line);
    return { code: EXIT.RESOURCE_LIMIT, outcome: line };
  };

  // --- gdb stub (src/debug/gdb.ts): the stub owns execution while it serves a debugger ---
  if (o.s || o.S || o.gdb !== undefined) {
    const { runUnderGdb, KILLED_STATUS } = await import('../debug/gdb.js');
    const { worldForGdb } = await import('../world/cli.js');
    let watch: NodeJS.Timeout | undefined;
    // The stub runs the machine, so the limits are checked on a timer rather than between slices.
    const limited = new Promise<RunEnd>((res) => {
      watch = setInterval(() => {
        const over = overLimit();
        if (over !== null) res(over);
      }, 250);
      watch.unref();
    });
    const underGdb = runUnderGdb(
      m,
      { s: o.s, S: o.S, gdb: o.gdb, holdForDebugger: o.holdForDebugger, image: imagePath },
      say,
      (msg) => new UsageError(msg),
      (h) => {
        worldForGdb(h, world?.world ?? null, imagePath); // world-switch monitor commands
      },
    ).then((end): RunEnd => {
      const over = overLimit(); // met since the last tick of the watch
      if (over !== null) return over;
      if (end.kind === 'exited') return { code: end.code, outcome: `guest exited: exit status ${end.code}` };
      if (end.kind === 'interrupted') return { code: EXIT.INTERRUPTED, outcome: 'interrupted' };
      if (end.kind === 'killed') return { code: KILLED_STATUS, outcome: 'killed by the debugger' };
      say(end.message);
      const code = end.kind === 'stuck' ? EXIT.IDLE : end.kind === 'looping' ? EXIT.STUCK : EXIT.UNIMPLEMENTED;
      return { code, outcome: `stopped: ${end.message}` };
    });
    try {
      return await Promise.race([underGdb, limited]);
    } finally {
      clearInterval(watch);
    }
  }
  // --- end gdb stub ---
  let interrupted = false;
  process.on('SIGINT', () => {
    interrupted = true;
  });

  status = o.quiet || !process.stderr.isTTY ? null : startStatusLine(m, writeStderr, () => !midLine);
  try {
    return await runLoop(m, maxInsns, () => interrupted, overLimit, input);
  } finally {
    status?.stop();
    status = null;
  }
}

/** Runs the machine in slices until it stops, the budget runs out or a limit is met. */
async function runLoop(
  m: Machine,
  maxInsns: number,
  interrupted: () => boolean,
  overLimit: () => RunEnd | null,
  input: ConsoleInput,
): Promise<RunEnd> {
  for (;;) {
    const left = maxInsns - m.icount;
    if (left <= 0) {
      say(`stopped after ${m.icount} instructions (--max-insns) at ${where(m)}`);
      return { code: EXIT.INSN_LIMIT, outcome: `stopped after ${m.icount} instructions (--max-insns)` };
    }
    const r = m.run(Math.min(SLICE, left));
    switch (r.kind) {
      case 'exit':
        return { code: r.code, outcome: `${r.why}: exit status ${r.code}` };
      case 'unimplemented':
        say(`stopped at ${where(m)} (EL${m.current.ps.el}): ${r.message}`);
        return { code: EXIT.UNIMPLEMENTED, outcome: `stopped: ${r.message}` };
      case 'stuck':
        say(`stopped after ${m.icount} instructions: ${r.message}`);
        return { code: EXIT.STUCK, outcome: `stopped: ${r.message}` };
      case 'idle':
        // An interrupt-driven console: a PE asleep until input arrives is waiting, not stuck.
        if (input.open && m.uart.receiveInterruptEnabled && !interrupted()) {
          await input.next();
          break;
        }
        say(`stopped after ${m.icount} instructions: ${r.message}`);
        return { code: EXIT.IDLE, outcome: `stopped after ${m.icount} instructions: ${r.message}` };
      case 'budget':
      case 'requested':
      case 'breakpoint':
        break;
    }
    const over = overLimit();
    if (over !== null) return over;
    if (interrupted()) {
      say(`interrupted after ${m.icount} instructions at ${where(m)}`);
      return { code: EXIT.INTERRUPTED, outcome: `interrupted after ${m.icount} instructions` };
    }
    await new Promise((res) => setImmediate(res));
  }
}

export function buildProgram(): Command {
  const program = new Command('hypstep')
    .description('An ARMv8-A machine with EL2, for debugging hypervisors with gdb-multiarch.')
    .version(pkg.version, '-v, --version', 'print the version')
    .showHelpAfterError(false)
    .exitOverride()
    // Every user error is one line prefixed 'hypstep:', commander's own ('error: unknown option …') too.
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(s.replace(/^error: /, 'hypstep: ')),
    });

  program
    .command('run')
    .description('run an AArch64 image on the virt-compatible board (reset at EL2h at its entry point)')
    .argument('[image]', 'ELF64 AArch64 image, a Linux arm64 Image (raw or gzip), or a raw binary with --load-address')
    .option('-m, --memory <size>', 'RAM size at 0x40000000 (QEMU style: 512M, 1G)', '512M')
    .option('--smp <n>', `number of PEs, 1 to ${MAX_PES} (QEMU's -smp; also spelt -smp)`, '1')
    .option(
      '--quantum <n>',
      "instructions a PE runs before the next PE's turn (round-robin; a PE also gives up its turn at WFI/WFE, YIELD, DMB, DSB)",
      String(DEFAULT_QUANTUM),
    )
    .option('--max-insns <n>', 'stop after N instructions over all PEs and say so (exit status 3)')
    .addOption(
      new Option(
        '--trace <what>',
        'trace to stderr, repeatable: exceptions (one line per exception and ERET), world (one line per guest entry, ' +
          'exit, vcpu load, put and hazard; world=exit,entry:vcpu=NAME:vmid=N:reason=hvc|dabort keeps some of them)',
      )
        // Repeatable; no .default([]), which --help would print as '(default: [])'.
        .argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]),
    )
    .option('--load-address <addr>', 'load a raw binary at this physical address and enter it there')
    .option(
      '--vcpu-layout <file>',
      "where the hypervisor keeps each vcpu's sysregs (JSON; file.json#mode picks a mode; linux[#nvhe]: KVM's, from the kernel's BTF)",
    )
    .option(
      '--check-residency',
      'report stale reads, lost writes, missing and partial loads and puts (needs --vcpu-layout); --check-residency=strict also every access to a loaded slot',
    )
    .addOption(new Option('--check-residency-strict').hideHelp()) // what --check-residency=strict becomes (main)
    .option('--fail-on-hazard', 'exit with status 6 when the residency checker found a hazard (after its summary)')
    .option(
      '--report <file>',
      'write the guest exits, loads and puts with their costs: .json, or .html with an SVG timeline',
    )
    // gdb stub options (src/debug/gdb.ts)
    .option('-s', 'serve gdb on 127.0.0.1:1234 (shorthand for --gdb 1234)')
    .option('-S', 'hold the CPU at reset until a debugger continues it')
    .option('--gdb <[host:]port>', 'serve the GDB remote protocol on this port (loopback unless a host is given)')
    // QEMU's boot options (src/cli/qemu.ts): QEMU spells them with one dash, and so may you
    .option('--kernel <file>', "QEMU's -kernel: an ELF, or a Linux arm64 Image (raw or gzip) booted with x0 = the DTB")
    .option('--initrd <file>', "QEMU's -initrd: the initial ramdisk, placed as QEMU places it")
    .option('--dtb <file>', "QEMU's -dtb: this device tree instead of the generated one (/chosen and /memory fixed up)")
    .option('--append <cmdline>', "QEMU's -append: the kernel command line (/chosen/bootargs)")
    .addOption(
      new Option(
        '--machine <props>',
        "QEMU's -machine/-M: virt,virtualization=on[,gic-version=3][,its=off][,dumpdtb=FILE]",
      ).argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]),
    )
    .option('--cpu <model>', "QEMU's -cpu: max")
    .option('--serial <dev>', "QEMU's -serial: stdio or mon:stdio (the PL011 is on stdio)")
    .addOption(
      new Option(
        '--device <loader>',
        "QEMU's -device loader,file=F[,addr=A][,cpu-num=N] or loader,addr=A,data=V,data-len=N (repeatable)",
      ).argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]),
    )
    .option('--quiet', 'no status line on a terminal (instructions, MIPS, each PE, guest exits; stderr only)')
    .option(
      '--no-reboot',
      "QEMU's -no-reboot: end the run (status 0) when the guest resets the board (PSCI SYSTEM_RESET)",
    )
    .option(
      '--dump-dtb <file>',
      'write the device tree the guest would get to FILE and exit (QEMU: -M virt,dumpdtb=FILE)',
    )
    .option(
      '--hold-for-debugger',
      "when the debugger leaves, keep its catches and the stub's breakpoints and wait at the next one for a debugger",
    )
    .addHelpText(
      'after',
      `
Examples:
  hypstep run fixtures/hello/build/hello.elf
  hypstep run --trace exceptions --max-insns 100000 prog.elf
  hypstep run -m 1G --load-address 0x40080000 Image
  hypstep run -M virt,virtualization=on,gic-version=3 -cpu max -m 1G -kernel vmlinuz -initrd initrd -append console=ttyAMA0

Exit status: the guest's semihosting exit code; 0 on PSCI SYSTEM_OFF; 2 on a usage or
load error; 3 when --max-insns is reached; 4 when the emulator meets an unimplemented feature;
5 when every PE is off or asleep with nothing left to wake one; 6 with --fail-on-hazard when the
residency checker found a hazard; 7 when a resource runs out (memory, or disk for --report:
the report keeps what was written); 8 when a PE keeps taking the same exception at the same
vector without progress (the message names the exception that began it); 0 when the debugger kills the program (gdb's kill, as with QEMU);
130 when interrupted (Ctrl-C).`,
    )
    .action(async (image: string | undefined, opts: RunOptions) => {
      if (opts.gdb !== undefined) opts.gdb = gdbFromQemu(opts.gdb);
      const ends: RunFinish[] = [];
      const r = await run(image, opts, ends);
      let status = r.code;
      const final = [EXIT.UNIMPLEMENTED, EXIT.IDLE, EXIT.RESOURCE_LIMIT, EXIT.STUCK, EXIT.INTERRUPTED] as number[];
      for (const end of ends) {
        const s = end(status, r.outcome); // the report and the checker's summary are written whatever the status
        if (!final.includes(status)) status = s;
      }
      process.exitCode = status;
    });
  demoCommand(program);
  kernelCommands(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    // QEMU spells it -smp (commander's single-dash options are one letter); a boolean option with
    // an optional `=value` would swallow the image that follows it.
    const spelled = (a: string) =>
      a === '-smp'
        ? '--smp'
        : a.startsWith('-smp=')
          ? `-${a}`
          : a === '--check-residency=strict'
            ? '--check-residency-strict'
            : a;
    try {
      jitPolicy();
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const args = argv.map(spelled);
    // After `run`, QEMU's single-dash options (-kernel, -M …) become long ones.
    await buildProgram().parseAsync(
      args[2] === 'run' ? [...args.slice(0, 3), ...fromQemuSpelling(args.slice(3))] : args,
    );
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? 0 : EXIT.USAGE; // commander has printed its one-line message
    }
    if (e instanceof UsageError || e instanceof LoadError || e instanceof LayoutError) {
      say(e.message);
      return EXIT.USAGE;
    }
    say(
      `internal error: ${e instanceof Error ? e.message : String(e)} (please report this with the image and options)`,
    );
    if (process.env.HYPSTEP_DEBUG_STACK) console.error(e);
    return 70;
  }
}

/** Resolves once everything written to `s` so far has gone out (a full pipe makes writes asynchronous). */
const drained = (s: NodeJS.WriteStream) => new Promise<void>((res) => s.write('', () => res()));

void main(process.argv).then(async (code) => {
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit(code);
});
