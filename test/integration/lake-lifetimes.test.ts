import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestLake, type TestLake } from '../helpers/lake.js';

let lake: TestLake;
beforeAll(async () => {
  lake = await startTestLake({
    accounts: [
      { account: 'root', type: 'SERVICE', identities: [{ username: 'wavefier' }], scopes: ['wavefier'] },
      { account: 'alice', type: 'USER', identities: [{ username: 'alice', password: 'alice-secret' }], scopes: ['user.alice'] },
    ],
  });
});
afterAll(async () => {
  await lake.dispose();
});

async function aliceToken(): Promise<string> {
  const response = await fetch(`${lake.settings.authHost}/auth/userpass`, {
    headers: { 'X-Rucio-Account': 'alice', 'X-Rucio-Username': 'alice', 'X-Rucio-Password': 'alice-secret' },
  });
  return response.headers.get('x-rucio-auth-token') ?? '';
}

const json = async (response: Response): Promise<Record<string, unknown>> => JSON.parse(await response.text()) as Record<string, unknown>;
const hoursFromNow = (text: unknown): number => (Date.parse(String(text)) - Date.now()) / 3_600_000;

describe('the lake: lifetimes of datasets and rules, and rule deletion, as Rucio 1.31 answers', () => {
  it('POST /dids/{scope}/{name} with lifetime sets expired_at; 0 or none leaves it unset (core/did.py add_dids)', async () => {
    for (const [name, lifetime] of [['lt-1', 7200], ['lt-0', 0], ['lt-none', null]] as const) {
      const created = await lake.rucio(`/dids/wavefier/${name}`, { method: 'POST', body: JSON.stringify({ type: 'DATASET', lifetime }) });
      expect(created.status).toBe(201);
    }
    const withLifetime = await json(await lake.rucio('/dids/wavefier/lt-1'));
    expect(hoursFromNow(withLifetime.expired_at)).toBeGreaterThan(1.99);
    expect(hoursFromNow(withLifetime.expired_at)).toBeLessThanOrEqual(2);
    expect((await json(await lake.rucio('/dids/wavefier/lt-0'))).expired_at).toBeNull();
    expect((await json(await lake.rucio('/dids/wavefier/lt-none'))).expired_at).toBeNull();
  });

  it('DELETE /rules/{id}: soft, as the API does it (expires within the hour, still listed); root only under the generic policy; 404 for no rule', async () => {
    const created = await lake.rucio('/dids/wavefier/ruled', {
      method: 'POST',
      body: JSON.stringify({ type: 'DATASET', rules: [{ copies: 1, rse_expression: 'LAKE_S3', lifetime: 86400 }] }),
    });
    expect(created.status).toBe(201);
    const listed = async (): Promise<Record<string, unknown>> => JSON.parse((await (await lake.rucio('/dids/wavefier/ruled/rules')).text()).trim()) as Record<string, unknown>;
    const rule = await listed();
    expect(hoursFromNow(rule.expires_at)).toBeGreaterThan(23.9);

    const denied = await lake.rucio(`/rules/${String(rule.id)}`, { method: 'DELETE', token: await aliceToken(), body: JSON.stringify({ purge_replicas: null }) });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('exceptionclass')).toBe('AccessDenied');
    expect((await json(denied)).ExceptionMessage).toBe('Account alice can not remove this replication rule.');

    const deleted = await lake.rucio(`/rules/${String(rule.id)}`, { method: 'DELETE', body: JSON.stringify({ purge_replicas: null }) });
    expect(deleted.status).toBe(200);
    expect(await deleted.text()).toBe('');
    const after = await listed();
    expect(after.id).toBe(rule.id);
    expect(hoursFromNow(after.expires_at)).toBeLessThanOrEqual(1);
    expect(hoursFromNow(after.expires_at)).toBeGreaterThan(0.99);

    const missing = await lake.rucio('/rules/00000000000000000000000000000000', { method: 'DELETE' });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('exceptionclass')).toBe('RuleNotFound');
  });
});
