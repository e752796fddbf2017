// A small encoder for the ACPI Machine Language subset this machine's DSDT needs (ACPI 6.5
// §20.2 "AML Grammar Definition", §6.4 resource descriptors): names and paths, integers,
// strings, EISA IDs, Name, Scope, Device, Package, Buffer, Method with Return, and the
// resource descriptors a PCI root bridge's _CRS uses. Each function returns bytes; the
// caller nests them. Leaves out everything the DSDT here does not use (operation regions,
// fields, control flow, arithmetic).

export type Aml = Uint8Array;

const ZERO_OP = 0x00;
const ONE_OP = 0x01;
const ONES_OP = 0xff;
const BYTE_PREFIX = 0x0a;
const WORD_PREFIX = 0x0b;
const DWORD_PREFIX = 0x0c;
const STRING_PREFIX = 0x0d;
const QWORD_PREFIX = 0x0e;
const NAME_OP = 0x08;
const SCOPE_OP = 0x10;
const BUFFER_OP = 0x11;
const PACKAGE_OP = 0x12;
const METHOD_OP = 0x14;
const RETURN_OP = 0xa4;
const EXT_OP_PREFIX = 0x5b;
const DEVICE_OP = 0x82;
const ROOT_CHAR = 0x5c;
const PARENT_PREFIX = 0x5e;
const DUAL_NAME_PREFIX = 0x2e;
const MULTI_NAME_PREFIX = 0x2f;

export function concat(...parts: Aml[]): Aml {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** PkgLength (§20.2.4): the length of itself plus what follows. */
export function pkgLength(contentBytes: number): Aml {
  if (contentBytes + 1 < 0x40) return Uint8Array.of(contentBytes + 1);
  for (let n = 1; n <= 3; n++) {
    const total = contentBytes + 1 + n;
    if (total < 1 << (4 + 8 * n)) {
      const out = new Uint8Array(n + 1);
      out[0] = (n << 6) | (total & 0x0f);
      for (let i = 0; i < n; i++) out[1 + i] = (total >> (4 + 8 * i)) & 0xff;
      return out;
    }
  }
  throw new RangeError(`AML package of ${contentBytes} bytes is too long`);
}

function nameSeg(seg: string): number[] {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new RangeError(`bad AML name segment "${seg}"`);
  return [...seg.padEnd(4, '_')].map((c) => c.charCodeAt(0));
}

/** NameString (§20.2.2): "\\_SB.PCI0", "_HID", "^FOO". */
export function nameString(path: string): Aml {
  const out: number[] = [];
  let rest = path;
  while (rest.startsWith('\\') || rest.startsWith('^')) {
    out.push(rest[0] === '\\' ? ROOT_CHAR : PARENT_PREFIX);
    rest = rest.slice(1);
  }
  const segs = rest === '' ? [] : rest.split('.');
  if (segs.length === 0) out.push(0x00);
  else if (segs.length === 2) out.push(DUAL_NAME_PREFIX);
  else if (segs.length > 2) out.push(MULTI_NAME_PREFIX, segs.length);
  for (const s of segs) out.push(...nameSeg(s));
  return Uint8Array.from(out);
}

/** The shortest integer encoding (§20.2.3). */
export function integer(value: number | bigint): Aml {
  const v = BigInt(value);
  if (v < 0n || v > 0xffff_ffff_ffff_ffffn) throw new RangeError(`AML integer ${v}`);
  if (v === 0n) return Uint8Array.of(ZERO_OP);
  if (v === 1n) return Uint8Array.of(ONE_OP);
  if (v === 0xffff_ffff_ffff_ffffn) return Uint8Array.of(ONES_OP);
  const le = (bytes: number) => Array.from({ length: bytes }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
  if (v <= 0xffn) return Uint8Array.of(BYTE_PREFIX, ...le(1));
  if (v <= 0xffffn) return Uint8Array.of(WORD_PREFIX, ...le(2));
  if (v <= 0xffff_ffffn) return Uint8Array.of(DWORD_PREFIX, ...le(4));
  return Uint8Array.of(QWORD_PREFIX, ...le(8));
}

export function string(s: string): Aml {
  if (!/^[\x01-\x7f]*$/.test(s)) throw new RangeError('AML strings are ASCII without NUL');
  return Uint8Array.from([STRING_PREFIX, ...[...s].map((c) => c.charCodeAt(0)), 0]);
}

/** A compressed EISA ID such as "PNP0A03" (§19.6.47 EISAID), as a DWord integer. */
export function eisaId(id: string): Aml {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new RangeError(`bad EISA ID ${id}`);
  const c = (i: number) => id.charCodeAt(i) - 0x40;
  const vendor = (c(0) << 10) | (c(1) << 5) | c(2);
  const product = parseInt(id.slice(3), 16);
  // Stored big-endian within the little-endian dword: vendor bytes, then product bytes.
  const bytes = [vendor >> 8, vendor & 0xff, product >> 8, product & 0xff];
  return Uint8Array.of(DWORD_PREFIX, ...bytes);
}

export function name(path: string, value: Aml): Aml {
  return concat(Uint8Array.of(NAME_OP), nameString(path), value);
}

function withPkg(prefix: number[], body: Aml): Aml {
  return concat(Uint8Array.from(prefix), pkgLength(body.length), body);
}

export function scope(path: string, ...terms: Aml[]): Aml {
  return withPkg([SCOPE_OP], concat(nameString(path), ...terms));
}

export function device(path: string, ...terms: Aml[]): Aml {
  return withPkg([EXT_OP_PREFIX, DEVICE_OP], concat(nameString(path), ...terms));
}

export function pkg(...elements: Aml[]): Aml {
  if (elements.length > 255) throw new RangeError('use a VarPackage for more than 255 elements');
  return withPkg([PACKAGE_OP], concat(Uint8Array.of(elements.length), ...elements));
}

export function buffer(bytes: Uint8Array): Aml {
  return withPkg([BUFFER_OP], concat(integer(bytes.length), bytes));
}

/** A method of argCount arguments (not serialized) whose body returns value. */
export function methodReturning(path: string, argCount: number, value: Aml): Aml {
  return withPkg([METHOD_OP], concat(nameString(path), Uint8Array.of(argCount & 7), Uint8Array.of(RETURN_OP), value));
}

// --- resource descriptors (ACPI 6.5 §6.4) ---

const le16 = (v: number) => [v & 0xff, (v >> 8) & 0xff];
const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const le64 = (v: number) => [...le32(v >>> 0), ...le32(Math.floor(v / 2 ** 32))];

/** Address-space flags for a bridge window: producer, min and max fixed, positive decode. */
const PRODUCER_FIXED = 0x0c;

/** §6.4.2.5 I/O port descriptor, 16-bit decode. */
export function ioPort(min: number, max: number, align: number, length: number): Aml {
  return Uint8Array.of(0x47, 0x01, ...le16(min), ...le16(max), align, length);
}

/** §6.4.2.1 IRQ descriptor (without the information byte: active-high, edge). */
export function irqNoFlags(irq: number): Aml {
  return Uint8Array.of(0x22, ...le16(1 << irq));
}

/** §6.4.3.5.3 Word address space: 0 memory, 1 I/O, 2 bus number. */
export function wordAddressSpace(type: number, min: number, max: number, typeFlags = 0): Aml {
  return Uint8Array.of(0x88, ...le16(13), type, PRODUCER_FIXED, typeFlags, ...le16(0), ...le16(min), ...le16(max), ...le16(0), ...le16(max - min + 1));
}

/** §6.4.3.5.2 DWord memory window (read/write, non-cacheable). */
export function dwordMemory(min: number, max: number): Aml {
  return Uint8Array.of(0x87, ...le16(23), 0, PRODUCER_FIXED, 0x01, ...le32(0), ...le32(min), ...le32(max), ...le32(0), ...le32(max - min + 1));
}

/** §6.4.3.5.1 QWord memory window (read/write, non-cacheable). */
export function qwordMemory(min: number, max: number): Aml {
  return Uint8Array.of(0x8a, ...le16(43), 0, PRODUCER_FIXED, 0x01, ...le64(0), ...le64(min), ...le64(max), ...le64(0), ...le64(max - min + 1));
}

/** §6.4.3.4 Memory32Fixed, read/write. */
export function memory32Fixed(base: number, length: number): Aml {
  return Uint8Array.of(0x86, ...le16(9), 0x01, ...le32(base), ...le32(length));
}

/** A ResourceTemplate: the descriptors and the end tag (§6.4.2.9; checksum 0 = ignore). */
export function resourceTemplate(...descriptors: Aml[]): Aml {
  return buffer(concat(...descriptors, Uint8Array.of(0x79, 0x00)));
}
