import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readBootstrapScript } from '../../lib/bootstrap';
import { ContextKey } from '../../lib/config';
import { DEFAULT_STACK_NAME, LegacyServer, legacyServerFromTemplate, PortsideStack } from '../../lib/stack';
import { configOf, newApp } from './helpers';

/**
 * What the first `cdk deploy` of this version changes in a stack deployed by an older Portside, and in one
 * deployed by this version. CloudFormation "updates resources based on differences between what you submit
 * and the stack's current template. Resources that haven't changed run without disruption during the update
 * process" (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-update-behaviors.html),
 * so the difference of the two templates is the update.
 *
 * The older stack: test/stack/fixtures/portside-0.1-before-stub.template.json, the template Portside synthesized
 * at commit 3305348 (the last before the UserData stub) with the default context: UserData carrying the whole
 * bootstrap, a CreationPolicy on the instance, the image lookup with `Create` only, no wait condition.
 */
const FIXTURE = join(__dirname, 'fixtures', 'portside-0.1-before-stub.template.json');
const OLD = JSON.parse(readFileSync(FIXTURE, 'utf8'));
const OLD_INSTANCE = 'ServerInstanceE518391B';
const OLD_IMAGE = 'ServerImageResolve587811C1';

interface SynthOptions {
  legacy?: LegacyServer;
  context?: Partial<Record<ContextKey, unknown>>;
  bootstrapScript?: string;
  imageGeneration?: number;
}

function synth(options: SynthOptions = {}): any {
  const stack = new PortsideStack(newApp(), DEFAULT_STACK_NAME, {
    config: configOf(options.context), legacyServer: options.legacy, bootstrapScript: options.bootstrapScript,
    imageGeneration: options.imageGeneration,
  });
  const json: any = Template.fromStack(stack).toJSON();
  delete json.Resources.CDKMetadata;
  return json;
}

/** The update: resources added, removed, and for each modified one the attributes that differ (Properties.X, Metadata.K, …). */
function update(before: any, after: any) {
  const added: string[] = [];
  const removed: string[] = [];
  const modified: Record<string, string[]> = {};
  for (const id of new Set([...Object.keys(before.Resources), ...Object.keys(after.Resources)])) {
    const [a, b] = [before.Resources[id], after.Resources[id]];
    if (!a) { added.push(`${id} ${b.Type}`); continue; }
    if (!b) { removed.push(`${id} ${a.Type}`); continue; }
    const changed: string[] = [];
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (key === 'Properties' || key === 'Metadata') {
        for (const sub of new Set([...Object.keys(a[key] ?? {}), ...Object.keys(b[key] ?? {})])) {
          if (JSON.stringify(a[key]?.[sub]) !== JSON.stringify(b[key]?.[sub])) changed.push(`${key}.${sub}`);
        }
      } else if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) changed.push(key);
    }
    if (changed.length > 0) modified[id] = changed.sort();
  }
  return { added: added.sort(), removed: removed.sort(), modified };
}

const legacy = () => legacyServerFromTemplate(OLD, 'the fixture');

describe('upgrading a stack deployed by a Portside from before the UserData stub', () => {
  test('with -c legacyTemplate, the instance keeps everything that could stop or replace it', () => {
    // Left to change: the declared files in the metadata (cfn-hup's business: no property of the instance) and
    // CreditSpecification, whose CPUCredits CloudFormation updates without interruption (resource specification
    // "UpdateType: Mutable", https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-ec2-instance-creditspecification.html):
    // the standard credits of #8 reach older servers without a stop. No wait condition is added.
    expect(update(OLD, synth({ legacy: legacy() }))).toEqual({
      added: [],
      removed: [],
      modified: { [OLD_INSTANCE]: ['Metadata.Portside', 'Properties.CreditSpecification'] },
    });
  });

  test('the kept UserData and CreationPolicy are the deployed ones, byte for byte', () => {
    const instance = synth({ legacy: legacy() }).Resources[OLD_INSTANCE];
    expect(JSON.stringify(instance.Properties.UserData)).toBe(JSON.stringify(OLD.Resources[OLD_INSTANCE].Properties.UserData));
    expect(instance.CreationPolicy).toEqual(OLD.Resources[OLD_INSTANCE].CreationPolicy);
    expect(instance.Metadata.PortsideBootstrap).toBeUndefined();
  });

  test('without it, the deploy would change the UserData (a stop) and add a wait condition the running server never signals; the upgrade guard refuses it before the instance is touched', () => {
    const after = synth();
    const { added, modified } = update(OLD, after);
    expect(modified[OLD_INSTANCE]).toEqual(expect.arrayContaining(['Properties.UserData', 'CreationPolicy', 'DependsOn']));
    expect(added.filter((r) => r.endsWith('AWS::CloudFormation::WaitCondition'))).toHaveLength(1);
    // The guard is new in this update, so CloudFormation creates it, and the instance's update waits for it:
    // DependsOn orders "creating, updating, or deleting resources" against CloudFormation's default parallelism
    // (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-dependson.html; that
    // it orders a new resource's creation before an existing one's update is our reading of that page).
    // It reads the deployed instance's metadata, which has no PortsideBootstrap, and fails
    // (test/stack/upgrade-guard.test.ts runs its handler on exactly that): the update rolls back first.
    const guard = added.find((r) => r.endsWith('Custom::PortsideUpgradeGuard'))!.split(' ')[0];
    expect(after.Resources[OLD_INSTANCE].DependsOn).toContain(guard);
    expect(after.Resources[guard].Properties.InstanceLogicalId).toBe(OLD_INSTANCE);
    expect(Object.keys(OLD.Resources[OLD_INSTANCE].Metadata)).not.toContain(after.Resources[guard].Properties.BootstrapKey);
    // Nothing the guard's own creation needs waits on the instance, and the image lookup is left alone.
    expect(modified[OLD_IMAGE]).toBeUndefined();
  });

  test('with it and a raised imageGeneration, the older server is replaced on purpose, and the new one boots the stub', () => {
    const after = synth({ legacy: legacy(), imageGeneration: 2 });
    // A new instance resource, not an update of the old one: replaced even if the new lookup answers the same AMI.
    expect(after.Resources[OLD_INSTANCE]).toBeUndefined();
    const [newId] = Object.keys(after.Resources).filter((id) => after.Resources[id].Type === 'AWS::EC2::Instance');
    expect(newId).toMatch(/^ServerInstanceGeneration2/);
    const instance = after.Resources[newId];
    expect(instance.Properties.ImageId['Fn::GetAtt'][0]).toMatch(/^ServerImageGeneration2Resolve/);
    expect(JSON.stringify(instance.Properties.UserData)).toContain('PORTSIDE_SIGNAL_URL');
    expect(instance.CreationPolicy).toBeUndefined();
    expect(instance.Metadata.PortsideBootstrap).toBeDefined();
    const waits = Object.keys(after.Resources).filter((id) => after.Resources[id].Type === 'AWS::CloudFormation::WaitCondition');
    expect(waits).toEqual([expect.stringMatching(/^ServerBootImageGeneration2Wait/)]);
    // No guard: it would refuse the deployed (older) instance that this deploy replaces.
    expect(Object.values<any>(after.Resources).filter((r) => r.Type === 'Custom::PortsideUpgradeGuard')).toEqual([]);
  });

  test('the image lookup gets no Update request in either mode: its properties are exactly the deployed ones', () => {
    // An Update would answer Canonical's newest image (a new ImageId: a new server) or no image at all.
    for (const template of [synth({ legacy: legacy() }), synth()]) {
      expect(template.Resources[OLD_IMAGE]).toEqual(OLD.Resources[OLD_IMAGE]);
      expect(template.Resources[OLD_INSTANCE].Properties.ImageId).toEqual(OLD.Resources[OLD_INSTANCE].Properties.ImageId);
    }
  });

  test('an older Graviton server keeps its image lookup too (older Portside named it Image on every architecture)', () => {
    const old = JSON.parse(JSON.stringify(OLD.Resources[OLD_IMAGE]).replace(/amd64/g, 'arm64'));
    const template = synth({ legacy: legacy(), context: { instanceType: 't4g.small' } });
    expect(template.Resources[OLD_IMAGE]).toEqual(old);
  });

  test('cdk-nag finds nothing new in the kept shape', () => {
    const stack = new PortsideStack(newApp(), DEFAULT_STACK_NAME, { config: configOf(), legacyServer: legacy() });
    expect(new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
  });
});

describe('upgrading a stack deployed by this version', () => {
  test('a new assets/bootstrap.sh changes only the PortsideBootstrap metadata: no stop, no new wait condition', () => {
    const newer = `${readBootstrapScript()}\n# a later release of the bootstrap\n`;
    expect(update(synth(), synth({ bootstrapScript: newer }))).toEqual({
      added: [], removed: [], modified: { [OLD_INSTANCE]: ['Metadata.PortsideBootstrap'] },
    });
  });

  test('x86 to Graviton: a new image lookup and a new wait condition (a new server), never an Update of the old ones', () => {
    const { added, removed, modified } = update(synth(), synth({ context: { instanceType: 't4g.small' } }));
    expect(removed.filter((r) => /Custom::AWS|WaitCondition/.test(r))).toHaveLength(3);
    expect(added.filter((r) => /Custom::AWS|WaitCondition/.test(r))).toHaveLength(3);
    expect(Object.values(modified).flat()).not.toContain('Properties.Create');
    expect(removed).toContain(`${OLD_INSTANCE} AWS::EC2::Instance`);
    expect(added.filter((r) => /^ServerInstanceArm64\S* AWS::EC2::Instance$/.test(r))).toHaveLength(1);
  });

  test('a raised imageGeneration is a new instance resource with its own wait condition, even if the lookup answers the same AMI', () => {
    // Were the instance kept (same AMI, constant UserData), nothing would signal the new wait condition:
    // UserData runs only on an instance's first boot, so the deploy would wait 15 minutes and roll back.
    const { added, removed } = update(synth(), synth({ imageGeneration: 2 }));
    expect(removed).toContain(`${OLD_INSTANCE} AWS::EC2::Instance`);
    const ids = (type: string) => added.filter((r) => r.endsWith(` ${type}`)).map((r) => r.split(' ')[0]);
    const instances = ids('AWS::EC2::Instance').filter((id) => /^ServerInstanceGeneration2/.test(id));
    const waits = ids('AWS::CloudFormation::WaitCondition').filter((id) => /^ServerBootImageGeneration2Wait/.test(id));
    expect(instances).toHaveLength(1);
    expect(waits).toHaveLength(1);
    const after = synth({ imageGeneration: 2 });
    expect(after.Resources[waits[0]].DependsOn).toContain(instances[0]);
  });
});

describe('legacyServerFromTemplate', () => {
  test('reads what `aws cloudformation get-template` prints: the whole answer, its TemplateBody, or that body as JSON text', () => {
    for (const input of [OLD, { TemplateBody: OLD }, JSON.stringify(OLD), { TemplateBody: JSON.stringify(OLD) }]) {
      expect(legacyServerFromTemplate(input, 'f')).toEqual(legacy());
    }
  });

  test('refuses a template from this version, and says to deploy without the flag', () => {
    expect(() => legacyServerFromTemplate(synth(), 'new.json')).toThrow(
      'legacyTemplate: new.json is already from a Portside whose server boots the UserData stub (its instance has PortsideBootstrap metadata); upgrades of such a stack never stop the server. Deploy without -c legacyTemplate.');
  });

  test('refuses something that is not a Portside template, naming the file and the command that saves the right one', () => {
    expect(() => legacyServerFromTemplate({ Resources: {} }, 'x.json')).toThrow(
      'legacyTemplate: x.json has 0 AWS::EC2::Instance resources; a Portside stack has exactly one. Save the Portside stack\'s own template: aws cloudformation get-template --stack-name Portside --query TemplateBody --output json > portside-deployed.json');
    expect(() => legacyServerFromTemplate('Resources: {}', 'y.yaml')).toThrow(/y\.yaml holds a template that is not JSON/);
    expect(() => legacyServerFromTemplate({ Foo: 1 }, 'z.json')).toThrow(/z\.json is not a CloudFormation template \(no Resources\)/);
  });

  test('refuses a server whose logical ID differs from this version\'s (keeping its UserData elsewhere would replace it)', () => {
    const renamed = { ...legacy(), instanceLogicalId: 'ServerInstanceOther' };
    expect(() => synth({ legacy: renamed })).toThrow(
      'legacyTemplate: the deployed instance is ServerInstanceOther, this version\'s is ServerInstanceE518391B; keeping its UserData under another ID would replace the server.');
  });
});
