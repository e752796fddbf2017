// --os-variant / --osinfo: which OS the guest runs, picking its defaults from libosinfo's
// osinfo-db (virt-install's ParserOSVariant and OSVariantData): a short id (fedora37, also
// as name= or short-id=), a full id (id=http://fedoraproject.org/fedora/37, or bare when it
// contains "://"), `none` for generic, `list`, and detect=/require=. Detection from the
// media is src/install's job; here detect=on only records the wish.
import { parseSubOptions, text, yesNo, type SubOptionTable } from './suboptions.js';

export interface OsVariantOptions {
  name: string;
  'short-id': string;
  id: string;
  detect: boolean;
  require: boolean;
}

export type OsVariantSpec =
  | { readonly kind: 'list' }
  | { readonly kind: 'named'; readonly name: string }
  | { readonly kind: 'osinfo-uri'; readonly uri: string }
  | { readonly kind: 'detect'; readonly require: boolean };

export const OS_VARIANT: SubOptionTable<OsVariantOptions> = {
  option: '--os-variant',
  first: 'name',
  keys: { name: text, 'short-id': text, id: text, detect: yesNo, require: yesNo },
  summary: "The OS being installed in the guest; picks defaults such as virtio. Use '--osinfo list' to see them.",
  examples: ['--os-variant fedora37', '--os-variant id=http://debian.org/debian/11', '--os-variant detect=on,require=off'],
};

export function parseOsVariant(raw: string): OsVariantSpec {
  // A value without '=' is virt-install's compat form: a full id if it has "://", none = generic.
  if (!raw.includes('=')) {
    if (raw.includes('://')) return { kind: 'osinfo-uri', uri: raw };
    if (raw === 'none') return { kind: 'named', name: 'generic' };
  }
  const { values: v } = parseSubOptions(OS_VARIANT, raw);
  const name = v['short-id'] ?? v.name;
  if (name === 'list') return { kind: 'list' };
  if (v.id !== undefined) return { kind: 'osinfo-uri', uri: v.id };
  if (name !== undefined && name !== 'detect') return { kind: 'named', name };
  return { kind: 'detect', require: v.require ?? true };
}
