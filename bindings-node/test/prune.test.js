'use strict'
// Pruning from Node (SPEC section 8.1): what retention allows goes, a read of it says where it
// went, the rest reads as before, and compact gives the space back. What may go is the core's;
// the shared case table checks the answers agree.
const test = require('node:test')
const assert = require('node:assert/strict')

const ts = require('..')
const { ledgerPath } = require('./helpers')

const AUTHZ = { decision: 'allow', policy: 'records-management' }
const AT = new Date('2100-01-01T00:00:00Z')

test('prune, pruned and compact', async () => {
  const path = ledgerPath('prune')
  const l = await ts.Ledger.create(path, { origin: 'example.com/prune' })
  try {
    await l.publishRetentionRules(
      { version: 'v1', default: 'P1Y', rules: [{ action: 'deploy.*', keep: 'P100Y' }] },
      'records-officer',
      AUTHZ,
    )
    const batch = []
    for (let i = 0; i < 200; i++) {
      batch.push({
        actor: { id: 'ci' },
        action: i === 10 ? 'deploy.succeeded' : 'build.finished',
        subject: { type: 'build', id: String(i) },
      })
    }
    await l.appendBatch(batch)
    const dry = await l.prune(AT, 'records-officer', AUTHZ, true)
    assert.equal(dry.dry_run, true)
    assert.ok(dry.count > 0)
    assert.deepEqual(dry.records, [])
    assert.equal((await l.get(5)).action, 'build.finished')

    const r = await l.prune(AT, 'records-officer', AUTHZ)
    assert.equal(r.count, dry.count)
    assert.equal(r.records.length, 1)
    assert.equal(r.kept.in_retention, 1)
    assert.throws(() => l.get(5), (e) => e.code === 'out_of_range' && /pruned on/.test(e.message))
    const p = await l.pruned(5)
    assert.deepEqual([p.index, p.pruned.by, p.pruned.rules_version], [5, r.records[0], 'v1'])
    assert.equal(await l.pruned(11), null)
    assert.equal((await l.get(11)).action, 'deploy.succeeded')
    await assert.rejects(l.prune('next year', 'records-officer', AUTHZ), { code: 'malformed' })
    await assert.rejects(l.prune(AT, 'records-officer', AUTHZ, 'yes'), { code: 'invalid_argument' })
    await assert.rejects(ts.compact(path), { code: 'locked' })
  } finally {
    await l.close()
  }
  assert.equal(await ts.compact(path), true)
})
