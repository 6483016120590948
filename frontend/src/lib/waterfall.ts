/** The trace waterfall's data (pure): span tree, visible rows, critical path, colours. */

import type { ApiSpan, InfraEventJson } from "@/api/types";

export interface SpanNode {
  span: ApiSpan;
  startMs: number;
  endMs: number;
  children: SpanNode[];
  depth: number;
  /** The parent id names a span that is not in the trace (it never arrived). */
  orphan: boolean;
  error: boolean;
}

export interface SpanTree {
  roots: SpanNode[];
  byId: Map<string, SpanNode>;
  startMs: number;
  endMs: number;
}

export function spanStartMs(span: ApiSpan): number {
  return span.start_time_unix_nano / 1e6;
}

export function isError(span: ApiSpan): boolean {
  return span.status?.code === "ERROR";
}

/** Spans linked to their parents, children by start time. */
export function buildTree(spans: ApiSpan[]): SpanTree {
  const byId = new Map<string, SpanNode>();
  for (const span of spans) {
    const startMs = spanStartMs(span);
    byId.set(span.span_id, {
      span,
      startMs,
      endMs: startMs + Math.max(0, span.duration_ms),
      children: [],
      depth: 0,
      orphan: false,
      error: isError(span),
    });
  }
  const roots: SpanNode[] = [];
  for (const node of byId.values()) {
    const parentId = node.span.parent_span_id;
    const parent = parentId ? byId.get(parentId) : undefined;
    if (parent && parent !== node) parent.children.push(node);
    else {
      node.orphan = Boolean(parentId);
      roots.push(node);
    }
  }
  const byStart = (a: SpanNode, b: SpanNode) => a.startMs - b.startMs || a.span.span_id.localeCompare(b.span.span_id);
  roots.sort(byStart);
  let startMs = Infinity;
  let endMs = -Infinity;
  // Iterative depth-first walk: deep traces must not overflow the stack.
  const stack = [...roots].reverse();
  while (stack.length) {
    const node = stack.pop()!;
    startMs = Math.min(startMs, node.startMs);
    endMs = Math.max(endMs, node.endMs);
    node.children.sort(byStart);
    for (let i = node.children.length - 1; i >= 0; i -= 1) {
      node.children[i].depth = node.depth + 1;
      stack.push(node.children[i]);
    }
  }
  if (!Number.isFinite(startMs)) startMs = endMs = 0;
  return { roots, byId, startMs, endMs };
}

/** The rows to draw: depth-first, skipping the descendants of collapsed spans. */
export function visibleRows(tree: SpanTree, collapsed: ReadonlySet<string>): SpanNode[] {
  const rows: SpanNode[] = [];
  const stack = [...tree.roots].reverse();
  while (stack.length) {
    const node = stack.pop()!;
    rows.push(node);
    if (!collapsed.has(node.span.span_id)) {
      for (let i = node.children.length - 1; i >= 0; i -= 1) stack.push(node.children[i]);
    }
  }
  return rows;
}

/** The critical path (Jaeger's definition): from each root, the last-finishing child, then
 * recursively the children that finished before that one started. Returns span ids. */
export function criticalPath(tree: SpanTree): Set<string> {
  const path = new Set<string>();
  const visit = (root: SpanNode) => {
    const work: [SpanNode][] = [[root]];
    while (work.length) {
      const [node] = work.pop()!;
      path.add(node.span.span_id);
      let until = node.endMs;
      const children = [...node.children].sort((a, b) => b.endMs - a.endMs);
      for (const child of children) {
        if (child.endMs <= until + 1e-6) {
          work.push([child]);
          until = child.startMs;
        }
      }
    }
  };
  // The root that ends last is the trace's critical path.
  const last = [...tree.roots].sort((a, b) => b.endMs - a.endMs)[0];
  if (last) visit(last);
  return path;
}

const PALETTE = ["#38bdf8", "#a78bfa", "#34d399", "#f472b6", "#fbbf24", "#2dd4bf", "#c084fc", "#fb923c", "#60a5fa", "#a3e635"];

/** A stable colour per service name. */
export function serviceColour(service: string | null | undefined): string {
  const name = service ?? "";
  let hash = 0;
  for (let i = 0; i < name.length; i += 1) hash = (hash * 31 + name.charCodeAt(i)) | 0;
  return PALETTE[Math.abs(hash) % PALETTE.length];
}

/** Entities the trace's spans touch, as the collectors name them. */
export function traceEntities(spans: ApiSpan[]): { entities: Set<string>; groups: Set<string> } {
  const entities = new Set<string>();
  const groups = new Set<string>();
  for (const span of spans) {
    const a = span.attributes;
    const ns = span.k8s?.namespace;
    const pod = span.k8s?.pod_name;
    if (pod) entities.add(`pod/${ns ?? "default"}/${pod}`);
    const topic = a["messaging.destination.name"];
    const partition = a["messaging.destination.partition.id"];
    if (typeof topic === "string") {
      entities.add(`topic/${topic}`);
      if (partition !== undefined) entities.add(`partition/${topic}/${String(partition)}`);
    }
    const group = a["messaging.kafka.consumer.group"] ?? a["messaging.consumer.group.name"];
    if (typeof group === "string") {
      groups.add(group);
      entities.add(`consumer_group/${group}`);
    }
    if (span.provider && span.model) entities.add(`model/${span.provider}/${span.model}`);
    if (span.agent_name) entities.add(`agent/${span.agent_name}`);
  }
  return { entities, groups };
}

/** Without the server's correlation: the events of the trace's window on entities it touches
 * (a group-specific Kafka event only when the trace's consumers are of that group). */
export function relatedEvents(spans: ApiSpan[], events: InfraEventJson[], startMs: number, endMs: number): InfraEventJson[] {
  const { entities, groups } = traceEntities(spans);
  return events.filter((e) => {
    const t = e.time_unix_nano / 1e6;
    if (t < startMs - 30_000 || t > endMs + 30_000 || !entities.has(e.entity)) return false;
    const group = e.attributes["messaging.kafka.consumer.group"];
    return typeof group !== "string" || groups.has(group);
  });
}

/** Time ticks for an axis of `durationMs`: about `count` round steps. */
export function ticks(durationMs: number, count = 6): number[] {
  if (durationMs <= 0) return [0];
  const raw = durationMs / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const found: number[] = [];
  for (let t = 0; t <= durationMs + 1e-9; t += step) found.push(t);
  return found;
}

/** Rows (0, 1, …) for labels along an axis so that close ones do not overlap: a label goes on
 * the first row whose last label is at least `gap` (same unit as `positions`) before it. */
export function labelRows(positions: number[], gap: number): number[] {
  const lastOnRow: number[] = [];
  return positions.map((p) => {
    let row = lastOnRow.findIndex((last) => p - last >= gap);
    if (row === -1) row = lastOnRow.length;
    lastOnRow[row] = p;
    return row;
  });
}

export interface EventMark {
  event: InfraEventJson;
  /** Events of the same kind close after it, drawn as this one mark. */
  count: number;
  /** 0..1 along the axis. */
  at: number;
}

/** Marks for events on an axis [start, start + duration] (ms): events of one kind closer than
 * `gap` (a fraction of the axis) to the mark before merge into it. Events off the axis are
 * left out. */
export function eventMarks(events: InfraEventJson[], start: number, duration: number, gap = 0.02): EventMark[] {
  const sorted = [...events].sort((a, b) => a.time_unix_nano - b.time_unix_nano);
  const marks: EventMark[] = [];
  const lastOfKind = new Map<string, EventMark>();
  for (const event of sorted) {
    const at = duration > 0 ? (event.time_unix_nano / 1e6 - start) / duration : 0;
    if (at < 0 || at > 1) continue;
    const previous = lastOfKind.get(event.kind);
    if (previous && at - previous.at < gap) {
      previous.count += 1;
      continue;
    }
    const mark = { event, count: 1, at };
    marks.push(mark);
    lastOfKind.set(event.kind, mark);
  }
  return marks;
}

/** Whether an event is a problem worth drawing by default (warning or worse). */
export function isProblem(event: InfraEventJson): boolean {
  const severity = event.severity.toLowerCase();
  return severity !== "info" && severity !== "debug";
}

/** The axis of a trace with its events: the spans' extent, widened to problem events up to one
 * trace length (at least 30 s) after it and 10% before, plus room for the last label. */
export function traceAxis(tree: SpanTree, events: InfraEventJson[]): { start: number; end: number } {
  const length = tree.endMs - tree.startMs;
  const earliest = tree.startMs - length * 0.1;
  const latest = tree.endMs + Math.max(30_000, length);
  let start = tree.startMs;
  let end = tree.endMs;
  for (const e of events) {
    const t = e.time_unix_nano / 1e6;
    if (t >= earliest && t <= latest) {
      start = Math.min(start, t);
      end = Math.max(end, t);
    }
  }
  return { start, end: end + (end - start) * 0.04 };
}
