/**
 * The least total cost of giving each row of `cost` (n x m, n <= m) its own column: the Hungarian
 * method by shortest augmenting paths, exact for the small problems of these tests.
 */
export function exactMinimum(cost: number[][]): number {
  const n = cost.length;
  const m = cost[0]!.length;
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const owner = new Int32Array(m + 1);
  const way = new Int32Array(m + 1);
  for (let row = 1; row <= n; row++) {
    owner[0] = row;
    let column = 0;
    const least = new Float64Array(m + 1).fill(Infinity);
    const used = new Uint8Array(m + 1);
    do {
      used[column] = 1;
      const current = owner[column]!;
      let delta = Infinity;
      let next = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const reduced = cost[current - 1]![j - 1]! - u[current]! - v[j]!;
        if (reduced < least[j]!) {
          least[j] = reduced;
          way[j] = column;
        }
        if (least[j]! < delta) {
          delta = least[j]!;
          next = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[owner[j]!]! += delta;
          v[j]! -= delta;
        } else least[j]! -= delta;
      }
      column = next;
    } while (owner[column] !== 0);
    do {
      const previous = way[column]!;
      owner[column] = owner[previous]!;
      column = previous;
    } while (column);
  }
  let total = 0;
  for (let j = 1; j <= m; j++) if (owner[j]) total += cost[owner[j]! - 1]![j - 1]!;
  return total;
}
