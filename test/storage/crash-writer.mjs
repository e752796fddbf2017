// Child process for the kill -9 test: writes and discards at random through the built
// qcow2 BlockDevice, flushing now and then, and logs each operation *before* doing it
// ("W off len byte", "D off len") and each completed flush ("F") with synchronous
// writes to stdout, so the parent knows what may and what must be on disk when it
// kills this process.
import fs from 'node:fs';
import { openImage } from '../../dist/storage/open-image.js';

const [path, seedText] = process.argv.slice(2);
let a = Number(seedText) >>> 0;
const rand = () => {
  a = (a + 0x6d2b79f5) >>> 0;
  let t = a;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const log = (s) => fs.writeSync(1, `${s}\n`);
const dev = openImage(path, { readOnly: false });
log('ready');
for (let op = 0; ; op++) {
  const len = 1 + Math.floor(rand() * (rand() < 0.2 ? 300000 : 20000));
  const off = Math.floor(rand() * (dev.size - len));
  if (rand() < 0.1) {
    log(`D ${off} ${len}`);
    dev.discard(off, len);
  } else {
    const byte = 1 + Math.floor(rand() * 255);
    log(`W ${off} ${len} ${byte}`);
    dev.write(off, Buffer.alloc(len, byte));
  }
  if (rand() < 0.15) {
    dev.flush();
    log('F');
  }
}
