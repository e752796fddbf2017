// `qemu-img check` for any image: qcow2 is checked (qcow2/check.ts); raw has nothing to
// check, which qemu-img reports with exit code 63. Exit codes follow qemu-img: 0 clean,
// 1 the check could not be completed, 2 corruptions, 3 leaked clusters only.
import { TsvirtError } from '../lib/errors.js';
import { type ImageFormat, probeFormat } from './open-image.js';
import { type Qcow2CheckResult, type RepairMode, checkQcow2 } from './qcow2/check.js';

export type { RepairMode };
export interface CheckReport extends Qcow2CheckResult { filename: string; format: ImageFormat }

export function checkImage(path: string, opts: { format?: ImageFormat; repair?: RepairMode; forceShare?: boolean } = {}): CheckReport {
  const format = opts.format ?? probeFormat(path);
  if (format !== 'qcow2') throw new TsvirtError(`${path}: this image format (${format}) does not support checks`, 'only qcow2 images have metadata to check', { exitCode: 63 });
  try {
    return { ...checkQcow2(path, { repair: opts.repair, forceShare: opts.forceShare }), filename: path, format };
  } catch (err) {
    if (err instanceof TsvirtError) throw new TsvirtError(`could not check ${path}: ${err.message}`, err.hint, { exitCode: 1, cause: err });
    throw err;
  }
}

export function checkExitCode(r: CheckReport): number {
  if (r.checkErrors > 0) return 1;
  if (r.corruptions > 0) return 2;
  if (r.leaks > 0) return 3;
  return 0;
}

/** qemu-img check's human report (qemu-img.c check_and_print). */
export function formatCheckReport(r: CheckReport): string {
  let out = '';
  if (r.leaksFixed > 0 || r.corruptionsFixed > 0) {
    out += `The following inconsistencies were found and repaired:\n\n    ${r.leaksFixed} leaked clusters\n    ${r.corruptionsFixed} corruptions\n\nDouble checking the fixed image now...\n`;
  }
  if (r.corruptions === 0 && r.leaks === 0 && r.checkErrors === 0) {
    out += 'No errors were found on the image.\n';
  } else {
    if (r.corruptions > 0) out += `\n${r.corruptions} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.\n`;
    if (r.leaks > 0) out += `\n${r.leaks} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.\n`;
    if (r.checkErrors > 0) out += `\n${r.checkErrors} internal errors have occurred during the check.\n`;
  }
  if (r.totalClusters > 0 && r.allocatedClusters > 0) {
    const pct = (n: number): string => ((n * 100) / r.allocatedClusters).toFixed(2);
    out += `${r.allocatedClusters}/${r.totalClusters} = ${((r.allocatedClusters * 100) / r.totalClusters).toFixed(2)}% allocated, ${pct(r.fragmentedClusters)}% fragmented, ${pct(r.compressedClusters)}% compressed clusters\n`;
  }
  if (r.imageEndOffset > 0) out += `Image end offset: ${r.imageEndOffset}\n`;
  return out;
}

/** qemu-img check --output json. */
export function checkReportJson(r: CheckReport): Record<string, unknown> {
  const o: Record<string, unknown> = {
    'image-end-offset': r.imageEndOffset,
    'total-clusters': r.totalClusters,
    'check-errors': r.checkErrors,
    filename: r.filename,
    format: r.format,
  };
  // Like qemu-img, only the nonzero allocation counters are reported.
  if (r.allocatedClusters > 0) o['allocated-clusters'] = r.allocatedClusters;
  if (r.fragmentedClusters > 0) o['fragmented-clusters'] = r.fragmentedClusters;
  if (r.compressedClusters > 0) o['compressed-clusters'] = r.compressedClusters;
  if (r.leaks > 0) o.leaks = r.leaks;
  if (r.corruptions > 0) o.corruptions = r.corruptions;
  if (r.leaksFixed > 0) o['leaks-fixed'] = r.leaksFixed;
  if (r.corruptionsFixed > 0) o['corruptions-fixed'] = r.corruptionsFixed;
  return o;
}
