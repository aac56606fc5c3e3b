// The target description gdb reads with qXfer:features:read:target.xml, generated from
// the target's register list. One document with every feature inline, so gdb needs no
// xi:include round trips (it still reads the document in PacketSize chunks).
import type { Target } from './target.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');

export function targetXml(t: Pick<Target, 'architecture' | 'features' | 'registers'>): string {
  const out: string[] = [
    '<?xml version="1.0"?>',
    '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
    '<target version="1.0">',
    `  <architecture>${esc(t.architecture)}</architecture>`,
  ];
  for (const f of t.features) {
    const regs = t.registers.filter((r) => r.feature === f.name);
    if (regs.length === 0) continue;
    out.push(`  <feature name="${esc(f.name)}">`);
    if (f.types) out.push(f.types);
    for (const r of regs) {
      const group = r.group ? ` group="${esc(r.group)}"` : '';
      out.push(
        `    <reg name="${esc(r.name)}" bitsize="${r.bitsize}" type="${esc(r.type)}" regnum="${r.regnum}"${group}/>`,
      );
    }
    out.push('  </feature>');
  }
  out.push('</target>');
  return out.join('\n') + '\n';
}

/** The threads document for qXfer:threads:read; `extra` is what `info threads` shows in parentheses. */
export function threadsXml(
  threads: readonly { id: number; name?: string | undefined; core: number; extra?: string | undefined }[],
): string {
  const body = threads.map((t) => {
    const attrs = `id="${t.id.toString(16)}" core="${t.core}"${t.name === undefined ? '' : ` name="${esc(t.name)}"`}`;
    return t.extra === undefined ? `  <thread ${attrs}/>` : `  <thread ${attrs}>${esc(t.extra)}</thread>`;
  });
  return ['<?xml version="1.0"?>', '<threads>', ...body, '</threads>', ''].join('\n');
}
