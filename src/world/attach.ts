// Puts the world layer on a machine: what `hypstep run`, the gdb stub and the demo call.
import type { Machine } from '../board/machine.js';
import { World } from './world.js';
import { bindLayout, readLayout, type VcpuLayout } from './layout.js';
import { SR } from '../sysregs/registry.js';
import { debugTranslate } from '../mmu/debug.js';

export interface WorldOptions {
  /** A layout file (`path` or `path#mode`). */
  layout?: string;
  /** The image's file name, to pick the layout's mode. */
  imagePath?: string;
  check?: boolean;
  /** Symbol lookup; defaults to the loaded image's symbols. */
  symbol?: (name: string) => bigint | undefined;
}

export function attachWorld(machine: Machine, opts: WorldOptions = {}): World {
  const world = new World(machine.cpu).attach();
  if (opts.layout !== undefined) useLayout(world, machine, readLayout(opts.layout, opts.imagePath), opts.symbol);
  world.checking = opts.check ?? false;
  return world;
}

/**
 * Binds a layout. Symbols are virtual addresses of the hypervisor's EL2 regime: they are
 * translated by walking its tables while its MMU is on, else taken as physical. A layout bound
 * with the MMU off is placed again at the first exit (by then the hypervisor runs translated).
 */
export function useLayout(
  world: World,
  machine: Machine,
  layout: VcpuLayout,
  symbol?: (name: string) => bigint | undefined,
): void {
  const cpu = machine.cpu;
  const lookup = symbol ?? ((n: string) => machine.symbol(n));
  const el2MmuOn = () => (cpu.sr[SR.SCTLR_EL2!]! & 1n) === 1n;
  const phys = (va: bigint): number => {
    if (el2MmuOn()) {
      const t = debugTranslate(cpu, va, 'el2');
      if (t.pa !== null) return t.pa;
    }
    return Number(va);
  };
  world.bind(
    layout,
    bindLayout(layout, lookup, phys),
    el2MmuOn() ? null : () => (el2MmuOn() ? bindLayout(layout, lookup, phys) : null),
  );
}
