// --os-variant / --osinfo: which OS the guest runs, picking its defaults from
// templates/os-variants.yaml (virt-install's ParserOSVariant): a short id (fedora40), a
// libosinfo URI (id=http://fedoraproject.org/fedora/40), `list`, and detect=/require=.
// Detection from the media is src/install's job; here detect=on only records the wish.
import { parseSubOptions, text, yesNo, type SubOptionTable } from './suboptions.js';

export interface OsVariantOptions {
  name: string;
  short_id: string;
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
  keys: { name: text, short_id: text, id: text, detect: yesNo, require: yesNo },
  summary: "The OS being installed in the guest; picks defaults such as virtio. Use '--osinfo list' to see them.",
  examples: ['--os-variant fedora40', '--os-variant id=http://debian.org/debian/12', '--os-variant detect=on,require=off'],
};

export function parseOsVariant(raw: string): OsVariantSpec {
  const { values: v } = parseSubOptions(OS_VARIANT, raw);
  const name = v.short_id ?? v.name;
  if (name === 'list') return { kind: 'list' };
  if (v.id !== undefined) return { kind: 'osinfo-uri', uri: v.id };
  if (name !== undefined && name !== 'detect') return { kind: 'named', name };
  return { kind: 'detect', require: v.require ?? true };
}
