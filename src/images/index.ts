export * from "./codec.js";
export * from "./data-uri.js";
export * from "./errors.js";
export * from "./webp.js";
