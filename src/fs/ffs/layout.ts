// On-disk structures are declared once, as a table of fields (name, byte offset, type), and
// read through that table: the offsets can be checked against FreeBSD's headers line by line,
// and no reader hard-codes an offset of its own. Everything FFS writes on x86 is little-endian.

export type IntType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64';

export type FieldSpec = readonly [offset: number, type: IntType] | readonly [offset: number, type: 'bytes', length: number];

export type Fields = Record<string, FieldSpec>;

/** The decoded structure: integers as numbers, byte arrays as Buffers (views). */
export type Decoded<F extends Fields> = {
  [K in keyof F]: F[K] extends readonly [number, 'bytes', number] ? Buffer : number;
};

const WIDTH: Record<IntType, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, u64: 8, i64: 8 };

/**
 * A 64-bit little-endian integer as a number. Values past 2^53 lose precision, which is fine:
 * every such value is absurd for a filesystem on a disk of this world and is rejected by the
 * sanity checks that follow, which only need to see that it is large.
 */
export function readU64(buf: Uint8Array, off: number): number {
  const b = buf as Buffer;
  return b.readUInt32LE(off + 4) * 0x1_0000_0000 + b.readUInt32LE(off);
}

export function readI64(buf: Uint8Array, off: number): number {
  const b = buf as Buffer;
  return b.readInt32LE(off + 4) * 0x1_0000_0000 + b.readUInt32LE(off);
}

export function readField(buf: Buffer, base: number, type: IntType): number {
  switch (type) {
    case 'u8':
      return buf.readUInt8(base);
    case 'i8':
      return buf.readInt8(base);
    case 'u16':
      return buf.readUInt16LE(base);
    case 'i16':
      return buf.readInt16LE(base);
    case 'u32':
      return buf.readUInt32LE(base);
    case 'i32':
      return buf.readInt32LE(base);
    case 'u64':
      return readU64(buf, base);
    case 'i64':
      return readI64(buf, base);
  }
}

export interface Layout<F extends Fields> {
  /** Name of the C structure, for messages. */
  readonly name: string;
  /** sizeof(struct ...). */
  readonly size: number;
  readonly fields: F;
  /** Decode the structure starting at `base` (which must leave `size` bytes in `buf`). */
  read(buf: Buffer, base?: number): Decoded<F>;
  /** Byte offset of one field within the structure. */
  offsetOf(field: keyof F): number;
}

type Reader = (buf: Buffer, at: number) => number;

const READERS: Record<IntType, Reader> = {
  u8: (b, at) => b.readUInt8(at),
  i8: (b, at) => b.readInt8(at),
  u16: (b, at) => b.readUInt16LE(at),
  i16: (b, at) => b.readInt16LE(at),
  u32: (b, at) => b.readUInt32LE(at),
  i32: (b, at) => b.readInt32LE(at),
  u64: readU64 as Reader,
  i64: readI64 as Reader,
};

/**
 * Declare a structure. Fields must lie within `size`; checked once, here. Byte-array fields are
 * decoded as views into the buffer read from (copy them to keep them past that buffer's use).
 */
export function layout<F extends Fields>(name: string, size: number, fields: F): Layout<F> {
  const entries = Object.entries(fields) as [keyof F & string, FieldSpec][];
  for (const [key, spec] of entries) {
    const width = spec[1] === 'bytes' ? spec[2] : WIDTH[spec[1]];
    if (spec[0] < 0 || spec[0] + width > size) throw new Error(`layout ${name}.${key} does not fit in ${size} bytes`);
  }
  // One reader per field, chosen once.
  const plan = entries.map(([key, spec]) => ({ key, off: spec[0], len: spec[1] === 'bytes' ? spec[2] : 0, rd: spec[1] === 'bytes' ? null : READERS[spec[1]] }));
  return {
    name,
    size,
    fields,
    read(buf: Buffer, base = 0): Decoded<F> {
      const out: Record<string, number | Buffer> = {};
      for (const f of plan) out[f.key] = f.rd ? f.rd(buf, base + f.off) : buf.subarray(base + f.off, base + f.off + f.len);
      return out as Decoded<F>;
    },
    offsetOf(field: keyof F): number {
      return fields[field]![0];
    },
  };
}
