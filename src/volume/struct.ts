// On-disk structures declared once, as ordered field lists like the C structs they come from, and
// read (or, for the test writer, written) through that declaration. Offsets are derived by summing
// field sizes in order, so a table reads like the header it was taken from and cannot drift from it.
// Every structure here is little-endian on disk (MBR, GPT per UEFI, disklabels as amd64 writes them).

/** A field: an unsigned little-endian integer, or a run of raw bytes of the given length. */
export type FieldKind = 'u8' | 'u16' | 'u32' | 'u64' | { bytes: number };

export type FieldList = readonly (readonly [string, FieldKind])[];

type NameOf<F extends FieldList> = F[number][0];

function widthOf(kind: FieldKind): number {
  if (typeof kind === 'object') return kind.bytes;
  return { u8: 1, u16: 2, u32: 4, u64: 8 }[kind];
}

export class Struct<F extends FieldList> {
  /** Bytes from the first field to the end of the last. */
  readonly size: number;
  readonly offset: Readonly<Record<NameOf<F>, number>>;
  private readonly kinds: Readonly<Record<string, FieldKind>>;

  constructor(
    readonly name: string,
    fields: F,
  ) {
    const offset: Record<string, number> = {};
    const kinds: Record<string, FieldKind> = {};
    let at = 0;
    for (const [n, kind] of fields) {
      offset[n] = at;
      kinds[n] = kind;
      at += widthOf(kind);
    }
    this.size = at;
    this.offset = offset as Record<NameOf<F>, number>;
    this.kinds = kinds;
  }

  width(field: NameOf<F>): number {
    return widthOf(this.kinds[field]!);
  }

  /** A view of one instance of the structure at `base` in `buf` (which must hold all of it). */
  at(buf: Uint8Array, base = 0): StructView<F> {
    if (base < 0 || base + this.size > buf.length) {
      // A programming error: callers size their buffers from the structure, never from disk data.
      throw new RangeError(`${this.name}: ${this.size} bytes at ${base} do not fit in a ${buf.length}-byte buffer`);
    }
    return new StructView(this, buf, base);
  }

  kind(field: NameOf<F>): FieldKind {
    return this.kinds[field]!;
  }
}

export class StructView<F extends FieldList> {
  private readonly dv: DataView;

  constructor(
    readonly struct: Struct<F>,
    readonly buf: Uint8Array,
    readonly base: number,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  private where(field: NameOf<F>, want: FieldKind): number {
    const kind = this.struct.kind(field);
    if (kind !== want && !(typeof want === 'object' && typeof kind === 'object')) {
      throw new TypeError(`${this.struct.name}.${field} is ${JSON.stringify(kind)}, not ${JSON.stringify(want)}`);
    }
    return this.base + this.struct.offset[field];
  }

  u8(field: NameOf<F>): number {
    return this.dv.getUint8(this.where(field, 'u8'));
  }
  u16(field: NameOf<F>): number {
    return this.dv.getUint16(this.where(field, 'u16'), true);
  }
  u32(field: NameOf<F>): number {
    return this.dv.getUint32(this.where(field, 'u32'), true);
  }
  u64(field: NameOf<F>): bigint {
    return this.dv.getBigUint64(this.where(field, 'u64'), true);
  }
  /** Writers must not wrap silently: a value that does not fit is a bug in the caller. */
  private fits(field: NameOf<F>, v: number, bits: number): number {
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new RangeError(`${this.struct.name}.${field}: ${v} does not fit in ${bits} bits`);
    return v;
  }

  bytes(field: NameOf<F>): Uint8Array {
    const at = this.where(field, { bytes: 0 });
    return this.buf.subarray(at, at + this.struct.width(field));
  }

  setU8(field: NameOf<F>, v: number): void {
    this.dv.setUint8(this.where(field, 'u8'), this.fits(field, v, 8));
  }
  setU16(field: NameOf<F>, v: number): void {
    this.dv.setUint16(this.where(field, 'u16'), this.fits(field, v, 16), true);
  }
  setU32(field: NameOf<F>, v: number): void {
    this.dv.setUint32(this.where(field, 'u32'), this.fits(field, v, 32), true);
  }
  setU64(field: NameOf<F>, v: bigint): void {
    this.dv.setBigUint64(this.where(field, 'u64'), v, true);
  }
  setBytes(field: NameOf<F>, v: Uint8Array): void {
    const at = this.where(field, { bytes: 0 });
    const w = this.struct.width(field);
    if (v.length > w) throw new RangeError(`${this.struct.name}.${field}: ${v.length} bytes do not fit in ${w}`);
    this.buf.fill(0, at, at + w);
    this.buf.set(v, at);
  }
}
