import { z } from 'zod';
import { RucioRest, seg } from './client-rest.js';
import { RucioApiError } from './errors.js';
import { rseSettingsSchema, type RseInfo, type SignUrlRequest } from './rse.js';

/** The RSE calls: an RSE's description (cached), server-side lfn2pfn, and presigned storage URLs. */
export class RseCalls extends RucioRest {
  private readonly rseCache = new Map<string, Promise<RseInfo>>();

  /** RSE settings, protocols and attributes; fetched once per client (2 calls in parallel) and cached. */
  rse(name: string): Promise<RseInfo> {
    let cached = this.rseCache.get(name);
    if (cached === undefined) {
      cached = this.fetchRse(name);
      this.rseCache.set(name, cached);
      cached.catch(() => this.rseCache.delete(name));
    }
    return cached;
  }

  private async fetchRse(name: string): Promise<RseInfo> {
    const operation = 'get RSE';
    const [settings, attributes] = await Promise.all([
      this.json({ method: 'GET', path: `/rses/${seg(name)}`, endpoint: 'GET /rses/{rse}', operation, subject: name }),
      this.json({ method: 'GET', path: `/rses/${seg(name)}/attr/`, endpoint: 'GET /rses/{rse}/attr/', operation, subject: name }),
    ]);
    const parsed = rseSettingsSchema.safeParse(settings);
    if (!parsed.success) {
      throw new RucioApiError({ operation, subject: name }, `unexpected RSE description: ${z.prettifyError(parsed.error)}`);
    }
    const attrs = z.record(z.string(), z.unknown()).catch({}).parse(attributes);
    const s = parsed.data;
    const signAttr = attrs.sign_url;
    return {
      name: s.rse,
      id: s.id ?? undefined,
      deterministic: s.deterministic,
      lfn2pfnAlgorithm: s.lfn2pfn_algorithm ?? (typeof attrs.lfn2pfn_algorithm === 'string' ? attrs.lfn2pfn_algorithm : 'hash'),
      availabilityWrite: s.availability_write ?? true,
      availabilityRead: s.availability_read ?? true,
      signUrl: s.sign_url ?? (typeof signAttr === 'string' && signAttr !== '' ? signAttr : undefined),
      verifyChecksum: s.verify_checksum ?? true,
      protocols: s.protocols,
      attributes: attrs,
    };
  }

  /** Server-side lfn2pfn for algorithms this client does not compute: `GET /rses/{rse}/lfns2pfns`. */
  async lfns2pfns(rse: string, dids: { scope: string; name: string }[], options: { scheme?: string; operation?: string } = {}): Promise<Record<string, string>> {
    const query = new URLSearchParams();
    for (const d of dids) query.append('lfn', `${d.scope}:${d.name}`);
    if (options.scheme) query.set('scheme', options.scheme);
    if (options.operation) query.set('operation', options.operation);
    const data = await this.json({
      method: 'GET',
      path: `/rses/${seg(rse)}/lfns2pfns?${query.toString()}`,
      endpoint: 'GET /rses/{rse}/lfns2pfns',
      operation: 'resolve PFNs on RSE',
      subject: rse,
    });
    return z.record(z.string(), z.string()).parse(data);
  }

  /** `GET /credentials/signurl`: a presigned storage URL for the RSE's `sign_url` service. */
  async signUrl(req: SignUrlRequest): Promise<string> {
    const params = new URLSearchParams({
      rse: req.rse,
      svc: req.service ?? 's3',
      op: req.operation,
      url: req.url,
      lifetime: String(req.lifetime ?? 600),
    });
    const response = await this.call({
      method: 'GET',
      path: `/credentials/signurl?${params.toString()}`,
      endpoint: 'GET /credentials/signurl',
      operation: `sign ${req.operation} URL on ${req.rse}`,
      subject: req.url,
    });
    const text = (response.body ? await response.body.text() : '').trim();
    if (!/^https?:\/\//.test(text)) {
      throw new RucioApiError(
        { operation: `sign ${req.operation} URL on ${req.rse}`, status: response.status },
        'the server did not return a URL; check the RSE sign_url attribute and the server credentials',
      );
    }
    return text;
  }
}
