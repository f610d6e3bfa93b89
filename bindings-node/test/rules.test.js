'use strict'
// Decisions as code from Node (docs/RULES.md): a realistic rules document published with its
// approval, enforced on append with the rule named, refusals recorded when asked, versions
// read back at any index, the dry run, and the delivery report. The rules are the core's; the
// shared case table checks the answers agree with every other front end.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const ts = require('..')
const { ledgerPath } = require('./helpers')

const SOX = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'tests', 'rules', 'sox.json'), 'utf8'))

test('rules published, enforced and read back', async () => {
  const l = await ts.Ledger.create(ledgerPath('rules'), { origin: 'example.com/rules' })
  try {
    assert.equal(await l.rulesAt(), null)
    assert.equal(l.recordRefusals, false)
    const ask = await l.append({ actor: { id: 'dana' }, action: 'policy.change.requested', subject: { type: 'rules', id: 'sox' } })
    const r = await l.publishRules(SOX, 'ciso', {
      authz: { decision: 'allow', policy: 'rules-change' },
      links: [{ rel: 'approved_by', index: ask.index }],
    })
    assert.equal(r.index, 1)
    const v = await l.rulesAt()
    assert.deepEqual([v.version, v.published_by, v.index], ['sox-2026.1', 'ciso', 1])
    assert.deepEqual(v.links, [{ rel: 'approved_by', index: 0 }])
    assert.equal(await l.rulesAt(1), null, 'a version governs the entries after it')
    assert.deepEqual((await l.rulesVersions()).map((x) => x.version), ['sox-2026.1'])

    await assert.rejects(
      l.append({ actor: { id: 'alice' }, action: 'change.requested', subject: { type: 'chg', id: '1' } }),
      (e) => e.code === 'rule_violation' && /change-request/.test(e.message) && /attrs\.ticket/.test(e.message),
    )
    assert.equal(l.size, 2)

    l.recordRefusals = true
    assert.equal(l.recordRefusals, true)
    await assert.rejects(
      l.append({ actor: { id: 'mallory' }, action: 'change.requested', subject: { type: 'chg', id: '2' } }),
      { code: 'rule_violation' },
    )
    assert.equal(l.size, 3)
    const refused = await l.get(2)
    assert.equal(refused.action, 'audit.refused')
    assert.equal(refused.attrs.class, 'change-request')

    const report = await l.deliveryReport({ threshold: 0.9 })
    assert.equal(report.approval_concentration.threshold, 0.9)
    await assert.rejects(l.deliveryReport({ threshold: 2 }), { code: 'invalid_argument' })
    await assert.rejects(l.deliveryReport({ threshold: '0.5' }), { code: 'invalid_argument' })
    await assert.rejects(l.publishRules({ version: 'x', classes: [{ name: 'c' }] }, 'ciso'), { code: 'malformed' })
    assert.equal(l.size, 3)
  } finally {
    await l.close()
  }
})

test('checkRules is a dry run', () => {
  const entry = {
    actor: { id: 'sam' }, action: 'deploy.succeeded', subject: { type: 'svc', id: 'api' },
    authz: { decision: 'break_glass', policy: 'cab', policy_version: '3', reason: 'INC-7' },
    change: { before: '1', after: '2' },
  }
  assert.deepEqual(ts.checkRules(JSON.stringify(SOX), entry), {
    version: 'sox-2026.1', class: 'production-deploy', break_glass: true, retention: 'sox-7y', ai_output: false,
  })
  assert.throws(() => ts.checkRules(SOX, { ...entry, actor: { id: 'alice' } }), (e) => e.code === 'rule_violation' && /break-glass/.test(e.message))
})
