'use strict'
// Witness cosignatures from Node: the independent vectors, and the refusals of
// `Ledger.witness` that need no witness (the real one runs in tests/witness/check.sh).
const { test } = require('node:test')
const assert = require('node:assert/strict')
const net = require('node:net')
const { ts, ledgerPath, entry, readVector, rejectsWith, throwsWith } = require('./helpers')

const v = readVector('cosignature.json')

test('cosignature vectors made by an independent implementation', () => {
  for (const c of v.cases) {
    if (c.ok) {
      const got = ts.verifyCosigned(c.note, v.log_vkey, v.witness_vkeys, c.quorum)
      assert.ok(got.cosignatures.length >= c.quorum, c.name)
      assert.equal(got.checkpoint.size, 5)
    } else {
      throwsWith('verification_failed', () => ts.verifyCosigned(c.note, v.log_vkey, v.witness_vkeys, c.quorum))
    }
  }
})

async function deadUrl () {
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return `http://127.0.0.1:${port}`
}

test('witness: a BLAKE3 ledger, a refused connection, an unmet quorum', async () => {
  const signer = ts.Signer.generate('example.com/node-witness')
  const key = v.witness_vkeys[0]
  const b3 = await ts.Ledger.create(ledgerPath(), { origin: 'example.com/node-witness', hash: 'blake3' })
  await rejectsWith('invalid_argument', () => b3.witness(signer, [['http://127.0.0.1:9', key]]))
  await b3.close()

  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'example.com/node-witness' })
  await ledger.append(entry(0))
  const report = await ledger.witness(signer, [[await deadUrl(), key]], { timeoutSeconds: 5 })
  assert.equal(report.quorum, 1, 'the quorum defaults to every witness given')
  assert.equal(report.quorum_met, false)
  assert.match(report.witnesses[0].error, /connection refused/)
  await rejectsWith('invalid_argument', () => ledger.witness(signer, [['http://x', key, 'extra']]))
  await rejectsWith('invalid_argument', () => ledger.witness(signer, [['http://x', key]], { timeoutSeconds: 0 }))
  await rejectsWith('invalid_argument', () => ledger.witness(signer, [['http://x', key]], { timeout: 5 }))
  await rejectsWith('invalid_argument', () => ledger.witness(signer, [['http://x', key]], { quorum: 2 }))
  await ledger.close()
})
