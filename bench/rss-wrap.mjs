// Runs the built CLI in this process and reports its peak resident set size on stderr at exit
// (`maxrss-kb=N`): the benchmarks' way to measure a whole `layer-forensics` run.
import { join } from 'node:path';

const main = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
process.argv.splice(1, 1, main);
process.on('exit', () => process.stderr.write(`maxrss-kb=${process.resourceUsage().maxRSS}\n`));
await import(main);
