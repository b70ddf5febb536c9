import type { HandshakeAnswer } from '#core/webhook-validation';
import type { HttpRequest } from '#core/ports';
import type { NodeHttpSender } from './http-sender.ts';

/** The answer headers the validation handshake reads (core/webhook-validation.ts). */
const HANDSHAKE_HEADERS = ['webhook-allowed-origin', 'webhook-allowed-rate', 'allow'] as const;

/**
 * Sends the handshake's OPTIONS request through the delivery sender, so the same SSRF rules
 * (scheme, port, resolved address at connect time) and no-redirect rule apply, and keeps only
 * the headers the handshake reads.
 */
export function handshakeSender(sender: NodeHttpSender): (request: HttpRequest) => Promise<HandshakeAnswer> {
  return async (request) => {
    const { result, headers = {} } = await sender.exchange(request, 1024);
    const picked: Record<string, string | undefined> = {};
    for (const name of HANDSHAKE_HEADERS) {
      const value = headers[name];
      picked[name] = Array.isArray(value) ? value[0] : value;
    }
    return { result, headers: picked };
  };
}
