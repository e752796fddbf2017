// `checkImage` against `qemu-img check` on the same damaged images: same verdicts, same
// counts, and repairs that qemu-img then finds clean.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { checkExitCode, checkImage, formatCheckReport } from '../../src/storage/check-image.js';
import { openImage } from '../../src/storage/open-image.js';
import { be64, makeTmpDir, patch, qemuCheck, qemuImg, qemuIo, readFileRange, run } from './helpers.js';
import { TsvirtError } from '../../src/lib/errors.js';

const tmp = makeTmpDir();
afterAll(() => tmp.cleanup());
let n = 0;

function image(): { path: string; reft: number; block: number } {
  const path = tmp.file(`chk${n++}.qcow2`);
  qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', path, '32M');
  qemuIo(path, ['write -P 0x33 0 1M', 'write -P 0x44 5M 300k']);
  const reft = Number(readFileRange(path, 48, 8).readBigUInt64BE());
  const block = Number(readFileRange(path, reft, 8).readBigUInt64BE());
  return { path, reft, block };
}

function agree(path: string): ReturnType<typeof checkImage> {
  const q = qemuCheck(path);
  const t = checkImage(path);
  expect(checkExitCode(t)).toBe(q.status);
  expect(t.leaks).toBe(q.json.leaks ?? 0);
  expect(t.corruptions).toBe(q.json.corruptions ?? 0);
  expect(t.imageEndOffset).toBe(q.json['image-end-offset']);
  if (q.json['allocated-clusters'] !== undefined) {
    expect(t.allocatedClusters).toBe(q.json['allocated-clusters']);
    expect(t.fragmentedClusters).toBe(q.json['fragmented-clusters'] ?? 0);
    expect(t.compressedClusters).toBe(q.json['compressed-clusters'] ?? 0);
  }
  return t;
}

describe('checkImage agrees with qemu-img check', () => {
  it('clean images (written by qemu-io, and by tsvirt)', () => {
    const { path } = image();
    const t = agree(path);
    expect(formatCheckReport(t)).toMatch(/^No errors were found on the image\.\n\d+\/8192 = .* allocated/);
    const dev = openImage(path, { readOnly: false });
    dev.write(7 * 2 ** 20 + 3, Buffer.alloc(100000, 9));
    dev.discard(0, 2 ** 19);
    dev.close();
    expect(checkExitCode(agree(path))).toBe(0);
  });

  it('leaked clusters: exit 3, then -r leaks makes qemu-img happy', () => {
    const { path, block } = image();
    // Refcount 1 for clusters 2000..2002, which nothing references (16-bit refcounts).
    fs.truncateSync(path, 2100 * 4096);
    for (const c of [2000, 2001, 2002]) patch(path, block + c * 2, Buffer.from([0, 1]));
    const t = agree(path);
    expect(t.leaks).toBe(3);
    expect(t.messages).toContain('Leaked cluster 2000 refcount=1 reference=0');
    expect(formatCheckReport(t)).toMatch(/3 leaked clusters were found on the image/);
    const fixed = checkImage(path, { repair: 'leaks' });
    expect(fixed.leaksFixed).toBe(3);
    expect(checkExitCode(fixed)).toBe(0);
    expect(formatCheckReport(fixed)).toMatch(/found and repaired:\n\n {4}3 leaked clusters/);
    expect(qemuCheck(path).status).toBe(0);
  });

  it('a refcount too low is a corruption (exit 2); -r all repairs it', () => {
    const { path, block } = image();
    const l1 = Number(readFileRange(path, 40, 8).readBigUInt64BE());
    patch(path, block + (l1 / 4096) * 2, Buffer.from([0, 0])); // the L1 table's own cluster
    const t = agree(path);
    expect(t.corruptions).toBeGreaterThan(0);
    expect(checkExitCode(t)).toBe(2);
    expect(() => openImage(path, { readOnly: false }).close()).not.toThrow();
    const fixed = checkImage(path, { repair: 'all' });
    expect(checkExitCode(fixed)).toBe(0);
    expect(qemuCheck(path).status).toBe(0);
  });

  it('a wrong COPIED flag is a corruption; -r all fixes the flag', () => {
    const { path } = image();
    const l1 = Number(readFileRange(path, 40, 8).readBigUInt64BE());
    const l2 = Number(readFileRange(path, l1, 8).readBigUInt64BE() & 0x00fffffffffffe00n);
    const e = readFileRange(path, l2, 8).readBigUInt64BE();
    patch(path, l2, be64(e & ~(1n << 63n)));
    const t = agree(path);
    expect(t.corruptions).toBe(1);
    checkImage(path, { repair: 'all' });
    expect(qemuCheck(path).status).toBe(0);
  });

  it('reserved bits set in an L2 or L1 entry are corruptions, as qemu-img reports them (issue 15)', () => {
    for (const [where, bit] of [['l2', 1n], ['l2', 8n], ['l2', 56n], ['l2', 61n], ['l1', 0n], ['l1', 60n]] as const) {
      const { path } = image();
      const l1 = Number(readFileRange(path, 40, 8).readBigUInt64BE());
      const l1e = readFileRange(path, l1, 8).readBigUInt64BE();
      if (where === 'l1') patch(path, l1, be64(l1e | (1n << bit)));
      else {
        const l2 = Number(l1e & 0x00fffffffffffe00n);
        patch(path, l2, be64(readFileRange(path, l2, 8).readBigUInt64BE() | (1n << bit)));
      }
      const t = agree(path);
      expect(t.corruptions, `${where} bit ${bit}`).toBeGreaterThanOrEqual(1);
      expect(t.messages.join('\n')).toMatch(new RegExp(`${where === 'l1' ? 'L1 entry 0' : 'L2 entry l1_index=0 l2_index=0'} has reserved bits set`));
    }
  });

  it('reserved bits in a refcount table entry: one corruption, and the block leaks, as qemu-img reports them (issue 15)', () => {
    const { path, reft } = image();
    patch(path, reft, be64(readFileRange(path, reft, 8).readBigUInt64BE() | 0x1ffn));
    const t = agree(path);
    expect(t.messages).toContain('ERROR refcount table entry 0 has reserved bits set');
    expect(t.corruptions).toBe(1);
    expect(t.leaks).toBe(1);
  });

  it('an image QEMU left dirty (lazy refcounts, crash) gets its refcounts rebuilt on a writable open', () => {
    const path = tmp.file('lazy.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096,lazy_refcounts=on', path, '16M');
    // qemu-io's abort simulates a crash: refcounts for the new clusters were never written.
    run('qemu-io', ['-c', 'write -P 0x5c 64k 1M', '-c', 'abort', path]);
    expect(readFileRange(path, 72, 8).readBigUInt64BE() & 1n).toBe(1n);
    expect(qemuCheck(path).status).toBe(2);
    const ro = openImage(path, { readOnly: true });
    ro.close(); // read-only use leaves it alone
    const dev = openImage(path, { readOnly: false });
    const back = Buffer.alloc(2 ** 20);
    dev.read(64 * 1024, back);
    expect(back.equals(Buffer.alloc(2 ** 20, 0x5c))).toBe(true);
    dev.write(5 * 2 ** 20, Buffer.alloc(8192, 1));
    dev.close();
    expect(readFileRange(path, 72, 8).readBigUInt64BE() & 1n).toBe(0n);
    expect(qemuCheck(path).status).toBe(0);
  });

  it('raw images cannot be checked (exit 63 like qemu-img)', () => {
    const p = tmp.file('r.raw');
    qemuImg('create', '-q', '-f', 'raw', p, '1M');
    let err: unknown;
    try {
      checkImage(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TsvirtError);
    expect((err as TsvirtError).exitCode).toBe(63);
  });
});
