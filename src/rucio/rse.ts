import { z } from 'zod';

/** One storage protocol of an RSE, as `GET /rses/{rse}` returns it (validated at the boundary). */
export const rseProtocolSchema = z.object({
  scheme: z.string().min(1),
  hostname: z.string(),
  port: z.coerce.number().int().min(0),
  prefix: z.string().nullish().transform((value) => value ?? ''),
  impl: z.string().nullish(),
  domains: z
    .record(z.string(), z.record(z.string(), z.number().nullish()))
    .nullish()
    .transform((value) => value ?? {}),
  extended_attributes: z.record(z.string(), z.unknown()).nullish(),
});
export type RseProtocol = z.infer<typeof rseProtocolSchema>;

export const rseSettingsSchema = z.object({
  rse: z.string(),
  id: z.string().nullish(),
  deterministic: z.boolean().nullish().transform((value) => value ?? true),
  lfn2pfn_algorithm: z.string().nullish(),
  availability_write: z.boolean().nullish(),
  availability_read: z.boolean().nullish(),
  sign_url: z.string().nullish(),
  verify_checksum: z.boolean().nullish(),
  rse_type: z.string().nullish(),
  protocols: z.array(rseProtocolSchema),
});

export type Operation = 'read' | 'write' | 'delete';

/** What wavefier needs to know about an RSE; fetched once per client and cached. */
export interface RseInfo {
  name: string;
  id?: string | undefined;
  deterministic: boolean;
  lfn2pfnAlgorithm: string;
  availabilityWrite: boolean;
  availabilityRead: boolean;
  /** `s3` when the server signs storage URLs for us (RSE attribute or setting `sign_url`). */
  signUrl?: string | undefined;
  verifyChecksum: boolean;
  protocols: RseProtocol[];
  attributes: Record<string, unknown>;
}

/**
 * The protocols usable for an operation, best first: Rucio's per-domain priority (1 is best, 0 means
 * not supported). wan is what a remote client uses; lan is a fallback for single-site deployments.
 */
export function protocolsFor(info: RseInfo, operation: Operation, domain: 'wan' | 'lan' = 'wan'): RseProtocol[] {
  const priority = (p: RseProtocol, d: string): number => p.domains[d]?.[operation] ?? 0;
  const usable = info.protocols.filter((p) => priority(p, domain) > 0);
  const chosen = usable.length > 0 ? usable : info.protocols.filter((p) => priority(p, domain === 'wan' ? 'lan' : 'wan') > 0);
  return chosen.sort((a, b) => priority(a, domain) - priority(b, domain));
}

/** A storage URL to presign for one operation, by the Rucio server's `sign_url` service of the RSE. */
export interface SignUrlRequest {
  rse: string;
  url: string;
  operation: Operation;
  /** The signing service, the RSE's `sign_url` (default s3). */
  service?: string;
  /** Seconds the signature stays valid (default 600). */
  lifetime?: number;
}
