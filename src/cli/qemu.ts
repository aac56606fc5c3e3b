// QEMU's command line for booting, on `hypstep run`: QEMU's single-dash options become long options
// commander parses, and their values are checked here against the one machine hypstep is
// (virt, virtualization=on, gic-version=3, -cpu max). What hypstep does not do is refused by name.
import { UsageError, parseAddress, parseCount } from './options.js';
import type { LoaderDevice } from '../loader/boot.js';

/** QEMU options that take a value and become the long option of the same name. */
const WITH_VALUE = new Set(['kernel', 'initrd', 'append', 'dtb', 'machine', 'cpu', 'serial', 'gdb', 'device']);
/** QEMU flags that become the long option of the same name. */
const FLAGS = new Set(['no-reboot']);
const ALIASES: Record<string, string> = { M: 'machine' };
/** QEMU options that describe what hypstep already is: no display, no monitor, no NIC, semihosting on. */
const ACCEPTED_FLAGS = new Set(['nographic', 'semihosting']);
const ACCEPTED_WITH_VALUE: Record<string, readonly string[]> = {
  monitor: ['none'],
  display: ['none'],
  nic: ['none'],
  net: ['none'],
};
/** hypstep's own options that take a value, whose value is never an option. */
const OWN_WITH_VALUE = new Set([
  '-m',
  '--memory',
  '--quantum',
  '--max-insns',
  '--trace',
  '--load-address',
  '--vcpu-layout',
  '--report',
  '--gdb',
  '--dump-dtb',
]);

/**
 * Rewrites the arguments of `hypstep run` from QEMU's spelling (`-kernel F`, `-M virt,…`) to the
 * long options commander knows; QEMU options hypstep has no use for but that describe it
 * (`-nographic`, `-monitor none`) are dropped, and any other QEMU-style option is refused by name.
 */
export function fromQemuSpelling(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--smp' && i + 1 < args.length) {
      out.push(a, smpCount(args[++i]!));
      continue;
    }
    if (OWN_WITH_VALUE.has(a) && i + 1 < args.length) {
      out.push(a, args[++i]!);
      continue;
    }
    const m = /^-([A-Za-z][\w-]*)$/.exec(a);
    // commander's own short options (-m 1G, -m1G, -s, -S, -sS, -v, -h) are left to it
    if (!m || /^([sSvh]+|m|m\d.*)$/.test(m[1]!)) {
      out.push(a);
      continue;
    }
    const name = ALIASES[m[1]!] ?? m[1]!;
    const value = (): string => {
      if (i + 1 >= args.length) throw new UsageError(`${a} needs a value`);
      return args[++i]!;
    };
    if (WITH_VALUE.has(name)) out.push(`--${name}`, value());
    else if (FLAGS.has(name)) out.push(`--${name}`);
    else if (ACCEPTED_FLAGS.has(name)) continue;
    else if (name in ACCEPTED_WITH_VALUE) {
      const v = value();
      if (!ACCEPTED_WITH_VALUE[name]!.includes(v))
        throw new UsageError(
          `${a} ${v}: not supported (hypstep accepts only ${a} ${ACCEPTED_WITH_VALUE[name]!.join(', ')})`,
        );
    } else if (name === 'smp') out.push('--smp', smpCount(value()));
    else throw new UsageError(`QEMU's ${a} is not supported by hypstep (see hypstep run --help)`);
  }
  return out;
}

/** QEMU's -smp: `N` or `cpus=N` (topology keys other than cpus are refused). */
function smpCount(v: string): string {
  let count: string | undefined;
  for (const [i, part] of v.split(',').entries()) {
    const [k, val] = part.includes('=')
      ? [part.slice(0, part.indexOf('=')), part.slice(part.indexOf('=') + 1)]
      : ['', part];
    if ((k === '' && i === 0) || k === 'cpus') count = val;
    else if (k === 'maxcpus' && val === count) continue;
    else throw new UsageError(`-smp ${v}: '${part}' is not supported (give the number of PEs: -smp N)`);
  }
  if (count === undefined) throw new UsageError(`-smp ${v}: no number of PEs`);
  return count;
}

/** QEMU's option syntax: `a,b=c,d=e` with ',,' for a literal comma; a first bare word is `implied=`. */
export function parseKeyValues(s: string, implied: string): [string, string][] {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    if (s[i] === ',' && s[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (s[i] === ',') {
      parts.push(cur);
      cur = '';
    } else cur += s[i];
  }
  parts.push(cur);
  return parts.map((p, i) => {
    const eq = p.indexOf('=');
    if (eq < 0) {
      if (i === 0) return [implied, p];
      return [p, 'on']; // a bare flag, as QEMU's `,its` means its=on
    }
    return [p.slice(0, eq), p.slice(eq + 1)];
  });
}

function onOff(key: string, v: string, what: string): boolean {
  if (['on', 'true', 'yes'].includes(v)) return true;
  if (['off', 'false', 'no'].includes(v)) return false;
  throw new UsageError(`${what}: ${key}=${v} is not on or off`);
}

export interface MachineChoice {
  /** QEMU's dumpdtb=FILE: write the device tree there and exit. */
  dumpDtb?: string;
}

/**
 * Checks -machine/-M (repeatable: the options add up, as in QEMU): the machine is virt with
 * EL2 (virtualization=on) and the GICv3 hypstep emulates; its=off and dtb-randomness=off are what
 * hypstep has anyway.
 */
export function checkMachine(values: string[]): MachineChoice {
  const choice: MachineChoice = {};
  let type: string | undefined;
  let virtualization = false;
  for (const v of values) {
    const what = `-machine ${v}`;
    for (const [k, val] of parseKeyValues(v, 'type')) {
      switch (k) {
        case 'type':
          if (val !== 'virt')
            throw new UsageError(`${what}: machine '${val}' is not supported (hypstep is QEMU's virt board)`);
          type = val;
          break;
        case 'virtualization':
          virtualization = onOff(k, val, what);
          break;
        case 'gic-version':
          if (val !== '3')
            throw new UsageError(
              `${what}: gic-version=${val} is not supported (hypstep's interrupt controller is a GICv3: gic-version=3)`,
            );
          break;
        case 'its':
          if (onOff(k, val, what))
            throw new UsageError(`${what}: its=on is not supported (hypstep's GICv3 has no ITS)`);
          break;
        case 'dtb-randomness':
        case 'dtb-kaslr-seed': // QEMU's deprecated synonym
          if (onOff(k, val, what))
            throw new UsageError(
              `${what}: ${k}=on is not supported (hypstep's device tree has no kaslr-seed or rng-seed: a run is deterministic)`,
            );
          break;
        case 'secure':
          if (onOff(k, val, what)) throw new UsageError(`${what}: secure=on is not supported (hypstep has no EL3)`);
          break;
        case 'dumpdtb':
          choice.dumpDtb = val;
          break;
        default:
          throw new UsageError(`${what}: the machine property '${k}' is not supported`);
      }
    }
  }
  if (values.length > 0 && type === undefined) throw new UsageError('-machine: no machine type (hypstep is virt)');
  if (values.length > 0 && !virtualization)
    throw new UsageError(
      `-machine ${values.join(' -machine ')}: hypstep always has EL2 and starts there; add virtualization=on so that QEMU does too`,
    );
  return choice;
}

/** -cpu: only QEMU's `max` describes hypstep's PE (its features are in the README's ID register table). */
export function checkCpu(v: string | undefined): void {
  if (v !== undefined && v !== 'max')
    throw new UsageError(`-cpu ${v}: not supported (hypstep's PE is QEMU's -cpu max, as its ID registers say)`);
}

/** -serial: the PL011 is on stdio (mon:stdio is accepted as stdio: hypstep has no monitor to multiplex). */
export function checkSerial(v: string | undefined): void {
  if (v !== undefined && v !== 'stdio' && v !== 'mon:stdio')
    throw new UsageError(`-serial ${v}: not supported (the PL011 is on standard input and output: -serial stdio)`);
}

/**
 * QEMU's -gdb tcp::PORT or tcp:HOST:PORT as hypstep's --gdb value (loopback when the host is empty,
 * as -s); QEMU's other character devices are refused by name; anything else is --gdb's own.
 */
export function gdbFromQemu(v: string): string {
  const m = /^tcp:([^:,]*):(\d+)$/.exec(v);
  if (m) return m[1] === '' ? m[2]! : `${m[1]}:${m[2]}`;
  if (/^(tcp|unix|stdio|pty|none|file|pipe|udp|telnet|websocket|vc|serial|chardev)(:|$)/.test(v))
    throw new UsageError(`-gdb ${v}: not supported (use tcp::PORT or tcp:HOST:PORT)`);
  return v;
}

/** A -device loader description, files not yet read. */
export type LoaderOption = Omit<LoaderDevice, 'file'> & { file?: string };

/** -device: only QEMU's generic loader (`loader,file=F,addr=A[,cpu-num=N]` or `loader,addr=A,data=V,data-len=N`). */
export function parseDevice(v: string): LoaderOption {
  const what = `-device ${v}`;
  const kv = parseKeyValues(v, 'driver');
  const driver = kv[0]?.[1];
  if (driver !== 'loader')
    throw new UsageError(`${what}: device '${driver}' is not supported (hypstep takes -device loader only)`);
  const l: LoaderOption = {};
  for (const [k, val] of kv.slice(1)) {
    switch (k) {
      case 'file':
        l.file = val;
        break;
      case 'addr':
        l.addr = parseAddress(val, 'loader address');
        break;
      case 'cpu-num':
        if (!/^\d+$/.test(val)) throw new UsageError(`${what}: cpu-num=${val} is not a PE number`);
        l.cpuNum = Number(val);
        break;
      case 'data':
        l.data = parseAddress(val, 'loader data');
        break;
      case 'data-len':
        l.dataLen = parseCount(val, 'data-len');
        break;
      case 'data-be':
        l.dataBigEndian = onOff(k, val, what);
        break;
      case 'force-raw':
        l.forceRaw = onOff(k, val, what);
        break;
      default:
        throw new UsageError(`${what}: the loader property '${k}' is not supported`);
    }
  }
  // QEMU's generic loader's own rules.
  if (l.data !== undefined || l.dataLen !== undefined || l.dataBigEndian !== undefined) {
    if (l.file !== undefined) throw new UsageError(`${what}: a file cannot be given with data`);
    if (l.forceRaw) throw new UsageError(`${what}: force-raw cannot be given with data`);
    if (l.data === undefined || l.dataLen === undefined) throw new UsageError(`${what}: data and data-len go together`);
    if (l.dataLen > 8) throw new UsageError(`${what}: data-len is at most 8 bytes`);
    if (l.addr === undefined) throw new UsageError(`${what}: data needs addr=`);
  } else if (l.file === undefined && l.addr === undefined) {
    throw new UsageError(`${what}: give file=, or addr= with data= and data-len=, or addr= alone to set PE 0's start`);
  }
  return l;
}
