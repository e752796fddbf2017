// The name a guest gets when --name is left out, by virt-install's rule (virtinst
// Guest.generate_name): the OS's short id without a trailing "-unknown" ("fedora37",
// "fedora"), then "-2", "-3" ... until no defined domain has it; a guest of another
// architecture than the host's gets "-ARCH" appended; the generic OS counts from "vm1".

/** Suffixes tried before giving up, as virt-install's generate_name does. */
const MAX_TRIES = 100_000;

export function generateDomainName(osId: string, opts: { arch: string; hostArch: string; taken: (name: string) => boolean }): string {
  let base = osId.endsWith('-unknown') ? osId.slice(0, -'-unknown'.length) : osId;
  let numbered = false;
  if (osId === 'generic') {
    base = 'vm';
    numbered = true;
  }
  if (opts.arch !== opts.hostArch) {
    base += `-${opts.arch}`;
    numbered = false;
  }
  const first = numbered ? 1 : 2;
  const candidates = function* (): Generator<string> {
    if (!numbered) yield base;
    for (let i = first; i < first + MAX_TRIES; i++) yield numbered ? `${base}${i}` : `${base}-${i}`;
  };
  for (const name of candidates()) if (!opts.taken(name)) return name;
  throw new Error(`no free domain name after ${MAX_TRIES} tries from ${base}`);
}
