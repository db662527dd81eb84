import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RucioTransientError, RucioUnavailableError } from '../../src/rucio/errors.js';
import { backoffDelay, classifyNetworkError, HttpTransport } from '../../src/rucio/http.js';
import { createAgent } from '../../src/rucio/tls.js';

describe('backoff', () => {
  it('grows exponentially with jitter and stays under the cap', () => {
    const policy = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    for (let attempt = 0; attempt < 8; attempt++) {
      const ceiling = Math.min(1000, 100 * 2 ** attempt);
      for (let i = 0; i < 20; i++) {
        const delay = backoffDelay(attempt, policy);
        expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('tells requests that never left from those that may have been applied', () => {
    expect(classifyNetworkError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' })).kind).toBe('refused');
    expect(classifyNetworkError(Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET', cause: { code: 'ECONNRESET' } })).kind).toBe('uncertain');
    expect(classifyNetworkError(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' })).kind).toBe('uncertain');
    expect(classifyNetworkError(Object.assign(new Error('x'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })).kind).toBe('tls');
  });
});

describe('HttpTransport against a real server', () => {
  let server: Server;
  let url: string;
  let hits = 0;
  let mode: 'reset' | '503' | 'ok' = 'ok';
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      if (mode === 'reset') {
        req.socket.destroy();
        return;
      }
      if (mode === '503') {
        res.writeHead(503, { ExceptionClass: 'ResourceTemporaryUnavailable' });
        res.end();
        return;
      }
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const transport = (): HttpTransport => new HttpTransport(createAgent({}), 2000, { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 });

  it('retries a reset GET and counts each attempt per endpoint', async () => {
    mode = 'reset';
    hits = 0;
    const t = transport();
    await expect(t.request({ method: 'GET', url: `${url}/x`, endpoint: 'GET /x', operation: 'probe', idempotent: true })).rejects.toBeInstanceOf(RucioTransientError);
    expect(hits).toBe(3);
    expect(t.stats.byEndpoint['GET /x']).toBe(3);
    expect(t.stats.retries).toBe(2);
  });

  it('never repeats a write blindly: without a read-back it stops at the first uncertain failure', async () => {
    mode = 'reset';
    hits = 0;
    const error = await transport()
      .request({ method: 'POST', url: `${url}/w`, body: '{}', endpoint: 'POST /w', operation: 'write thing', subject: 's:n', idempotent: false })
      .catch((e: unknown) => e);
    expect(hits).toBe(1);
    expect((error as Error).message).toMatch(/write thing s:n failed.*may or may not have been applied/);
  });

  it('asks the read-back and stops when the write had been applied', async () => {
    mode = 'reset';
    hits = 0;
    let checks = 0;
    const response = await transport().request({
      method: 'POST',
      url: `${url}/w`,
      body: '{}',
      endpoint: 'POST /w',
      operation: 'write',
      idempotent: false,
      checkApplied: () => {
        checks++;
        return Promise.resolve(true);
      },
    });
    expect(response.recovered).toBe(true);
    expect([hits, checks]).toEqual([1, 1]);
  });

  it('returns the last 503 after the retries so the caller can map its ExceptionClass', async () => {
    mode = '503';
    hits = 0;
    const response = await transport().request({ method: 'GET', url: `${url}/y`, endpoint: 'GET /y', operation: 'probe', idempotent: true });
    expect(response.status).toBe(503);
    expect(hits).toBe(3);
  });

  it('reports a refused connection as unavailable, naming the host', async () => {
    const t = new HttpTransport(createAgent({}), 2000, { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 });
    const error = await t.request({ method: 'GET', url: 'http://127.0.0.1:1/ping', endpoint: 'GET /ping', operation: 'ping', idempotent: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RucioUnavailableError);
    expect((error as Error).message).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1 after 2 attempts/);
  });
});
