// The trust boundary for names a document gives: a path or URL written inside a .treeinfo,
// a Debian tree, an ISO's directory or a kickstart (%include, %ksappend, liveimg, url) is
// resolved here, and only here, before anything is fetched.
//  - A document the user gave as a local file (a path or file: URL on the command line, or
//    a file it includes) is the user's own: what it names is taken as written, local
//    files included.
//  - A document fetched over http(s) is the server's: what it names must be on the same
//    origin (scheme, host and port) as the document, or on an origin the user named on the
//    command line (--location, inst.ks=); a file: URL or a local path is never honoured,
//    since it would read a file of this host into a guest. Within a tree, a name must stay
//    under the tree's own path.
//  - A redirect is the server naming another URL: it may move within the origin of the
//    URL requested, never to another origin, scheme (an https -> http downgrade included)
//    or a file: URL. A user who wants the other server names it on the command line.
// Without this, a hostile install server could make tsvirt read /etc/shadow into a guest's
// initrd (`kernel = file:/etc/shadow` in .treeinfo, `%include file:///etc/shadow`) or send
// fetches to another host and port (`kernel = https:/127.0.0.1:1/vmlinuz`).
import { dirname, isAbsolute, resolve } from 'node:path';
import { TsvirtError } from '../../lib/errors.js';
import { classifySource } from './source-kind.js';

export interface NamingDocument {
  /** Where the document came from: an http(s) URL, a file: URL or a local path. */
  readonly source: string;
  /** Origins (scheme://host:port) the user named on the command line, also allowed. */
  readonly trustedOrigins?: readonly string[];
}

const SCHEME_RE = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;

/** The origin of an http(s) URL, e.g. http://127.0.0.1:8080. */
export function originOf(url: string): string {
  return new URL(url).origin;
}

/** Whether a source is remote (http or https): what it names is then confined. */
export function isRemoteSource(source: string): boolean {
  return classifySource(source).kind === 'http';
}

/** A name as an ERROR line quotes it: a hostile document may write megabytes. */
function quoted(name: string): string {
  return JSON.stringify(name.length > 200 ? `${name.slice(0, 200)}...` : name);
}

function refuse(doc: NamingDocument, name: string, why: string): never {
  throw new TsvirtError(`${doc.source} names ${quoted(name)}, ${why}`, 'a document fetched from a server may only name files on that server; give other sources on the command line');
}

/**
 * Resolves `name` as written in `doc` into a source the fetcher may read, or throws.
 * `within` (a directory URL or path ending in '/'): the result must also lie under it.
 */
export function resolveNamedSource(doc: NamingDocument, name: string, opts: { within?: string } = {}): string {
  if (name.includes('\0')) refuse(doc, name, 'which contains a NUL byte');
  const parent = classifySource(doc.source);
  if (parent.kind !== 'http') {
    // The user's own file: a URL is taken as written, a path relative to the document.
    if (SCHEME_RE.test(name) && name.split(':')[0].length > 1) return name;
    return isAbsolute(name) ? name : resolve(dirname(parent.path), name);
  }
  const scheme = SCHEME_RE.exec(name)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') {
    refuse(doc, name, `a ${scheme}: URL, which a document from ${originOf(parent.url)} may not name`);
  }
  let url: URL;
  try {
    // WHATWG URL parsing resolves "https:/host:1/x" against an https base to another host;
    // the origin check below is what catches it.
    url = new URL(name, opts.within ?? parent.url);
  } catch {
    refuse(doc, name, 'which is not a valid URL');
  }
  const allowed = new Set([originOf(parent.url), ...(doc.trustedOrigins ?? [])]);
  if (!allowed.has(url.origin)) refuse(doc, name, `which is on ${url.origin}, not on ${[...allowed].join(' or ')}`);
  if (opts.within !== undefined) {
    const base = new URL(opts.within);
    if (url.origin !== base.origin || !url.pathname.startsWith(base.pathname)) refuse(doc, name, `which is outside the tree ${opts.within}`);
  }
  url.hash = '';
  return url.toString();
}

/**
 * The URL a redirect from `from` to `location` (its Location header) leads to, or a
 * TsvirtError when the redirect leaves `from`'s origin.
 */
export function checkRedirect(from: string, location: string): string {
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    throw new TsvirtError(`${from} redirects to ${quoted(location)}, which is not a valid URL`, 'check the URL');
  }
  const origin = originOf(from);
  if (target.origin !== origin || (target.protocol !== 'http:' && target.protocol !== 'https:')) {
    throw new TsvirtError(
      `${from} redirects to ${target.protocol === 'file:' ? 'a file: URL' : target.origin}, another origin than ${origin}; tsvirt follows redirects only within one origin`,
      `if you trust that server, give its URL (${target.protocol === 'file:' ? 'a local path' : target.toString()}) on the command line instead`,
    );
  }
  return target.toString();
}
