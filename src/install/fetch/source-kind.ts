// What a location string is: an http(s) URL or a local file (a path or a file: URL).
// Every reader that takes a source asks here, so one spelling means one thing everywhere.
import { fileURLToPath } from 'node:url';
import { TsvirtError } from '../../lib/errors.js';

export type SourceKind = { kind: 'http'; url: string } | { kind: 'file'; path: string };

/** Classifies a location string; unsupported schemes are the user's error. */
export function classifySource(source: string): SourceKind {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(source)?.[1]?.toLowerCase();
  if (scheme === 'http' || scheme === 'https') {
    try {
      return { kind: 'http', url: new URL(source).toString() };
    } catch {
      throw new TsvirtError(`malformed URL '${source}'`);
    }
  }
  if (scheme === 'file') {
    try {
      return { kind: 'file', path: fileURLToPath(source) };
    } catch {
      throw new TsvirtError(`malformed file URL '${source}'`);
    }
  }
  // One-letter "schemes" are not a thing on Linux paths; anything else is unsupported.
  if (scheme && scheme.length > 1) {
    throw new TsvirtError(`unsupported URL scheme '${scheme}:' in '${source}'`, 'use http://, https://, file:// or a local path');
  }
  return { kind: 'file', path: source };
}
