// The software x86-64 CPU (ARCHITECTURE.md "VM core"): the contract other parts use.
// Everything else in this folder is its implementation.

export { Cpu, type CpuOptions } from './cpu.js';
export { cpuid, CPUID_VENDOR, HYPERVISOR_VENDOR } from './cpuid.js';
export { OPCODES, type OpcodeSpec } from './opcodes.js';
