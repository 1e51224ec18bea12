// The analysis framework: analyzers get a read-only view of every resource and report findings against
// a resource and the JSON pointer of the field at fault.
import type { Resource } from './load.js';
import { refOf } from './load.js';
import type { MeshConfig } from './mesh-config.js';
import type { RawFinding, RawGroup } from './findings.js';

export interface Analyzer {
  /** istioctl's analyzer name for Istio's checks (`virtualservice.DestinationRuleAnalyzer`), `meshctl.*` for ours. */
  name: string;
  description: string;
  /** Kind ids (K in kinds.ts) it reads. */
  inputs: string[];
  /** Codes it may emit. */
  codes: string[];
  run(ctx: AnalysisContext): void;
}

export class AnalysisContext {
  readonly resources: Resource[];
  readonly meshConfig: MeshConfig;
  readonly istioNamespace = 'istio-system';
  readonly findings: RawFinding[] = [];
  private byKind = new Map<string, Resource[]>();
  /** Kind id → namespace → name → the first resource of that key: nested, so no key string is built per resource. */
  private byKey = new Map<string, Map<string, Map<string, Resource>>>();
  private current = '';
  private memos = new Map<string, unknown>();

  constructor(resources: Resource[], meshConfig: MeshConfig) {
    this.resources = resources;
    this.meshConfig = meshConfig;
    // Resources read from files that another file's resource already defined (same kind, namespace and name).
    let firstRead: Map<Resource, Resource> | undefined;
    for (const r of resources) {
      let list = this.byKind.get(r.kindId);
      let namespaces = this.byKey.get(r.kindId);
      if (!list || !namespaces) {
        this.byKind.set(r.kindId, (list = []));
        this.byKey.set(r.kindId, (namespaces = new Map()));
      }
      list.push(r);
      let names = namespaces.get(r.namespace);
      if (!names) namespaces.set(r.namespace, (names = new Map()));
      const first = names.get(r.name);
      if (first === undefined) {
        names.set(r.name, r);
        continue;
      }
      if (!r.doc) continue;
      if (first.doc) {
        this.redefined.push({ resource: r, first });
        continue;
      }
      // The key's first holder is one meshctl added itself: the first resource read from a file counts
      // (remembered against that holder, which stands for the key).
      firstRead ??= new Map();
      const earlier = firstRead.get(first);
      if (earlier) this.redefined.push({ resource: r, first: earlier });
      else firstRead.set(first, r);
    }
  }

  /** Every resource read from a file whose kind, namespace and name an earlier one read from a file already has, in input order. */
  readonly redefined: { resource: Resource; first: Resource }[] = [];

  /** Every resource of one kind (K.VirtualService, …), in input order. */
  of(kindId: string): Resource[] {
    return this.byKind.get(kindId) ?? [];
  }

  find(kindId: string, namespace: string, name: string): Resource | undefined {
    return this.byKey.get(kindId)?.get(namespace)?.get(name);
  }

  /**
   * A value computed once per analysis and shared by every analyzer that asks for it under `key`
   * (an index of hosts, a table of names): analyzers read resources, which do not change during a run.
   */
  memo<T>(key: string, build: () => T): T {
    if (this.memos.has(key)) return this.memos.get(key) as T;
    const value = build();
    this.memos.set(key, value);
    return value;
  }

  /**
   * Reports a finding on `resource` at `pointer`, a JSON pointer from the resource's root
   * (e.g. `/spec/http/0/route/0/destination/host`). `message` is one sentence naming the thing and what to do.
   */
  report(code: string, resource: Resource, pointer: string, message: string, group?: RawGroup): void {
    this.findings.push({
      code,
      message,
      resource: refOf(resource),
      file: resource.doc ? resource.doc.file.path : '<meshctl>',
      line: resource.doc ? 0 : 1,
      column: resource.doc ? 0 : 1,
      path: resource.pointer + pointer,
      doc: resource.doc,
      analyzer: this.current,
      ...(group ? { group } : {}),
    });
  }

  private groupCount = new Map<string, number>();

  /**
   * A conflict group for `code`: the resources (and the field of each) in one conflict. Findings that name a
   * few members and the count pass it to report(), so the whole list is written once, not in every message.
   */
  group(code: string, members: { resource: Resource; pointer: string }[]): RawGroup {
    const n = (this.groupCount.get(code) ?? 0) + 1;
    this.groupCount.set(code, n);
    return { id: `${code}-${n}`, code, members: members.map(({ resource, pointer }) => ({ resource: refOf(resource), doc: resource.doc ?? null, path: resource.pointer + pointer })) };
  }

  runAnalyzer(analyzer: Analyzer): void {
    this.current = analyzer.name;
    try {
      analyzer.run(this);
    } finally {
      this.current = '';
    }
  }
}
