// The embeddings STS's InfoNCE compares: the CLIP-style scorer's text tower (assets/scorer; the
// paper's code uses a text retriever, e5-large-v2), and its image tower for the image-text
// variant of concept selection. Unit-norm rows; a text seen twice is embedded once.
import { imageInput } from "../../backends/embedded.js";
import type { ChatImage } from "../../images/chat-image.js";
import type { ClipScorer } from "../../models/clip.js";
import { loadClipScorer } from "../../models/clip-io.js";
import type { Embedding } from "./infonce.js";

export interface Embedder {
  readonly name: string;
  texts(texts: readonly string[]): Embedding[];
  images(images: readonly ChatImage[]): Promise<Embedding[]>;
  close(): void;
}

export function clipEmbedder(dir: string): Embedder {
  const scorer: ClipScorer = loadClipScorer(dir);
  const cache = new Map<string, Embedding>();
  return {
    name: `embedded-clip:${dir}`,
    texts(texts) {
      const fresh = [...new Set(texts.filter((t) => !cache.has(t)))];
      scorer.embedTexts(fresh).forEach((e, i) => {
        cache.set(fresh[i], e);
      });
      return texts.map((t) => cache.get(t) as Embedding);
    },
    async images(images) {
      const size = scorer.model.config.vision.imageSize;
      const pixels = await Promise.all(images.map((im, i) => imageInput(im, size, `image ${i}`)));
      return scorer.embedImages(pixels);
    },
    close() {
      scorer.model.dispose();
    },
  };
}
