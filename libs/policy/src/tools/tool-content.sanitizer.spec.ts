import { sanitizeSafeHtml, sanitizeText } from './tool-content.sanitizer';

describe('content sanitizers', () => {
  it.each([
    ['<script>alert(1)</script>hello', 'hello'],
    ['<SCRIPT SRC=//evil.example/x.js></SCRIPT>hi', 'hi'],
    ['<img src=x onerror=alert(1)>pic', 'pic'],
    ['&lt;script&gt;alert(1)&lt;/script&gt;ok', 'ok'],
    ['&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;ok', 'ok'],
    ['<style>body{}</style><b>bold</b> & <i>more</i>', 'bold & more'],
    ['a < b and c > d', 'a < b and c > d'],
    ['"quoted" text', '"quoted" text'],
  ])('text: %s', (input, expected) => {
    expect(sanitizeText(input)).toBe(expected);
  });

  it('never leaves a tag in text output', () => {
    for (const input of [
      '<<script>script>alert(1)<</script>/script>',
      '<scr<script>ipt>alert(1)</script>',
      '<svg/onload=alert(1)>x',
    ]) {
      expect(sanitizeText(input)).not.toMatch(/<[a-z/!?]/i);
    }
  });

  it('html: keeps safe tags and links, drops scripts, handlers and javascript: links', () => {
    const out = sanitizeSafeHtml(
      '<p style="x" onmouseover="a()">Hi <a href="javascript:alert(1)">bad</a> <a href="https://x.example">good</a></p><script>1</script><iframe></iframe>',
    );
    expect(out).toBe('<p>Hi <a>bad</a> <a href="https://x.example">good</a></p>');
  });
});
