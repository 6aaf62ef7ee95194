/**
 * The course-shaped app the benchmark deploys: a Vite + React front end at the root (`npm run build`
 * → dist/) and an Express back end in service/ (its own package.json; index.js serves public/ and a
 * small JSON API). Generated into the git-ignored bench/work/, with real dependencies from npm.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What the front end and the back end depend on: the course's Startup app, minus its database. */
export const FRONT_END_DEPS = { react: '^19.2.0', 'react-dom': '^19.2.0', 'react-router-dom': '^7.9.0', bootstrap: '^5.3.8', 'react-bootstrap': '^2.10.10' };
export const FRONT_END_DEV_DEPS = { vite: '^8.0.0', '@vitejs/plugin-react': '^6.0.0' };
export const BACK_END_DEPS = { express: '^5.1.0', 'cookie-parser': '^1.4.7', bcryptjs: '^3.0.2', uuid: '^13.0.0' };
/** Added one per repetition in the "a dependency added" scenario (small, pure JavaScript). */
export const ADDED_DEPENDENCIES = ['dayjs', 'nanoid', 'picocolors', 'kleur', 'ms'];

export interface AppOptions {
  /** No npm and no Vite: a build script that copies src/ to dist/ (for the smoke test). */
  readonly fake?: boolean;
}

const write = (file: string, text: string): void => {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
};

/** Write the app's files (not its node_modules). */
export function writeApp(dir: string, o: AppOptions = {}): void {
  for (const [file, text] of Object.entries(appFiles(o.fake ?? false))) write(join(dir, file), text);
}

/** Each file of the app by its path in the app, in the order they are written. */
function appFiles(fake: boolean): Record<string, string> {
  return {
    'package.json': frontEndPackageJson(fake),
    '.gitignore': 'node_modules\ndist\n',
    'index.html': INDEX_HTML,
    ...(fake ? { 'build.js': FAKE_BUILD_JS } : { 'vite.config.js': VITE_CONFIG_JS }),
    'src/main.jsx': MAIN_JSX,
    'src/app.css': APP_CSS,
    'src/App.jsx': APP_JSX,
    'service/package.json': backEndPackageJson(fake),
    'service/index.js': fake ? FAKE_SERVICE_JS : EXPRESS_SERVICE_JS,
  };
}

function frontEndPackageJson(fake: boolean): string {
  return JSON.stringify({
    name: 'startup', private: true, version: '0.1.0', type: 'module',
    scripts: fake ? { build: 'node build.js' } : { dev: 'vite', build: 'vite build', preview: 'vite preview' },
    dependencies: fake ? {} : FRONT_END_DEPS,
    devDependencies: fake ? {} : FRONT_END_DEV_DEPS,
  }, null, 2) + '\n';
}

function backEndPackageJson(fake: boolean): string {
  return JSON.stringify({
    name: 'startup-service', version: '1.0.0', main: 'index.js', type: 'commonjs',
    scripts: { start: 'node index.js' },
    dependencies: fake ? {} : BACK_END_DEPS,
  }, null, 2) + '\n';
}

const INDEX_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <title>Startup</title>
  </head>
  <body>
    <div id="root"></div>
    <script type="module" src="/src/main.jsx"></script>
  </body>
</html>
`;

/** The fake app's build (no npm, no Vite): src/ copied to dist/assets. */
const FAKE_BUILD_JS = `import { cpSync, mkdirSync, rmSync } from 'node:fs';
rmSync('dist', { recursive: true, force: true });
mkdirSync('dist/assets', { recursive: true });
cpSync('index.html', 'dist/index.html');
cpSync('src', 'dist/assets', { recursive: true });
`;

/** Vite proxies /api to the back end in development, as the course's app does. */
const VITE_CONFIG_JS = `import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  server: { proxy: { '/api': 'http://localhost:4000' } },
});
`;

const MAIN_JSX = `import React from 'react';
import ReactDOM from 'react-dom/client';
import { BrowserRouter } from 'react-router-dom';
import 'bootstrap/dist/css/bootstrap.min.css';
import App from './App.jsx';
import './app.css';

ReactDOM.createRoot(document.getElementById('root')).render(
  <React.StrictMode>
    <BrowserRouter>
      <App />
    </BrowserRouter>
  </React.StrictMode>,
);
`;

const APP_CSS = `body { font-family: system-ui, sans-serif; }
.scores td { padding: 0.25em 1em; }
`;

// Longer than ~40 lines for a reason: one file's text as one template; splitting would scatter it.
/** The front end: a home page (its heading is what changeFrontEnd edits) and a scores page using the API. */
const APP_JSX = `import React from 'react';
import { NavLink, Route, Routes } from 'react-router-dom';
import { Container, Navbar, Nav, Table, Button } from 'react-bootstrap';

function Home() {
  return (
    <main>
      <h1>Welcome to Startup</h1>
      <p>Play a round and see where you land on the board.</p>
    </main>
  );
}

function Scores() {
  const [scores, setScores] = React.useState([]);
  React.useEffect(() => {
    fetch('/api/scores').then((r) => r.json()).then(setScores);
  }, []);
  async function add() {
    const r = await fetch('/api/score', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'me', score: Math.floor(Math.random() * 100) }) });
    setScores(await r.json());
  }
  return (
    <main>
      <Table className="scores"><tbody>{scores.map((s, i) => <tr key={i}><td>{s.name}</td><td>{s.score}</td></tr>)}</tbody></Table>
      <Button onClick={add}>Add a score</Button>
    </main>
  );
}

export default function App() {
  return (
    <Container>
      <Navbar><Nav><NavLink className="nav-link" to="/">Home</NavLink><NavLink className="nav-link" to="/scores">Scores</NavLink></Nav></Navbar>
      <Routes>
        <Route path="/" element={<Home />} />
        <Route path="/scores" element={<Scores />} />
      </Routes>
    </Container>
  );
}
`;

/**
 * The smoke test's back end has no dependencies: node:http with the same routes as the Express one
 * (static index.html, GET /api/scores, POST /api/score, GET /api/version).
 */
const FAKE_SERVICE_JS = `const http = require('http');
const fs = require('fs');
const path = require('path');
const port = process.argv.length > 2 ? process.argv[2] : 4000;
const version = 'v0'; // bench: version line
const scores = [];
http.createServer((req, res) => {
  if (req.url === '/api/scores') return json(res, scores);
  if (req.url === '/api/version') return json(res, { version });
  if (req.url === '/api/score' && req.method === 'POST') {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => { scores.push(JSON.parse(body)); scores.splice(0, scores.length - 10); json(res, scores); });
    return;
  }
  fs.readFile(path.join(__dirname, 'public', 'index.html'), (err, data) => {
    res.writeHead(err ? 404 : 200, { 'content-type': 'text/html' });
    res.end(err ? 'not found' : data);
  });
}).listen(port, () => console.log('Listening on port ' + port));
function json(res, v) { res.writeHead(200, { 'content-type': 'application/json' }); res.end(JSON.stringify(v)); }
`;

// Longer than ~40 lines for a reason: one file's text as one template; splitting would scatter it.
/** The back end: static files from public/, GET /api/scores, POST /api/score (JSON), GET /api/version. */
const EXPRESS_SERVICE_JS = `const express = require('express');
const cookieParser = require('cookie-parser');
const app = express();

// The service port. In production the front-end code is statically hosted by the service on the same port.
const port = process.argv.length > 2 ? process.argv[2] : 4000;
const version = 'v0'; // bench: version line

app.use(express.json());
app.use(cookieParser());
app.use(express.static('public'));

const apiRouter = express.Router();
app.use('/api', apiRouter);

let scores = [];
apiRouter.get('/scores', (_req, res) => {
  res.send(scores);
});
apiRouter.post('/score', (req, res) => {
  scores = updateScores(req.body);
  res.send(scores);
});
apiRouter.get('/version', (_req, res) => {
  res.send({ version });
});

app.use((_req, res) => {
  res.sendFile('index.html', { root: 'public' });
});

function updateScores(newScore) {
  scores.push(newScore);
  scores.sort((a, b) => b.score - a.score);
  return scores.slice(0, 10);
}

app.listen(port, () => {
  console.log(\`Listening on port \${port}\`);
});
`;

/** npm install in both folders (a lockfile each, like a student's repository). */
export function installApp(dir: string, log: (l: string) => void): void {
  for (const d of [dir, join(dir, 'service')]) {
    log(`  npm install in ${d}`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: d, stdio: ['ignore', 'ignore', 'inherit'] });
  }
}

/** One line of the back end changes (the version string). */
export function changeBackEnd(dir: string, version: string): void {
  const file = join(dir, 'service', 'index.js');
  const text = readFileSync(file, 'utf8');
  const next = text.replace(/const version = '[^']*'; \/\/ bench: version line/, `const version = '${version}'; // bench: version line`);
  if (next === text) throw new Error('the back end has no version line to change');
  writeFileSync(file, next);
}

/** One word of the front end changes (the home page's heading). */
export function changeFrontEnd(dir: string, word: string): void {
  const file = join(dir, 'src', 'App.jsx');
  const text = readFileSync(file, 'utf8');
  const next = text.replace(/<h1>Welcome to [^<]*<\/h1>/, `<h1>Welcome to ${word}</h1>`);
  if (next === text) throw new Error('the front end has no heading to change');
  writeFileSync(file, next);
}

/** Add a dependency to the back end the way a student would: npm install <pkg> in service/. */
export function addDependency(dir: string, pkg: string): void {
  execFileSync('npm', ['install', pkg, '--no-audit', '--no-fund', '--loglevel=error'], { cwd: join(dir, 'service'), stdio: ['ignore', 'ignore', 'inherit'] });
}

export function isInstalled(dir: string): boolean {
  return existsSync(join(dir, 'node_modules', '.package-lock.json')) && existsSync(join(dir, 'service', 'node_modules', '.package-lock.json'));
}
