// --check: turn off individual sanity checks (virt-install's ParserCheck): path_in_use,
// disk_size, path_exists, mac_in_use, or all=off.
import { parseSubOptions, yesNo, type SubOptionTable } from './suboptions.js';

export interface CheckOptions {
  all: boolean;
  path_in_use: boolean;
  disk_size: boolean;
  path_exists: boolean;
  mac_in_use: boolean;
}

export type CheckSpec = Readonly<Omit<CheckOptions, 'all'>>;

export const CHECK: SubOptionTable<CheckOptions> = {
  option: '--check',
  keys: { all: yesNo, path_in_use: yesNo, disk_size: yesNo, path_exists: yesNo, mac_in_use: yesNo },
  summary: 'Enable or disable validation checks.',
  examples: ['--check path_in_use=off', '--check all=off'],
};

export const ALL_CHECKS_ON: CheckSpec = { path_in_use: true, disk_size: true, path_exists: true, mac_in_use: true };

export function parseCheck(raw: string, previous: CheckSpec): CheckSpec {
  const { values: v } = parseSubOptions(CHECK, raw);
  const base = v.all === undefined ? previous : { path_in_use: v.all, disk_size: v.all, path_exists: v.all, mac_in_use: v.all };
  return {
    path_in_use: v.path_in_use ?? base.path_in_use,
    disk_size: v.disk_size ?? base.disk_size,
    path_exists: v.path_exists ?? base.path_exists,
    mac_in_use: v.mac_in_use ?? base.mac_in_use,
  };
}
