import { Injectable } from '@nestjs/common';
import { AgentTool } from 'nest-agent-policy';

/**
 * `run_js`: evaluates a JavaScript expression in the sandbox and answers its JSON value. The method is sent to
 * the sandbox as source text, so it is self-contained: no imports, no `this`, only its argument.
 */
@Injectable()
export class RunJsTool {
  @AgentTool({
    name: 'run_js',
    description: 'Evaluates a JavaScript expression in a sandbox and answers its JSON value.',
    input: {
      type: 'object',
      properties: { code: { type: 'string', minLength: 1, maxLength: 10000 } },
      required: ['code'],
    },
    sandbox: {},
    timeoutMs: 2000,
    cost: { requests: 1 },
  })
  async run(args: { code: string }): Promise<unknown> {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- evaluating the given code is this tool's job; it runs in the sandbox process
    const value: unknown = await (new Function(`"use strict";\nreturn (${args.code}\n);`) as () => unknown)();
    const json = JSON.stringify(value);
    return json === undefined ? null : (JSON.parse(json) as unknown);
  }
}
