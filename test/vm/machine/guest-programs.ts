// Tiny 32-bit flat-mode guest programs (hand-assembled, commented) and a minimal bzImage
// wrapper so the whole boot path (loader, worker, console) can run them.

const le16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];

/** mov $port,%dx ; mov $value,%al ; out %al,(%dx) */
export const outb = (port: number, value: number) => [0x66, 0xba, ...le16(port), 0xb0, value, 0xee];
/** mov $port,%dx ; mov $value,%ax ; out %ax,(%dx) */
export const outw = (port: number, value: number) => [0x66, 0xba, ...le16(port), 0x66, 0xb8, ...le16(value), 0x66, 0xef];
/** Writes a string to COM1 byte by byte. */
export const print = (s: string) => [...s].flatMap((c) => outb(0x3f8, c.charCodeAt(0)));
/** ACPI S5: PM1a_CNT (0x604) = SLP_TYP 5 | SLP_EN | SCI_EN. */
export const acpiPowerOff = () => outw(0x604, (5 << 10) | (1 << 13) | 1);
export const HLT = 0xf4;
export const CLI = 0xfa;
export const UD2 = [0x0f, 0x0b];
/** Polls LSR.DR (0x3FD) until a byte is there, reads RBR (0x3F8), loops until it is c. */
export const waitForByte = (c: number) => [0x66, 0xba, ...le16(0x3fd), 0xec, 0xa8, 0x01, 0x74, 0xfb, 0x66, 0xba, ...le16(0x3f8), 0xec, 0x3c, c, 0x75, 0xee];

/** A bzImage (boot protocol 2.06, no 64-bit entry) whose protected-mode part is `code`. */
export function bzImageOf(code: number[]): Uint8Array {
  const img = new Uint8Array(5 * 512 + Math.max(code.length, 512));
  const v = new DataView(img.buffer);
  img[0x1f1] = 4; // setup_sects
  v.setUint16(0x1fe, 0xaa55, true);
  img[0x200] = 0xeb;
  img[0x201] = 0x66; // header ends at 0x268
  v.setUint32(0x202, 0x53726448, true);
  v.setUint16(0x206, 0x0206, true);
  img[0x211] = 0x01; // LOADED_HIGH
  v.setUint32(0x214, 0x100000, true);
  v.setUint32(0x22c, 0x7fffffff, true);
  v.setUint32(0x238, 2048, true);
  img.set(code, 5 * 512);
  return img;
}
