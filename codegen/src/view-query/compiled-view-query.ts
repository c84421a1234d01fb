// The plan's types live in the sdk: generated code embeds plans and depends only on the sdk.
export type {
  CompiledViewQuery,
  Coercion,
  CountSource,
  FieldPath,
  IndexSuggestion,
  QueryParameter,
  QueryResultShape,
  QueryTable,
  ResponseField,
  ScalarCoercion,
} from "@orrery/sdk";
