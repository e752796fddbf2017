// One differential suite per group of forms: runs them on the host and on the software
// CPU, prints a compact list of failing forms (one example each, with the full input so
// that it can be replayed), and fails on any form that is not a listed known gap.
// TSVIRT_CPU_DIFF_CASES (cases per form, default 200, weighted per form) and
// TSVIRT_CPU_DIFF_SEED (default 1) widen or vary the search; CI uses the defaults.
// TSVIRT_CPU_DIFF_REPORT=<dir> also writes the full failing list to <dir>/<suite>.txt.
// A group with 32-bit forms skips, with the reason printed, on a host that cannot run
// 32-bit code natively (compat32Support() in differential.ts; TSVIRT_CPU_DIFF_COMPAT32).

import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCpuFactory } from '../support/cpu-factory.js';
import { compat32Support, formatFailures, runDifferential, skipUnlessCompat32 } from './differential.js';
import { FORMS } from './forms.js';
import { KNOWN_GAPS } from './known-gaps.js';

export function defineDiffSuite(title: string, groups: readonly string[]): void {
  const casesPerForm = Number(process.env.TSVIRT_CPU_DIFF_CASES ?? 200);
  const seed = Number(process.env.TSVIRT_CPU_DIFF_SEED ?? 1);
  describe(`differential vs host CPU: ${title}`, () => {
    for (const group of groups) {
      it(`${group} forms match the host CPU`, async (ctx) => {
        const forms = FORMS.filter((f) => f.group === group);
        expect(forms.length).toBeGreaterThan(0);
        const has32 = forms.some((f) => f.bits === 32);
        if (has32) skipUnlessCompat32(ctx);
        const factory = await loadCpuFactory();
        const outcomes = runDifferential(forms, factory, { casesPerForm, seed });
        const failing = outcomes.filter((o) => o.failures > 0);
        const unexpected = failing.filter((o) => !(o.form.name in KNOWN_GAPS));
        const healed = outcomes.filter((o) => o.failures === 0 && o.form.name in KNOWN_GAPS);
        const total = outcomes.reduce((n, o) => n + o.cases, 0);
        const compat = has32 ? compat32Support() : undefined;
        const head =
          `[${group}] ${outcomes.length} forms, ${total} cases, ${failing.length} failing forms ` +
          `(${failing.length - unexpected.length} known gaps)` +
          (compat?.available ? `; 32-bit code ran on ${compat.segment}` : '');
        const tail = healed.length ? `\n  known gaps that now pass (remove them): ${healed.map((o) => o.form.name).join(', ')}` : '';
        const summary = `${head}${failing.length ? `\n${formatFailures(failing)}` : ''}${tail}`;
        console.log(`${head}${failing.length ? `\n${formatFailures(failing, 400)}` : ''}${tail}`);
        const dir = process.env.TSVIRT_CPU_DIFF_REPORT;
        if (dir) {
          mkdirSync(dir, { recursive: true });
          const file = join(dir, `${title.replace(/[^a-z0-9]+/gi, '-')}.txt`);
          if (group === groups[0]) writeFileSync(file, '');
          appendFileSync(file, `${summary}\n\n`);
        }
        expect(unexpected.map((o) => `${o.form.name}: ${o.example?.split('\n')[0]}`)).toEqual([]);
      }, 600_000); // CPU time is a few seconds per group; the margin is for a loaded machine
    }
  });
}
