/** A `/tool <name> <json args>` line of a message. */
export interface ToolCommand {
  name: string;
  /** The parsed arguments, or null when the JSON was not an object. */
  args: Record<string, unknown> | null;
  /** The argument text as written (for the reply when it does not parse). */
  raw: string;
}

/** Tool calls one message may ask for; more are ignored. */
export const MAX_TOOL_COMMANDS = 8;

/**
 * The `/tool` lines of a message, in order: `/tool search_kb {"query":"refund"}`. Arguments default to `{}`;
 * JSON that is not an object gives `args: null`. Pure.
 */
export function parseToolCommands(message: string): ToolCommand[] {
  const commands: ToolCommand[] = [];
  for (const line of message.split(/\r?\n/)) {
    const match = /^\s*\/tool\s+(\S+)\s*(.*)$/.exec(line);
    if (!match) continue;
    const raw = match[2].trim();
    let args: Record<string, unknown> | null = {};
    if (raw) {
      try {
        const parsed: unknown = JSON.parse(raw);
        args =
          typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
            ? (parsed as Record<string, unknown>)
            : null;
      } catch {
        args = null;
      }
    }
    commands.push({ name: match[1], args, raw });
    if (commands.length === MAX_TOOL_COMMANDS) break;
  }
  return commands;
}
