// Puts the world layer on a machine: what `hypstep run`, the gdb stub and the demo call.
import type { Machine } from '../board/machine.js';
import { World } from './world.js';
import { bindLayout, bindVcpu, checkModeMatches, LayoutError, type BindEnv, type VcpuLayout } from './layout.js';
import { layoutFromOption } from './linux-layout.js';
import { SR } from '../sysregs/registry.js';
import { debugTranslate } from '../mmu/debug.js';
import { locator } from '../loader/locate.js';
import type { Image } from '../loader/elf.js';
import type { Cpu } from '../cpu/cpu.js';

export interface WorldOptions {
  /** A layout file (`path` or `path#mode`). */
  layout?: string;
  /** The image's file name, to pick the layout's mode. */
  imagePath?: string;
  check?: boolean;
  /** Strict checking: every access to a governed slot while its flag is set. */
  strict?: boolean;
  /** Symbol lookup; defaults to the loaded image's symbols. */
  symbol?: (name: string) => bigint | undefined;
}

export function attachWorld(machine: Machine, opts: WorldOptions = {}): World {
  const world = new World(machine.pes).attach();
  world.interruptSource = (pe, kind) => machine.gic.describeSignalled(pe, kind);
  world.locate = locator(machine.image);
  const registers = (n: string) => machine.sysregs.byName(n);
  if (opts.layout !== undefined)
    useLayout(world, machine, layoutFromOption(opts.layout, opts.imagePath, registers), opts.symbol, opts.imagePath);
  world.checking = opts.check ?? false;
  world.strict = opts.strict ?? false;
  return world;
}

/** The NUL-terminated string an image's segments hold at a symbol (undefined when it is not there). */
function imageCString(image: Image | null, addr: bigint | undefined): string | undefined {
  if (!image || addr === undefined) return undefined;
  for (const s of image.segments) {
    if (addr < s.vaddr || addr >= s.vaddr + BigInt(s.data.length)) continue;
    const from = Number(addr - s.vaddr);
    const end = s.data.indexOf(0, from);
    return Buffer.from(s.data.subarray(from, end < 0 ? s.data.length : end)).toString('latin1');
  }
  return undefined;
}

/**
 * Binds a layout. Symbols are virtual addresses of the hypervisor's EL2 translation regime: they are
 * translated by walking its tables while its MMU is on, else taken as physical. A layout bound
 * with the MMU off is placed again at the first exit (by then the hypervisor runs translated).
 * Vcpus the layout discovers are bound when its discovery function is entered with a new pointer.
 */
export function useLayout(
  world: World,
  machine: Machine,
  layout: VcpuLayout,
  symbol?: (name: string) => bigint | undefined,
  imagePath?: string,
): void {
  const lookup = symbol ?? ((n: string) => machine.symbol(n));
  checkModeMatches(layout, imagePath, (s) => imageCString(machine.image, lookup(s)));
  const el2MmuOn = (cpu: Cpu) => (cpu.sr[SR.SCTLR_EL2!]! & 1n) === 1n;
  /** Binding as PE `cpu` sees memory: its EL2 translation regime, its per-CPU offset. */
  const envOf = (cpu: Cpu): BindEnv => {
    const phys = (va: bigint): number => {
      if (el2MmuOn(cpu)) {
        const t = debugTranslate(cpu, va, 'el2');
        if (t.pa !== null) return t.pa;
      }
      return Number(va);
    };
    return {
      symbol: lookup,
      phys,
      pointer: (va) => {
        const pa = phys(va);
        if (!cpu.bus.isRam(pa, 8))
          throw new LayoutError(`a pointer the layout follows would be at PA 0x${pa.toString(16)}, which is not RAM`);
        return cpu.bus.read(pa, 8);
      },
      peOffset: () => cpu.sr[SR.TPIDR_EL2!]!,
    };
  };
  const boot = machine.cpu;
  world.unbind();
  world.bind(
    layout,
    bindLayout(layout, envOf(boot)),
    el2MmuOn(boot) ? null : (p) => (p.el2MmuOn() ? bindLayout(layout, envOf(p.cpu)) : null),
  );
  const entry = (sym: string, what: string): bigint => {
    const a = lookup(sym);
    if (a === undefined)
      throw new LayoutError(`${what}: symbol '${sym}' is not in the loaded image (nor known from gdb)`);
    return a;
  };
  if (layout.loadSymbol)
    world.hookFunction(entry(layout.loadSymbol, 'functions.load'), (p) => p.functionEntered('load'));
  if (layout.putSymbol) world.hookFunction(entry(layout.putSymbol, 'functions.put'), (p) => p.functionEntered('put'));
  const d = layout.discover;
  if (d) {
    let found = 0;
    world.hookFunction(entry(d.function, 'discover.function'), (p) => {
      const va = p.cpu.x[d.arg]!;
      const place = (name: string) => bindVcpu(layout, name, va, envOf(p.cpu));
      if (!world.knowsVcpuAt(va)) world.addVcpu(place(`${d.prefix}${found++}`));
      world.vcpuEntered(p, va, () => place(world.vcpus.find((v) => v.bound.va === va)!.bound.name));
    });
  }
}
