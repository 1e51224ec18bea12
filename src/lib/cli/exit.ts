// A command that leaves nothing running once it returns (validate: read, check, print) asks the CLI to
// exit as soon as its output is out. Node's own exit would first tear down a heap that, after a large
// policy set, holds a hundred MB or more; that teardown adds nothing and costs about 10 ms.

let requested = false;

/** Called by a command whose work is complete when its run() returns. */
export function exitWhenDone(): void {
  requested = true;
}

/** Exits with process.exitCode once stdout and stderr have handed everything written to the OS, when a command asked for it. */
export async function exitIfRequested(): Promise<void> {
  if (!requested) return;
  await Promise.all([drained(process.stdout), drained(process.stderr)]);
  process.exit();
}

/** Resolves when everything written to the stream so far has been flushed (a write's callback runs after all earlier writes). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) return resolve();
    stream.write('', () => resolve());
  });
}
