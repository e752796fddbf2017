// The ACPI tables this machine hands the guest (ACPI 6.5 §5.2): RSDP (revision 2) ->
// RSDT and XSDT -> FADT (-> FACS, DSDT), MADT, MCFG (PCI Firmware 3.2 §4.1.2). Built
// at boot from the machine's facts, placed in the reserved BIOS area at 0xE0000 where
// Linux also scans for the RSDP, checksums filled. The FADT describes the fixed hardware
// in src/vm/devices/acpi-pm.ts, the 0xCF9 reset register and SCI on IRQ 9; the MADT
// a LAPIC per vCPU, the IOAPIC and the ISA overrides (IRQ0 -> GSI2, SCI level/high).
// Leaves out HPET, SRAT/SLIT (one NUMA node), SSDT, and everything HW_REDUCED.

import { buildDsdt, type DsdtFacts } from './dsdt.js';

export const ACPI_TABLES_ADDR = 0xe0000;
export const ACPI_TABLES_MAX_BYTES = 0x20000; // to 0xFFFFF
export const OEM_ID = 'TSVIRT';
export const OEM_TABLE_ID = 'TSVIRTPC';

export interface AcpiFacts extends DsdtFacts {
  /** One entry per vCPU: its APIC ID. */
  apicIds: readonly number[];
  ioapicAddr: number;
  ioapicId: number;
  lapicAddr: number;
  pm1aEvtPort: number;
  pm1aCntPort: number;
  pmTmrPort: number;
  sciIrq: number;
  resetPort: number;
  resetValue: number;
  ecamBase: number;
  /** CMOS index of the century byte. */
  rtcCentury: number;
}

export interface BuiltAcpi {
  /** Bytes to copy at ACPI_TABLES_ADDR. */
  image: Uint8Array;
  rsdpAddr: number;
  /** Table addresses by signature, for tests and dumps. */
  tables: Record<string, { addr: number; length: number }>;
}

export function checksum(bytes: Uint8Array): number {
  let s = 0;
  for (const b of bytes) s = (s + b) & 0xff;
  return (0x100 - s) & 0xff;
}

function ascii(view: Uint8Array, offset: number, s: string, len: number): void {
  for (let i = 0; i < len; i++) view[offset + i] = i < s.length ? s.charCodeAt(i) : 0x20;
}

/** The 36-byte System Description Table header (§5.2.6) around body; checksum set. */
export function sdt(signature: string, revision: number, body: Uint8Array): Uint8Array {
  const t = new Uint8Array(36 + body.length);
  const v = new DataView(t.buffer);
  ascii(t, 0, signature, 4);
  v.setUint32(4, t.length, true);
  t[8] = revision;
  ascii(t, 10, OEM_ID, 6);
  ascii(t, 16, OEM_TABLE_ID, 8);
  v.setUint32(24, 1, true);
  ascii(t, 28, 'TSVT', 4);
  v.setUint32(32, 1, true);
  t.set(body, 36);
  t[9] = checksum(t);
  return t;
}

class Writer {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(len: number) {
    this.bytes = new Uint8Array(len);
    this.view = new DataView(this.bytes.buffer);
  }
  u8(o: number, v: number) { this.bytes[o] = v; }
  u16(o: number, v: number) { this.view.setUint16(o, v, true); }
  u32(o: number, v: number) { this.view.setUint32(o, v >>> 0, true); }
  u64(o: number, v: number) { this.view.setBigUint64(o, BigInt(v), true); }
  /** Generic Address Structure (§5.2.3.2). */
  gas(o: number, space: number, bitWidth: number, accessSize: number, address: number) {
    this.u8(o, space);
    this.u8(o + 1, bitWidth);
    this.u8(o + 2, 0);
    this.u8(o + 3, accessSize);
    this.u64(o + 4, address);
  }
}

const GAS_SYSTEM_IO = 1;

// FADT flags (§5.2.9, Table 5.10).
const FADT_WBINVD = 1 << 0;
const FADT_PROC_C1 = 1 << 2;
const FADT_SLP_BUTTON = 1 << 5; // no fixed sleep button
const FADT_FIX_RTC = 1 << 6; // no RTC wake status in PM1
const FADT_TMR_VAL_EXT = 1 << 8; // 32-bit PM timer
const FADT_RESET_REG_SUP = 1 << 10;
// IA-PC boot architecture flags (Table 5.11).
const IAPC_LEGACY_DEVICES = 1 << 0;
const IAPC_VGA_NOT_PRESENT = 1 << 2;

function fadt(f: AcpiFacts, facsAddr: number, dsdtAddr: number): Uint8Array {
  const w = new Writer(276 - 36);
  const o = (abs: number) => abs - 36; // offsets below are the spec's, from the table start
  w.u32(o(36), facsAddr);
  w.u32(o(40), dsdtAddr);
  w.u16(o(46), f.sciIrq);
  w.u32(o(48), 0); // no SMI_CMD: the platform is always in ACPI mode (SCI_EN set)
  w.u32(o(56), f.pm1aEvtPort);
  w.u32(o(64), f.pm1aCntPort);
  w.u32(o(76), f.pmTmrPort);
  w.u8(o(88), 4); // PM1_EVT_LEN
  w.u8(o(89), 2); // PM1_CNT_LEN
  w.u8(o(91), 4); // PM_TMR_LEN
  w.u16(o(96), 101); // P_LVL2_LAT > 100: C2 unsupported
  w.u16(o(98), 1001); // P_LVL3_LAT > 1000: C3 unsupported
  w.u8(o(108), f.rtcCentury);
  w.u16(o(109), IAPC_LEGACY_DEVICES | IAPC_VGA_NOT_PRESENT);
  w.u32(o(112), FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC | FADT_TMR_VAL_EXT | FADT_RESET_REG_SUP);
  w.gas(o(116), GAS_SYSTEM_IO, 8, 1, f.resetPort);
  w.u8(o(128), f.resetValue);
  w.u8(o(131), 5); // FADT minor version: ACPI 6.5
  // X_FIRMWARE_CTRL stays 0: with both set, ACPICA installs the FACS twice (the tables
  // all live below 4 GiB, so the 32-bit pointer suffices).
  w.u64(o(140), dsdtAddr);
  w.gas(o(148), GAS_SYSTEM_IO, 32, 2, f.pm1aEvtPort);
  w.gas(o(172), GAS_SYSTEM_IO, 16, 2, f.pm1aCntPort);
  w.gas(o(208), GAS_SYSTEM_IO, 32, 3, f.pmTmrPort);
  return sdt('FACP', 6, w.bytes);
}

function facs(): Uint8Array {
  const w = new Writer(64);
  ascii(w.bytes, 0, 'FACS', 4);
  w.u32(4, 64);
  w.u8(32, 2); // version
  return w.bytes;
}

function madt(f: AcpiFacts): Uint8Array {
  const entries: number[][] = [];
  f.apicIds.forEach((id, uid) => entries.push([0, 8, uid, id, 1, 0, 0, 0])); // Processor Local APIC, enabled
  const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
  entries.push([1, 12, f.ioapicId, 0, ...le32(f.ioapicAddr), ...le32(0)]); // IOAPIC, GSI base 0
  // Interrupt source overrides (§5.2.12.5): the PIT on IOAPIC pin 2, conforming flags.
  entries.push([2, 10, 0, 0, ...le32(2), 0, 0]);
  // The SCI: level-triggered, active-high (MPS INTI flags: polarity 01, trigger 11).
  entries.push([2, 10, 0, f.sciIrq, ...le32(f.sciIrq), 0x0d, 0]);
  // Local APIC NMI on LINT1 for every processor (UID 0xFF).
  entries.push([4, 6, 0xff, 0, 0, 1]);
  const body = new Uint8Array(8 + entries.reduce((n, e) => n + e.length, 0));
  const v = new DataView(body.buffer);
  v.setUint32(0, f.lapicAddr, true);
  v.setUint32(4, 1, true); // PCAT_COMPAT: an i8259 pair is present
  let o = 8;
  for (const e of entries) {
    body.set(e, o);
    o += e.length;
  }
  return sdt('APIC', 5, body);
}

function mcfg(f: AcpiFacts): Uint8Array {
  const w = new Writer(8 + 16);
  w.u64(8, f.ecamBase);
  w.u16(16, 0); // segment group
  w.u8(18, 0); // start bus
  w.u8(19, 0); // end bus: bus 0 only
  return sdt('MCFG', 1, w.bytes);
}

export function buildAcpiTables(f: AcpiFacts, base = ACPI_TABLES_ADDR): BuiltAcpi {
  const parts: Array<{ sig: string; bytes: Uint8Array; align: number }> = [];
  const tables: BuiltAcpi['tables'] = {};
  let cursor = base;
  const place = (sig: string, len: number, align = 16): number => {
    cursor = Math.ceil(cursor / align) * align;
    const addr = cursor;
    tables[sig] = { addr, length: len };
    cursor += len;
    return addr;
  };
  // Layout first (sizes are known up front), then bytes.
  const rsdpAddr = place('RSDP', 36);
  const facsAddr = place('FACS', 64, 64);
  const dsdtBytes = sdt('DSDT', 2, buildDsdt(f));
  const dsdtAddr = place('DSDT', dsdtBytes.length);
  const fadtBytes = fadt(f, facsAddr, dsdtAddr);
  const fadtAddr = place('FACP', fadtBytes.length);
  const madtBytes = madt(f);
  const madtAddr = place('APIC', madtBytes.length);
  const mcfgBytes = mcfg(f);
  const mcfgAddr = place('MCFG', mcfgBytes.length);
  const pointers = [fadtAddr, madtAddr, mcfgAddr];
  const rsdtBody = new Writer(pointers.length * 4);
  pointers.forEach((p, i) => rsdtBody.u32(i * 4, p));
  const rsdtBytes = sdt('RSDT', 1, rsdtBody.bytes);
  const rsdtAddr = place('RSDT', rsdtBytes.length);
  const xsdtBody = new Writer(pointers.length * 8);
  pointers.forEach((p, i) => xsdtBody.u64(i * 8, p));
  const xsdtBytes = sdt('XSDT', 1, xsdtBody.bytes);
  const xsdtAddr = place('XSDT', xsdtBytes.length);

  const rsdp = new Writer(36);
  ascii(rsdp.bytes, 0, 'RSD PTR ', 8);
  ascii(rsdp.bytes, 9, OEM_ID, 6);
  rsdp.u8(15, 2); // revision 2: XSDT present
  rsdp.u32(16, rsdtAddr);
  rsdp.u32(20, 36);
  rsdp.u64(24, xsdtAddr);
  rsdp.u8(8, checksum(rsdp.bytes.subarray(0, 20)));
  rsdp.u8(32, checksum(rsdp.bytes));

  parts.push(
    { sig: 'RSDP', bytes: rsdp.bytes, align: 16 },
    { sig: 'FACS', bytes: facs(), align: 64 },
    { sig: 'DSDT', bytes: dsdtBytes, align: 16 },
    { sig: 'FACP', bytes: fadtBytes, align: 16 },
    { sig: 'APIC', bytes: madtBytes, align: 16 },
    { sig: 'MCFG', bytes: mcfgBytes, align: 16 },
    { sig: 'RSDT', bytes: rsdtBytes, align: 16 },
    { sig: 'XSDT', bytes: xsdtBytes, align: 16 },
  );
  const size = cursor - base;
  if (size > ACPI_TABLES_MAX_BYTES) throw new RangeError(`ACPI tables need ${size} bytes`);
  const image = new Uint8Array(size);
  for (const p of parts) image.set(p.bytes, tables[p.sig].addr - base);
  return { image, rsdpAddr, tables };
}
