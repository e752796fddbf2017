import { it } from 'vitest';
import { readFileSync } from 'node:fs';
import { assemble } from '../support/toolchain.js';
import { runOnQemu } from '../support/qemu-reference.js';
it('q', () => {
  for (const n of (process.env.PROGS ?? '').split(' ')) {
    const src = readFileSync(`test/vm/cpu/guest/${n}`, 'utf8');
    const b = assemble(src, { bits: 64, baseAddress: 0x7c00, includeDir: 'test/vm/cpu/guest' }).bytes;
    const r = runOnQemu(b);
    console.log(n, r.result?.toString(16), JSON.stringify(r.console));
  }
});
