// `npm run fuzz`: every parser target for N inputs each (default 1,000,000), in slices spread over child
// processes (processes, not threads: an input that aborts Node itself must not end the run). Any
// non-PkiError, an input slower than a second, or a child that dies is a finding: the input (or the
// slice's seed, to replay it) is saved under fuzz/crashes/<target>/ and the run exits 1. Prints and
// writes fuzz/results/latest.md.
//
//   npm run fuzz -- [--iterations N] [--workers N] [--seed S] [--only name,name]
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { fork } from 'node:child_process';
import fc from 'fast-check';
import { encodeInput, runInput, type FuzzTarget } from '../test/fuzz/harness.js';
import { getSeeds } from '../test/fuzz/seeds.js';
import { makeTargets } from '../test/fuzz/targets.js';

interface Job {
  target: string;
  iterations: number;
  seed: number;
}
interface Tally {
  target: string;
  iterations: number;
  ok: number;
  refused: number;
  crashes: number;
  hangs: number;
  slowestMs: number;
  ms: number;
  codes: Record<string, number>;
  findings: { outcome: string; error: string; kind: string; input: string }[];
}

const here = dirname(fileURLToPath(import.meta.url));
const BATCH = 2_000;

async function fuzzJob(targets: FuzzTarget<unknown>[], job: Job): Promise<Tally> {
  const target = targets.find((t) => t.name === job.target)!;
  const tally: Tally = { target: job.target, iterations: 0, ok: 0, refused: 0, crashes: 0, hangs: 0, slowestMs: 0, ms: 0, codes: {}, findings: [] };
  const start = performance.now();
  for (let done = 0, batch = 0; done < job.iterations; done += BATCH, batch++) {
    const inputs = fc.sample(target.arbitrary, { numRuns: Math.min(BATCH, job.iterations - done), seed: job.seed + batch });
    for (const input of inputs) {
      const result = await runInput(target, input);
      tally.iterations++;
      tally.slowestMs = Math.max(tally.slowestMs, result.ms);
      if (result.outcome === 'refused') {
        const code = (result.error as { code: string }).code;
        tally.refused++;
        tally.codes[code] = (tally.codes[code] ?? 0) + 1;
      } else if (result.outcome === 'ok') tally.ok++;
      else {
        tally[result.outcome === 'crash' ? 'crashes' : 'hangs']++;
        if (tally.findings.length < 20) {
          const { bytes, kind } = encodeInput(input);
          const error = result.error instanceof Error ? `${result.error.name}: ${result.error.message}\n${result.error.stack ?? ''}` : String(result.error);
          tally.findings.push({ outcome: result.outcome, error, kind, input: Buffer.from(bytes).toString('base64') });
        }
      }
    }
  }
  tally.ms = performance.now() - start;
  return tally;
}

const isChild = process.env.KUBEPKI_FUZZ_CHILD === '1';
if (isChild) {
  const targets = makeTargets(await getSeeds()) as FuzzTarget<unknown>[];
  process.on('message', (job: Job | 'done') => {
    if (job === 'done') process.exit(0);
    void fuzzJob(targets, job).then((tally) => process.send!(tally));
  });
  process.send!('ready');
} else {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string', default: '1000000' },
      workers: { type: 'string', default: String(availableParallelism()) },
      seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
      only: { type: 'string' },
    },
  });
  const iterations = Number(values.iterations);
  const seed = Number(values.seed);
  const names = makeTargets(await getSeeds()).map((t) => t.name).filter((name) => !values.only || values.only.split(',').includes(name));
  // Split each target into slices so both workers stay busy to the end.
  const slices = Math.max(1, Math.ceil(iterations / 50_000));
  // Slice by slice across all targets, so that a run stopped early has covered every target alike.
  const jobs: Job[] = Array.from({ length: slices }, (_, i) => names.map((target, t) => ({ target, iterations: Math.ceil(iterations / slices), seed: seed + t * 1_000_003 + i * 7_919 }))).flat();
  const totals = new Map<string, Tally>();
  const started = performance.now();
  const add = (tally: Tally): void => {
    const total = totals.get(tally.target);
    if (!total) totals.set(tally.target, tally);
    else {
      for (const key of ['iterations', 'ok', 'refused', 'crashes', 'hangs', 'ms'] as const) total[key] += tally[key];
      total.slowestMs = Math.max(total.slowestMs, tally.slowestMs);
      for (const [code, n] of Object.entries(tally.codes)) total.codes[code] = (total.codes[code] ?? 0) + n;
      total.findings.push(...tally.findings);
    }
    const t = totals.get(tally.target)!;
    report(true);
    if (t.iterations >= iterations) console.log(`${t.target.padEnd(40)} ${t.iterations} inputs, ${t.crashes} crashes, ${t.hangs} hangs, slowest ${t.slowestMs.toFixed(0)} ms`);
  };
  // Rewritten after every finished slice, so a run stopped early still leaves its figures.
  const report = (partial: boolean): number => {
    const rows = [...totals.values()].sort((a, b) => a.target.localeCompare(b.target));
    let findings = 0;
    for (const tally of rows) {
      tally.findings.forEach((finding, i) => {
        const dir = join(here, 'crashes', tally.target);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, `${seed}-${i}.${finding.kind}`), Buffer.from(finding.input, 'base64'));
        writeFileSync(join(dir, `${seed}-${i}.txt`), `${finding.outcome}\n${finding.error}\n`);
        findings++;
      });
    }
    const minutes = (performance.now() - started) / 60_000;
    const table = [
      `# Fuzz run`,
      '',
      `${partial ? '**Partial (still running)**: ' : ''}${new Date().toISOString()}, seed ${seed}, ${values.workers} workers, ${minutes.toFixed(1)} min. Command: \`npm run fuzz -- --iterations ${iterations} --seed ${seed}\``,
      '',
      '| target | inputs | accepted | refused (PkiError) | crashes | hangs | slowest ms | inputs/s | codes |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---|',
      ...rows.map((t) => `| ${t.target} | ${t.iterations} | ${t.ok} | ${t.refused} | ${t.crashes} | ${t.hangs} | ${t.slowestMs.toFixed(0)} | ${t.ms > 0 ? Math.round((t.iterations / t.ms) * 1000) : "-"} | ${Object.entries(t.codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ')} |`),
      '',
    ].join('\n');
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(join(here, 'results', 'latest.md'), table);
    if (!partial) console.log(table);
    return findings;
  };
  console.log(`fuzzing ${names.length} targets x ${iterations} inputs, seed ${seed}, ${values.workers} workers`);
  await Promise.all(
    Array.from({ length: Number(values.workers) }, () =>
      new Promise<void>((resolve, reject) => {
        let current: Job | undefined;
        const start = (): void => {
          const child = fork(fileURLToPath(import.meta.url), [], { execArgv: ['--import', 'tsx'], env: { ...process.env, KUBEPKI_FUZZ_CHILD: '1' }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
          let stderr = '';
          child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
          const next = (): void => {
            current = jobs.shift();
            child.send(current ?? 'done');
          };
          child.on('message', (message: Tally | 'ready') => {
            if (message !== 'ready') add(message);
            next();
          });
          child.once('error', reject);
          child.once('exit', (code, signal) => {
            if (!current) return resolve();
            // The child died inside a slice: record it, and go on with a new child.
            add({ target: current.target, iterations: 0, ok: 0, refused: 0, crashes: 1, hangs: 0, slowestMs: 0, ms: 0, codes: {}, findings: [{ outcome: 'process died', error: `exit ${code ?? signal} in the slice of seed ${current.seed}\n${stderr}`, kind: 'text', input: Buffer.from(`npm run fuzz -- --only ${current.target} --iterations ${current.iterations} --seed ${current.seed} (first slice)`).toString('base64') }] });
            current = undefined;
            start();
          });
        };
        start();
      }),
    ),
  );
  const findings = report(false);
  if (findings > 0) {
    console.error(`${findings} findings saved under fuzz/crashes/`);
    process.exit(1);
  }
}
