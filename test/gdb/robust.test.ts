// The stub under abuse: bad checksums, garbage, truncated and oversize packets, a dropped
// connection mid-continue, two clients at once. It must never throw, and a fresh client
// must work afterwards.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { frame } from '../../gdbstub/packet.js';
import { RspClient } from '../../gdbstub/client.js';
import { startHyp, RawPeer, sessionImage, waitDetached, type Hyp } from './harness.js';

let hyp: Hyp;
const errors: unknown[] = [];
const onError = (e: unknown) => {
  errors.push(e);
};

beforeEach(async () => {
  errors.length = 0;
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  hyp = await startHyp();
});
afterEach(async () => {
  // Whatever happened, a well-behaved client must now get a working session.
  await waitDetached(hyp);
  const c = await RspClient.connect('127.0.0.1', hyp.port, { timeoutMs: 3000 });
  expect((await c.readRegisters()).has('pc')).toBe(true);
  expect(await c.monitor('info el')).toMatch(/EL\d/);
  c.close();
  await hyp.handle.close();
  process.off('uncaughtException', onError);
  process.off('unhandledRejection', onError);
  expect(errors).toEqual([]);
});

const pkt = (s: string) => frame(s).toString('latin1');

describe('framing errors', () => {
  it('NAKs a bad checksum, then accepts the retransmission', async () => {
    const p = await RawPeer.open(hyp.port);
    p.send('$qC#00');
    await p.waitFor(/^-$/);
    p.send(pkt('qC'));
    await p.waitFor(/^-\+\$QC1#/);
    p.close();
  });
  it('retransmits its reply when the debugger NAKs it', async () => {
    const p = await RawPeer.open(hyp.port);
    p.send(pkt('qC'));
    await p.waitFor(/\$QC1#..$/);
    p.send('-');
    await p.waitFor(/(\$QC1#..)[^]*\1/);
    p.close();
  });
  it('ignores garbage between packets and survives a truncated one', async () => {
    const p = await RawPeer.open(hyp.port);
    p.send('hello\r\n\x00\xff}}#*');
    p.send('$m4008'); // truncated: no terminator yet…
    p.send('0000,4');
    p.send('#zz'); // …then a checksum that is not hex
    await p.waitFor(/-$/);
    p.send(pkt('m40080000,4'));
    await p.waitFor(/\$00400010#/);
    p.close();
  });
  it('refuses an oversize packet with an error and goes on', async () => {
    const p = await RawPeer.open(hyp.port);
    p.send(pkt(`X40100000,8000:${'a'.repeat(0x8000)}`));
    await p.waitFor(/\+\$E04#/);
    p.send(pkt('qC'));
    await p.waitFor(/QC1/);
    p.close();
  });
  it('answers malformed packets with errors', async () => {
    const c = await RspClient.connect('127.0.0.1', hyp.port);
    for (const bad of [
      'm',
      'mzz,4',
      'm0',
      'M0,4:',
      'Z9,0,4',
      'Z0,zz,4',
      'Z0,40080000,0',
      'Hx',
      'P',
      'G123',
      'C',
      'qRcmd,zz',
      'qXfer:features:read:target.xml:zz',
      'qSymbol:zz',
    ]) {
      expect(await c.request(bad), bad).toMatch(/^E/);
    }
    expect(await c.request('?')).toMatch(/^T05/);
    c.close();
  });
  it('keeps answering in no-ack mode', async () => {
    const p = await RawPeer.open(hyp.port);
    p.send(pkt('QStartNoAckMode'));
    await p.waitFor(/\$OK#9a$/);
    p.send('+' + pkt('qC') + pkt('qAttached'));
    await p.waitFor(/\$QC1#..\$1#31$/);
    p.send('$qC#00'); // in no-ack mode a bad checksum is dropped, not NAKed
    p.send(pkt('qC'));
    await p.waitFor(/\$1#31\$QC1#..$/);
    p.close();
  });
});

describe('connections', () => {
  it('refuses a second debugger clearly and leaves the first untouched', async () => {
    const first = await RspClient.connect('127.0.0.1', hyp.port);
    await expect(RspClient.connect('127.0.0.1', hyp.port)).rejects.toThrow(/another debugger is already attached/);
    expect(hyp.notices.some((n) => /refused a second debugger/.test(n))).toBe(true);
    expect(await first.readRegister('pc')).toBe(sessionImage().entry);
    first.close();
    await new Promise((r) => setTimeout(r, 50));
  });
  it('survives a disconnect in the middle of a continue; the machine runs on, and a new debugger stops it', async () => {
    const c = await RspClient.connect('127.0.0.1', hyp.port);
    const running = c.request('c', 0, true).catch((e: Error) => e.message);
    await new Promise((r) => setTimeout(r, 100));
    expect(hyp.handle.target.running).toBe(true);
    c.close();
    expect(await running).toMatch(/closed/);
    await waitDetached(hyp);
    const at = hyp.machine.cpu.icount;
    await new Promise((r) => setTimeout(r, 100));
    expect(hyp.machine.cpu.icount).toBeGreaterThan(at); // never waits for a debugger that is gone
    const c2 = await RspClient.connect('127.0.0.1', hyp.port);
    expect(await c2.request('?')).toMatch(/^T05/);
    expect(hyp.handle.target.running).toBe(false);
    c2.close();
  });
  it('survives a peer that vanishes without closing (reset)', async () => {
    const p = await RawPeer.open(hyp.port);
    p.send(pkt('c'));
    await new Promise((r) => setTimeout(r, 50));
    p.socket.resetAndDestroy();
    await waitDetached(hyp);
    const c = await RspClient.connect('127.0.0.1', hyp.port);
    expect(await c.request('?')).toMatch(/^T05/);
    c.close();
  });
});

describe('--hold-for-debugger', () => {
  it("keeps a dropped session's machine stopped, and waits at a stop raised with nobody attached", async () => {
    await hyp.handle.close();
    hyp = await startHyp({ hold: true });
    const c = await RspClient.connect('127.0.0.1', hyp.port);
    const running = c.request('c', 0, true).catch((e: Error) => e.message);
    await new Promise((r) => setTimeout(r, 50));
    c.close();
    await running;
    await waitDetached(hyp);
    await new Promise((r) => setTimeout(r, 50));
    const at = hyp.machine.cpu.icount;
    await new Promise((r) => setTimeout(r, 100));
    expect(hyp.machine.cpu.icount).toBe(at);
    expect(hyp.handle.target.running).toBe(false);
  });
});

describe('emulator bugs', () => {
  it('an exception escaping the CPU becomes a SIGABRT stop with a message, not a crash', async () => {
    const c = await RspClient.connect('127.0.0.1', hyp.port);
    const cpu = hyp.machine.cpu;
    cpu.observer = {
      exceptionReturned: () => {
        throw new TypeError('simulated emulator bug');
      },
    };
    const s = await c.cont();
    expect(s.signal).toBe(6);
    expect(c.console).toMatch(/internal error at PC 0x[0-9a-f]+: simulated emulator bug/);
    cpu.observer = null;
    expect(await c.request('?')).toMatch(/^T06/);
    c.close();
  });
});
