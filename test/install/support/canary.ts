// A host secret for the hostile-source probes: a random token in a file of this host that
// hostile trees and kickstarts name in every spelling they can. The file is written as a
// kickstart fragment, so if any reader ever followed a name to it, the token would travel
// on into what tsvirt builds (the expanded kickstart, the install plan, the initrd as raw
// bytes); the scans below look for it there, decompressing every gzip member they find
// (an injected initrd is the tree's archive plus tsvirt's gzip'd newc archive).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface Canary {
  readonly dir: string;
  /** The host file holding the secret. */
  readonly file: string;
  /** The secret itself; never part of any path. */
  readonly token: string;
}

export function makeCanary(): Canary {
  const dir = mkdtempSync(join(tmpdir(), 'tsvirt-canary-'));
  const token = `CANARY${randomBytes(12).toString('hex')}`;
  // Named like a liveimg, so a kickstart's liveimg --url= naming it passes the name check
  // and reaches the trust rule.
  const file = join(dir, 'secret.tar.gz');
  writeFileSync(file, `# ${token}\nnetwork --hostname=h${token.toLowerCase()}\n%post\necho ${token}\n%end\n`);
  return { dir, file, token };
}

/** Every gzip member inside `bytes`, inflated (members that do not inflate are skipped). */
function gzipMembers(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = bytes.indexOf('\x1f\x8b\x08', 0, 'latin1'); i >= 0; i = bytes.indexOf('\x1f\x8b\x08', i + 1, 'latin1')) {
    try {
      out.push(gunzipSync(bytes.subarray(i)));
    } catch {
      // Not a member start (the magic can occur by chance), or a truncated one.
    }
  }
  return out;
}

/** Whether the token is in `bytes`, as they are or inside any gzip member they hold. */
export function holdsToken(bytes: Uint8Array, token: string): boolean {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.includes(token, 0, 'latin1')) return true;
  return gzipMembers(b).some((m) => m.includes(token, 0, 'latin1'));
}

/** Files under `dir` (recursively) whose bytes or gzip members hold the token. */
export function filesHoldingToken(dir: string, token: string): string[] {
  const found: string[] = [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  } catch {
    return found;
  }
  for (const e of entries) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    if (holdsToken(readFileSync(path), token)) found.push(path);
  }
  return found;
}
