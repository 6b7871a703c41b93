export * from "./intervals.js";
export * from "./percentiles.js";
