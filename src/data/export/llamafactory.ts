// Export to LLaMA-Factory's sharegpt format (its data/README.md; METHODS.md, Serving engines):
// `messages` as role/content turns with a literal `<image>` per image (records already place one
// marker per image in their user turns), `images` as paths, and for preference data `chosen` and
// `rejected` as single assistant messages after a prompt that ends with a user turn (LLaMA-Factory
// checks an even number of turns for SFT and an odd one for ranking data). LLaMA-Factory finds a
// dataset through a `dataset_info.json` entry that names the file, the columns and the role tags;
// image paths are resolved against its `media_dir`, which defaults to the folder holding
// `dataset_info.json`: the export writes the JSON files, `dataset_info.json` and `images/` side by side.
import type { PreferenceRecord, SftRecord } from "../records.js";

export interface LlamaFactoryMessage {
  role: "user" | "assistant";
  content: string;
}

export interface LlamaFactorySftSample {
  messages: LlamaFactoryMessage[];
  images: string[];
}

export interface LlamaFactoryPreferenceSample {
  messages: LlamaFactoryMessage[];
  chosen: LlamaFactoryMessage;
  rejected: LlamaFactoryMessage;
  images: string[];
}

export interface LlamaFactoryDatasetInfo {
  file_name: string;
  formatting: "sharegpt";
  ranking?: true;
  columns: Record<string, string>;
  tags: { role_tag: "role"; content_tag: "content"; user_tag: "user"; assistant_tag: "assistant" };
}

const TAGS = { role_tag: "role", content_tag: "content", user_tag: "user", assistant_tag: "assistant" } as const;

export function llamaFactorySftSample(record: SftRecord): LlamaFactorySftSample {
  return { messages: record.messages.map((t) => ({ role: t.role, content: t.content })), images: [...record.images] };
}

export function llamaFactoryPreferenceSample(record: PreferenceRecord): LlamaFactoryPreferenceSample {
  return {
    messages: record.prompt.map((t) => ({ role: t.role, content: t.content })),
    chosen: { role: "assistant", content: record.chosen },
    rejected: { role: "assistant", content: record.rejected },
    images: [...record.images],
  };
}

/** The `dataset_info.json` entry of an exported file. */
export function llamaFactoryDatasetInfo(fileName: string, kind: "sft" | "preference"): LlamaFactoryDatasetInfo {
  if (kind === "sft") {
    return {
      file_name: fileName,
      formatting: "sharegpt",
      columns: { messages: "messages", images: "images" },
      tags: { ...TAGS },
    };
  }
  return {
    file_name: fileName,
    formatting: "sharegpt",
    ranking: true,
    columns: { messages: "messages", chosen: "chosen", rejected: "rejected", images: "images" },
    tags: { ...TAGS },
  };
}
