import type { Route } from './context.js';
import { sendRaw } from './http-io.js';

/**
 * `POST /traces/`: the official client reports every upload and download here, without a token.
 * Rucio forwards traces to a message broker; the lake has none and keeps nothing, and answers as Rucio.
 */
export const traceRoutes: Route[] = [
  {
    method: 'POST',
    pattern: /^\/traces\/?$/,
    auth: 'none',
    handle: async ({ res, body }) => {
      await body();
      sendRaw(res, 201, 'application/octet-stream', 'Created');
    },
  },
];
