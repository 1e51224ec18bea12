// What loading makes of a source file and what findings point at: a document (its text and parsed
// value, where it sits in its file) and the resource a finding is about. Apart from load.ts so that
// locating and reporting findings need nothing of loading.
import type { SourceFile } from './source.js';

export interface PolicyDocument {
  file: SourceFile;
  /** 0-based index of the document in its file. */
  index: number;
  /** Offset of the document's text within the file's text. */
  offset: number;
  text: string;
  value: unknown;
}

export interface ResourceRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}
