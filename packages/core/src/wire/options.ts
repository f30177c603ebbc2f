/** Decoder limits, validated with zod: bad options are one `ConfigError` listing every issue. */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from '../log/options.js';
import { RECORD_HEADER_BYTES } from '../log/record.js';

/** The default largest frame (header + body) a decoder accepts. */
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** `maxFrameBytes` may be set from this… */
export const MAX_FRAME_BYTES_LOWEST = 1024;
/** …up to this. */
export const MAX_FRAME_BYTES_HIGHEST = 1024 * 1024 * 1024;
/** The default largest record inside a `log` message: the log's default largest payload plus its header. */
export const DEFAULT_MAX_RECORD_BYTES = DEFAULT_MAX_PAYLOAD_BYTES + RECORD_HEADER_BYTES;

export interface DecoderOptions {
  /** Largest frame, header included. Checked from the header, before any body byte is buffered. */
  readonly maxFrameBytes?: number;
  /** Largest log record (header included) inside a `log` message. */
  readonly maxRecordBytes?: number;
}

export interface ResolvedDecoderOptions {
  readonly maxFrameBytes: number;
  readonly maxRecordBytes: number;
}

const decoderOptionsSchema = z
  .object({
    maxFrameBytes: z
      .number()
      .int()
      .min(MAX_FRAME_BYTES_LOWEST)
      .max(MAX_FRAME_BYTES_HIGHEST)
      .default(DEFAULT_MAX_FRAME_BYTES),
    maxRecordBytes: z
      .number()
      .int()
      .min(RECORD_HEADER_BYTES)
      .max(MAX_FRAME_BYTES_HIGHEST)
      .default(DEFAULT_MAX_RECORD_BYTES),
  })
  .strict();

export const DEFAULT_DECODER_OPTIONS: ResolvedDecoderOptions = Object.freeze({
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxRecordBytes: DEFAULT_MAX_RECORD_BYTES,
});

// decodeFrame takes options on every call: validate each options object once, not once per frame.
const resolved = new WeakMap<DecoderOptions, ResolvedDecoderOptions>();

/** Validates decoder options (throws `ConfigError`); the result is cached per options object. */
export function resolveDecoderOptions(options: DecoderOptions | undefined): ResolvedDecoderOptions {
  if (options === undefined) return DEFAULT_DECODER_OPTIONS;
  const cached = resolved.get(options);
  if (cached !== undefined) return cached;
  const result = decoderOptionsSchema.safeParse(options);
  if (!result.success) throw new ConfigError('decoder options', result.error.issues);
  const value = Object.freeze(result.data);
  resolved.set(options, value);
  return value;
}
