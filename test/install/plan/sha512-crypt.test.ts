// SHA-512 crypt against the specification's vectors and Debian's `openssl passwd -6`.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { randomSalt, sha512Crypt } from '../../../src/install/plan/sha512-crypt.js';

describe('sha512Crypt', () => {
  it('matches the vectors of Drepper\'s specification', () => {
    expect(sha512Crypt('Hello world!', '$6$saltstring')).toBe(
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    );
    expect(sha512Crypt('Hello world!', '$6$rounds=10000$saltstringsaltstring')).toBe(
      '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
    );
    expect(sha512Crypt('we have a short salt string but not a short password', '$6$rounds=77777$short')).toBe(
      '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0',
    );
    expect(sha512Crypt('a very much longer text to encrypt.  This one even stretches over morethan one line.', '$6$rounds=1400$anotherlongsaltstring')).toBe(
      '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1',
    );
    // Too few rounds are clamped to 1000.
    expect(sha512Crypt('the minimum number is still observed', '$6$rounds=10$roundstoolow')).toBe(
      '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.',
    );
  });

  it('agrees with openssl passwd -6 on passwords of many lengths and characters', () => {
    const cases: Array<[string, string]> = [
      ['x', 'a'], ['secret', 'abcdefgh'], ['pässwörd ✓', 'UTF8salt'],
      ['p'.repeat(64), 'len64'], ['q'.repeat(65), 'len65'], ['r'.repeat(200), '1234567890123456'],
      ['with space and $dollar', 'Z/.9'],
    ];
    for (const [pass, salt] of cases) {
      const want = execFileSync('openssl', ['passwd', '-6', '-salt', salt, pass]).toString().trim();
      expect(sha512Crypt(pass, salt)).toBe(want);
    }
  });

  it('hashes the empty password as glibc crypt(3) does (through perl)', () => {
    // openssl refuses an empty password; perl's crypt() is glibc's.
    const want = execFileSync('perl', ['-e', 'print crypt("", "\\$6\\$emptysalt")']).toString();
    expect(want).toMatch(/^\$6\$emptysalt\$/);
    expect(sha512Crypt('', 'emptysalt')).toBe(want);
  });

  it('draws 16-character salts from the crypt alphabet', () => {
    const s = randomSalt();
    expect(s).toMatch(/^[./0-9A-Za-z]{16}$/);
    expect(sha512Crypt('pw')).toMatch(/^\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}$/);
  });
});
