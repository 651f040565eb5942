// A report as the boot pipeline makes it, for renderer tests.
import type { Report } from '../../src/report/schema.js';

export function sampleReport(): Report {
  return {
    schema: 'layer-forensics.report/v1',
    layer: { id: 'ab'.repeat(32), image: '/s/result/x/rootfs/image.qcow2', chain: ['/s/result/x/rootfs/image.qcow2', '/s/base-image/b.qcow2'] },
    extraction: { via: 'boot', accel: 'tcg', guestOs: 'linux', dst: '/home/opam/src', files: 2, bytes: 10, blockSize: 512, privilege: 'none' },
    files: [
      {
        path: 'a.opam',
        class: 'match',
        kind: 'file',
        expectedSize: 5,
        actualSize: 5,
        expectedSha256: 'x',
        actualSha256: 'x',
        provenance: null,
        regions: [],
        detail: {},
      },
    ],
    verdict: { kind: 'clean', summary: 'All 1 expected file match their sources.', evidence: [], advice: [] },
    layerUnchanged: true,
    timings: { overlayMs: 1, bootMs: 2, extractMs: 3, classifyMs: 4, totalMs: 10 },
  };
}
