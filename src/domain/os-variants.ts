// The OS-variant table (templates/os-variants.yaml): per-OS defaults for memory, vCPUs,
// disk size, disk bus, NIC model and machine type, looked up by short id, alias or
// libosinfo URI. Unknown names get close-match suggestions, as virt-install points to
// `--osinfo list`. The file is trusted (it ships with tsvirt) but still shape-checked.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { TsvirtError } from '../lib/errors.js';
import type { Arch, DiskBus, MachineType, NicModel } from './model.js';

export interface OsVariant {
  readonly id: string;
  readonly aliases: readonly string[];
  readonly name: string;
  readonly family: string;
  readonly osinfo?: string;
  readonly minMemoryMiB: number;
  readonly memoryMiB: number;
  readonly vcpus: number;
  readonly diskGiB: number;
  readonly diskBus: DiskBus;
  readonly nicModel: NicModel;
  readonly machine: MachineType;
  readonly arch: Arch;
}

export const OS_VARIANTS_PATH = fileURLToPath(new URL('../../templates/os-variants.yaml', import.meta.url));

/** The variant virt-install falls back to when detection finds nothing and require=off. */
export const GENERIC_VARIANT_ID = 'generic';

function field<T>(entry: Record<string, unknown>, key: string, check: (v: unknown) => boolean): T {
  const v = entry[key];
  if (!check(v)) throw new Error(`os-variants.yaml: variant ${String(entry.id)}: bad or missing '${key}'`);
  return v as T;
}

const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isStr = (v: unknown) => typeof v === 'string' && v.length > 0;

export function parseOsVariantsYaml(text: string): OsVariant[] {
  const doc = yaml.load(text) as { variants?: unknown };
  if (!doc || !Array.isArray(doc.variants)) throw new Error('os-variants.yaml: no variants list');
  return doc.variants.map((raw: Record<string, unknown>) => ({
    id: field<string>(raw, 'id', isStr),
    aliases: (raw.aliases as string[] | undefined) ?? [],
    name: field<string>(raw, 'name', isStr),
    family: field<string>(raw, 'family', isStr),
    osinfo: raw.osinfo as string | undefined,
    minMemoryMiB: field<number>(raw, 'minMemoryMiB', isNum),
    memoryMiB: field<number>(raw, 'memoryMiB', isNum),
    vcpus: field<number>(raw, 'vcpus', isNum),
    diskGiB: field<number>(raw, 'diskGiB', isNum),
    diskBus: field<DiskBus>(raw, 'diskBus', (v) => ['virtio', 'sata', 'scsi', 'ide'].includes(v as string)),
    nicModel: field<NicModel>(raw, 'nicModel', (v) => ['virtio', 'e1000', 'e1000e', 'rtl8139'].includes(v as string)),
    machine: field<MachineType>(raw, 'machine', (v) => v === 'q35' || v === 'pc'),
    arch: field<Arch>(raw, 'arch', (v) => v === 'x86_64' || v === 'i686'),
  }));
}

let cached: OsVariant[] | undefined;

export function loadOsVariants(): readonly OsVariant[] {
  cached ??= parseOsVariantsYaml(readFileSync(OS_VARIANTS_PATH, 'utf8'));
  return cached;
}

/** Edit distance, for "did you mean" suggestions. */
function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

export function suggestOsVariants(name: string, variants: readonly OsVariant[], max = 3): string[] {
  const lower = name.toLowerCase();
  return variants
    .flatMap((v) => [v.id, ...v.aliases].map((n) => ({ id: v.id, d: n.startsWith(lower) || lower.startsWith(n) ? 1 : levenshtein(lower, n) })))
    .filter((c) => c.d <= Math.max(2, Math.floor(lower.length / 3)))
    .sort((a, b) => a.d - b.d || a.id.localeCompare(b.id))
    .map((c) => c.id)
    .filter((id, i, all) => all.indexOf(id) === i)
    .slice(0, max);
}

export function findOsVariant(name: string, variants: readonly OsVariant[] = loadOsVariants()): OsVariant {
  const found = variants.find((v) => v.id === name || v.aliases.includes(name) || v.osinfo === name);
  if (found) return found;
  const close = suggestOsVariants(name, variants);
  throw new TsvirtError(
    `Unknown OS name '${name}'`,
    close.length > 0 ? `did you mean ${close.join(', ')}? See \`--osinfo list\` for valid values` : 'see `--osinfo list` for valid values',
  );
}

/** The `--osinfo list` text: one line per variant, aliases after a comma as virt-install does. */
export function formatOsVariantList(variants: readonly OsVariant[] = loadOsVariants()): string {
  return variants.map((v) => [v.id, ...v.aliases].join(', ')).join('\n');
}
