// The directory-block decoder (src/classify/directory-block.ts) over file contents from a layer:
// FFS `struct direct` in either byte order and ext4 `ext4_dir_entry_2` records. Seeds are blocks
// encoded the way FFS and ext4 lay them out (whole chunks, a block cut short, empty slots).

import { decodeDirectoryBlock, directoryChunks } from '../../src/classify/directory-block.js';
import type { Seed } from '../mutate.js';
import { check, type FuzzTarget } from '../target.js';

const NAMES = ['.', '..', 'tls.opam', 'tls-async.opam', 'packages', 'ppx_sexp_conv', 'cstruct', 'a'.repeat(255), 'x'];

function ffsChunk(names: string[], be: boolean, firstIno: number): Buffer {
  const buf = Buffer.alloc(512);
  let at = 0;
  names.forEach((name, i) => {
    const n = Buffer.from(name, 'latin1').subarray(0, 255);
    const size = 8 + ((n.length + 1 + 3) & ~3);
    const last = i === names.length - 1 || at + size + 8 + ((Buffer.byteLength(names[i + 1]!) + 4) & ~3) > 512;
    const reclen = last ? 512 - at : size;
    if (at + size > 512) return;
    if (be) {
      buf.writeUInt32BE(firstIno + i, at);
      buf.writeUInt16BE(reclen, at + 4);
    } else {
      buf.writeUInt32LE(firstIno + i, at);
      buf.writeUInt16LE(reclen, at + 4);
    }
    buf[at + 6] = i < 2 ? 4 : 8;
    buf[at + 7] = n.length;
    n.copy(buf, at + 8);
    at += reclen;
  });
  return buf;
}

function ext4Block(names: string[], size: number): Buffer {
  const buf = Buffer.alloc(size);
  let at = 0;
  names.forEach((name, i) => {
    const n = Buffer.from(name, 'latin1').subarray(0, 255);
    const rec = (8 + n.length + 3) & ~3;
    if (at + rec > size) return;
    const reclen = i === names.length - 1 ? size - at : rec;
    buf.writeUInt32LE(100 + i, at);
    buf.writeUInt16LE(reclen, at + 4);
    buf[at + 6] = n.length;
    buf[at + 7] = i < 2 ? 2 : 1;
    n.copy(buf, at + 8);
    at += reclen;
  });
  return buf;
}

export const directoryBlock: FuzzTarget = {
  name: 'directory-block',
  parser: 'src/classify/directory-block.ts (decodeDirectoryBlock, directoryChunks)',
  inputs: 400_000,
  maxLength: 16 * 1024,
  inPlace: 0.6,
  dictionary: ['\u0000\u0000\u0002\u0000', '\u0000\u0002', '\u0002\u0000', '\u000c\u0000', '\u0004\u0001.\u0000', '\u0004\u0002..\u0000\u0000'],
  async seeds() {
    const seeds: Seed[] = [];
    for (const be of [false, true]) {
      seeds.push({ name: `ffs ${be ? 'be' : 'le'} 1 chunk`, bytes: ffsChunk(NAMES.slice(0, 7), be, 2) });
      seeds.push({ name: `ffs ${be ? 'be' : 'le'} 3 chunks`, bytes: Buffer.concat([ffsChunk(NAMES.slice(0, 5), be, 2), ffsChunk(['y', 'z'], be, 40), ffsChunk([], be, 0)]) });
    }
    seeds.push({ name: 'ffs long name', bytes: ffsChunk(['.', '..', NAMES[7]!], false, 2) });
    seeds.push({ name: 'ext4 1k', bytes: ext4Block(NAMES.slice(0, 7), 1024) });
    seeds.push({ name: 'ext4 4k', bytes: ext4Block(NAMES, 4096) });
    seeds.push({ name: 'ext4 4k cut at 1500', bytes: ext4Block(NAMES, 4096).subarray(0, 1500) });
    seeds.push({ name: 'ffs cut at 100', bytes: ffsChunk(NAMES.slice(0, 6), false, 2).subarray(0, 100) });
    return seeds;
  },
  run(input) {
    const d = decodeDirectoryBlock(input);
    if (d) {
      for (const r of d.records) {
        check(r.offset >= 0 && r.offset < input.length, `record offset ${r.offset} outside ${input.length}`);
        check(r.reclen > 0, `reclen ${r.reclen}`);
        check(r.name.length <= 255, `name of ${r.name.length} bytes`);
      }
      check(d.coveredBytes <= input.length, 'covered more than the buffer');
      check(d.entries.every((e) => !/[\u0000-\u001f\u007f-\u009f]/.test(e)), 'entry names not escaped');
    }
    const chunks = directoryChunks(input);
    check(chunks.length === Math.ceil(input.length / 512), `chunks ${chunks.length}`);
  },
};
