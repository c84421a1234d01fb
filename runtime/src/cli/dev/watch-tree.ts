// Watching a project's proto/ and src/ for `orrery dev`: fs.watch only says
// "something moved"; what changed is decided by comparing file contents with
// the last snapshot, so that editors' temporary files, saves without a change
// and the files `generate` itself writes start nothing.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, watch } from "node:fs";
import type { FSWatcher } from "node:fs";
import path from "node:path";

/** Content hash per file path (absolute), for the watched folders. */
export type TreeSnapshot = ReadonlyMap<string, string>;

/** Files whose content differs between two snapshots: changed, added or removed. */
export function changedFiles(before: TreeSnapshot, after: TreeSnapshot): string[] {
  const changed: string[] = [];
  for (const [file, hash] of after) if (before.get(file) !== hash) changed.push(file);
  for (const file of before.keys()) if (!after.has(file)) changed.push(file);
  return changed.sort();
}

/** Hashes every file under `dirs` (missing folders are empty), skipping ignored names. */
export function snapshotTree(dirs: readonly string[]): TreeSnapshot {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return; // removed while we looked
    }
    for (const entry of entries) {
      if (ignored(entry.name)) continue;
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.isFile()) {
        try {
          out.set(file, createHash("sha1").update(readFileSync(file)).digest("hex"));
        } catch {
          // removed while we looked
        }
      }
    }
  };
  for (const dir of dirs) walk(dir);
  return out;
}

// Editors' swap, backup and temporary files; dot-folders such as .orrery.
function ignored(name: string): boolean {
  return name.startsWith(".") || name.endsWith("~") || /\.(swp|swx|tmp)$/.test(name) || name.startsWith("#") || name === "node_modules";
}

/** A running watch; `close()` stops it. */
export interface TreeWatch {
  close(): void;
}

/**
 * Calls `onEvent` once things have been quiet for `debounceMs` after any file
 * system event under `dirs` (recursive `fs.watch`, which Node 20 has on Linux).
 * A folder missing at start is watched once it appears, through its parent.
 */
export function watchTree(dirs: readonly string[], debounceMs: number, onEvent: () => void): TreeWatch {
  // Per folder: its recursive watcher, or, while it does not exist, one on its parent.
  const watchers = new Map<string, { watcher: FSWatcher; onParent: boolean }>();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const poke = (): void => {
    if (closed) return;
    clearTimeout(timer);
    timer = setTimeout(onEvent, debounceMs);
    attach(); // a watched folder may have been created (or removed) meanwhile
  };
  const attach = (): void => {
    for (const dir of dirs) {
      const exists = existsSync(dir);
      const current = watchers.get(dir);
      if (current !== undefined && current.onParent === !exists) continue;
      current?.watcher.close();
      watchers.delete(dir);
      try {
        const watcher = watch(exists ? dir : path.dirname(dir), { recursive: exists }, poke);
        watcher.on("error", () => {
          watcher.close();
          if (watchers.get(dir)?.watcher === watcher) watchers.delete(dir);
        });
        watchers.set(dir, { watcher, onParent: !exists });
      } catch {
        // the parent is gone too: nothing to watch until the next event
      }
    }
  };
  attach();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      for (const { watcher } of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
