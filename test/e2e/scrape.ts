/** Reading a service's `/metrics` from outside its process. */

/** Sums a metric's samples (every label set) in the Prometheus text at `url`. */
export async function scrape(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

