import type { ExampleSources } from '../formats/mapping.ts';
import type { Issue } from './types.ts';

/** For each part of a split example, the index of the part it was split from (per turn, and for the system instruction). */
export interface PartOrigins {
  contents: number[][];
  system: number[];
}

/**
 * An issue found on the built Gemini example, pointed back at the input: `contents[2].role` of a
 * ShareGPT record becomes `conversations[2].from`, a text part its `value`, a CSV cell its column.
 * The Gemini path stays beside it as `convertedPath`. Paths that name no turn or part (the whole
 * example, `tools`) are left as they are. `origins` maps the parts of a split example back to the
 * parts the mapper built.
 */
export function locateInInput(issue: Issue, sources: ExampleSources, origins?: PartOrigins): Issue {
  const inInput = inputPath(issue.path, sources, origins);
  return inInput === undefined || inInput === issue.path ? issue : { ...issue, path: inInput, convertedPath: issue.path };
}

function inputPath(path: string, sources: ExampleSources, origins?: PartOrigins): string | undefined {
  const turn = /^contents\[(\d+)\](?:\.(role)|\.parts\[(\d+)\])?/.exec(path);
  if (turn) {
    const index = Number(turn[1]);
    const source = sources.contents[index];
    if (!source) return undefined;
    if (turn[2]) return source.role ?? source.path;
    if (turn[3] === undefined) return source.path;
    const part = Number(turn[3]);
    return source.parts[origins?.contents[index]?.[part] ?? part] ?? source.path;
  }
  const system = /^systemInstruction(?:\.parts\[(\d+)\])?/.exec(path);
  if (system && sources.system.length > 0) {
    const part = system[1] === undefined ? 0 : Number(system[1]);
    return sources.system[origins?.system[part] ?? part] ?? sources.system[0];
  }
  return undefined;
}
