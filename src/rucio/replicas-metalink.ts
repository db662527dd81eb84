import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import { sortPfns, type ReplicaPfn, type ReplicaRecord } from './replicas.js';

/*
 * The metalink4 form of `POST /replicas/list`, apart from the JSON stream wavefier reads: only a
 * caller that asks for it (`listReplicas({ metalink: true })`) loads the XML parser.
 */

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name) => ['file', 'url', 'hash', 'did'].includes(name),
});

const metalinkFile = z.object({
  identity: z.string(),
  size: z.coerce.number().int().min(0),
  hash: z.array(z.object({ '#text': z.string(), '@type': z.string() })).optional(),
  url: z
    .array(
      z.union([
        z.object({ '#text': z.string(), '@location': z.string(), '@priority': z.string().optional(), '@domain': z.string().optional() }),
        z.string(),
      ]),
    )
    .optional(),
});

/** Parses the metalink4 answer of `POST /replicas/list` (what `rucio download` asks for). */
export function replicasFromMetalink(xml: string): ReplicaRecord[] {
  const doc = parser.parse(xml) as { metalink?: { file?: unknown[] } };
  const files = doc.metalink?.file ?? [];
  return files.map((raw) => {
    const f = metalinkFile.parse(raw);
    const colon = f.identity.indexOf(':');
    const hashes = new Map((f.hash ?? []).map((h) => [h['@type'], h['#text']]));
    const pfns: ReplicaPfn[] = [];
    for (const url of f.url ?? []) {
      if (typeof url === 'string') continue;
      pfns.push({
        pfn: url['#text'],
        rse: url['@location'],
        priority: Number(url['@priority'] ?? 1),
        domain: url['@domain'] ?? 'wan',
      });
    }
    const states: Record<string, string> = {};
    for (const p of pfns) states[p.rse] = 'AVAILABLE';
    return {
      scope: f.identity.slice(0, colon),
      name: f.identity.slice(colon + 1),
      bytes: f.size,
      adler32: hashes.get('adler32') ?? '',
      md5: hashes.get('md5'),
      pfns: sortPfns(pfns),
      states,
    };
  });
}
