// SceneWorld's public API: procedural images with exact scene graphs, their language, the
// COMPACT teacher oracle, creatures for fine-grained classification, and the split builder.
export { type BuildOptions, type BuildResult, buildSplit, encodePng, renderRecord } from "./build.js";
export { Canvas, type Image, toModelPixels } from "./canvas.js";
export { type ComposeOptions, capabilitySets, checkCapabilities, composeQuestion } from "./compose.js";
export {
  configHash,
  loadWorldConfig,
  parseWorldConfig,
  SPLIT_NAMES,
  type SplitName,
  type WorldConfig,
  WorldConfigError,
  type WorldConfigInput,
} from "./config.js";
export {
  CONCEPTS,
  type Concept,
  type CreatureImage,
  concept,
  creatureParts,
  renderCreature,
  SPECIES,
  SPECIES_NAMES,
  type Species,
  sampleCreature,
  species,
} from "./creatures.js";
export {
  type CreatureQuestion,
  caption,
  creatureCaption,
  creatureDescription,
  creatureQuestions,
  describe,
  questionSet,
} from "./language.js";
export { printQuestion } from "./question-english.js";
export { evaluate } from "./question-eval.js";
export { isWellPosed } from "./question-well-posed.js";
export {
  type Atom,
  CAPABILITIES,
  type Capability,
  isPlainExistence,
  type Program,
  programCapabilities,
  type Question,
  type Ref,
} from "./questions.js";
export { renderScene } from "./render.js";
export { Rng } from "./rng.js";
export {
  objectWords,
  type PriorMode,
  type Relation,
  relations,
  type Scene,
  type SceneObject,
  type SceneWord,
  sampleScene,
} from "./scene.js";
export {
  type CreatureRecord,
  creatureRecord,
  itemRng,
  type SceneRecord,
  sceneRecord,
  splitRecords,
  type WorldRecord,
} from "./splits.js";
export {
  COLORS,
  type Color,
  canonicalObject,
  SCENE_TYPES,
  type SceneType,
  SHAPES,
  type Shape,
  SYNONYMS,
  SYNONYMS_TEXT,
} from "./vocabulary.js";
