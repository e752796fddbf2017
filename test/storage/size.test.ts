import { describe, expect, it } from 'vitest';
import { TsvirtError } from '../../src/lib/errors.js';
import { formatSize, parseSize, parseSizeChange } from '../../src/storage/size.js';

describe('image sizes (qemu-img syntax)', () => {
  it.each([
    ['0', 0], ['512', 512], ['1k', 1024], ['1K', 1024], ['64k', 65536], ['10M', 10 << 20], ['1G', 2 ** 30],
    ['2T', 2 * 2 ** 40], ['1.5G', 1.5 * 2 ** 30], ['4096b', 4096],
  ])('parses %s', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'abc', '1X', '-1G', '1.0000001k', '9E'])('refuses %s with a TsvirtError', (text) => {
    expect(() => parseSize(text)).toThrow(TsvirtError);
  });

  it('parses resize deltas', () => {
    expect(parseSizeChange('+1G')).toEqual({ kind: 'grow', deltaBytes: 2 ** 30 });
    expect(parseSizeChange('-512M')).toEqual({ kind: 'shrink', deltaBytes: 2 ** 29 });
    expect(parseSizeChange('20G')).toEqual({ kind: 'absolute', sizeBytes: 20 * 2 ** 30 });
  });

  it('formats like qemu-img info', () => {
    expect(formatSize(2 ** 30)).toBe('1 GiB');
    expect(formatSize(512)).toBe('512 B');
    expect(formatSize(1536)).toBe('1.5 KiB');
  });
});
