import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAcpiTables, checksum, type AcpiFacts } from '../../../src/vm/boot/acpi-tables.js';
import { eisaId, integer, nameString, pkgLength } from '../../../src/vm/boot/aml.js';

const facts: AcpiFacts = {
  apicIds: [0, 1],
  ioapicAddr: 0xfec00000,
  ioapicId: 0,
  lapicAddr: 0xfee00000,
  pm1aEvtPort: 0x600,
  pm1aCntPort: 0x604,
  pmTmrPort: 0x608,
  sciIrq: 9,
  resetPort: 0xcf9,
  resetValue: 6,
  ecamBase: 0xb0000000,
  ecamBytes: 1 << 20,
  rtcCentury: 0x32,
  pciMmio32: { base: 0xc0000000, end: 0xfebfffff },
  pciIo: { base: 0x1000, end: 0xffff },
};
const built = buildAcpiTables(facts);
const at = (addr: number, len: number) => built.image.subarray(addr - 0xe0000, addr - 0xe0000 + len);
const view = (addr: number, len: number) => {
  const b = at(addr, len);
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
};
const sig = (addr: number) => String.fromCharCode(...at(addr, 4));

describe('AML encoder', () => {
  it('encodes package lengths, names, integers and EISA IDs per ACPI §20.2', () => {
    expect(Array.from(pkgLength(10))).toEqual([11]);
    expect(Array.from(pkgLength(100))).toEqual([0x40 | (102 & 0xf), 102 >> 4]);
    expect(Array.from(pkgLength(5000))).toEqual([0x80 | (5003 & 0xf), (5003 >> 4) & 0xff, 5003 >> 12]);
    expect(Array.from(pkgLength(70000))).toEqual([0x80 | (70003 & 0xf), (70003 >> 4) & 0xff, 70003 >> 12]);
    expect(Array.from(nameString('\\_SB.PCI0'))).toEqual([0x5c, 0x2e, ...Buffer.from('_SB_PCI0')]);
    expect(Array.from(integer(0x1234))).toEqual([0x0b, 0x34, 0x12]);
    expect(Array.from(eisaId('PNP0A03'))).toEqual([0x0c, 0x41, 0xd0, 0x0a, 0x03]);
    expect(() => nameString('toolong')).toThrow(/segment/);
  });
});

describe('ACPI tables', () => {
  it('chain RSDP -> XSDT/RSDT -> FADT, MADT, MCFG with valid checksums', () => {
    const rsdp = at(built.rsdpAddr, 36);
    expect(String.fromCharCode(...rsdp.subarray(0, 8))).toBe('RSD PTR ');
    expect(checksum(rsdp.subarray(0, 20))).toBe(0);
    expect(checksum(rsdp)).toBe(0);
    const rv = view(built.rsdpAddr, 36);
    const xsdt = Number(rv.getBigUint64(24, true));
    const rsdt = rv.getUint32(16, true);
    expect(sig(xsdt)).toBe('XSDT');
    expect(sig(rsdt)).toBe('RSDT');
    const xlen = view(xsdt, 8).getUint32(4, true);
    const sigs: string[] = [];
    for (let o = 36; o < xlen; o += 8) sigs.push(sig(Number(view(xsdt, xlen).getBigUint64(o, true))));
    expect(sigs).toEqual(['FACP', 'APIC', 'MCFG']);
    for (const [name, t] of Object.entries(built.tables)) {
      if (name === 'RSDP' || name === 'FACS') continue;
      expect(checksum(at(t.addr, t.length)), name).toBe(0);
      expect(view(t.addr, 8).getUint32(4, true)).toBe(t.length);
    }
  });

  it('describes the fixed hardware in the FADT', () => {
    const f = view(built.tables.FACP.addr, 276);
    expect(f.getUint32(4, true)).toBe(276);
    expect(f.getUint16(46, true)).toBe(9);
    expect(f.getUint32(56, true)).toBe(0x600);
    expect(f.getUint32(64, true)).toBe(0x604);
    expect(f.getUint32(76, true)).toBe(0x608);
    expect(f.getUint8(91)).toBe(4);
    const flags = f.getUint32(112, true);
    expect(flags & (1 << 20)).toBe(0); // not HW_REDUCED
    expect(flags & (1 << 8)).toBeTruthy(); // TMR_VAL_EXT
    expect(flags & (1 << 10)).toBeTruthy(); // RESET_REG_SUP
    expect(f.getUint8(116)).toBe(1); // reset register in system I/O
    expect(Number(f.getBigUint64(120, true))).toBe(0xcf9);
    expect(f.getUint8(128)).toBe(6);
    expect(f.getUint32(40, true)).toBe(built.tables.DSDT.addr);
    expect(f.getUint32(36, true)).toBe(built.tables.FACS.addr);
  });

  it('lists a LAPIC per vCPU, the IOAPIC and the overrides in the MADT', () => {
    const t = built.tables.APIC;
    const m = at(t.addr, t.length);
    const entries: number[][] = [];
    for (let o = 44; o < t.length; o += m[o + 1]) entries.push(Array.from(m.subarray(o, o + m[o + 1])));
    expect(entries.filter((e) => e[0] === 0).map((e) => e[3])).toEqual([0, 1]);
    expect(entries.find((e) => e[0] === 1)).toEqual([1, 12, 0, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0]);
    expect(entries.filter((e) => e[0] === 2)).toEqual([
      [2, 10, 0, 0, 2, 0, 0, 0, 0, 0],
      [2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0],
    ]);
  });

  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-acpi-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('disassembles with ACPICA iasl -d: _S5, the PCIe root bridge, _CRS and _PRT', () => {
    for (const s of ['DSDT', 'FACP', 'APIC', 'MCFG']) {
      const t = built.tables[s];
      writeFileSync(join(dir, `${s.toLowerCase()}.dat`), at(t.addr, t.length));
    }
    execFileSync('iasl', ['-d', 'dsdt.dat', 'facp.dat', 'apic.dat', 'mcfg.dat'], { cwd: dir, stdio: 'pipe' });
    const dsl = readFileSync(join(dir, 'dsdt.dsl'), 'utf8');
    expect(dsl).toMatch(/Name \(\\_S5, Package \(0x04\)\s*\/\/ _S5_: S5 System State\s*\{\s*0x05,/);
    expect(dsl).toMatch(/Device \(PCI0\)/);
    expect(dsl).toMatch(/EisaId \("PNP0A08"\)/);
    expect(dsl).toMatch(/EisaId \("PNP0A03"\)/);
    expect(dsl).toMatch(/WordBusNumber \(ResourceProducer, MinFixed, MaxFixed/);
    expect(dsl).toMatch(/DWordMemory \(ResourceProducer.*\n.*\n\s*0xC0000000,\s*\/\/ Range Minimum\s*\n\s*0xFEBFFFFF/);
    expect(dsl).toMatch(/Memory32Fixed \(ReadWrite,\s*\n\s*0xB0000000,\s*\/\/ Address Base\s*\n\s*0x00100000/);
    expect(dsl).toMatch(/0x0003FFFF,\s*\n\s*One,\s*\n\s*Zero,\s*\n\s*0x10/); // slot 3 INTB -> GSI 16
    const apic = readFileSync(join(dir, 'apic.dsl'), 'utf8');
    expect(apic).toMatch(/Local Apic ID : 01/);
    expect(apic).not.toMatch(/Checksum.*Incorrect|\*\*\*\* /);
    const facp = readFileSync(join(dir, 'facp.dsl'), 'utf8');
    expect(facp).toMatch(/PM Timer Block Address : 00000608/);
    expect(facp).not.toMatch(/Incorrect/);
    const mcfg = readFileSync(join(dir, 'mcfg.dsl'), 'utf8');
    expect(mcfg).toMatch(/Base Address : 00000000B0000000/);
  });
});
