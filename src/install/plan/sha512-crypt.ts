// SHA-512 crypt ("$6$"), the glibc algorithm specified by Ulrich Drepper in "Unix crypt
// using SHA-256 and SHA-512" (2007/2008): a salted, repeated SHA-512 with a custom
// base-64 alphabet, as /etc/shadow stores it. Used host-side to turn kickstart
// plaintext passwords into hashes before they go into the install plan. Leaves out
// verification helpers and the other crypt schemes ($1$, $5$, $y$).
import { createHash, randomBytes } from 'node:crypto';
import { TsvirtError } from '../../lib/errors.js';

export const SHA512_CRYPT_PREFIX = '$6$';
const ROUNDS_DEFAULT = 5000;
const ROUNDS_MIN = 1000;
const ROUNDS_MAX = 999_999_999;
const SALT_MAX_CHARS = 16;
const B64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function sha512(...parts: Buffer[]): Buffer {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
}

/** A sequence made of `digest` repeated to exactly `length` bytes (spec steps 16 and 20). */
function repeatTo(digest: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += 64) digest.copy(out, i, 0, Math.min(64, length - i));
  return out;
}

function b64From24(b2: number, b1: number, b0: number, n: number): string {
  let w = (b2 << 16) | (b1 << 8) | b0;
  let s = '';
  for (let i = 0; i < n; i++) {
    s += B64[w & 0x3f];
    w >>= 6;
  }
  return s;
}

// The spec's output byte order for SHA-512 (step 22e).
const ORDER: ReadonlyArray<readonly [number, number, number]> = [
  [0, 21, 42], [22, 43, 1], [44, 2, 23], [3, 24, 45], [25, 46, 4], [47, 5, 26], [6, 27, 48],
  [28, 49, 7], [50, 8, 29], [9, 30, 51], [31, 52, 10], [53, 11, 32], [12, 33, 54], [34, 55, 13],
  [56, 14, 35], [15, 36, 57], [37, 58, 16], [59, 17, 38], [18, 39, 60], [40, 61, 19], [62, 20, 41],
];

/**
 * Hashes `password` with SHA-512 crypt. `salt` may be a bare salt or a setting string
 * (`$6$rounds=N$salt$...`); a random 16-character salt is drawn when omitted.
 */
export function sha512Crypt(password: string, salt?: string, rounds?: number): string {
  let saltText = salt ?? randomSalt();
  let roundsGiven = rounds !== undefined;
  let r = rounds ?? ROUNDS_DEFAULT;
  if (saltText.startsWith(SHA512_CRYPT_PREFIX)) saltText = saltText.slice(SHA512_CRYPT_PREFIX.length);
  const m = /^rounds=(\d+)\$/.exec(saltText);
  if (m) {
    r = Number(m[1]);
    roundsGiven = true;
    saltText = saltText.slice(m[0].length);
  }
  // Rounds are clamped, not rejected (spec: "rounds=" handling).
  r = Math.min(Math.max(r, ROUNDS_MIN), ROUNDS_MAX);
  saltText = saltText.split('$')[0].slice(0, SALT_MAX_CHARS);
  if (/[:\n]/.test(saltText)) throw new TsvirtError('a crypt salt may not contain ":" or a newline');

  const P = Buffer.from(password, 'utf8');
  const S = Buffer.from(saltText, 'utf8');
  const B = sha512(P, S, P);
  const a = createHash('sha512');
  a.update(P);
  a.update(S);
  a.update(repeatTo(B, P.length));
  for (let n = P.length; n > 0; n >>= 1) a.update(n & 1 ? B : P);
  let A = a.digest();

  const dp = createHash('sha512');
  for (let i = 0; i < P.length; i++) dp.update(P);
  const Pseq = repeatTo(dp.digest(), P.length);
  const ds = createHash('sha512');
  for (let i = 0; i < 16 + A[0]; i++) ds.update(S);
  const Sseq = repeatTo(ds.digest(), S.length);

  for (let i = 0; i < r; i++) {
    const c = createHash('sha512');
    c.update(i & 1 ? Pseq : A);
    if (i % 3 !== 0) c.update(Sseq);
    if (i % 7 !== 0) c.update(Pseq);
    c.update(i & 1 ? A : Pseq);
    A = c.digest();
  }

  let out = '';
  for (const [x, y, z] of ORDER) out += b64From24(A[x], A[y], A[z], 4);
  out += b64From24(0, 0, A[63], 2);
  return `${SHA512_CRYPT_PREFIX}${roundsGiven ? `rounds=${r}$` : ''}${saltText}$${out}`;
}

export function randomSalt(random: (n: number) => Uint8Array = randomBytes): string {
  const bytes = random(SALT_MAX_CHARS);
  let s = '';
  for (let i = 0; i < SALT_MAX_CHARS; i++) s += B64[bytes[i] & 0x3f];
  return s;
}
