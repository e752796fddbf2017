// Fails when an option, alias or suboption key of the grammar is never exercised by the
// command lines the tests run (the valid/invalid tables and the virt-install reference
// lines), as virt-manager's test_checkprops does for virt-install.
import { describe, expect, it } from 'vitest';
import { split } from 'shlex';
import { INSTALL_OPTIONS } from '../../src/domain/index.js';
import { tokenizeSubOptions } from '../../src/domain/options/suboptions.js';
import { INVALID_LINES, VALID_LINES } from './command-lines.js';
import { LEGACY_ERRORS, LEGACY_LINES, LEGACY_NOT_YET } from './legacy-lines.js';
import { readReferenceCases } from './reference-fixtures.js';

/** Command lines run elsewhere (install-cli.test.ts) with options the tables cannot show. */
const CLI_LINES = ['--help', '-h', '--version', '--osinfo list', '--os-variant list'];

function exercised(): { options: Set<string>; keys: Set<string> } {
  const lines = [...VALID_LINES.map((v) => v.line), ...INVALID_LINES.map((v) => v.line), ...LEGACY_LINES, ...LEGACY_ERRORS.map(([l]) => l), ...LEGACY_NOT_YET.map(([l]) => l), ...readReferenceCases().map((c) => c.args), ...CLI_LINES];
  const options = new Set<string>();
  const keys = new Set<string>();
  const byName = new Map(INSTALL_OPTIONS.flatMap((o) => o.names.map((n) => [n, o] as const)));
  for (const line of lines) {
    const argv = split(line);
    for (let i = 0; i < argv.length; i++) {
      const [name, inline] = argv[i].startsWith('--') && argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
      const def = byName.get(name);
      if (!def) continue;
      options.add(name);
      const value = inline ?? (def.arg === 'required' ? argv[++i] : undefined);
      const table = def.table;
      if (!table || value === undefined) continue;
      let tokens;
      try {
        tokens = tokenizeSubOptions(table.option, value);
      } catch {
        continue;
      }
      tokens.forEach((t, idx) => {
        if (t.key !== undefined) keys.add(`${table.option} ${t.key}`);
        else if (table.flags?.includes(t.value)) keys.add(`${table.option} ${t.value}`);
        else if (idx === 0 && table.first) keys.add(`${table.option} ${table.first}`);
      });
    }
  }
  return { options, keys };
}

describe('option coverage', () => {
  const { options, keys } = exercised();

  it('exercises every option and alias', () => {
    const all = INSTALL_OPTIONS.flatMap((o) => o.names);
    expect(all.filter((n) => !options.has(n))).toEqual([]);
  });

  it('exercises every suboption key of every table', () => {
    const all = INSTALL_OPTIONS.flatMap((o) => (o.table ? [...Object.keys(o.table.keys), ...(o.table.flags ?? [])].map((k) => `${o.table?.option} ${k}`) : []));
    expect(all.filter((k) => !keys.has(k))).toEqual([]);
  });
});
