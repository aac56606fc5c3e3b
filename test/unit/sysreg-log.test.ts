// The core's MRS/MSR log (Cpu.sysregLog): with one, an access to a register its table marks
// quiet stores the register's id and raises no event; the others raise the event as without a
// log; while the log is paused nothing is logged or raised. An observer of MRS/MSR joining the
// PE takes the log away.
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/board/machine.js';
import { SysregLog, joinObservers } from '../../src/cpu/events.js';
import { specOf } from '../../src/sysregs/registry.js';
import { assemble, program } from '../helpers/asm.js';

const SOURCE = program(`
	mov	x1, #0x1234
	msr	tpidr_el2, x1
	mrs	x2, tpidr_el2
	mrs	x3, esr_el2
	msr	vbar_el2, x1
	mrs	xzr, far_el2
	POWER_OFF
`);

function run(log: SysregLog | null): { events: string[]; logged: string[] } {
  const m = new Machine({ uartOut: () => {}, consoleOut: () => {} });
  m.load(assemble(SOURCE));
  const events: string[] = [];
  m.cpu.observer = { sysregAccessed: (e) => events.push(`${e.write ? 'msr' : 'mrs'} ${e.reg.name} ${e.value}`) };
  m.cpu.sysregLog = log;
  expect(m.run(1_000).kind).toBe('exit');
  const logged = log === null ? [] : [...log.ids.subarray(0, log.pos)].map((id) => m.cpu.sysregs.byId(id).name);
  return { events, logged };
}

function logWithEvents(names: string[]): SysregLog {
  const log = new SysregLog();
  log.eventFor = new Uint8Array(1024);
  for (const n of names) log.eventFor[specOf(n).id] = 1;
  return log;
}

describe('the MRS/MSR log', () => {
  it('logs the quiet registers in order and raises the event for the others', () => {
    expect(run(null).events).toEqual([
      'msr TPIDR_EL2 4660',
      'mrs TPIDR_EL2 4660',
      'mrs ESR_EL2 0',
      'msr VBAR_EL2 4660',
      'mrs FAR_EL2 0',
    ]);
    expect(run(logWithEvents(['TPIDR_EL2']))).toEqual({
      events: ['msr TPIDR_EL2 4660', 'mrs TPIDR_EL2 4660'],
      logged: ['ESR_EL2', 'VBAR_EL2', 'FAR_EL2'],
    });
    // An id past the table's end raises the event.
    expect(run(new SysregLog()).events).toHaveLength(5);
  });

  it('logs and raises nothing while paused', () => {
    const log = logWithEvents(['TPIDR_EL2']);
    log.paused = true;
    expect(run(log)).toEqual({ events: [], logged: [] });
  });

  it('is taken away when an observer of MRS/MSR joins, and kept for one of other events', () => {
    const m = new Machine({ uartOut: () => {}, consoleOut: () => {} });
    const log = new SysregLog();
    m.cpu.sysregLog = log;
    joinObservers(m.cpu, { exceptionTaken: () => {} });
    expect(m.cpu.sysregLog).toBe(log);
    joinObservers(m.cpu, { sysregAccessed: () => {} });
    expect(m.cpu.sysregLog).toBeNull();
  });
});
