'use strict';
// Releases on disk: releases/<id>/ folders, a `current` link switched atomically, and a history file.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const { run } = require('./run');

const MANIFEST = '.portside-release.json';

/** base: where a kind of release lives. Services: ~/services/<name>; the static site: registry paths.www. */
function layout(base) {
  return {
    base,
    releases: path.join(base, 'releases'),
    current: path.join(base, 'current'),
    history: path.join(base, 'deploys.json'),
    dir: (id) => path.join(base, 'releases', id),
  };
}

function currentId(l) {
  try {
    return path.basename(fs.readlinkSync(l.current));
  } catch {
    return null;
  }
}

/**
 * A release's manifest, or null when it is missing, unreadable, or names another release. The last
 * case is what servers deployed before manifests were written atomically hold: every release's
 * manifest was one hard-linked file that each deploy rewrote, so an older release could claim a newer
 * one's files. Trusting such a manifest made a redeploy "up to date" while the old code served.
 * `anyId` is for what such a manifest still tells right (how to start the release, its port), as a
 * rollback needs; never for its file list.
 */
function readManifest(l, id, { anyId = false } = {}) {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(l.dir(id), MANIFEST), 'utf8'));
    return m && (anyId || m.id === id) ? m : null;
  } catch {
    return null;
  }
}

/**
 * Write a release's manifest as a new file (a new inode). A release is made from its base by hard
 * links (`cp -al`), so writing into the linked manifest in place would rewrite every older release's.
 */
function writeManifest(dir, manifest) {
  writeAtomic(path.join(dir, MANIFEST), JSON.stringify(manifest));
}

function readHistory(l) {
  try {
    return JSON.parse(fs.readFileSync(l.history, 'utf8'));
  } catch {
    return [];
  }
}

function writeAtomic(file, text, mode = 0o644) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode });
  fs.renameSync(tmp, file);
}

function appendHistory(l, entry) {
  const h = readHistory(l);
  h.push(entry);
  writeAtomic(l.history, JSON.stringify(h.slice(-50), null, 2) + '\n');
}

/** Point `current` at a release atomically (rename over the old link: never a moment without one). */
function switchTo(l, id) {
  const tmp = `${l.current}.tmp-${process.pid}`;
  fs.rmSync(tmp, { force: true });
  fs.symlinkSync(path.join('releases', id), tmp);
  fs.renameSync(tmp, l.current);
}

/**
 * Make a new release folder from the base release by hard links (unchanged files cost nothing), drop
 * what changed or went away, then unpack the uploaded files. Hard links are safe because an upload
 * never writes into a linked file: tar gets a fresh inode for every file it writes.
 */
async function stage(l, id, baseId, keep, upload, keepModules) {
  fs.mkdirSync(l.releases, { recursive: true });
  const dir = l.dir(id);
  if (baseId && fs.existsSync(l.dir(baseId))) {
    await run('cp', ['-al', l.dir(baseId), dir]);
    const keepSet = new Set(keep);
    pruneTree(dir, '', keepSet, keepModules);
  } else {
    fs.mkdirSync(dir);
  }
  if (upload) await run('tar', ['-x', '-f', '-', '-C', dir, '--no-same-owner', '--no-overwrite-dir'], { input: upload });
  return dir;
}

/** Remove every file of the copied release that is not kept as is (keeps node_modules when asked). */
function pruneTree(root, rel, keep, keepModules) {
  for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${entry.name}` : entry.name;
    if (!rel && entry.name === 'node_modules') {
      if (!keepModules) fs.rmSync(path.join(root, p), { recursive: true, force: true });
      continue;
    }
    // The manifest and env file belong to the release they were written for: never shared by link.
    if (!rel && (entry.name === MANIFEST || entry.name === '.portside.env')) {
      fs.rmSync(path.join(root, p), { force: true });
      continue;
    }
    if (entry.isDirectory()) {
      pruneTree(root, p, keep, keepModules);
      if (fs.readdirSync(path.join(root, p)).length === 0) fs.rmdirSync(path.join(root, p));
    } else if (!keep.has(p)) {
      fs.rmSync(path.join(root, p), { force: true });
    }
  }
}

/** Keep the newest `keep` releases (and always the current one); remove the rest. */
function prune(l, keep) {
  const cur = currentId(l);
  const ids = listReleases(l);
  const doomed = ids.slice(0, Math.max(0, ids.length - keep)).filter((id) => id !== cur);
  for (const id of doomed) fs.rmSync(l.dir(id), { recursive: true, force: true });
  return doomed;
}

/**
 * Like `prune`, but the doomed releases are renamed into a hidden trash folder (instant) and deleted by
 * a detached `rm -rf` that outlives the agent. Trash left by a killed `rm` is swept on the next call.
 */
function pruneAside(l, keep) {
  const cur = currentId(l);
  const ids = listReleases(l);
  const doomed = ids.slice(0, Math.max(0, ids.length - keep)).filter((id) => id !== cur);
  const trash = path.join(l.releases, `.trash-${process.pid}-${Date.now()}`);
  const moved = [];
  for (const id of doomed) {
    try {
      fs.mkdirSync(trash, { recursive: true });
      fs.renameSync(l.dir(id), path.join(trash, id));
      moved.push(id);
    } catch {
      fs.rmSync(l.dir(id), { recursive: true, force: true });
    }
  }
  let old = [];
  try {
    old = fs.readdirSync(l.releases).filter((n) => n.startsWith('.trash-')).map((n) => path.join(l.releases, n));
  } catch {
    /* no releases folder */
  }
  if (old.length) {
    const { spawn } = require('child_process');
    spawn('rm', ['-rf', '--', ...old], { detached: true, stdio: 'ignore' }).unref();
  }
  return doomed;
}

function listReleases(l) {
  try {
    return fs.readdirSync(l.releases).filter((n) => !n.startsWith('.')).sort();
  } catch {
    return [];
  }
}

/** Releases that no history entry and no link knows: leftovers of a killed deploy. */
function removeOrphans(l) {
  const known = new Set(readHistory(l).map((h) => h.id));
  const cur = currentId(l);
  const removed = [];
  for (const id of listReleases(l)) {
    if (id !== cur && !known.has(id)) {
      fs.rmSync(l.dir(id), { recursive: true, force: true });
      removed.push(id);
    }
  }
  return removed;
}

function sha256File(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

module.exports = {
  MANIFEST, layout, currentId, readManifest, writeManifest, readHistory, appendHistory, switchTo, stage, prune, pruneAside, listReleases,
  removeOrphans, writeAtomic, sha256File,
};
