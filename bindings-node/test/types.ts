// Type-checked by `npm run typecheck` (tsc --noEmit): the shipped index.d.ts describes the
// package as a TypeScript user meets it. Never run.
import {
  Ledger,
  Signer,
  errorCodes,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
  type Checkpoint,
  type ConsistencyProof,
  type Entry,
  type EntryInput,
  type ErrorCode,
  type InclusionProof,
  type Receipt,
  type StoredCheckpoint,
  type TrailsealError,
  type VerifyReport,
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
  const report: VerifyReport = await ledger.verify({ checkpoint: note, verifierKey: signer.verifierKey })
  const ext: number | undefined = report.externalCheckpoint
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
  void [rs, leafHash, time, v, root, cp, stored, ext, kind, hash, again, codes, wrong]
}

void main
