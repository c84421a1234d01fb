// Which Orrery options this plugin version enforces. The plugin rejects the
// others ("not supported yet") and the options reference marks them, both
// from this one list, so the two cannot disagree.

/** An option the runtime does not enforce yet, and what to do instead. */
export interface UnsupportedOption {
  /** The option's field, as `<message>.<field>` of orrery.v1 (for example "MethodSettings.acl"). */
  readonly field: string;
  /** What a user should do until it lands. */
  readonly fix: string;
}

/** Every option field that `buf generate` rejects with "not supported yet". */
export const unsupportedOptions: readonly UnsupportedOption[] = [
];

/** The entry for `message.field` of orrery.v1, if that option is not supported yet. */
export function unsupportedOption(message: string, field: string): UnsupportedOption | undefined {
  return unsupportedOptions.find((o) => o.field === `${message}.${field}`);
}
