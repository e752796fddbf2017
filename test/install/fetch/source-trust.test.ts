// The trust boundary for what a remote document names (issue 15): a hostile install server
// on 127.0.0.1 cannot make tsvirt read a host file (file: URLs in .treeinfo or %include)
// or send fetches to another host and port; the user's own local files keep naming what
// they like, and same-server names work as before.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFetcher } from '../../../src/install/fetch/index.js';
import { resolveNamedSource } from '../../../src/install/fetch/source-trust.js';
import { validateKickstartSource } from '../../../src/install/kickstart/index.js';
import { resolveLocation } from '../../../src/install/location/index.js';
import { serveDirectory, type StaticServer } from '../helpers/static-server.js';
import { writeFedoraTree, writeTreeFile } from '../helpers/trees.js';

let served: string;
let work: string;
let server: StaticServer;
const SECRET = '/etc/hostname'; // a host file every machine has; stands for /etc/shadow

beforeAll(async () => {
  served = mkdtempSync(join(tmpdir(), 'tsvirt-hostile-'));
  work = mkdtempSync(join(tmpdir(), 'tsvirt-trust-'));
  for (const [name, kernel] of [['file-kernel', `file:${SECRET}`], ['other-port', 'https:/127.0.0.1:1/vmlinuz'], ['abs-url', 'http://127.0.0.2:9/vmlinuz'], ['escape', '../../outside']]) {
    writeFedoraTree(join(served, name));
    const ti = join(served, name, '.treeinfo');
    writeFileSync(ti, readFileSync(ti, 'utf8').replace('kernel = images/pxeboot/vmlinuz', `kernel = ${kernel}`).replace(/^images\/pxeboot\/vmlinuz = .*$/m, ''));
  }
  writeTreeFile(served, 'ks/include-host-file.ks', `text\n%include file://${SECRET}\n`);
  writeTreeFile(served, 'ks/include-abs-path.ks', `text\n%include ${SECRET}\n`);
  writeTreeFile(served, 'ks/include-other-host.ks', 'text\n%include http://127.0.0.2:9/other.ks\n');
  writeTreeFile(served, 'ks/include-same-server.ks', 'text\n%include parts/part.ks\n');
  writeTreeFile(served, 'ks/parts/part.ks', 'autopart --type=plain\n');
  server = await serveDirectory(served);
});
afterAll(async () => {
  await server.close();
  rmSync(served, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

const fetcher = () => createFetcher({ cacheDir: join(work, 'cache'), retries: 0 });

describe('what a remote .treeinfo names', () => {
  it.each([
    ['file-kernel', /names "file:\/etc\/hostname", a file: URL, which a document from http:\/\/127\.0\.0\.1:\d+ may not name/],
    ['other-port', /names "https:\/127\.0\.0\.1:1\/vmlinuz", which is on https:\/\/127\.0\.0\.1:1, not on http:\/\/127\.0\.0\.1:\d+/],
    // treeRelativePath folds the '//' first; the name then points outside the tree.
    ['abs-url', /names "http:\/127\.0\.0\.2:9\/vmlinuz", which is (on http:\/\/127\.0\.0\.2:9|outside the tree)/],
    ['escape', /path '\.\.\/\.\.\/outside' leaves the install tree/],
  ])('%s: refused before anything is fetched', async (name, want) => {
    const before = server.requests.length;
    await expect(resolveLocation(`${server.url}/${name}`, fetcher())).rejects.toThrow(want);
    // Only the layout files were read: no kernel fetch went anywhere.
    expect(server.requests.slice(before).every((p) => /\.treeinfo$|treeinfo$/.test(p))).toBe(true);
  });

  it('a well-formed remote tree still resolves', async () => {
    writeFedoraTree(join(served, 'good'));
    const tree = await resolveLocation(`${server.url}/good`, fetcher());
    expect(tree.family).toBe('fedora');
  });
});

describe('what a remote kickstart includes', () => {
  it.each([
    ['include-host-file.ks', /%include file:\/\/\/etc\/hostname: .* a file: URL, which a document from http:\/\/127\.0\.0\.1:\d+ may not name/],
    ['include-abs-path.ks', /%include \/etc\/hostname: .*which is on http:\/\/127\.0\.0\.1:\d+|%include \/etc\/hostname: Unable|Unable to open %include file: http:\/\/127\.0\.0\.1:\d+\/etc\/hostname/],
    ['include-other-host.ks', /%include http:\/\/127\.0\.0\.2:9\/other\.ks: .*which is on http:\/\/127\.0\.0\.2:9/],
  ])('%s: an error, and no line of the host file anywhere', async (name, want) => {
    const r = await validateKickstartSource(`${server.url}/ks/${name}`, fetcher());
    expect(r.valid).toBe(false);
    const text = r.problems.map((p) => p.message).join('\n');
    expect(text).toMatch(want);
    expect(text).not.toContain(readFileSync(SECRET, 'utf8').trim());
  });

  it('a same-server include works as before', async () => {
    const r = await validateKickstartSource(`${server.url}/ks/include-same-server.ks`, fetcher());
    expect(r.problems.filter((p) => p.severity === 'error')).toEqual([]);
    expect(r.kickstart.commands.map((c) => c.name)).toContain('autopart');
  });

  it("the user's own local kickstart may include local files and any URL", async () => {
    const local = join(work, 'local.ks');
    const part = join(work, 'part.ks');
    writeFileSync(part, 'autopart --type=plain\n');
    writeFileSync(local, `text\n%include ${part}\n%include ${server.url}/ks/parts/part.ks\n`);
    const r = await validateKickstartSource(local, fetcher());
    expect(r.problems.filter((p) => p.severity === 'error' && !/given more than once|autopart/.test(p.message))).toEqual([]);
  });
});

describe('resolveNamedSource', () => {
  const remote = { source: 'http://127.0.0.1:8080/trees/f41/ks.cfg' };
  it('resolves same-origin names, refuses other origins and schemes unless the user named them', () => {
    expect(resolveNamedSource(remote, 'sub/x.ks')).toBe('http://127.0.0.1:8080/trees/f41/sub/x.ks');
    expect(resolveNamedSource(remote, '/other/x.ks')).toBe('http://127.0.0.1:8080/other/x.ks');
    expect(() => resolveNamedSource(remote, 'http://127.0.0.1:8081/x')).toThrow(/which is on http:\/\/127\.0\.0\.1:8081/);
    // A hostile name of megabytes is quoted short in the ERROR line.
    let message = '';
    try {
      resolveNamedSource(remote, `file:///${'a'.repeat(4 * 1024 * 1024)}`);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/names "file:\/\/\/a{192}\.\.\.", a file: URL/);
    expect(message.length).toBeLessThan(400);
    expect(resolveNamedSource({ ...remote, trustedOrigins: ['http://127.0.0.1:8081'] }, 'http://127.0.0.1:8081/x')).toBe('http://127.0.0.1:8081/x');
    for (const bad of ['file:///etc/shadow', 'FILE:/etc/shadow', 'ftp://127.0.0.1/x', 'nfs:server:/x', 'data:,x']) expect(() => resolveNamedSource(remote, bad), bad).toThrow(/may not name/);
    expect(() => resolveNamedSource(remote, 'x\0y')).toThrow(/NUL/);
    const tree = 'http://127.0.0.1:8080/trees/f41/';
    expect(() => resolveNamedSource({ source: tree }, '/etc/x', { within: tree })).toThrow(/outside the tree/);
  });

  it("takes the user's local documents as written", () => {
    expect(resolveNamedSource({ source: '/home/u/ks.cfg' }, 'part.ks')).toBe('/home/u/part.ks');
    expect(resolveNamedSource({ source: '/home/u/ks.cfg' }, 'file:///etc/x')).toBe('file:///etc/x');
    expect(resolveNamedSource({ source: 'file:///home/u/ks.cfg' }, '/abs')).toBe('/abs');
  });
});
