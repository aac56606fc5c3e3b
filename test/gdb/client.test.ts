// The RSP client against a scripted fake stub: negotiation with acks, NAK retransmission,
// RLE and console output, and a stub that never answers a continue.
import { describe, it, expect, afterEach } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { frame, FrameParser } from '../../gdbstub/packet.js';
import { RspClient, parseStop } from '../../gdbstub/client.js';

let server: Server | null = null;
afterEach(() => {
  server?.close();
  server = null;
});

/** A stub answering from a table; `null` means never answer. No QStartNoAckMode: acks stay on. */
async function fake(answer: (pkt: string, sock: Socket) => string | null): Promise<{ port: number; got: string[] }> {
  const got: string[] = [];
  server = createServer((sock) => {
    const p = new FrameParser(4096);
    sock.on('data', (d: Buffer) =>
      p.push(d, (e) => {
        if (e.type === 'interrupt') got.push('^C');
        if (e.type !== 'packet') return;
        const pkt = e.data.toString('latin1');
        got.push(pkt);
        sock.write('+');
        const r = answer(pkt, sock);
        if (r !== null) sock.write(frame(r, true));
      }),
    );
    sock.on('error', () => {});
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as { port: number }).port, got };
}

const XML =
  '<target><architecture>aarch64</architecture><feature name="c"><reg name="x0" bitsize="64"/><reg name="pc" bitsize="64" regnum="5"/></feature></target>';

describe('RSP client', () => {
  it('negotiates with acks on, decodes RLE, collects console output, survives a NAK', async () => {
    let nakked = false;
    const f = await fake((pkt, sock) => {
      if (pkt.startsWith('qSupported')) return 'PacketSize=200;qXfer:features:read+';
      if (pkt.startsWith('qXfer:features:read:target.xml:0,')) return 'l' + XML;
      if (pkt === 'g') return '0'.repeat(16) + '1122334455667788';
      if (pkt.startsWith('qRcmd,')) {
        sock.write(frame('O' + Buffer.from('hello\n').toString('hex')));
        return 'OK';
      }
      if (pkt === 'm0,4' && !nakked) {
        nakked = true;
        sock.write('-');
        return null;
      } // the client must resend
      if (pkt === 'm0,4') return 'deadbeef';
      return '';
    });
    const c = await RspClient.connect('127.0.0.1', f.port, { timeoutMs: 2000 });
    expect(c.registers.map((r) => [r.name, r.regnum])).toEqual([
      ['x0', 0],
      ['pc', 5],
    ]);
    const regs = await c.readRegisters();
    expect(regs.get('x0')).toBe(0n);
    expect(regs.get('pc')).toBe(0x8877665544332211n);
    expect(await c.monitor('say hello')).toBe('hello\n');
    expect(await c.readMemory(0n, 4)).toEqual(Uint8Array.from([0xde, 0xad, 0xbe, 0xef]));
    expect(f.got.filter((p) => p === 'm0,4')).toHaveLength(2);
    await expect(c.readRegister('nope')).rejects.toThrow(/no register 'nope'/);
    c.close();
  });
  it('interrupts a continue that runs too long, and gives up on a stub that ignores it', async () => {
    const f = await fake((pkt) => (pkt.startsWith('qSupported') ? 'PacketSize=200' : pkt === 'c' ? null : ''));
    const c = await RspClient.connect('127.0.0.1', f.port, { timeoutMs: 300 });
    await expect(c.cont(100)).rejects.toThrow(/no stop reply within 300 ms of the interrupt/);
    expect(f.got).toContain('^C');
    expect(c.isClosed).toBe(true);
  });
  it('parses stop replies', () => {
    const s = parseStop('T05thread:p1.1;20:0010084000000000;watch:40081000;core:0;');
    expect(s).toMatchObject({ kind: 'stopped', signal: 5, reason: 'watch', watchAddress: 0x40081000n });
    expect(s.registers.get(0x20)).toBe(0x40081000n);
    expect(parseStop('W2a')).toMatchObject({ kind: 'exited', signal: 42 });
    expect(() => parseStop('OK')).toThrow(/not a stop reply/);
  });
});
