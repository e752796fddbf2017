// The state of the domains a user has, defined and running, read without starting or
// changing anything: `tsvirt list` and `domstate`-style questions. Kept apart from
// domains.ts (the verbs that start and change guests) so that `tsvirt list` loads only
// the definition store and the runner probe, not the VM core behind starting a guest.
import fs from 'node:fs';
import type { Domain } from '../domain/model.js';
import { parseDomainXml } from '../domain/xml/parse.js';
import { DefinitionStore, notFound } from './definition-store.js';
import { probeRunner } from './runner-lock.js';
import { checkDomainName, runtimeFiles, type LifecyclePaths } from './state-paths.js';

export type DomainState = 'running' | 'shut off';

export interface DomainRow {
  name: string;
  state: DomainState;
  pid?: number;
  vcpus?: number;
  memoryKiB?: number;
  persistent: boolean;
  autostart: boolean;
}

export function store(paths: LifecyclePaths): DefinitionStore {
  return new DefinitionStore(paths.domainsDir);
}

export function runtime(paths: LifecyclePaths, name: string) {
  const files = runtimeFiles(paths.stateDir, name);
  return { files, probe: probeRunner(files.pid) };
}

export function liveDomain(paths: LifecyclePaths, name: string): Domain | undefined {
  try {
    return parseDomainXml(fs.readFileSync(runtimeFiles(paths.stateDir, name).liveXml, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Names of domains whose runner is alive, found from the pid files in the state directory. */
function runningNames(paths: LifecyclePaths): string[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(paths.stateDir);
  } catch {
    return [];
  }
  return entries.filter((f) => f.endsWith('.pid')).map((f) => f.slice(0, -4)).filter((n) => {
    try {
      checkDomainName(n);
    } catch {
      return false;
    }
    return probeRunner(runtimeFiles(paths.stateDir, n).pid).running;
  });
}

/** `tsvirt list [--all]`: running domains, and with all the defined ones that are shut off. */
export function listDomains(paths: LifecyclePaths, opts: { all: boolean }): DomainRow[] {
  const defs = store(paths);
  const names = new Set([...defs.names(), ...runningNames(paths)]);
  const rows: DomainRow[] = [];
  for (const name of [...names].sort()) {
    const { probe } = runtime(paths, name);
    if (!probe.running && !opts.all) continue;
    const persistent = defs.has(name);
    let domain = probe.running ? liveDomain(paths, name) : undefined;
    if (!domain && persistent) {
      try {
        domain = defs.load(name).domain;
      } catch {
        domain = undefined;
      }
    }
    rows.push({
      name,
      state: probe.running ? 'running' : 'shut off',
      pid: probe.running ? probe.pid : undefined,
      vcpus: domain?.vcpusCurrent,
      memoryKiB: domain?.currentMemoryKiB,
      persistent,
      autostart: persistent && defs.autostart(name),
    });
  }
  return rows;
}

export function domainState(paths: LifecyclePaths, name: string): { state: DomainState; pid?: number } {
  checkDomainName(name);
  const { probe } = runtime(paths, name);
  if (probe.running) return { state: 'running', pid: probe.pid };
  if (!store(paths).has(name)) throw notFound(name);
  return { state: 'shut off' };
}

