// Hostile install sources (issue 15): trees and kickstarts served by a misbehaving server
// on 127.0.0.1, each replayed through the whole prepare-and-inject path of an install
// (runInstall, stopped at the guest runner, which is where the built initrd is looked
// at) and a subset through the real CLI (`tsvirt ks validate URL`, `tsvirt-install
// --dry-run`, `tsvirt-install --location URL`). Every case must end cleanly: a
// TsvirtError (one `ERROR` line, exit 1, no stack frame for the CLI) or, where the input
// is odd but harmless, a normal install; never a hang, never an internal error.
//
// A random secret sits in a file of this host (support/canary.ts), and the hostile sources
// name that file in every spelling a name can take (file: URLs, absolute paths, ../
// escapes, percent-encoded and backslash escapes, other ports, redirects). The secret must
// appear nowhere: not in the built initrd (its gzip members inflated), the injected
// kickstart, the kernel or payload disk handed to the guest, the download cache, error
// messages or CLI output; and, where the file system records reads, the file must not even
// have been read. A second server stands for "another origin": it must see no request.
//
// The fetcher's limits are lowered through its options so slow cases take seconds:
// timeoutMs (per read, and the window of the minimum rate) 1 s, one retry after 100 ms,
// and fetchBytes' overall deadline (60 s by default for kickstarts, .treeinfo and other
// small resources; FetchOptions.deadlineMs) 3 s. The CLI runs with its real defaults.
import { createHash } from 'node:crypto';
import { type Dirent, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetcher, silentProgress, type Fetcher, type FetchOptions } from '../../src/install/fetch/index.js';
import type { GuestRunner } from '../../src/install/guest-machine.js';
import { validateKickstartSource, type ParseOptions } from '../../src/install/kickstart/index.js';
import { runInstall, type InstallJob } from '../../src/install/run-install.js';
import { TSVIRT_TREE_INITRD, TSVIRT_TREE_KERNEL, renderTsvirtTreeInfo } from '../../src/install/location/tsvirt-tree-format.js';
import { TsvirtError, describeError } from '../../src/lib/errors.js';
import { errorLines, runMeasured, STACK_FRAME } from '../support/measured-cli.js';
import { filesHoldingToken, holdsToken, makeCanary, type Canary } from './support/canary.js';
import { startHostileServer, type Behaviour, type HostileServer } from './support/hostile-server.js';
import { fedoraTreeinfo, PROBE_LIVEIMG, probeKickstart, writeProbeTree } from './support/probe-tree.js';

/** A case still running after this is counted as a hang (the lowered limits end any case in a few seconds). */
const CASE_DEADLINE_MS = 30_000;
/** The CLI runs with its defaults: a 30 s read timeout and minimum-rate window, 60 s for small resources. */
const CLI_DEADLINE_MS = 150_000;
/** Most CLI runs wait on the network; the slow ones wait out a default for most of their time. */
const CLI_CONCURRENCY = 3;
const FETCHER_OPTIONS = { retries: 1, backoffMs: () => 100, timeoutMs: 1000, minBytesPerSecond: 1024, progress: silentProgress };
const SMALL_RESOURCE_DEADLINE_MS = 3000;
/** What a tsvirt process may use while refusing a hostile source (the largest inputs are a few MiB). */
const RSS_LIMIT_KIB = 512 * 1024;
const BOOT_IMAGE_LIMIT_BYTES = 1024 * 1024 * 1024;

// --- the two sides: in-process cases and CLI runs each have their own secret and their
// own "other origin", so a read or a request is blamed on the right one while both run.
interface Side {
  readonly canary: Canary;
  readonly other: HostileServer;
  /** The secret as served by the other origin (what a followed cross-origin name would get). */
  readonly secretBytes: Buffer;
}

const work = mkdtempSync(join(tmpdir(), 'tsvirt-hostile-src-'));
const www = join(work, 'www');
const hostile = await startHostileServer();
async function side(): Promise<Side> {
  const canary = makeCanary();
  const other = await startHostileServer();
  const secretBytes = readFileSync(canary.file);
  other.route('/', { kind: 'body', body: secretBytes });
  return { canary, other, secretBytes };
}
const inproc = await side();
const cli = await side();
const tree = await writeProbeTree(www);
const GOOD = `${hostile.url}/good`;
writeFileSync(join(www, 'ks.cfg'), probeKickstart());
writeFileSync(join(www, 'ks-liveimg.cfg'), probeKickstart([`liveimg --url=${GOOD}/tree/${PROBE_LIVEIMG} --checksum=sha256:${tree.sha256.rootfs}`]));
hostile.route('/good/', { kind: 'directory', root: www });

// Reads of the secret file show in its atime (relatime updates an atime older than the
// mtime): armed before each case, checked after. Probed once, since a noatime mount
// records nothing; the artefact scans do not depend on it.
const ARMED_ATIME = new Date('2001-01-01T00:00:00Z');
function arm(c: Canary): void {
  utimesSync(c.file, ARMED_ATIME, new Date());
}
function wasRead(c: Canary): boolean {
  return statSync(c.file).atimeMs !== ARMED_ATIME.getTime();
}
arm(inproc.canary);
readFileSync(inproc.canary.file);
const READS_RECORDED = wasRead(inproc.canary);

// --- cases -------------------------------------------------------------------------

interface Ctx {
  readonly side: Side;
  /** The case's own path on the hostile server, e.g. /c17/. */
  readonly prefix: string;
  url(rel: string): string;
}

interface Setup {
  /** Routes below the case's prefix ('tree/.treeinfo', 'ks.cfg', ...). */
  routes?: Record<string, Behaviour>;
  /** --location below the prefix; the good tree when absent. */
  tree?: string;
  /** inst.ks= below the prefix; a good kickstart when absent. */
  ks?: string;
  /** The good kickstart to use with a hostile tree: with its own liveimg (default) or the tree's. */
  goodKs?: 'ks.cfg' | 'ks-liveimg.cfg';
  /** A kickstart of the user's own, injected with --initrd-inject (inst.ks=file:/ks.cfg). */
  localKs?: string;
}

type CliMode = 'ks validate' | 'dry-run' | 'install';

interface Probe {
  name: string;
  expect: 'error' | 'accept';
  /** What the error says (checked on the message, or the CLI's output). */
  error?: RegExp;
  setup(c: Ctx): Setup;
  /** Also run through the CLI, with its default limits. */
  cli?: CliMode;
  /** Only through the CLI (its defaults are what the case is about). */
  cliOnly?: boolean;
  /** Waits out a CLI default (30 s or 60 s): started first, so the short runs fill the other slots. */
  cliSlow?: boolean;
  /** A further check on the in-process run. */
  after?(run: { cacheDir: string }): void;
  /**
   * In process, validate the kickstart alone (what `tsvirt ks validate` does) with these
   * options instead of running the install path: for budgets the install path keeps at
   * their defaults.
   */
  validateOnly?: ParseOptions;
}

const body = (b: string | Uint8Array, headers?: Record<string, string | number>): Behaviour => ({ kind: 'body', body: b, headers });
const status = (s: number): Behaviour => ({ kind: 'status', status: s });
const redirect = (location: string, s: 301 | 302 | 303 | 307 | 308 = 302): Behaviour => ({ kind: 'redirect', status: s, location });
const ks = (...lines: string[]): Behaviour => body(probeKickstart(lines));

const treeProbe = (name: string, expect: Probe['expect'], error: RegExp | undefined, routes: (c: Ctx) => Record<string, Behaviour>, more: Partial<Probe> = {}): Probe =>
  ({ name: `tree: ${name}`, expect, error, setup: (c) => ({ tree: 'tree/', routes: routes(c) }), ...more });
const ksProbe = (name: string, expect: Probe['expect'], error: RegExp | undefined, routes: (c: Ctx) => Record<string, Behaviour>, more: Partial<Probe> = {}): Probe =>
  ({ name: `kickstart: ${name}`, expect, error, setup: (c) => ({ ks: 'ks.cfg', routes: routes(c) }), ...more });
const treeinfo = (text: string | ((c: Ctx) => string)) => (c: Ctx) => ({ 'tree/.treeinfo': body(typeof text === 'string' ? text : text(c)) });
const secret = (c: Ctx) => c.side.canary.file;
const otherUrl = (c: Ctx, path = '/secret.tar.gz') => `${c.side.other.url}${path}`;
const tsvirtTreeinfo = (o: { kernelSum?: string; checksums?: Record<string, string>; liveimg?: string } = {}) => renderTsvirtTreeInfo({
  version: '1', arch: 'x86_64', liveimg: o.liveimg ?? PROBE_LIVEIMG, installerFilesystems: ['ext2', 'swap'],
  checksums: o.checksums ?? { [TSVIRT_TREE_KERNEL]: `sha256:${o.kernelSum ?? tree.sha256.kernel}`, [TSVIRT_TREE_INITRD]: `sha256:${tree.sha256.initrd}`, [PROBE_LIVEIMG]: `sha256:${tree.sha256.rootfs}` },
});
const gzipBomb = gzipSync(Buffer.alloc(64 * 1024 * 1024)); // 64 MiB of zeros in ~64 KiB
const debianManifest = 'Debian installer netboot images\nnetboot/debian-installer/amd64/linux\n';
const DEBIAN = 'current/images/netboot/debian-installer/amd64/';

const TREES: Probe[] = [
  treeProbe('kernel = file:HOST', 'error', /names "file:\/[^"]*secret\.tar\.gz", a file: URL, which a document from http:\/\/127\.0\.0\.1:\d+ may not name/,
    treeinfo((c) => fedoraTreeinfo({ kernel: `file:${secret(c)}` })), { cli: 'install' }),
  treeProbe('kernel = an absolute host path (stays under the tree)', 'error', /the install tree has no tmp\/|the install tree has no .*secret/,
    treeinfo((c) => fedoraTreeinfo({ kernel: secret(c) }))),
  treeProbe('kernel = ../../ escape', 'error', /leaves the install tree/, treeinfo((c) => fedoraTreeinfo({ kernel: `../../../../../../..${secret(c)}` })), { cli: 'install' }),
  treeProbe('kernel = https:/127.0.0.1:1/vmlinuz', 'error', /names "https:\/127\.0\.0\.1:1\/vmlinuz", which is on https:\/\/127\.0\.0\.1:1, not on/,
    treeinfo(fedoraTreeinfo({ kernel: 'https:/127.0.0.1:1/vmlinuz' })), { cli: 'install' }),
  treeProbe('initrd = http://OTHER-PORT/secret', 'error', /which is (on http:\/\/127\.0\.0\.1:\d+|outside the tree)/, treeinfo((c) => fedoraTreeinfo({ initrd: otherUrl(c) }))),
  treeProbe('duplicate [images-x86_64], the second naming file:HOST', 'error', /section \[images-x86_64\] appears twice/,
    treeinfo((c) => `${fedoraTreeinfo()}[images-x86_64]\nkernel = file://${secret(c)}\n`)),
  treeProbe('duplicate [general] with another family', 'error', /section \[general\] appears twice/,
    treeinfo(`${fedoraTreeinfo()}[general]\nfamily = tsvirt\n`)),
  treeProbe('kernel given twice in one section', 'error', /kernel is given twice in \[images-x86_64\]/,
    treeinfo((c) => fedoraTreeinfo({ extra: `kernel = file://${secret(c)}` }))),
  treeProbe('a kernel name of 1,000,000 bytes', 'error', /kernel is 1000000 characters long, more than a path can be/, treeinfo(fedoraTreeinfo({ kernel: 'k'.repeat(1_000_000) }))),
  treeProbe('.treeinfo larger than 1 MiB', 'error', /larger than the limit of 1048576 bytes/, treeinfo(`${fedoraTreeinfo()}; ${'x'.repeat(2 * 1024 * 1024)}\n`)),
  treeProbe('no [general]', 'error', /no family in \[general\]/, treeinfo('[images-x86_64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n')),
  treeProbe('no [images-x86_64]', 'error', /names no kernel and initrd for x86_64/, treeinfo('[general]\nfamily = Fedora\nversion = 41\narch = x86_64\n')),
  treeProbe('arch aarch64', 'error', /is for aarch64; tsvirt runs x86_64 guests/, treeinfo(fedoraTreeinfo().replace('arch = x86_64', 'arch = aarch64').replace('[images-x86_64]', '[images-aarch64]'))),
  treeProbe('a NUL byte in the kernel name', 'error', /NUL/, treeinfo(fedoraTreeinfo({ kernel: 'images/pxeboot/vmlinuz\0x' }))),
  treeProbe('invalid UTF-8 in the family name (a display name only)', 'accept', undefined,
    () => ({ 'tree/.treeinfo': body(Buffer.concat([Buffer.from('[general]\nfamily = Fedora\xff\xfe', 'latin1'), Buffer.from(fedoraTreeinfo().split('\n').slice(2).join('\n'))])) })),
  treeProbe('.treeinfo: an endless body', 'error', /larger than the limit of 1048576 bytes/, () => ({ 'tree/.treeinfo': { kind: 'endless', chunk: Buffer.from('[general]\n; padding\n'.repeat(1000)) } }), { cli: 'install' }),
  treeProbe('.treeinfo: one byte every 300 ms (slowloris, under the minimum rate)', 'error', /arrives too slowly/, () => ({ 'tree/.treeinfo': { kind: 'trickle', intervalMs: 300, chunk: '[' } })),
  treeProbe('.treeinfo: one byte every 2 s (slower than the read timeout)', 'error', /failed after 2 attempts: Timeout awaiting 'socket'/, () => ({ 'tree/.treeinfo': { kind: 'trickle', intervalMs: 2000, chunk: '[' } })),
  treeProbe('.treeinfo: above the minimum rate, never ending', 'error', /did not finish within its deadline of 3 s/,
    () => ({ 'tree/.treeinfo': { kind: 'trickle', intervalMs: 100, chunk: `; ${'x'.repeat(400)}\n`, prefix: fedoraTreeinfo() } })),
  treeProbe('.treeinfo: HTTP 500 on every attempt', 'error', /failed after 2 attempts: HTTP 500/, () => ({ 'tree/.treeinfo': status(500) })),
  treeProbe('.treeinfo: HTTP 503 once, then served', 'accept', undefined, () => ({ 'tree/.treeinfo': { kind: 'sequence', steps: [status(503), body(fedoraTreeinfo())] } })),
  treeProbe('.treeinfo: connection reset', 'error', /failed after 2 attempts/, () => ({ 'tree/.treeinfo': { kind: 'reset' } })),
  treeProbe('.treeinfo: reset after the headers and 10 bytes', 'error', /failed after 2 attempts/, () => ({ 'tree/.treeinfo': { kind: 'reset', afterHeaders: true, afterBytes: 10, contentLength: 500 } })),
  treeProbe('.treeinfo: truncated (Content-Length larger than the body)', 'error', /failed after 2 attempts/,
    () => ({ 'tree/.treeinfo': { kind: 'short-body', declared: 4000, body: fedoraTreeinfo().slice(0, 40) } })),
  treeProbe('.treeinfo: a Content-Length shorter than the body (the rest names file:HOST)', 'error', /Parse Error/,
    (c) => ({ 'tree/.treeinfo': { kind: 'long-body', declared: fedoraTreeinfo().length, body: `${fedoraTreeinfo()}[images-x86_64]\nkernel = file://${secret(c)}\n` } })),
  treeProbe('.treeinfo: the server never answers', 'error', /failed after 2 attempts: Timeout awaiting/, () => ({ 'tree/.treeinfo': { kind: 'silent' } })),
  treeProbe('.treeinfo: not HTTP at all', 'error', /fetching http:\/\/127\.0\.0\.1:\d+\/c\d+\/tree\/\.treeinfo failed/, () => ({ 'tree/.treeinfo': { kind: 'raw', data: 'SSH-2.0-OpenSSH_9.2\r\n' } })),
  treeProbe('.treeinfo: a negative Content-Length', 'error', /fetching .* failed/, () => ({ 'tree/.treeinfo': { kind: 'raw', data: 'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n[general]\n' } })),
  treeProbe('.treeinfo: gzip Content-Encoding (a 64 MiB bomb)', 'error', undefined, () => ({ 'tree/.treeinfo': body(gzipBomb, { 'content-encoding': 'gzip' }) })),
  treeProbe('no .treeinfo and no Debian files', 'error', /cannot recognise the install tree/, () => ({}), { cli: 'install' }),
  treeProbe('kernel: HTTP 404', 'error', /the install tree has no images\/pxeboot\/vmlinuz/, () => ({ 'tree/.treeinfo': body(fedoraTreeinfo()), [`tree/${TSVIRT_TREE_KERNEL}`]: status(404) })),
  treeProbe('kernel: HTTP 410', 'error', /the install tree has no images\/pxeboot\/vmlinuz/, () => ({ 'tree/.treeinfo': body(fedoraTreeinfo()), [`tree/${TSVIRT_TREE_KERNEL}`]: status(410) })),
  treeProbe('kernel: an endless body stops at the 1 GiB limit, and the cache keeps none of it', 'error', /larger than the limit of 1073741824 bytes/,
    () => ({ 'tree/.treeinfo': body(fedoraTreeinfo()), [`tree/${TSVIRT_TREE_KERNEL}`]: { kind: 'endless', chunk: Buffer.alloc(1024 * 1024, 0x90) } }), {
      after: ({ cacheDir }) => {
        const sizes = filesUnder(cacheDir).map((f) => statSync(f).size);
        expect(Math.max(0, ...sizes)).toBeLessThan(1024 * 1024);
      },
    }),
  treeProbe('kernel: Content-Length of 2 GiB', 'error', /larger than the limit of 1073741824 bytes/,
    () => ({ 'tree/.treeinfo': body(fedoraTreeinfo()), [`tree/${TSVIRT_TREE_KERNEL}`]: { kind: 'endless', chunk: Buffer.alloc(65536), contentLength: 2 * 1024 ** 3 } })),
  treeProbe('kernel: one byte every 300 ms (slowloris)', 'error', /arrives too slowly/,
    () => ({ 'tree/.treeinfo': body(fedoraTreeinfo()), [`tree/${TSVIRT_TREE_KERNEL}`]: { kind: 'trickle', intervalMs: 300, chunk: 'M' } }), { cli: 'install', cliSlow: true }),
  treeProbe('kernel: gzip Content-Encoding (a 64 MiB bomb), stored as sent', 'error', /is not a Linux bzImage/,
    () => ({ 'tree/.treeinfo': body(fedoraTreeinfo()), [`tree/${TSVIRT_TREE_KERNEL}`]: body(gzipBomb, { 'content-encoding': 'gzip' }) })),
  treeProbe('tsvirt tree: a wrong kernel checksum', 'error', /sha256 checksum mismatch for http:\/\/127\.0\.0\.1:\d+\/c\d+\/tree\/images\/pxeboot\/vmlinuz/,
    () => ({ 'tree/.treeinfo': body(tsvirtTreeinfo({ kernelSum: '0'.repeat(64) })) })),
  treeProbe('tsvirt tree: no checksum for the kernel', 'error', /\[checksums\] has no entry for images\/pxeboot\/vmlinuz/,
    () => ({ 'tree/.treeinfo': body(tsvirtTreeinfo({ checksums: {} })) })),
  treeProbe('.treeinfo: a redirect loop', 'error', /too many redirects|redirects to/, () => ({ 'tree/.treeinfo': redirect('treeinfo-b'), 'tree/treeinfo-b': redirect('.treeinfo') })),
  treeProbe('.treeinfo: a chain of 11 redirects', 'error', /too many redirects fetching/,
    () => Object.fromEntries([['tree/.treeinfo', redirect('r1')], ...Array.from({ length: 11 }, (_, i) => [`tree/r${i + 1}`, redirect(`r${i + 2}`)])])),
  treeProbe('.treeinfo: 301 within the origin', 'accept', undefined, () => ({ 'tree/.treeinfo': redirect('moved/.treeinfo', 301), 'tree/moved/.treeinfo': body(fedoraTreeinfo()) })),
  treeProbe('.treeinfo: 307 to file:HOST', 'error', /redirects to a file: URL/, (c) => ({ 'tree/.treeinfo': redirect(`file://${secret(c)}`, 307) }), { cli: 'install' }),
  treeProbe('.treeinfo: 302 to another port', 'error', /redirects to http:\/\/127\.0\.0\.1:\d+, another origin/, (c) => ({ 'tree/.treeinfo': redirect(otherUrl(c, '/.treeinfo')) }), { cli: 'install' }),
  treeProbe('kernel: 302 to another port', 'error', /redirects to http:\/\/127\.0\.0\.1:\d+, another origin/,
    (c) => ({ 'tree/.treeinfo': body(fedoraTreeinfo()), [`tree/${TSVIRT_TREE_KERNEL}`]: redirect(otherUrl(c)) })),
  treeProbe('kernel: 308 to file:HOST', 'error', /redirects to a file: URL/,
    (c) => ({ 'tree/.treeinfo': body(fedoraTreeinfo()), [`tree/${TSVIRT_TREE_KERNEL}`]: redirect(`file://${secret(c)}`, 308) })),
  treeProbe('Debian netboot tree (well-formed)', 'accept', undefined, () => ({
    'tree/current/images/MANIFEST': body(debianManifest), [`tree/${DEBIAN}linux`]: body(tree.kernel), [`tree/${DEBIAN}initrd.gz`]: body(tree.initrd),
  })),
  treeProbe('Debian netboot tree: linux redirects to file:HOST', 'error', /redirects to a file: URL/, (c) => ({
    'tree/current/images/MANIFEST': body(debianManifest), [`tree/${DEBIAN}linux`]: redirect(`file://${secret(c)}`), [`tree/${DEBIAN}initrd.gz`]: body(tree.initrd),
  })),
  treeProbe('Debian netboot tree: initrd.gz redirects to another port', 'error', /another origin/, (c) => ({
    'tree/current/images/MANIFEST': body(debianManifest), [`tree/${DEBIAN}linux`]: body(tree.kernel), [`tree/${DEBIAN}initrd.gz`]: redirect(otherUrl(c)),
  })),
  treeProbe('Debian: an endless MANIFEST', 'error', /larger than the limit of 1048576 bytes/, () => ({ 'tree/current/images/MANIFEST': { kind: 'endless', chunk: Buffer.from('debian '.repeat(1000)) } })),
  treeProbe('Debian: a huge .disk/info with NUL bytes', 'error', /the install tree has no install\/netboot\/debian-installer\/amd64\/linux/,
    () => ({ 'tree/.disk/info': body(`Debian GNU/Linux 12 \0\0 ${'../'.repeat(200_000)}\n`) })),
  treeProbe('Debian: the kernel answers HTTP 500', 'error', /failed after 2 attempts: HTTP 500/, () => ({ 'tree/current/images/MANIFEST': body(debianManifest), [`tree/${DEBIAN}linux`]: status(500) })),
];

const slow404s = () => ({ 'ks.cfg': ks(...Array.from({ length: 256 }, (_, i) => `%include slow404/${i}.ks`)), 'slow404/': { kind: 'delay', ms: 600, then: status(404) } as Behaviour });
const bombLevels = (c: Ctx, fanOut: number, depth: number) => Object.fromEntries(Array.from({ length: depth + 1 }, (_, level) => [
  `bomb/level-${level}.ks`,
  body(level === depth ? '# leaf\n' : Array.from({ length: fanOut }, () => `%include level-${level + 1}.ks\n`).join('')),
]));

const KICKSTARTS: Probe[] = [
  ksProbe('%include file:///HOST', 'error', /%include file:\/\/\/[^:]*secret\.tar\.gz: .*a file: URL, which a document from http:\/\/127\.0\.0\.1:\d+ may not name/,
    (c) => ({ 'ks.cfg': ks(`%include file://${secret(c)}`) }), { cli: 'ks validate' }),
  ksProbe('%include http://OTHER-PORT/', 'error', /which is on http:\/\/127\.0\.0\.1:\d+, not on http:\/\/127\.0\.0\.1:\d+/, (c) => ({ 'ks.cfg': ks(`%include ${otherUrl(c)}`) }), { cli: 'dry-run' }),
  ksProbe('%ksappend file:HOST', 'error', /%ksappend file:\/[^:]*secret\.tar\.gz: .*a file: URL/, (c) => ({ 'ks.cfg': ks(`%ksappend file:${secret(c)}`) })),
  ksProbe('url --url=file:///', 'error', /url|package install/, () => ({ 'ks.cfg': ks('url --url=file:///') })),
  ksProbe('liveimg --url=file:///HOST', 'error', /names "file:\/\/\/[^"]*secret\.tar\.gz", a file: URL/, (c) => ({ 'ks.cfg': ks(`liveimg --url=file://${secret(c)}`) })),
  ksProbe('liveimg --url=http://OTHER-PORT/', 'error', /which is on http:\/\/127\.0\.0\.1:\d+, not on/, (c) => ({ 'ks.cfg': ks(`liveimg --url=${otherUrl(c, '/rootfs.tar.gz')}`) })),
  ksProbe('%include bomb: 20 includes a level, 8 levels', 'error', /more than 256 %include\/%ksappend reads in one kickstart, the limit/,
    (c) => ({ ...bombLevels(c, 20, 7), 'ks.cfg': ks('%include bomb/level-0.ks') }), { cli: 'ks validate' }),
  ksProbe('%include of itself under ever new query strings', 'error', /%include cycle|nested more than 8 deep|more than 256 %include/,
    () => ({ 'ks.cfg': ks(...Array.from({ length: 20 }, (_, i) => `%include self.ks?n=${i}`)), 'self.ks': body(Array.from({ length: 20 }, (_, i) => `%include self.ks?m=${i}\n`).join('')) })),
  ksProbe('256 %includes of resources that trickle a byte every 300 ms', 'error', /Unable to open %include file: .*arrives too slowly.*; parsing stopped here/,
    () => ({ 'ks.cfg': ks(...Array.from({ length: 256 }, (_, i) => `%include slow/${i}.ks`)), 'slow/': { kind: 'trickle', intervalMs: 300, chunk: '#' } }), { cli: 'ks validate', cliSlow: true }),
  ksProbe('256 %includes each answered by a 404 after 600 ms (a 4 s budget for the whole kickstart)', 'error', /took more than 4 s, the limit; parsing stopped here|did not finish within its deadline/,
    slow404s, { validateOnly: { deadlineMs: 4000 } }),
  ksProbe('400,000 backslash-continued lines', 'accept', undefined, () => ({ 'ks.cfg': ks(`network --bootproto=dhcp \\\n${' \\\n'.repeat(400_000)}--hostname=joined`) }), { cli: 'ks validate' }),
  ksProbe('a comment line of 4 MiB less 1 KiB', 'accept', undefined, () => ({ 'ks.cfg': ks(`# ${'x'.repeat(4 * 1024 * 1024 - 1024)}`) })),
  ksProbe('a host name of 3 MB (the message shows its start)', 'error', /the hostname "h{900,}\.\.\. \(\d+ more characters\)/, () => ({ 'ks.cfg': ks(`network --bootproto=dhcp --hostname=${'h'.repeat(3_000_000)}`) })),
  ksProbe('a kickstart larger than 4 MiB', 'error', /larger than the limit of 4194304 bytes/, () => ({ 'ks.cfg': ks(`# ${'x'.repeat(5 * 1024 * 1024)}`) })),
  ksProbe('4,000,000 empty lines', 'error', /more than 1000000 lines, the limit/, () => ({ 'ks.cfg': ks('\n'.repeat(4_000_000)) }), { cli: 'ks validate' }),
  ksProbe('a NUL byte in a comment', 'accept', undefined, () => ({ 'ks.cfg': ks('# a\0b') })),
  ksProbe('a NUL byte in the host name', 'error', /the hostname "a\0b" is not valid/, () => ({ 'ks.cfg': ks('network --bootproto=dhcp --hostname=a\0b') })),
  ksProbe('a NUL byte in an %include target', 'error', /NUL/, (c) => ({ 'ks.cfg': ks(`%include part.ks\0${secret(c)}`) })),
  ksProbe('1 MiB of NUL bytes', 'error', /Unknown command/, () => ({ 'ks.cfg': body(Buffer.alloc(1024 * 1024)) })),
  ksProbe('invalid UTF-8 in a comment', 'error', /ks\.cfg:1: the file is not valid UTF-8/, () => ({ 'ks.cfg': body(Buffer.concat([Buffer.from('# caf\xe9 \xff\n', 'latin1'), Buffer.from(probeKickstart())])) }), { cli: 'ks validate' }),
  ksProbe('invalid UTF-8 in the root password', 'error', /ks\.cfg:5: the file is not valid UTF-8/, () => ({ 'ks.cfg': body(Buffer.from(probeKickstart().replace('probe-root', 'pr\xf6be'), 'latin1')) })),
  ksProbe('gzip Content-Encoding (a 64 MiB bomb), kept as sent', 'error', /not valid UTF-8/, () => ({ 'ks.cfg': body(gzipBomb, { 'content-encoding': 'gzip' }) })),
  ksProbe('a redirect loop', 'error', /too many redirects|redirects to/, () => ({ 'ks.cfg': redirect('ks-b.cfg'), 'ks-b.cfg': redirect('ks.cfg') })),
  ksProbe('a chain of 11 redirects', 'error', /too many redirects fetching/,
    () => Object.fromEntries([['ks.cfg', redirect('r1')], ...Array.from({ length: 11 }, (_, i) => [`r${i + 1}`, redirect(`r${i + 2}`, 307)])]), { cli: 'ks validate' }),
  ksProbe('302 to file:HOST', 'error', /redirects to a file: URL/, (c) => ({ 'ks.cfg': redirect(`file://${secret(c)}`) }), { cli: 'dry-run' }),
  ksProbe('307 to another port', 'error', /redirects to http:\/\/127\.0\.0\.1:\d+, another origin/, (c) => ({ 'ks.cfg': redirect(otherUrl(c, '/ks.cfg'), 307) }), { cli: 'dry-run' }),
  ksProbe('301 within the origin', 'accept', undefined, () => ({ 'ks.cfg': redirect('/good/ks.cfg', 301) })),
  ksProbe('HTTP 404', 'error', /HTTP 404/, () => ({ 'ks.cfg': status(404) })),
  ksProbe('HTTP 500 on every attempt', 'error', /failed after 2 attempts: HTTP 500/, () => ({ 'ks.cfg': status(500) })),
  ksProbe('HTTP 500 once, then served', 'accept', undefined, () => ({ 'ks.cfg': { kind: 'sequence', steps: [status(500), ks()] } })),
  ksProbe('connection reset', 'error', /failed after (2|4) attempts/, () => ({ 'ks.cfg': { kind: 'reset' } }), { cli: 'ks validate' }),
  ksProbe('truncated (Content-Length larger than the body)', 'error', /failed after (2|4) attempts/,
    () => ({ 'ks.cfg': { kind: 'short-body', declared: 9000, body: 'text\n' } })),
  ksProbe('a Content-Length shorter than the body (the rest includes file:HOST)', 'error', /Parse Error/,
    (c) => ({ 'ks.cfg': { kind: 'long-body', declared: probeKickstart().length, body: `${probeKickstart()}%include file://${secret(c)}\n` } })),
  ksProbe('the server never answers', 'error', /failed after 2 attempts: Timeout awaiting/, () => ({ 'ks.cfg': { kind: 'silent' } })),
  ksProbe('one byte every 300 ms (slowloris)', 'error', /arrives too slowly/, () => ({ 'ks.cfg': { kind: 'trickle', intervalMs: 300, chunk: 't' } }), { cli: 'ks validate', cliSlow: true }),
  ksProbe('above the minimum rate, never ending', 'error', /did not finish within its deadline of 3 s/,
    () => ({ 'ks.cfg': { kind: 'trickle', intervalMs: 100, chunk: `# ${'x'.repeat(400)}\n`, prefix: probeKickstart() } })),
  ksProbe('an endless body', 'error', /larger than the limit of 4194304 bytes/, () => ({ 'ks.cfg': { kind: 'endless', chunk: Buffer.from('# endless\n'.repeat(1000)) } }), { cli: 'ks validate' }),
  ksProbe('%include of an endless body', 'error', /Unable to open %include file: .*larger than the limit of 4194304 bytes/,
    () => ({ 'ks.cfg': ks('%include endless.ks'), 'endless.ks': { kind: 'endless', chunk: Buffer.from('# endless\n'.repeat(1000)) } })),
  ksProbe('%include of a slowloris', 'error', /Unable to open %include file: .*arrives too slowly/,
    () => ({ 'ks.cfg': ks('%include slow.ks'), 'slow.ks': { kind: 'trickle', intervalMs: 300, chunk: '#' } })),
  ksProbe('%include that redirects to file:HOST', 'error', /redirects to a file: URL/, (c) => ({ 'ks.cfg': ks('%include part.ks'), 'part.ks': redirect(`file://${secret(c)}`) }), { cli: 'ks validate' }),
  ksProbe('%include that redirects to another port', 'error', /another origin/, (c) => ({ 'ks.cfg': ks('%include part.ks'), 'part.ks': redirect(otherUrl(c, '/part.ks'), 301) })),
  ksProbe('%ksappend http://OTHER-PORT/', 'error', /which is on http:\/\/127\.0\.0\.1:\d+, not on/, (c) => ({ 'ks.cfg': ks(`%ksappend ${otherUrl(c)}`) })),
  ksProbe('an %include cycle a -> b -> a', 'error', /%include cycle/, () => ({ 'ks.cfg': ks('%include a.ks'), 'a.ks': body('%include b.ks\n'), 'b.ks': body('%include a.ks\n') })),
  ksProbe('an %include of a file that is not UTF-8', 'error', /part\.ks:2: the file is not valid UTF-8/, () => ({ 'ks.cfg': ks('%include part.ks'), 'part.ks': body(Buffer.from('# fine\n# caf\xe9\n', 'latin1')) })),
  ksProbe('an %include chain 10 deep', 'error', /nested more than 8 deep/,
    () => ({ 'ks.cfg': ks('%include d0.ks'), ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`d${i}.ks`, body(`%include d${i + 1}.ks\n`)])) })),
  ksProbe('%include ../../ of the host file (resolved on the server: not found)', 'error', /Unable to open %include file: http:\/\/127\.0\.0\.1:\d+\/tmp\//,
    (c) => ({ 'ks.cfg': ks(`%include ${'../'.repeat(12)}${secret(c).slice(1)}`) })),
  ksProbe('not HTTP at all', 'error', /fetching .* failed/, () => ({ 'ks.cfg': { kind: 'raw', data: 'HTTP/9.9 \0\0\0 garbage\r\n\r\n' } })),
  ksProbe('an HTML page (a captive portal)', 'error', /Unknown command: <html>/, () => ({ 'ks.cfg': body('<html><body>Please log in</body></html>\n') })),
  ksProbe('64 KiB of random bytes', 'error', /not valid UTF-8/, () => ({ 'ks.cfg': body(Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 2654435761) >>> 24))) })),
];

// --- generated variants: every spelling of the host file (or another origin) in every
// place a hostile source can put a name.
interface Form {
  name: string;
  value(c: Ctx): string;
}
const FORMS: Form[] = [
  { name: 'file://HOST', value: (c) => `file://${secret(c)}` },
  { name: 'file:HOST', value: (c) => `file:${secret(c)}` },
  { name: 'FILE://HOST (upper-case scheme)', value: (c) => `FILE://${secret(c)}` },
  { name: 'file://localhost/HOST', value: (c) => `file://localhost${secret(c)}` },
  { name: 'file: with %2F for /', value: (c) => `file:///${secret(c).slice(1).replaceAll('/', '%2F')}` },
  { name: 'an absolute host path', value: (c) => secret(c) },
  { name: '../ escape', value: (c) => `${'../'.repeat(12)}${secret(c).slice(1)}` },
  { name: '%2e%2e/ escape', value: (c) => `${'%2e%2e/'.repeat(12)}${secret(c).slice(1)}` },
  { name: '..%2f escape', value: (c) => `${'..%2f'.repeat(12)}${secret(c).slice(1).replaceAll('/', '%2f')}` },
  { name: '..\\ escape', value: (c) => `${'..\\'.repeat(12)}${secret(c).slice(1).replaceAll('/', '\\')}` },
  { name: 'http://OTHER-PORT/', value: (c) => otherUrl(c) },
  { name: 'https:/OTHER-PORT/ (scheme-relative)', value: (c) => `https:/127.0.0.1:${c.side.other.port}/secret.tar.gz` },
  { name: '//OTHER-PORT/ (protocol-relative)', value: (c) => `//127.0.0.1:${c.side.other.port}/secret.tar.gz` },
  { name: 'userinfo http://127.0.0.1:PORT@127.0.0.1:OTHER-PORT/', value: (c) => `http://127.0.0.1:${hostile.port}@127.0.0.1:${c.side.other.port}/secret.tar.gz` },
  { name: 'ftp://OTHER-PORT/', value: (c) => `ftp://127.0.0.1:${c.side.other.port}/secret.tar.gz` },
  { name: 'nfs:HOST-DIR', value: (c) => `nfs:127.0.0.1:${c.side.canary.dir}` },
];

/** %include/%ksappend of a path under /tmp or /run that is not on the server is a warning (a file %pre may write in the installer). */
const PRE_WRITTEN = /^\/(tmp|run)\//;

interface Placement {
  name: string;
  setup(v: string, c: Ctx): Setup;
  accepts?(form: Form, c: Canary): boolean;
  cli?: CliMode;
}
const PLACEMENTS: Placement[] = [
  { name: '.treeinfo kernel =', setup: (v) => ({ tree: 'tree/', routes: { 'tree/.treeinfo': body(fedoraTreeinfo({ kernel: v })) } }), cli: 'install' },
  { name: '.treeinfo initrd =', setup: (v) => ({ tree: 'tree/', routes: { 'tree/.treeinfo': body(fedoraTreeinfo({ initrd: v })) } }) },
  {
    name: 'tsvirt .treeinfo liveimg =',
    // The hostile tree even lists the secret's true digest, so a followed name would pass.
    setup: (v, c) => ({
      tree: 'tree/', goodKs: 'ks.cfg', routes: {
        'tree/.treeinfo': body(tsvirtTreeinfo({ liveimg: v, checksums: { [TSVIRT_TREE_KERNEL]: `sha256:${tree.sha256.kernel}`, [TSVIRT_TREE_INITRD]: `sha256:${tree.sha256.initrd}`, [v]: `sha256:${sha256Hex(c.side.secretBytes)}` } })),
      },
    }),
  },
  { name: '%include', setup: (v) => ({ ks: 'ks.cfg', routes: { 'ks.cfg': ks(`%include ${v}`) } }), accepts: (f, c) => f.name === 'an absolute host path' && PRE_WRITTEN.test(c.file), cli: 'ks validate' },
  { name: '%ksappend', setup: (v) => ({ ks: 'ks.cfg', routes: { 'ks.cfg': ks(`%ksappend ${v}`) } }), accepts: (f, c) => f.name === 'an absolute host path' && PRE_WRITTEN.test(c.file) },
  { name: 'liveimg --url=', setup: (v) => ({ ks: 'ks.cfg', routes: { 'ks.cfg': ks(`liveimg --url=${v}`) } }) },
  { name: 'url --url=', setup: (v) => ({ ks: 'ks.cfg', routes: { 'ks.cfg': ks(`url --url=${v}`) } }) },
  { name: 'kernel 302 ->', setup: (v) => ({ tree: 'tree/', routes: { 'tree/.treeinfo': body(fedoraTreeinfo()), [`tree/${TSVIRT_TREE_KERNEL}`]: redirect(v) } }) },
  { name: 'initrd 307 ->', setup: (v) => ({ tree: 'tree/', routes: { 'tree/.treeinfo': body(fedoraTreeinfo()), [`tree/${TSVIRT_TREE_INITRD}`]: redirect(v, 307) } }) },
  { name: '.treeinfo 301 ->', setup: (v) => ({ tree: 'tree/', routes: { 'tree/.treeinfo': redirect(v, 301) } }) },
  { name: 'kickstart 302 ->', setup: (v) => ({ ks: 'ks.cfg', routes: { 'ks.cfg': redirect(v) } }), cli: 'ks validate' },
];

// Each spelling also goes through the CLI once, in one of the CLI placements in turn.
const CLI_PLACEMENTS = PLACEMENTS.filter((p) => p.cli);
const GENERATED: Probe[] = PLACEMENTS.flatMap((p) => FORMS.map((f, i): Probe => ({
  name: `${p.name} ${f.name}`,
  expect: p.accepts?.(f, inproc.canary) ? 'accept' : 'error',
  setup: (c) => p.setup(f.value(c), c),
  cli: CLI_PLACEMENTS[i % CLI_PLACEMENTS.length] === p && !p.accepts?.(f, cli.canary) ? p.cli : undefined,
})));

// Only through the CLI: what the real defaults do (a 30 s read timeout and rate window).
const CLI_ONLY: Probe[] = [
  ksProbe('(CLI defaults) 256 %includes each answered by a 404 after 600 ms: the 60 s budget', 'error', /took more than 60 s, the limit; parsing stopped here|did not finish within its deadline of \d+ s/,
    slow404s, { cli: 'ks validate', cliOnly: true, cliSlow: true }),
  ksProbe('(CLI defaults) above the minimum rate, never ending: the 60 s deadline', 'error', /did not finish within its deadline of 60 s/,
    () => ({ 'ks.cfg': { kind: 'trickle', intervalMs: 500, chunk: `# ${'x'.repeat(1000)}\n`, prefix: probeKickstart() } }), { cli: 'ks validate', cliOnly: true, cliSlow: true }),
];

const ALL: Probe[] = [...TREES, ...KICKSTARTS, ...GENERATED, ...CLI_ONLY];

// --- running a case in process --------------------------------------------------------

type Verdict = 'clean error' | 'accepted' | 'hang' | 'stack trace';
interface Result {
  probe: string;
  via: 'in-process' | `CLI ${CliMode}`;
  expected: Probe['expect'];
  verdict: Verdict;
  message: string;
  leaks: string[];
  otherOriginRequests: string[];
  maxRssKiB?: number;
}
const results: Result[] = [];

/** Messages quote hostile values (a 1 MB name); the report keeps their start. */
function clip(s: string): string {
  return s.length > 2000 ? `${s.slice(0, 2000)}... (${s.length - 2000} more characters)` : s;
}

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function filesUnder(dir: string): string[] {
  try {
    return (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[])
      .filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

/** fetchBytes' overall deadline (60 s for small resources), lowered through the same option. */
function probeFetcher(cacheDir: string): Fetcher {
  const f = createFetcher({ cacheDir, ...FETCHER_OPTIONS });
  // The kickstart reader passes what is left of its own 60 s budget: lowered the same way.
  const lowered = (o: FetchOptions = {}): FetchOptions => ({ ...o, deadlineMs: Math.min(o.deadlineMs ?? Infinity, SMALL_RESOURCE_DEADLINE_MS) });
  return {
    cacheDir: f.cacheDir,
    fetchFile: (s, o) => f.fetchFile(s, o),
    fetchBytes: (s, o) => f.fetchBytes(s, lowered(o)),
    tryFetchBytes: (s, o) => f.tryFetchBytes(s, lowered(o)),
  };
}

let caseNo = 0;
function context(s: Side, kind: 'c' | 'k'): Ctx {
  const prefix = `/${kind}${++caseNo}/`;
  return { side: s, prefix, url: (rel) => `${hostile.url}${prefix}${rel}` };
}

function serve(c: Ctx, setup: Setup): { location: string; ksUrl: string } {
  // Every case tree has the good kernel, initrd and liveimg unless its routes say otherwise.
  hostile.route(`${c.prefix}tree/images/`, { kind: 'directory', root: join(www, 'tree', 'images') });
  for (const [rel, b] of Object.entries(setup.routes ?? {})) hostile.route(c.prefix + rel, b);
  return {
    location: setup.tree ? c.url(setup.tree) : `${GOOD}/tree/`,
    ksUrl: setup.ks ? c.url(setup.ks) : `${GOOD}/${setup.goodKs ?? (setup.tree ? 'ks-liveimg.cfg' : 'ks.cfg')}`,
  };
}

async function within<T>(p: Promise<T>, ms: number): Promise<{ settled: true; value?: T; error?: unknown } | { settled: false }> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<{ settled: false }>((r) => { timer = setTimeout(() => r({ settled: false }), ms); });
  try {
    return await Promise.race([p.then((value) => ({ settled: true as const, value }), (error: unknown) => ({ settled: true as const, error })), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

interface Built {
  initrd: Buffer;
  kernel: Buffer;
  payload: Buffer;
}

async function runInProcess(p: Probe, record = true): Promise<{ result: Result; built?: Built; cacheDir: string }> {
  const c = context(inproc, 'c');
  const setup = p.setup(c);
  const { location, ksUrl } = serve(c, setup);
  const dir = join(work, c.prefix);
  mkdirSync(dir, { recursive: true });
  const localKs = join(dir, 'ks.cfg');
  if (setup.localKs !== undefined) writeFileSync(localKs, setup.localKs);
  const cacheDir = join(dir, 'cache');
  let built: Built | undefined;
  // The guest runner is where tsvirt hands over what it built: keep it, report success.
  const runGuest: GuestRunner = async (spec, io) => {
    const read = (x: string | Uint8Array | undefined) => (typeof x === 'string' ? readFileSync(x) : Buffer.from(x ?? []));
    built = { initrd: read(spec.initrd), kernel: read(spec.kernel), payload: readFileSync(spec.disks[spec.disks.length - 1].path) };
    io.stdout?.write('TSVIRT-INSTALL-STATUS: ok\n');
    return { kind: 'poweroff', lastConsoleLines: [] };
  };
  const job: InstallJob = {
    name: 'probe', memoryMiB: 256, vcpus: 1,
    disks: [{ path: join(dir, 'disk.qcow2'), format: 'qcow2', create: true, sizeBytes: 64 * 1024 * 1024, readOnly: false, target: 'vda', bus: 'virtio', device: 'disk' }],
    nics: [], rng: false, location: { location }, noreboot: true, force: false,
    ...(setup.localKs === undefined ? { extraArgs: `inst.ks=${ksUrl}`, initrdInject: [] } : { extraArgs: 'inst.ks=file:/ks.cfg', initrdInject: [localKs] }),
  };
  const progress: string[] = [];
  const io = { stdin: new PassThrough(), stdout: new Writable({ write: (_c, _e, cb) => cb() }) };
  const otherBefore = inproc.other.requests.length;
  arm(inproc.canary);
  const fetcher = probeFetcher(cacheDir);
  const pending: Promise<unknown> = p.validateOnly
    ? validateKickstartSource(ksUrl, fetcher, p.validateOnly).then((r) => {
      // An invalid kickstart is the clean error `tsvirt ks validate` reports.
      progress.push(...r.problems.map((x) => `${x.file}:${x.line}: ${x.message}`));
      if (!r.valid) throw new TsvirtError(r.problems.filter((x) => x.severity === 'error').map((x) => x.message).join('\n'));
    })
    : runInstall(job, { fetcher, runGuest, console: io, progress: (l) => progress.push(l), tmpDir: dir });
  const run = await within(pending, CASE_DEADLINE_MS);
  let verdict: Verdict;
  let message = '';
  if (!run.settled) {
    verdict = 'hang';
    message = `still running after ${CASE_DEADLINE_MS / 1000} s`;
  } else if (run.error === undefined) {
    verdict = 'accepted';
  } else if (run.error instanceof TsvirtError) {
    verdict = 'clean error';
    message = describeError(run.error);
  } else {
    verdict = 'stack trace';
    message = (run.error as Error)?.stack ?? String(run.error);
  }
  const token = inproc.canary.token;
  const leaks = [
    ...(READS_RECORDED && wasRead(inproc.canary) ? [`${inproc.canary.file} was read`] : []),
    ...(message.includes(token) ? ['the error message'] : []),
    ...(progress.some((l) => l.includes(token)) ? ['the progress lines'] : []),
    ...filesHoldingToken(cacheDir, token),
    ...(built ? (['initrd', 'kernel', 'payload'] as const).filter((k) => holdsToken(built![k], token)).map((k) => `the ${k} handed to the guest`) : []),
  ];
  const result: Result = { probe: p.name, via: 'in-process', expected: p.expect, verdict, message: clip(message), leaks, otherOriginRequests: inproc.other.requests.slice(otherBefore) };
  if (record) results.push(result);
  return { result, built, cacheDir };
}

// --- running a case through the CLI ---------------------------------------------------

async function runThroughCli(p: Probe, mode: CliMode): Promise<Result> {
  const c = context(cli, 'k');
  const { location, ksUrl } = serve(c, p.setup(c));
  const dir = join(work, c.prefix);
  mkdirSync(dir, { recursive: true });
  const env = {
    ...process.env, HOME: dir, XDG_CACHE_HOME: join(dir, 'cache'), XDG_DATA_HOME: join(dir, 'data'),
    TSVIRT_STATE_DIR: join(dir, 'run'), TSVIRT_DOMAINS_DIR: join(dir, 'domains'), TSVIRT_DEBUG: '',
  };
  const install = ['--name', `probe${caseNo}`, '--memory', '1024', '--osinfo', 'linux2022', '--disk', `path=${join(dir, 'disk.qcow2')},size=1`,
    '--location', location, '--extra-args', `inst.ks=${ksUrl}`, '--graphics', 'none', '--noreboot'];
  const [bin, args] = mode === 'ks validate' ? ['tsvirt', ['ks', 'validate', ksUrl]] as const
    : mode === 'dry-run' ? ['tsvirt-install', [...install, '--dry-run']] as const : ['tsvirt-install', install] as const;
  const otherBefore = cli.other.requests.length;
  const r = await runMeasured(bin, args, { env, cwd: dir, deadlineMs: CLI_DEADLINE_MS });
  const errors = errorLines(r.stderr);
  const stack = STACK_FRAME.test(r.stderr) || STACK_FRAME.test(r.stdout);
  const verdict: Verdict = r.hung ? 'hang' : stack || (r.status !== 0 && errors.length !== 1) || r.status === null ? 'stack trace'
    : r.status === 0 && errors.length === 0 ? 'accepted' : 'clean error';
  const token = cli.canary.token;
  const leaks = [
    ...(r.stdout.includes(token) || r.stderr.includes(token) ? ['the CLI output'] : []),
    ...filesHoldingToken(dir, token),
  ];
  return {
    probe: p.name, via: `CLI ${mode}`, expected: p.expect, verdict, message: clip(`exit ${r.status}; ${r.stderr.trim()}\n${r.stdout.trim().split('\n').slice(-3).join('\n')}`),
    leaks, otherOriginRequests: cli.other.requests.slice(otherBefore), maxRssKiB: r.maxRssKiB,
  };
}

// The CLI runs start at once and run beside the in-process cases, two at a time; their
// tests (last in this file) wait for them. Reads of the CLI side's secret are checked
// once, after all of them.
const cliCases = [...ALL.filter((p) => p.cli && (p.cliOnly || p.cliSlow)), ...ALL.filter((p) => p.cli && !p.cliOnly && !p.cliSlow)];
const cliRuns = new Map<Probe, Promise<Result>>();
beforeAll(() => {
  arm(cli.canary);
  let active = 0;
  const queue: Array<() => void> = [];
  const slot = async (): Promise<() => void> => {
    if (active >= CLI_CONCURRENCY) await new Promise<void>((r) => queue.push(r));
    active++;
    return () => {
      active--;
      queue.shift()?.();
    };
  };
  for (const p of cliCases) {
    const run = (async () => {
      const release = await slot();
      try {
        return await runThroughCli(p, p.cli!);
      } finally {
        release();
      }
    })();
    run.catch(() => {});
    cliRuns.set(p, run);
  }
});

afterAll(async () => {
  await Promise.allSettled(cliRuns.values());
  const tally = (rs: Result[]) => ({
    tried: rs.length,
    'clean error': rs.filter((r) => r.verdict === 'clean error').length,
    'accepted (expected)': rs.filter((r) => r.verdict === 'accepted' && r.expected === 'accept').length,
    'accepted (unexpected)': rs.filter((r) => r.verdict === 'accepted' && r.expected === 'error').length,
    'error (expected accept)': rs.filter((r) => r.verdict === 'clean error' && r.expected === 'accept').length,
    hang: rs.filter((r) => r.verdict === 'hang').length,
    'stack trace': rs.filter((r) => r.verdict === 'stack trace').length,
    'host bytes': rs.filter((r) => r.leaks.length > 0).length,
    'other-origin requests': rs.reduce((n, r) => n + r.otherOriginRequests.length, 0),
  });
  const inProcess = results.filter((r) => r.via === 'in-process');
  const viaCli = results.filter((r) => r.via !== 'in-process');
  const cliRss = Math.max(0, ...viaCli.map((r) => r.maxRssKiB ?? 0));
  const rows: Array<[string, Record<string, number>]> = [['in process', tally(inProcess)], ['CLI', tally(viaCli)], ['all', tally(results)]];
  const columns = Object.keys(rows[0][1]);
  const table = [['', ...columns], ...rows.map(([name, t]) => [name, ...columns.map((k) => String(t[k]))])];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  console.log([
    'hostile install sources (issue 15)',
    ...table.map((row) => `  ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')}`),
    `  max RSS: CLI ${(cliRss / 1024).toFixed(0)} MiB (one process), test worker ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (all in-process cases)`,
    `  host file reads ${READS_RECORDED ? 'recorded through atime' : 'not recorded by this file system (noatime): artefact scans only'}`,
    ...results.filter((r) => r.verdict === 'hang' || r.verdict === 'stack trace' || r.leaks.length || r.otherOriginRequests.length || (r.verdict === 'accepted') !== (r.expected === 'accept'))
      .map((r) => `  ! ${r.via} ${r.probe}: ${r.verdict}${r.leaks.length ? `; host bytes in ${r.leaks.join(', ')}` : ''}${r.otherOriginRequests.length ? `; other origin got ${r.otherOriginRequests.join(' ')}` : ''}; ${r.message.split('\n')[0]}`),
  ].join('\n'));
  await hostile.close();
  await inproc.other.close();
  await cli.other.close();
  rmSync(work, { recursive: true, force: true });
  rmSync(inproc.canary.dir, { recursive: true, force: true });
  rmSync(cli.canary.dir, { recursive: true, force: true });
});

function judge(r: Result, p: Probe): void {
  const what = `${r.via} ${p.name}: ${r.verdict}: ${r.message}`;
  expect(r.verdict, what).not.toBe('hang');
  expect(r.verdict, what).not.toBe('stack trace');
  expect(r.leaks, what).toEqual([]);
  expect(r.otherOriginRequests, what).toEqual([]);
  expect(r.verdict, what).toBe(p.expect === 'accept' ? 'accepted' : 'clean error');
  if (p.error && r.verdict === 'clean error') expect(r.message, what).toMatch(p.error);
}

describe('hostile sources through the install path (in process)', () => {
  const cases = ALL.filter((p) => !p.cliOnly);
  it.each(cases.map((p) => [p.name, p] as const))('%s', async (_name, p) => {
    const { result, built, cacheDir } = await runInProcess(p);
    judge(result, p);
    if (result.verdict === 'accepted') {
      // What tsvirt built is really there: the injected kickstart and the plan, after the tree's own initrd.
      expect(built, 'the guest runner was called').toBeDefined();
      expect(holdsToken(built!.initrd, 'ks.cfg'), 'ks.cfg in the initrd').toBe(true);
      expect(holdsToken(built!.initrd, 'tsvirt/plan.sh'), 'the plan in the initrd').toBe(true);
    }
    p.after?.({ cacheDir });
  }, CASE_DEADLINE_MS + 60_000);
});

describe('the scans find the secret where it belongs', () => {
  // A control for everything above: the user's own local kickstart may include a host
  // file, so here the secret must show up, in the injected %post script and as a read.
  it("the user's own kickstart includes the host file: its bytes are in the initrd tsvirt built", async () => {
    const control: Probe = { name: 'control', expect: 'accept', setup: (c) => ({ localKs: probeKickstart([`%include ${secret(c)}`]) }) };
    const { result, built } = await runInProcess(control, false);
    expect(result.verdict, result.message).toBe('accepted');
    expect(holdsToken(built!.initrd, inproc.canary.token)).toBe(true);
    expect(result.leaks).toContain('the initrd handed to the guest');
    if (READS_RECORDED) expect(result.leaks).toContain(`${inproc.canary.file} was read`);
  }, CASE_DEADLINE_MS + 60_000);
});

describe('hostile sources through the CLI (its default limits)', () => {
  it.each(cliCases.map((p) => [`${p.cli}: ${p.name}`, p] as const))('%s', async (_name, p) => {
    const r = await cliRuns.get(p)!;
    results.push(r);
    judge(r, p);
    expect(r.maxRssKiB, 'peak RSS measured').toBeDefined();
    expect(r.maxRssKiB!, `${p.name}: peak RSS ${r.maxRssKiB} KiB`).toBeLessThan(RSS_LIMIT_KIB);
  }, CLI_DEADLINE_MS * Math.ceil(cliCases.length / CLI_CONCURRENCY) + 60_000);

  it('no CLI run read the host file', async () => {
    await Promise.allSettled(cliRuns.values());
    if (READS_RECORDED) expect(wasRead(cli.canary), `${cli.canary.file} was read by a CLI run`).toBe(false);
  }, CLI_DEADLINE_MS * Math.ceil(cliCases.length / CLI_CONCURRENCY) + 60_000);
});

it('the suite is as large as issue 15 asks', () => {
  expect(ALL.filter((p) => !p.cliOnly).length).toBeGreaterThanOrEqual(100);
  expect(cliCases.length).toBeGreaterThanOrEqual(20);
});
