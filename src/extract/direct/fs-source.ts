// The filesystem a direct tree's files are read from, for as long as anyone reads them. While the
// extraction is open the files are read through it; after close() (the pipeline closes the image
// before it returns its result, but a terminal UI opens files later) a read opens the layer's
// chain again, read-only, for the duration of that read only, so no file descriptor outlives it.

import { SliceDevice } from '../../image/block-device.js';
import type { ChainDevice } from '../../image/chain-device.js';
import { FfsFilesystem } from '../../fs/ffs/index.js';

export interface FsSourceSpec {
  /** Opens the layer's chain again (read-only). */
  reopen(): ChainDevice;
  partitionOffset: number;
  partitionSize: number;
}

export class FsSource {
  private live: { disk: ChainDevice; fs: FfsFilesystem } | null;

  constructor(
    private readonly spec: FsSourceSpec,
    disk: ChainDevice,
    fs: FfsFilesystem,
  ) {
    this.live = { disk, fs };
  }

  /** Run `fn` with the filesystem open (reopened just for it after close). */
  with<T>(fn: (fs: FfsFilesystem) => T): T {
    if (this.live) return fn(this.live.fs);
    const { disk, fs } = this.open();
    try {
      return fn(fs);
    } finally {
      disk.close();
    }
  }

  /** The filesystem held open until `release` (a streaming reader's lifetime). */
  hold(): { fs: FfsFilesystem; release: () => void } {
    if (this.live) return { fs: this.live.fs, release: () => {} };
    const { disk, fs } = this.open();
    return { fs, release: () => disk.close() };
  }

  close(): void {
    this.live?.disk.close();
    this.live = null;
  }

  private open(): { disk: ChainDevice; fs: FfsFilesystem } {
    const disk = this.spec.reopen();
    try {
      const part = new SliceDevice(disk, this.spec.partitionOffset, this.spec.partitionSize, `${disk.name} partition at ${this.spec.partitionOffset}`);
      return { disk, fs: FfsFilesystem.open(part) };
    } catch (err) {
      disk.close();
      throw err;
    }
  }
}
