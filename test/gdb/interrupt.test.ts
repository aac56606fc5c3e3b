// A Ctrl-C (0x03) is never lost: in the same TCP write as `$c#63`, at any delay after it,
// behind a queued packet, inside a packet, several for one continue — each continue that is
// interrupted gets exactly one stop reply. While stopped, a 0x03 is ignored (documented).
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { frame, regToHex } from '../../gdbstub/packet.js';
import { startHyp, RawPeer, sessionImage, type Hyp } from './harness.js';

let hyp: Hyp;
let peer: RawPeer;

beforeEach(async () => {
  hyp = await startHyp();
  peer = await RawPeer.open(hyp.port);
});
afterEach(async () => {
  peer.close();
  await hyp.handle.close();
});

const INTR = Buffer.from([3]);
const CONT = frame('c');
const stops = (): number => (peer.data.match(/\$[TSW][0-9a-f]{2}/g) ?? []).length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for the n-th stop reply, then makes sure no other follows for a while. */
async function exactlyStops(n: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (stops() < n) {
    if (Date.now() > deadline) throw new Error(`${stops()} stop replies of ${n}: ${peer.data.slice(-200)}`);
    await sleep(5);
  }
  await sleep(150);
  expect(stops()).toBe(n);
  expect(peer.data.match(/\$[TSW][0-9a-f]{2}/g)!.every((s) => s === '$T02')).toBe(true);
}

describe('Ctrl-C during a continue', () => {
  it('in the same write as $c#63', async () => {
    peer.send(Buffer.concat([CONT, INTR]));
    await exactlyStops(1);
  });

  it('at several delays after the continue, each interrupt gets its stop reply', async () => {
    let n = 0;
    for (const ms of [0, 1, 2, 5, 10, 20, 50, 100]) {
      peer.send(CONT);
      if (ms > 0) await sleep(ms);
      peer.send(INTR);
      await exactlyStops(++n);
    }
    expect(hyp.machine.cpu.icount).toBeGreaterThan(0);
  });

  it('behind a packet still queued, and inside the continue packet itself', async () => {
    const entry = sessionImage().entry.toString(16);
    peer.send(Buffer.concat([frame(`m${entry},4`), CONT, INTR]));
    await exactlyStops(1);
    expect(peer.data).toMatch(/\$[0-9a-f]{8}#/); // the memory read was answered first
    // `$c<0x03>#63`: the checksum counts no 0x03, so the byte was an interrupt typed meanwhile.
    peer.send(Buffer.concat([Buffer.from('$c'), INTR, Buffer.from('#63')]));
    await exactlyStops(2);
  });

  it('several interrupts for one continue give one stop reply', async () => {
    peer.send(Buffer.concat([CONT, INTR, INTR, INTR]));
    await exactlyStops(1);
    await sleep(30);
    peer.send(Buffer.concat([CONT]));
    await sleep(20);
    peer.send(Buffer.concat([INTR, INTR]));
    await exactlyStops(2);
  });

  it('while stopped it is ignored: no reply, and the next continue runs', async () => {
    peer.send(INTR);
    await sleep(150);
    expect(stops()).toBe(0);
    peer.send(frame('?'));
    await peer.waitFor(/\$T05/);
    const before = hyp.machine.cpu.icount;
    peer.send(CONT);
    await sleep(150);
    expect(peer.data.match(/\$T02/)).toBeNull(); // still running: the earlier 0x03 did not linger
    expect(hyp.machine.cpu.icount).toBeGreaterThan(before);
    peer.send(INTR);
    await peer.waitFor(/\$T02/);
  });
});

describe('Ctrl-C latency when the code turns slow', () => {
  it('an exception on every instruction, after fast code grew the chunks, still stops within a second', async () => {
    // Fast code first (the guest's loop), so the run's chunk size adapts upwards.
    peer.send(CONT);
    await sleep(300);
    peer.send(INTR);
    await exactlyStops(1);
    // Then an exception storm at the EL where the guest stopped: the PC in unmapped space, so every
    // fetch aborts, and a vector (EL1's and EL2's) that returns there at once (an ERET: one
    // instruction completes per exception, so the PE is not stuck, which would end the continue by
    // itself: test/cli/stuck.test.ts).
    const reg = (name: string) => hyp.handle.target.registers.find((r) => r.name === name)!.regnum.toString(16);
    const VECTORS = 0x4010_0000n;
    peer.send(frame(`M${(VECTORS + 0x200n).toString(16)},4:${regToHex(0xd69f03e0n, 4)}`));
    peer.send(frame(`P${reg('vbar_el1')}=${regToHex(VECTORS, 8)}`));
    peer.send(frame(`P${reg('vbar_el2')}=${regToHex(VECTORS, 8)}`));
    peer.send(frame(`P${reg('pc')}=${regToHex(0x1000n, 8)}`));
    await peer.waitFor(/\$OK#9a[\s\S]*\$OK#9a[\s\S]*\$OK#9a[\s\S]*\$OK#9a/);
    peer.send(CONT);
    await sleep(50);
    const t0 = Date.now();
    peer.send(INTR);
    await exactlyStops(2);
    expect(Date.now() - t0 - 150).toBeLessThan(1000); // exactlyStops waits 150 ms after the reply
    expect([0x1000n, VECTORS + 0x200n]).toContain(hyp.machine.pes[0]!.pcs[0]!); // in the storm
  });
});
