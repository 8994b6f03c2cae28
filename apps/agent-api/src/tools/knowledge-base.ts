import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot } from '../config/agent-api.config';

/** One FAQ entry of the bundled corpus. */
export interface FaqEntry {
  id: string;
  question: string;
  answer: string;
}

/** A search hit: the entry and how many of the query's words it contains. */
export interface FaqHit extends FaqEntry {
  score: number;
}

const words = (text: string): string[] =>
  text
    .toLowerCase()
    .match(/[a-z0-9]+/g)
    ?.filter((w) => w.length > 2) ?? [];

/** The FAQ corpus shipped with the app (`kb/faq.json`, found relative to the app, not the working directory). */
export function loadFaqCorpus(path = join(appRoot(), 'kb', 'faq.json')): FaqEntry[] {
  const entries = JSON.parse(readFileSync(path, 'utf8')) as FaqEntry[];
  if (!Array.isArray(entries)) throw new Error(`${path}: the FAQ corpus must be a list`);
  return entries;
}

/**
 * Entries ranked by the number of distinct query words (3+ letters) found in their question and answer, questions
 * counting double; ties keep corpus order. Pure.
 */
export function searchFaq(corpus: readonly FaqEntry[], query: string, maxResults: number): FaqHit[] {
  const terms = [...new Set(words(query))];
  if (!terms.length) return [];
  return corpus
    .map((entry, index) => {
      const question = new Set(words(entry.question));
      const answer = new Set(words(entry.answer));
      const score = terms.reduce((sum, t) => sum + (question.has(t) ? 2 : 0) + (answer.has(t) ? 1 : 0), 0);
      return { entry, index, score };
    })
    .filter((hit) => hit.score > 0)
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, maxResults)
    .map(({ entry, score }) => ({ ...entry, score }));
}
