// --vcpus: vCPU count and topology (virt-install's ParserVCPU; libvirt <vcpu> and
// <cpu><topology>). Left out: cpuset/placement and per-vCPU settings.
import { integer, parseSubOptions, type SubOptionTable } from './suboptions.js';

export interface VcpusOptions {
  vcpus: number;
  maxvcpus: number;
  sockets: number;
  dies: number;
  cores: number;
  threads: number;
}

export type VcpusSpec = Partial<Readonly<VcpusOptions>>;

const count = integer({ min: 1, max: 4096 });

export const VCPUS: SubOptionTable<VcpusOptions> = {
  option: '--vcpus',
  first: 'vcpus',
  keys: { vcpus: count, maxvcpus: count, sockets: count, dies: count, cores: count, threads: count },
  summary: 'Number of vCPUs and their topology.',
  examples: ['--vcpus 4', '--vcpus 2,maxvcpus=8', '--vcpus sockets=2,cores=4,threads=2'],
};

export function parseVcpus(text: string): VcpusSpec {
  return parseSubOptions(VCPUS, text).values;
}
