import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT_TYPE, readPartitionTable, spaceAfter, writePartitionTable } from '../../../src/storage/partition/partition-table.js';
import { RawImage } from '../../../src/storage/raw-image.js';

const MiB = 1024 * 1024;
let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'tsvirt-part-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function blankDisk(name: string, bytes: number): string {
  const p = join(dir, name);
  writeFileSync(p, '');
  truncateSync(p, bytes);
  return p;
}

interface SfdiskPartition { node: string; start: number; size: number; type: string; bootable?: boolean; name?: string; uuid?: string }
function sfdisk(path: string): { label: string; partitions: SfdiskPartition[] } {
  return JSON.parse(execFileSync('sfdisk', ['--json', path], { encoding: 'utf8' })).partitiontable;
}

describe('partition tables', () => {
  it.each(['mbr', 'gpt'] as const)('a %s table tsvirt writes is what sfdisk reads, and verifies clean', (scheme) => {
    const path = blankDisk(`w-${scheme}.img`, 200 * MiB);
    const dev = RawImage.open(path, { readOnly: false });
    const used = 64 * MiB + 32 * MiB;
    const table = writePartitionTable(dev, scheme, [
      { sizeBytes: 64 * MiB, kind: 'linux', bootable: true, name: 'boot' },
      { sizeBytes: 32 * MiB, kind: 'swap', name: 'swap' },
      { sizeBytes: spaceAfter(dev.size, scheme, used), kind: 'linux', name: 'root' },
    ]);
    dev.close();
    const sf = sfdisk(path);
    expect(sf.label).toBe(scheme === 'mbr' ? 'dos' : 'gpt');
    expect(sf.partitions.map((p) => [p.start * 512, p.size * 512])).toEqual(table.partitions.map((p) => [p.startBytes, p.sizeBytes]));
    if (scheme === 'mbr') {
      expect(sf.partitions.map((p) => p.type)).toEqual(['83', '82', '83']);
      expect(sf.partitions[0].bootable).toBe(true);
    } else {
      expect(sf.partitions.map((p) => p.type.toLowerCase())).toEqual([GPT_TYPE.linux, GPT_TYPE.swap, GPT_TYPE.linux]);
      expect(sf.partitions.map((p) => p.name)).toEqual(['boot', 'swap', 'root']);
      expect(sf.partitions.map((p) => p.uuid?.toLowerCase())).toEqual(table.partitions.map((p) => p.uuid));
    }
    // sfdisk --verify exits 0 and reports no problems for a consistent table.
    const verify = execFileSync('sfdisk', ['--verify', path], { encoding: 'utf8' });
    expect(verify).toMatch(/No errors detected/);
    expect(verify).not.toMatch(/overlap|corrupt|invalid/i);
    // And tsvirt reads back what it wrote.
    const back = readPartitionTable(RawImage.open(path, { readOnly: true }));
    expect(back.partitions.map((p) => [p.number, p.startBytes, p.sizeBytes, p.type])).toEqual(
      table.partitions.map((p) => [p.number, p.startBytes, p.sizeBytes, p.type]),
    );
    expect(back.diskId).toBe(table.diskId);
  });

  it.each([
    ['dos', 'label: dos\nstart=2048, size=100M, type=83, bootable\nsize=20M, type=82\n'],
    ['gpt', 'label: gpt\nstart=2048, size=100M, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name=root\nsize=20M, type=0657FD6D-A4AB-43C4-84E5-0933C84B4F4F\n'],
  ])('reads a %s table sfdisk wrote', (label, script) => {
    const path = blankDisk(`r-${label}.img`, 200 * MiB);
    execFileSync('sfdisk', ['--no-reread', '-q', path], { input: script });
    const table = readPartitionTable(RawImage.open(path, { readOnly: true }));
    const sf = sfdisk(path);
    expect(table.scheme).toBe(label === 'dos' ? 'mbr' : 'gpt');
    expect(table.partitions.map((p) => [p.startBytes, p.sizeBytes])).toEqual(sf.partitions.map((p) => [p.start * 512, p.size * 512]));
  });

  it('refuses layouts that do not fit, and more than four MBR partitions', () => {
    const dev = RawImage.open(blankDisk('small.img', 64 * MiB), { readOnly: false });
    expect(() => writePartitionTable(dev, 'gpt', [{ sizeBytes: 64 * MiB, kind: 'linux' }])).toThrow(/partition 1 \(64 MiB\) does not fit the 64 MiB disk/);
    expect(() => writePartitionTable(dev, 'mbr', Array(5).fill({ sizeBytes: MiB, kind: 'linux' }))).toThrow(/do not fit an MBR without logical partitions/);
    dev.close();
  });

  it('refuses hostile tables: bad GPT checksums, partitions past the end', () => {
    const path = blankDisk('hostile.img', 100 * MiB);
    const dev = RawImage.open(path, { readOnly: false });
    writePartitionTable(dev, 'gpt', [{ sizeBytes: 10 * MiB, kind: 'linux' }]);
    dev.close();
    const good = readFileSync(path);
    const mutate = (f: (b: Buffer) => void): string => {
      const b = Buffer.from(good);
      f(b);
      writeFileSync(path, b);
      try {
        readPartitionTable(RawImage.open(path, { readOnly: true }));
        return 'no error';
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(mutate((b) => (b[512 + 24] ^= 1))).toMatch(/GPT header checksum mismatch/);
    expect(mutate((b) => (b[1024 + 32] ^= 1))).toMatch(/GPT partition entries checksum mismatch/);
    // An MBR partition that claims sectors past the end.
    expect(
      mutate((b) => {
        b.fill(0, 0, 1024);
        b.writeUInt16LE(0xaa55, 510);
        b[0x1be + 4] = 0x83;
        b.writeUInt32LE(2048, 0x1be + 8);
        b.writeUInt32LE(0xfffffff, 0x1be + 12);
      }),
    ).toMatch(/MBR partition 1 runs past the end of the disk/);
  });
});
