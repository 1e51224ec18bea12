// kubectl's -n/--namespace and -A/--all-namespaces, for the local-mesh commands that list or pick things
// by namespace. Every namespace is the default, so -A only says so aloud (scripts written for kubectl pass it).
import { Flags } from '@oclif/core';
import { usageError } from '../errors.js';

export const namespaceFlag = Flags.string({ char: 'n', summary: 'Only this namespace (default: every namespace).', helpValue: 'NAMESPACE' });

export const allNamespacesFlag = Flags.boolean({
  char: 'A',
  summary: 'Every namespace (the default), as kubectl -A.',
  default: false,
});

/** Refuses -n with -A, which ask for one namespace and for every one. */
export function checkNamespaceScope(flags: { namespace?: string; 'all-namespaces'?: boolean }): void {
  if (flags.namespace !== undefined && flags['all-namespaces']) {
    throw usageError(`-n ${flags.namespace} asks for one namespace and -A for every one; pass one of them.`);
  }
}
