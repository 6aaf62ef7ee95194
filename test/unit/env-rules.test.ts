/**
 * One rule for env files: the CLI's parser (lib/deploy/env-rules.ts) and the server's (parseEnv in the
 * preload bundle, which loads the file into the service) give the same pairs for every case here; the
 * CLI refuses exactly the lines the server would skip. Values are literal: one pair of surrounding
 * quotes goes, nothing else is processed.
 */
import { execFileSync } from 'node:child_process';
import { envKeyProblems, envLineProblems, parseEnvText } from '../../lib/deploy/env-rules';
import { bundlePreload } from '../support/preload-bundle';

const CASES: Array<[string, string, Array<[string, string]>]> = [
  ['a plain pair', 'A=1', [['A', '1']]],
  ['export and spaces around the name, = and value', 'export  A = two words  ', [['A', 'two words']]],
  ['"\\n" in double quotes stays a backslash and an n', 'A="multi\\nline"', [['A', 'multi\\nline']]],
  ['an escaped quote stays as written', 'A="say \\"hi\\""', [['A', 'say \\"hi\\"']]],
  ['single quotes: removed, content literal', "A='$HOME and \\t'", [['A', '$HOME and \\t']]],
  ['$NAME is not expanded', 'A=$HOME/x', [['A', '$HOME/x']]],
  ['# after a value is part of it', 'A=1 # not a comment', [['A', '1 # not a comment']]],
  ['mismatched quotes are kept', 'A="open\'', [['A', '"open\'']]],
  ['a lone quote is kept', 'A="', [['A', '"']]],
  ['empty quotes give an empty value', 'A=""', [['A', '']]],
  ['an empty value', 'A=', [['A', '']]],
  ['= inside the value', 'URL=postgres://u:p@h/db?x=1', [['URL', 'postgres://u:p@h/db?x=1']]],
  ['CRLF line ends', 'A=1\r\nB=2\r\n', [['A', '1'], ['B', '2']]],
  ['comments, blank lines and non-pairs are skipped', '# c\n\n  # indented\nnot a pair\nB=2', [['B', '2']]],
  ['a backslash at the end stays', 'A=C:\\dir\\', [['A', 'C:\\dir\\']]],
  ['unicode is kept', 'A="héllo ✓"', [['A', 'héllo ✓']]],
];

/** The server's parser, run as the server runs it: the bundle, plain node, in a process of its own (the preload patches net). */
function serverParse(texts: string[]): Array<Array<[string, string]>> {
  const preload = bundlePreload();
  const script = `const { parseEnv } = require(${JSON.stringify(preload)}); const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
    process.stdout.write(JSON.stringify(texts.map(parseEnv))); process.exit(0);`;
  // PORTSIDE_ENV_FILE points nowhere: the preload must not load a file into this check.
  return JSON.parse(execFileSync(process.execPath, ['-e', script], { input: JSON.stringify(texts), encoding: 'utf8', env: { ...process.env, PORTSIDE_ENV_FILE: '/nonexistent' } }));
}

describe('the CLI and the server parse env files the same way', () => {
  const server = serverParse(CASES.map(([, text]) => text));
  test.each(CASES.map((c, i) => [...c, i] as const))('%s', (_title, text, expected, i) => {
    expect(parseEnvText(text).map(({ key, value }) => [key, value])).toEqual(expected);
    expect(server[i]).toEqual(expected);
  });
});

describe('lines that are not KEY=value are refused by number (the server would skip them)', () => {
  test('comments, blank lines and pairs pass; anything else is named by its line', () => {
    expect(envLineProblems('# c\n\nA=1\nnot a pair\nexport B=2\n1X=3\n=4\n')).toEqual([4, 6, 7]);
  });

  test('a value with a lone carriage return is refused (the server\'s rule cannot read it)', () => {
    expect(envLineProblems('A=one\rtwo\n')).toEqual([1]);
    expect(parseEnvText('A=one\rtwo\n')).toEqual([]);
  });

  test('every line the CLI accepts, the server loads', () => {
    const text = CASES.map(([, t]) => t).join('\n');
    const accepted = text.split(/\r?\n/).filter((l) => l.trim() && !l.trim().startsWith('#')).length - envLineProblems(text).length;
    expect(parseEnvText(text)).toHaveLength(accepted);
  });
});

describe('names the service cannot get are refused, with the line, the reason and the fix', () => {
  test.each([
    ['PATH', /line 2 sets PATH, which the service cannot get from an env file: pm2 sets the service's PATH\. Remove the line\./],
    ['PORT', /line 2 sets PORT, .*Portside gives the service its port/],
    ['NODE_ENV', /line 2 sets NODE_ENV, .*NODE_ENV=production/],
    ['NODE_OPTIONS', /line 2 sets NODE_OPTIONS, .*before the env file is loaded/],
    ['PORTSIDE_ENV_FILE', /line 2 sets PORTSIDE_ENV_FILE, .*PORTSIDE_ are Portside's own/],
  ])('%s', (key, message) => {
    expect(envKeyProblems(`A=1\n${key}=/opt/bin\n`)).toEqual([expect.stringMatching(message)]);
  });

  test('a name given twice is refused with both lines (which one wins would be a guess)', () => {
    expect(envKeyProblems('A=1\nB=2\nA=3\n')).toEqual(['line 3 sets A again (first on line 1): keep one.']);
  });

  test('a value is never shown in a problem', () => {
    expect(envKeyProblems('PATH=secret-value\nX=1\nX=secret-two').join(' ')).not.toMatch(/secret/);
  });

  test('ordinary names pass', () => {
    expect(envKeyProblems('DATABASE_URL=x\nexport API_KEY=y\nPATHS=z\nport=lowercase\n')).toEqual([]);
  });
});
