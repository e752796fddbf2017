// The built `tsvirt img` commands against qemu-img: same JSON for info, same exit codes
// for check, one ERROR line for the user's mistakes.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnCli, type CliResult } from '../../support/spawn-cli.js';
import { makeTmpDir, patch, qemuCheck, qemuImg, qemuInfo, qemuIo, readFileRange } from '../../storage/helpers.js';

const bin = fileURLToPath(new URL('../../../bin/tsvirt', import.meta.url));
const tmp = makeTmpDir('tsvirt-img-cli-');
afterAll(() => tmp.cleanup());

/** Runs the built CLI without blocking the test worker (the CLI takes a while to start). */
function tsvirt(...args: string[]): Promise<CliResult> {
  return spawnCli(bin, args, { cwd: tmp.dir });
}

const KEYS = ['virtual-size', 'format', 'cluster-size', 'backing-filename', 'backing-filename-format', 'dirty-flag', 'format-specific'];

describe('tsvirt img', () => {
  // Every variant is covered through the library in test/storage/create-image.test.ts;
  // these go through the CLI end to end.
  it.each([
    ['a.qcow2', ['-f', 'qcow2', 'a.qcow2', '1G']],
    ['b.qcow2', ['-f', 'qcow2', '-o', 'cluster_size=4k,lazy_refcounts=on,refcount_bits=8,preallocation=metadata', 'b.qcow2', '30M']],
    ['e.raw', ['-f', 'raw', '-o', 'preallocation=full', 'e.raw', '2M']],
    ['f.qcow2', ['-f', 'qcow2', '-b', 'a.qcow2', '-F', 'qcow2', 'f.qcow2']],
  ])('create %s: qemu-img check passes and info --output json agrees', async (file, args) => {
    const r = await tsvirt('img', 'create', ...args);
    expect(r.status, r.stderr).toBe(0);
    const ours = JSON.parse((await tsvirt('img', 'info', '--output', 'json', file)).stdout);
    const theirs = qemuInfo(tmp.file(file));
    for (const k of KEYS) expect(ours[k], k).toEqual(theirs[k]);
    if (file.endsWith('.qcow2')) expect(qemuCheck(tmp.file(file)).status).toBe(0);
  });

  it('check: exit 0 clean, 3 leaks, 2 corruption, 1 could not check; -r leaks repairs', async () => {
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', tmp.file('k.qcow2'), '16M');
    qemuIo(tmp.file('k.qcow2'), ['write -P 1 0 64k']);
    let r = await tsvirt('img', 'check', 'k.qcow2');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/No errors were found on the image/);
    const reft = Number(readFileRange(tmp.file('k.qcow2'), 48, 8).readBigUInt64BE());
    const block = Number(readFileRange(tmp.file('k.qcow2'), reft, 8).readBigUInt64BE());
    fs.truncateSync(tmp.file('k.qcow2'), 200 * 4096);
    patch(tmp.file('k.qcow2'), block + 150 * 2, Buffer.from([0, 1]));
    r = await tsvirt('img', 'check', 'k.qcow2');
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/Leaked cluster 150 refcount=1 reference=0/);
    const json = JSON.parse((await tsvirt('img', 'check', '--output', 'json', 'k.qcow2')).stdout);
    expect(json.leaks).toBe(1);
    r = await tsvirt('img', 'check', '-r', 'leaks', 'k.qcow2');
    expect(r.status).toBe(0);
    expect(qemuCheck(tmp.file('k.qcow2')).status).toBe(0);
    const l1 = Number(readFileRange(tmp.file('k.qcow2'), 40, 8).readBigUInt64BE());
    patch(tmp.file('k.qcow2'), block + (l1 / 4096) * 2, Buffer.from([0, 0]));
    expect((await tsvirt('img', 'check', 'k.qcow2')).status).toBe(2);
    patch(tmp.file('k.qcow2'), 36, Buffer.from([0x7f, 0xff, 0xff, 0xff]));
    r = await tsvirt('img', 'check', 'k.qcow2');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^ERROR could not check k\.qcow2: .*exceeds/);
  });

  it('convert: sparse raw and qcow2 outputs identical to the source, -p prints plain progress lines off a TTY', async () => {
    qemuImg('create', '-q', '-f', 'qcow2', tmp.file('src.qcow2'), '64M');
    qemuIo(tmp.file('src.qcow2'), ['write -P 0x5a 1M 2M', 'write -P 0 10M 1M', 'write -P 0x7 40M 100k']);
    let r = await tsvirt('img', 'convert', '-p', '-O', 'raw', 'src.qcow2', 'out.raw');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\(100\.00\/100%\)/);
    expect(qemuImg('compare', tmp.file('src.qcow2'), tmp.file('out.raw'))).toMatch(/identical/);
    expect(fs.statSync(tmp.file('out.raw')).blocks * 512).toBeLessThan(4 * 2 ** 20); // zeros stayed holes
    r = await tsvirt('img', 'convert', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=4k', 'out.raw', 'out.qcow2');
    expect(r.status, r.stderr).toBe(0);
    expect(qemuImg('compare', tmp.file('src.qcow2'), tmp.file('out.qcow2'))).toMatch(/identical/);
    expect(qemuCheck(tmp.file('out.qcow2')).status).toBe(0);
    const map = JSON.parse(qemuImg('map', '--output', 'json', tmp.file('out.qcow2'))) as Array<{ length: number; data: boolean }>;
    const allocated = map.filter((m) => m.data).reduce((a, m) => a + m.length, 0);
    expect(allocated).toBeLessThanOrEqual(2 * 2 ** 20 + 100 * 1024 + 8192);
  });

  it('resize: grows qcow2 and raw; refuses to shrink without --shrink', async () => {
    await tsvirt('img', 'create', '-f', 'qcow2', 'r.qcow2', '1G');
    expect((await tsvirt('img', 'resize', 'r.qcow2', '+3G')).status).toBe(0);
    expect(qemuInfo(tmp.file('r.qcow2'))['virtual-size']).toBe(4 * 2 ** 30);
    expect(qemuCheck(tmp.file('r.qcow2')).status).toBe(0);
    await tsvirt('img', 'create', '-f', 'raw', 'r.raw', '10M');
    let r = await tsvirt('img', 'resize', 'r.raw', '-5M');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^ERROR shrinking r\.raw .* would lose data; pass --shrink/);
    r = await tsvirt('img', 'resize', '--shrink', 'r.raw', '-5M');
    expect(r.status, r.stderr).toBe(0);
    expect(fs.statSync(tmp.file('r.raw')).size).toBe(5 * 2 ** 20);
    r = await tsvirt('img', 'resize', 'r.qcow2', '1G');
    expect(r.stderr).toMatch(/^ERROR shrinking qcow2 images is not supported yet/);
  });

  it('user errors are one ERROR line with exit 1', async () => {
    for (const [args, pattern] of [
      [['img', 'info', 'missing.qcow2'], /^ERROR image missing\.qcow2 does not exist; check the path\n$/],
      [['img', 'create', '-f', 'qcow2', 'x.qcow2', '12Q'], /^ERROR invalid size '12Q'/],
      [['img', 'create', '-f', 'qcow2', 'x.qcow2'], /^ERROR image size is missing/],
      [['img', 'create', '-f', 'qcow2', '-o', 'cluster_size=1000', 'x.qcow2', '1G'], /^ERROR invalid cluster_size 1000/],
    ] as const) {
      const r = await tsvirt(...args);
      expect(r.status, r.stderr).toBe(1);
      expect(r.stderr).toMatch(pattern);
    }
    expect(fs.existsSync(tmp.file('x.qcow2'))).toBe(false);
  });
});
