// Types of bench/lib/result.mjs for the TypeScript benches.
export type Better = 'higher' | 'lower';
/** The BENCH-RESULT line for one figure (without a newline); see result.mjs. */
export declare function resultLine(bench: string, metric: string, tsvirt: number | string, anchor: string, anchorValue: number | string, unit: string, better: Better, note?: string): string;
/** Prints the BENCH-RESULT line for one figure on stdout. */
export declare function benchResult(bench: string, metric: string, tsvirt: number | string, anchor: string, anchorValue: number | string, unit: string, better: Better, note?: string): void;
