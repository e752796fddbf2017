// --location / -l: an install tree, as a URL (http, https, ftp) or a local directory,
// with kernel= and initrd= overriding the paths inside the tree (virt-install's
// ParserLocation). Resolving the tree (.treeinfo, distro layouts) is src/install's job;
// this only parses and checks the text. Left out: nfs: URLs, ISO files as --location.
import { TsvirtError } from '../../lib/errors.js';
import { parseSubOptions, text, type SubOptionTable, type ValueParser } from './suboptions.js';

export interface LocationOptions {
  location: string;
  kernel: string;
  initrd: string;
}

export interface LocationSpec {
  /** The URL or the absolute/relative directory as given. */
  readonly location: string;
  readonly isUrl: boolean;
  /** Paths inside the tree, relative to it. */
  readonly kernel?: string;
  readonly initrd?: string;
}

/** Paths inside a tree must stay inside it: relative, no '..' component. */
const treePath: ValueParser<string> = (raw, where) => {
  if (raw.startsWith('/') || raw.split('/').includes('..') || raw.includes('\\')) {
    throw new TsvirtError(`${where}: path must be relative to the tree and stay inside it`, 'give a path such as images/pxeboot/vmlinuz');
  }
  return raw;
};

export const LOCATION: SubOptionTable<LocationOptions> = {
  option: '--location',
  first: 'location',
  keys: { location: text, kernel: treePath, initrd: treePath },
  summary: 'Distro install tree: a URL (https://host/path) or a local directory.',
  examples: ['--location https://dl.fedoraproject.org/pub/fedora/linux/releases/41/Everything/x86_64/os/', '--location /srv/tree,kernel=images/pxeboot/vmlinuz,initrd=images/pxeboot/initrd.img'],
};

const URL_SCHEMES = ['http:', 'https:', 'ftp:'];

export function parseLocation(raw: string): LocationSpec {
  const { values: v } = parseSubOptions(LOCATION, raw);
  if (v.location === undefined) throw new TsvirtError(`--location ${raw}: no location given`, 'give a URL or a directory');
  const loc = v.location;
  const schemeMatch = /^([a-z][a-z0-9+.-]*):\/\//i.exec(loc);
  if (schemeMatch) {
    let url: URL;
    try {
      url = new URL(loc);
    } catch {
      throw new TsvirtError(`--location ${loc}: not a valid URL`, 'check the URL');
    }
    if (!URL_SCHEMES.includes(url.protocol)) throw new TsvirtError(`--location ${loc}: unsupported URL scheme '${url.protocol}'`, 'use http://, https://, ftp:// or a local directory');
    return { location: loc, isUrl: true, kernel: v.kernel, initrd: v.initrd };
  }
  return { location: loc, isUrl: false, kernel: v.kernel, initrd: v.initrd };
}
