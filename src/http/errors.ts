import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES } from '../errors/codes.js';
import { WharfError } from '../errors/wharf-error.js';

/**
 * The one function that writes error bodies, in the OCI shape for every route:
 * `{"errors":[{"code","message","detail"}]}`, status from the error table.
 */
export function toWharfError(err: unknown): WharfError {
  if (err instanceof WharfError) return err;
  const fe = err as Partial<FastifyError> & { code?: string };
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new WharfError('BODY_TOO_LARGE', fe.message);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new WharfError('UNSUPPORTED', fe.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new WharfError('BODY_INVALID', fe.message);
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return new WharfError('REQUEST_INVALID', fe.message);
    case 'ECONNRESET':
    case 'ERR_STREAM_PREMATURE_CLOSE':
      return new WharfError('BLOB_UPLOAD_INVALID', 'the request body ended early');
    default:
      break;
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new WharfError(fe.statusCode === 415 ? 'UNSUPPORTED' : 'REQUEST_INVALID', fe.message);
  }
  return new WharfError('INTERNAL', undefined, undefined, { cause: err });
}

export function errorBody(err: WharfError): { errors: { code: string; message: string; detail?: unknown }[] } {
  const entry: { code: string; message: string; detail?: unknown } = { code: err.code, message: err.message };
  if (err.detail !== undefined) entry.detail = err.detail;
  return { errors: [entry] };
}

export async function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown): Promise<void> {
  const we = toWharfError(err);
  if (we.code === 'INTERNAL') {
    request.log.error({ err }, 'request failed');
  } else {
    request.log.debug({ code: we.code, msg: we.message }, 'request refused');
  }
  if (reply.sent || reply.raw.headersSent) {
    reply.raw.destroy();
    return;
  }
  // a request body we did not read would otherwise sit in the socket; drain what is left
  if (!request.raw.readableEnded) request.raw.resume();
  reply.removeHeader('content-length');
  reply.removeHeader('content-range');
  reply.removeHeader('docker-content-digest');
  reply.code(ERROR_CODES[we.code].status).header('content-type', 'application/json');
  // RFC 9110 15.5.17: a 416 to a GET says how large the representation is
  const size = (we.detail as { size?: unknown } | undefined)?.size;
  if (we.code === 'RANGE_INVALID' && request.method === 'GET' && typeof size === 'number') {
    reply.header('content-range', `bytes */${size}`);
  }
  await reply.send(errorBody(we));
}
