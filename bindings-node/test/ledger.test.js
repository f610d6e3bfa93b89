'use strict'
// The Ledger and Signer API: what each call takes and returns.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const util = require('node:util')
const { ts, ledgerPath, entry, rejectsWith, throwsWith } = require('./helpers')

const HEX64 = /^[0-9a-f]{64}$/
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/

test('create: metadata getters, an empty tree, defaults', async () => {
  const file = ledgerPath()
  const ledger = await ts.Ledger.create(file, { origin: 'example.com/audit' })
  assert.ok(ledger instanceof ts.Ledger)
  assert.equal(ledger.origin, 'example.com/audit')
  assert.equal(ledger.hash, 'sha256')
  assert.equal(ledger.kind, 'entries')
  assert.equal(ledger.path, file)
  assert.equal(ledger.maxEntryBytes, 1 << 20)
  assert.equal(ledger.closed, false)
  assert.equal(ledger.size, 0)
  assert.match(ledger.root(), HEX64)
  assert.deepEqual(ledger.checkpoints(), [])
  assert.match(util.inspect(ledger), /Ledger \{ path: .*origin: "example.com\/audit"/)
  await ledger.close()
  assert.equal(ledger.closed, true)
  assert.equal(ledger.origin, 'example.com/audit', 'metadata stays readable after close')
  await ledger.close() // twice is harmless
  assert.throws(() => new ts.Ledger(), 'no public constructor')
})

test('append and get: receipts, entries as recorded, canonical leaf bytes', async () => {
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'o', hash: 'sha256' })
  const e = entry(1, {
    id: 'evt-1',
    actor: { id: 'bot', role: 'ci', via: ['alice'] },
    authz: { decision: 'break_glass', policy: 'p1', reason: 'outage' },
    change: { before: { replicas: 2 }, after: { replicas: 3 } },
    attrs: { env: 'prod', 'é': 'ü' },
    payload: { n: 1.5, big: 12345678901, list: [true, null, 'x'], nested: { z: 1, a: 2 } },
    occurred_at: new Date('2026-01-02T03:04:05.678Z'), // toJSON: an RFC 3339 string
  })
  const r = await ledger.append(e)
  assert.deepEqual(Object.keys(r), ['index', 'leaf_hash', 'tree_size', 'root', 'time'])
  assert.equal(r.index, 0)
  assert.equal(r.tree_size, 1)
  assert.match(r.leaf_hash, HEX64)
  assert.equal(r.root, ledger.root())
  assert.match(r.time, TIME)
  assert.equal(ledger.leafHash(0), r.leaf_hash)
  const got = ledger.get(0)
  assert.deepEqual(got, { ...JSON.parse(JSON.stringify(e)), v: 1, time: r.time })
  // The leaf is the RFC 8785 canonical JSON of the entry as recorded: keys sorted.
  const raw = ledger.getRaw(0)
  assert.ok(Buffer.isBuffer(raw))
  assert.equal(raw.toString('utf8').slice(0, 10), '{"action":')
  assert.deepEqual(JSON.parse(raw), got)
  // The same entry as JSON text; and the link to it.
  const r2 = await ledger.append(JSON.stringify(entry(2, { links: [{ rel: 'approved_by', index: 0 }] })))
  assert.equal(r2.index, 1)
  assert.ok(r2.time >= r.time, 'time never goes back')
  await ledger.close()
})

test('appendBatch: atomic, in order, ids deduplicated', async () => {
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'o' })
  const rs = await ledger.appendBatch([
    entry(0, { id: 'a' }),
    JSON.stringify(entry(1)),
    entry(2, { links: [{ rel: 'after', index: 1 }] }),
    entry(0, { id: 'a' }),
  ])
  assert.deepEqual(
    rs.map((r) => r.index),
    [0, 1, 2, 0],
  )
  assert.equal(ledger.size, 3)
  assert.deepEqual(await ledger.appendBatch([]), [])
  await ledger.close()
})

test('raw ledgers: Buffer, Uint8Array and string leaves; exact bytes back', async () => {
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'o', raw: true, hash: 'sha256' })
  assert.equal(ledger.kind, 'raw')
  const r = await ledger.appendRaw(Buffer.from([0, 1, 2, 255]))
  assert.equal(r.time, undefined)
  assert.ok(!('time' in r))
  await ledger.appendRaw(new Uint8Array([9, 8]))
  const rs = await ledger.appendRawBatch(['héllo', Buffer.alloc(0)])
  assert.deepEqual(
    rs.map((x) => x.index),
    [2, 3],
  )
  assert.deepEqual(ledger.getRaw(0), Buffer.from([0, 1, 2, 255]))
  assert.deepEqual(ledger.getRaw(1), Buffer.from([9, 8]))
  assert.equal(ledger.getRaw(2).toString('utf8'), 'héllo')
  assert.equal(ledger.getRaw(3).length, 0)
  ts.verifyInclusion(ledger.proveInclusion(2), 'héllo')
  ts.verifyInclusion(ledger.proveInclusion(0), new Uint8Array([0, 1, 2, 255]))
  await ledger.close()
})

test('proofs: SPEC form, verify offline, JSON round trip, bigint arguments', async () => {
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'o' })
  for (let i = 0; i < 13; i++) await ledger.append(entry(i))
  const p = ledger.proveInclusion(5)
  assert.deepEqual(Object.keys(p), ['hash', 'index', 'tree_size', 'leaf_hash', 'root', 'path'])
  assert.equal(p.hash, 'sha256')
  assert.equal(p.tree_size, 13)
  assert.equal(p.root, ledger.root())
  ts.verifyInclusion(p)
  ts.verifyInclusion(p, ledger.get(5)) // an entry object: checked as its canonical JSON
  ts.verifyInclusion(p, ledger.getRaw(5))
  ts.verifyInclusion(JSON.parse(JSON.stringify(p)))
  ts.verifyInclusion({ ...p, index: 5n, tree_size: 13n })
  assert.deepEqual(ledger.proveInclusion(5n, 8n), ledger.proveInclusion(5, 8))
  assert.equal(ledger.proveInclusion(5, 8).root, ledger.root(8))
  const c = ledger.proveConsistency(8)
  assert.deepEqual(Object.keys(c), ['hash', 'old_size', 'new_size', 'old_root', 'new_root', 'path'])
  assert.equal(c.old_root, ledger.root(8))
  assert.equal(c.new_root, ledger.root())
  ts.verifyConsistency(c)
  ts.verifyConsistency(ledger.proveConsistency(0))
  ts.verifyConsistency(ledger.proveConsistency(13))
  ts.verifyConsistency(ledger.proveConsistency(3, 9))
  await ledger.close()
})

test('proofs against a signed checkpoint: {checkpoint, verifierKey}, as `verify-proof` checks them', async () => {
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'example.com/audit' })
  const signer = ts.Signer.generate('example.com/audit')
  for (let i = 0; i < 13; i++) await ledger.append(entry(i))
  const at8 = { checkpoint: await ledger.checkpoint(signer, 8), verifierKey: signer.verifierKey }
  const at13 = { checkpoint: await ledger.checkpoint(signer), verifierKey: signer.verifierKey }
  // An inclusion proof must be against the checkpoint's tree: its size and root.
  ts.verifyInclusion(ledger.proveInclusion(5, 8), ledger.get(5), at8)
  ts.verifyInclusion(ledger.proveInclusion(5), null, at13)
  ts.verifyInclusion(JSON.stringify(ledger.proveInclusion(5)), undefined, at13)
  let e = throwsWith('verification_failed', () => ts.verifyInclusion(ledger.proveInclusion(5), ledger.get(5), at8))
  assert.match(e.message, /checkpoint/)
  // The leaf is still checked first: a wrong leaf fails whatever the checkpoint.
  throwsWith('verification_failed', () => ts.verifyInclusion(ledger.proveInclusion(5, 8), ledger.get(6), at8))
  // A consistency proof must have the checkpoint's tree at one end, old or new.
  ts.verifyConsistency(ledger.proveConsistency(8), at8)
  ts.verifyConsistency(ledger.proveConsistency(8), at13)
  ts.verifyConsistency(ledger.proveConsistency(3, 8), at8)
  e = throwsWith('verification_failed', () => ts.verifyConsistency(ledger.proveConsistency(3, 9), at8))
  assert.match(e.message, /checkpoint/)
  // The checkpoint's signature is checked: another key, or a note that was changed.
  const otherKey = ts.Signer.generate('example.com/audit').verifierKey
  throwsWith('verification_failed', () => ts.verifyInclusion(ledger.proveInclusion(5, 8), null, { ...at8, verifierKey: otherKey }))
  throwsWith('verification_failed', () => ts.verifyConsistency(ledger.proveConsistency(8), { ...at8, verifierKey: otherKey }))
  const forged = { ...at8, checkpoint: at8.checkpoint.replace('\n8\n', '\n9\n') }
  throwsWith('verification_failed', () => ts.verifyConsistency(ledger.proveConsistency(8), forged))
  // Both options or neither.
  throwsWith('invalid_argument', () => ts.verifyInclusion(ledger.proveInclusion(5), null, { checkpoint: at13.checkpoint }))
  throwsWith('invalid_argument', () => ts.verifyConsistency(ledger.proveConsistency(8), { verifierKey: signer.verifierKey }))
  throwsWith('invalid_argument', () => ts.verifyConsistency(ledger.proveConsistency(8), { ...at8, size: 8 }))
  throwsWith('malformed', () => ts.verifyConsistency(ledger.proveConsistency(8), { ...at8, verifierKey: 'nope' }))
  await ledger.close()
})

test('checkpoints: signed, kept, verified, with verify() against an outside one', async () => {
  const ledger = await ts.Ledger.create(ledgerPath(), { origin: 'example.com/audit' })
  const signer = ts.Signer.generate('example.com/audit')
  await ledger.appendBatch([entry(0), entry(1), entry(2)])
  const note1 = await ledger.checkpoint(signer, 2)
  const note2 = await ledger.checkpoint(signer)
  const cp = ts.verifyCheckpoint(note2, signer.verifierKey)
  assert.deepEqual(cp, { origin: 'example.com/audit', size: 3, root: ledger.root(), extensions: [] })
  assert.equal(ts.verifyCheckpoint(note1, signer.verifierKey).root, ledger.root(2))
  assert.deepEqual(ledger.checkpoints(), [
    { size: 2, note: note1, verifier_key: signer.verifierKey },
    { size: 3, note: note2, verifier_key: signer.verifierKey },
  ])
  await ledger.append(entry(3))
  const report = await ledger.verify({ checkpoint: note2, verifierKey: signer.verifierKey })
  // The core's verify report, as `trailseal verify` prints it.
  assert.deepEqual(Object.keys(report), [
    'ok', 'size', 'root', 'nodes_checked', 'checkpoints_checked', 'consistent_with_checkpoint',
    'postings_checked', 'indexes_checked', 'cosignatures_checked', 'witnessed_size',
  ])
  assert.equal(report.ok, true)
  assert.equal(report.size, 4)
  assert.equal(report.root, ledger.root())
  assert.equal(report.checkpoints_checked, 2)
  assert.equal(report.consistent_with_checkpoint, 3)
  // Node hashes are stored a complete 64-leaf tile at a time: under 64 entries there are none
  // to compare (the recomputed root is checked against the stored one instead).
  assert.equal(report.nodes_checked, 0)
  // Under 64 entries, every entry is in the query indexes' unindexed tail (queries read those
  // entries directly): no stored postings to check yet. By default only the indexes'
  // structure is checked.
  assert.equal(report.postings_checked, 0)
  assert.equal(report.indexes_checked, false)
  const plain = await ledger.verify()
  assert.equal(plain.consistent_with_checkpoint, null)
  // indexes: true also checks every posting against its entry: the same report otherwise.
  assert.deepEqual(await ledger.verify({ indexes: true }), { ...plain, indexes_checked: true })
  const deep = await ledger.verify({ checkpoint: note2, verifierKey: signer.verifierKey, indexes: true })
  assert.deepEqual(deep, { ...report, indexes_checked: true })
  assert.equal((await ledger.verify({ indexes: false })).indexes_checked, false)
  await rejectsWith('invalid_argument', () => ledger.verify({ indexes: 'yes' }))
  await rejectsWith('invalid_argument', () => ledger.verify({ checkpoint: note2, indexes: true }))
  await rejectsWith('invalid_argument', () => ledger.verify({ index: true }))
  // The ledger-free checks take no such option.
  throwsWith('invalid_argument', () => ts.verifyConsistency(ledger.proveConsistency(2), { indexes: true }))
  // A proof from the checkpoint's tree to today's, rooted in the signed root.
  const c = ledger.proveConsistency(cp.size)
  assert.equal(c.old_root, cp.root)
  ts.verifyConsistency(c)
  await ledger.close()
})

test('Signer: never shows its secret; key strings round trip', () => {
  const s = ts.Signer.generate('example.com/audit')
  const secret = s.secretKey()
  assert.match(secret, /^PRIVATE\+KEY\+example\.com\/audit\+[0-9a-f]{8}\+/)
  // the key material is everything after PRIVATE+KEY+name+hash (base64 may itself hold '+')
  const seed = secret.split('+').slice(4).join('+')
  assert.equal(s.name, 'example.com/audit')
  assert.match(s.verifierKey, /^example\.com\/audit\+[0-9a-f]{8}\+/)
  for (const shown of [String(s), `${s}`, util.inspect(s), JSON.stringify(s), util.format('%o', s), Object.keys(s).join()]) {
    assert.ok(!shown.includes(seed) && !shown.includes('PRIVATE'), `leaks the secret: ${shown}`)
  }
  assert.match(String(s), /^example\.com\/audit\+[0-9a-f]{8}$/)
  assert.deepEqual(JSON.parse(JSON.stringify(s)), { name: s.name, verifierKey: s.verifierKey })
  const again = ts.Signer.fromString(secret)
  assert.equal(again.verifierKey, s.verifierKey)
  assert.notEqual(ts.Signer.generate('example.com/audit').verifierKey, s.verifierKey)
})

test('reopen: state survives close; durable: false needs sync()', async () => {
  const file = ledgerPath()
  const ledger = await ts.Ledger.create(file, { origin: 'o', hash: 'sha256', durable: false })
  await ledger.appendBatch([entry(0), entry(1)])
  await ledger.sync()
  const root = ledger.root()
  await ledger.close()
  const again = await ts.Ledger.open(file, { durable: true })
  assert.equal(again.hash, 'sha256')
  assert.equal(again.size, 2)
  assert.equal(again.root(), root)
  const r = await again.append(entry(2))
  assert.equal(r.index, 2)
  await again.close()
  const third = await ts.Ledger.open(file, { wait: 0, durable: false })
  assert.equal(third.size, 3)
  await third.sync()
  await third.close()
})

test('close: calls in flight finish; later ones reject; the file is released', async () => {
  const file = ledgerPath()
  const ledger = await ts.Ledger.create(file, { origin: 'o' })
  const inflight = Array.from({ length: 20 }, (_, i) => ledger.append(entry(i)))
  const closing = ledger.close()
  assert.equal(ledger.closed, true)
  await rejectsWith('closed', () => ledger.append(entry(99)))
  throwsWith('closed', () => ledger.root())
  const settled = await Promise.allSettled(inflight)
  await closing
  // Each call started before close() either landed or was refused as closed; none is lost.
  const landed = settled.filter((s) => s.status === 'fulfilled').length
  for (const s of settled) if (s.status === 'rejected') assert.equal(s.reason.code, 'closed')
  const reopened = await ts.Ledger.open(file)
  assert.equal(reopened.size, landed)
  await reopened.verify()
  await reopened.close()
})

test('sharing: two handles in the default mode both append and see each other\'s entries', async () => {
  const file = ledgerPath()
  const a = await ts.Ledger.create(file, { origin: 'o' })
  const b = await ts.Ledger.open(file)
  try {
    assert.equal(a.sharing, 'auto')
    assert.equal(b.sharing, 'auto')
    // b found the file held by a and asked: both have it shared now.
    assert.equal(a.sharingNow, 'multi-writer')
    assert.equal(b.sharingNow, 'multi-writer')
    assert.equal((await a.append(entry(0))).index, 0)
    assert.equal((await b.append(entry(1))).index, 1)
    assert.equal((await a.append(entry(2))).index, 2)
    assert.equal(a.size, 3)
    assert.equal(b.size, 3)
    assert.deepEqual(a.get(1), b.get(1))
    assert.equal(b.get(2).subject.id, 'svc-2')
    assert.equal(a.root(), b.root())
  } finally {
    await b.close()
    await a.close()
  }
})

test('sharing: a read-only handle reads beside a writer and refuses writes', async () => {
  const file = ledgerPath()
  const w = await ts.Ledger.create(file, { origin: 'o' })
  await w.append(entry(0))
  const r = await ts.Ledger.open(file, { readOnly: true })
  try {
    assert.equal(r.readOnly, true)
    assert.equal(w.readOnly, false)
    assert.equal(r.size, 1)
    await w.append(entry(1))
    assert.equal(r.size, 2)
    assert.deepEqual(r.get(1), w.get(1))
    const err = await rejectsWith('invalid_argument', () => r.append(entry(2)))
    assert.match(err.message, /read-only/)
    await rejectsWith('invalid_argument', () => r.sync())
    await rejectsWith('invalid_argument', () => r.checkpoint(ts.Signer.generate('o')))
    assert.equal(w.size, 2)
  } finally {
    await r.close()
    await w.close()
  }
})

test('sharing: modes by name, and refused names and combinations', async () => {
  const file = ledgerPath()
  await (await ts.Ledger.create(file, { origin: 'o', share: 'single-writer' })).close()
  const s = await ts.Ledger.open(file, { share: 'single_writer' })
  assert.equal(s.sharing, 'single-writer')
  await s.close()
  const nd = await ts.Ledger.open(file, { durable: false })
  assert.equal(nd.sharing, 'exclusive')
  await nd.close()
  await rejectsWith('malformed', () => ts.Ledger.open(file, { share: 'shared' }))
  await rejectsWith('invalid_argument', () => ts.Ledger.open(file, { share: 42 }))
  await rejectsWith('invalid_argument', () => ts.Ledger.open(file, { readOnly: 'yes' }))
  await rejectsWith('invalid_argument', () =>
    ts.Ledger.open(file, { durable: false, share: 'multi-writer' }),
  )
  await rejectsWith('malformed', () =>
    ts.Ledger.create(ledgerPath(), { origin: 'o', share: 'shared' }),
  )
})
