// sha256 for the report. Large buffers are hashed by WebCrypto, which runs on libuv's thread
// pool, so hashing uses the second core while the main thread reads and compares.

import { createHash, webcrypto } from 'node:crypto';

const ASYNC_FROM = 256 * 1024;

export async function sha256Hex(buf: Uint8Array): Promise<string> {
  if (buf.length < ASYNC_FROM) return createHash('sha256').update(buf).digest('hex');
  const digest = await webcrypto.subtle.digest('SHA-256', buf);
  return Buffer.from(digest).toString('hex');
}
