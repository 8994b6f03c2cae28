import { Injectable } from '@nestjs/common';
import { AgentTool } from 'nest-agent-policy';
import { loadFaqCorpus, searchFaq, type FaqEntry, type FaqHit } from './knowledge-base';

/** `search_kb`: searches the bundled FAQ. Read-only. */
@Injectable()
export class KnowledgeBaseTool {
  private readonly corpus: FaqEntry[] = loadFaqCorpus();

  @AgentTool({
    name: 'search_kb',
    description: 'Searches the help-center FAQ and answers the best matching entries.',
    input: {
      type: 'object',
      properties: {
        query: { type: 'string', minLength: 1, maxLength: 500, 'x-sanitize': 'text' },
        max_results: { type: 'integer', minimum: 1, maximum: 20, default: 5 },
      },
      required: ['query'],
    },
    timeoutMs: 2000,
  })
  search(args: { query: string; max_results: number }): { results: FaqHit[] } {
    return { results: searchFaq(this.corpus, args.query, args.max_results) };
  }
}
