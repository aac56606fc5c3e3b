// `--trace world[=EVENTS][:KEY=VALUE|VALUE…]…`: which world events the timeline prints.
// EVENTS is a comma list of entry, exit, load, put, hazard (all by default). Each `:KEY=…`
// keeps only the events that match one of its values; several keys must all match.
//   vcpu=NAME   the vcpu (names from the layout)
//   vmid=N      the VMID; a load, put or hazard has its vcpu's VMID from the layout
//   reason=CAT  exits of that category (hvc, smc, sysreg, dabort, …), and the entries that end them;
//               loads, puts and hazards have no reason and are not filtered by it
import { CATEGORIES, type ExitCategory } from './reason.js';
import type { World, WorldEvent } from './world.js';

export class TraceFilterError extends Error {}

type EventType = WorldEvent['type'];
const EVENTS: readonly EventType[] = ['entry', 'exit', 'load', 'put', 'hazard'];

export interface WorldTraceFilter {
  readonly events: ReadonlySet<EventType>;
  readonly vcpus: readonly string[] | null;
  readonly vmids: readonly number[] | null;
  readonly reasons: readonly ExitCategory[] | null;
}

/** Parses the part after `world` (`=exit,entry:vmid=1`, or '' for everything). */
export function parseWorldTrace(spec: string): WorldTraceFilter {
  const bad = (why: string) => new TraceFilterError(`--trace world${spec}: ${why}`);
  const [head, ...terms] = spec.split(':');
  let events = new Set<EventType>(EVENTS);
  if (head !== '') {
    if (!head!.startsWith('=')) throw bad("expected '=' and events or ':' and a filter after 'world'");
    events = new Set();
    for (const e of head!.slice(1).split(',')) {
      if (!EVENTS.includes(e as EventType)) throw bad(`unknown event '${e}' (known: ${EVENTS.join(', ')})`);
      events.add(e as EventType);
    }
  }
  const f: { vcpus: string[] | null; vmids: number[] | null; reasons: ExitCategory[] | null } = {
    vcpus: null,
    vmids: null,
    reasons: null,
  };
  for (const term of terms) {
    const m = /^(\w+)=(.+)$/.exec(term);
    if (!m) throw bad(`filter '${term}' should be KEY=VALUE[|VALUE…] (keys: vcpu, vmid, reason)`);
    const values = m[2]!.split('|');
    if (values.some((v) => v === '')) throw bad(`filter '${term}' has an empty value`);
    switch (m[1]) {
      case 'vcpu':
        f.vcpus = [...(f.vcpus ?? []), ...values];
        break;
      case 'vmid':
        f.vmids = [
          ...(f.vmids ?? []),
          ...values.map((v) => {
            const n = /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : NaN;
            if (!(n >= 0 && n <= 0xffff)) throw bad(`vmid '${v}' is not a number from 0 to 65535`);
            return n;
          }),
        ];
        break;
      case 'reason':
        for (const v of values)
          if (!CATEGORIES.includes(v as ExitCategory))
            throw bad(`unknown reason '${v}' (known: ${CATEGORIES.join(', ')})`);
        f.reasons = [...(f.reasons ?? []), ...(values as ExitCategory[])];
        break;
      default:
        throw bad(`unknown filter '${m[1]}' (known: vcpu, vmid, reason)`);
    }
  }
  return { events, ...f };
}

/** The vcpu names the filter asks for must be the layout's: a typo would silently print nothing. */
export function checkTraceVcpus(f: WorldTraceFilter, w: World): void {
  if (f.vcpus === null) return;
  const names = w.vcpus.map((v) => v.bound.name);
  if (names.length === 0)
    throw new TraceFilterError('--trace world:vcpu=… needs --vcpu-layout (vcpus are named there)');
  for (const v of f.vcpus)
    if (!names.includes(v))
      throw new TraceFilterError(`--trace world: no vcpu '${v}' in the layout (${names.join(', ')})`);
}

/** Whether the timeline prints `e`. */
export function traceMatches(f: WorldTraceFilter, w: World, e: WorldEvent): boolean {
  if (!f.events.has(e.type)) return false;
  let vcpu: string | null, vmid: number | undefined, reason: ExitCategory | undefined;
  switch (e.type) {
    case 'exit':
      ({ vcpu, vmid } = e.exit);
      reason = e.exit.reason.category;
      break;
    case 'entry':
      ({ vcpu, vmid } = e.entry);
      reason = e.closed?.reason.category;
      break;
    case 'load':
    case 'put':
      vcpu = e.record.vcpu;
      vmid = w.vcpu(vcpu)?.bound.vmid;
      break;
    case 'hazard':
      vcpu = e.hazard.vcpu;
      vmid = w.vcpu(vcpu)?.bound.vmid;
      break;
  }
  if (f.vcpus !== null && (vcpu === null || !f.vcpus.includes(vcpu))) return false;
  if (f.vmids !== null && (vmid === undefined || !f.vmids.includes(vmid))) return false;
  if (f.reasons !== null && (e.type === 'exit' || e.type === 'entry')) {
    if (reason === undefined || !f.reasons.includes(reason)) return false;
  }
  return true;
}
