// The kernel release (`uname -r`) a bzImage was built as, read from its setup header:
// the kernel_version field at 0x20E points (relative to 0x200) at a NUL-terminated
// string that starts with the release (Linux boot protocol, Documentation/arch/x86/
// boot.rst, "kernel_version").
import { TsvirtError } from '../../lib/errors.js';

export function bzImageRelease(kernel: Uint8Array, what: string): string {
  const dv = new DataView(kernel.buffer, kernel.byteOffset, kernel.byteLength);
  if (kernel.length < 0x260 || dv.getUint32(0x202, true) !== 0x53726448) {
    throw new TsvirtError(`${what} is not a Linux bzImage (no "HdrS" setup header)`);
  }
  const ptr = dv.getUint16(0x20e, true);
  if (ptr === 0) throw new TsvirtError(`${what} does not record its kernel version`);
  const start = ptr + 0x200;
  let end = start;
  while (end < kernel.length && end < start + 256 && kernel[end] !== 0) end++;
  const release = Buffer.from(kernel.subarray(start, end)).toString('latin1').split(' ')[0];
  if (!/^[0-9][\w.+~-]*$/.test(release)) throw new TsvirtError(`${what} records an unreadable kernel version`);
  return release;
}
