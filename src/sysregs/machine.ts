// The system registers of one machine: the architectural table (registry.ts) with the
// behaviour special.ts gives its rows, plus the rows devices add — a GIC CPU interface, a
// timer, an IMPLEMENTATION DEFINED register — each with handlers that reach the device, and
// trapped by the same row attributes as the table's (e.g. TIDCP).
import { SYSREGS, sysregByKey, sysregByName, resolveRow, specOf, type SysregSpec } from './registry.js';
import { SPECIAL, type SpecialAccess } from './special.js';
import type { SysregRow } from './table.js';

export class MachineSysregs {
  /** Behaviour by register id: special.ts's for the table's rows, the device's for its own. */
  readonly access: (SpecialAccess | undefined)[] = SYSREGS.map((s) => SPECIAL[s.name]);
  private readonly added = new Map<number, SysregSpec>();
  /** Every register by id: the table's, then the devices' (ids follow on). */
  private readonly byIds: SysregSpec[] = [...SYSREGS];

  /** The register whose `id` is `id`. */
  byId(id: number): SysregSpec {
    return this.byIds[id]!;
  }

  /** The register an MRS/MSR encoding (bits [20:5]) names on this machine. */
  byKey(key: number): SysregSpec | undefined {
    return sysregByKey(key) ?? this.added.get(key & 0xffff);
  }

  /** A register by name (either case): the table's, or one a device added. */
  byName(name: string): SysregSpec | undefined {
    const upper = name.toUpperCase();
    return sysregByName(name) ?? this.deviceRegisters.find((s) => s.name === upper);
  }

  /**
   * Gives a register of the table this machine's behaviour (a device's timer registers, an
   * ID field a device sets): `access` replaces special.ts's for it on this machine.
   */
  override(name: string, access: SpecialAccess): void {
    this.access[specOf(name).id] = access;
  }

  /** The registers devices added, in the order they were added. */
  get deviceRegisters(): readonly SysregSpec[] {
    return [...this.added.values()];
  }

  /**
   * Adds a device's register at a free encoding. It has no storage in the PE: `access.read`
   * answers every read (unless the row is write-only) and `access.write` takes every write
   * (unless it is read-only), with the PE that made the access.
   */
  register(row: SysregRow, access: SpecialAccess): SysregSpec {
    const spec = resolveRow(row, this.access.length, -1);
    const taken = this.byKey(spec.key);
    if (taken !== undefined) throw new Error(`sysreg ${row.name}: encoding ${row.enc} is ${taken.name}'s`);
    if (row.aliasOf !== undefined || row.vhe !== undefined)
      throw new Error(`sysreg ${row.name}: a device row has no aliases`);
    if ((row.access !== 'wo' && !access.read) || (row.access !== 'ro' && !access.write))
      throw new Error(`sysreg ${row.name}: a device row needs a handler for each access it allows`);
    this.access.push(access);
    this.added.set(spec.key, spec);
    this.byIds.push(spec);
    return spec;
  }
}
