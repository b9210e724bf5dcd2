/** How every benchmark prints: `bench <name>: <figure>`. */
export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
export const line = (name: string, figure: string): void => void process.stdout.write(`bench ${name}: ${figure}\n`);
