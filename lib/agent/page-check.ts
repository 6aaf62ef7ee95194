// A page served under a path prefix (/simon/) that names its files by absolute URL (/assets/x.js, the
// default of a Vite build) gets them from the root site instead, which answers 200 with its own
// index.html: the browser shows a blank page while every health check passes. This fetches the page's
// index.html through Caddy, then every file it references, and reports the ones that do not arrive.
import http from 'node:http';
import https from 'node:https';
import { unverifiedTls, VERIFY_HEADER } from './verify-request';

const MAX_PAGE_BYTES = 1 << 20;
const MAX_ASSETS = 40;

/** Tags whose src/href the browser loads with the page (not <a>: links are navigation). */
const LOADED_TAG = /<(script|link|img|source|iframe|embed|video|audio|input)\b[^>]*>/gi;
const ATTR = /\s(src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))/i;
const REL = /\srel\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/i;
/** <link rel=…> values that do not load anything (canonical, alternate, author…). */
const LOADING_RELS = /\b(stylesheet|icon|modulepreload|preload|manifest|apple-touch-icon|mask-icon)\b/i;

/** An answer to a GET: status and type, or the error that stopped it. */
export interface Answer {
  readonly status?: number;
  readonly type?: string;
  readonly body?: string;
  readonly error?: string;
}

/** The URL a loaded tag makes the browser fetch, or null (a <link> that loads nothing, a data: URL). */
function loadedRef(tag: string, name: string): string | null {
  if (name.toLowerCase() === 'link') {
    const rel = REL.exec(tag);
    if (!rel || !LOADING_RELS.test(rel[1] ?? rel[2] ?? rel[3])) return null;
  }
  const a = ATTR.exec(tag);
  const ref = a && (a[2] ?? a[3] ?? a[4]);
  return ref && !/^(data|blob|javascript|mailto):/i.test(ref.trim()) ? ref : null;
}

/** The URLs an HTML page makes the browser load, as written (relative or absolute), in order. Pure. */
export function assetRefs(html: string): string[] {
  const refs: string[] = [];
  const text = String(html).replace(/<!--[\s\S]*?-->/g, '');
  for (const m of text.matchAll(LOADED_TAG)) {
    const ref = loadedRef(m[0], m[1]);
    if (ref && !refs.includes(ref)) refs.push(ref);
  }
  return refs;
}

/** What an answer for a file should be: a script, a style sheet, or at least not an HTML page. */
export function expectedKind(pathname: string): 'javascript' | 'css' | 'html' | 'not-html' {
  if (/\.(m?js)$/i.test(pathname)) return 'javascript';
  if (/\.css$/i.test(pathname)) return 'css';
  if (/\.html?$/i.test(pathname) || pathname.endsWith('/')) return 'html';
  return 'not-html';
}

/**
 * What is wrong with one referenced file's answer, or null. `prefix` is the page's path prefix: a
 * file outside it is named in the message, with the fix. Pure.
 */
export function assetProblem(ref: string, url: string, prefix: string, answer: Answer): string | null {
  const u = new URL(url);
  const outside = prefix !== '/' && !u.pathname.startsWith(prefix);
  const why = outside ? ` (${u.pathname} is outside ${prefix}, so it reaches the root site: build the front end for ${prefix}, e.g. vite build --base=${prefix}, or use relative URLs)` : '';
  if (answer.error) return `${ref}: ${answer.error}${why}`;
  if ((answer.status ?? 0) >= 400) return `${ref}: ${answer.status}${why}`;
  const type = String(answer.type || '').toLowerCase();
  const kind = expectedKind(u.pathname);
  if (kind === 'javascript' && !/javascript|ecmascript/.test(type)) return `${ref}: ${type || 'no content type'}, not JavaScript${why}`;
  if (kind === 'css' && !type.startsWith('text/css')) return `${ref}: ${type || 'no content type'}, not CSS${why}`;
  if (kind === 'not-html' && type.startsWith('text/html')) return `${ref}: an HTML page, not the file${why}`;
  return null;
}

/** GET a URL through Caddy on this machine (127.0.0.1, with the URL's host name and SNI). */
function get(url: string, { body = false } = {}): Promise<Answer> {
  const u = new URL(url);
  const lib = u.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const req = lib.get({
      host: '127.0.0.1', port: u.port || (u.protocol === 'https:' ? 443 : 80), path: u.pathname + u.search,
      servername: u.hostname, headers: { host: u.host, 'user-agent': 'portside-verify', accept: '*/*', [VERIFY_HEADER]: '1' }, ...unverifiedTls(), timeout: 5000,
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (body && size < MAX_PAGE_BYTES) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code || e.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code || e.message }));
  });
}

/**
 * GET the page at `pageUrl` through Caddy and every same-origin file it references; resolves to one
 * line per file that does not arrive as what it is (empty when the page is not HTML or all is well).
 */
export async function pageProblems(pageUrl: string): Promise<string[]> {
  const page = await get(pageUrl, { body: true });
  if (page.error || (page.status ?? 0) >= 400 || !/^text\/html/i.test(String(page.type || ''))) return [];
  const { origin, pathname } = new URL(pageUrl);
  const prefix = pathname.replace(/[^/]*$/, '');
  const urls: Array<[string, string]> = [];
  for (const ref of assetRefs(page.body ?? '')) {
    try {
      const u = new URL(ref, pageUrl);
      if (u.origin === origin) urls.push([ref, u.href]);
    } catch {
      /* not a URL: the browser skips it too */
    }
  }
  const checked = urls.slice(0, MAX_ASSETS);
  const answers = await Promise.all(checked.map(([, href]) => get(href)));
  return checked.map(([ref, href], i) => assetProblem(ref, href, prefix, answers[i])).filter((p): p is string => p !== null);
}
