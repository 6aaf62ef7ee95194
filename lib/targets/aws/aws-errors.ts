/** A problem reaching the EC2 server through AWS; the message ends with the way around it (`--host`). */
export class AwsTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AwsTargetError';
  }
}

const BYPASS = 'or skip the AWS lookup with --host <ip> --key <private key file>';

/** Rethrow SDK errors the user can fix (no credentials, no region, no permission) as one clear line. */
export function explainAwsError(e: unknown, doing: string): never {
  const err = e as { name?: string; message?: string; Code?: string };
  const name = err.name ?? err.Code ?? '';
  const message = err.message ?? String(e);
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    throw new AwsTargetError(`${doing}: no AWS credentials found (${message}). ` +
      `Run \`aws configure\` (or \`aws sso login\`, or set AWS_PROFILE), ${BYPASS}.`);
  }
  if (/Region is missing/i.test(message)) {
    throw new AwsTargetError(`${doing}: no AWS region set. Set AWS_REGION (e.g. AWS_REGION=us-west-2) to the stack's region, ${BYPASS}.`);
  }
  if (name === 'UnauthorizedOperation' || name === 'AccessDeniedException' || name === 'AccessDenied') {
    throw new AwsTargetError(`${doing}: your AWS identity is not allowed to (${name}: ${message}). ` +
      `Use a profile with EC2 read access (and ssm:GetParameter for the key), ${BYPASS}.`);
  }
  if (name === 'ExpiredToken' || name === 'ExpiredTokenException' || name === 'RequestExpired') {
    throw new AwsTargetError(`${doing}: your AWS session has expired (${name}). Log in again (\`aws sso login\`), ${BYPASS}.`);
  }
  throw new AwsTargetError(`${doing}: ${name ? `${name}: ` : ''}${message}. Check your AWS setup, ${BYPASS}.`);
}

export { BYPASS as AWS_BYPASS_HINT };
