// Puts the world layer on a machine: what `hypstep run`, the gdb stub and the demo call.
import type { Machine } from '../board/machine.js';
import { World } from './world.js';
import { bindLayout, readLayout, type VcpuLayout } from './layout.js';

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

export function useLayout(world: World, machine: Machine, layout: VcpuLayout, symbol?: (name: string) => bigint | undefined): void {
  world.bind(layout, bindLayout(layout, machine.image, symbol ?? ((n) => machine.symbol(n))));
}
