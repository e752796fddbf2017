// The tsvirt side of the writer loop in crash-loop.mjs: runs a list of operations on a
// qcow2 image through the built BlockDevice, as qemu-io runs the same list on the QEMU
// side. One operation a line:
//   W OFFSET LENGTH BYTE   write LENGTH bytes of value BYTE
//   D OFFSET LENGTH        discard
//   F                      flush; "F" is printed on stdout once flush() has returned
// The "F" lines are the only output and go out with a synchronous write, so a line the
// parent has read means the flush completed before the kill -9 (what `qemu-io -c flush
// -c length` under `stdbuf -oL` means on the QEMU side). Exits 0 after the last operation.
// Usage: node bench/storage/crash-writer.mjs IMAGE OPS_FILE
import fs from 'node:fs';
import { openImage } from '../../dist/storage/open-image.js';

const [image, opsFile] = process.argv.slice(2);
if (!image || !opsFile) throw new Error('usage: crash-writer.mjs IMAGE OPS_FILE');
const ops = fs.readFileSync(opsFile, 'utf8').split('\n').filter((l) => l.length > 0);
const dev = openImage(image, { readOnly: false });
for (const line of ops) {
  const [kind, a, b, c] = line.split(' ');
  if (kind === 'W') dev.write(Number(a), Buffer.alloc(Number(b), Number(c)));
  else if (kind === 'D') dev.discard(Number(a), Number(b));
  else if (kind === 'F') {
    dev.flush();
    fs.writeSync(1, 'F\n');
  } else throw new Error(`crash-writer: unknown operation '${line}'`);
}
dev.close();
