// --cpu: the guest CPU model (virt-install's ParserCPU; libvirt <cpu mode=...>).
// host-passthrough / host-model are modes, `host` is virt-install's alias for host-model,
// anything else is a named model (mode custom). Left out: feature flags (+x2apic), NUMA.
import { TsvirtError } from '../../lib/errors.js';
import { parseSubOptions, type SubOptionTable, type ValueParser } from './suboptions.js';

export interface CpuOptions {
  model: string;
  mode: 'host-passthrough' | 'host-model' | 'custom';
}

export interface CpuSpec {
  readonly mode: 'host-passthrough' | 'host-model' | 'custom';
  readonly model?: string;
}

/** Named models as QEMU spells them: letters, digits, '-', '_', '.'. */
const modelName: ValueParser<string> = (raw, where) => {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(raw)) throw new TsvirtError(`${where}: invalid CPU model name`, 'use host-passthrough, host-model or a model such as Haswell');
  return raw;
};

export const CPU: SubOptionTable<CpuOptions> = {
  option: '--cpu',
  first: 'model',
  keys: {
    model: modelName,
    mode: (raw, where) => {
      if (raw === 'host-passthrough' || raw === 'host-model' || raw === 'custom') return raw;
      throw new TsvirtError(`${where}: unknown CPU mode '${raw}'`, 'use host-passthrough, host-model or custom');
    },
  },
  summary: 'CPU model: host-passthrough, host-model or a named model.',
  examples: ['--cpu host-passthrough', '--cpu host-model', '--cpu Haswell'],
};

export function parseCpu(text: string): CpuSpec {
  const { values: v } = parseSubOptions(CPU, text);
  const model = v.model;
  if (model === 'host-passthrough' || model === 'host-model') return { mode: model };
  if (model === 'host') return { mode: 'host-model' };
  if (v.mode && v.mode !== 'custom') {
    if (model) throw new TsvirtError(`--cpu: a model (${model}) cannot go with mode=${v.mode}`, 'drop the model or the mode');
    return { mode: v.mode };
  }
  if (!model) throw new TsvirtError('--cpu: no CPU model given', 'use host-passthrough, host-model or a model such as Haswell');
  return { mode: 'custom', model };
}
