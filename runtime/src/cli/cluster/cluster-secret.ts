// The secret every node of a local cluster shares (they authenticate the calls
// they forward to each other with it): ORRERY_CLUSTER_SECRET when set, else
// one generated on the first run and kept next to the cluster's data.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { MIN_CLUSTER_SECRET_LENGTH } from "../../cluster/call-signature.js";
import { CliError } from "../project-folder.js";

/** Where the cluster's secret came from. */
export interface ClusterSecret {
  readonly secret: string;
  /** "ORRERY_CLUSTER_SECRET", or the file it was read from or written to. */
  readonly from: string;
  /** Whether this run generated it. */
  readonly created: boolean;
}

/**
 * The secret from `env`, else from `file`, else a new one (32 random bytes as
 * hex) written to `file` (mode 0600). A set but empty ORRERY_CLUSTER_SECRET is
 * a mistake here (a `$(cat file)` that found nothing), not "unset".
 */
export async function clusterSecret(env: NodeJS.ProcessEnv, file: string): Promise<ClusterSecret> {
  const given = env["ORRERY_CLUSTER_SECRET"];
  if (given !== undefined) {
    const secret = given.trim();
    if (secret.length < MIN_CLUSTER_SECRET_LENGTH) {
      throw new CliError(`orrery cluster: ORRERY_CLUSTER_SECRET is ${secret === "" ? "empty" : `${secret.length} characters long`}; it needs at least ${MIN_CLUSTER_SECRET_LENGTH} (e.g. openssl rand -hex 32), or unset it to use the one in ${file}`);
    }
    return { secret, from: "ORRERY_CLUSTER_SECRET", created: false };
  }
  const kept = await readFile(file, "utf8").then((text) => text.trim(), (error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return undefined;
    throw new CliError(`orrery cluster: cannot read the cluster secret in ${file}: ${error.message}`);
  });
  if (kept !== undefined) {
    if (!/^[0-9a-f]+$/i.test(kept) || kept.length < MIN_CLUSTER_SECRET_LENGTH) {
      throw new CliError(`orrery cluster: ${file} does not hold a cluster secret (at least ${MIN_CLUSTER_SECRET_LENGTH} hex digits); delete it to have a new one generated`);
    }
    return { secret: kept, from: file, created: false };
  }
  const secret = randomBytes(32).toString("hex");
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `${secret}\n`, { mode: 0o600, flag: "wx" }).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code === "EEXIST") throw new CliError(`orrery cluster: ${file} appeared while this run created it; is another orrery cluster starting in this folder?`);
    throw error;
  });
  await chmod(file, 0o600); // whatever the umask
  return { secret, from: file, created: true };
}
