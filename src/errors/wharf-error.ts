import { ERROR_CODES, type ErrorCode } from './codes.js';

/**
 * The one error class. Thrown by any layer; translated into a response body only by http/.
 * `detail` is safe to show to the client (never secrets); `cause` is for logs.
 */
export class WharfError extends Error {
  readonly code: ErrorCode;
  readonly detail: unknown;

  constructor(code: ErrorCode, message?: string, detail?: unknown, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code].message, options);
    this.name = 'WharfError';
    this.code = code;
    this.detail = detail;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}

export function isWharfError(err: unknown, code?: ErrorCode): err is WharfError {
  return err instanceof WharfError && (code === undefined || err.code === code);
}

/** Shorthand used across layers: `throw wharfError('BLOB_UNKNOWN', 'blob sha256:... not found')`. */
export function wharfError(code: ErrorCode, message?: string, detail?: unknown): WharfError {
  return new WharfError(code, message, detail);
}
