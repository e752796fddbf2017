// Download progress: a bar with bytes, rate and ETA on a TTY (cli-progress), plain
// lines otherwise (start, every 25 %, done) so logs and CI output stay readable.
// The fetcher only talks to a ProgressSink; the CLI layer decides where it goes.
import { createRequire } from 'node:module';
import type cliProgressTypes from 'cli-progress';

// cli-progress (CommonJS) is loaded when a bar is first drawn, so commands that never show
// one do not pay for loading it at start-up.
const requireCjs = createRequire(import.meta.url);
const cliProgress = (): typeof cliProgressTypes => requireCjs('cli-progress') as typeof cliProgressTypes;

export interface ProgressSink {
  start(label: string, totalBytes: number | undefined): void;
  update(receivedBytes: number): void;
  done(receivedBytes: number): void;
}

/** The sink for library callers and tests that want no output. */
export const silentProgress: ProgressSink = { start() {}, update() {}, done() {} };

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Plain line-oriented progress for non-TTY streams. */
export function lineProgress(out: NodeJS.WritableStream): ProgressSink {
  let label = '';
  let total: number | undefined;
  let nextQuarter = 1;
  return {
    start(l, t) {
      label = l;
      total = t;
      nextQuarter = 1;
      out.write(`fetching ${label}${t === undefined ? '' : ` (${formatBytes(t)})`}\n`);
    },
    update(received) {
      if (total === undefined || total === 0) return;
      while (nextQuarter < 4 && received >= (total * nextQuarter) / 4) {
        out.write(`fetching ${label}: ${nextQuarter * 25}%\n`);
        nextQuarter++;
      }
    },
    done(received) {
      out.write(`fetched ${label} (${formatBytes(received)})\n`);
    },
  };
}

/** A cli-progress bar (bytes, rate, ETA) for a TTY. */
export function barProgress(out: NodeJS.WritableStream): ProgressSink {
  let bar: cliProgressTypes.SingleBar | undefined;
  let startedMs = 0;
  let label = '';
  return {
    start(l, total) {
      label = l;
      startedMs = Date.now();
      const { SingleBar, Presets } = cliProgress();
      bar = new SingleBar(
        {
          stream: out,
          format: '{label} [{bar}] {percentage}% {got} {rate}/s ETA {eta_formatted}',
          hideCursor: true,
          clearOnComplete: false,
        },
        Presets.shades_classic,
      );
      bar.start(total ?? 0, 0, { label, got: formatBytes(0), rate: formatBytes(0) });
    },
    update(received) {
      const seconds = Math.max((Date.now() - startedMs) / 1000, 0.001);
      bar?.update(received, { label, got: formatBytes(received), rate: formatBytes(received / seconds) });
    },
    done(received) {
      this.update(received);
      bar?.stop();
      bar = undefined;
    },
  };
}

/** The right sink for a stream: a bar on a TTY, plain lines otherwise. */
export function progressFor(out: NodeJS.WritableStream & { isTTY?: boolean }): ProgressSink {
  return out.isTTY ? barProgress(out) : lineProgress(out);
}
