// Progress of long loops: on a terminal one line redrawn in place (at most every 100 ms),
// `label  123/400  31.2 it/s  ETA 0:09`; in logs (not a TTY) a plain line each time another tenth
// is done or 30 s have passed, and at the end. The rate counts only the items done since the bar
// started (a resumed loop starts at its resumed count), averaged over the whole time so far.
// The formatting is pure functions, tested on their own.

/** `m:ss`, or `h:mm:ss` from an hour; `--:--` when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** `31.2 it/s`; slower than one a second as seconds per item (`2.50 s/it`); `-- it/s` when unknown. */
export function formatRate(perSecond: number, unit = "it"): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return `-- ${unit}/s`;
  if (perSecond >= 100) return `${perSecond.toFixed(0)} ${unit}/s`;
  if (perSecond >= 1) return `${perSecond.toFixed(1)} ${unit}/s`;
  return `${(1 / perSecond).toFixed(2)} s/${unit}`;
}

export interface ProgressState {
  label: string;
  done: number;
  total: number;
  /** The count when the bar started (items resumed from an earlier run are not part of the rate). */
  initial: number;
  /** Seconds since the bar started. */
  elapsed: number;
}

/** Items per second since the start; NaN before the first item or instant. */
export function progressRate(s: ProgressState): number {
  const counted = s.done - s.initial;
  return s.elapsed > 0 && counted > 0 ? counted / s.elapsed : Number.NaN;
}

/** Seconds left at the current rate (0 when done, NaN when unknown). */
export function progressEta(s: ProgressState): number {
  if (s.done >= s.total) return 0;
  return (s.total - s.done) / progressRate(s);
}

/** `label  123/400  31.2 it/s  ETA 0:09`; once finished `label  400/400  31.2 it/s  in 0:13`. */
export function formatProgressLine(s: ProgressState, unit = "it"): string {
  const count = `${s.done}/${s.total}`;
  const rate = formatRate(progressRate(s), unit);
  const tail = s.done >= s.total ? `in ${formatDuration(s.elapsed)}` : `ETA ${formatDuration(progressEta(s))}`;
  return `${s.label}  ${count}  ${rate}  ${tail}`;
}

/** Tenths done (0..10) of a count, for the plain-log policy. */
export function tenthsDone(done: number, total: number): number {
  return total > 0 ? Math.min(10, Math.floor((done * 10) / total)) : 10;
}

export interface ProgressHandle {
  /** `n` more items done. */
  tick(n?: number): void;
  /** Sets the count (for callbacks that report totals). */
  update(done: number): void;
  /** Ends the bar (prints its last line). */
  done(): void;
}

export interface ProgressReporterOptions {
  /** Redraw in place (a terminal) or print plain lines (logs). */
  tty: boolean;
  write: (text: string) => void;
  /** Milliseconds (injected by tests). */
  now?: () => number;
  /** Terminal redraw interval, ms. */
  redrawMs?: number;
  /** Plain-log interval, ms, besides every tenth. */
  plainMs?: number;
}

/**
 * Draws progress bars and log lines on one stream; a log line printed while a terminal bar is
 * shown clears the bar first and redraws it after, so the two never mix on one line.
 */
export class ProgressReporter {
  readonly #o: Required<ProgressReporterOptions>;
  #active: { line: () => string } | null = null;

  constructor(options: ProgressReporterOptions) {
    this.#o = { now: () => performance.now(), redrawMs: 100, plainMs: 30_000, ...options };
  }

  log(line: string): void {
    if (this.#o.tty && this.#active) this.#o.write(`\r\x1b[K${line}\n${this.#active.line()}`);
    else this.#o.write(`${line}\n`);
  }

  start(label: string, total: number, initial = 0, unit = "it"): ProgressHandle {
    const o = this.#o;
    const t0 = o.now();
    let done = initial;
    let finished = false;
    let lastDraw = Number.NEGATIVE_INFINITY;
    let lastTenth = tenthsDone(initial, total);
    let printed = -1; // the count of the last plain line
    const line = () => formatProgressLine({ label, done, total, initial, elapsed: (o.now() - t0) / 1000 }, unit);
    const bar = { line };
    const draw = (force: boolean) => {
      const now = o.now();
      if (o.tty) {
        if (force || now - lastDraw >= o.redrawMs) {
          o.write(`\r\x1b[K${line()}`);
          lastDraw = now;
        }
        return;
      }
      const tenth = tenthsDone(done, total);
      if ((force && printed !== done) || tenth > lastTenth || now - lastDraw >= o.plainMs) {
        o.write(`${line()}\n`);
        lastDraw = now;
        lastTenth = tenth;
        printed = done;
      }
    };
    this.#active = bar;
    if (o.tty) draw(true);
    else lastDraw = t0;
    const handle: ProgressHandle = {
      tick: (n = 1) => handle.update(done + n),
      update: (value) => {
        if (finished) return;
        done = value;
        draw(false);
      },
      done: () => {
        if (finished) return;
        finished = true;
        draw(true);
        if (o.tty) o.write("\n");
        if (this.#active === bar) this.#active = null;
      },
    };
    return handle;
  }
}
