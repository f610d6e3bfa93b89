// Type-checked by `npm run typecheck` (tsc --noEmit): the shipped index.d.ts describes the
// package as a TypeScript user meets it. Never run.
import {
  Ledger,
  Signer,
  detectCi,
  errorCodes,
  verifyBundle,
  verifyBundleWithTsa,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
  verifyTimestampToken,
  type AttestedTime,
  type BundleReport,
  type Checkpoint,
  type CiContext,
  type CiRecorded,
  type CiSystemName,
  type EventFormat,
  type GitImportReport,
  type ConsistencyProof,
  type Entry,
  type EntryInput,
  type ErrorCode,
  type Found,
  type GatePolicy,
  type GateResult,
  type InclusionProof,
  type QueryFilters,
  type QueryPage,
  type Receipt,
  type Report,
  type TimedBundleReport,
  type TimestampedCheckpoint,
  type Sharing,
  type StoredCheckpoint,
  type Trace,
  type TrailsealError,
  type VerifyReport,
  type Why,
} from 'trailseal'

async function main(): Promise<void> {
  const ledger: Ledger = await Ledger.create('audit.redb', { origin: 'example.com/audit', hash: 'sha256' })
  const signer: Signer = Signer.generate('example.com/audit')
  const event: EntryInput = {
    id: 'evt-1',
    actor: { id: 'alice', role: 'sre', via: ['bot'] },
    action: 'deploy.succeeded',
    subject: { type: 'service', id: 'payments-api' },
    authz: { decision: 'allow', policy: 'two-person' },
    links: [{ rel: 'approved_by', index: 0 }, { rel: 'built_from', ref: 'git:4f2a9c1' }],
    attrs: { env: 'prod' },
    payload: { anything: [1, 'two'] },
  }
  const r: Receipt = await ledger.append(event)
  const rs: Receipt[] = await ledger.appendBatch([event, JSON.stringify(event)])
  const index: number = r.index
  const leafHash: string = r.leaf_hash
  const time: string | undefined = r.time
  const e: Entry = ledger.get(index)
  const v: 1 = e.v
  const raw: Buffer = ledger.getRaw(0n)
  const size: number = ledger.size
  const root: string = ledger.root(size)
  const reader: Ledger = await Ledger.open('audit.redb', { share: 'multi-writer', readOnly: true })
  const mode: Sharing = reader.sharing
  const readOnly: boolean = reader.readOnly
  await reader.close()
  await (await Ledger.open('audit.redb', { share: 'exclusive', wait: 100, durable: false })).close()
  const p: InclusionProof = ledger.proveInclusion(index, size)
  const c: ConsistencyProof = ledger.proveConsistency(1)
  verifyInclusion(p, e)
  verifyInclusion(p, raw)
  verifyInclusion({ ...p, index: 5n }, 'leaf text')
  verifyInclusion(JSON.stringify(p))
  verifyConsistency(c)
  const note: string = await ledger.checkpoint(signer)
  const cp: Checkpoint = verifyCheckpoint(note, signer.verifierKey)
  const stored: StoredCheckpoint[] = ledger.checkpoints()
  const storedKey: string = stored[0].verifier_key
  const report: VerifyReport = await ledger.verify({ checkpoint: note, verifierKey: signer.verifierKey })
  const ext: number | null = report.consistent_with_checkpoint
  const checked: number = report.nodes_checked + report.checkpoints_checked + report.postings_checked
  const deep: boolean = (await ledger.verify({ indexes: true })).indexes_checked
  await ledger.verify({ checkpoint: note, verifierKey: signer.verifierKey, indexes: false })
  await ledger.verify()
  verifyInclusion(p, null, { checkpoint: note, verifierKey: signer.verifierKey })
  verifyConsistency(c, { checkpoint: note, verifierKey: signer.verifierKey })

  // The auditor's questions.
  const filters: QueryFilters = { actor: 'alice', attrs: { env: 'prod' }, since: new Date(), order: 'oldest', limit: 10 }
  const page: QueryPage = await ledger.query(filters)
  const firstFound: Found | undefined = page.entries[0]
  const firstEntry: Entry | undefined = firstFound?.entry
  const next: string | null = page.nextCursor
  await ledger.query({ subject: 'release:2026.11.3', cursor: next })
  await ledger.query('{"actor": "alice"}')
  await ledger.query()
  const t: Trace = await ledger.trace(18, { forward: true })
  const linked: number[] = t.nodes[0].links
  const w: Why = await ledger.why(18n)
  const rule: Entry | undefined = w.policy?.entry
  const policy: GatePolicy = { min_approvals: 2, approver_roles: ['release-manager'], require: ['test.passed'] }
  const g: GateResult = await ledger.gate('release:2026.11.3', policy)
  const passed: boolean = g.passed && g.requirements.every((q) => q.met && q.evidence.length > 0)
  const recorded: Receipt = await ledger.recordGate(policy, g, 'release-gate-bot')
  const b1: string = await ledger.bundle({ subject: 'release:2026.11.3' }, { signer })
  await ledger.bundle({ index: 18, forward: true }, { checkpoint: note, verifierKey: signer.verifierKey })
  await ledger.bundle({ query: { decision: 'break_glass' } }, { signer })
  await ledger.bundle({ indexes: [3, 19n] }, { signer })
  const br: BundleReport = verifyBundle(b1, signer.verifierKey)
  const inTree: number = br.tree_size
  verifyBundle(Buffer.from(b1), signer.verifierKey)
  const rep: Report = await ledger.report({ since: '2026-11-10T00:00:00Z', changeActions: ['deploy.succeeded'] })
  const median: number | null = rep.approval_latency.median_seconds
  const breakGlass: number | undefined = rep.weeks[0]?.break_glass
  await ledger.report()
  // @ts-expect-error: one selection at a time
  await ledger.bundle({ subject: 'release:2026.11.3', index: 3 }, { signer })
  // @ts-expect-error: a bundle is proven by a signer or an earlier checkpoint, not both
  await ledger.bundle({ index: 3 }, { signer, checkpoint: note, verifierKey: signer.verifierKey })
  // @ts-expect-error: a checkpoint needs its verifier key
  await ledger.bundle({ index: 3 }, { checkpoint: note })
  // @ts-expect-error: gate policies use the file's names
  await ledger.gate('release:2026.11.3', { minApprovals: 2 })
  // @ts-expect-error: no such order
  await ledger.query({ order: 'random' })
  // @ts-expect-error: report options are camelCase
  await ledger.report({ change_actions: ['deploy.succeeded'] })
  // @ts-expect-error: verify's checkpoint needs its verifier key
  await ledger.verify({ checkpoint: note, indexes: true })
  // @ts-expect-error: indexes is a boolean
  await ledger.verify({ indexes: 'yes' })
  // @ts-expect-error: verifyBundle answers at once (it needs no ledger)
  await verifyBundle(b1, signer.verifierKey).then(() => {})

  // Capture: CI, git, event formats.
  const ci: CiContext = detectCi()
  const sys: CiSystemName = detectCi({ GITHUB_ACTIONS: 'true', GITHUB_RUN_ID: '1', HOME: undefined }).system
  const runUrl: string | null = ci.run_url
  const attempt: string | undefined = ci.extra.attempt
  const rec: CiRecorded = await ledger.recordCi('test.passed', {
    subject: 'commit:4f2a9c1',
    attrs: { suite: 'unit' },
    refs: [{ rel: 'artifact', ref: 'oci:sha256:0b31b1c0' }],
    payload: { tests: 120 },
    env: process.env,
  })
  const retried: boolean = rec.already_recorded
  const recIndex: number = rec.index
  await ledger.recordCi('deploy.succeeded', { subject: { type: 'service', id: 'payments-api' } })
  await ledger.recordCi('build.succeeded')
  const gr: GitImportReport = await ledger.importGit('.', { since: 'v1.0.0', name: 'acme/api', signatures: false, batch: 500 })
  const added: number = gr.recorded + gr.already_recorded
  const lastIndex: number | null = gr.last_index
  await ledger.importGit()
  const fmt: EventFormat = 'in-toto'
  const imported: Receipt[] = await ledger.importEvents(fmt, Buffer.from('{}'))
  await ledger.importEvents('ocsf', '{"class_uid": 3001}')
  // @ts-expect-error: not a format importEvents reads
  await ledger.importEvents('cloudevents', '{}')
  // @ts-expect-error: refs are {rel, ref} objects
  await ledger.recordCi('test.passed', { refs: ['artifact=oci:sha256:0b31b1c0'] })
  // @ts-expect-error: importGit options are camelCase names of the CLI's flags
  await ledger.importGit('.', { no_signatures: true })
  // @ts-expect-error: detectCi answers at once
  await detectCi().then(() => {})
  void [sys, runUrl, attempt, retried, recIndex, added, lastIndex, imported]

  await ledger.sync()
  await ledger.close()

  const rawLedger = await Ledger.open('raw.redb', { wait: 1000, durable: false })
  await rawLedger.appendRaw(new Uint8Array([1, 2, 3]))
  await rawLedger.appendRawBatch([Buffer.from('a'), 'b'])
  const kind: 'entries' | 'raw' = rawLedger.kind
  const hash: 'blake3' | 'sha256' = rawLedger.hash

  const again: Signer = Signer.fromString(signer.secretKey())
  const codes: ErrorCode[] = errorCodes()
  try {
    await Ledger.open('missing.redb')
  } catch (err) {
    const te = err as TrailsealError
    const code: ErrorCode = te.code
    const status: number = te.status
    if (code === 'not_found' && status === 11) console.log(te.message)
  }

  // @ts-expect-error: the origin is required
  await Ledger.create('x.redb', {})
  // @ts-expect-error: no such hash
  await Ledger.create('x.redb', { origin: 'o', hash: 'md5' })
  // @ts-expect-error: an entry needs an actor
  await ledger.append({ action: 'x', subject: { type: 't', id: 'i' } })
  // @ts-expect-error: receipts are not strings
  const wrong: string = r.index
  // @ts-expect-error: a key needs a name
  Signer.generate()
  // @ts-expect-error: proofs come back synchronously
  await ledger.proveInclusion(0).then(() => {})
  void [mode, readOnly, rs, leafHash, time, v, root, cp, stored, storedKey, ext, checked, kind, hash, again, codes, wrong]
  void [firstEntry, linked, rule, passed, recorded, inTree, median, breakGlass]

  // Trusted time (RFC 3161).
  const stamped: TimestampedCheckpoint = await ledger.timestampCheckpoint('http://tsa', 'PEM', {
    checkpoint: 0,
    signer,
    timeoutSeconds: 5,
  })
  const token: Buffer | null = ledger.checkpointTimestamp(stamped.checkpoint)
  const at: AttestedTime = verifyTimestampToken(token ?? new Uint8Array(), 'note', 'PEM')
  const timed: TimedBundleReport = verifyBundleWithTsa('{}', signer.verifierKey, Buffer.from('PEM'))
  const when: string = timed.attested.time
  // @ts-expect-error: the options object has no such key
  await ledger.timestampCheckpoint('http://tsa', 'PEM', { timeout: 5 })
  void [at, when]
}

void main
