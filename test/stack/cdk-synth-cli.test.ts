import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The real `npx cdk synth`, the way a student runs it: offline, no credentials, CloudFormation validation
 * on (jest turns it off for speed elsewhere), cdk-nag as a validation plugin.
 */
const ROOT = join(__dirname, '..', '..');

function cdk(args: string[], outdir: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', CI: '1' };
  delete env.CDK_VALIDATION;
  delete env.NODE_ENV;
  delete env.JEST_WORKER_ID;
  return spawnSync('npx', ['cdk', 'synth', '--no-notices', '--no-version-reporting', '-o', outdir, ...args], {
    cwd: ROOT, env, encoding: 'utf8', timeout: 110_000,
  });
}

describe('npx cdk synth', () => {
  let outdir: string;
  beforeAll(() => { outdir = mkdtempSync(join(tmpdir(), 'portside-cdk-out-')); });
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  test('synthesizes the default stack offline, with validation and cdk-nag on', () => {
    const started = Date.now();
    const r = cdk(['-q'], outdir);
    expect([r.status, r.status === 0 ? '' : r.stderr]).toEqual([0, '']);
    const template = JSON.parse(readFileSync(join(outdir, 'Portside.template.json'), 'utf8'));
    expect(Object.values<any>(template.Resources).filter((r) => r.Type === 'AWS::EC2::Instance')).toHaveLength(1);
    // The routing fallback is said on stderr (once by the app, once as a CDK annotation).
    expect(r.stderr).toContain('portside: warning: routing: "subdomain" needs a domain');
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8'));
    expect(report.pluginReports.filter((p: any) => !p.success)).toEqual([]);
    console.log(`npx cdk synth took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 120_000);

  test('-c legacyTemplate keeps an older server\'s UserData and CreationPolicy, and adds no wait condition', () => {
    const fixture = join(__dirname, 'fixtures', 'portside-0.1-before-stub.template.json');
    const r = cdk(['-q', '-c', `legacyTemplate=${fixture}`], outdir);
    expect([r.status, r.status === 0 ? '' : r.stderr]).toEqual([0, '']);
    const template = JSON.parse(readFileSync(join(outdir, 'Portside.template.json'), 'utf8'));
    const old = JSON.parse(readFileSync(fixture, 'utf8')).Resources.ServerInstanceE518391B;
    const instance = template.Resources.ServerInstanceE518391B;
    expect(JSON.stringify(instance.Properties.UserData)).toBe(JSON.stringify(old.Properties.UserData));
    expect(instance.CreationPolicy).toEqual(old.CreationPolicy);
    expect(Object.values<any>(template.Resources).filter((res) => res.Type.startsWith('AWS::CloudFormation::Wait'))).toEqual([]);
  }, 120_000);

  test('-c legacyTemplate with a file that is not there: one clear line with the command that saves it', () => {
    const r = cdk(['-c', 'legacyTemplate=/nonexistent/portside-deployed.json'], outdir);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('portside: legacyTemplate: cannot read /nonexistent/portside-deployed.json (ENOENT); save the deployed template first: aws cloudformation get-template --stack-name Portside --query TemplateBody --output json > portside-deployed.json');
  }, 120_000);

  test('refuses SSH open to the world with one clear line and a non-zero exit', () => {
    const r = cdk(['-c', 'schoolCidr=0.0.0.0/0'], outdir);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('portside: schoolCidr: this would open SSH to the whole internet; give your school\'s range, e.g. 128.187.0.0/16 (received "0.0.0.0/0")');
  }, 120_000);
});
