/**
 * The logger Ackord writes to: pino-compatible (pass a pino instance, or anything with these methods).
 * Silent by default. Ackord makes child loggers with bindings it controls (`site`, `component`), never
 * with user objects.
 */
export interface Logger {
  debug(object: object, message?: string): void;
  info(object: object, message?: string): void;
  warn(object: object, message?: string): void;
  error(object: object, message?: string): void;
  child(bindings: Record<string, string | number>): Logger;
}

const noop = () => undefined;

export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};
