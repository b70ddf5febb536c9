/**
 * The self-test receiver's decisions (lambdas/core/self-test.ts) with an in-memory store: only
 * registered runs record, Herald's own signatures verify and others do not, `fail-once` fails the
 * first arrival of each webhook id only.
 */
import { describe, expect, it } from 'vitest';
import { receiveHook, SELF_TEST_MAX_HOOKS, type ReceivedHook, type SelfTestRun, type SelfTestStore } from '../../lambdas/core/self-test.ts';
import { generateSigningSecret, signWebhook } from '../../lambdas/core/signing.ts';

class MemorySelfTestStore implements SelfTestStore {
  runs = new Map<string, SelfTestRun>();
  hooks: ReceivedHook[] = [];
  async putRun(run: SelfTestRun) {
    this.runs.set(run.runId, run);
  }
  async getRun(runId: string) {
    return this.runs.get(runId);
  }
  async listHooks(runId: string) {
    return this.hooks.filter((h) => h.runId === runId);
  }
  async recordHook(hook: ReceivedHook) {
    this.hooks.push(hook);
  }
  async deleteRun(runId: string) {
    this.runs.delete(runId);
    this.hooks = this.hooks.filter((h) => h.runId !== runId);
  }
}

const secret = generateSigningSecret();
const now = new Date();
const body = JSON.stringify({ specversion: '1.0', id: 'evt_1', type: 'order.created', subject: 'run-ok' });

function signed(id: string, withSecret = secret) {
  return { 'content-type': 'application/json', ...signWebhook([withSecret], id, now, body) } as Record<string, string>;
}

async function storeWithRun() {
  const store = new MemorySelfTestStore();
  await store.putRun({ runId: 'run-00000001', secret, createdAt: now.toISOString() });
  return store;
}

describe('self-test receiver', () => {
  it('records nothing for a run nobody registered', async () => {
    const store = new MemorySelfTestStore();
    const answer = await receiveHook(store, { runId: 'run-unknown', behaviour: 'ok', headers: signed('dlv_1'), body, now });
    expect(answer).toEqual({ status: 404, detail: 'no self-test run run-unknown' });
    expect(store.hooks).toEqual([]);
  });

  it('verifies Herald’s signature and records the event', async () => {
    const store = await storeWithRun();
    const answer = await receiveHook(store, { runId: 'run-00000001', behaviour: 'ok', headers: signed('dlv_1'), body, now });
    expect(answer.status).toBe(204);
    expect(store.hooks[0]).toMatchObject({ webhookId: 'dlv_1', arrival: 1, verified: true, status: 204, type: 'order.created', subject: 'run-ok' });
  });

  it('answers 401 and records why when the signature was made with another secret', async () => {
    const store = await storeWithRun();
    const answer = await receiveHook(store, { runId: 'run-00000001', behaviour: 'ok', headers: signed('dlv_2', generateSigningSecret()), body, now });
    expect(answer.status).toBe(401);
    expect(store.hooks[0]).toMatchObject({ verified: false, verifyError: expect.any(String), status: 401 });
  });

  it('fails the first arrival of each webhook id under fail-once, and only that', async () => {
    const store = await storeWithRun();
    const statuses = [];
    for (const id of ['dlv_a', 'dlv_a', 'dlv_b', 'dlv_a']) {
      statuses.push((await receiveHook(store, { runId: 'run-00000001', behaviour: 'fail-once', headers: signed(id), body, now })).status);
    }
    expect(statuses).toEqual([500, 204, 500, 204]);
    expect(store.hooks.map((h) => h.arrival)).toEqual([1, 2, 1, 3]);
  });

  it('stops recording a run that received its maximum', async () => {
    const store = await storeWithRun();
    for (let i = 0; i < SELF_TEST_MAX_HOOKS; i++) store.hooks.push({ runId: 'run-00000001' } as ReceivedHook);
    const answer = await receiveHook(store, { runId: 'run-00000001', behaviour: 'ok', headers: signed('dlv_x'), body, now });
    expect(answer.status).toBe(429);
    expect(store.hooks).toHaveLength(SELF_TEST_MAX_HOOKS);
  });
});
