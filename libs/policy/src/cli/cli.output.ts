/** Where a command writes: injectable so tests run commands in-process and read what they printed. */
export interface CliOutput {
  out(line: string): void;
  err(line: string): void;
}

export const processOutput: CliOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};
