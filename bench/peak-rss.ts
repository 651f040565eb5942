// Runs a command under GNU time and returns its result with its peak RSS. A process measuring
// itself (`process.resourceUsage().maxRSS`) is wrong here: Linux carries the parent's high-water
// mark across fork and exec, so a child of a 600 MB benchmark reports 600 MB. GNU time's own
// child starts from GNU time's tiny footprint.

import { execa, type Options, type Result } from 'execa';

const MARK = 'lf-bench-peak-rss-kb';

export async function withPeakRss(file: string, args: string[], options: Options = {}): Promise<{ result: Result; peakRssKb: number }> {
  const result = (await execa('/usr/bin/time', ['-f', `${MARK} %M`, file, ...args], { reject: false, ...options })) as unknown as Result;
  const stderr = String(result.stderr ?? '');
  const m = new RegExp(`${MARK} (\\d+)`).exec(stderr);
  if (!m) throw new Error(`no peak RSS from GNU time for ${file} (exit ${result.exitCode}): ${stderr.slice(0, 300)}`);
  // Keep the command's own stderr as it was, without GNU time's line.
  (result as { stderr: string }).stderr = stderr.replace(new RegExp(`\\n?${MARK} \\d+\\n?$`), '');
  return { result, peakRssKb: Number(m[1]) };
}
