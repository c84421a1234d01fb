import { PGlite } from "@electric-sql/pglite";

let template: Promise<Blob> | undefined;

/**
 * A dump of a freshly initialised, empty PGlite data directory, made once per
 * test process. Creating a PGlite from scratch takes ~2 s (initdb inside
 * WASM); loading this dump (`loadDataDir`) takes ~0.3–0.5 s, in memory or
 * into a new file data directory.
 */
export function pgliteTemplate(): Promise<Blob> {
  template ??= (async () => {
    const pglite = await PGlite.create();
    try {
      return await pglite.dumpDataDir("none");
    } finally {
      await pglite.close();
    }
  })();
  return template;
}
