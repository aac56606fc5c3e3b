// `hypstep symbols` and `hypstep layout linux`: what hypstep reads from a Linux kernel image by itself.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { readKallsyms, parseSystemMap, type KernelSymbol } from '../loader/kallsyms.js';
import { readKernelImage } from '../loader/kernel-image.js';
import { symbolsElf } from '../loader/symbols-elf.js';
import { LoadError } from '../loader/elf.js';
import { hostErrorText } from '../loader/host-error.js';
import { Btf } from '../loader/btf.js';
import { UsageError } from './options.js';
import { deriveLinuxLayout } from '../world/linux-layout.js';

/** The kernel's symbols: from `--system-map` when given, else from the image's kallsyms. */
export function kernelSymbols(imagePath: string | undefined, systemMap: string | undefined): KernelSymbol[] {
  if (systemMap !== undefined) {
    let text: string;
    try {
      text = readFileSync(systemMap, 'utf8');
    } catch (e) {
      throw new LoadError(`cannot read ${systemMap}: ${hostErrorText(e)}`);
    }
    return parseSystemMap(text, systemMap);
  }
  if (imagePath === undefined) throw new LoadError('give a kernel image or --system-map');
  return readKallsyms(readKernelImage(imagePath), imagePath).symbols;
}

export function kernelCommands(program: Command): void {
  program
    .command('symbols')
    .description(
      "write the kernel's symbols (its kallsyms tables, or a System.map) as an ELF for gdb's add-symbol-file",
    )
    .argument('[image]', 'Linux arm64 Image (raw or gzip-compressed)')
    .requiredOption('-o, --output <file>', 'the ELF to write')
    .option('--system-map <file>', 'take the symbols from this System.map instead of the image')
    .action((image: string | undefined, o: { output: string; systemMap?: string }) => {
      const symbols = kernelSymbols(image, o.systemMap);
      try {
        writeFileSync(o.output, symbolsElf(symbols));
      } catch (e) {
        throw new LoadError(`cannot write ${o.output}: ${hostErrorText(e)}`);
      }
      process.stderr.write(`hypstep: ${symbols.length} symbols written to ${o.output}\n`);
    });

  program
    .command('layout')
    .description(
      'print the vcpu layout hypstep derives from a kernel image (edit it and pass it with --vcpu-layout FILE)',
    )
    .argument('<hypervisor>', "'linux': KVM in a Linux arm64 Image, from its BTF and hypstep's table of KVM facts")
    .argument('<image>', 'Linux arm64 Image (raw or gzip-compressed)')
    .option('--mode <mode>', "KVM's mode: vhe, or nvhe (kvm-arm.mode=nvhe)", 'vhe')
    .option('--facts <version>', "use this kernel version's KVM facts (for a kernel hypstep's table does not know)")
    .action((hypervisor: string, image: string, o: { mode: string; facts?: string }) => {
      if (hypervisor !== 'linux') throw new UsageError(`unknown hypervisor '${hypervisor}' (known: linux)`);
      if (o.mode !== 'vhe' && o.mode !== 'nvhe') throw new UsageError(`unknown mode '${o.mode}' (vhe or nvhe)`);
      const bytes = readKernelImage(image);
      const layout = deriveLinuxLayout(bytes, Btf.fromImage(bytes, image), {
        mode: o.mode,
        what: image,
        ...(o.facts !== undefined ? { facts: o.facts } : {}),
      });
      process.stdout.write(JSON.stringify(layout, null, 2) + '\n');
    });
}
