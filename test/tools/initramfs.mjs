// Writes a gzip-compressed initramfs (cpio "newc", the format the kernel unpacks) from a list of
// entries, the same bytes every time: fixed inode numbers, owner root, time 0.
// node test/tools/initramfs.mjs OUT.cpio.gz [dir:PATH | file:PATH=SOURCE | chardev:PATH=MAJOR,MINOR]...
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const [out, ...specs] = process.argv.slice(2);
if (!out || specs.length === 0) {
  console.error('usage: initramfs.mjs OUT.cpio.gz dir:PATH file:PATH=SOURCE chardev:PATH=MAJOR,MINOR ...');
  process.exit(2);
}

const chunks = [];
let size = 0;
const push = (b) => {
  chunks.push(b);
  size += b.length;
};
const pad4 = () => {
  if (size % 4) push(Buffer.alloc(4 - (size % 4)));
};
let ino = 1;
function entry(name, mode, data = Buffer.alloc(0), rdev = [0, 0]) {
  const fields = [
    ino++,
    mode,
    0,
    0,
    mode & 0o040000 ? 2 : 1,
    0,
    data.length,
    0,
    0,
    rdev[0],
    rdev[1],
    name.length + 1,
    0,
  ];
  push(Buffer.from('070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join(''), 'latin1'));
  push(Buffer.from(`${name}\0`, 'latin1'));
  pad4();
  push(data);
  pad4();
}

for (const spec of specs) {
  const [kind, rest] = [spec.slice(0, spec.indexOf(':')), spec.slice(spec.indexOf(':') + 1)];
  const [path, value] = rest.split('=');
  if (kind === 'dir') entry(path, 0o040755);
  else if (kind === 'file') entry(path, 0o100755, readFileSync(value));
  else if (kind === 'chardev') entry(path, 0o020600, undefined, value.split(',').map(Number));
  else {
    console.error(`initramfs.mjs: unknown entry kind '${kind}'`);
    process.exit(2);
  }
}
entry('TRAILER!!!', 0);
writeFileSync(out, gzipSync(Buffer.concat(chunks), { level: 9 }));
