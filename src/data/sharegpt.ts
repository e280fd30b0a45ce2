// SFT conversations as message lists, the two forms trainers read, as a JSON array or JSON Lines
// (json-entries.ts), each entry with the line it starts on so that every error names the file and
// the line:
//
//   TRL's conversational format (its "Dataset formats" guide, vision datasets): `messages` of
//   {role: user | assistant | system, content}, where content is a string or a list of typed
//   parts, {"type": "image"} where an image goes and {"type": "text", "text": ...}; the images,
//   in order, in `images`:
//
//     {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]},
//                   {"role": "assistant", "content": [{"type": "text", "text": "A red bus."}]}],
//      "images": ["coco/000000033471.jpg"]}
//
//   LLaMA-Factory's sharegpt format (its data/README.md): `conversations` of {from: human | gpt |
//   system, value} (its default tags) or `messages` of {role: user | assistant | system, content}
//   (its OpenAI-style tags), text with one `<image>` marker per image, `images` the paths, and an
//   optional `system` field:
//
//     {"conversations": [{"from": "human", "value": "<image>What is it?"}, {"from": "gpt", "value": "A red bus."}],
//      "images": ["coco/000000033471.jpg"], "system": "optional"}
//
// Either tag set is accepted in either list, message by message. What comes out is the same for
// both: user and assistant turns (alternating, from a user turn) whose text holds an `<image>`
// marker at each image's place (an image part followed by text becomes `<image>\n`, the
// inverse of the TRL export's typed content), the system prompt apart (a leading system message,
// else the `system` field), and the image paths as written. Markers must match the images one
// for one; an entry with images and no marker at all gets them at the start of its first user
// turn (where LLaVA's data puts it). Refused, naming the file, the line and the field: a
// malformed entry, tool turns (LLaMA-Factory's observation and function_call, TRL's tool role),
// part types other than text and image, an image in an assistant turn, a preference entry
// (`chosen`/`rejected`), a duplicate id. Other fields are ignored. An entry without `id` is
// named `line-<line>`.
import { readJsonEntries } from "./json-entries.js";
import type { Turn } from "./records.js";

export class ShareGptFormatError extends Error {
  override name = "ShareGptFormatError";
}

export interface ShareGptConversation {
  /** The entry's `id` as text, or `line-<line>` when it has none. */
  id: string;
  /** 1-based line of the file where the entry starts. */
  line: number;
  /** Names the entry in messages: `data.jsonl line 16 (id "b")`. */
  where: string;
  /** Which list the entry used: `messages` or `conversations`. */
  list: "messages" | "conversations";
  /** A leading system message's text, else the entry's `system` field. */
  system?: string;
  /** User and assistant turns, alternating from a user turn, `<image>` markers at the images' places. */
  turns: Turn[];
  /** The image paths as written, in marker order. */
  images: string[];
}

const MARKER = "<image>";
const markersIn = (text: string) => text.split(MARKER).length - 1;

const ROLES: Record<string, "user" | "assistant" | "system"> = {
  user: "user",
  human: "user",
  assistant: "assistant",
  gpt: "assistant",
  system: "system",
};
const TOOL_ROLES = new Set(["observation", "function_call", "function", "tool", "ipython"]);

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
const show = (x: unknown) => (typeof x === "string" ? JSON.stringify(x) : x === null ? "null" : typeof x);

/** The one of `keys` a message uses, or a problem. */
function oneOf(message: Record<string, unknown>, keys: [string, string], at: string, problems: string[]) {
  const present = keys.filter((k) => message[k] !== undefined);
  if (present.length === 1) return present[0];
  problems.push(
    present.length === 0 ? `${at}: expected "${keys[0]}" or "${keys[1]}"` : `${at}: both "${keys[0]}" and "${keys[1]}"`,
  );
  return null;
}

/** A message's content as text: a string as it is, typed parts joined with markers for images. */
function contentText(content: unknown, at: string, problems: string[]): string | null {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) {
    problems.push(`${at}: expected a string or a list of typed parts, got ${show(content)}`);
    return null;
  }
  let text = "";
  let afterImage = false;
  for (const [j, part] of content.entries()) {
    const here = `${at}[${j}]`;
    if (!isObject(part)) {
      problems.push(`${here}: expected a part {"type": ...}, got ${show(part)}`);
    } else if (part.type === "image") {
      text += MARKER;
      afterImage = true;
    } else if (part.type !== "text") {
      problems.push(`${here}.type: ${show(part.type)} is not supported (text and image parts only)`);
    } else if (typeof part.text !== "string") {
      problems.push(`${here}.text: expected a string, got ${show(part.text)}`);
    } else {
      text += (afterImage ? "\n" : "") + part.text;
      afterImage = false;
    }
  }
  return text;
}

interface Parsed {
  id?: string;
  list: "messages" | "conversations";
  system?: string;
  turns: Turn[];
  images: string[];
}

/** The entry's problems (paths into it) or its parts. */
function parseEntry(value: unknown): { problems: string[]; parsed?: Parsed } {
  const problems: string[] = [];
  if (!isObject(value)) return { problems: [`(entry): expected an object, got ${show(value)}`] };
  const id = value.id;
  if (id !== undefined && !(typeof id === "number" || (typeof id === "string" && id !== "")))
    problems.push(`id: expected a non-empty string or a number, got ${show(id)}`);
  if (value.chosen !== undefined || value.rejected !== undefined)
    problems.push("chosen/rejected: a preference entry; format sharegpt reads SFT conversations");

  // The images: `images` (a list of paths) or TRL's single `image`.
  const images: string[] = [];
  if (value.images !== undefined && value.image !== undefined) problems.push(`both "images" and "image"`);
  else if (value.images !== undefined) {
    if (!Array.isArray(value.images)) problems.push(`images: expected a list of paths, got ${show(value.images)}`);
    else
      for (const [i, p] of value.images.entries()) {
        if (typeof p === "string" && p !== "") images.push(p);
        else problems.push(`images[${i}]: expected a path, got ${show(p)}`);
      }
  } else if (value.image !== undefined) {
    if (typeof value.image !== "string" || value.image === "")
      problems.push(`image: expected a path, got ${show(value.image)}`);
    else images.push(value.image);
  }
  let system: string | undefined;
  if (value.system !== undefined && value.system !== null) {
    if (typeof value.system !== "string") problems.push(`system: expected a string, got ${show(value.system)}`);
    else if (value.system.trim() !== "") system = value.system;
  }

  // The message list.
  const list =
    value.messages !== undefined && value.conversations !== undefined
      ? null
      : value.messages !== undefined
        ? "messages"
        : value.conversations !== undefined
          ? "conversations"
          : undefined;
  if (list === null) return { problems: [...problems, `both "messages" and "conversations"`] };
  if (list === undefined)
    return { problems: [...problems, `expected "messages" or "conversations" (a list of turns)`] };
  const messages = value[list];
  if (!Array.isArray(messages)) return { problems: [...problems, `${list}: expected a list, got ${show(messages)}`] };

  const turns: Turn[] = [];
  for (const [i, message] of messages.entries()) {
    const at = `${list}[${i}]`;
    if (!isObject(message)) {
      problems.push(`${at}: expected a turn {role, content}, got ${show(message)}`);
      continue;
    }
    const roleKey = oneOf(message, ["role", "from"], at, problems);
    const contentKey = oneOf(message, ["content", "value"], at, problems);
    if (roleKey === null || contentKey === null) continue;
    const tag = message[roleKey];
    const role = typeof tag === "string" ? ROLES[tag] : undefined;
    if (role === undefined) {
      const why =
        typeof tag === "string" && TOOL_ROLES.has(tag)
          ? "tool turns are not supported"
          : "expected user/human, assistant/gpt or system";
      problems.push(`${at}.${roleKey}: ${show(tag)}: ${why}`);
      continue;
    }
    const text = contentText(message[contentKey], `${at}.${contentKey}`, problems);
    if (text === null) continue;
    const want = turns.length % 2 === 0 ? "user" : "assistant";
    if (role === "system") {
      if (i === 0) system = text.trim() === "" ? undefined : text;
      else problems.push(`${at}.${roleKey}: a system turn must come first`);
    } else if (role !== want) {
      problems.push(`${at}.${roleKey}: expected a ${want} turn, got ${show(tag)}`);
    } else if (role === "assistant" && markersIn(text) > 0) {
      problems.push(`${at}.${contentKey}: an image in an assistant turn`);
    } else {
      turns.push({ role, content: text });
    }
  }
  if (problems.length === 0 && turns.length < 2)
    problems.push(`${list}: expected at least a user turn and an assistant turn`);
  if (problems.length > 0) return { problems };

  // Markers against images: one for one, or none at all (then at the start of the first turn).
  const markers = turns.reduce((n, t) => n + markersIn(t.content), 0);
  if (markers === 0 && images.length > 0)
    turns[0] = { role: "user", content: `${MARKER}\n`.repeat(images.length) + turns[0].content };
  else if (markers !== images.length)
    return { problems: [`${images.length} image(s) but ${markers} image place(s) (<image> markers or image parts)`] };
  return { problems, parsed: { id: id === undefined ? undefined : String(id), list, system, turns, images } };
}

/** Every conversation of a TRL or LLaMA-Factory sharegpt file (JSON or JSON Lines), checked, in file order. */
export function readShareGptFile(path: string): ShareGptConversation[] {
  const ids = new Map<string, number>();
  const error = (message: string) => new ShareGptFormatError(message);
  return readJsonEntries(path, { what: "ShareGPT data", error }, (value, line) => {
    const { problems, parsed } = parseEntry(value);
    if (parsed === undefined) throw error(`${path} line ${line}: not a ShareGPT entry: ${problems.join("; ")}`);
    const id = parsed.id ?? `line-${line}`;
    const where = `${path} line ${line} (id ${JSON.stringify(id)})`;
    const first = ids.get(id);
    if (first !== undefined) throw error(`${where}: duplicate id (first on line ${first})`);
    ids.set(id, line);
    return { ...parsed, id, line, where };
  });
}
