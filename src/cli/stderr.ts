// hypstep's own lines on standard error, written synchronously. Once a pipe is full, Node
// queues what a stream is given in memory and drops the queue at process.exit: a trace of
// millions of lines would grow without bound behind a slow reader and lose its tail. A line
// written here has left hypstep when the call returns; a slow reader slows the run instead.
import { writeSync } from 'node:fs';

const pause = new Int32Array(new SharedArrayBuffer(4));
let gone = false;

export function writeStderr(text: string): void {
  if (gone) return;
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(2, buf));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') {
        gone = true; // EPIPE: nobody reads any more, and the run goes on
        return;
      }
      Atomics.wait(pause, 0, 0, 1); // the reader is behind: give it a millisecond
    }
  }
}
