// E2E, interactive: the guest's serial console on a real terminal (tmux). The terminal
// goes raw, typed keys reach the busybox shell on ttyS0, and Ctrl-] detaches and stops.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { bootFixtures } from '../boot/fixtures.js';
import { BOOT_TIMEOUT_MS } from './boot-helpers.js';

const session = `tsvirt-console-${process.pid}`;
const script = fileURLToPath(new URL('./console-session.mjs', import.meta.url));
const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const pane = () => tmux('capture-pane', '-p', '-S', '-200', '-t', session);

async function waitFor(re: RegExp, ms: number): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const text = pane();
    if (re.test(text)) return text;
    if (Date.now() > end) throw new Error(`timed out waiting for ${re} on the console; screen:\n${text}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

afterAll(() => {
  try {
    tmux('kill-session', '-t', session);
  } catch {
    // already gone
  }
});

describe('interactive serial console', () => {
  it('types echo hi at the busybox shell, reads hi back, and detaches with Ctrl-]', async () => {
    const fx = bootFixtures();
    tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '50', `node ${script} ${fx.KERNEL_CLOUD_AMD64} ${fx.INITRAMFS_SHELL_AMD64}; sleep 60`);
    // capture-pane drops the prompt's trailing space: "/ #" ends the screen.
    await waitFor(/TSVIRT-SHELL-READY[\s\S]*[#$]\s*$/, BOOT_TIMEOUT_MS - 60_000);
    tmux('send-keys', '-t', session, 'echo hi', 'Enter');
    const screen = await waitFor(/^hi\s*$/m, 60_000);
    expect(screen).toMatch(/echo hi/);
    tmux('send-keys', '-t', session, 'C-]');
    await waitFor(/MACHINE-EXIT stopped/, 30_000);
  }, BOOT_TIMEOUT_MS);
});
