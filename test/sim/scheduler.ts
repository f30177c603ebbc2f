/** Events on virtual time, in (time, sequence) order: ties break by scheduling order, deterministically. */
export interface ScheduledEvent<T> {
  readonly at: number;
  readonly sequence: number;
  readonly event: T;
}

export class Scheduler<T> {
  #heap: ScheduledEvent<T>[] = [];
  #sequence = 0;

  get size(): number {
    return this.#heap.length;
  }

  get nextAt(): number | undefined {
    return this.#heap[0]?.at;
  }

  schedule(at: number, event: T): void {
    const heap = this.#heap;
    heap.push({ at, sequence: this.#sequence++, event });
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(heap[index]!, heap[parent]!)) break;
      [heap[index], heap[parent]] = [heap[parent]!, heap[index]!];
      index = parent;
    }
  }

  pop(): ScheduledEvent<T> | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === index) break;
      [heap[index], heap[smallest]] = [heap[smallest]!, heap[index]!];
      index = smallest;
    }
    return top;
  }
}

function before<T>(a: ScheduledEvent<T>, b: ScheduledEvent<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.sequence < b.sequence);
}
