// The pretraining stages, in pipeline order (scripts/make-assets.sh). A module of its own, free of
// imports, so that the CLI can list them without loading libtorch.
export const STAGES = ["vision", "language", "aligned", "base", "scorer"] as const;
export type Stage = (typeof STAGES)[number];
