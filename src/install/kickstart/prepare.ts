// Finds the kickstart an install will use, the way anaconda finds it (anaconda boot
// options: inst.ks=, and the older ks=): an http(s) URL on the kernel command line
// (--extra-args), a `file:/NAME` naming a file that --initrd-inject puts at the root of
// the initrd, or — with no inst.ks at all — an injected file called ks.cfg (anaconda
// looks for /ks.cfg in the initrd). The kickstart is fetched and validated here, before
// anything is created; an invalid one is a KickstartInvalidError carrying every problem.
// Leaves out nfs:, hd:, cdrom: and bare inst.ks (DHCP-provided) sources.
import { basename } from 'node:path';
import { TsvirtError } from '../../lib/errors.js';
import type { Fetcher } from '../fetch/fetcher.js';
import { formatProblem, type Kickstart, type KsProblem } from './model.js';
import { ShellSplitError, shellSplit } from './shell-split.js';
import { validateKickstartSource } from './validate.js';

export interface PrepareKickstartInput {
  /** The --extra-args string (kernel command line additions). */
  readonly extraArgs?: string;
  /** --initrd-inject paths, in order. */
  readonly injectPaths?: readonly string[];
}

export interface PreparedKickstart {
  readonly kickstart: Kickstart;
  /** The URL or local path it was read from. */
  readonly source: string;
  /** How the installer finds it: the inst.ks= value, or '/ks.cfg' for an injected default. */
  readonly bootArg: string;
  /** Warnings only (errors throw). */
  readonly problems: readonly KsProblem[];
  /** The local file to inject into the initrd, when the kickstart came from --initrd-inject. */
  readonly injectedPath?: string;
}

export class KickstartInvalidError extends TsvirtError {
  constructor(readonly source: string, readonly problems: readonly KsProblem[]) {
    const errors = problems.filter((p) => p.severity === 'error');
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    super(`kickstart ${source} is invalid: ${formatProblem(errors[0])}${more}`, `run 'tsvirt ks validate ${source}' for the full list`);
  }
}

/** The inst.ks=/ks= value on a kernel command line, if any (the last one wins, as in dracut). */
export function findKickstartArg(extraArgs: string): string | undefined {
  let words: string[];
  try {
    words = shellSplit(extraArgs);
  } catch (err) {
    if (err instanceof ShellSplitError) throw new TsvirtError(`cannot split --extra-args: ${err.message}`);
    throw err;
  }
  let found: string | undefined;
  for (const w of words) {
    if (w === 'inst.ks' || w === 'ks') {
      throw new TsvirtError(`${w} without a value (kickstart from DHCP) is not supported`, 'give inst.ks=URL or inject the file with --initrd-inject');
    }
    const m = /^(?:inst\.ks|ks)=(.*)$/.exec(w);
    if (m) found = m[1];
  }
  return found;
}

/**
 * Locates, fetches and validates the kickstart of an install. Returns undefined when the
 * install has no kickstart. Throws KickstartInvalidError (a TsvirtError) when it is invalid.
 */
export async function prepareKickstart(input: PrepareKickstartInput, fetcher: Fetcher): Promise<PreparedKickstart | undefined> {
  const injected = input.injectPaths ?? [];
  const arg = findKickstartArg(input.extraArgs ?? '');
  let source: string;
  let injectedPath: string | undefined;
  let bootArg: string;
  if (arg === undefined) {
    injectedPath = injected.find((p) => basename(p) === 'ks.cfg');
    if (!injectedPath) return undefined;
    source = injectedPath;
    bootArg = '/ks.cfg';
  } else if (/^https?:\/\//.test(arg)) {
    source = arg;
    bootArg = arg;
  } else if (/^file:/.test(arg)) {
    // file:/ks.cfg refers to the initrd's root, which only --initrd-inject can fill.
    const name = arg.replace(/^file:\/*/, '');
    if (name.includes('/')) throw new TsvirtError(`inst.ks=${arg}: only files at the initrd root (from --initrd-inject) are supported`);
    injectedPath = injected.find((p) => basename(p) === name);
    if (!injectedPath) throw new TsvirtError(`inst.ks=${arg} names ${name}, but no --initrd-inject file is called ${name}`, `add --initrd-inject PATH/${name}`);
    source = injectedPath;
    bootArg = arg;
  } else {
    throw new TsvirtError(`unsupported kickstart location inst.ks=${arg}`, 'use an http(s) URL or file:/NAME with --initrd-inject');
  }
  const result = await validateKickstartSource(source, fetcher);
  if (!result.valid) throw new KickstartInvalidError(source, result.problems);
  return { kickstart: result.kickstart, source, bootArg, problems: result.problems, injectedPath };
}
