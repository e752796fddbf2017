// Guest configuration options (virt-install's "Guest Configuration Options" group):
// --events (lifecycle actions), --features (acpi, apic, pae) and --clock (offset), each
// mapping onto the libvirt elements of the same names. Left out: the other --features
// (hyperv, kvm hidden ...), clock timers, --pm, --sysinfo, tuning options.
import type { LifecycleAction } from '../model.js';
import { oneOf, parseSubOptions, yesNo, type SubOptionTable } from './suboptions.js';

const action = oneOf<LifecycleAction>('destroy', 'restart', 'preserve', 'rename-restart');

export interface EventsOptions {
  on_poweroff: LifecycleAction;
  on_reboot: LifecycleAction;
  on_crash: LifecycleAction;
}

export const EVENTS: SubOptionTable<EventsOptions> = {
  option: '--events',
  keys: { on_poweroff: action, on_reboot: action, on_crash: action },
  summary: 'Configure VM lifecycle management policy.',
  examples: ['--events on_poweroff=destroy,on_reboot=restart,on_crash=preserve'],
};

export interface EventsSpec {
  readonly onPoweroff?: LifecycleAction;
  readonly onReboot?: LifecycleAction;
  readonly onCrash?: LifecycleAction;
}

export function parseEvents(raw: string): EventsSpec {
  const { values: v } = parseSubOptions(EVENTS, raw);
  return { onPoweroff: v.on_poweroff, onReboot: v.on_reboot, onCrash: v.on_crash };
}

export interface FeaturesOptions {
  acpi: boolean;
  apic: boolean;
  pae: boolean;
}

export const FEATURES: SubOptionTable<FeaturesOptions> = {
  option: '--features',
  keys: { acpi: yesNo, apic: yesNo, pae: yesNo },
  summary: 'Set domain <features> XML (acpi, apic, pae).',
  examples: ['--features acpi=off', '--features apic=on,pae=on'],
};

export type FeaturesSpec = Partial<Readonly<FeaturesOptions>>;

export function parseFeatures(raw: string): FeaturesSpec {
  return parseSubOptions(FEATURES, raw).values;
}

export interface ClockOptions {
  offset: 'utc' | 'localtime';
}

export const CLOCK: SubOptionTable<ClockOptions> = {
  option: '--clock',
  first: 'offset',
  keys: { offset: oneOf('utc', 'localtime') },
  summary: 'Set domain <clock> XML: offset=utc or localtime.',
  examples: ['--clock offset=localtime'],
};

export function parseClock(raw: string): 'utc' | 'localtime' | undefined {
  return parseSubOptions(CLOCK, raw).values.offset;
}
