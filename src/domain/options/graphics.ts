// --graphics: none (the default for tsvirt, whose console is serial), vnc or spice
// (virt-install's ParserGraphics; libvirt <graphics>). A display is recorded in the XML
// only. Left out: port=, listen=, password= and the other display settings.
import { oneOf, parseSubOptions, type SubOptionTable } from './suboptions.js';

export interface GraphicsOptions {
  type: 'none' | 'vnc' | 'spice';
}

export const GRAPHICS: SubOptionTable<GraphicsOptions> = {
  option: '--graphics',
  first: 'type',
  keys: { type: oneOf('none', 'vnc', 'spice') },
  summary: 'Guest display: none (default; the console is serial), vnc or spice.',
  examples: ['--graphics none', '--graphics vnc'],
};

export function parseGraphics(raw: string): 'none' | 'vnc' | 'spice' {
  return parseSubOptions(GRAPHICS, raw).values.type ?? 'none';
}
