/**
 * The site's logger: pino, written to stderr (stdout carries only the "ready" line a launcher reads).
 * Pretty on a terminal, JSON lines otherwise; KV_LOG_FORMAT=pretty|json overrides the guess, which is
 * how `kv cluster` keeps its sites' logs readable when its own stderr is a terminal. The manager takes
 * this logger as it is: Ackord's Logger interface is pino's shape.
 */
import { pino } from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel } from './node-options.js';

export type KvLogger = pino.Logger;

export const LOG_FORMAT_ENV = 'KV_LOG_FORMAT';
/** Set by `kv cluster` when its own terminal shows colours. */
export const LOG_COLOR_ENV = 'KV_LOG_COLOR';

export function createLogger(level: LogLevel): KvLogger {
  const format = process.env[LOG_FORMAT_ENV] ?? (process.stderr.isTTY ? 'pretty' : 'json');
  const options: pino.LoggerOptions = { level, base: { pid: process.pid } };
  if (format === 'pretty') {
    // A synchronous stream in this thread (not a worker transport): nothing is lost when the process exits.
    const stream = pretty({
      destination: 2,
      sync: true,
      colorize: process.stderr.isTTY === true || process.env[LOG_COLOR_ENV] === '1',
      ignore: 'pid,hostname,site,component',
      messageFormat: '{site} {component}: {msg}',
      singleLine: true,
      translateTime: 'HH:MM:ss.l',
    });
    return pino(options, stream);
  }
  return pino(options, pino.destination({ fd: 2, sync: true }));
}
