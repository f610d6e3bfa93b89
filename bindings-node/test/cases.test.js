'use strict'
// The shared case table (tests/vectors/cases.json, format in tests/vectors/README.md), replayed
// through the Node API: every front end answers each row the same, or the binding grew logic.
const test = require('node:test')
const assert = require('node:assert/strict')

const ts = require('..')
const { ledgerPath, readVector } = require('./helpers')

const table = readVector('cases.json')

// Rows Node cannot replay, each with the reason.
const SKIP = {
  'prune: a ledger with committed indexes is refused': 'Ledger.create has no committed indexes option',
}

// A read error's message as a prune row gives it: from its first "entry ", the time after
// "pruned on " and the 64 hex digits after "leaf hash " replaced by TIME and HASH.
function prunedMessage(m) {
  m = m.slice(Math.max(m.indexOf('entry '), 0))
  let at = m.indexOf('pruned on ')
  if (at >= 0) {
    const start = at + 'pruned on '.length
    const end = m.indexOf(' ', start)
    m = m.slice(0, start) + 'TIME' + (end >= 0 ? m.slice(end) : '')
  }
  at = m.indexOf('leaf hash ')
  if (at >= 0) {
    const start = at + 'leaf hash '.length
    m = m.slice(0, start) + 'HASH' + m.slice(start + 64)
  }
  return m
}

async function fixture() {
  const f = table.fixture
  const entries = await ts.Ledger.create(ledgerPath('cases'), { origin: f.origin, hash: f.hash })
  await entries.appendBatch(f.entries)
  const raw = await ts.Ledger.create(ledgerPath('cases-raw'), { origin: f.origin, hash: f.hash, raw: true })
  await raw.appendRawBatch(f.raw_leaves)
  return { entries, raw, signer: ts.Signer.fromString(f.signer_key) }
}

// A `{checkpoint, verifierKey}` option with only the halves the row gives.
function outside(args) {
  const o = {}
  if ('checkpoint' in args) o.checkpoint = args.checkpoint
  if ('verifier_key' in args) o.verifierKey = args.verifier_key
  return o
}

// One row's call, as its result shape.
const calls = {
  async query(fx, a) {
    const page = await fx.entries.query(a.filter)
    return { indexes: page.entries.map((f) => f.index) }
  },
  async bundle(fx, a) {
    const text = await fx.entries.bundle(a.selection, { signer: fx.signer })
    return { indexes: JSON.parse(text).entries.map((e) => e.index) }
  },
  async gate(fx, a) {
    const r = await fx.entries.gate(a.subject, a.policy)
    return { passed: r.passed, missed: r.requirements.filter((q) => !q.met).map((q) => q.name) }
  },
  async report(fx, a) {
    const opts = {}
    if ('since' in a) opts.since = a.since
    if ('change_actions' in a) opts.changeActions = a.change_actions
    return fx.entries.report(opts)
  },
  async verify(fx, a) {
    const r = await fx.raw.verify(outside(a))
    return { size: r.size, consistent_with_checkpoint: r.consistent_with_checkpoint }
  },
  async verify_inclusion(fx, a) {
    ts.verifyInclusion(a.proof, a.leaf ?? null, outside(a))
    return {}
  },
  async verify_consistency(fx, a) {
    ts.verifyConsistency(a.proof, outside(a))
    return {}
  },
  async verify_cosigned(fx, a) {
    const c = ts.verifyCosigned(a.note, a.verifier_key, a.witness_keys, a.quorum)
    return { size: c.checkpoint.size, witnesses: c.cosignatures.map((w) => w.witness) }
  },
  async verify_timestamp_token(fx, a) {
    return { ...ts.verifyTimestampToken(Buffer.from(a.token_hex, 'hex'), a.note, a.ca_pem) }
  },
  // A new ledger holding the fixture's first entry, opened as the row says, then the first
  // entry appended again or every entry queried through the new handle.
  async open(fx, a) {
    const f = table.fixture
    const path = ledgerPath('cases-open')
    const made = await ts.Ledger.create(path, { origin: f.origin, hash: f.hash })
    await made.append(f.entries[0])
    await made.close()
    const opts = {}
    if ('share' in a) opts.share = a.share
    if ('read_only' in a) opts.readOnly = a.read_only
    if ('durable' in a) opts.durable = a.durable
    const l = await ts.Ledger.open(path, opts)
    try {
      const indexes =
        a.then === 'append'
          ? [(await l.append(f.entries[0])).index]
          : (await l.query({})).entries.map((e) => e.index)
      return { sharing: l.sharing, read_only: l.readOnly, indexes }
    } finally {
      await l.close()
    }
  },
  // A new ledger: the document published, then each entry appended alone; each entry's index
  // or error code, the size after and the version in force.
  async rules(fx, a) {
    const f = table.fixture
    const l = await ts.Ledger.create(ledgerPath('cases-rules'), { origin: f.origin, hash: f.hash })
    try {
      l.recordRefusals = a.record_refusals ?? false
      await l.publishRules(a.document, a.publisher)
      const results = []
      for (const e of a.entries) {
        try {
          results.push((await l.append(e)).index)
        } catch (err) {
          results.push(err.code)
        }
      }
      const inForce = await l.rulesAt()
      return { results, size: l.size, version: inForce && inForce.version }
    } finally {
      await l.close()
    }
  },
  // A new ledger: the retention rules published (if given), the entries appended, each hold
  // placed or released in turn, then the plan at `at`.
  async retention(fx, a) {
    const f = table.fixture
    const l = await ts.Ledger.create(ledgerPath('cases-retention'), { origin: f.origin, hash: f.hash })
    try {
      if ('document' in a) await l.publishRetentionRules(a.document, a.actor, a.authz)
      await l.appendBatch(a.entries)
      for (const step of a.holds) {
        if ('place' in step) await l.placeHold(step.place, step.covers, a.actor, a.authz)
        else await l.releaseHold(step.release, a.actor, a.authz)
      }
      const inForce = await l.retentionRulesAt()
      return { version: inForce && inForce.version, holds: await l.legalHolds(), plan: await l.retentionPlan(a.at) }
    } finally {
      await l.close()
    }
  },
  // A new ledger with the row's personal fields holding its entries (and holds), erased as the
  // row selects; the report, what each index in `read` reads as, and the size after.
  async erase(fx, a) {
    const f = table.fixture
    const l = await ts.Ledger.create(ledgerPath('cases-erase'), { origin: f.origin, hash: f.hash, personal: a.personal })
    try {
      await l.appendBatch(a.entries)
      for (const h of a.holds ?? []) await l.placeHold(h.place, h.covers, a.actor, a.authz)
      const opts = { dryRun: a.dry_run ?? false }
      if (a.legal_basis !== undefined) opts.legalBasis = a.legal_basis
      const report = await l.erase(a.select, a.reason, a.actor, a.authz, opts)
      const reads = []
      for (const i of a.read) {
        const e = await l.get(i)
        const erased = e.erased ? e.erased.by : null
        reads.push({ actor: erased === null ? e.actor.id : null, erased, sealed: e.sealed ?? null })
      }
      return { report, reads, size: l.size }
    } finally {
      await l.close()
    }
  },
  // A new ledger: the retention rules published, the entries appended (copies times, then
  // `then`), each hold placed or released, pruned at `at`; then a read of each index of `read`.
  async prune(fx, a) {
    const f = table.fixture
    const l = await ts.Ledger.create(ledgerPath('cases-prune'), { origin: f.origin, hash: f.hash })
    try {
      await l.publishRetentionRules(a.document, a.actor, a.authz)
      const batch = []
      for (let n = 0; n < (a.copies ?? 1); n++) batch.push(...a.entries)
      await l.appendBatch(batch)
      if (a.then) await l.appendBatch(a.then)
      for (const step of a.holds ?? []) {
        if ('place' in step) await l.placeHold(step.place, step.covers, a.actor, a.authz)
        else await l.releaseHold(step.release, a.actor, a.authz)
      }
      const r = await l.prune(a.at, a.actor, a.authz, a.dry_run ?? false)
      const reads = []
      for (const i of a.read ?? []) {
        try {
          reads.push({ index: i, action: (await l.get(i)).action })
        } catch (e) {
          reads.push({ index: i, error: e.code, message: prunedMessage(e.message) })
        }
      }
      return { count: r.count, pruned: r.pruned, records: r.records.length, kept: r.kept, reads }
    } finally {
      await l.close()
    }
  },
  async check_opening(fx, a) {
    return ts.checkOpening(a.commitment, a.salt, a.value) ?? null
  },
  async rules_check(fx, a) {
    return ts.checkRules(a.document, a.entry)
  },
  async delivery_report(fx, a) {
    return fx.entries.deliveryReport(a)
  },
}

test('the case table: every row as the table says', async () => {
  const fx = await fixture()
  const failed = []
  let ran = 0
  for (const row of table.cases) {
    if (row.name in SKIP) continue
    const call = calls[row.call]
    assert.ok(call, `${row.name}: no runner for call ${row.call} and not in SKIP`)
    let got
    try {
      got = { ok: await call(fx, row.args) }
    } catch (e) {
      assert.ok(e instanceof Error && typeof e.code === 'string', `${row.name}: not a trailseal error: ${e}`)
      got = { error: e.code }
    }
    try {
      assert.deepEqual(got, row.expect)
    } catch {
      failed.push(`${row.name}: got ${JSON.stringify(got)}, want ${JSON.stringify(row.expect)}`)
    }
    ran++
  }
  await fx.entries.close()
  await fx.raw.close()
  assert.deepEqual(failed, [])
  assert.equal(ran + Object.keys(SKIP).length, table.cases.length)
})
