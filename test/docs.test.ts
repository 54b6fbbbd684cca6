import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Application, LogLevel, Logger, TSConfigReader, TypeDocReader, type ProjectReflection } from 'typedoc';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

// The API reference (`npm run docs`) is TypeDoc over lib/index.ts with typedoc.json. These tests run the same
// conversion and validation without writing the site: an export or a public member without a doc comment, a
// broken {@link}, a reference to a type the package does not export, or a reference whose category is not
// the README's row fails here.

const root = fileURLToPath(new URL('..', import.meta.url));

class CollectingLogger extends Logger {
  readonly messages: string[] = [];
  override log(message: string, level: LogLevel): void {
    super.log(message, level);
    if (level >= LogLevel.Warn) this.messages.push(message);
  }
}

let converted: { project: ProjectReflection; messages: string[] } | undefined;
async function reference(): Promise<{ project: ProjectReflection; messages: string[] }> {
  if (converted) return converted;
  const logger = new CollectingLogger();
  const app = await Application.bootstrapWithPlugins({ options: `${root}typedoc.json`, emit: 'none' }, [new TypeDocReader(), new TSConfigReader()]);
  app.logger = logger;
  const project = await app.convert();
  assert.ok(project, `TypeDoc could not convert lib/index.ts:\n${logger.messages.join('\n')}`);
  app.validate(project);
  converted = { project, messages: logger.messages };
  return converted;
}

/** The README's table: each value export's task (the first cell of its row). */
function readmeTasks(values: readonly string[]): Map<string, string> {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const start = readme.indexOf('| Task | Exports |');
  const rows = readme.slice(start, readme.indexOf('\n\n', start)).split('\n').slice(2);
  const tasks = new Map<string, string>();
  for (const row of rows) {
    const [, task, exportsCell] = row.split('|').map((cell) => cell.trim());
    for (const match of exportsCell!.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)) if (values.includes(match[1]!)) tasks.set(match[1]!, task!);
  }
  return tasks;
}

test('the API reference builds without a warning: every export and public member documented, every link resolved', async () => {
  const { messages } = await reference();
  assert.equal(messages, [], `TypeDoc (npm run docs) reports:\n${messages.join('\n')}`);
});

test('every export has a summary, not only tags (a comment holding only @category would pass TypeDoc)', async () => {
  const { project } = await reference();
  const bare = (project.children ?? [])
    .filter((child) => {
      const comments = [child.comment, ...(child.signatures ?? []).map((signature) => signature.comment)];
      return !comments.some((comment) => comment?.summary.some((part) => part.text.trim() !== ''));
    })
    .map((child) => child.name);
  assert.equal(bare, [], 'every export needs a summary: a sentence before its tags');
});

test("each export's category in the reference is its row of the README's table; types are in one of those rows", async () => {
  const { project } = await reference();
  const values = Object.keys(await import('../lib/index.js'));
  const tasks = readmeTasks(values);
  const categoryOf = new Map<string, string[]>();
  for (const category of project.categories ?? []) {
    for (const child of category.children) categoryOf.set(child.name, [...(categoryOf.get(child.name) ?? []), category.title]);
  }
  const taskNames = new Set(tasks.values());
  const wrong: string[] = [];
  for (const child of project.children ?? []) {
    const categories = categoryOf.get(child.name) ?? [];
    const expected = tasks.get(child.name);
    if (values.includes(child.name)) {
      if (categories.length !== 1 || categories[0] !== expected) wrong.push(`${child.name}: ${categories.join(', ') || 'no @category'}, README row "${expected}"`);
    } else if (categories.length !== 1 || !taskNames.has(categories[0]!)) {
      wrong.push(`type ${child.name}: ${categories.join(', ') || 'no @category'}, not one of the README's tasks`);
    }
  }
  assert.equal(wrong, []);
  assert.equal(new Set(values.filter((name) => tasks.has(name))).size, values.length, 'every value export has a README row');
});

test('every section of docs/kubernetes-pki.md that lib/ cites exists, and the package ships the document', () => {
  const doc = readFileSync(`${root}docs/kubernetes-pki.md`, 'utf8');
  const sections = new Set([...doc.matchAll(/^## (\d+)\. /gm)].map((match) => Number(match[1])));
  const ruleSection = doc.slice(doc.indexOf('## 0. '), doc.indexOf('\n## 1. '));
  const rules = new Set([...ruleSection.matchAll(/^(\d+)\. /gm)].map((match) => Number(match[1])));
  const files = readdirSync(`${root}lib`, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
  const broken: string[] = [];
  let citations = 0;
  for (const file of files) {
    const text = readFileSync(`${root}lib/${file}`, 'utf8');
    for (const match of text.matchAll(/kubernetes-pki\.md[\s*/]*\(?((?:§\d+(?: rules? \d+(?: and \d+)*)?[,;)]?\s*(?:\*\s*)?)+)/g)) {
      // The citation and any `(§N)` later in the same comment line.
      const lineEnd = text.indexOf('\n', match.index + match[0].length);
      const cited = text.slice(match.index, lineEnd === -1 ? undefined : lineEnd);
      for (const ref of cited.matchAll(/§(\d+)(?: rules? (\d+(?: and \d+)*))?/g)) {
        citations += 1;
        const section = Number(ref[1]);
        if (!sections.has(section)) broken.push(`lib/${file}: §${section}`);
        for (const rule of ref[2]?.split(' and ') ?? []) if (section !== 0 || !rules.has(Number(rule))) broken.push(`lib/${file}: §${section} rule ${rule}`);
      }
    }
  }
  assert.equal(broken, []);
  assert.ok(citations > 20, `found only ${citations} citations`);
  const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { files: string[] };
  assert.ok(pkg.files.includes('docs/kubernetes-pki.md'), 'package.json "files" ships docs/kubernetes-pki.md');
});

test.run();
