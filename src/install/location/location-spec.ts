// virt-install's --location value: `LOCATION[,kernel=PATH,initrd=PATH]` (virt-install(1),
// --location). kernel= and initrd= name files relative to the tree's root. Leaves out
// virt-install's libosinfo media lookup (no osinfo database here).
import { TsvirtError } from '../../lib/errors.js';

export interface LocationSpec {
  readonly location: string;
  readonly kernel?: string;
  readonly initrd?: string;
}

/** Splits the suboptions off a --location string. A comma inside the URL stays there. */
export function parseLocationSpec(text: string): LocationSpec {
  const parts = text.split(',');
  const rest: string[] = [];
  let kernel: string | undefined;
  let initrd: string | undefined;
  for (const part of parts) {
    const m = /^(kernel|initrd)=(.*)$/.exec(part);
    if (m && rest.length > 0) {
      if (m[2] === '') throw new TsvirtError(`--location ${m[1]}= needs a path`);
      if (m[1] === 'kernel') kernel = m[2];
      else initrd = m[2];
    } else if (kernel === undefined && initrd === undefined) {
      rest.push(part);
    } else {
      throw new TsvirtError(`unknown --location suboption '${part}'`, 'only kernel=PATH and initrd=PATH are accepted');
    }
  }
  const location = rest.join(',');
  if (location === '') throw new TsvirtError('--location needs a directory, URL or ISO image');
  return { location, kernel, initrd };
}

/** Normalises a tree-relative path; refuses ones that climb out of the tree. */
export function treeRelativePath(path: string): string {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw new TsvirtError(`path '${path}' leaves the install tree`);
    parts.push(p);
  }
  if (parts.length === 0) throw new TsvirtError(`empty path '${path}' in the install tree`);
  return parts.join('/');
}
