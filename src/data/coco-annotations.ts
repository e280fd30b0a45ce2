// MS-COCO annotation files (cocodataset.org, "Data format"): instance annotations
// (instances_val2014.json: `images`, `annotations` with image_id and category_id, `categories`
// with id and name) give each image's objects; caption annotations (captions_val2014.json:
// `annotations` with image_id and caption) give its reference captions. Only the fields read
// here are checked; segmentation, boxes and licences are ignored. A bad file is an error naming
// the file and the exact field.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { describeIssues } from "../util/zod-issues.js";

export class AnnotationFileError extends Error {
  override name = "AnnotationFileError";
}

/** COCO ids are integers; string ids (some converted datasets) are accepted and kept as text. */
const Id = z.union([z.number().int(), z.string().min(1)]);

const InstancesSchema = z.object({
  images: z.array(z.object({ id: Id, file_name: z.string().min(1) })).min(1),
  annotations: z.array(z.object({ image_id: Id, category_id: Id })),
  categories: z.array(z.object({ id: Id, name: z.string().min(1) })).min(1),
});

const CaptionsSchema = z.object({
  annotations: z.array(z.object({ image_id: Id, caption: z.string() })),
});

export interface CocoImage {
  /** The image's id as text ("310196"). */
  id: string;
  /** File name relative to the image folder. */
  fileName: string;
  /** Names of the categories annotated on it, each once, in annotation order. */
  categories: string[];
}

function readJson<S extends z.ZodType>(path: string, schema: S, what: string): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new AnnotationFileError(`${what} ${path}: cannot read it as JSON (${(error as Error).message})`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issues = describeIssues(parsed.error.issues);
    const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : "";
    throw new AnnotationFileError(`${what} ${path}: ${issues.slice(0, 3).join("; ")}${more}`);
  }
  return parsed.data;
}

/**
 * Every image of an instances file with the names of the categories annotated on it, in the
 * file's image order. An image without annotations has no objects (it still counts: a
 * description of it that names an object hallucinates it). Annotations that name an unknown
 * image or category, and images listed twice, are refused.
 */
export function readCocoInstances(path: string): CocoImage[] {
  const data = readJson(path, InstancesSchema, "COCO instances file");
  const names = new Map(data.categories.map((c) => [String(c.id), c.name]));
  const images = new Map<string, CocoImage>();
  data.images.forEach((image, i) => {
    const id = String(image.id);
    if (images.has(id)) throw new AnnotationFileError(`${path}: images[${i}].id ${id} is listed twice`);
    images.set(id, { id, fileName: image.file_name, categories: [] });
  });
  data.annotations.forEach((a, i) => {
    const image = images.get(String(a.image_id));
    if (image === undefined)
      throw new AnnotationFileError(`${path}: annotations[${i}].image_id ${a.image_id} is not in images`);
    const name = names.get(String(a.category_id));
    if (name === undefined)
      throw new AnnotationFileError(`${path}: annotations[${i}].category_id ${a.category_id} is not in categories`);
    if (!image.categories.includes(name)) image.categories.push(name);
  });
  return [...images.values()];
}

/** Each image id's reference captions, from a COCO captions file. */
export function readCocoCaptions(path: string): Map<string, string[]> {
  const data = readJson(path, CaptionsSchema, "COCO captions file");
  const captions = new Map<string, string[]>();
  for (const a of data.annotations) {
    const id = String(a.image_id);
    captions.set(id, [...(captions.get(id) ?? []), a.caption]);
  }
  return captions;
}
