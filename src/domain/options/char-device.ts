// --serial and --console: character devices connected to a pty or a file (virt-install's
// ParserSerial/ParserConsole; libvirt <serial>/<console>). Left out: tcp, udp, unix,
// spicevmc and the other libvirt source types.
import { TsvirtError } from '../../lib/errors.js';
import type { CharDevice } from '../model.js';
import { oneOf, parseSubOptions, text, type SubOptionTable } from './suboptions.js';

export interface CharDeviceOptions {
  type: 'pty' | 'file';
  path: string;
}

function table(option: '--serial' | '--console', summary: string): SubOptionTable<CharDeviceOptions> {
  return {
    option,
    first: 'type',
    keys: { type: oneOf('pty', 'file'), path: text },
    summary,
    examples: [`${option} pty`, `${option} file,path=/var/log/guest.log`],
  };
}

export const SERIAL = table('--serial', 'Configure a guest serial port (pty or file).');
export const CONSOLE = table('--console', 'Configure a text console between the guest and host (pty or file).');

export function parseCharDevice(which: SubOptionTable<CharDeviceOptions>, raw: string): CharDevice {
  const { values: v } = parseSubOptions(which, raw);
  const type = v.type ?? (v.path !== undefined ? 'file' : 'pty');
  if (type === 'file' && v.path === undefined) throw new TsvirtError(`${which.option} ${raw}: type file needs path=`, 'add path=/some/file.log');
  if (type === 'pty' && v.path !== undefined) throw new TsvirtError(`${which.option} ${raw}: a pty takes no path=`, 'use file,path=... to log to a file');
  return type === 'file' ? { type, path: v.path } : { type };
}
