'use strict'
// Retention and legal hold from Node (SPEC section 8): rules recorded as an entry and read
// back, a hold that keeps what it covers until released, and the plan of what retention
// allows. The rules are the core's; the shared case table checks the answers agree.
const test = require('node:test')
const assert = require('node:assert/strict')

const ts = require('..')
const { ledgerPath } = require('./helpers')

const AUTHZ = { decision: 'allow', policy: 'records-schedule', reason: 'SOX 802' }
const AT = new Date('2100-01-01T00:00:00Z')

test('retention rules, a hold and the plan', async () => {
  const l = await ts.Ledger.create(ledgerPath('retention'), { origin: 'example.com/retention' })
  try {
    assert.equal(await l.retentionRulesAt(), null)
    const r = await l.publishRetentionRules(
      { version: 'sox-2026', default: 'P1Y', rules: [{ action: 'deploy.*', keep: 'P100Y' }] },
      'records-officer',
      AUTHZ,
    )
    const v = await l.retentionRulesAt()
    assert.deepEqual([v.index, v.version], [r.index, 'sox-2026'])
    await l.appendBatch([
      { actor: { id: 'dave' }, action: 'deploy.succeeded', subject: { type: 'svc', id: 'api' } },
      { actor: { id: 'bob' }, action: 'access.granted', subject: { type: 'db', id: 'payroll' } },
    ])
    assert.deepEqual((await l.retentionPlan(AT)).eligible, [[2, 3]])
    await l.placeHold('LIT-7', { subject: 'db:payroll' }, 'counsel', AUTHZ)
    await assert.rejects(l.placeHold('LIT-7', { actor: 'bob' }, 'counsel', AUTHZ), { code: 'invalid_argument' })
    assert.equal((await l.retentionPlan('2100-01-01T00:00:00Z')).counts.held, 1)
    await l.releaseHold('LIT-7', 'counsel', AUTHZ)
    const holds = await l.legalHolds()
    assert.deepEqual(holds.map((h) => [h.id, h.placed, h.released]), [['LIT-7', 3, 4]])
    await assert.rejects(l.releaseHold('LIT-7', 'counsel', AUTHZ), { code: 'invalid_argument' })
    await assert.rejects(l.placeHold('H', {}, 'counsel', AUTHZ), { code: 'malformed' })
    await assert.rejects(l.retentionPlan('next year'), { code: 'malformed' })
    await assert.rejects(l.publishRetentionRules({ version: 'x', default: 'one year', rules: [] }, 'r', AUTHZ), { code: 'malformed' })
    assert.equal(l.size, 5)
  } finally {
    await l.close()
  }
})
