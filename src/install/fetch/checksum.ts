// Expected digests of fetched files: `sha256:HEX`, `sha512:HEX` or a bare hex digest
// whose length says the algorithm (64 = sha256, 128 = sha512), as .treeinfo [checksums]
// (productmd "sha256:HEX") and virt-install-style --checksum values write them.
// Leaves out md5/sha1: too weak to trust a fetched kernel with.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { TsvirtError } from '../../lib/errors.js';

export type ChecksumAlgorithm = 'sha256' | 'sha512';

export interface Checksum {
  readonly algorithm: ChecksumAlgorithm;
  /** Lower-case hex digest. */
  readonly hex: string;
}

const HEX_LENGTH: Record<ChecksumAlgorithm, number> = { sha256: 64, sha512: 128 };

/** Parses `sha256:HEX`, `sha512:HEX` or bare HEX; throws TsvirtError on anything else. */
export function parseChecksum(text: string): Checksum {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  let algorithm: string;
  let hex: string;
  if (colon >= 0) {
    algorithm = trimmed.slice(0, colon).toLowerCase();
    hex = trimmed.slice(colon + 1).toLowerCase();
  } else {
    hex = trimmed.toLowerCase();
    algorithm = hex.length === 64 ? 'sha256' : hex.length === 128 ? 'sha512' : '';
  }
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw new TsvirtError(`unsupported checksum '${text}'`, 'give sha256:HEX or sha512:HEX');
  }
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[0-9a-f]+$/.test(hex)) {
    throw new TsvirtError(`malformed ${algorithm} checksum '${text}'`, `expected ${HEX_LENGTH[algorithm]} hex digits`);
  }
  return { algorithm, hex };
}

export function formatChecksum(c: Checksum): string {
  return `${c.algorithm}:${c.hex}`;
}

export async function hashFile(path: string, algorithm: ChecksumAlgorithm): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function hashBytes(bytes: Uint8Array, algorithm: ChecksumAlgorithm): string {
  return createHash(algorithm).update(bytes).digest('hex');
}
