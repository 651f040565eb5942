// The layering of design.md section 8, checked on every `npm test` (issue 11):
//   cli → tui → diagnose/audit → extract → store/vm/image/volume/fs/classify → report/tree/util
// and inside the in-process reader, image → volume → fs as The Sleuth Kit layers them: a
// filesystem reader takes a block device and knows nothing of partitions or qcow2.
const up = (from, to, comment) => ({
  name: `${from}-not-to-${to}`.replace(/[|()^\\/]/g, '-').replace(/-+/g, '-'),
  comment,
  severity: 'error',
  from: { path: `^src/(${from})/` },
  to: { path: `^src/(${to})/` },
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'Modules form no cycles.', from: {}, to: { circular: true } },
    up('util', 'cli|tui|diagnose|audit|extract|store|vm|image|volume|fs|classify|report|tree', 'util is the bottom: it imports nothing of the tool.'),
    up('tree|report', 'cli|tui|diagnose|audit|extract|store|vm|image|volume|fs|classify', 'The data model and its renderings sit below every producer and consumer.'),
    up('store|vm|image|volume|fs|classify', 'cli|tui|diagnose|audit|extract', 'Readers and the classifier never reach up the pipeline.'),
    up('image', 'volume|fs|store|vm|classify', 'The image layer knows nothing of partitions, filesystems or the store.'),
    up('volume', 'fs|store|vm|classify', 'Partition tables know nothing of filesystems or the store.'),
    up('fs', 'volume|store|vm|classify', 'A filesystem reader takes a block device: no partitions, no qcow2, no store.'),
    up('classify', 'store|vm|image|volume|fs', 'The classifier works on trees and bytes only.'),
    up('store', 'vm|volume|fs|classify', 'The store reads headers and metadata only.'),
    up('vm', 'store|image|volume|fs|classify', 'The VM layer boots the chain it is given.'),
    up('extract', 'cli|tui|diagnose|audit', 'Producers do not know who consumes them.'),
    up('diagnose|audit', 'cli|tui', 'Pipelines do not know their front ends.'),
    up('audit', 'diagnose', 'The audit may be read by diagnose (its cached verdicts), not the reverse.'),
    up('tui', 'cli', 'The UI does not reach into the command line.'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.tsx', '.js'] },
  },
};
