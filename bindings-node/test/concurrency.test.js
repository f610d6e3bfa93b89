'use strict'
// Many Promises on one handle at once: every append lands exactly once, in some order, and
// every receipt is provable; the event loop keeps running while they wait on the disk.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { ts, ledgerPath, entry } = require('./helpers')

test('200 concurrent appends all land, in some order, with valid proofs', async () => {
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'o', hash: 'sha256' })
  let ticks = 0
  let spinning = true
  const spin = () => {
    ticks++
    if (spinning) setImmediate(spin)
  }
  setImmediate(spin)
  const N = 200
  const receipts = await Promise.all(
    Array.from({ length: N }, (_, i) => ledger.append(entry(i, { id: `evt-${i}`, attrs: { n: String(i) } }))),
  )
  spinning = false
  assert.ok(ticks > 10, `the event loop ran ${ticks} times while appends waited`)
  assert.equal(ledger.size, N)
  assert.deepEqual(
    receipts.map((r) => r.index).sort((a, b) => a - b),
    Array.from({ length: N }, (_, i) => i),
  )
  const root = ledger.root()
  for (let i = 0; i < N; i++) {
    const r = receipts[i]
    const stored = ledger.get(r.index)
    assert.equal(stored.id, `evt-${i}`, 'each receipt names the entry it was given for')
    assert.equal(stored.time, r.time)
    assert.equal(r.tree_size, r.index + 1)
    assert.equal(ledger.root(r.tree_size), r.root, 'the receipt root is the root at its size')
    const atReceipt = ledger.proveInclusion(r.index, r.tree_size)
    assert.equal(atReceipt.root, r.root)
    ts.verifyInclusion(atReceipt, stored)
    const now = ledger.proveInclusion(r.index)
    assert.equal(now.root, root)
    ts.verifyInclusion(now, ledger.getRaw(r.index))
    ts.verifyConsistency(ledger.proveConsistency(r.tree_size))
  }
  // Times follow index order.
  const times = Array.from({ length: N }, (_, i) => ledger.get(i).time)
  assert.deepEqual([...times].sort(), times)
  // Retrying all of them concurrently writes nothing new.
  const again = await Promise.all(Array.from({ length: N }, (_, i) => ledger.append(entry(i, { id: `evt-${i}`, attrs: { n: String(i) } }))))
  assert.deepEqual(again, receipts)
  assert.equal(ledger.size, N)
  const report = await ledger.verify()
  assert.equal(report.size, N)
  await ledger.close()
})

test('concurrent batches, raw appends, checkpoints and verifies interleave safely', async () => {
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'o', raw: true, durable: false })
  const signer = ts.Signer.generate('o')
  const ops = []
  for (let b = 0; b < 20; b++) {
    ops.push(ledger.appendRawBatch(Array.from({ length: 10 }, (_, i) => `b${b}-${i}`)))
    ops.push(ledger.appendRaw(`single-${b}`))
    if (b % 5 === 0) ops.push(ledger.checkpoint(signer))
    if (b % 7 === 0) ops.push(ledger.verify())
  }
  const results = await Promise.all(ops)
  await ledger.sync()
  assert.equal(ledger.size, 220)
  // Every batch is contiguous: atomic commits do not interleave.
  for (const r of results) {
    if (Array.isArray(r)) {
      const idx = r.map((x) => x.index)
      assert.deepEqual(idx, Array.from({ length: 10 }, (_, i) => idx[0] + i))
      idx.forEach((index, i) => assert.match(ledger.getRaw(index).toString(), new RegExp(`^b\\d+-${i}$`)))
    }
  }
  for (const cp of ledger.checkpoints()) {
    assert.equal(ts.verifyCheckpoint(cp.note, signer.verifierKey).root, ledger.root(cp.size))
  }
  const report = await ledger.verify()
  assert.equal(report.checkpoints_checked, 4)
  await ledger.close()
})
