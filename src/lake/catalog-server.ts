import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { LakeContext, Route, RouteRequest } from './context.js';
import { BodyTooLargeError, readBody, sendError, sendHtmlNotFound, sendMethodNotAllowed } from './http-io.js';
import { RucioApiError, rucioErrors } from './rucio-error.js';
import { accountRoutes } from './routes-accounts.js';
import { adminRoutes } from './routes-admin.js';
import { authRoutes } from './routes-auth.js';
import { didRoutes } from './routes-dids.js';
import { replicaRoutes } from './routes-replicas.js';
import { rseRoutes } from './routes-rses.js';
import { traceRoutes } from './routes-traces.js';

const routes: readonly Route[] = [...authRoutes, ...accountRoutes, ...rseRoutes, ...didRoutes, ...replicaRoutes, ...traceRoutes, ...adminRoutes];

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw rucioErrors.invalidObject(`Problem validating path: '${part}' is not valid percent-encoding`);
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface CatalogServerOptions {
  onError?: (error: unknown) => void;
}

/** The Rucio REST subset over node:http. Routing first (unknown path: 404), then auth, then the handler. */
export function createCatalogServer(context: LakeContext, options: CatalogServerOptions = {}): Server {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // Prefixing (not resolving against a base) keeps a path like `//x/y` a path, not a host.
    const url = new URL(`http://lake.invalid${req.url?.startsWith('/') === true ? req.url : '/'}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;

    const isAdmin = path.startsWith('/.lake/');
    if (!isAdmin) {
      const decision = context.faults.catalogDecision(method, path);
      if (decision.latencyMs > 0) await delay(decision.latencyMs);
      if (decision.drop) {
        req.socket.destroy();
        return;
      }
      if (decision.errorStatus !== undefined) {
        req.resume();
        const classes: Record<number, string> = { 500: 'RucioException', 502: 'ServiceUnavailable', 503: 'ResourceTemporaryUnavailable', 504: 'ServiceUnavailable' };
        sendError(res, new RucioApiError(decision.errorStatus, classes[decision.errorStatus] ?? 'RucioException', `injected fault: ${method} ${path} answered ${decision.errorStatus}`));
        return;
      }
    }

    let matched: { route: Route; params: string[] } | undefined;
    const allowed: string[] = [];
    for (const route of routes) {
      const match = route.pattern.exec(path);
      if (match === null) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      matched = { route, params: match.slice(1).map((part) => decode(part)) };
      break;
    }
    if (matched === undefined) {
      req.resume();
      if (allowed.length > 0) sendMethodNotAllowed(res, allowed);
      else sendHtmlNotFound(res);
      return;
    }

    let account = '';
    if (matched.route.auth === 'token') {
      const raw = req.headers['x-rucio-auth-token'];
      const token = Array.isArray(raw) ? raw[0] : raw;
      if (token === undefined || token === '') {
        throw rucioErrors.cannotAuthenticate('Cannot authenticate without passing all required arguments');
      }
      const info = context.identity.validateToken(token);
      if (info === undefined) throw rucioErrors.cannotAuthenticate('Cannot authenticate with given credentials');
      account = info.account;
    } else if (matched.route.auth === 'admin') {
      const raw = req.headers['x-lake-admin-token'] ?? req.headers.authorization?.replace(/^Bearer\s+/i, '');
      const token = Array.isArray(raw) ? (raw[0] ?? '') : (raw ?? '');
      if (!sameSecret(token, context.adminToken)) {
        throw rucioErrors.cannotAuthenticate('the lake admin API needs the token of <lake dir>/admin-token in X-Lake-Admin-Token');
      }
    }

    let bodyPromise: Promise<Buffer> | undefined;
    const request: RouteRequest = {
      req,
      res,
      url,
      params: matched.params,
      account,
      body: () => (bodyPromise ??= readBody(req)),
    };
    await matched.route.handle(request, context);
    if (bodyPromise === undefined) req.resume();
  };

  return createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // The rest of a body too large to read is not drained: the answer closes the connection.
      if (error instanceof BodyTooLargeError) res.setHeader('Connection', 'close');
      else req.resume();
      if (error instanceof RucioApiError) {
        sendError(res, error);
        return;
      }
      options.onError?.(error);
      sendError(res, new RucioApiError(500, 'RucioException', `internal error of the embedded lake: ${error instanceof Error ? error.message : String(error)}`));
    });
  });
}
