// The reset control register at port 0xCF9 (Intel PIIX4/ICH datasheets, "RST_CNT"): a
// write with RST_CPU (bit 2) going from 0 to 1 resets the machine; SYS_RST (bit 1) picks a
// hard reset, which is the same thing here. The FADT names this register as the ACPI
// reset register (value 0x06). The PCI host bridge forwards byte accesses to 0xCF9 here,
// because 0xCF8-0xCFB is otherwise CONFIG_ADDRESS.

export const RST_CNT_SYS_RST = 0x02;
export const RST_CNT_RST_CPU = 0x04;

export class ResetControl {
  private value = 0;
  constructor(private readonly onReset: () => void) {}

  read(): number {
    return this.value;
  }

  write(value: number): void {
    const rising = value & RST_CNT_RST_CPU && !(this.value & RST_CNT_RST_CPU);
    this.value = value & RST_CNT_SYS_RST;
    if (rising) this.onReset();
  }
}
