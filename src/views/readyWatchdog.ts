/**
 * Reloads a webview whose page never said it was ready. In VS Code for the Web a webview's script is
 * fetched through a service worker, and a fetch that fails leaves the page blank for good: the
 * integration tests saw the sidebar stay empty, its script never run, while the rest of the workbench
 * worked. Setting the HTML again loads the page anew; after `attempts` reloads the watchdog gives up.
 * No `vscode` import, so the timing is unit-tested.
 */
export class ReadyWatchdog {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private reloads = 0;

  constructor(
    private readonly o: {
      timeoutMs: number;
      attempts: number;
      /** sets the page's HTML again */
      reload: () => void;
      /** the page never became ready: say so once */
      gaveUp?: () => void;
    },
  ) {}

  /** the page was (re)loaded or shown again: its ready message is due within timeoutMs */
  arm(): void {
    this.stop();
    this.timer = setTimeout(() => this.expire(), this.o.timeoutMs);
  }

  /** the page said it is ready */
  ready(): void {
    this.stop();
    this.reloads = 0;
  }

  /** hidden or disposed: a page that cannot run owes no message */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private expire(): void {
    this.timer = undefined;
    if (this.reloads >= this.o.attempts) {
      this.o.gaveUp?.();
      return;
    }
    this.reloads++;
    this.o.reload();
    this.arm();
  }
}
