/**
 * What a process has started, stopped in the reverse order of starting: when it closes, and when
 * a later start-up step fails (so a refused bind never leaves the database, the workers or a
 * timer behind). One list serves both, so the two orders cannot drift apart.
 */
export class Lifecycle {
  private readonly parts: Array<{ name: string; stop: () => unknown }> = [];

  /** `onStopped` hears each part's name and how long it took to stop. */
  constructor(private readonly onStopped: (name: string, ms: number) => void = () => {}) {}

  /** Records a part that is running now; `stop` may return a promise. */
  started(name: string, stop: () => unknown): void {
    this.parts.push({ name, stop });
  }

  /**
   * Stops every part, newest first. A part that fails to stop does not keep the others running:
   * the first failure is thrown once all have been tried.
   */
  async stopAll(): Promise<void> {
    let failure: unknown;
    for (let part = this.parts.pop(); part; part = this.parts.pop()) {
      const started = Date.now();
      try {
        await part.stop();
      } catch (error) {
        failure ??= error;
      }
      this.onStopped(part.name, Date.now() - started);
    }
    if (failure !== undefined) throw failure;
  }
}
