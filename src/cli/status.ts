// The status line of a long run, for a person watching a terminal: instructions, MIPS, each PE's
// EL and world, guest exits so far, redrawn a few times a second on standard error (never on
// standard output, which carries the guest's UART) and erased before anything else is written
// there and when the run ends.
import type { Machine } from '../board/machine.js';
import { joinObservers } from '../cpu/events.js';
import { HCR } from '../sysregs/registry.js';
import { guestRunningOn, vmidOn } from '../world/pe.js';

const REFRESH_MS = 250;
const ERASE = '\r\x1b[K';

export interface StatusLine {
  /** Erases the line (before another stderr line, or at the end); the next refresh draws it again. */
  clear(): void;
  /** Erases the line for good. */
  stop(): void;
}

/** What the line says: `1,234,567 insns  12.3 MIPS  PE0 EL2 host  PE1 EL1 guest vmid 1  42 exits`. */
export function statusText(m: Machine, mips: number, exits: number): string {
  const pes = m.pes.map((pe, i) => {
    if (!pe.on) return `PE${i} off`;
    return `PE${i} EL${pe.ps.el} ${guestRunningOn(pe) ? `guest vmid ${vmidOn(pe)}` : 'host'}`;
  });
  return `${m.icount.toLocaleString('en-US')} insns  ${mips.toFixed(1)} MIPS  ${pes.join('  ')}  ${exits} exits`;
}

/**
 * Starts the line on `write` (stderr, a terminal); it is not drawn while `canDraw` says no (the
 * guest's last UART line is unfinished on the same screen). Guest exits are counted by an observer on each
 * PE (an exception taken to EL2 from a guest: EL0/EL1 with HCR_EL2.VM set and TGE clear), which
 * only exceptions call.
 */
export function startStatusLine(m: Machine, write: (s: string) => void, canDraw: () => boolean): StatusLine {
  let exits = 0;
  for (const pe of m.pes)
    joinObservers(pe, {
      // Taking the exception changed the EL but not HCR_EL2: the world is read off it as it was.
      exceptionTaken: (e) => {
        if (e.toEL === 2 && e.fromEL < 2 && ((pe.hcr >>> HCR.VM) & 1) === 1 && !pe.tge) exits++;
      },
    });
  let shown = false;
  const clear = () => {
    if (shown) write(ERASE);
    shown = false;
  };
  let last = { t: performance.now(), icount: m.icount };
  const timer = setInterval(() => {
    const now = performance.now();
    const mips = (m.icount - last.icount) / ((now - last.t) * 1000);
    last = { t: now, icount: m.icount };
    if (!canDraw()) return clear();
    write(`${ERASE}${statusText(m, mips, exits)}`);
    shown = true;
  }, REFRESH_MS);
  timer.unref();
  return {
    clear,
    stop: () => {
      clearInterval(timer);
      clear();
    },
  };
}
