// What the operating system said about a user's file or socket, in words for a one-line message
// ("no such file or directory", not ENOENT).
import { getSystemErrorMap } from 'node:util';

/** Where libuv's own words read badly in "cannot read <file>: …". */
const WORDS: Readonly<Record<string, string>> = { EISDIR: 'is a directory' };

export function hostErrorText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const words = err.code === undefined ? undefined : WORDS[err.code];
  if (words !== undefined) return words;
  const known = typeof err.errno === 'number' ? getSystemErrorMap().get(err.errno) : undefined;
  if (known !== undefined) return known[1];
  return e instanceof Error ? e.message : String(e);
}
