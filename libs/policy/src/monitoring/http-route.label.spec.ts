import { RouteLabels, routeLabel } from './http-route.label';

describe('routeLabel', () => {
  it.each([
    ['/customers/0b5c6a1e-8f4d-4c3b-9a2e-1234567890ab', '/customers/:id'],
    ['/sessions/0b5c6a1e-8f4d-4c3b-9a2e-1234567890ab/events?limit=5', '/sessions/:id/events'],
    ['/agents', '/agents'],
    ['/', '/'],
    ['', '/'],
    ['/runs/123/cancel', '/runs/:id/cancel'],
    ['/x/' + 'a'.repeat(80), '/x/:id'],
  ])('%s → %s', (url, label) => expect(routeLabel(url)).toBe(label));
});

describe('RouteLabels', () => {
  it('labels 404s on unknown routes alike and caps the number of labels', () => {
    const labels = new RouteLabels(2);
    expect(labels.label('/nope/really', 404)).toBe('unmatched');
    expect(labels.label('/a', 200)).toBe('/a');
    expect(labels.label('/a', 404)).toBe('/a');
    expect(labels.label('/b', 401)).toBe('/b');
    expect(labels.label('/c', 200)).toBe('other');
    expect(labels.label('/a?x=1', 200)).toBe('/a');
  });
});
