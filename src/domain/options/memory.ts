// --memory / --ram / -r: guest RAM in MiB (virt-install's ParserMemory). Keys follow
// virt-install's back-compat rules: a bare value or memory= alone sets the boot memory
// (<currentMemory>) and, unless maxmemory= raises it, <memory>; with currentMemory= given,
// memory= is <memory> itself. Floats are accepted and rounded to whole KiB. Left out:
// maxMemory/slots (hotplug) and hugepages.
import { decimal, parseSubOptions, type SubOptionTable } from './suboptions.js';

export interface MemoryOptions {
  memory: number;
  maxmemory: number;
  currentMemory: number;
}

export interface MemorySpec {
  /** <memory> in MiB, when the command line fixes it. */
  readonly memoryMiB?: number;
  /** <currentMemory> in MiB, when the command line fixes it. */
  readonly currentMemoryMiB?: number;
}

const mib = decimal('MiB', { min: 0, minExclusive: true });

export const MEMORY: SubOptionTable<MemoryOptions> = {
  option: '--memory',
  first: 'memory',
  keys: { memory: mib, maxmemory: mib, currentMemory: mib },
  summary: 'Configure guest memory allocation (MiB).',
  examples: ['--memory 1024', '--memory memory=2048,currentMemory=1024', '--memory 1024,maxmemory=2048'],
};

export function parseMemory(text: string): MemorySpec {
  const { values: v } = parseSubOptions(MEMORY, text);
  if (v.currentMemory !== undefined) {
    return { memoryMiB: v.maxmemory ?? v.memory, currentMemoryMiB: v.currentMemory };
  }
  if (v.maxmemory !== undefined) return { memoryMiB: v.maxmemory, currentMemoryMiB: v.memory };
  return { currentMemoryMiB: v.memory };
}
