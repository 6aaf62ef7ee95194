import { chmodSync, renameSync, rmSync, writeFileSync } from 'node:fs';

/**
 * Write `file` whole or not at all: the text goes to a temporary file beside it (the same folder, so
 * the rename stays on one file system and is atomic), which is then renamed over it. A reader sees the
 * old text or the new one, never half; the file is always a new inode, never written through a hard
 * link it shares with another file (a release's manifest shares none with the release it came from).
 * A failed write removes its temporary file and throws what the file system threw.
 * @param mode the file's mode, set exactly where the file system keeps modes (the umask does not narrow it) @default 0o644
 */
export function writeFileAtomic(file: string, text: string, mode = 0o644): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text, { mode });
    try {
      chmodSync(tmp, mode);
    } catch {
      /* a file system without Unix modes (vfat, exFAT): the mode the write asked for is all there is */
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
