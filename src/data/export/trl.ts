// Export to TRL's conversational formats (METHODS.md, Serving engines): DPOTrainer reads columns
// `prompt`, `chosen`, `rejected`, `images`; SFTTrainer reads `messages`, `images`. Messages carry
// typed content, `[{"type":"image"}, {"type":"text","text":...}]`: each `<image>` marker of a
// user turn becomes one image part at its place (the processor's chat template puts the image
// tokens there), and the text around it becomes text parts.
//
// JSONL rows name images by path (relative to the export folder). Parquet rows embed the image
// bytes in the layout of Hugging Face `datasets`' Image feature, a struct {bytes, path}, and the
// file carries the `huggingface` schema metadata that declares those columns as images, so that
// `load_dataset("parquet", data_files=...)` yields PIL images with no cast and no image folder.
import { parquetWriteBuffer } from "hyparquet-writer";
import type { PreferenceRecord, SftRecord, Turn } from "../records.js";

export interface TrlTextPart {
  type: "text";
  text: string;
}
export interface TrlImagePart {
  type: "image";
}
export type TrlPart = TrlImagePart | TrlTextPart;

export interface TrlMessage {
  role: "user" | "assistant";
  content: TrlPart[];
}

export interface TrlPreferenceRow {
  prompt: TrlMessage[];
  chosen: TrlMessage[];
  rejected: TrlMessage[];
  /** Image paths relative to the export folder, in marker order. */
  images: string[];
}

export interface TrlSftRow {
  messages: TrlMessage[];
  images: string[];
}

/**
 * The typed content of a user turn: one image part per `<image>` marker, at its place, with the
 * marker removed. The newline that conventionally follows a marker (LLaVA's `<image>\n`) goes
 * with it, since the image part already separates the text; empty text parts are dropped.
 */
export function toTrlContent(text: string): TrlPart[] {
  const parts: TrlPart[] = [];
  const pieces = text.split("<image>");
  pieces.forEach((piece, i) => {
    if (i > 0) parts.push({ type: "image" });
    const body = i > 0 && piece.startsWith("\n") ? piece.slice(1) : piece;
    if (body !== "") parts.push({ type: "text", text: body });
  });
  return parts;
}

/** A turn as a TRL message. Only user turns hold image markers (records.ts); assistant text is kept whole. */
export function toTrlMessage(turn: Turn): TrlMessage {
  if (turn.role === "user") return { role: "user", content: toTrlContent(turn.content) };
  return { role: "assistant", content: [{ type: "text", text: turn.content }] };
}

const answer = (text: string): TrlMessage[] => [{ role: "assistant", content: [{ type: "text", text }] }];

export function trlPreferenceRow(record: PreferenceRecord): TrlPreferenceRow {
  return {
    prompt: record.prompt.map(toTrlMessage),
    chosen: answer(record.chosen),
    rejected: answer(record.rejected),
    images: [...record.images],
  };
}

export function trlSftRow(record: SftRecord): TrlSftRow {
  return { messages: record.messages.map(toTrlMessage), images: [...record.images] };
}

// ---------------------------------------------------------------------------------------------
// Parquet. The schema is written out by hand (hyparquet-writer takes Parquet schema elements):
// lists use the standard three-level LIST layout (`<name>` LIST / repeated `list` / `element`),
// which pyarrow reads as list<struct<...>>; strings are UTF8 byte arrays, image bytes plain
// byte arrays (arrow `binary`). Every field is OPTIONAL, as pyarrow writes them, and the image
// part's `text` is null: one struct type for both kinds of part.

type SchemaElement = {
  name: string;
  type?: "BYTE_ARRAY";
  converted_type?: "UTF8" | "LIST";
  repetition_type?: "OPTIONAL" | "REPEATED" | "REQUIRED";
  num_children?: number;
};

const utf8 = (name: string): SchemaElement[] => [
  { name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
];

/** `name`: list<struct<fields...>> with the children's elements flattened after it (depth first). */
function listOfStruct(name: string, fields: SchemaElement[][]): SchemaElement[] {
  return [
    { name, repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
    { name: "list", repetition_type: "REPEATED", num_children: 1 },
    { name: "element", repetition_type: "OPTIONAL", num_children: fields.length },
    ...fields.flat(),
  ];
}

const messagesSchema = (name: string) =>
  listOfStruct(name, [utf8("role"), listOfStruct("content", [utf8("type"), utf8("text")])]);
const imagesSchema = listOfStruct("images", [
  [{ name: "bytes", type: "BYTE_ARRAY", repetition_type: "OPTIONAL" }],
  utf8("path"),
]);

// Hugging Face `datasets` features, stored under the `huggingface` key of the file metadata. The
// list-literal form (`[feature]`) is read by datasets 2.x, 3.x and 4.x alike.
const stringFeature = { dtype: "string", _type: "Value" };
const messagesFeature = [{ role: stringFeature, content: [{ type: stringFeature, text: stringFeature }] }];
const imagesFeature = [{ _type: "Image" }];

function huggingfaceMetadata(features: Record<string, unknown>): { key: string; value: string } {
  return { key: "huggingface", value: JSON.stringify({ info: { features } }) };
}

/** The Parquet form of a message: every part has both fields, `text` null for image parts. */
const parquetMessages = (messages: TrlMessage[]) =>
  messages.map((m) => ({
    role: m.role,
    content: m.content.map((p) => ({ type: p.type, text: p.type === "text" ? p.text : null })),
  }));

/** Reads an image's bytes by its dataset path; the export passes the dataset's image store. */
export type ReadImage = (path: string, where: string) => Uint8Array;

function parquetImages(paths: readonly string[], readImage: ReadImage, where: string) {
  return paths.map((path, i) => ({ bytes: readImage(path, `${where}: images[${i}]`), path }));
}

/** A Parquet file (bytes) of preference pairs: prompt, chosen, rejected, images (embedded). */
export function trlPreferenceParquet(records: readonly PreferenceRecord[], readImage: ReadImage): Uint8Array {
  const rows = records.map(trlPreferenceRow);
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: "prompt", data: rows.map((r) => parquetMessages(r.prompt)) },
      { name: "chosen", data: rows.map((r) => parquetMessages(r.chosen)) },
      { name: "rejected", data: rows.map((r) => parquetMessages(r.rejected)) },
      { name: "images", data: records.map((r) => parquetImages(r.images, readImage, `record ${r.id}`)) },
    ],
    schema: [
      { name: "schema", num_children: 4 },
      ...messagesSchema("prompt"),
      ...messagesSchema("chosen"),
      ...messagesSchema("rejected"),
      ...imagesSchema,
    ],
    kvMetadata: [
      huggingfaceMetadata({
        prompt: messagesFeature,
        chosen: messagesFeature,
        rejected: messagesFeature,
        images: imagesFeature,
      }),
    ],
    createdBy: "selfsynth",
  });
  return new Uint8Array(buffer);
}

/** A Parquet file (bytes) of SFT samples: messages, images (embedded). */
export function trlSftParquet(records: readonly SftRecord[], readImage: ReadImage): Uint8Array {
  const rows = records.map(trlSftRow);
  const buffer = parquetWriteBuffer({
    columnData: [
      { name: "messages", data: rows.map((r) => parquetMessages(r.messages)) },
      { name: "images", data: records.map((r) => parquetImages(r.images, readImage, `record ${r.id}`)) },
    ],
    schema: [{ name: "schema", num_children: 2 }, ...messagesSchema("messages"), ...imagesSchema],
    kvMetadata: [huggingfaceMetadata({ messages: messagesFeature, images: imagesFeature })],
    createdBy: "selfsynth",
  });
  return new Uint8Array(buffer);
}

/** JSONL text, one row per line. */
export function toJsonl(rows: readonly unknown[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join("");
}
