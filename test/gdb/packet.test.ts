// The framing layer alone: checksums, escapes, run-length encoding, the incremental parser.
import { describe, it, expect } from 'vitest';
import {
  checksum,
  escapeBinary,
  unescapeBinary,
  rleEncode,
  rleDecode,
  frame,
  FrameParser,
  type FrameEvent,
  regToHex,
  hexToReg,
  ProtocolError,
} from '../../gdbstub/packet.js';
import { MonitorRegistry, MonitorError } from '../../gdbstub/monitor.js';
import { targetXml } from '../../gdbstub/tdesc.js';

const bytes = (s: string) => Uint8Array.from(Buffer.from(s, 'latin1'));
const str = (b: Uint8Array) => Buffer.from(b).toString('latin1');

function parse(input: string | Uint8Array, max = 64): FrameEvent[] {
  const out: FrameEvent[] = [];
  new FrameParser(max).push(typeof input === 'string' ? bytes(input) : input, (e) => out.push(e));
  return out;
}

describe('checksum and framing', () => {
  it('matches the examples of the GDB manual', () => {
    expect(checksum(bytes('OK'))).toBe(0x9a);
    expect(frame('OK').toString('latin1')).toBe('$OK#9a');
    expect(frame('').toString('latin1')).toBe('$#00');
    expect(frame('qSupported').toString('latin1')).toBe('$qSupported#37');
  });
});

describe('binary escapes', () => {
  it('escapes exactly $ # } * and round-trips every byte value', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const esc = escapeBinary(all);
    expect(esc.length).toBe(256 + 4);
    for (const c of '$#*') expect(str(esc)).toContain('}' + String.fromCharCode(c.charCodeAt(0) ^ 0x20));
    expect(unescapeBinary(esc)).toEqual(all);
  });
  it('rejects a trailing lone escape', () => {
    expect(() => unescapeBinary(bytes('ab}'))).toThrow(ProtocolError);
  });
});

describe('run-length encoding', () => {
  it('compresses long runs and round-trips', () => {
    const zeros = '0'.repeat(64);
    const enc = rleEncode(bytes(zeros));
    expect(enc.length).toBeLessThan(8);
    expect(str(rleDecode(enc))).toBe(zeros);
  });
  it('never emits a count that reads as framing (#, $, *, })', () => {
    for (let n = 1; n < 300; n++) {
      const enc = str(rleEncode(bytes('a'.repeat(n))));
      expect(enc).not.toMatch(/[#$}]/);
      expect(str(rleDecode(bytes(enc)))).toBe('a'.repeat(n));
      for (let i = enc.indexOf('*'); i >= 0; i = enc.indexOf('*', i + 2)) {
        expect(enc.charCodeAt(i + 1)).toBeLessThanOrEqual(126);
        expect(enc[i + 1]).not.toBe('*');
      }
    }
  });
  it('keeps escaped data intact', () => {
    const data = escapeBinary(Uint8Array.from([0x7d, 0x7d, 0x7d, 0x7d, 0x7d, 0x2a, 0x2a, 0x2a, 0x2a, 1, 1, 1, 1, 1]));
    expect(unescapeBinary(rleDecode(rleEncode(data)))).toEqual(
      Uint8Array.from([0x7d, 0x7d, 0x7d, 0x7d, 0x7d, 0x2a, 0x2a, 0x2a, 0x2a, 1, 1, 1, 1, 1]),
    );
  });
  it('only expands a * that is not an escaped byte', () => {
    expect(str(rleDecode(bytes('}\x0a')))).toBe('}\x0a');
    expect(() => rleDecode(bytes('*"'))).toThrow(ProtocolError);
  });
});

describe('frame parser', () => {
  it('yields packets, acks, naks and interrupts and ignores noise', () => {
    const ev = parse('junk+$g#67-\x03$m0,4#fd');
    expect(ev.map((e) => e.type)).toEqual(['ack', 'packet', 'nak', 'interrupt', 'packet']);
    expect(ev[1]).toMatchObject({ data: Buffer.from('g') });
  });
  it('reports a bad checksum with the data', () => {
    expect(parse('$g#00')).toEqual([{ type: 'bad-checksum', data: Buffer.from('g') }]);
    expect(parse('$g#zz')[0]!.type).toBe('bad-checksum');
  });
  it('reassembles packets split at every byte boundary', () => {
    const wire = Buffer.concat([frame('qSupported:swbreak+'), frame('X40000000,2:}\x03}\x04')]);
    const p = new FrameParser(64);
    const out: FrameEvent[] = [];
    for (const b of wire) p.push(Uint8Array.of(b), (e) => out.push(e));
    expect(out.map((e) => e.type)).toEqual(['packet', 'packet']);
    expect(str((out[1] as { data: Buffer }).data)).toBe('X40000000,2:}\x03}\x04');
  });
  it('ends a packet at the first #, as gdb does (escaping keeps # out of data)', () => {
    expect(parse(Buffer.concat([frame('X0,1:}\x03'), frame('g')])).map((e) => e.type)).toEqual(['packet', 'packet']);
  });
  it('refuses an oversize packet without buffering it, then carries on', () => {
    const big = frame('M0,100:' + '00'.repeat(256));
    const ev = parse(Buffer.concat([big, frame('g')]), 64);
    expect(ev[0]).toEqual({ type: 'oversize', length: 7 + 512 });
    expect(ev[1]).toMatchObject({ type: 'packet', data: Buffer.from('g') });
  });
  it('takes a 0x03 inside a packet as data when the checksum counts it, else as an interrupt typed meanwhile', () => {
    expect(parse(frame('X0,1:\x03'))).toEqual([{ type: 'packet', data: Buffer.from('X0,1:\x03', 'latin1') }]);
    expect(parse('$c\x03#63').map((e) => e.type)).toEqual(['packet', 'interrupt']);
    expect(parse('$c\x03#63')[0]).toEqual({ type: 'packet', data: Buffer.from('c') });
    expect(parse('$\x03c\x03#63').map((e) => e.type)).toEqual(['packet', 'interrupt', 'interrupt']);
    expect(parse('$c\x03#00')[0]!.type).toBe('bad-checksum');
  });
  it('recognises notifications, and drops a damaged one without a NAK (they are never acknowledged)', () => {
    expect(parse('%Stop:T05#99')[0]!.type).toBe('notification');
    expect(parse('%Stop:T05#00')).toEqual([]);
  });
});

describe('register hex', () => {
  it('is little-endian', () => {
    expect(regToHex(0x1122334455667788n, 8)).toBe('8877665544332211');
    expect(regToHex(0x3c9n, 4)).toBe('c9030000');
    expect(hexToReg('8877665544332211')).toBe(0x1122334455667788n);
  });
});

describe('monitor registry', () => {
  it('matches the longest word prefix and reports unknown commands as text', async () => {
    const r = new MonitorRegistry();
    const seen: string[] = [];
    r.register({
      name: 'vcpu sysregs',
      help: 'a',
      run: (args) => {
        seen.push(`sysregs ${args.join(',')}`);
      },
    });
    r.register({
      name: 'vcpu',
      help: 'b',
      run: (args) => {
        seen.push(`vcpu ${args.join(',')}`);
      },
    });
    r.register({
      name: 'boom',
      help: 'c',
      run: () => {
        throw new MonitorError('bad argument');
      },
    });
    let out = '';
    const ctx = {
      out: (s: string) => {
        out += s;
      },
      thread: 1,
    };
    expect(await r.dispatch('vcpu  sysregs 0 sctlr_el1', ctx)).toBe(true);
    expect(await r.dispatch('VCPU layout x', ctx)).toBe(true);
    expect(await r.dispatch('nonsense', ctx)).toBe(false);
    expect(await r.dispatch('boom', ctx)).toBe(false);
    expect(seen).toEqual(['sysregs 0,sctlr_el1', 'vcpu layout,x']);
    expect(out).toContain("unknown monitor command 'nonsense'");
    expect(out).toContain('boom: bad argument');
    out = '';
    await r.dispatch('help', ctx);
    expect(out.split('\n').filter((l) => l.trim() !== '')).toHaveLength(4);
    expect(() => r.register({ name: 'help', help: '', run: () => {} })).toThrow();
  });
});

describe('target description', () => {
  it('groups registers by feature with explicit numbers and escapes names', () => {
    const xml = targetXml({
      architecture: 'aarch64',
      features: [{ name: 'f.core', types: '<flags id="t" size="4"/>' }, { name: 'f.empty' }, { name: 'f.sys' }],
      registers: [
        { name: 'x0', regnum: 0, bitsize: 64, type: 'int', feature: 'f.core' },
        { name: 'a<b', regnum: 1, bitsize: 64, type: 'uint64', feature: 'f.sys', group: 'system' },
      ],
    });
    expect(xml).toContain('<architecture>aarch64</architecture>');
    expect(xml).not.toContain('f.empty');
    expect(xml).toContain('<reg name="a&lt;b" bitsize="64" type="uint64" regnum="1" group="system"/>');
    expect(xml.indexOf('<flags')).toBeLessThan(xml.indexOf('name="x0"'));
  });
});

describe('--gdb address', async () => {
  const { parseGdbAddress } = await import('../../src/debug/gdb.js');
  it('defaults to loopback and accepts QEMU spellings', () => {
    expect(parseGdbAddress('1234')).toEqual({ host: '127.0.0.1', port: 1234 });
    expect(parseGdbAddress(':1234')).toEqual({ host: '127.0.0.1', port: 1234 });
    expect(parseGdbAddress('tcp::1234')).toEqual({ host: '127.0.0.1', port: 1234 });
    expect(parseGdbAddress('0.0.0.0:1234')).toEqual({ host: '0.0.0.0', port: 1234 });
    expect(parseGdbAddress('[::1]:1234')).toEqual({ host: '::1', port: 1234 });
    expect(parseGdbAddress('nope')).toBeUndefined();
    expect(parseGdbAddress('70000')).toBeUndefined();
  });
});
