// tsvirt-install --help, written from the option table and grouped as virt-install groups
// its options (virt-install --help), with each suboption option's examples.
import { INSTALL_OPTIONS, OPTION_GROUPS, type OptionDef } from './options/install-options.js';

function usage(o: OptionDef): string {
  const meta = o.arg === 'none' ? '' : o.arg === 'optional' ? ` ${o.metavar ?? '[VALUE]'}` : ` ${o.metavar ?? 'VALUE'}`;
  return o.names.map((n) => `${n}${meta}`).join(', ');
}

function describe(o: OptionDef): string[] {
  const head = usage(o);
  const lines = [head.length <= 20 ? `  ${head.padEnd(22)}${o.help}` : `  ${head}\n${' '.repeat(24)}${o.help}`];
  const examples = o.table?.examples ?? [];
  if (examples.length > 0) lines.push(`${' '.repeat(24)}Ex: ${examples[0]}`, ...examples.slice(1).map((e) => `${' '.repeat(28)}${e}`));
  return lines;
}

export function formatInstallHelp(): string {
  const out = [
    'usage: tsvirt-install --name NAME --memory MB STORAGE INSTALL [options]',
    '',
    'Create a new virtual machine from specified install media.',
    '',
    'options:',
    ...INSTALL_OPTIONS.filter((o) => o.group === 'options' && !o.hidden).flatMap(describe),
  ];
  for (const group of OPTION_GROUPS) {
    const opts = INSTALL_OPTIONS.filter((o) => o.group === group);
    if (opts.length === 0) continue;
    out.push('', `${group}:`, ...opts.flatMap(describe));
  }
  return `${out.join('\n')}\n`;
}
