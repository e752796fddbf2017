// The typed kickstart model: commands with their parsed options and the line they came
// from, script sections, %packages, and the problems found (ksvalidator-style
// `FILE:LINE: message`). Plain data. Follows the pykickstart kickstart syntax reference
// (Fedora/RHEL current syntax); what it leaves out is listed in command-table.ts.

export interface KsLocation {
  readonly file: string;
  readonly line: number;
}

export type KsOptionValue = string | number | boolean | readonly string[];

export interface KsCommand {
  /** Canonical command name (`partition` is stored as `part`). */
  readonly name: string;
  /** The name as written. */
  readonly written: string;
  readonly args: readonly string[];
  /** Options by canonical name without dashes (`--boot-drive` -> `boot-drive`). */
  readonly options: Readonly<Record<string, KsOptionValue>>;
  readonly at: KsLocation;
}

export type KsScriptKind = 'pre' | 'pre-install' | 'post' | 'onerror' | 'traceback';

export interface KsScript {
  readonly kind: KsScriptKind;
  readonly interpreter: string;
  readonly nochroot: boolean;
  readonly erroronfail: boolean;
  readonly log?: string;
  readonly body: string;
  readonly at: KsLocation;
}

export interface KsPackages {
  readonly options: Readonly<Record<string, KsOptionValue>>;
  readonly packages: readonly string[];
  readonly groups: readonly string[];
  readonly excludedPackages: readonly string[];
  readonly excludedGroups: readonly string[];
  readonly at: KsLocation;
}

export interface KsAddon {
  readonly name: string;
  readonly args: readonly string[];
  readonly body: string;
  readonly at: KsLocation;
}

export interface Kickstart {
  /** Where the top-level file came from. */
  readonly source: string;
  readonly commands: readonly KsCommand[];
  readonly scripts: readonly KsScript[];
  readonly packages?: KsPackages;
  readonly addons: readonly KsAddon[];
}

export type KsSeverity = 'error' | 'warning';

export interface KsProblem {
  readonly severity: KsSeverity;
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/**
 * Problems quote what the kickstart wrote, which may be a value of megabytes (a 3 MB host
 * name made a 3 MB ERROR line); what is shown of a message stops here.
 */
export const MAX_PROBLEM_MESSAGE_CHARS = 1000;

export function formatProblem(p: KsProblem): string {
  const over = p.message.length - MAX_PROBLEM_MESSAGE_CHARS;
  const message = over > 0 ? `${p.message.slice(0, MAX_PROBLEM_MESSAGE_CHARS)}... (${over} more characters)` : p.message;
  return `${p.file}:${p.line}: ${p.severity === 'warning' ? 'warning: ' : ''}${message}`;
}

/** The last occurrence of a command (singletons: the later one wins, as in pykickstart). */
export function lastCommand(ks: Kickstart, name: string): KsCommand | undefined {
  for (let i = ks.commands.length - 1; i >= 0; i--) if (ks.commands[i].name === name) return ks.commands[i];
  return undefined;
}

export function allCommands(ks: Kickstart, name: string): KsCommand[] {
  return ks.commands.filter((c) => c.name === name);
}
