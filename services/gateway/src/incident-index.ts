/**
 * Where each incident's events sit in the stream, as the hub sees them go by: the first and last stream
 * sequence of events carrying its id (as `incident` or `correlation`). Lets a timeline be read from its
 * first event instead of scanning the stream, and lets an id nobody has seen be answered 404 at once.
 * A Map, so ids like `__proto__` are just keys. Bounded: the least recently active incidents go first.
 */
export interface IncidentSpan {
  first: number;
  last: number;
}

export const INCIDENTS_INDEXED = 5_000;

export function createIncidentIndex(max = INCIDENTS_INDEXED) {
  const spans = new Map<string, IncidentSpan>();
  const note = (id: string, seq: number) => {
    const s = spans.get(id);
    if (s) spans.delete(id); // re-inserted below: most recently active last
    spans.set(id, { first: s ? Math.min(s.first, seq) : seq, last: s ? Math.max(s.last, seq) : seq });
    if (spans.size > max) spans.delete(spans.keys().next().value!);
  };
  return {
    /** Records an event's incident ids. */
    add(e: { seq: number; incident?: string | undefined; correlation?: string | undefined }): void {
      if (typeof e.incident === "string" && e.incident) note(e.incident, e.seq);
      if (typeof e.correlation === "string" && e.correlation && e.correlation !== e.incident) note(e.correlation, e.seq);
    },
    get(id: string): IncidentSpan | undefined {
      const s = spans.get(id);
      return s ? { ...s } : undefined;
    },
    size: () => spans.size,
  };
}
export type IncidentIndex = ReturnType<typeof createIncidentIndex>;
