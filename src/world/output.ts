// A file written as a run goes: text is buffered up to a fixed size and written synchronously
// (the run loop is synchronous, so nothing piles up behind a slow disk), and a spool file can be
// copied into another in fixed-size pieces. Write errors (a full disk) throw to the caller.
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';

const BUFFER = 1 << 16;

export class FileOutput {
  private fd: number | null;
  private parts: string[] = [];
  private size = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w+');
  }

  write(s: string): void {
    this.parts.push(s);
    this.size += s.length;
    if (this.size >= BUFFER) this.flush();
  }

  flush(): void {
    if (this.fd === null || this.parts.length === 0) return;
    const text = this.parts.join('');
    this.parts = [];
    this.size = 0;
    writeSync(this.fd, text);
  }

  /** Copies all of `spool` here, then deletes it. */
  append(spool: FileOutput): void {
    spool.flush();
    this.flush();
    const buf = Buffer.alloc(BUFFER);
    for (let pos = 0; ;) {
      const n = readSync(spool.fd!, buf, 0, BUFFER, pos);
      if (n === 0) break;
      writeSync(this.fd!, buf, 0, n);
      pos += n;
    }
    spool.remove();
  }

  /** Writes what is buffered and closes; a failing flush still closes. */
  close(): void {
    if (this.fd === null) return;
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.fd = null;
    }
  }

  /** After a write error: closes, keeping what reached the file. */
  abandon(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  remove(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    rmSync(this.path, { force: true });
  }
}
