// STS step 3 over a whole training set: each image's concepts selected by InfoNCE (infonce.ts)
// and the threshold (select-concepts.ts).
//   similarity: text        A = the image's descriptions, C = every other image's descriptions,
//                           all embedded by the scorer's text tower (the paper)
//   similarity: image-text  A = the image itself, C = every other image, by the image tower,
//                           against the concepts by the text tower (the paper's framing: an
//                           image-text model may give s)
// The negatives' term of a concept is summed over the other images only, so an image's own
// descriptions never count against its concepts.
import { dot, type Embedding, infoNceFromNegatives, logSumExp } from "./infonce.js";
import { type ScoredConcept, type SelectionOptions, selectConcepts } from "./select-concepts.js";

export interface SelectionImage {
  id: string;
  label: string;
  /** A: the image's descriptions' (or its own) embeddings. */
  anchors: readonly Embedding[];
}

export interface ImageSelection {
  id: string;
  label: string;
  selected: ScoredConcept[];
  /** Every concept of the class with its score, in the class's order. */
  scores: ScoredConcept[];
}

/**
 * Selected concepts of every image. `concepts` maps a class to its concept texts, `embed` gives
 * the concept embeddings (a concept shared by classes is one text).
 */
export function selectForImages(
  images: readonly SelectionImage[],
  concepts: ReadonlyMap<string, readonly string[]>,
  embed: (texts: readonly string[]) => Embedding[],
  options: SelectionOptions & { tau: number },
): ImageSelection[] {
  const texts = [...new Set(images.flatMap((im) => conceptsOf(concepts, im.label)))];
  const vectors = new Map(embed(texts).map((e, i) => [texts[i], e]));
  // (concept, image) -> s(b, c)/τ of each of the image's anchors: the negatives of the others.
  const owner = images.flatMap((im, i) => im.anchors.map((a) => ({ image: i, a })));
  const rows = new Map(texts.map((t) => [t, owner.map((o) => dot(vectors.get(t) as Embedding, o.a) / options.tau)]));
  return images.map((im, i) => {
    const classConcepts = conceptsOf(concepts, im.label);
    const B = classConcepts.map((t) => vectors.get(t) as Embedding);
    const negatives = classConcepts.map((t) =>
      logSumExp((rows.get(t) as number[]).filter((_, k) => owner[k].image !== i)),
    );
    const scores = infoNceFromNegatives(im.anchors, B, negatives, options.tau);
    return {
      id: im.id,
      label: im.label,
      selected: selectConcepts(classConcepts, scores, options),
      scores: classConcepts.map((concept, k) => ({ concept, score: scores[k] })),
    };
  });
}

function conceptsOf(concepts: ReadonlyMap<string, readonly string[]>, label: string): readonly string[] {
  const list = concepts.get(label);
  if (list === undefined || list.length === 0) throw new Error(`sts: no concepts for class '${label}'`);
  return list;
}
