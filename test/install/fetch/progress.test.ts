// Progress output: a cli-progress bar (bytes, rate, ETA) on a TTY, plain lines otherwise.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { barProgress, lineProgress, progressFor } from '../../../src/install/fetch/progress.js';

function sink(isTTY: boolean): Writable & { isTTY: boolean; columns: number; text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as Writable & { isTTY: boolean; columns: number; text: () => string; cursorTo: () => boolean; clearLine: () => boolean; moveCursor: () => boolean };
  w.isTTY = isTTY;
  w.columns = 120;
  // What cli-progress calls on a terminal stream.
  w.cursorTo = () => true;
  w.clearLine = () => true;
  w.moveCursor = () => true;
  w.text = () => chunks.join('');
  return w;
}

describe('progress', () => {
  it('draws a bar with bytes, rate and ETA on a TTY', () => {
    const out = sink(true);
    const p = barProgress(out);
    p.start('vmlinuz', 4 * 1024 * 1024);
    p.update(2 * 1024 * 1024);
    p.done(4 * 1024 * 1024);
    const text = out.text();
    expect(text).toMatch(/vmlinuz \[[^\]]+\] 100% 4\.0 MiB [0-9.]+ [KMG]?i?B\/s ETA/);
  });

  it('picks the bar on a TTY and plain lines elsewhere', () => {
    const tty = sink(true);
    const plain = sink(false);
    const a = progressFor(tty);
    const b = progressFor(plain);
    a.start('initrd', 100);
    a.done(100);
    b.start('initrd', 100);
    b.update(60);
    b.done(100);
    expect(tty.text()).toContain('[');
    expect(plain.text()).toBe('fetching initrd (100 B)\nfetching initrd: 25%\nfetching initrd: 50%\nfetched initrd (100 B)\n');
    const unknown = sink(false);
    const c = lineProgress(unknown);
    c.start('x', undefined);
    c.update(5);
    c.done(5);
    expect(unknown.text()).toBe('fetching x\nfetched x (5 B)\n');
  });
});
