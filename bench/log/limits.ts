/**
 * This machine's limits, measured with bare node:fs in the same directory as the log cells. Every loop
 * appends at a growing offset to a fresh file, as the log does, so the fdatasync also pays for the file
 * size change just like a log segment's.
 */
import fs from 'node:fs';
import path from 'node:path';

export const LIMIT_RECORD_BYTES = 128;
export const GROUP_WRITERS = 64;

export interface LimitSample {
  /** writeSync(128 B) + fdatasyncSync, one op per round. */
  readonly fdatasyncLoop: number;
  /** 64 × writeSync(128 B) then one fdatasyncSync: 64 ops per round. */
  readonly groupCommitLoop64: number;
  /** writeSync(128 B), no sync. */
  readonly writeLoop: number;
}

const record = Buffer.alloc(LIMIT_RECORD_BYTES, 0x5a);

function withFile(dir: string, name: string, body: (fd: number) => number): number {
  const file = path.join(dir, name);
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  try {
    return body(fd);
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
}

function fdatasyncLoop(fd: number, ms: number): number {
  let position = 0;
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    fs.writeSync(fd, record, 0, LIMIT_RECORD_BYTES, position);
    position += LIMIT_RECORD_BYTES;
    fs.fdatasyncSync(fd);
    ops++;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

function groupCommitLoop(fd: number, ms: number): number {
  let position = 0;
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let writer = 0; writer < GROUP_WRITERS; writer++) {
      fs.writeSync(fd, record, 0, LIMIT_RECORD_BYTES, position);
      position += LIMIT_RECORD_BYTES;
    }
    fs.fdatasyncSync(fd);
    ops += GROUP_WRITERS;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

function writeLoop(fd: number, ms: number): number {
  let position = 0;
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    // Check the clock once per 64 writes: a clock read costs a fair part of a 1–2 µs write.
    for (let i = 0; i < 64; i++) {
      fs.writeSync(fd, record, 0, LIMIT_RECORD_BYTES, position);
      position += LIMIT_RECORD_BYTES;
    }
    ops += 64;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

/** Warms the loop up on a scratch file, then measures it on a fresh one (both append from offset 0). */
function measure(dir: string, name: string, loop: (fd: number, ms: number) => number, ms: number): number {
  withFile(dir, `${name}-warmup`, (fd) => loop(fd, Math.min(50, ms / 10)));
  return withFile(dir, name, (fd) => loop(fd, ms));
}

const LOOPS: Readonly<Record<keyof LimitSample, (fd: number, ms: number) => number>> = {
  fdatasyncLoop,
  groupCommitLoop64: groupCommitLoop,
  writeLoop,
};

/** One limit, `seconds` long, after a short warm-up; `tag` keeps concurrent loops' files apart. */
export function measureLimit(dir: string, name: keyof LimitSample, seconds: number, tag = ''): number {
  return measure(dir, `limit-${name}${tag}`, LOOPS[name], seconds * 1000);
}

/** One sample of each limit, `seconds` each. */
export function measureLimits(dir: string, seconds: number): LimitSample {
  return {
    fdatasyncLoop: measureLimit(dir, 'fdatasyncLoop', seconds),
    groupCommitLoop64: measureLimit(dir, 'groupCommitLoop64', seconds),
    writeLoop: measureLimit(dir, 'writeLoop', seconds),
  };
}
