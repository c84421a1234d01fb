// `orrery dev`: being built in this session; see issue 6.
export async function run(_args: string[]): Promise<number> {
  console.error("orrery dev: not supported yet");
  return 1;
}
