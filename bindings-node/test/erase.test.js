'use strict'
// Personal fields and their erasure from Node (SPEC section 10): values read back as recorded,
// erased with the record saying why, every proof intact, the file holding nothing.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const test = require('node:test')
const ts = require('..')
const { ledgerPath } = require('./helpers')

const ALICE = 'alice.node@example.com'
const AUTHZ = { decision: 'allow', policy: 'gdpr-erasure' }

function entry (actor, i) {
  return {
    actor: { id: actor },
    action: 'access.granted',
    subject: { type: 'role', id: `r${i}` },
    change: { before: { note: `${actor} private ${i}` } }
  }
}

test('values sealed, read back, and erased', async () => {
  const path = ledgerPath('erase')
  const l = await ts.Ledger.create(path, { origin: 'example.com/node-erase', personal: ['actor.id', 'change.before'] })
  try {
    assert.deepEqual(l.personalFields, ['actor.id', 'change.before'])
    await l.appendBatch([entry(ALICE, 0), entry(ALICE, 1), entry(ALICE, 2), entry('bob', 9)])
    assert.equal(l.get(1).actor.id, ALICE)
    const raw = l.getRaw(1).toString('utf8')
    assert.ok(!raw.includes(ALICE) && raw.includes('commitment:'))
    const kept = await l.openings(1)
    assert.equal(kept['actor.id'].value, ALICE)
    const dry = await l.erase({ actor: ALICE }, 'DSR-1', 'dpo', AUTHZ, { dryRun: true })
    assert.deepEqual(dry.erased, [0, 1, 2])
    const report = await l.erase({ actor: ALICE }, 'DSR-1', 'dpo', AUTHZ, { legalBasis: 'GDPR Art. 17(1)(a)', request: 'DSR-1' })
    assert.equal(report.count, 3)
    const record = report.records[0]
    assert.equal(l.get(record).payload.legal_basis, 'GDPR Art. 17(1)(a)')
    assert.deepEqual(l.get(1).erased, { by: record })
    assert.equal(await l.openings(1), null)
    await l.verify()
    const commitment = JSON.parse(l.getRaw(1).toString('utf8')).actor.id
    ts.checkOpening(commitment, kept['actor.id'].salt, ALICE)
    assert.throws(() => ts.checkOpening(commitment, kept['actor.id'].salt, 'mallory'), { code: 'verification_failed' })
    await assert.rejects(l.erase({ actor: ALICE }, 'again', 'dpo', AUTHZ), { code: 'invalid_argument' })
    await assert.rejects(l.erase({ who: ALICE }, 'r', 'dpo', AUTHZ), { code: 'invalid_argument' })
    await l.scrubFreePages()
  } finally {
    await l.close()
  }
  const data = fs.readFileSync(path)
  assert.ok(!data.includes(ALICE) && !data.includes('private 0'))
})

test('a ledger without personal fields has nothing to erase; a bad field is refused', async () => {
  const l = await ts.Ledger.create(ledgerPath('erase-plain'), { origin: 'p' })
  try {
    await l.append(entry('bob', 1))
    assert.deepEqual(l.personalFields, [])
    await assert.rejects(l.erase({ indexes: [0] }, 'r', 'dpo', AUTHZ), { code: 'invalid_argument' })
  } finally {
    await l.close()
  }
  await assert.rejects(ts.Ledger.create(ledgerPath('erase-bad'), { origin: 'b', personal: ['actor'] }), { code: 'invalid_argument' })
})
