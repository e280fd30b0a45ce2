// Export to the LLaVA codebase's JSON (METHODS.md, Serving engines): a list of
// `{id, image, conversations: [{from: "human"|"gpt", value}]}`. LLaVA (1.5) takes one image per
// sample and expects its `<image>` token at the start of the first human turn, as `<image>\n`;
// text-only samples have no `image` key. Preference pairs add `rejected_conversations`, as CSR's
// released data does: the same human turns, with the rejected answer as the last gpt turn
// (`conversations` ends with the chosen one).
//
// A record with several images keeps its markers where they are and lists its images in order
// (`image: [...]`, the LLaVA-NeXT/OneVision convention), since moving several markers to the
// front would lose which question refers to which picture.
import type { PreferenceRecord, SftRecord, Turn } from "../records.js";

export interface LlavaTurn {
  from: "human" | "gpt";
  value: string;
}

export interface LlavaSample {
  id: string;
  /** One image path (relative to the export folder), or a list for multi-image records; absent for text-only ones. */
  image?: string | string[];
  conversations: LlavaTurn[];
  rejected_conversations?: LlavaTurn[];
}

/** The turns in LLaVA's form, with LLaVA's image placement for `imageCount` images. */
function llavaTurns(turns: readonly Turn[], imageCount: number): LlavaTurn[] {
  const out: LlavaTurn[] = turns.map((t) => ({ from: t.role === "user" ? "human" : "gpt", value: t.content }));
  if (imageCount === 1) {
    // Move the single marker (wherever the record put it, with a newline that followed it) to the
    // front of the first human turn.
    for (const t of out) if (t.from === "human") t.value = t.value.replace(/<image>\n?/g, "");
    const first = out.find((t) => t.from === "human");
    if (first !== undefined) first.value = `<image>\n${first.value}`;
  }
  return out;
}

function imageField(images: readonly string[]): Pick<LlavaSample, "image"> {
  if (images.length === 0) return {};
  if (images.length === 1) return { image: images[0] };
  return { image: [...images] };
}

export function llavaSftSample(record: SftRecord): LlavaSample {
  return {
    id: record.id,
    ...imageField(record.images),
    conversations: llavaTurns(record.messages, record.images.length),
  };
}

export function llavaPreferenceSample(record: PreferenceRecord): LlavaSample {
  const prompt = llavaTurns(record.prompt, record.images.length);
  return {
    id: record.id,
    ...imageField(record.images),
    conversations: [...prompt, { from: "gpt", value: record.chosen }],
    rejected_conversations: [...prompt.map((t) => ({ ...t })), { from: "gpt", value: record.rejected }],
  };
}
