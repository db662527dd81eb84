import type { LakeContext, RouteRequest } from './context.js';
import { parseRucioDate } from './dates.js';
import { sendJsonStream } from './http-io.js';
import { parsePythonLiteral } from './python-literal.js';
import { RucioApiError, rucioErrors } from './rucio-error.js';

interface SearchFilter {
  /** `type` inside a filter overrides the request's for that OR group (did_column_meta.list_dids). */
  type?: string;
  name?: string;
  createdFrom: number;
  createdTo: number;
  length?: { op: 'eq' | 'gt' | 'lt' | 'gte' | 'lte'; value: number }[];
}

function parseSearchFilters(url: URL): SearchFilter[] {
  const filtersText = url.searchParams.get('filters');
  let raw: Record<string, unknown>[];
  if (filtersText !== null) {
    let parsed: unknown;
    try {
      parsed = parsePythonLiteral(filtersText);
    } catch {
      throw new RucioApiError(400, 'ValueError', `malformed filters: ${filtersText.slice(0, 200)}`);
    }
    const list = Array.isArray(parsed) ? parsed : [parsed];
    raw = list.map((item) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new RucioApiError(400, 'ValueError', 'filters must be a list of dictionaries');
      return item as Record<string, unknown>;
    });
  } else {
    const flat: Record<string, unknown> = {};
    for (const [key, value] of url.searchParams) {
      if (!['type', 'limit', 'long', 'recursive'].includes(key)) flat[key] = value;
    }
    raw = [flat];
  }
  return raw.map((filter) => {
    const out: SearchFilter = { createdFrom: -Infinity, createdTo: Infinity };
    for (const [key, value] of Object.entries(filter)) {
      if (key === 'name') {
        out.name = String(value);
        continue;
      }
      const date = (): number => {
        const ms = parseRucioDate(value);
        if (ms === undefined) throw new RucioApiError(400, 'ValueError', `${key}: '${String(value)}' is not a date (use YYYY-MM-DDTHH:MM:SS, UTC)`);
        return ms;
      };
      if (key === 'created_after' || key === 'created_at.gte' || key === 'created_at.gt') out.createdFrom = Math.max(out.createdFrom, date());
      else if (key === 'created_before' || key === 'created_at.lte' || key === 'created_at.lt') out.createdTo = Math.min(out.createdTo, date());
      else if (key === 'length' || key.startsWith('length.')) {
        const op = key === 'length' ? 'eq' : key.slice('length.'.length);
        const number = Number(value);
        if (!['eq', 'gt', 'lt', 'gte', 'lte'].includes(op) || !Number.isFinite(number)) throw new RucioApiError(400, 'ValueError', `unsupported filter ${key}=${String(value)}`);
        (out.length ??= []).push({ op: op as 'eq', value: number });
      } else if (key === 'type') {
        out.type = String(value).toLowerCase();
      } else if (key === 'did_type') {
        continue;
      } else {
        throw new RucioApiError(404, 'KeyNotFound', `Key '${key}' is not a filterable DID attribute in this lake (name, created_after, created_before, length)`);
      }
    }
    return out;
  });
}

function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`);
}


/** `GET /dids/{scope}/dids/search` (did_column_meta.list_dids): names, or rows with `long`. */
export function searchDids(request: RouteRequest, context: LakeContext): void {
  const scope = request.params[0] ?? '';
  const url = request.url;
  const requestType = (url.searchParams.get('type') ?? 'collection').toLowerCase();
  const types: Record<string, string[]> = {
    all: ['FILE', 'DATASET', 'CONTAINER'],
    collection: ['DATASET', 'CONTAINER'],
    dataset: ['DATASET'],
    container: ['CONTAINER'],
    file: ['FILE'],
  };
  const typesOf = (type: string): string[] => {
    const wanted = types[type];
    if (wanted === undefined) throw rucioErrors.unsupported(`${type} is not a valid type. Valid types are dict_keys(['all', 'collection', 'container', 'dataset', 'file'])`);
    return wanted;
  };
  const long = ['True', '1', 'true'].includes(url.searchParams.get('long') ?? '');
  const limitText = url.searchParams.get('limit');
  const limit = limitText === null ? Infinity : Number(limitText);
  const filters = parseSearchFilters(url).map((filter) => ({
    ...filter,
    wanted: typesOf(filter.type ?? requestType),
    regex: filter.name === undefined ? undefined : wildcard(filter.name),
  }));
  const out: unknown[] = [];
  const seen = new Set<string>();
  for (const filter of filters) {
    for (const row of context.catalog.searchDids(scope, filter.createdFrom, filter.createdTo)) {
      if (out.length >= limit) break;
      if (!filter.wanted.includes(row.did_type)) continue;
      if (filter.regex !== undefined && !filter.regex.test(row.name)) continue;
      if (filter.length !== undefined) {
        const length = row.did_type === 'FILE' ? 1 : (row.length ?? context.catalog.dynamicSize(row.scope, row.name).length);
        const ok = filter.length.every(({ op, value }) =>
          op === 'eq' ? length === value : op === 'gt' ? length > value : op === 'lt' ? length < value : op === 'gte' ? length >= value : length <= value,
        );
        if (!ok) continue;
      }
      if (seen.has(row.name)) continue;
      seen.add(row.name);
      out.push(
        long
          ? { scope: row.scope, name: row.name, did_type: `DIDType.${row.did_type}`, bytes: row.bytes, length: row.did_type === 'FILE' ? 1 : row.length }
          : row.name,
      );
    }
  }
  sendJsonStream(request.res, out);
}
