import type { PGliteOptions } from "@electric-sql/pglite";
import { getAsset, isSea } from "node:sea";

/**
 * The files PGlite reads from its own package when it starts (its two wasm
 * programs and the file-system bundle of share/ and lib/), by the PGlite
 * option that hands each over instead. `orrery build` stores them as assets
 * of the executable under `pglite/<file>`.
 */
export const pgliteAssetFiles = {
  pgliteWasmModule: "pglite.wasm",
  initdbWasmModule: "initdb.wasm",
  fsBundle: "pglite.data",
} as const;

/** The asset key of one of PGlite's files inside an `orrery build` executable. */
export function pgliteAssetKey(file: string): string {
  return `pglite/${file}`;
}

// lib ES2023 without DOM types no WebAssembly global.
type WasmModule = NonNullable<PGliteOptions["pgliteWasmModule"]>;
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: ArrayBuffer): Promise<WasmModule> } }).WebAssembly;

type PGliteFiles = Pick<PGliteOptions, keyof typeof pgliteAssetFiles>;
let fromExecutable: Promise<PGliteFiles> | undefined;

/**
 * PGlite's files from the single executable's assets when running inside one
 * (there is no node_modules to read them from); nothing elsewhere, and PGlite
 * reads its package. The wasm is compiled once per process.
 */
export function pgliteFiles(): Promise<PGliteFiles> {
  if (!isSea()) return Promise.resolve({});
  fromExecutable ??= (async () => ({
    pgliteWasmModule: await wasm.compile(getAsset(pgliteAssetKey(pgliteAssetFiles.pgliteWasmModule))),
    initdbWasmModule: await wasm.compile(getAsset(pgliteAssetKey(pgliteAssetFiles.initdbWasmModule))),
    fsBundle: new Blob([getAsset(pgliteAssetKey(pgliteAssetFiles.fsBundle))]),
  }))();
  return fromExecutable;
}
