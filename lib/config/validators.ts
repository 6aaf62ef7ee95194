import { isIP } from 'node:net';

/**
 * Field validators shared by the CDK context, the CLI and the server registry.
 * Each returns undefined when the value is fine, or a sentence with the rule and the fix.
 */

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Names a service may not take: they would collide with the server's own names. */
export const RESERVED_SERVICE_NAMES: readonly string[] = ['www', 'portside', 'caddy', 'pm2', 'localhost', 'releases', 'current'];

/** A service name's shape: a DNS label (the server's agent checks names it finds with this too). */
export const SERVICE_NAME_PATTERN = /^[a-z]([a-z0-9-]*[a-z0-9])?$/;

export function serviceNameProblem(name: string): string | undefined {
  if (typeof name !== 'string' || name.length === 0) return 'a service name is required, e.g. "simon"';
  if (name.length > 63) return `a service name is a DNS label of at most 63 characters; this one has ${name.length}`;
  if (!SERVICE_NAME_PATTERN.test(name)) {
    return 'a service name must be a DNS label: lowercase letters a–z, digits and inner hyphens, starting with a letter (e.g. "simon", "startup-2")';
  }
  if (RESERVED_SERVICE_NAMES.includes(name)) {
    return `"${name}" is reserved by the server (${RESERVED_SERVICE_NAMES.join(', ')}); pick another name`;
  }
  return undefined;
}

export function domainProblem(domain: string): string | undefined {
  if (typeof domain !== 'string' || domain.length === 0) return 'give a domain such as example.click';
  if (domain.endsWith('.')) return `drop the trailing dot: use "${domain.replace(/\.+$/, '')}"`;
  if (domain.includes('*')) return 'a wildcard is not a domain: give the apex, e.g. example.click; Portside adds one site per service';
  if (isIP(domain)) return 'an IP address is not a domain: leave domain unset to serve plain HTTP on the IP, or give a name you own';
  if (domain !== domain.toLowerCase()) return `a domain must be lowercase: use "${domain.toLowerCase()}"`;
  if (domain.length > 253) return 'a domain has at most 253 characters';
  const labels = domain.split('.');
  if (labels.length < 2) return 'a domain needs at least two labels, e.g. example.click';
  for (const label of labels) {
    if (!LABEL.test(label)) {
      return `"${label}" is not a valid label: letters a–z, digits and inner hyphens, 1–63 characters`;
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1])) return 'the last label of a domain cannot be all digits';
  return undefined;
}

export function emailProblem(email: string): string | undefined {
  if (typeof email !== 'string' || !/^[^@\s"'`\\]+@[^@\s"'`\\]+\.[^@\s"'`\\]+$/.test(email) || email.length > 254) {
    return 'give the email address for the ACME account (certificate expiry notices), e.g. you@example.com';
  }
  return undefined;
}

/** Parse a CIDR, or explain why it is not one. Refuses anything that opens the whole internet. */
export function cidrProblem(cidr: string): string | undefined {
  const m = /^([^/]+)\/([0-9]{1,3})$/.exec(cidr);
  if (!m) return 'a CIDR is an address and a prefix length, e.g. 128.187.0.0/16 or 2001:db8::/32';
  const [, addr, lenText] = m;
  const family = isIP(addr);
  const len = Number(lenText);
  if (family === 0 || (family === 4 && !/^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$/.test(addr))) {
    return `"${addr}" is not an IPv4 or IPv6 address; e.g. 128.187.0.0/16`;
  }
  const max = family === 4 ? 32 : 128;
  if (len > max) return `an IPv${family} prefix length is 0–${max}, got /${len}`;
  if (len === 0) return 'this would open SSH to the whole internet; give your school\'s range, e.g. 128.187.0.0/16';
  const bits = BigInt(max);
  const mask = ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(len))) - 1n);
  const value = toBigInt(addr, family);
  if ((value & mask) !== value) {
    return `host bits are set; the network is ${fromBigInt(value & mask, family)}/${len}`;
  }
  return undefined;
}

function toBigInt(addr: string, family: number): bigint {
  if (family === 4) return addr.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  const [head, tail] = addr.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function fromBigInt(n: bigint, family: number): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((n >> s) & 255n)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((n >> s) & 0xffffn).toString(16));
  return groups.join(':');
}


export function instanceTypeProblem(t: string): string | undefined {
  if (typeof t !== 'string' || !/^[a-z][a-z0-9-]*\.[a-z0-9]+$/.test(t)) {
    return 'an EC2 instance type looks like family.size, e.g. t3.micro or t4g.small';
  }
  return undefined;
}

export function hostedZoneIdProblem(id: string): string | undefined {
  if (typeof id !== 'string' || !/^Z[A-Z0-9]{1,32}$/.test(id)) {
    return 'a Route 53 hosted zone ID looks like Z0123456789ABCDEFGHIJ (see the Route 53 console)';
  }
  return undefined;
}

export function sshPublicKeyProblem(key: string): string | undefined {
  if (typeof key !== 'string') return 'give an OpenSSH public key, e.g. the contents of ~/.ssh/id_ed25519.pub';
  if (key.includes('PRIVATE KEY')) return 'this is a PRIVATE key: never share it; give the .pub file\'s contents instead';
  const m = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)) ([A-Za-z0-9+/]+={0,3})( [^\n\r]*)?$/.exec(key.trim());
  // The key blob starts with its own type, length-prefixed: a pasted fragment or a typo fails here.
  const blob = m ? Buffer.from(m[2], 'base64') : Buffer.alloc(0);
  const typeLen = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  if (!m || typeLen !== m[1].length || blob.subarray(4, 4 + typeLen).toString('latin1') !== m[1]) {
    return 'give an OpenSSH public key ("ssh-ed25519 AAAA… comment"), e.g. the contents of ~/.ssh/id_ed25519.pub';
  }
  return undefined;
}

/** Burstable (T) families: the only ones with CPU credits. */
export function isBurstableInstanceType(t: string): boolean {
  return /^t[0-9][a-z]*\./.test(t);
}

export function cpuCreditsProblem(value: string, instanceType: string): string | undefined {
  if (value !== 'standard' && value !== 'unlimited') {
    return 'cpuCredits is "standard" (never charged extra; slows down when credits run out) or "unlimited" (stays fast, charged when busy for long); e.g. -c cpuCredits=standard';
  }
  if (value === 'unlimited' && !isBurstableInstanceType(instanceType)) {
    return `only burstable (T) instance types have CPU credits, and instanceType is "${instanceType}"; drop cpuCredits or pick a T type such as t3.micro`;
  }
  return undefined;
}

export function availabilityZoneProblem(az: string): string | undefined {
  if (typeof az !== 'string' || !/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+[a-z]$/.test(az)) {
    return 'an Availability Zone is a region plus a letter, e.g. us-east-1a (a Local Zone is not supported); see `aws ec2 describe-availability-zones`';
  }
  return undefined;
}
