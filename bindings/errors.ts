/** Bad input: names the field, the value given and what is allowed. */
export class ConfigError extends Error {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`${field}: ${show(value)} is not allowed; expected ${allowed}`);
    this.name = "ConfigError";
  }
}

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  // JSON would print NaN and ±Infinity as null
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "number" && Number.isInteger(v) && v >= 4096) return `${v} (0x${v.toString(16)})`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
