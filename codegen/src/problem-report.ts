import type { DescField, DescMethod, DescService } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";
import { OrreryCodegenError } from "./orrery-codegen-error.js";

/** The element a problem is about: always a service, plus the rpc, field or option at fault. */
export interface ProblemSite {
  readonly service: DescService;
  readonly method?: DescMethod | undefined;
  readonly field?: DescField | undefined;
  /** An option path, e.g. "(orrery.v1.component).event_sourced_entity.state". */
  readonly option?: string | undefined;
}

/** Collects problems during one plugin run and fails the run once, with all of them. */
export interface ProblemReport {
  /** Records a problem; `fix` says, as an imperative sentence, how to resolve it. */
  add(site: ProblemSite, problem: string, fix: string): void;
  /** Throws an {@link OrreryCodegenError} listing every recorded problem, if there are any. */
  throwIfAny(): void;
}

/** Creates an empty {@link ProblemReport}. */
export function createProblemReport(): ProblemReport {
  const lines: string[] = [];
  return {
    add(site, problem, fix) {
      // A problem may end in a question ("did you mean ...?"); don't add a full stop after it.
      const end = /[.?]$/.test(problem) ? "" : ".";
      lines.push(`${describeSite(site)}: ${problem}${end} Fix: ${fix}`);
    },
    throwIfAny() {
      if (lines.length > 0) throw new OrreryCodegenError(lines);
    },
  };
}

function describeSite({ service, method, field, option }: ProblemSite): string {
  const parts = [`${sourceLocation(method ?? service)}: service ${service.typeName}`];
  if (method) parts.push(`rpc ${method.name}`);
  if (field) parts.push(`field ${field.parent.typeName}.${field.name} (${sourceLocation(field)})`);
  if (option) parts.push(`option ${option}`);
  return parts.join(", ");
}

/** "file.proto:line:column" of a declaration, or just the file when there is no source info. */
function sourceLocation(desc: DescService | DescMethod | DescField): string {
  const file = desc.kind === "service" ? desc.file : desc.parent.file;
  const { sourcePath } = getComments(desc);
  const location = file.proto.sourceCodeInfo?.location.find(
    (l) => l.path.length === sourcePath.length && l.path.every((v, i) => v === sourcePath[i]),
  );
  const [line, column] = location?.span ?? [];
  if (line === undefined || column === undefined) return file.proto.name;
  return `${file.proto.name}:${line + 1}:${column + 1}`;
}
