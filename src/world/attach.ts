// Puts the world layer on a machine: what `hypstep run`, the gdb stub and the demo call.
import type { Machine } from '../board/machine.js';
import { World } from './world.js';
import {
  bindLayout,
  bindVcpu,
  checkModeMatches,
  LayoutError,
  type BindEnv,
  type VcpuField,
  type VcpuLayout,
} from './layout.js';
import { layoutFromOption } from './linux-layout.js';
import { SR } from '../sysregs/registry.js';
import { debugTranslate } from '../mmu/debug.js';
import { locator } from '../loader/locate.js';
import type { ElfSymbol, Image } from '../loader/elf.js';
import { FdtError, findNode, parseFdt, propString } from '../loader/fdt.js';
import type { Cpu } from '../cpu/cpu.js';
import { hex } from '../cpu/bits.js';

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
 * A layout derived from a Linux kernel brings the kernel's kallsyms, at its link addresses. Linux
 * arm64 runs there unless it randomises its placement (KASLR), which it does only with a seed:
 * /chosen/kaslr-seed in the DTB or the CPU's RNDR (which hypstep does not have); with neither,
 * kaslr_early_init leaves the offset 0. A boot whose DTB gives a seed is refused rather than
 * bound to wrong addresses. The symbols join the image's (for hooks, breakpoints and messages).
 */
function giveKernelSymbols(
  world: World,
  machine: Machine,
  symbols: readonly ElfSymbol[],
  imageBase: bigint | undefined,
): void {
  const image = machine.image;
  if (!image) throw new LayoutError('vcpu layout linux: no kernel loaded');
  if (image.symbols.some((s) => s.name === 'kvm_arch_vcpu_load')) return;
  const dtb = image.segments.find((s) => image.x0 !== undefined && BigInt(s.paddr) === image.x0);
  if (dtb) {
    let chosen;
    try {
      chosen = findNode(parseFdt(dtb.data), '/chosen');
    } catch (e) {
      if (!(e instanceof FdtError)) throw e;
    }
    const seed = chosen?.props.get('kaslr-seed');
    const args = chosen ? (propString(chosen, 'bootargs') ?? '') : '';
    if (seed !== undefined && seed.some((b) => b !== 0) && !/(^|\s)nokaslr(\s|$)/.test(args))
      throw new LayoutError(
        "vcpu layout linux: the device tree gives the kernel a kaslr-seed, so it will not run at its link addresses: add 'nokaslr' to -append",
      );
  }
  image.symbols = [...image.symbols, ...symbols];
  const byKernelVa = locator(image);
  const kernel = image.segments.find((s) => image.entry >= s.vaddr && image.entry < s.vaddr + BigInt(s.data.length));
  // KVM's nVHE hypervisor runs the kernel's own code at its hyp VAs (another mapping of the same
  // pages): an address no symbol names is taken through the EL2 tables back to the kernel's.
  world.locate = (pc) => {
    const named = byKernelVa(pc);
    if (named !== hex(pc) || kernel === undefined || imageBase === undefined) return named;
    for (const cpu of machine.pes) {
      if ((cpu.sr[SR.SCTLR_EL2!]! & 1n) === 0n) continue;
      const pa = debugTranslate(cpu, pc, 'el2').pa;
      if (pa === null || pa < kernel.paddr || pa >= kernel.paddr + kernel.data.length) continue;
      return `${byKernelVa(imageBase + BigInt(pa - kernel.paddr))} (hyp VA ${hex(pc)})`;
    }
    return named;
  };
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
  if (layout.symbols) giveKernelSymbols(world, machine, layout.symbols, layout.imageBase);
  const lookup = symbol ?? ((n: string) => machine.symbol(n));
  checkModeMatches(layout, imagePath, (s) => imageCString(machine.image, lookup(s)));
  const el2MmuOn = (cpu: Cpu) => (cpu.sr[SR.SCTLR_EL2!]! & 1n) === 1n;
  /**
   * Binding as PE `cpu` sees memory: its EL2 translation regime, its per-CPU offset. A PE at EL1
   * is a split-mode host kernel (KVM's nVHE `kvm_arch_vcpu_load`): its pointers are EL1 addresses.
   */
  const envOf = (cpu: Cpu): BindEnv => {
    const el1 = cpu.ps.el === 1;
    const phys = (va: bigint): number => {
      if (el1 ? (cpu.sr[SR.SCTLR_EL1!]! & 1n) === 1n : el2MmuOn(cpu)) {
        const t = debugTranslate(cpu, va, el1 ? 'el1' : 'el2');
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
  const d = layout.discover;
  if (layout.putSymbol)
    world.hookFunction(entry(layout.putSymbol, 'functions.put'), (p) => {
      p.functionEntered('put');
      // KVM's put function takes the vcpu as its load function does.
      if (d) world.vcpuPut(p, p.cpu.x[d.arg]!);
    });
  if (d) {
    let found = 0;
    const id = layout.identity;
    /** A field of the vcpu structure at `va`, as PE `cpu` sees memory. */
    const field = (cpu: Cpu, va: bigint, f: VcpuField): bigint =>
      BigInt.asUintN(8 * f.width, envOf(cpu).pointer(BigInt.asUintN(64, va + BigInt(f.offset))));
    world.hookFunction(entry(d.function, 'discover.function'), (p) => {
      const va = p.cpu.x[d.arg]!;
      const place = (name: string) => bindVcpu(layout, name, va, envOf(p.cpu));
      if (!world.knowsVcpuAt(va))
        world.addVcpu(place(`${d.prefix}${found++}`), {
          ...(id?.vm ? { vm: field(p.cpu, va, id.vm) } : {}),
          ...(id?.id ? { id: Number(field(p.cpu, va, id.id)) } : {}),
        });
      world.vcpuEntered(p, va, () => place(world.vcpus.find((v) => v.bound.va === va)!.bound.name));
    });
    if (d.forget) world.hookFunction(entry(d.forget, 'discover.forget'), (p) => world.forgetVcpu(p.cpu.x[d.arg]!));
    // A flag "between" two functions: set when the first returns, cleared when the second does.
    for (const f of layout.flags) {
      if (!f.between) continue;
      for (const [sym, set] of [
        [f.between.from, true],
        [f.between.to, false],
      ] as const)
        world.hookFunction(entry(sym, `flags.${f.name}.between`), (p) => {
          const va = p.cpu.x[d.arg]!;
          const ret = p.cpu.x[30]!;
          world.hookReturn(p, ret, p.cpu.getSp(), () => world.windowChanged(p, va, f.name, set, ret));
        });
    }
  }
}
