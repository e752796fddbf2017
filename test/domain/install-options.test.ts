// The virt-install grammar end to end through planFromArgv: tables of valid command lines
// (with facts of the Domain they produce) and invalid ones (with the exact ERROR text the
// CLI prints), plus the suboption tokenizer on its own.
import { afterAll, describe, expect, it } from 'vitest';
import { planFromArgv } from '../../src/domain/index.js';
import { tokenizeSubOptions } from '../../src/domain/options/suboptions.js';
import { describeError } from '../../src/lib/errors.js';
import { INVALID_LINES, VALID_LINES } from './command-lines.js';
import { makeScratch } from './reference-fixtures.js';
import { split } from 'shlex';

const scratch = makeScratch();
afterAll(() => scratch.cleanup());
const env = { cwd: scratch.root, uid: 1000, home: scratch.root, host: { kvmDeviceUsable: false, cpuinfo: '' } };
const argv = (line: string) => split(scratch.substitute(line));

describe('suboption tokenizer', () => {
  it.each([
    ['a,b=c', [{ value: 'a' }, { key: 'b', value: 'c' }]],
    ["path='/x,y',size=1", [{ key: 'path', value: '/x,y' }, { key: 'size', value: '1' }]],
    ['kernel_args="a b,c" ,x', [{ key: 'kernel_args', value: 'a b,c ' }, { value: 'x' }]],
    ['k="q\\"uote"', [{ key: 'k', value: 'q"uote' }]],
    ['a\\,b,,c', [{ value: 'a,b' }, { value: 'c' }]],
    ['url=http://h/?a=b', [{ key: 'url', value: 'http://h/?a=b' }]],
  ])('%s', (text, tokens) => {
    expect(tokenizeSubOptions('--x', text)).toEqual(tokens);
  });
});

describe('valid command lines', () => {
  it.each(VALID_LINES.map((v) => [v.line, v] as const))('%s', (_line, v) => {
    expect(v.expect(planFromArgv(argv(v.line), env))).toEqual(v.want);
  });
});

describe('invalid command lines', () => {
  it.each(INVALID_LINES.map((v) => [v.line, v] as const))('%s', (_line, v) => {
    let message: string | undefined;
    try {
      planFromArgv(argv(v.line), env);
    } catch (err) {
      message = describeError(err);
    }
    expect(message).toBe(scratch.substitute(v.error));
  });
});

describe('the bare first value', () => {
  it('keeps a URL containing = whole', () => {
    const plan = planFromArgv(argv('--name a --memory 1024 --location http://127.0.0.1:9/tree?arch=x86_64,kernel=k,initrd=i --osinfo fedora37'), env);
    expect(plan.dryRunPlan.media.location?.location).toBe('http://127.0.0.1:9/tree?arch=x86_64');
  });
});

describe('memory below the variant minimum', () => {
  it('is a warning, as in virt-install, not an error', () => {
    const plan = planFromArgv(argv('--name a --memory 512 --import --disk @DIR@/disk.qcow2 --osinfo ubuntu22.04'), env);
    expect(plan.warnings).toEqual(['Requested memory 512 MiB is less than the recommended 2048 MiB for OS ubuntu22.04']);
    expect(plan.domain.currentMemoryKiB).toBe(512 * 1024);
  });
});
