// A verb's --help, made from the options it parses: a flag cannot be parsed without being described.
import type { Verb, VerbOption } from './io.js';

const COLUMN = 34;

function entry(left: string, lines: readonly string[]): string {
  const [first = '', ...rest] = lines;
  const head = left.length + 2 < COLUMN ? `  ${left.padEnd(COLUMN - 2)}${first}` : `  ${left}\n${' '.repeat(COLUMN)}${first}`;
  return [head, ...rest.map((line) => `${' '.repeat(COLUMN)}${line}`)].join('\n');
}

function optionLines(option: VerbOption): string[] {
  const notes = [
    ...(option.default === undefined ? [] : [`default: ${option.default}`]),
    ...(option.values === undefined ? [] : [`${option.list ? 'each of' : 'one of'}: ${option.values.join(', ')}`]),
    ...(option.multiple ? ['may be given more than once'] : []),
  ];
  return [option.description, ...notes];
}

/** The help of `verb`: usage, summary, arguments, every option with its meaning, default and values, and an example. */
export function verbHelp(verb: Verb, extraOptions: Readonly<Record<string, VerbOption>> = {}): string {
  const options = { ...verb.options, ...extraOptions };
  const sections = [`usage: ${verb.usage}`, verb.summary];
  if (verb.arguments?.length) {
    sections.push(['arguments:', ...verb.arguments.map((a) => entry(a.name, [a.description, ...(a.values ? [`one of: ${a.values.join(', ')}`] : [])]))].join('\n'));
  }
  const flags = Object.entries(options).map(([name, option]) => entry(`--${name}${option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : ''}`, optionLines(option)));
  sections.push(['options:', ...flags, entry('-h, --help', ['print this help'])].join('\n'));
  sections.push(['example:', ...[verb.example].flat().map((line) => `  ${line}`)].join('\n'));
  return sections.join('\n\n');
}
