'use strict'
// Capture (issue 9): detectCi, recordCi, importGit, importEvents, from the fixtures in
// tests/capture/ (see its README for where each file comes from) and a repository made here.
const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const { ts, REPO, tmpdir, rejectsWith, throwsWith } = require('./helpers')

const FIXTURES = path.join(REPO, 'tests', 'capture')
const DIR = tmpdir()

let made = 0
const newLedger = () => ts.Ledger.create(path.join(DIR, `capture-${++made}.redb`), { origin: 'example.com/capture' })

/** KEY=VALUE lines (comments and blank lines skipped), as `env` prints them (as core/tests/capture.rs reads them). */
function envFile(name) {
  const text = fs.readFileSync(path.join(FIXTURES, 'ci', name), 'utf8')
  const env = {}
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue
    const i = line.indexOf('=')
    if (i < 0) env[line] = ''
    else env[line.slice(0, i)] = line.slice(i + 1)
  }
  return env
}

// What each system's recorded environment holds (the same expectations as core/tests/capture.rs).
const EXPECT = [
  ['github-actions.env', 'github-actions', 'octocat', 'github.com/octocat/Hello-World', 'ffac537e6cbbf934b08745a378932722df287a53', '1658821493', 'https://github.com/octocat/Hello-World/actions/runs/1658821493', ['GITHUB_RUN_ATTEMPT', '3']],
  ['gitlab-ci.env', 'gitlab-ci', 'root', 'gitlab.example.com/gitlab-org/gitlab-foss', 'dd648b2e48ce6518303b0bb580b2ee32fadaf045', '1000', 'https://gitlab.example.com/gitlab-org/gitlab-foss/-/pipelines/1000', ['CI_JOB_ID', '51']],
  ['azure-pipelines.env', 'azure-pipelines'],
  ['jenkins.env', 'jenkins'],
  ['buildkite.env', 'buildkite'],
  ['circleci.env', 'circleci', 'jeff', 'github.com/circleci/frontend', 'cf49b55b0a4a3f1e2c8d4b0e9d7a6c5b4a3f2e1d', '9f0c3a12-3c45-4a5e-8f9b-0c1d2e3f4a5b', 'https://circleci.com/gh/circleci/frontend/2531', ['CIRCLE_WORKFLOW_ID', '0a1b2c3d-0000-4a5e-8f9b-0c1d2e3f4a5b']],
]

test('detectCi reads each CI system from its recorded environment', () => {
  const files = fs.readdirSync(path.join(FIXTURES, 'ci')).filter((n) => n.endsWith('.env')).sort()
  assert.deepEqual(files, EXPECT.map((x) => x[0]).sort(), 'every fixture is covered')
  for (const [file, system, actor, repository, commit, runId, runUrl] of EXPECT) {
    const ctx = ts.detectCi(envFile(file))
    assert.equal(ctx.system, system, file)
    assert.deepEqual(
      Object.keys(ctx).sort(),
      ['actor', 'commit', 'extra', 'job', 'ref', 'repository', 'run_id', 'run_number', 'run_url', 'shard', 'step', 'system', 'via', 'workflow'],
    )
    assert.equal(typeof ctx.actor, 'string')
    assert.equal(ctx.via.length, 1, `${file}: the bot it ran as`)
    assert.ok(ctx.run_id.length > 0)
    const text = JSON.stringify(ctx)
    for (const secret of ['ghp_secret', 'MASKED', 'fabrikam@dev']) {
      assert.ok(!text.includes(secret), `${file}: credential leaked: ${text}`)
    }
    if (actor === undefined) continue
    assert.equal(ctx.actor, actor, file)
    assert.equal(ctx.repository, repository, file)
    assert.equal(ctx.commit, commit, file)
    assert.equal(ctx.ref, 'refs/heads/main', file)
    assert.equal(ctx.run_id, runId, file)
    assert.equal(ctx.run_url, runUrl, file)
  }
  const gh = ts.detectCi(envFile('github-actions.env'))
  assert.equal(gh.job, 'build')
  assert.equal(gh.step, '__run_2')
  assert.equal(gh.extra.attempt, '2')
  // undefined and null values count as unset.
  assert.equal(ts.detectCi({ ...envFile('gitlab-ci.env'), GITHUB_ACTIONS: undefined, TF_BUILD: null }).system, 'gitlab-ci')
})

test('detectCi outside a CI names the variables it looked for', () => {
  const err = throwsWith('invalid_argument', () => ts.detectCi({ CI: 'true' }))
  for (const v of ['GITHUB_ACTIONS', 'GITLAB_CI', 'TF_BUILD', 'JENKINS_URL', 'BUILDKITE', 'CIRCLECI']) {
    assert.ok(err.message.includes(v), err.message)
  }
  const gh = envFile('github-actions.env')
  delete gh.GITHUB_RUN_ID
  assert.match(throwsWith('invalid_argument', () => ts.detectCi(gh)).message, /GITHUB_RUN_ID/)
  throwsWith('invalid_argument', () => ts.detectCi({ GITHUB_ACTIONS: true }))
  throwsWith('invalid_argument', () => ts.detectCi('GITHUB_ACTIONS=true'))
})

test('detectCi defaults to process.env', () => {
  const markers = ['GITHUB_ACTIONS', 'GITLAB_CI', 'TF_BUILD', 'JENKINS_URL', 'BUILDKITE', 'CIRCLECI']
  const saved = Object.fromEntries(Object.keys(process.env).map((k) => [k, process.env[k]]))
  try {
    for (const k of markers) delete process.env[k]
    throwsWith('invalid_argument', () => ts.detectCi())
    Object.assign(process.env, envFile('buildkite.env'))
    assert.equal(ts.detectCi().system, 'buildkite')
    assert.equal(ts.detectCi(null).system, 'buildkite')
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k]
    Object.assign(process.env, saved)
  }
})

test('recordCi: one entry per step, a retry records nothing', async () => {
  const ledger = await newLedger()
  for (const [file, system, , , , , , retry] of EXPECT) {
    const env = envFile(file)
    const opts = {
      env,
      attrs: { suite: 'unit' },
      refs: [{ rel: 'artifact', ref: 'oci:sha256:0b31b1c0' }],
      payload: { tests: 120, failed: 0 },
    }
    const size = ledger.size
    const first = await ledger.recordCi('test.passed', opts)
    assert.deepEqual(Object.keys(first).sort(), ['already_recorded', 'index', 'leaf_hash', 'root', 'time', 'tree_size'])
    assert.equal(first.already_recorded, false)
    assert.equal(first.index, size)
    const again = await ledger.recordCi('test.passed', opts)
    assert.equal(again.already_recorded, true, file)
    assert.deepEqual({ ...again, already_recorded: false }, first)
    assert.equal(ledger.size, size + 1, `${file}: recorded twice`)
    if (retry) {
      // The step retried: attempt-specific variables differ, still one entry.
      const r = await ledger.recordCi('test.passed', { ...opts, env: { ...env, [retry[0]]: retry[1] } })
      assert.equal(r.already_recorded, true, `${file}: a retry was recorded twice`)
      assert.equal(r.index, first.index)
    }
    const e = ledger.get(first.index)
    assert.equal(e.action, 'test.passed')
    assert.equal(e.attrs['ci.system'], system)
    assert.equal(e.attrs.suite, 'unit')
    assert.deepEqual(e.payload, { tests: 120, failed: 0 })
    assert.match(e.id, new RegExp(`^ci:${system}:`))
    // the OCI digest in the canonical artifact form (docs/CAPTURE.md, canonical ref forms)
    assert.ok(e.links.some((l) => l.rel === 'artifact' && l.ref === 'sha256:0b31b1c0'))
    const ctx = ts.detectCi(env)
    assert.deepEqual(e.subject, { type: 'commit', id: ctx.commit })
    assert.equal(e.actor.id, ctx.actor)
    assert.deepEqual(e.actor.via, ctx.via)
  }
  assert.equal(ledger.size, EXPECT.length)

  // Another subject (either spelling) is another entry; recorded once too.
  const env = envFile('github-actions.env')
  const a = await ledger.recordCi('deploy.succeeded', { env, subject: 'service:payments-api' })
  const b = await ledger.recordCi('deploy.succeeded', { env, subject: { type: 'service', id: 'payments-api' } })
  assert.equal(a.already_recorded, false)
  assert.equal(b.already_recorded, true)
  assert.equal(b.index, a.index)
  assert.deepEqual(ledger.get(a.index).subject, { type: 'service', id: 'payments-api' })

  const size = ledger.size
  await rejectsWith('invalid_argument', () => ledger.recordCi('test.passed', { env: { CI: 'true' } }))
  await rejectsWith('invalid_argument', () => ledger.recordCi('test.passed', { env, attrs: { 'ci.system': 'x' } }))
  await rejectsWith('invalid_entry', () => ledger.recordCi('Deploy!', { env }))
  await rejectsWith('invalid_argument', () => ledger.recordCi('test.passed', { env, refs: [{ rel: 'artifact' }] }))
  await rejectsWith('invalid_argument', () => ledger.recordCi('test.passed', { env, subjekt: 'x:y' }))
  await rejectsWith('malformed', () => ledger.recordCi('test.passed', { env, subject: 'no-colon' }))
  await rejectsWith('invalid_argument', () => ledger.recordCi(7, { env }))
  assert.equal(ledger.size, size, 'refused steps wrote nothing')
  assert.equal((await ledger.verify()).ok, true)
  await ledger.close()
  await rejectsWith('closed', () => ledger.recordCi('test.passed', { env }))
})

/** A repository with three commits on main and a merged branch, made with `git`. */
function git(dir, args, who = 'Alice Example <alice@example.com>', date = '2024-01-01T10:00:00Z') {
  const [name, email] = who.match(/^(.*) <(.*)>$/).slice(1)
  return execFileSync('git', ['-C', dir, ...args], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: name,
      GIT_AUTHOR_EMAIL: email,
      GIT_COMMITTER_NAME: name,
      GIT_COMMITTER_EMAIL: email,
      GIT_AUTHOR_DATE: date,
      GIT_COMMITTER_DATE: date,
    },
  }).trim()
}

function commit(dir, file, text, msg, date, who) {
  fs.writeFileSync(path.join(dir, file), text)
  git(dir, ['add', file], who, date)
  git(dir, ['commit', '-q', '-m', msg], who, date)
  return git(dir, ['rev-parse', 'HEAD'])
}

test('importGit of a repository made here, twice: the second run adds nothing', async () => {
  const repo = path.join(DIR, 'repo')
  fs.mkdirSync(repo)
  git(repo, ['init', '-q', '-b', 'main'])
  const c1 = commit(repo, 'a.txt', 'one\n', 'first', '2024-01-01T10:00:00Z')
  git(repo, ['checkout', '-q', '-b', 'feature'])
  const f1 = commit(repo, 'b.txt', 'feature\n', 'feature work', '2024-01-02T10:00:00Z', 'Bob Builder <bob@example.com>')
  git(repo, ['checkout', '-q', 'main'])
  const c2 = commit(repo, 'a.txt', 'one\ntwo\n', 'second', '2024-01-03T10:00:00Z')
  git(repo, ['merge', '-q', '--no-ff', '-m', 'merge feature', 'feature'], 'Carol Merger <carol@example.com>', '2024-01-04T10:00:00Z')
  const m = git(repo, ['rev-parse', 'HEAD'])

  const ledger = await newLedger()
  const first = await ledger.importGit(repo)
  assert.deepEqual(first, {
    repository: 'repo',
    head: m,
    resumed_after: null,
    examined: 4,
    recorded: 4,
    already_recorded: 0,
    conflicts_total: 0,
    conflicts: [],
    shallow: false,
    first_index: 0,
    last_index: 3,
  })
  const entries = Array.from({ length: ledger.size }, (_, i) => ledger.get(i))
  assert.equal(entries[0].id, `git:${c1}`)
  assert.equal(entries[0].action, 'git.commit')
  assert.deepEqual(entries[0].actor, { id: 'alice@example.com' })
  assert.deepEqual(entries[0].payload, { summary: 'first' })
  assert.deepEqual(new Set(entries.slice(1, 3).map((e) => e.subject.id)), new Set([f1, c2]))
  assert.equal(entries[3].id, `git:${m}`)
  assert.deepEqual(entries[3].links.map((l) => l.ref), [`git:${c2}`, `git:${f1}`])

  const second = await ledger.importGit(repo, {})
  assert.equal(second.recorded, 0)
  assert.equal(second.examined, 0)
  assert.equal(second.resumed_after, m)
  assert.equal(second.first_index, null)
  assert.equal(ledger.size, 4)

  // A new commit: only it is added.
  const c3 = commit(repo, 'c.txt', 'x\n', 'third', '2024-01-05T10:00:00Z')
  const third = await ledger.importGit(repo)
  assert.deepEqual([third.examined, third.recorded, third.first_index], [1, 1, 4])
  assert.equal(ledger.get(4).id, `git:${c3}`)

  // {since}: only what came after that revision, into another ledger.
  const other = await newLedger()
  const since = await other.importGit(repo, { since: m, name: 'acme/repo', signatures: false })
  assert.equal(since.recorded, 1)
  assert.equal(since.repository, 'acme/repo')
  assert.equal(other.get(0).attrs['git.repository'], 'acme/repo')
  assert.equal(other.get(0).attrs['git.signature'], undefined)

  // The default repository is the current directory.
  const cwd = process.cwd()
  try {
    process.chdir(repo)
    const here = await other.importGit(undefined, { name: 'acme/repo' })
    assert.equal(here.recorded, 4)
  } finally {
    process.chdir(cwd)
  }

  const size = ledger.size
  await rejectsWith('invalid_argument', () => ledger.importGit(DIR))
  await rejectsWith('invalid_argument', () => ledger.importGit(repo, { sinse: c1 }))
  await rejectsWith('invalid_argument', () => ledger.importGit(repo, { batch: 0 }))
  await rejectsWith('invalid_argument', () => ledger.importGit(42))
  const bad = await ledger.importGit(repo, { since: 'no-such-rev' }).catch((e) => e)
  assert.ok(bad instanceof Error && /no-such-rev/.test(bad.message), String(bad))
  assert.equal(ledger.size, size)
  assert.equal((await ledger.verify()).ok, true)
  await ledger.close()
  await other.close()
})

/** The events of a fixture file, parsed as the core reads them: one document, an array, or JSON Lines. */
function events(text) {
  try {
    const v = JSON.parse(text)
    return Array.isArray(v) ? v : [v]
  } catch {
    return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l))
  }
}

test('importEvents: every fixture of each format, the original event kept whole', async () => {
  const formats = { cdevents: 'cdevents', intoto: 'intoto', ocsf: 'ocsf' }
  let n = 0
  for (const [dir, format] of Object.entries(formats)) {
    const names = fs.readdirSync(path.join(FIXTURES, dir)).filter((f) => !f.endsWith('.md') && !f.endsWith('.pem')).sort()
    assert.ok(names.length >= 3, dir)
    for (const name of names) {
      const bytes = fs.readFileSync(path.join(FIXTURES, dir, name))
      const ledger = await newLedger()
      // A Buffer, and (into another ledger) the same as a string: the same entries.
      const receipts = await ledger.importEvents(format, bytes)
      const originals = events(bytes.toString('utf8'))
      assert.equal(receipts.length, originals.length, name)
      assert.deepEqual(receipts.map((r) => r.index), originals.map((_, i) => i))
      for (let i = 0; i < originals.length; i++) {
        const e = ledger.get(i)
        assert.deepEqual(e.payload, originals[i], `${name}: payload is not the original event`)
        assert.ok(e.action.startsWith(format === 'intoto' ? 'intoto.' : `${format}.`), e.action)
      }
      const again = await newLedger()
      await again.importEvents(format, bytes.toString('utf8'))
      assert.equal(again.get(0).id, ledger.get(0).id)
      await again.close()
      await ledger.close()
      n += 1
    }
  }
  assert.ok(n >= 20)

  // A few mappings, checked exactly (as core/tests/capture.rs does).
  const ledger = await newLedger()
  const read = (dir, name) => fs.readFileSync(path.join(FIXTURES, dir, name))
  const [pr] = await ledger.importEvents('cdevents', read('cdevents', 'pipelinerun_finished.json'))
  assert.equal(ledger.get(pr.index).action, 'cdevents.pipelinerun.finished.failed')
  const [slsa] = await ledger.importEvents('in-toto', read('intoto', 'slsa-provenance-v1.statement.json'))
  assert.deepEqual(ledger.get(slsa.index).subject, {
    type: 'artifact',
    id: 'sha256:fe4fe40ac7250263c5dbe1cf3138912f3f416140aa248637a60d65fe22c47da4',
  })
  const [ac] = await ledger.importEvents('OCSF', new Uint8Array(read('ocsf', 'account_change_cloudtrail_1.1.0.json')))
  const acEntry = ledger.get(ac.index)
  assert.equal(acEntry.action, 'ocsf.account_change.create')
  assert.equal(acEntry.actor.tenant, '112233445566')
  // Events are recorded once: the same file again writes nothing new.
  const size = ledger.size
  const dup = await ledger.importEvents('ocsf', read('ocsf', 'account_change_cloudtrail_1.1.0.json'))
  assert.equal(dup[0].index, ac.index)
  assert.equal(ledger.size, size)
  await ledger.close()
})

test('importEvents refuses malformed input with the reason, writing nothing of the batch', async () => {
  const ledger = await newLedger()
  const cd = fs.readFileSync(path.join(FIXTURES, 'cdevents', 'ticket_closed.json'), 'utf8')
  const cdLine = JSON.stringify(JSON.parse(cd))
  const ocsf = JSON.stringify(JSON.parse(fs.readFileSync(path.join(FIXTURES, 'ocsf', 'api_activity_cloudtrail_1.1.0.json'), 'utf8')))
  const cases = [
    ['cdevents', '', 'no event'],
    ['cdevents', '{"context": ', 'EOF'],
    ['cdevents', '[1, 2]', 'object'],
    ['cdevents', cd.replace('dev.cdevents.ticket.closed.0.1.0', 'com.example.ticket'), 'not a CDEvents type'],
    ['cdevents', cd.replace('2022-11-11T13:52:20.079Z', 'yesterday'), 'RFC 3339'],
    // One good event, then a broken line: the good one is not written either.
    ['cdevents', `${cdLine}\n{"context": 1\n`, 'line 2'],
    ['cdevents', `${cdLine}\n${cdLine.replace('"subject"', '"subjekt"')}\n`, 'event 2 of 2'],
    ['intoto', '{"hello": "world"}', 'neither an in-toto Statement'],
    ['intoto', '{"payloadType": "application/vnd.in-toto+json", "payload": "%%%", "signatures": []}', 'base64'],
    ['ocsf', '{"class_uid": 3001}', 'activity_id'],
    ['ocsf', `[${ocsf}, {"class_uid": 6003, "activity_id": 1}]`, 'event 2 of 2'],
    ['ocsf', ocsf.replace('1695334972000', '9007199254740993'), '2^53'],
    ['ocsf', `${ocsf}${ocsf}`, 'trailing'],
  ]
  const refusals = new Set(['malformed', 'invalid_entry', 'invalid_argument'])
  for (const [format, input, why] of cases) {
    const err = await ledger.importEvents(format, Buffer.from(input)).then(
      () => assert.fail(`${format} accepted ${input.slice(0, 80)}`),
      (e) => e,
    )
    assert.ok(refusals.has(err.code), `${format} ${why}: ${err.code} ${err.message}`)
    assert.ok(err.message.includes(why), `${format}: expected ${JSON.stringify(why)} in ${err.message}`)
    assert.equal(ledger.size, 0, `${format} ${why}: something was written`)
  }
  await rejectsWith('invalid_argument', () => ledger.importEvents('cloudevents', cd))
  await rejectsWith('invalid_argument', () => ledger.importEvents('cdevents', { context: {} }))
  await rejectsWith('invalid_argument', () => ledger.importEvents('cdevents'))
  assert.equal(ledger.size, 0)
  await ledger.close()
})
