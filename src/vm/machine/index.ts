// The machine layer's contract: a serializable MachineConfig, one call that runs it in a
// worker with the console attached, and the in-thread machine for tests and tools.
export type { MachineConfig, MachineResult, MachineExitKind, PciDeviceSpec } from './machine-config.js';
export { runMachine, type ConsoleIo } from './run-machine.js';
export { PcMachine, createMachine, type PciPlatform } from './pc-machine.js';
export { machineResultError } from './machine-result.js';
