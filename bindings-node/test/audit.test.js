'use strict'
// The auditor's questions (issue 6), each one call, asked of the example delivery history
// (`examples/history.sh`, the entries core/tests/audit.rs uses too) with exact expected
// answers: query, trace, why, gate and recordGate, bundle and verifyBundle (one changed
// character anywhere is refused), report.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { ts, REPO, ledgerPath, rejectsWith, throwsWith } = require('./helpers')

const ORIGIN = 'example.com/payments/audit'
const HEX64 = /^[0-9a-f]{64}$/

/** The entries `examples/history.sh` records: every line of it that starts with `{`. */
const HISTORY = fs
  .readFileSync(path.join(REPO, 'examples', 'history.sh'), 'utf8')
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l))

/** The example gate policy file. */
const POLICY_TEXT = fs.readFileSync(path.join(REPO, 'examples', 'release-gate.json'), 'utf8')
const POLICY = JSON.parse(POLICY_TEXT)

/** A new ledger holding the example history (27 entries). */
async function history(hash = 'sha256') {
  const ledger = await ts.Ledger.create(ledgerPath('history'), { origin: ORIGIN, hash })
  const receipts = await ledger.appendBatch(HISTORY)
  assert.equal(receipts.length, 27)
  return ledger
}

/** `{index, entry}` of each index, the entries as recorded. */
const found = (ledger, indexes) => indexes.map((index) => ({ index, entry: ledger.get(index) }))

async function indexes(ledger, filters) {
  const page = await ledger.query(filters)
  return page.entries.map((f) => f.index)
}

test('the example history: 27 entries, the first publishing the example gate policy', () => {
  assert.equal(HISTORY.length, 27)
  assert.equal(HISTORY[0].action, 'policy.published')
  assert.equal(HISTORY[19].action, 'deploy.rolled_back')
  assert.equal(HISTORY[22].authz.decision, 'break_glass')
  assert.deepEqual(HISTORY[0].payload.gate, POLICY)
})

test('query: every change to X, everything alice did, every break-glass action', async () => {
  const ledger = await history()
  // "Show me every change to payments-api", newest first (the default).
  const page = await ledger.query({ subject: 'service:payments-api' })
  assert.deepEqual(page, { entries: found(ledger, [22, 19, 18, 9]), nextCursor: null })
  // "Everything alice did": as the actor, and through a bot acting for her.
  assert.deepEqual(await indexes(ledger, { actor: 'alice' }), [25, 24, 20, 14, 10])
  assert.deepEqual(await indexes(ledger, { via: 'alice' }), [21, 11])
  // "Every break-glass action", and "in Q3": everything was recorded now, so a window in the
  // past holds nothing (times are the ledger's `time`).
  assert.deepEqual(await indexes(ledger, { decision: 'break_glass' }), [22])
  assert.deepEqual(await indexes(ledger, { decision: 'break_glass', until: '2026-10-01T00:00:00Z' }), [])
  assert.deepEqual(await indexes(ledger, { decision: 'break_glass', until: new Date('2000-01-01') }), [])
  assert.deepEqual(await indexes(ledger, { decision: 'break_glass', since: new Date(0) }), [22])
  // Refs, attrs, links, policies; AND of several filters; oldest first.
  assert.deepEqual(await indexes(ledger, { refs: ['git:4f2a9c1'], order: 'oldest' }), [11, 14])
  assert.deepEqual(await indexes(ledger, { refs: 'git:4f2a9c1', order: 'oldest' }), [11, 14])
  assert.deepEqual(
    await indexes(ledger, { action: 'deploy.succeeded', attrs: { env: 'prod' }, order: 'oldest' }),
    [9, 18, 22],
  )
  assert.deepEqual(
    await indexes(ledger, { action: 'approval.granted', subject: 'release:2026.11.3', order: 'oldest' }),
    [15, 16, 17],
  )
  assert.deepEqual(await indexes(ledger, { links_to: 14, order: 'oldest' }), [15, 16, 17, 18])
  assert.deepEqual(await indexes(ledger, { policy: 'rollback-anytime' }), [19])
  assert.deepEqual(await indexes(ledger, { actor: 'alice', action: 'release.requested', order: 'oldest' }), [14, 24])
  assert.deepEqual(await indexes(ledger, { actor: 'nobody' }), [])
  // JSON text works as well as an object; no filters at all is every entry.
  assert.deepEqual(await indexes(ledger, '{"actor": "alice", "order": "oldest"}'), [10, 14, 20, 24, 25])
  const all = await ledger.query()
  assert.deepEqual(all.entries.map((f) => f.index), Array.from({ length: 27 }, (_, i) => 26 - i))
  assert.equal(all.nextCursor, null)
  await ledger.close()
})

test('query: pages with limit and cursor', async () => {
  const ledger = await history()
  const first = await ledger.query({ actor: 'alice', limit: 2 })
  assert.deepEqual(first.entries.map((f) => f.index), [25, 24])
  assert.equal(first.nextCursor, '24')
  const second = await ledger.query({ actor: 'alice', limit: 2, cursor: first.nextCursor })
  assert.deepEqual(second.entries.map((f) => f.index), [20, 14])
  const third = await ledger.query({ actor: 'alice', limit: 2, cursor: second.nextCursor })
  assert.deepEqual(third, { entries: found(ledger, [10]), nextCursor: null })
  // Paging through everything, oldest first, three at a time, in the usual loop.
  const seen = []
  let cursor = null
  do {
    const page = await ledger.query({ order: 'oldest', limit: 3, cursor })
    seen.push(...page.entries.map((f) => f.index))
    cursor = page.nextCursor
  } while (cursor)
  assert.deepEqual(seen, Array.from({ length: 27 }, (_, i) => i))
  await ledger.close()
})

test('query: bad filters reject (never throw) with the core codes', async () => {
  const ledger = await history()
  const p = ledger.query({ actr: 'alice' })
  assert.ok(p instanceof Promise, 'argument errors reject the Promise')
  const e = await rejectsWith('malformed', () => p)
  assert.match(e.message, /`actr`: unknown filter/)
  await rejectsWith('malformed', () => ledger.query({ subject: 'no-colon' }))
  await rejectsWith('malformed', () => ledger.query({ since: 'yesterday' }))
  await rejectsWith('malformed', () => ledger.query({ order: 'sideways' }))
  await rejectsWith('malformed', () => ledger.query({ limit: 'ten' }))
  await rejectsWith('malformed', () => ledger.query({ cursor: 'abc' }))
  await rejectsWith('malformed', () => ledger.query({ attrs: { env: 1 } }))
  await rejectsWith('malformed', () => ledger.query(42))
  await rejectsWith('malformed', () => ledger.query('{"actor": "a", "actor": "b"}'))
  await rejectsWith('malformed', () => ledger.query({ limit: 10n }))
  const raw = await ts.Ledger.create(ledgerPath(), { origin: ORIGIN, raw: true })
  await raw.appendRaw('x')
  await rejectsWith('wrong_kind', () => raw.query({ actor: 'alice' }))
  await rejectsWith('wrong_kind', () => raw.trace(0))
  await rejectsWith('wrong_kind', () => raw.why(0))
  await rejectsWith('wrong_kind', () => raw.bundle({ indexes: [0] }, { signer: ts.Signer.generate(ORIGIN) }))
  await raw.close()
  await ledger.close()
  await rejectsWith('closed', () => ledger.query({ actor: 'alice' }))
  await rejectsWith('closed', () => ledger.report())
})

test('trace: a production deployment back to its commit, and a commit forward', async () => {
  const ledger = await history()
  const t = await ledger.trace(18)
  const links = {
    0: [],
    10: [],
    11: [10],
    14: [10, 11],
    16: [0, 14],
    17: [0, 14],
    18: [0, 11, 14, 16, 17],
  }
  assert.deepEqual(t, {
    root: 18,
    nodes: Object.entries(links).map(([i, l]) => ({ index: Number(i), entry: ledger.get(Number(i)), links: l })),
    unresolved: ['ci:https://ci.example.com/runs/981'],
  })
  assert.deepEqual(await ledger.trace(18, { forward: false }), t)
  assert.deepEqual(await ledger.trace(18n), t)
  // "What did this commit lead to?"
  const fwd = await ledger.trace(10, { forward: true })
  assert.equal(fwd.root, 10)
  assert.deepEqual(
    fwd.nodes.map((n) => n.index),
    [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 22, 24, 25, 26],
  )
  assert.deepEqual(fwd.nodes[0].links, [11, 14])
  assert.deepEqual(fwd.unresolved, [])
  await rejectsWith('out_of_range', () => ledger.trace(27))
  await rejectsWith('invalid_argument', () => ledger.trace(-1))
  await rejectsWith('invalid_argument', () => ledger.trace(18, { forwards: true }))
  await rejectsWith('invalid_argument', () => ledger.trace(18, { forward: 'yes' }))
  await ledger.close()
})

test('why: which rule allowed it, what it said then, who approved that version', async () => {
  const ledger = await history()
  const w = await ledger.why(18)
  assert.deepEqual(w, {
    index: 18,
    entry: ledger.get(18),
    authz: { decision: 'allow', policy: 'release-two-person', policy_version: '7' },
    policy: { index: 0, entry: ledger.get(0) },
    approvals: found(ledger, [1]),
  })
  assert.equal(w.policy.entry.payload.gate.min_approvals, 2)
  // The break-glass fix: allowed under prod-freeze, which has no published version.
  const bg = await ledger.why(22)
  assert.equal(bg.authz.decision, 'break_glass')
  assert.equal(bg.policy, null)
  assert.deepEqual(bg.approvals, [])
  // An entry with no authorization at all.
  assert.deepEqual(await ledger.why(2), { index: 2, entry: ledger.get(2), authz: null, policy: null, approvals: [] })
  await rejectsWith('out_of_range', () => ledger.why(99))
  await ledger.close()
})

const requirement = (name, met, evidence) => ({ name, met, evidence })

test('gate: the three releases under the example policy', async () => {
  const ledger = await history()
  assert.deepEqual(await ledger.gate('release:2026.11.2', POLICY), {
    passed: true,
    requirements: [
      requirement('min_approvals', true, [7, 8]),
      requirement('forbid_self_approval', true, [2, 3, 6]),
      requirement('test.passed', true, [4]),
      requirement('scan.passed', true, [5]),
    ],
  })
  // dave (a developer) approved too: his approval does not count, and is no violation.
  assert.deepEqual(await ledger.gate('release:2026.11.3', POLICY_TEXT), {
    passed: true,
    requirements: [
      requirement('min_approvals', true, [16, 17]),
      requirement('forbid_self_approval', true, [10, 11, 14]),
      requirement('test.passed', true, [12]),
      requirement('scan.passed', true, [13]),
    ],
  })
  // alice requested 2026.11.4 and approved it herself; nobody scanned it.
  const r4 = await ledger.gate('release:2026.11.4', POLICY)
  assert.deepEqual(r4, {
    passed: false,
    requirements: [
      requirement('min_approvals', false, [26]),
      requirement('forbid_self_approval', false, [20, 21, 24, 25]),
      requirement('test.passed', true, [23]),
      requirement('scan.passed', false, []),
    ],
  })
  // The result is a plain object: what `trailseal gate --json` prints.
  assert.equal(
    JSON.stringify(r4),
    '{"passed":false,"requirements":[{"name":"min_approvals","met":false,"evidence":[26]},' +
      '{"name":"forbid_self_approval","met":false,"evidence":[20,21,24,25]},' +
      '{"name":"test.passed","met":true,"evidence":[23]},{"name":"scan.passed","met":false,"evidence":[]}]}',
  )
  assert.deepEqual(Object.keys(r4), ['passed', 'requirements'])
  await ledger.close()
})

test('gate: each missing requirement fails it, and bad subjects or policies are refused', async () => {
  const ledger = await history('blake3')
  const met = async (subject, policy) =>
    (await ledger.gate(subject, policy)).requirements.map((r) => [r.name, r.met, r.evidence])
  // Three approvals needed, two given.
  const three = await ledger.gate('release:2026.11.2', { min_approvals: 3, approver_roles: ['release-manager', 'sre'] })
  assert.equal(three.passed, false)
  assert.deepEqual(three.requirements[0], requirement('min_approvals', false, [7, 8]))
  // Only release managers count: carol (sre) and dave (developer) do not.
  assert.deepEqual(await met('release:2026.11.3', { min_approvals: 2, approver_roles: ['release-manager'] }), [
    ['min_approvals', false, [16]],
    ['forbid_self_approval', true, [10, 11, 14]],
  ])
  // A self-approval fails the gate even with enough other approvals...
  assert.deepEqual(await met('release:2026.11.4', { min_approvals: 1, approver_roles: ['release-manager'] }), [
    ['min_approvals', true, [26]],
    ['forbid_self_approval', false, [20, 21, 24, 25]],
  ])
  // ... and counts when self-approval is allowed.
  const lax = await ledger.gate('release:2026.11.4', {
    min_approvals: 2,
    approver_roles: ['release-manager'],
    forbid_self_approval: false,
    require: ['test.passed'],
  })
  assert.equal(lax.passed, true)
  assert.deepEqual(lax.requirements[0].evidence, [25, 26])
  assert.deepEqual(await met('release:2026.11.4', { forbid_self_approval: false, require: ['scan.passed'] }), [
    ['scan.passed', false, []],
  ])
  // A subject with no entries fails every requirement but the self-approval rule.
  const none = await ledger.gate('release:1999.1.1', POLICY)
  assert.equal(none.passed, false)
  assert.deepEqual(none.requirements.map((r) => [r.met, r.evidence]), [[false, []], [true, []], [false, []], [false, []]])

  await rejectsWith('malformed', () => ledger.gate('no-colon', POLICY))
  const e = await rejectsWith('malformed', () => ledger.gate('release:2026.11.3', { min_approval: 2 }))
  assert.match(e.message, /min_approval/)
  await rejectsWith('malformed', () => ledger.gate('release:2026.11.3', { forbid_self_approval: false }))
  await rejectsWith('malformed', () => ledger.gate('release:2026.11.3', { require: ['test.passed', 'test.passed'] }))
  await rejectsWith('malformed', () => ledger.gate('release:2026.11.3', '{"min_approvals": 1, "min_approvals": 2}'))
  await rejectsWith('malformed', () => ledger.gate('release:2026.11.3', []))
  await rejectsWith('invalid_argument', () => ledger.gate('release:2026.11.3', 2))
  await rejectsWith('invalid_argument', () => ledger.gate(42, POLICY))
  await ledger.close()
})

test('recordGate: the outcome as a gate.passed / gate.failed entry; evaluating again is unchanged', async () => {
  const ledger = await history()
  // The policy's digest: sha256 of the RFC 8785 canonical JSON of its normalized form.
  const normalized = { min_approvals: 2, approver_roles: ['release-manager', 'sre'], forbid_self_approval: true, require: ['test.passed', 'scan.passed'] }
  const canonical = JSON.stringify(Object.fromEntries(Object.entries(normalized).sort(([a], [b]) => (a < b ? -1 : 1))))
  const digest = `sha256:${crypto.createHash('sha256').update(canonical).digest('hex')}`
  const recorded = []
  for (const [subject, index, action] of [
    ['release:2026.11.3', 27, 'gate.passed'],
    ['release:2026.11.4', 28, 'gate.failed'],
  ]) {
    const before = await ledger.gate(subject, POLICY)
    const receipt = await ledger.recordGate(POLICY, before, 'release-gate-bot')
    assert.equal(receipt.index, index)
    assert.match(receipt.leaf_hash, HEX64)
    const e = ledger.get(index)
    assert.equal(e.action, action)
    assert.deepEqual(e.subject, { type: 'release', id: subject.split(':')[1] })
    assert.deepEqual(e.actor, { id: 'release-gate-bot' })
    assert.deepEqual(e.attrs, { policy_digest: digest })
    assert.deepEqual(e.payload, { policy: normalized, result: before })
    assert.deepEqual(
      e.links,
      before.requirements.flatMap((r) => r.evidence.map((i) => ({ rel: r.name, index: i }))),
    )
    // The gate entry links the approvals but judges the change: evaluating again is unchanged.
    assert.deepEqual(await ledger.gate(subject, POLICY), before)
    recorded.push(index)
  }
  // The recorded verdicts are found like any entry.
  assert.deepEqual(await indexes(ledger, { attrs: { policy_digest: digest }, order: 'oldest' }), recorded)
  // The same policy spelt otherwise (as JSON text, keys in another order) is the same policy.
  const again = await ledger.gate('release:2026.11.2', POLICY)
  const respelt = '{"require": ["test.passed", "scan.passed"], "min_approvals": 2, "approver_roles": ["release-manager", "sre"]}'
  assert.equal((await ledger.recordGate(respelt, again, 'bot')).index, 29)

  // Only the object gate() resolved with, on this ledger, with this policy, is recorded.
  const r = await ledger.gate('release:2026.11.4', POLICY)
  let e = await rejectsWith('invalid_argument', () => ledger.recordGate(POLICY, JSON.parse(JSON.stringify(r)), 'bot'))
  assert.match(e.message, /ledger\.gate\(\)/)
  await rejectsWith('invalid_argument', () => ledger.recordGate(POLICY, { ...r }, 'bot'))
  await rejectsWith('invalid_argument', () => ledger.recordGate(POLICY, structuredClone(r), 'bot'))
  await rejectsWith('invalid_argument', () => ledger.recordGate(POLICY, ledger, 'bot'))
  await rejectsWith('invalid_argument', () => ledger.recordGate(POLICY, null, 'bot'))
  e = await rejectsWith('invalid_argument', () => ledger.recordGate({ ...POLICY, min_approvals: 1 }, r, 'bot'))
  assert.match(e.message, /another policy/)
  await rejectsWith('invalid_argument', () => ledger.recordGate(POLICY, r, 42))
  await rejectsWith('invalid_entry', () => ledger.recordGate(POLICY, r, ''))
  const other = await history()
  e = await rejectsWith('invalid_argument', () => other.recordGate(POLICY, r, 'bot'))
  assert.match(e.message, /another ledger/)
  assert.equal(other.size, 27)
  assert.equal(ledger.size, 30, 'nothing refused was written')
  await other.close()
  await ledger.close()
})

test('recordGate: a result the ledger no longer reaches is inconsistent, and nothing is written', async () => {
  const ledger = await history()
  const stale = await ledger.gate('release:2026.11.4', POLICY)
  await ledger.append({ actor: { id: 'ci' }, action: 'scan.passed', subject: { type: 'release', id: '2026.11.4' } })
  const e = await rejectsWith('inconsistent', () => ledger.recordGate(POLICY, stale, 'release-gate-bot'))
  assert.match(e.message, /evaluate the gate again/)
  assert.equal(ledger.size, 28)
  const fresh = await ledger.gate('release:2026.11.4', POLICY)
  assert.equal((await ledger.recordGate(POLICY, fresh, 'release-gate-bot')).index, 28)
  await ledger.close()
})

test('bundle: a subject, checked with verifyBundle and the verifier key alone', async () => {
  const ledger = await history()
  const signer = ts.Signer.generate(ORIGIN)
  const text = await ledger.bundle({ subject: 'release:2026.11.3' }, { signer })
  assert.equal(typeof text, 'string')
  // The bundle signed a checkpoint of the current tree, and the ledger kept it.
  const [kept] = ledger.checkpoints()
  assert.deepEqual(kept, { size: 27, note: kept.note, verifier_key: signer.verifierKey })
  const root = ledger.root()
  const expected = found(ledger, [12, 13, 14, 15, 16, 17])
  const rawLines = expected.map(({ index }) => ledger.getRaw(index).toString('utf8'))
  await ledger.close()

  const report = ts.verifyBundle(text, signer.verifierKey)
  assert.deepEqual(report, {
    ok: true,
    origin: ORIGIN,
    hash: 'sha256',
    tree_size: 27,
    root,
    key_name: signer.name,
    entries: expected,
  })
  assert.equal(report.entries[2].entry.action, 'release.requested')
  // The file's bytes work as well as its text; each entry's line holds its exact leaf bytes.
  assert.deepEqual(ts.verifyBundle(Buffer.from(text), signer.verifierKey), report)
  assert.deepEqual(ts.verifyBundle(new Uint8Array(Buffer.from(text)), signer.verifierKey), report)
  for (const leaf of rawLines) assert.ok(text.includes(`      "entry": ${leaf}\n`))
  const parsed = JSON.parse(text)
  assert.equal(parsed.format, 'trailseal-bundle/1')
  assert.equal(ts.verifyCheckpoint(parsed.checkpoint, signer.verifierKey).root, root)
  // Another key does not verify it; a key or bundle that does not parse is malformed.
  throwsWith('verification_failed', () => ts.verifyBundle(text, ts.Signer.generate(ORIGIN).verifierKey))
  throwsWith('malformed', () => ts.verifyBundle(text, 'not a key'))
  throwsWith('malformed', () => ts.verifyBundle('{}', signer.verifierKey))
  throwsWith('malformed', () => ts.verifyBundle(Buffer.from([0xff, 0xfe]), signer.verifierKey))
  throwsWith('invalid_argument', () => ts.verifyBundle(42, signer.verifierKey))
  throwsWith('invalid_argument', () => ts.verifyBundle(text, 42))
})

test('bundle: a trace, a query, indexes, and against a checkpoint signed earlier', async () => {
  const ledger = await history('blake3')
  const signer = ts.Signer.generate(ORIGIN)
  const vkey = signer.verifierKey
  const ix = (text) => ts.verifyBundle(text, vkey).entries.map((f) => f.index)
  assert.deepEqual(ix(await ledger.bundle({ index: 18 }, { signer })), [0, 10, 11, 14, 16, 17, 18])
  assert.deepEqual(ix(await ledger.bundle({ index: 18n, forward: false }, { signer })), [0, 10, 11, 14, 16, 17, 18])
  assert.deepEqual(
    ix(await ledger.bundle({ index: 10, forward: true }, { signer })),
    [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 22, 24, 25, 26],
  )
  assert.deepEqual(ix(await ledger.bundle({ query: { action: 'deploy.succeeded' } }, { signer })), [9, 18, 22])
  assert.deepEqual(ix(await ledger.bundle({ query: { action: 'deploy.succeeded', limit: 1 } }, { signer })), [22])
  assert.deepEqual(ix(await ledger.bundle({ query: '{"decision": "break_glass"}' }, { signer })), [22])
  assert.deepEqual(ix(await ledger.bundle({ indexes: [19, 3, 3] }, { signer })), [3, 19])
  // Against a checkpoint signed earlier, at size 20: entries after it are refused.
  const note = await ledger.checkpoint(signer, 20)
  const early = await ledger.bundle({ indexes: [3, 19] }, { checkpoint: note, verifierKey: vkey })
  const report = ts.verifyBundle(early, vkey)
  assert.equal(report.tree_size, 20)
  assert.equal(report.root, ledger.root(20))
  assert.deepEqual(report.entries.map((f) => f.index), [3, 19])
  const checkpointsBefore = ledger.checkpoints().length
  await rejectsWith('out_of_range', () => ledger.bundle({ indexes: [22] }, { checkpoint: note, verifierKey: vkey }))
  assert.equal(ledger.checkpoints().length, checkpointsBefore, 'a bundle against a given checkpoint signs none')
  await rejectsWith('verification_failed', () =>
    ledger.bundle({ indexes: [3] }, { checkpoint: note, verifierKey: ts.Signer.generate(ORIGIN).verifierKey }),
  )
  // A checkpoint of another log is refused.
  const elsewhere = await ts.Ledger.create(ledgerPath(), { origin: 'other.example/log' })
  await elsewhere.appendBatch(HISTORY.slice(0, 5))
  const otherNote = await elsewhere.checkpoint(signer)
  await elsewhere.close()
  await rejectsWith('inconsistent', () => ledger.bundle({ indexes: [3] }, { checkpoint: otherNote, verifierKey: vkey }))
  // Nothing to bundle, or beyond the log.
  await rejectsWith('invalid_argument', () => ledger.bundle({ subject: 'release:none' }, { signer }))
  await rejectsWith('invalid_argument', () => ledger.bundle({ query: { actor: 'nobody' } }, { signer }))
  await rejectsWith('out_of_range', () => ledger.bundle({ indexes: [99] }, { signer }))
  await rejectsWith('out_of_range', () => ledger.bundle({ index: 99 }, { signer }))
  // A query with no filter would bundle every entry: refused, as in every front end.
  await rejectsWith('invalid_argument', () => ledger.bundle({ query: {} }, { signer }))
  await rejectsWith('invalid_argument', () => ledger.bundle({ query: '{"limit": 5}' }, { signer }))
  // Exactly one selection (the core's selection form, so another shape is malformed), and
  // exactly one way to prove it.
  await rejectsWith('malformed', () => ledger.bundle({ subject: 'release:2026.11.3', index: 3 }, { signer }))
  await rejectsWith('malformed', () => ledger.bundle({}, { signer }))
  await rejectsWith('malformed', () => ledger.bundle(undefined, { signer }))
  await rejectsWith('malformed', () => ledger.bundle({ subject: 'release:2026.11.3', forward: true }, { signer }))
  await rejectsWith('malformed', () => ledger.bundle({ subjects: 'release:2026.11.3' }, { signer }))
  await rejectsWith('malformed', () => ledger.bundle({ indexes: [-1] }, { signer }))
  await rejectsWith('malformed', () => ledger.bundle({ subject: 'no-colon' }, { signer }))
  await rejectsWith('malformed', () => ledger.bundle({ query: { actr: 'alice' } }, { signer }))
  await rejectsWith('invalid_argument', () => ledger.bundle({ index: 3 }))
  await rejectsWith('invalid_argument', () => ledger.bundle({ index: 3 }, {}))
  await rejectsWith('invalid_argument', () => ledger.bundle({ index: 3 }, { signer: signer.secretKey() }))
  await rejectsWith('invalid_argument', () => ledger.bundle({ index: 3 }, { signer, checkpoint: note, verifierKey: vkey }))
  await rejectsWith('invalid_argument', () => ledger.bundle({ index: 3 }, { checkpoint: note }))
  await rejectsWith('malformed', () => ledger.bundle({ index: 3 }, { checkpoint: note, verifierKey: 'nope' }))
  await ledger.close()
})

test('bundle: one changed character anywhere is refused', async () => {
  const ledger = await history()
  const signer = ts.Signer.generate(ORIGIN)
  // Two small entries: about two kilobytes, every byte changed in turn.
  const text = await ledger.bundle({ indexes: [23, 26] }, { signer })
  await ledger.close()
  const vkey = signer.verifierKey
  const bytes = Buffer.from(text)
  assert.deepEqual(ts.verifyBundle(bytes, vkey).entries.map((f) => f.index), [23, 26])
  const refused = (b, what) => {
    let err
    try {
      ts.verifyBundle(b, vkey)
    } catch (e) {
      err = e
    }
    assert.ok(err, `${what} was not caught`)
    assert.ok(['malformed', 'verification_failed'].includes(err.code), `${what}: ${err.code} ${err.message}`)
  }
  let tried = 0
  for (let at = 0; at < bytes.length; at++) {
    for (const flip of [0x01, 0x20]) {
      const changed = Buffer.from(bytes)
      changed[at] ^= flip
      refused(changed, `byte ${at} ^ ${flip}`)
      tried++
    }
    refused(Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]), `deleting byte ${at}`)
    tried++
  }
  assert.ok(tried > 3 * 1500, `${tried}`)
  // One changed character of the text, as an editor would make it: a test count in an entry.
  const edited = text.replace('"passed":"815"', '"passed":"816"')
  assert.notEqual(edited, text)
  const e = throwsWith('verification_failed', () => ts.verifyBundle(edited, vkey))
  assert.match(e.message, /entry 23/)
  // Reformatting the same JSON is refused too: a bundle has one spelling.
  throwsWith('verification_failed', () => ts.verifyBundle(`${JSON.stringify(JSON.parse(text), null, 2)}\n`, vkey))
})

test('report: where approvals wait', async () => {
  const ledger = await history()
  const wait = (subject, request, approval, approver, seconds) => ({ subject, request, approval, approver, seconds })
  const week = (w, changes, breakGlass, approvals) => ({ week: w, changes, break_glass: breakGlass, approvals })
  assert.deepEqual(await ledger.report(), {
    since: null,
    approval_latency: { waits: 7, median_seconds: 5400, p90_seconds: 86400 },
    waits: [
      wait('release:2026.11.2', 6, 7, 'bob', 3600),
      wait('release:2026.11.2', 6, 8, 'carol', 10800),
      wait('release:2026.11.3', 14, 15, 'dave', 1200),
      wait('release:2026.11.3', 14, 16, 'bob', 5400),
      wait('release:2026.11.3', 14, 17, 'carol', 86400),
      wait('release:2026.11.4', 24, 25, 'alice', 1800),
      wait('release:2026.11.4', 24, 26, 'bob', 14400),
    ],
    approvals_by_approver: [
      { approver: 'bob', approvals: 3 },
      { approver: 'carol', approvals: 2 },
      { approver: 'alice', approvals: 1 },
      { approver: 'dana', approvals: 1 },
      { approver: 'dave', approvals: 1 },
    ],
    weeks: [
      week('2026-W44', 0, 0, 1),
      week('2026-W45', 1, 0, 2),
      week('2026-W46', 2, 1, 3),
      week('2026-W47', 0, 0, 2),
    ],
  })
  const recent = await ledger.report({ since: '2026-11-10T00:00:00Z' })
  assert.equal(recent.since, '2026-11-10T00:00:00.000000000Z')
  assert.deepEqual(recent.approval_latency, { waits: 3, median_seconds: 14400, p90_seconds: 86400 })
  assert.deepEqual(recent.approvals_by_approver, [
    { approver: 'alice', approvals: 1 },
    { approver: 'bob', approvals: 1 },
    { approver: 'carol', approvals: 1 },
  ])
  assert.deepEqual(recent.weeks, [week('2026-W46', 2, 1, 1), week('2026-W47', 0, 0, 2)])
  // A Date is the same time.
  assert.deepEqual(await ledger.report({ since: new Date('2026-11-10T00:00:00Z') }), recent)
  // Rollbacks counted as changes too.
  const withRollbacks = await ledger.report({ changeActions: ['deploy.succeeded', 'deploy.rolled_back'] })
  assert.equal(withRollbacks.weeks[2].changes, 3)
  // An even number of waits: the median is the mean of the middle two.
  const late = await ledger.report({ since: '2026-11-09T11:00:00Z' })
  assert.equal(late.approval_latency.waits, 4)
  assert.equal(late.approval_latency.median_seconds, (5400 + 14400) / 2)
  assert.deepEqual((await ledger.report({ since: '2030-01-01T00:00:00Z' })).approval_latency, {
    waits: 0,
    median_seconds: null,
    p90_seconds: null,
  })
  await rejectsWith('malformed', () => ledger.report({ since: 'last week' }))
  await rejectsWith('invalid_argument', () => ledger.report({ since: new Date('nonsense') }))
  await rejectsWith('invalid_argument', () => ledger.report({ since: 0 }))
  await rejectsWith('invalid_argument', () => ledger.report({ sinse: '2026-11-10T00:00:00Z' }))
  await rejectsWith('invalid_argument', () => ledger.report({ changeActions: 'deploy.succeeded' }))
  await rejectsWith('invalid_argument', () => ledger.report({ change_actions: ['deploy.succeeded'] }))
  await ledger.close()
})

test('every question returns a Promise and runs alongside appends', async () => {
  const ledger = await history()
  const signer = ts.Signer.generate(ORIGIN)
  const calls = [
    () => ledger.query({ actor: 'alice' }),
    () => ledger.trace(18),
    () => ledger.why(18),
    () => ledger.gate('release:2026.11.3', POLICY),
    () => ledger.bundle({ subject: 'release:2026.11.3' }, { signer }),
    () => ledger.report(),
  ]
  for (const call of calls) assert.ok(call() instanceof Promise)
  // Answers about entries 0..26 do not change while others are appended.
  const want = await Promise.all(calls.slice(0, 4).map((c) => c()))
  const ops = []
  for (let round = 0; round < 10; round++) {
    ops.push(ledger.append({ actor: { id: `bot-${round}` }, action: 'deploy.succeeded', subject: { type: 'service', id: 'other' } }))
    ops.push(ledger.query({ actor: 'alice' }).then((r) => assert.deepEqual(r, want[0])))
    ops.push(ledger.trace(18).then((r) => assert.deepEqual(r, want[1])))
    ops.push(ledger.why(18).then((r) => assert.deepEqual(r, want[2])))
    ops.push(ledger.gate('release:2026.11.3', POLICY).then((r) => assert.deepEqual(r, want[3])))
    ops.push(ledger.bundle({ subject: 'release:2026.11.3' }, { signer }).then((t) => ts.verifyBundle(t, signer.verifierKey)))
  }
  await Promise.all(ops)
  assert.equal(ledger.size, 37)
  const report = await ledger.report()
  assert.deepEqual(report.weeks.map((w) => w.week).slice(0, 4), ['2026-W44', '2026-W45', '2026-W46', '2026-W47'])
  await ledger.verify()
  await ledger.close()
})
