// A tiny UFS1 (FFS, as written by NetBSD makefs -o version=1) editor for the sample-store recipe.
// It works on a bare partition image (file system at offset 0) and never mounts anything.
//
//   node ufs1.mjs remove    <img> <path>...            remove files/trees as if they had never been created
//   node ufs1.mjs overwrite <img> <path> zeros          overwrite a file's data fragments with NULs
//   node ufs1.mjs overwrite <img> <path> file:<host>    ... with a host file's bytes, NUL-padded/truncated
//   node ufs1.mjs overwrite <img> <path> dir:<fspath>   ... with the raw start of a directory's data
//   node ufs1.mjs extents   <img> <path>               print "size ino byteoffset:length ..." for a file
//   node ufs1.mjs check     <img>                       recompute cg summaries, report differences only
//
// "remove" is how earlier states of the chain are derived from one makefs image of the final tree:
// the directory entry goes (the previous record absorbs its length, the bytes are zeroed), the inode
// is cleared (di_gen kept), the data fragments are zeroed and marked free, and the cylinder-group
// summaries, the cs array and the superblock totals are recomputed from the bitmaps. The layout of
// everything else is untouched, so a later state differs from an earlier one only where the step wrote.
import { Buffer } from 'node:buffer';
import { openSync, readSync, writeSync, closeSync, readFileSync, fstatSync } from 'node:fs';

const DIRBLKSIZ = 512;
const NDADDR = 12;

class Ufs1 {
  constructor(path) {
    this.fd = openSync(path, 'r+');
    this.size = fstatSync(this.fd).size;
    const sb = this.read(8192, 1376);
    this.sb = sb;
    if (sb.readInt32LE(1372) !== 0x011954) throw new Error(`${path}: not a UFS1 file system (no magic at 8192+1372)`);
    const i = (o) => sb.readInt32LE(o);
    Object.assign(this, {
      sblkno: i(8), cblkno: i(12), iblkno: i(16), dblkno: i(20), cgoffset: i(24), cgmask: i(28),
      ncg: i(44), bsize: i(48), fsize: i(52), frag: i(56), inopb: i(120), csaddr: i(152),
      cssize: i(156), cgsize: i(160), ipg: i(184), fpg: i(188), contigsumsize: i(1316),
    });
  }
  read(off, len) {
    const b = Buffer.alloc(len);
    const n = readSync(this.fd, b, 0, len, off);
    if (n !== len) throw new Error(`short read at ${off}`);
    return b;
  }
  write(off, buf) {
    writeSync(this.fd, buf, 0, buf.length, off);
  }
  close() { closeSync(this.fd); }

  cgstart(c) { return this.fpg * c + this.cgoffset * (c & ~this.cgmask); }
  cgOff(c) { return (this.cgstart(c) + this.cblkno) * this.fsize; }
  inoOff(ino) {
    const c = Math.floor(ino / this.ipg);
    const fsba = this.cgstart(c) + this.iblkno + Math.floor((ino % this.ipg) / this.inopb) * this.frag;
    return fsba * this.fsize + (ino % this.inopb) * 128;
  }
  readInode(ino) {
    const b = this.read(this.inoOff(ino), 128);
    const db = [];
    for (let k = 0; k < NDADDR; k++) db.push(b.readInt32LE(40 + 4 * k));
    const ib = [b.readInt32LE(88), b.readInt32LE(92), b.readInt32LE(96)];
    return { ino, raw: b, mode: b.readUInt16LE(0), nlink: b.readInt16LE(2), size: Number(b.readBigUInt64LE(8)), db, ib };
  }
  isDir(inode) { return (inode.mode & 0o170000) === 0o040000; }
  // Data extents of a file: [{ frag, nfrags, lbn }] for the direct blocks (the sample never needs indirects).
  extents(inode) {
    if (inode.ib.some((x) => x !== 0)) throw new Error(`inode ${inode.ino}: indirect blocks are not supported`);
    const out = [];
    const nblk = Math.ceil(inode.size / this.bsize);
    for (let lbn = 0; lbn < nblk; lbn++) {
      const rem = inode.size - lbn * this.bsize;
      const bytes = rem >= this.bsize ? this.bsize : Math.ceil(rem / this.fsize) * this.fsize;
      if (inode.db[lbn] === 0) continue; // hole
      out.push({ frag: inode.db[lbn], nfrags: bytes / this.fsize, lbn });
    }
    return out;
  }
  readData(inode) {
    const chunks = [];
    for (const e of this.extents(inode)) chunks.push(this.read(e.frag * this.fsize, e.nfrags * this.fsize));
    return Buffer.concat(chunks);
  }
  // Directory entries with their position, chunk by chunk.
  entries(dirInode) {
    const res = [];
    for (const e of this.extents(dirInode)) {
      const base = e.frag * this.fsize;
      const buf = this.read(base, e.nfrags * this.fsize);
      const limit = Math.min(buf.length, dirInode.size - e.lbn * this.bsize);
      for (let chunk = 0; chunk < limit; chunk += DIRBLKSIZ) {
        let off = 0;
        let prev = -1;
        while (off < DIRBLKSIZ) {
          const p = chunk + off;
          const ino = buf.readUInt32LE(p);
          const reclen = buf.readUInt16LE(p + 4);
          const namlen = buf[p + 7];
          if (reclen === 0) throw new Error(`dir inode ${dirInode.ino}: zero reclen at ${p}`);
          if (ino !== 0) {
            res.push({ ino, name: buf.toString('latin1', p + 8, p + 8 + namlen), abs: base + p, reclen, prevAbs: prev >= 0 ? base + prev : -1, chunkAbs: base + chunk });
          }
          prev = p;
          off += reclen;
        }
      }
    }
    return res;
  }
  lookup(path) {
    let ino = 2;
    const parts = path.split('/').filter(Boolean);
    let parent = null;
    let entry = null;
    for (const part of parts) {
      const dir = this.readInode(ino);
      if (!this.isDir(dir)) throw new Error(`${path}: ${part} is under a non-directory`);
      entry = this.entries(dir).find((e) => e.name === part);
      if (!entry) throw new Error(`${path}: no entry ${part}`);
      parent = dir;
      ino = entry.ino;
    }
    return { ino, parent, entry };
  }

  // ---- bitmaps ----
  cg(c) {
    const off = this.cgOff(c);
    const b = this.read(off, this.cgsize);
    if (b.readInt32LE(4) !== 0x090255) throw new Error(`cg ${c}: bad magic`);
    return { c, off, b };
  }
  putCg(cg) { this.write(cg.off, cg.b); }
  freeFrags(frag, n) {
    const c = Math.floor(frag / this.fpg);
    const cg = this.cg(c);
    const freeoff = cg.b.readInt32LE(96);
    const rel = frag - this.cgbase(c);
    for (let k = 0; k < n; k++) {
      const bit = rel + k;
      cg.b[freeoff + (bit >> 3)] |= 1 << (bit & 7);
    }
    this.putCg(cg);
    this.write(frag * this.fsize, Buffer.alloc(n * this.fsize));
  }
  cgbase(c) { return this.fpg * c; }
  freeInode(ino) {
    const c = Math.floor(ino / this.ipg);
    const cg = this.cg(c);
    const iusedoff = cg.b.readInt32LE(92);
    const bit = ino % this.ipg;
    cg.b[iusedoff + (bit >> 3)] &= ~(1 << (bit & 7));
    this.putCg(cg);
    const raw = this.read(this.inoOff(ino), 128);
    const gen = raw.readInt32LE(108);
    const z = Buffer.alloc(128);
    z.writeInt32LE(gen, 108);
    this.write(this.inoOff(ino), z);
  }
  // Recompute every cg's summary from its maps, then the cs array and the superblock totals.
  resummarise({ dryRun = false } = {}) {
    const diffs = [];
    const tot = { ndir: 0, nbfree: 0, nifree: 0, nffree: 0 };
    const cs = this.read(this.csaddr * this.fsize, this.cssize);
    for (let c = 0; c < this.ncg; c++) {
      const cg = this.cg(c);
      const b = cg.b;
      const ndblk = b.readInt32LE(20);
      const iusedoff = b.readInt32LE(92);
      const freeoff = b.readInt32LE(96);
      const clsumoff = b.readInt32LE(104);
      const cloff = b.readInt32LE(108);
      const nclblks = b.readInt32LE(112);
      const isFree = (f) => (b[freeoff + (f >> 3)] >> (f & 7)) & 1;
      let nbfree = 0;
      let nffree = 0;
      const frsum = new Array(8).fill(0);
      const blockFree = [];
      const nblocks = Math.floor(ndblk / this.frag);
      for (let blk = 0; blk < nblocks; blk++) {
        let free = 0;
        let run = 0;
        const runs = [];
        for (let k = 0; k < this.frag; k++) {
          if (isFree(blk * this.frag + k)) { free++; run++; } else { if (run) runs.push(run); run = 0; }
        }
        if (run) runs.push(run);
        if (free === this.frag) { nbfree++; blockFree.push(1); } else {
          blockFree.push(0);
          nffree += free;
          for (const r of runs) frsum[r]++;
        }
      }
      // trailing partial block (frags past the last whole block)
      for (let f = nblocks * this.frag; f < ndblk; f++) if (isFree(f)) nffree++;
      let nifree = 0;
      let ndir = 0;
      for (let i = 0; i < this.ipg; i++) {
        const used = (b[iusedoff + (i >> 3)] >> (i & 7)) & 1;
        if (!used) nifree++;
        else if (c * this.ipg + i >= 2) {
          const ino = this.readInode(c * this.ipg + i);
          if (this.isDir(ino)) ndir++;
        }
      }
      if (c === 0) {
        // inodes 0 and 1 are reserved; the root (2) counts as a directory
      }
      const want = { ndir, nbfree, nifree, nffree };
      const have = { ndir: b.readInt32LE(24), nbfree: b.readInt32LE(28), nifree: b.readInt32LE(32), nffree: b.readInt32LE(36) };
      for (const k of Object.keys(want)) if (want[k] !== have[k]) diffs.push(`cg ${c} ${k}: ${have[k]} -> ${want[k]}`);
      // old rotational tables: one cylinder, one position in makefs UFS1; keep them equal to nbfree when they were.
      const btotoff = b.readInt32LE(84);
      const boffoff = b.readInt32LE(88);
      const oldBtot = b.readInt32LE(btotoff);
      const oldBoff = b.readInt16LE(boffoff);
      b.writeInt32LE(ndir, 24); b.writeInt32LE(nbfree, 28); b.writeInt32LE(nifree, 32); b.writeInt32LE(nffree, 36);
      for (let k = 0; k < 8; k++) b.writeInt32LE(frsum[k], 52 + 4 * k);
      if (oldBtot === have.nbfree) b.writeInt32LE(nbfree, btotoff);
      if (oldBoff === have.nbfree) b.writeInt16LE(Math.min(nbfree, 32767), boffoff);
      if (this.contigsumsize > 0 && cloff > 0) {
        const sum = new Array(this.contigsumsize + 1).fill(0);
        let run = 0;
        for (let blk = 0; blk < nclblks; blk++) {
          const f = blk < blockFree.length ? blockFree[blk] : 0;
          if (f) b[cloff + (blk >> 3)] |= 1 << (blk & 7); else b[cloff + (blk >> 3)] &= ~(1 << (blk & 7));
          if (f) run++; else { if (run) sum[Math.min(run, this.contigsumsize)]++; run = 0; }
        }
        if (run) sum[Math.min(run, this.contigsumsize)]++;
        for (let k = 1; k <= this.contigsumsize; k++) b.writeInt32LE(sum[k], clsumoff + 4 * k);
      }
      if (!dryRun) this.putCg(cg);
      cs.writeInt32LE(ndir, c * 16); cs.writeInt32LE(nbfree, c * 16 + 4); cs.writeInt32LE(nifree, c * 16 + 8); cs.writeInt32LE(nffree, c * 16 + 12);
      tot.ndir += ndir; tot.nbfree += nbfree; tot.nifree += nifree; tot.nffree += nffree;
    }
    if (!dryRun) {
      this.write(this.csaddr * this.fsize, cs);
      const sb = this.read(8192, 1376);
      sb.writeInt32LE(tot.ndir, 192); sb.writeInt32LE(tot.nbfree, 196); sb.writeInt32LE(tot.nifree, 200); sb.writeInt32LE(tot.nffree, 204);
      sb.writeBigInt64LE(BigInt(tot.ndir), 1008); sb.writeBigInt64LE(BigInt(tot.nbfree), 1016);
      sb.writeBigInt64LE(BigInt(tot.nifree), 1024); sb.writeBigInt64LE(BigInt(tot.nffree), 1032);
      this.write(8192, sb);
    }
    return diffs;
  }

  // Remove one directory entry (by its absolute byte position) the way FFS does, then zero its bytes.
  removeEntry(e) {
    if (e.prevAbs >= 0) {
      const prev = this.read(e.prevAbs, 8);
      const prevReclen = prev.readUInt16LE(4);
      prev.writeUInt16LE(prevReclen + e.reclen, 4);
      this.write(e.prevAbs, prev);
      // zero the removed record entirely (a never-created entry leaves no trace)
      this.write(e.abs, Buffer.alloc(e.reclen));
    } else {
      // first record of a chunk: keep its length, clear the inode number and name
      const z = Buffer.alloc(e.reclen);
      z.writeUInt16LE(e.reclen, 4);
      this.write(e.abs, z);
    }
  }
  removeTree(path) {
    const { ino, parent, entry } = this.lookup(path);
    if (!parent) throw new Error('refusing to remove the root');
    const inode = this.readInode(ino);
    const dir = this.isDir(inode);
    if (dir) {
      for (const child of this.entries(inode)) {
        if (child.name === '.' || child.name === '..') continue;
        this.removeTree(`${path.replace(/\/$/, '')}/${child.name}`);
      }
    } else if (inode.nlink > 1) {
      throw new Error(`${path}: hard links are not supported`);
    }
    // re-read the parent's entry position (earlier removals may have shifted nothing, but prev may differ)
    const fresh = this.entries(parent).find((x) => x.name === entry.name && x.ino === ino);
    this.removeEntry(fresh);
    for (const e of this.extents(inode)) this.freeFrags(e.frag, e.nfrags);
    this.freeInode(ino);
    if (dir) {
      const p = this.read(this.inoOff(parent.ino), 128);
      p.writeInt16LE(p.readInt16LE(2) - 1, 2);
      this.write(this.inoOff(parent.ino), p);
    }
  }
}

function main() {
  const [cmd, img, ...rest] = process.argv.slice(2);
  if (!cmd || !img) {
    console.error('usage: ufs1.mjs remove|overwrite|extents|check <img> ...');
    process.exit(2);
  }
  const fs = new Ufs1(img);
  try {
    if (cmd === 'remove') {
      for (const p of rest) fs.removeTree(p);
      fs.resummarise();
    } else if (cmd === 'overwrite') {
      const [path, how] = rest;
      const { ino } = fs.lookup(path);
      const inode = fs.readInode(ino);
      const ext = fs.extents(inode);
      const alloc = ext.reduce((n, e) => n + e.nfrags * fs.fsize, 0);
      let content;
      if (how === 'zeros') content = Buffer.alloc(alloc);
      else if (how.startsWith('file:')) content = readFileSync(how.slice(5));
      else if (how.startsWith('dir:')) {
        const d = fs.readInode(fs.lookup(how.slice(4)).ino);
        if (!fs.isDir(d)) throw new Error(`${how}: not a directory`);
        content = fs.readData(d);
        if (content.length < inode.size) throw new Error(`${how}: directory data (${content.length}) shorter than ${path} (${inode.size})`);
      } else throw new Error(`unknown source ${how}`);
      const buf = Buffer.alloc(alloc);
      content.copy(buf, 0, 0, Math.min(content.length, alloc));
      let pos = 0;
      for (const e of ext) {
        fs.write(e.frag * fs.fsize, buf.subarray(pos, pos + e.nfrags * fs.fsize));
        pos += e.nfrags * fs.fsize;
      }
    } else if (cmd === 'extents') {
      const { ino } = fs.lookup(rest[0]);
      const inode = fs.readInode(ino);
      console.log([inode.size, ino, ...fs.extents(inode).map((e) => `${e.frag * fs.fsize}:${e.nfrags * fs.fsize}`)].join(' '));
    } else if (cmd === 'check') {
      const d = fs.resummarise({ dryRun: true });
      if (d.length) console.log(d.join('\n'));
    } else {
      throw new Error(`unknown command ${cmd}`);
    }
  } finally {
    fs.close();
  }
}

try {
  main();
} catch (e) {
  console.error(`ufs1: ${e.message}`);
  process.exit(1);
}
