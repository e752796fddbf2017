// --boot: the BIOS boot order (hd, cdrom, network, fd as bare words) and direct kernel
// boot (kernel=, initrd=, kernel_args=) (virt-install's ParserBoot; libvirt <os>).
// Left out: uefi/firmware (a later issue), menu=, bootloader, init= (containers).
import { BOOT_DEVICES, type BootDevice } from '../model.js';
import { parseSubOptions, text, type SubOptionTable } from './suboptions.js';

export interface BootOptions {
  kernel: string;
  initrd: string;
  kernel_args: string;
}

export interface BootSpec {
  readonly order: readonly BootDevice[];
  readonly kernel?: string;
  readonly initrd?: string;
  readonly kernelArgs?: string;
}

export const BOOT: SubOptionTable<BootOptions> = {
  option: '--boot',
  keys: { kernel: text, initrd: text, kernel_args: (raw) => raw },
  flags: BOOT_DEVICES,
  summary: 'Boot order (hd,cdrom,network,fd) and direct kernel boot.',
  examples: ['--boot cdrom,hd', '--boot kernel=/path/vmlinuz,initrd=/path/initrd.img,kernel_args="console=ttyS0"'],
};

export function parseBoot(raw: string): BootSpec {
  const { values: v, flags } = parseSubOptions(BOOT, raw);
  return { order: [...new Set(flags as BootDevice[])], kernel: v.kernel, initrd: v.initrd, kernelArgs: v.kernel_args };
}
