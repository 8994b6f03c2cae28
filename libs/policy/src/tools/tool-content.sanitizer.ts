import sanitizeHtml from 'sanitize-html';

/** How an `"x-sanitize"` string field is cleaned before the tool sees it. */
export type SanitizeMode = 'text' | 'html';

const TEXT_ONLY: sanitizeHtml.IOptions = { allowedTags: [], allowedAttributes: {}, disallowedTagsMode: 'discard' };
// sanitize-html's defaults: formatting and structure tags, `href` on links (http, https, ftp, mailto, tel), no
// script, style, iframe, form, image or event-handler attribute.
const SAFE_HTML: sanitizeHtml.IOptions = {
  ...sanitizeHtml.defaults,
  allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
};

// sanitize-html escapes only these four characters in the text it keeps.
const unescape = (text: string): string =>
  text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&');

/**
 * Plain text: every tag is removed, and the content of `script`, `style` and similar elements with it. The result
 * is unescaped (a tool gets `Tom & Jerry`, not `Tom &amp; Jerry`) and cleaned again until nothing changes, so an
 * escaped tag (`&lt;script&gt;`) cannot come back as markup.
 */
export function sanitizeText(input: string): string {
  // Without `<` there is no tag, and without `&` no escaped one: the text is already clean.
  if (!input.includes('<') && !input.includes('&')) return input;
  let current = input;
  for (let i = 0; i < 8; i++) {
    const next = unescape(sanitizeHtml(current, TEXT_ONLY));
    if (next === current) return next;
    current = next;
  }
  // Still changing after several rounds: keep the escaped form, which is inert.
  return sanitizeHtml(current, TEXT_ONLY);
}

/** HTML restricted to a safe allowlist of tags and attributes (no script, event handler or `javascript:` link). */
export function sanitizeSafeHtml(input: string): string {
  if (!/[<>&"]/.test(input)) return input;
  return sanitizeHtml(input, SAFE_HTML);
}

/** Cleans `value` per `mode`. */
export function sanitizeContent(mode: SanitizeMode, value: string): string {
  return mode === 'html' ? sanitizeSafeHtml(value) : sanitizeText(value);
}
